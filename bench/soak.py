"""Benchmark: the health of one long-lived process — RSS over many sequential agent runs.

    python bench/soak.py [--quick] [--json] [--runs N]

One agent (default models, Chroma memory, step cache, SQLite checkpoints, all in a temporary
home) runs N tasks in sequence (200; `--quick`: 40): arithmetic with tools, plain questions and
statements worth remembering, each with different numbers or names so most are new work. RSS is
read after a warm-up run (the baseline: models loaded, caches empty) and every N/10 runs. Goal:
no growth beyond the caches' caps — the end RSS at most the KV prefix caches' cap above the
start (the step cache and checkpoints live on disk; Chroma's memories grow by a few KiB a run).
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from lamina.config import bounded_openmp_spin

bounded_openmp_spin()

NAMES = ["Ann", "Ben", "Cho", "Dev", "Eli", "Fay", "Gus", "Hal", "Ivy", "Jon"]


def rss_mib() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def task(i: int) -> str:
    kind = i % 3
    if kind == 0:
        return f"What is {17 + i} times {3 + i % 9}?"
    if kind == 1:
        return f"Remember that {NAMES[i % 10]}'s desk number is {100 + i}."
    return f"Who sits at desk {100 + i - 1}?"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="40 runs")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument("--runs", type=int, default=None)
    args = parser.parse_args()
    runs = args.runs or (40 if args.quick else 200)

    from lamina import Agent
    from lamina.config import get_settings
    from lamina.stores.step_cache import StepCache

    home = Path(tempfile.mkdtemp(prefix="lamina-soak-"))
    settings = get_settings(n_threads=2, seed=0)
    agent = Agent(
        settings=settings,
        memory=home / "memory",
        step_cache=StepCache(home / "steps.sqlite"),
        checkpointer=home / "checkpoints.sqlite",
        model_settings={"max_tokens": 96},
    )
    agent.run("What is 2 plus 2?", user_id="soak", thread_id="warm-up")
    start_rss = rss_mib()

    def kv_mib() -> float:  # what the capped KV prefix caches hold, out of the RSS
        return sum(agent.pool.kv_cache_bytes().values()) / 1024**2 if agent.pool else 0.0

    samples: list[dict[str, Any]] = [
        {"run": 0, "rss_mib": round(start_rss, 1), "kv_cache_mib": round(kv_mib(), 1)}
    ]
    errors = 0
    started = time.perf_counter()
    every = max(1, runs // 10)
    for i in range(1, runs + 1):
        try:
            agent.run(task(i), user_id="soak", thread_id=f"t{i}")
        except Exception as exc:  # a soak run counts failures instead of stopping
            errors += 1
            print(f"run {i}: {type(exc).__name__}: {exc}", file=sys.stderr)
        if i % every == 0:
            samples.append(
                {"run": i, "rss_mib": round(rss_mib(), 1), "kv_cache_mib": round(kv_mib(), 1)}
            )
    seconds = time.perf_counter() - started
    end_rss = rss_mib()
    loaded = len(agent.pool.loaded()) if agent.pool else 0
    agent.close()
    first_half = [s["rss_mib"] for s in samples if 0 < s["run"] <= runs // 2]
    second_half = [s["rss_mib"] for s in samples if s["run"] > runs // 2]
    result = {
        "benchmark": "soak",
        "runs": runs,
        "errors": errors,
        "seconds": round(seconds, 1),
        "runs_per_s": round(runs / seconds, 3),
        "rss_start_mib": round(start_rss, 1),
        "rss_end_mib": round(end_rss, 1),
        "rss_growth_mib": round(end_rss - start_rss, 1),
        "rss_end_vs_start": round(end_rss / start_rss, 3),
        "kv_cache_cap_mib": round(settings.kv_cache_bytes * loaded / 1024**2, 1),
        "kv_cache_end_mib": samples[-1]["kv_cache_mib"],
        "rss_growth_outside_kv_cache_mib": round(
            (end_rss - samples[-1]["kv_cache_mib"]) - (start_rss - samples[0]["kv_cache_mib"]), 1
        ),
        # growth in the second half only: a leak keeps climbing, a cache levels off
        "rss_growth_second_half_mib": round(max(second_half) - max(first_half), 1)
        if first_half and second_half
        else None,
        "samples": samples,
        "goal": "no growth beyond the caches' caps",
        # the KV prefix caches start nearly empty, so all their cap is room to grow into
        "goal_met": end_rss - start_rss <= settings.kv_cache_bytes * loaded / 1024**2,
    }
    if args.json:
        print(json.dumps(result))
        return 0
    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"{runs} sequential agent runs in one process")
    table.add_column("after run", justify="right")
    table.add_column("RSS MiB", justify="right")
    table.add_column("vs start", justify="right")
    table.add_column("KV caches MiB", justify="right")
    for s in samples:
        table.add_row(
            str(s["run"]),
            f"{s['rss_mib']:.1f}",
            f"{s['rss_mib'] / start_rss:.3f}x",
            f"{s['kv_cache_mib']:.1f}",
        )
    Console().print(table)
    print(
        f"start {start_rss:.1f} MiB, end {end_rss:.1f} MiB ({result['rss_end_vs_start']}x); "
        f"second-half growth {result['rss_growth_second_half_mib']} MiB; errors {errors}; "
        f"{result['runs_per_s']} runs/s"
    )
    verdict = "met" if result["goal_met"] else "missed"
    print(
        f"growth {result['rss_growth_mib']} MiB against the KV caches' cap of "
        f"{result['kv_cache_cap_mib']} MiB "
        f"({result['rss_growth_outside_kv_cache_mib']} MiB outside them): goal {verdict}"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
