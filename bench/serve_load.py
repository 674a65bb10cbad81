"""Benchmark: `lamina serve` under 1, 4 and 16 concurrent clients.

    python bench/serve_load.py [--quick] [--json] [--target model|agent] [--requests N]
                               [--levels all|load|same-thread]

The server (the same app `lamina serve` runs) listens on a free loopback port in this process;
clients are threads with their own HTTP connections. Each level sends the same number of
requests; the baseline is one client, i.e. what the model serves sequentially. `--target model`
(default) sends each request straight to SmolLM2 (unrouted, 32 tokens), `--target agent` runs
the five-layer agent on distinct arithmetic tasks (step cache off, so nothing is served from it).

The "same thread" level sends 4 clients' agent requests to one `lamina.thread_id` at once, then
counts the exchanges the thread's history holds: every request answered 200 must be there (runs
on one thread take turns; one that waits past `thread_wait_seconds` gets 409, never a fork).

Goals: zero errors; throughput at 16 clients >= 95% of one client's (the model lock serialises
generation, so concurrency must cost nothing, not gain anything); 0 lost exchanges on one thread.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from lamina.config import bounded_openmp_spin

bounded_openmp_spin()

MODEL = "smollm2-135m-instruct"
PROMPTS = [
    "Name a colour.",
    "Say hello to Ann.",
    "What is a cat?",
    "Give one word for happy.",
    "Name a fruit.",
    "What is rain?",
    "Say goodbye.",
    "Name a planet.",
]


def request_body(target: str, i: int) -> dict[str, Any]:
    if target == "agent":
        a, b = 11 + i, 3 + i % 7
        text = f"What is {a} plus {b}?"
        return {"model": "lamina", "messages": [{"role": "user", "content": text}]}
    return {
        "model": MODEL,
        "messages": [{"role": "user", "content": PROMPTS[i % len(PROMPTS)]}],
        "max_tokens": 32,
        "temperature": 0,
    }


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def run_level(url: str, target: str, clients: int, requests: int, offset: int) -> dict[str, Any]:
    import httpx

    latencies: list[float] = []
    errors: dict[str, int] = {}

    def one(i: int) -> None:
        started = time.perf_counter()
        try:
            with httpx.Client(timeout=600) as client:
                reply = client.post(f"{url}/v1/chat/completions", json=request_body(target, i))
            if reply.status_code != 200:
                errors[str(reply.status_code)] = errors.get(str(reply.status_code), 0) + 1
                return
        except httpx.HTTPError as exc:
            errors[type(exc).__name__] = errors.get(type(exc).__name__, 0) + 1
            return
        latencies.append(time.perf_counter() - started)

    started = time.perf_counter()
    with ThreadPoolExecutor(clients) as pool:
        list(pool.map(one, range(offset, offset + requests)))
    wall = time.perf_counter() - started
    return {
        "clients": clients,
        "requests": requests,
        "ok": len(latencies),
        "errors": sum(errors.values()),
        "error_kinds": errors,
        "seconds": round(wall, 3),
        "requests_per_s": round(len(latencies) / wall, 3) if wall else 0.0,
        "p50_s": round(statistics.median(latencies), 3) if latencies else None,
        "p95_s": round(percentile(latencies, 0.95), 3) if latencies else None,
    }


def run_same_thread(url: str, agent: Any, clients: int, requests: int) -> dict[str, Any]:
    """`requests` agent requests from `clients` clients on one thread; lost exchanges counted."""
    import httpx

    thread = f"same-thread-{time.time_ns()}"
    codes: list[int] = []

    def one(i: int) -> None:
        body = request_body("agent", i)
        body["lamina"] = {"thread_id": thread}
        try:
            with httpx.Client(timeout=600) as client:
                codes.append(client.post(f"{url}/v1/chat/completions", json=body).status_code)
        except httpx.HTTPError:
            codes.append(0)

    started = time.perf_counter()
    with ThreadPoolExecutor(clients) as pool:
        list(pool.map(one, range(requests)))
    wall = time.perf_counter() - started
    messages = agent.graph.get_state({"configurable": {"thread_id": thread}}).values["messages"]
    kept = sum(1 for m in messages if m.type == "human")
    ok = codes.count(200)
    return {
        "clients": clients,
        "requests": requests,
        "ok": ok,
        "busy_409": codes.count(409),
        "errors": len(codes) - ok - codes.count(409),
        "exchanges_in_thread": kept,
        "lost_exchanges": ok - kept,
        "seconds": round(wall, 3),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="16 requests per level")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument("--target", choices=["model", "agent"], default="model")
    parser.add_argument("--requests", type=int, default=None, help="requests per level")
    parser.add_argument(
        "--levels",
        choices=["all", "load", "same-thread"],
        default="all",
        help="the 1/4/16-client load levels, the same-thread level, or both",
    )
    args = parser.parse_args()
    requests = args.requests or (16 if args.quick else 48)

    from lamina import Agent
    from lamina.config import get_settings
    from lamina.serving.app import create_app
    from lamina.serving.local import serve_in_thread

    home = Path(tempfile.mkdtemp(prefix="lamina-serve-load-"))
    settings = get_settings(n_threads=2, seed=0)
    agent = Agent(
        settings=settings,
        memory=home / "memory",
        step_cache=False,
        checkpointer=":memory:",
        model_settings={"max_tokens": 96},
    )
    levels: list[dict[str, Any]] = []
    same_thread: dict[str, Any] | None = None
    with serve_in_thread(create_app(agent, queue_depth=64)) as url:
        run_level(url, args.target, 1, 2, 10_000)  # load the models; not measured
        if args.levels in ("all", "load"):
            for clients in (1, 4, 16):
                levels.append(run_level(url, args.target, clients, requests, 0))
        if args.levels in ("all", "same-thread"):
            same_thread = run_same_thread(url, agent, 4, 8 if args.quick else 16)
    agent.close()
    base = levels[0]["requests_per_s"] if levels else 1.0
    for level in levels:
        level["throughput_vs_1_client"] = round(level["requests_per_s"] / base, 3)
    result = {
        "benchmark": "serve_load",
        "target": args.target,
        "requests_per_level": requests,
        "levels": levels,
        "same_thread": same_thread,
        "goal": "zero errors; 16 clients >= 0.95x one client's throughput; 0 lost exchanges",
        "errors_total": sum(level["errors"] for level in levels),
        "ratio_16_clients": levels[-1]["throughput_vs_1_client"] if levels else None,
    }
    if args.json:
        print(json.dumps(result))
        return 0
    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"lamina serve, target={args.target}, {requests} requests per level")
    for col in ("clients", "req/s", "p50 s", "p95 s", "errors", "vs 1 client"):
        table.add_column(col, justify="right")
    for level in levels:
        table.add_row(
            str(level["clients"]),
            f"{level['requests_per_s']:.2f}",
            str(level["p50_s"]),
            str(level["p95_s"]),
            str(level["errors"]),
            f"{level['throughput_vs_1_client']:.2f}x",
        )
    if levels:
        Console().print(table)
    if same_thread is not None:
        print(
            f"same thread: {same_thread['requests']} requests from {same_thread['clients']} "
            f"clients -> {same_thread['ok']} answered, {same_thread['busy_409']} busy (409), "
            f"{same_thread['errors']} errors; {same_thread['exchanges_in_thread']} exchanges in "
            f"the thread, {same_thread['lost_exchanges']} lost"
        )
    print(f"goal: {result['goal']}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
