"""Benchmark: the reasoning layer's step cache, KV prefix cache and Reasoning Cache loop.

    python bench/reasoning.py [--quick] [--json]

Multi-step tasks written here (arithmetic word problems and list transformations, each a
numbered list with known answers) go through the reasoning layer's node (`make_reasoning_node`,
no tools, a `StepCache` in a temporary directory) with SmolLM2-135M-Instruct solving. Both default
models are loaded before anything is timed.

1. Cache runs (N = 2, summariser = solver): a cold run on an empty cache; the identical warm run
   (goal: >= 20x faster); an overlap run of new tasks whose first half of steps equals steps
   already computed (goal: every shared step served from the cache).
2. KV prefix cache: prompt tokens sent, and evaluated by llama.cpp with its prefix cache
   (`LlamaRAMCache`) and without it (llama.cpp then reuses only the prefix shared with the
   previous prompt), on the same tasks from an empty step cache each time.
3. Answer accuracy: one-shot (one call with the whole task) vs the reasoning layer with
   N = 1, 2, 3, summaries by the solver itself or by Gemma 3 270M, and N = 1 without the
   arithmetic verifier. An answer is right when the expected value is among its numbers and the
   number after its last "=" (if any) is that value; for a word, when it names it.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace
from typing import Any

os.environ.setdefault("GOMP_SPINCOUNT", "10000")  # see lamina.config.bounded_openmp_spin
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from lamina.config import get_settings
from lamina.core.context import AgentContext, StaticModels
from lamina.layers.reasoning import make_reasoning_node, rc_solve
from lamina.layers.reasoning.prompts import load_prompts
from lamina.layers.reasoning.task_split import explicit_steps, task_preamble
from lamina.layers.reasoning.verification import final_number, numbers_in
from lamina.models.pool import ModelPool
from lamina.stores.step_cache import StepCache

SOLVER = "smollm2-135m-instruct"
SECOND = "gemma3-270m"
MODELS = (SOLVER, SECOND)


@dataclass(frozen=True)
class Task:
    name: str
    text: str
    answer: str  # a number or a word
    wrong: tuple[str, ...] = ()  # words a right answer does not name


def make_task(name: str, answer: str, given: str, *steps: str, wrong: tuple[str, ...] = ()) -> Task:
    """A task written as a numbered list after the text `given`."""
    lines = [given, *(f"{i}. {step}" for i, step in enumerate(steps, 1))]
    return Task(name, "\n".join(lines), answer, wrong)


EGGS = "Anna buys 4 boxes of 12 eggs."
PENS = "A pen costs 3 dollars."
SORT = "The numbers are 7, 2, 9 and 4."
BUS = "A bus drives 60 km every hour."
SAVE = "Tom saves 25 dollars a week."
SORT_STEP = "Sort the numbers from smallest to largest."

TASKS = [
    make_task("eggs", "41", EGGS, "Multiply 4 by 12.", "Subtract 7 from the result."),
    make_task("pens", "50", PENS, "Multiply 3 by 15.", "Add 5 to the result."),
    make_task("sort", "9", SORT, SORT_STEP, "Give the largest number."),
    make_task("bus", "45", BUS, "Multiply 60 by 3.", "Divide the result by 4."),
    make_task(
        "sum", "38", "The numbers are 5, 8 and 6.", "Find the sum of 5, 8 and 6.", "Double it."
    ),
    make_task(
        "reverse",
        "plum",
        "The list is: apple, pear, plum.",
        "Reverse the list.",
        "Give the first item of the reversed list.",
        wrong=("apple", "pear"),
    ),
    make_task(
        "savings",
        "82",
        SAVE,
        "Multiply 25 by 4.",
        "Subtract 30 from the result.",
        "Add 12 to the result.",
    ),
    make_task(
        "evens",
        "18",
        "The numbers are 3, 8, 5 and 10.",
        "Keep only the even numbers.",
        "Find the sum of the kept numbers.",
    ),
]

# The same text before the list and the same first half of steps as a task above; new others.
OVERLAP = [
    make_task("eggs+", "58", EGGS, "Multiply 4 by 12.", "Add 10 to the result."),
    make_task("pens+", "36", PENS, "Multiply 3 by 15.", "Subtract 9 from the result."),
    make_task("sort+", "2", SORT, SORT_STEP, "Give the smallest number."),
    make_task("bus+", "200", BUS, "Multiply 60 by 3.", "Add 20 to the result."),
    make_task(
        "savings+",
        "36",
        SAVE,
        "Multiply 25 by 4.",
        "Subtract 30 from the result.",
        "Divide the result by 2.",
        "Add 1 to the result.",
    ),
]


def progress(message: str) -> None:
    """One line on stderr per phase (stdout stays the table or the JSON object)."""
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def correct(answer: str, task: Task) -> bool:
    """Whether the answer's last line states the expected value and nothing that competes.

    A number: the line's last number (after its last "=", if any) is the value, and the line
    repeats no other number of the task ("7, 2, 9, 4, 9, 9, 9" is a loop, not "9"). A word: the
    line names it and none of the task's wrong words.
    """
    lines = [line for line in answer.strip().splitlines() if line.strip()]
    last = lines[-1] if lines else ""
    if not task.answer[0].isdigit():
        text = last.lower()
        return task.answer in text and not any(w in text for w in task.wrong)
    expected = float(task.answer)
    others = {v for v in numbers_in(task.text) if v != expected}
    stated = numbers_in(last)
    return final_number(last) == expected and not others & set(stated)


def shared_steps(task: Task, earlier: list[Task]) -> int:
    """How many leading steps of `task` some earlier task has too (same text before the list)."""
    steps = explicit_steps(task.text)
    best = 0
    for other in earlier:
        if task_preamble(other.text) != task_preamble(task.text):
            continue
        theirs = explicit_steps(other.text)
        n = 0
        while n < min(len(steps), len(theirs)) and steps[n] == theirs[n]:
            n += 1
        best = max(best, n)
    return best


class Bench:
    def __init__(self, pool: ModelPool, max_tokens: int, workdir: Path) -> None:
        self.pool = pool
        self.workdir = workdir
        self.models = {
            name: pool.chat_model(name, temperature=0.0, seed=0, max_tokens=max_tokens)
            for name in MODELS
        }
        self._caches = 0
        self._kv: dict[str, Any] = {}

    def new_cache(self) -> StepCache:
        self._caches += 1
        return StepCache(self.workdir / f"steps-{self._caches}.sqlite")

    def set_kv_cache(self, on: bool) -> None:
        for name in MODELS:
            with self.pool.use(name) as llama:
                if on:
                    llama.set_cache(self._kv.get(name, llama.cache))
                else:
                    self._kv[name] = llama.cache
                    llama.set_cache(None)

    def run(
        self,
        tasks: list[Task],
        cache: StepCache,
        *,
        n: int = 2,
        summariser: str | None = None,
        verifiers: tuple[()] | None = None,
    ) -> dict[str, Any]:
        """Every task through the reasoning node; totals and per-task outcomes."""
        node = make_reasoning_node(
            rc_iterations=n, summariser_model=summariser, verifiers=verifiers
        )
        context = AgentContext(
            models=StaticModels(self.models), default_model=SOLVER, step_cache=cache
        )
        runtime = SimpleNamespace(context=context)
        totals = {"hits": 0, "misses": 0, "prompt_tokens": 0, "evaluated": 0, "tokens": 0}
        per_task = []
        start = time.perf_counter()
        for task in tasks:
            state: Any = {"task": task.text, "model": SOLVER, "plan": [], "trace": []}
            update = node(state, runtime)  # type: ignore[arg-type]
            data = update["trace"][0]["data"]
            totals["hits"] += data["cache_hits"]
            totals["misses"] += data["cache_misses"]
            totals["prompt_tokens"] += data["prompt_tokens"]
            totals["evaluated"] += data["prompt_tokens_evaluated"] or 0
            totals["tokens"] += data["tokens"]
            per_task.append(
                {
                    "task": task.name,
                    "right": correct(update.get("answer", ""), task),
                    "answer": update.get("answer", "")[:160],
                    "steps_cached": [bool(s["cached"]) for s in data["steps"]],
                    "prompt_tokens": data["prompt_tokens"],
                    "evaluated": data["prompt_tokens_evaluated"] or 0,
                }
            )
        seconds = time.perf_counter() - start
        progress(f"  {len(tasks)} tasks, N={n}: {seconds:.1f} s, {totals['misses']} model calls")
        lookups = totals["hits"] + totals["misses"]
        return {
            "seconds": round(seconds, 3),
            **totals,
            "hit_rate": round(totals["hits"] / lookups, 4) if lookups else 0.0,
            "right": sum(t["right"] for t in per_task),
            "tasks": len(tasks),
            "per_task": per_task,
        }

    def one_shot(self, tasks: list[Task]) -> dict[str, Any]:
        """One call per task with the whole task (no plan, no refinement, no verifier)."""
        prompts = load_prompts()
        solver = self.models[SOLVER]
        start = time.perf_counter()
        per_task = []
        for task in tasks:
            problem = prompts.render("solve", "goal_single", task=task.text)
            answer = rc_solve(problem, solver, solver, 1, None).attempt
            per_task.append(
                {"task": task.name, "right": correct(answer, task), "answer": answer[:160]}
            )
        return {
            "seconds": round(time.perf_counter() - start, 3),
            "misses": len(tasks),
            "right": sum(t["right"] for t in per_task),
            "tasks": len(tasks),
            "per_task": per_task,
        }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer tasks (under 5 minutes)")
    parser.add_argument("--json", action="store_true", help="print one JSON object only")
    parser.add_argument("--max-tokens", type=int, default=48, help="answer budget per call")
    args = parser.parse_args(argv)

    tasks = [TASKS[i] for i in (0, 1)] if args.quick else TASKS
    overlap = [OVERLAP[i] for i in (0,)] if args.quick else OVERLAP
    kv_tasks = tasks[:1] if args.quick else tasks
    settings = get_settings(n_threads=2, seed=0)
    pool = ModelPool(settings, kv_cache="ram")
    result: dict[str, Any] = {
        "quick": args.quick,
        "n_threads": settings.n_threads,
        "max_tokens": args.max_tokens,
        "solver": SOLVER,
        "second_model": SECOND,
        "tasks": len(tasks),
    }
    with tempfile.TemporaryDirectory() as tmp:
        bench = Bench(pool, args.max_tokens, Path(tmp))
        load_start = time.perf_counter()
        for name in MODELS:  # models loaded before anything is timed
            with pool.use(name):
                pass
        result["load_seconds"] = round(time.perf_counter() - load_start, 2)
        try:
            progress("cache runs: cold, warm, overlap")
            main_cache = bench.new_cache()
            cold = bench.run(tasks, main_cache)
            warm = bench.run(tasks, main_cache)
            over = bench.run(overlap, main_cache)
            shared = [shared_steps(t, tasks) for t in overlap]
            reused = [
                sum(p["steps_cached"][:k]) for p, k in zip(over["per_task"], shared, strict=True)
            ]
            result["cache"] = {
                "cold": cold,
                "warm": warm,
                "overlap": over,
                "speedup": round(cold["seconds"] / warm["seconds"], 1) if warm["seconds"] else 0.0,
                "goal_speedup": 20.0,
                "overlap_steps": sum(len(explicit_steps(t.text)) for t in overlap),
                "overlap_shared_steps": sum(shared),
                "overlap_reused_steps": sum(reused),
            }

            progress("KV prefix cache: on, then off")
            kv_on = bench.run(kv_tasks, bench.new_cache())
            bench.set_kv_cache(False)
            try:
                kv_off = bench.run(kv_tasks, bench.new_cache())
            finally:
                bench.set_kv_cache(True)
            result["kv"] = {
                "tasks": len(kv_tasks),
                "prompt_tokens": kv_on["prompt_tokens"],
                "evaluated_with_prefix_cache": kv_on["evaluated"],
                "evaluated_without_prefix_cache": kv_off["evaluated"],
                "prompt_tokens_without": kv_off["prompt_tokens"],
                "seconds_with": kv_on["seconds"],
                "seconds_without": kv_off["seconds"],
            }

            # accuracy: one shared cache (temperature 0: a call made before gives the same reply)
            acc_cache = main_cache
            progress("accuracy")
            rows: list[dict[str, Any]] = [{"config": "one-shot", **bench.one_shot(tasks)}]
            # (label, N, summariser, verifiers: None = the default arithmetic one, () = none)
            configs: list[tuple[str, int, str | None, tuple[()] | None]] = [
                ("RC N=1, no verifier", 1, None, ()),
                ("RC N=2, summariser = solver, no verifier", 2, None, ()),
                ("RC N=3, summariser = solver, no verifier", 3, None, ()),
                ("RC N=1 + verifier", 1, None, None),
                ("RC N=2, summariser = solver + verifier", 2, None, None),
                ("RC N=3, summariser = solver + verifier", 3, None, None),
                (f"RC N=2, summariser = {SECOND} + verifier", 2, SECOND, None),
                (f"RC N=3, summariser = {SECOND} + verifier", 3, SECOND, None),
            ]
            if args.quick:  # N=1 and N=2 only; the full run adds N=3
                configs = [c for c in configs if c[1] < 3]
            for label, n, summariser, verifiers in configs:
                row = bench.run(tasks, acc_cache, n=n, summariser=summariser, verifiers=verifiers)
                rows.append({"config": label, **row})
            result["accuracy"] = [
                {k: r[k] for k in ("config", "right", "tasks", "seconds", "misses")}
                | {"per_task": [{"task": t["task"], "right": t["right"]} for t in r["per_task"]]}
                for r in rows
            ]
            result["answers"] = {r["config"]: r["per_task"] for r in rows}
        finally:
            pool.close()
    if args.json:
        print(json.dumps(result))
        return 0
    _print_tables(result)
    return 0


def _print_tables(result: dict[str, Any]) -> None:
    from rich.console import Console
    from rich.table import Table

    console = Console()
    c = result["cache"]
    table = Table(
        title=f"Step cache: {result['tasks']} tasks, N=2, models loaded first "
        f"(n_threads={result['n_threads']}, max_tokens={result['max_tokens']})"
    )
    for col in ("run", "wall s", "hits", "misses", "hit rate", "prompt tok", "evaluated"):
        table.add_column(col, justify="left" if col == "run" else "right")
    for label, key in (("cold", "cold"), ("warm (identical)", "warm"), ("overlap", "overlap")):
        r = c[key]
        table.add_row(
            label,
            f"{r['seconds']:.2f}",
            str(r["hits"]),
            str(r["misses"]),
            f"{r['hit_rate']:.0%}",
            str(r["prompt_tokens"]),
            str(r["evaluated"]),
        )
    console.print(table)
    ok = "green" if c["speedup"] >= c["goal_speedup"] else "red"
    console.print(f"warm vs cold: [{ok}]{c['speedup']:.0f}x faster[/{ok}] (goal >= 20x)")
    ok = "green" if c["overlap_reused_steps"] == c["overlap_shared_steps"] else "red"
    console.print(
        f"overlap run: [{ok}]{c['overlap_reused_steps']} of {c['overlap_shared_steps']} shared "
        f"steps reused[/{ok}] ({c['overlap_steps']} steps in all)"
    )
    kv = result["kv"]
    kv_table = Table(title=f"KV prefix cache ({kv['tasks']} tasks from an empty step cache)")
    for col in ("llama.cpp", "prompt tokens", "evaluated", "share", "wall s"):
        kv_table.add_column(col, justify="left" if col == "llama.cpp" else "right")
    for label, evaluated, sent, seconds in (
        (
            "reuse with the previous prompt only",
            kv["evaluated_without_prefix_cache"],
            kv["prompt_tokens_without"],
            kv["seconds_without"],
        ),
        (
            "+ LlamaRAMCache prefix states",
            kv["evaluated_with_prefix_cache"],
            kv["prompt_tokens"],
            kv["seconds_with"],
        ),
    ):
        share = f"{evaluated / sent:.0%}" if sent else "-"
        kv_table.add_row(label, str(sent), str(evaluated), share, f"{seconds:.1f}")
    console.print(kv_table)
    acc = Table(title=f"Answer accuracy ({result['tasks']} tasks, solver {result['solver']})")
    acc.add_column("config")
    acc.add_column("right", justify="right")
    acc.add_column("model calls", justify="right")
    acc.add_column("wall s", justify="right")
    acc.add_column("per task")
    for row in result["accuracy"]:
        marks = " ".join(f"{t['task']}:{'y' if t['right'] else 'n'}" for t in row["per_task"])
        acc.add_row(
            row["config"],
            f"{row['right']}/{row['tasks']}",
            str(row["misses"]),
            f"{row['seconds']:.1f}",
            marks,
        )
    console.print(acc)
    console.print(
        "model calls: calls not served by the step cache, which the accuracy runs share (the "
        "cold run's config is all hits; N=3 reuses N=2's first attempts)."
    )


if __name__ == "__main__":
    raise SystemExit(main())
