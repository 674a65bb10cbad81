"""Benchmark: the same tasks in one process vs. spread over servers on loopback.

    python bench/scale_out.py [--quick] [--json] [--tasks N]

(a) in-process: SmolLM2 and Gemma loaded here, embedded Chroma, SQLite checkpoints;
(b) scaled out: SmolLM2 behind `python -m llama_cpp.server`, memory in a Chroma server,
    checkpoints in PostgreSQL — all started by this script on free loopback ports and stopped at
    the end (Gemma stays in-process: a mixed pool).

The same N tasks (50; `--quick`: 10) run sequentially through both, step cache off so every task
is real work. Prints throughput, p50/p95 latency, the answers that agree, and (b)'s overhead as
a ratio of wall times (the baseline is (a)).
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from lamina.config import bounded_openmp_spin

bounded_openmp_spin()

REMOTE = "smollm2-remote"
LOCAL = "smollm2-135m-instruct"


def tasks(n: int) -> list[str]:
    out = []
    for i in range(n):
        kind = i % 5
        if kind in (0, 1):
            out.append(f"What is {12 + i} times {3 + i % 7}?")
        elif kind == 2:
            out.append(f"Remember that locker {i} holds the {['red', 'blue', 'green'][i % 3]} bag.")
        elif kind == 3:
            out.append(f"What is {40 + i} minus {i % 9 + 1}?")
        else:
            out.append("Summarise this text: the train was late because of snow on the tracks.")
    return out


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def run(agent: Any, work: list[str], label: str) -> dict[str, Any]:
    agent.run("What is 1 plus 1?", user_id="warm", thread_id=f"{label}-warm")  # load, connect
    latencies: list[float] = []
    answers: list[str] = []
    models: dict[str, int] = {}
    errors = 0
    started = time.perf_counter()
    for i, task in enumerate(work):
        t0 = time.perf_counter()
        try:
            result = agent.run(task, user_id="bench", thread_id=f"{label}-{i}")
        except Exception as exc:  # a benchmark counts failures instead of stopping
            errors += 1
            answers.append(f"error: {type(exc).__name__}")
            print(f"{label} task {i}: {type(exc).__name__}: {exc}", file=sys.stderr)
            continue
        latencies.append(time.perf_counter() - t0)
        answers.append(result.answer)
        for m in result.models_used:
            models[m] = models.get(m, 0) + 1
    wall = time.perf_counter() - started
    return {
        "label": label,
        "tasks": len(work),
        "errors": errors,
        "seconds": round(wall, 2),
        "tasks_per_s": round(len(latencies) / wall, 3) if wall else 0.0,
        "p50_s": round(statistics.median(latencies), 3) if latencies else None,
        "p95_s": round(percentile(latencies, 0.95), 3) if latencies else None,
        "models_used": models,
        "answers": answers,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="10 tasks")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument("--tasks", type=int, default=None)
    args = parser.parse_args()
    work = tasks(args.tasks or (10 if args.quick else 50))

    from lamina import Agent
    from lamina.config import get_settings
    from lamina.layers.router import Route
    from lamina.layers.router.defaults import default_routes
    from lamina.models.catalog import DEFAULT_MODELS, ModelSpec
    from lamina.models.pool import ModelPool
    from lamina.scaleout.servers import (
        postgres_available,
        start_chroma_server,
        start_llama_cpp_server,
        start_postgres,
    )

    why_not = postgres_available()
    if why_not is not None:
        print(f"scale_out: cannot run (b) without PostgreSQL: {why_not}", file=sys.stderr)
        return 2
    tmp = Path(tempfile.mkdtemp(prefix="lamina-bench-scale-"))
    settings = get_settings(n_threads=2, seed=0)
    pool = ModelPool(settings)
    options = {"step_cache": False, "model_settings": {"max_tokens": 96}, "pool": pool}

    local = Agent(
        settings=settings,
        memory=tmp / "memory",
        checkpointer=tmp / "checkpoints.sqlite",
        **options,
    )
    a = run(local, work, "in-process")
    local.close()

    with (
        start_llama_cpp_server(pool.path_of(LOCAL), alias=REMOTE, n_threads=2, log_dir=tmp) as llm,
        start_chroma_server(tmp / "chroma", log_dir=tmp) as chroma,
        start_postgres() as pg,
    ):
        pool.evict(LOCAL)  # the server holds SmolLM2 now; (b) must not use a local copy
        routes = [
            Route(r.name, r.utterances, REMOTE, threshold=r.threshold, description=r.description)
            if r.model == LOCAL
            else r
            for r in default_routes()
        ]
        remote = Agent(
            models=[*DEFAULT_MODELS, ModelSpec(name=REMOTE, endpoint=llm.url)],
            routes=routes,
            default_model=REMOTE,
            settings=settings,
            memory=chroma.url,
            checkpointer=pg.url,
            **options,
        )
        b = run(remote, work, "scaled-out")
        remote.close()
    pool.close()

    agree = sum(x == y for x, y in zip(a["answers"], b["answers"], strict=True))
    overhead = b["seconds"] / a["seconds"] if a["seconds"] else float("nan")
    result = {
        "benchmark": "scale_out",
        "tasks": len(work),
        "in_process": {k: v for k, v in a.items() if k != "answers"},
        "scaled_out": {k: v for k, v in b.items() if k != "answers"},
        "answers_agree": agree,
        "overhead_ratio": round(overhead, 3),
    }
    if args.json:
        print(json.dumps(result))
        return 0
    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"{len(work)} tasks, sequential")
    for col in ("setup", "tasks/s", "p50 s", "p95 s", "errors", "models used"):
        table.add_column(col, justify="right")
    for row in (a, b):
        table.add_row(
            row["label"],
            f"{row['tasks_per_s']:.3f}",
            str(row["p50_s"]),
            str(row["p95_s"]),
            str(row["errors"]),
            ", ".join(f"{k}×{v}" for k, v in row["models_used"].items()),
        )
    Console().print(table)
    print(
        f"scaled-out wall time / in-process: {overhead:.2f}x; identical answers: "
        f"{agree}/{len(work)}"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
