"""Benchmark: realistic multi-step tool tasks, lamina's agent against two plain baselines.

    python bench/agent_tasks.py [--quick] [--json] [--split dev|held_out|all]
                                [--systems lamina,react,chatml] [--category NAME ...]
                                [--limit N] [--threads N] [--failures]

76 requests written the way people type them (`agent_tasks_suite.py`) go to three systems that
share one tool set (`agent_tasks_tools.py`: ten deterministic tools over fixed tables, plus
lamina's `calculator`) and one GGUF file (SmolLM2-135M-Instruct, its context raised from the
catalog's 2048 to 4096 tokens for all three, since the eleven tool schemas alone take ~1,200
tokens), at temperature 0 with lamina's seed and thread count:

* **lamina**: `lamina.Agent(tools=..., memory=False)` with its defaults (router, planning,
  tool relevance, grammar-constrained calls, step cache, SQLite checkpoints), except that its
  home (where the step cache, checkpoints and router cache live) is a temporary directory, so a
  run starts cold and leaves nothing behind; the models are read from the usual models dir;
* **react**: LangGraph's prebuilt ReAct agent (`langgraph.prebuilt.create_react_agent`; the
  `langchain.agents` successor is not installed) over lamina's chat model
  `lamina.models.chat_model(..., temperature=0.0, max_tokens=256)`, its tools in a
  `ToolNode(..., handle_tool_errors=True)` (a tool's exception goes back to the model, as in the
  other two systems), an in-memory checkpointer and a recursion limit of 2 x 5 + 1 (five model
  turns per user turn);
* **chatml**: llama-cpp-python's `Llama(chat_format="chatml-function-calling")` in a plain tool
  loop: `create_chat_completion(messages, tools=..., tool_choice="auto")`, run the calls it
  returns, append their results as `tool` messages, at most five rounds. The handler lists the
  tools only inside a system message, so the loop starts with "You are a helpful assistant.";
  its completions are capped at 256 tokens (it asks for none) as in `bench/bfcl.py`. Two
  properties of the handler (llama-cpp-python 0.3.x) weigh on this baseline and are measured as
  they are: its template renders a `tool` message as its role line only, so the model never
  sees what its tools returned, and a reply it starts with "message:" is decoded under the
  function-name grammar, so its prose answers come back empty.

The systems run in a child process that takes one task at a time: a native crash in
llama.cpp (a segfault) fails that task as not ok and the next task starts a fresh process, so
the benchmark outlives the systems it measures. Follow-up tasks send their second turn on the
same thread. Per task and system the benchmark
records whether it passed the strict checker (see `agent_tasks_suite.py`), the ok flag
(`RunResult.ok` when lamina has one; otherwise a returned result is ok and an exception is not;
a baseline that runs out of rounds is not ok), whether it was *silently wrong* (failed with
ok=True, the worst outcome), the tool calls made and the seconds. Each system answers one
untimed warm-up request first (models, encoders and grammars loaded). Reported per split and
category: cases, accuracy, the rate of silently wrong answers, runs not ok, mean tool calls,
seconds per task; and lamina's accuracy over each other system's. `--json` prints the same
(and every task's answers and calls) as one JSON object; `--failures` prints why each failed
task failed to stderr.

The suite's `held_out` third is for reporting only, never for tuning. `--quick` runs one task
per category (the first dev task, or the first held-out one in every other category) on lamina
and react: about 3.5 minutes on two shared cores. `--threads N` sets llama.cpp's threads for all
three systems (`LAMINA_N_THREADS`), so the suite can be run under two numeric paths. The whole
suite on all three systems takes about an hour on two cores (the baselines mostly run to their
round limit); `--limit N` keeps the first N tasks of each category.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import signal
import subprocess
import sys
import tempfile
import time
import uuid
import warnings
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import IO, Any, Protocol

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from agent_tasks_suite import CATEGORIES, SPLITS, TASKS, Task, check_task
from agent_tasks_tools import ALL_TOOLS

MODEL = "smollm2-135m-instruct"
SYSTEMS = ("lamina", "react", "chatml")
QUICK_SYSTEMS = ("lamina", "react")
MAX_TOKENS = 256
MAX_ROUNDS = 5  # model turns per user turn for react and chatml (three steps + an answer + one)
CONTEXT_SIZE = 4096  # all 11 tool schemas in one prompt do not fit SmolLM2's catalog 2048
CHATML_SYSTEM_PROMPT = "You are a helpful assistant."
WARM_UP = "What is 2 plus 3?"
REACT_OUT_OF_STEPS = "Sorry, need more steps to process this request."


def progress(message: str) -> None:
    """One line on stderr (stdout stays the table or the JSON object)."""
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


# -- the systems --------------------------------------------------------------------------
@dataclass
class TurnResult:
    """One turn's answer and tool calls; `ok=False` with `error` when a baseline hit its limit."""

    answer: str
    calls: list[dict[str, Any]]
    ok: bool = True
    error: str = ""


class System(Protocol):
    name: str

    def turn(self, text: str, thread: str) -> TurnResult: ...

    def close(self) -> None: ...


class LaminaSystem:
    """`lamina.Agent` with its defaults, its state (step cache, checkpoints, router cache) under
    a temporary home; the models come from `pool`, which reads them from the real models dir."""

    name = "lamina"

    def __init__(self, pool: Any, home: Path) -> None:
        from lamina import Agent

        home.mkdir(parents=True, exist_ok=True)
        settings = pool.settings.model_copy(update={"home": home})
        self.agent = Agent(tools=ALL_TOOLS, memory=False, pool=pool, settings=settings)

    def turn(self, text: str, thread: str) -> TurnResult:
        result = self.agent.run(text, thread_id=thread)
        calls = [
            {"name": c.name, "args": dict(c.arguments), "error": c.error} for c in result.tool_calls
        ]
        ok = bool(getattr(result, "ok", True))  # RunResult has no `ok` yet: returned = ok
        error = "" if ok else str(getattr(result, "error", "") or "RunResult.ok is False")[:300]
        return TurnResult(result.answer, calls, ok, error)

    def close(self) -> None:
        self.agent.close()


class ReactSystem:
    """LangGraph's prebuilt ReAct agent over lamina's chat model."""

    name = "react"

    def __init__(self, spec: Any, seed: int) -> None:
        from langgraph.checkpoint.memory import InMemorySaver
        from langgraph.prebuilt import ToolNode

        from lamina.models import chat_model

        with warnings.catch_warnings():  # moved to langchain.agents in 1.0; not installed here
            warnings.simplefilter("ignore")
            from langgraph.prebuilt import create_react_agent

            self.graph = create_react_agent(
                chat_model(spec, temperature=0.0, max_tokens=MAX_TOKENS, seed=seed),
                # A tool's exception goes back to the model as a message (ToolNode's default
                # re-raises all but argument errors), as lamina and the chatml loop do.
                ToolNode(ALL_TOOLS, handle_tool_errors=True),
                checkpointer=InMemorySaver(),
            )

    def turn(self, text: str, thread: str) -> TurnResult:
        from langchain_core.messages import AIMessage, ToolMessage
        from langgraph.errors import GraphRecursionError

        config: Any = {"configurable": {"thread_id": thread}, "recursion_limit": 2 * MAX_ROUNDS + 1}
        before = len(self.graph.get_state(config).values.get("messages", []))
        error = ""
        try:
            self.graph.invoke({"messages": [("user", text)]}, config)
        except GraphRecursionError:
            error = f"GraphRecursionError: no answer within {MAX_ROUNDS} model turns"
        except Exception as exc:  # not ok; the calls made so far are in the checkpoint
            error = f"{type(exc).__name__}: {exc}"[:300]
        messages = self.graph.get_state(config).values.get("messages", [])
        new = messages[before + 1 :]  # after this turn's user message
        errors = {
            m.tool_call_id: str(m.content)
            for m in new
            if isinstance(m, ToolMessage) and m.status == "error"
        }
        calls: list[dict[str, Any]] = []
        for m in new:
            if not isinstance(m, AIMessage):
                continue
            for call in m.tool_calls:
                failed = errors.get(call["id"] or "")
                calls.append({"name": call["name"], "args": call["args"], "error": failed})
            for bad in m.invalid_tool_calls:
                calls.append({"name": bad.get("name"), "args": {}, "error": bad.get("error")})
        last = messages[-1] if messages else None
        answer = str(last.content) if isinstance(last, AIMessage) and not error else ""
        if answer == REACT_OUT_OF_STEPS:  # the prebuilt agent's own word for its limit
            error = f"out of steps within {MAX_ROUNDS} model turns"
        return TurnResult(answer, calls, ok=not error, error=error)

    def close(self) -> None:
        from lamina.models.pool import reset_default_pool

        reset_default_pool()


class ChatmlSystem:
    """llama-cpp-python's chatml-function-calling handler in a plain tool loop."""

    name = "chatml"

    def __init__(self, path: Path, n_threads: int, seed: int) -> None:
        from langchain_core.utils.function_calling import convert_to_openai_tool
        from llama_cpp import Llama

        self.seed = seed
        self.llama = Llama(
            model_path=str(path),
            chat_format="chatml-function-calling",
            n_ctx=CONTEXT_SIZE,
            n_threads=n_threads,
            n_threads_batch=n_threads,
            seed=seed,
            verbose=False,
        )
        # The handler asks for arguments and messages with max_tokens=None (up to the whole
        # context): a looping string would run for thousands of tokens. Same cap as the others.
        complete = self.llama.create_completion

        def capped(*args: Any, **kwargs: Any) -> Any:
            limit = kwargs.get("max_tokens")
            kwargs["max_tokens"] = MAX_TOKENS if limit is None else min(limit, MAX_TOKENS)
            return complete(*args, **kwargs)

        self.llama.create_completion = capped
        self.tools = {t.name: t for t in ALL_TOOLS}
        self.schemas = [convert_to_openai_tool(t) for t in ALL_TOOLS]
        self.threads: dict[str, list[dict[str, Any]]] = {}

    def turn(self, text: str, thread: str) -> TurnResult:
        messages = self.threads.setdefault(
            thread, [{"role": "system", "content": CHATML_SYSTEM_PROMPT}]
        )
        messages.append({"role": "user", "content": text})
        calls: list[dict[str, Any]] = []
        for _ in range(MAX_ROUNDS):
            out = self.llama.create_chat_completion(
                messages=messages,
                tools=self.schemas,
                tool_choice="auto",
                temperature=0.0,
                repeat_penalty=1.0,  # lamina's setting, so all decode alike
                max_tokens=MAX_TOKENS,
                seed=self.seed,
            )
            message = out["choices"][0]["message"]
            tool_calls = message.get("tool_calls") or []
            content = message.get("content") or ""
            if not tool_calls:
                messages.append({"role": "assistant", "content": content})
                return TurnResult(content, calls)
            messages.append({"role": "assistant", "content": content, "tool_calls": tool_calls})
            for c in tool_calls:
                name = c["function"]["name"]
                args: Any = {}
                error = None
                try:
                    args = json.loads(c["function"]["arguments"])
                    result = str(self.tools[name].invoke(args))
                except Exception as exc:  # the model sees the error, as the others do
                    error = f"{type(exc).__name__}: {exc}"
                    result = f"Error: {error}"
                calls.append({"name": name, "args": args, "error": error})
                messages.append(
                    {"role": "tool", "tool_call_id": c["id"], "name": name, "content": result}
                )
        return TurnResult(
            "", calls, ok=False, error=f"LimitError: no answer in {MAX_ROUNDS} rounds"
        )

    def close(self) -> None:
        self.llama.close()


# -- running and scoring ------------------------------------------------------------------
@dataclass
class Outcome:
    task: str
    category: str
    split: str
    system: str
    passed: bool
    ok: bool
    seconds: float
    calls: list[list[dict[str, Any]]]
    answers: list[str]
    reasons: list[str] = field(default_factory=list)
    error: str = ""

    @property
    def silently_wrong(self) -> bool:
        return self.ok and not self.passed

    @property
    def n_calls(self) -> int:
        return sum(len(c) for c in self.calls)


def run_task(system: System, task: Task) -> Outcome:
    """Every turn of `task` on one thread of `system`, then the checker."""
    thread = f"{task.id}-{uuid.uuid4().hex[:8]}"
    answers: list[str] = []
    calls: list[list[dict[str, Any]]] = []
    notes: list[str] = []
    ok, error = True, ""
    started = time.perf_counter()
    for turn in task.turns:
        try:
            result = system.turn(turn.text, thread)
        except Exception as exc:  # counts as wrong and not ok; the benchmark goes on
            ok, error = False, f"{type(exc).__name__}: {exc}"[:300]
            break
        answers.append(result.answer)
        calls.append(result.calls)
        if not result.ok:  # the checker still decides whether the answer is right
            ok = False
            notes.append(result.error or "not ok")
    seconds = time.perf_counter() - started
    check = check_task(task, answers, calls)
    return Outcome(
        task=task.id,
        category=task.category,
        split=task.split,
        system=system.name,
        passed=check.passed and not error,
        ok=ok,
        seconds=round(seconds, 3),
        calls=calls,
        answers=answers,
        reasons=([error] if error else []) + notes + check.reasons,
        error=error,
    )


def summarise(outcomes: Sequence[Outcome]) -> dict[str, Any]:
    n = len(outcomes)
    if not n:
        return {"cases": 0}
    return {
        "cases": n,
        "accuracy": round(sum(o.passed for o in outcomes) / n, 4),
        "silently_wrong": round(sum(o.silently_wrong for o in outcomes) / n, 4),
        "right_and_ok": round(sum(o.passed and o.ok for o in outcomes) / n, 4),
        "right_not_ok": sum(o.passed and not o.ok for o in outcomes),
        "not_ok": sum(not o.ok for o in outcomes),
        "mean_calls": round(sum(o.n_calls for o in outcomes) / n, 2),
        "seconds_per_task": round(sum(o.seconds for o in outcomes) / n, 2),
    }


def table_rows(outcomes: Sequence[Outcome], systems: Sequence[str]) -> list[dict[str, Any]]:
    """One row per split (and "all"), category (and "all") and system."""
    rows = []
    splits = [s for s in SPLITS if any(o.split == s for o in outcomes)]
    for split in [*splits, "all"] if len(splits) > 1 else splits:
        in_split = [o for o in outcomes if split in ("all", o.split)]
        categories = [c for c in CATEGORIES if any(o.category == c for o in in_split)]
        for category in [*categories, "all"]:
            for system in systems:
                chosen = [
                    o for o in in_split if o.system == system and category in ("all", o.category)
                ]
                if chosen:
                    rows.append(
                        {"split": split, "category": category, "system": system} | summarise(chosen)
                    )
    return rows


def ratios(rows: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """lamina's accuracy over each other system's, per split and category (None when the other
    scored 0)."""
    by = {(r["split"], r["category"], r["system"]): r for r in rows}
    out = []
    for (split, category, system), row in by.items():
        if system == "lamina":
            continue
        mine = by.get((split, category, "lamina"))
        if mine is None:
            continue
        out.append(
            {
                "split": split,
                "category": category,
                "versus": system,
                "lamina_accuracy": mine["accuracy"],
                "other_accuracy": row["accuracy"],
                "ratio": round(mine["accuracy"] / row["accuracy"], 3) if row["accuracy"] else None,
            }
        )
    return out


def select_tasks(
    split: str, categories: Sequence[str] | None, limit: int | None, quick: bool
) -> list[Task]:
    tasks = [t for t in TASKS if split in ("all", t.split)]
    if categories:
        tasks = [t for t in tasks if t.category in categories]
    if quick:  # one task per category: the first dev one, or held-out one every other category
        picked = []
        for i, category in enumerate(CATEGORIES):
            mine = [t for t in tasks if t.category == category]
            preferred = [t for t in mine if t.split == SPLITS[i % 2]] or mine
            picked += preferred[:1]
        tasks = picked
    if limit is not None:
        counts: dict[str, int] = {}
        kept = []
        for t in tasks:
            counts[t.category] = counts.get(t.category, 0) + 1
            if counts[t.category] <= limit:
                kept.append(t)
        tasks = kept
    return tasks


def build_systems(names: Sequence[str], workdir: Path) -> tuple[list[System], Callable[[], None]]:
    """The chosen systems on one GGUF file, each with its own llama.cpp instance."""
    from lamina.config import get_settings
    from lamina.models.pool import ModelPool

    settings = get_settings()
    systems: list[System] = []
    pool = ModelPool(settings)
    spec = pool.spec(MODEL).model_copy(update={"context_size": CONTEXT_SIZE})
    pool.register(spec)
    for name in names:
        if name == "lamina":
            systems.append(LaminaSystem(pool, workdir / "lamina-home"))
        elif name == "react":
            systems.append(ReactSystem(spec, settings.seed))
        elif name == "chatml":
            systems.append(ChatmlSystem(pool.path_of(MODEL), settings.n_threads, settings.seed))

    def close() -> None:
        for s in systems:
            s.close()
        pool.close()

    return systems, close


def warm_up(system: System) -> None:
    """One untimed request, so that loading models, encoders and grammars is not timed."""
    started = time.perf_counter()
    try:
        system.turn(WARM_UP, f"warm-up-{uuid.uuid4().hex[:8]}")
    except Exception as exc:  # only loading matters here, not the answer
        progress(f"{system.name} warm-up: {type(exc).__name__}")
    progress(f"{system.name} warmed up in {time.perf_counter() - started:.1f} s")


def serve(names: Sequence[str], workdir: Path) -> int:
    """The worker process: build and warm up the systems, then run one task per line of stdin
    (`{"task", "system"}`) and answer each with its outcome as one JSON line."""
    protocol = os.fdopen(os.dup(1), "w", buffering=1)
    os.dup2(2, 1)  # whatever else writes to stdout (llama.cpp, libraries) lands on stderr
    by_id = {t.id: t for t in TASKS}
    progress(f"loading {', '.join(names)} in process {os.getpid()}")
    systems, close = build_systems(names, workdir)
    try:
        for s in systems:
            warm_up(s)
        by_name = {s.name: s for s in systems}
        protocol.write(json.dumps({"ready": True}) + "\n")
        while line := sys.stdin.readline():
            request = json.loads(line)
            outcome = run_task(by_name[request["system"]], by_id[request["task"]])
            protocol.write(json.dumps(asdict(outcome), default=str) + "\n")
    finally:
        close()
    return 0


class Worker:
    """The systems in a child process (`serve`), so that a native crash in llama.cpp fails
    one task, recorded as not ok, instead of ending the benchmark; the next task starts a new
    process (whose loading and warm-up are not timed)."""

    def __init__(self, names: Sequence[str], workdir: Path) -> None:
        self.names = list(names)
        self.workdir = workdir
        self.process: subprocess.Popen[str] | None = None
        self.pipes: tuple[IO[str], IO[str]] | None = None  # the worker's stdin and stdout
        self.starts = 0

    def _start(self) -> tuple[subprocess.Popen[str], IO[str], IO[str]]:
        self.starts += 1
        command = [sys.executable, str(Path(__file__).resolve()), "--worker"]
        command += ["--systems", ",".join(self.names)]
        command += ["--workdir", str(self.workdir / f"worker-{self.starts}")]
        process = subprocess.Popen(
            command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
        )
        if process.stdin is None or process.stdout is None:  # never with PIPE; for the types
            raise RuntimeError("subprocess.Popen(stdin=PIPE, stdout=PIPE) gave no pipes")
        if not process.stdout.readline():
            raise SystemExit(f"The worker process ended while loading ({_ended(process.wait())}).")
        self.process, self.pipes = process, (process.stdin, process.stdout)
        return process, process.stdin, process.stdout

    def run(self, task: Task, system: str) -> Outcome:
        if self.process is None or self.pipes is None or self.process.poll() is not None:
            process, stdin, stdout = self._start()
        else:
            process, (stdin, stdout) = self.process, self.pipes
        started = time.perf_counter()
        line = ""
        try:
            stdin.write(json.dumps({"task": task.id, "system": system}) + "\n")
            stdin.flush()
            line = stdout.readline()
        except BrokenPipeError:
            pass
        if line:
            return Outcome(**json.loads(line))
        why = f"the process died ({_ended(process.wait())})"
        self.process = self.pipes = None
        return Outcome(
            task=task.id,
            category=task.category,
            split=task.split,
            system=system,
            passed=False,
            ok=False,
            seconds=round(time.perf_counter() - started, 3),
            calls=[],
            answers=[],
            reasons=[why],
            error=why,
        )

    def close(self) -> None:
        if self.process is not None and self.pipes is not None:
            self.pipes[0].close()
            self.process.wait()
        self.process = self.pipes = None


def _ended(code: int) -> str:
    if code < 0:
        try:
            return signal.Signals(-code).name
        except ValueError:
            return f"signal {-code}"
    return f"exit status {code}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="1 task per category, 2 systems")
    parser.add_argument("--json", action="store_true", help="print one JSON object only")
    parser.add_argument("--split", choices=(*SPLITS, "all"), default="all")
    parser.add_argument(
        "--systems",
        help=f"comma-separated: {','.join(SYSTEMS)} (default: all; quick: "
        f"{','.join(QUICK_SYSTEMS)})",
    )
    parser.add_argument(
        "--category", action="append", choices=CATEGORIES, help="a category (repeatable)"
    )
    parser.add_argument("--limit", type=int, help="first N tasks per category")
    parser.add_argument("--threads", type=int, help="llama.cpp threads (LAMINA_N_THREADS)")
    parser.add_argument("--failures", action="store_true", help="print failed tasks to stderr")
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--workdir", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)

    if args.threads is not None:  # before lamina reads its settings (the worker inherits it)
        os.environ["LAMINA_N_THREADS"] = str(args.threads)
    os.environ.setdefault("GOMP_SPINCOUNT", "10000")  # see lamina.config.bounded_openmp_spin
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
    chosen = args.systems or ",".join(QUICK_SYSTEMS if args.quick else SYSTEMS)
    names = [s.strip() for s in chosen.split(",") if s.strip()]
    unknown = sorted(set(names) - set(SYSTEMS))
    if unknown or not names:
        raise SystemExit(f"Unknown systems {unknown}; known: {', '.join(SYSTEMS)}.")
    if args.worker:
        return serve(names, args.workdir)
    tasks = select_tasks(args.split, args.category, args.limit, args.quick)
    if not tasks:
        raise SystemExit("No task left after --split/--category/--limit.")

    import lamina
    from lamina.config import get_settings

    settings = get_settings()
    outcomes: list[Outcome] = []
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="agent-tasks-") as tmp:
        worker = Worker(names, Path(tmp))
        try:
            for i, task in enumerate(tasks):
                order = names if i % 2 == 0 else names[::-1]  # load weighs on all alike
                for system in order:
                    outcome = worker.run(task, system)
                    outcomes.append(outcome)
                    mark = "pass" if outcome.passed else ("FAIL ok" if outcome.ok else "fail")
                    progress(
                        f"{i + 1}/{len(tasks)} {task.id} [{system}] {mark} "
                        f"{outcome.n_calls} calls {outcome.seconds:.1f} s"
                    )
                    if args.failures and not outcome.passed:
                        print(
                            f"    {'; '.join(outcome.reasons)[:400]}\n"
                            f"    answer: {' | '.join(outcome.answers)[:300]!r}\n"
                            f"    calls: {json.dumps(outcome.calls, default=str)[:400]}",
                            file=sys.stderr,
                        )
        finally:
            worker.close()
    rows = table_rows(outcomes, names)
    result = {
        "model": MODEL,
        "lamina": str(Path(lamina.__file__).parent),
        "n_threads": settings.n_threads,
        "seed": settings.seed,
        "context_size": CONTEXT_SIZE,
        "max_tokens": MAX_TOKENS,
        "max_rounds": MAX_ROUNDS,
        "quick": args.quick,
        "split": args.split,
        "systems": names,
        "tasks": len(tasks),
        "worker_starts": worker.starts,
        "crashes": sum(o.error.startswith("the process died") for o in outcomes),
        "wall_seconds": round(time.perf_counter() - started, 1),
        "rows": rows,
        "ratios": ratios(rows),
        "outcomes": [
            asdict(o) | {"silently_wrong": o.silently_wrong, "n_calls": o.n_calls} for o in outcomes
        ],
    }
    if args.json:
        print(json.dumps(result, default=str))
        return 0
    _print_tables(result)
    return 0


def _print_tables(result: dict[str, Any]) -> None:
    from rich.console import Console
    from rich.table import Table

    console = Console(width=max(Console().width, 100))
    splits = list(dict.fromkeys(r["split"] for r in result["rows"]))
    for split in splits:
        table = Table(
            title=f"Agent tasks, split {split}: {result['model']}, temperature 0, "
            f"n_threads={result['n_threads']}"
        )
        columns = (
            "category",
            "system",
            "cases",
            "accuracy",
            "silently wrong",
            "right & ok",
            "right, not ok",
            "not ok",
        )
        for col in (*columns, "mean calls", "s/task"):
            left = col in ("category", "system")
            table.add_column(col, justify="left" if left else "right", no_wrap=left)
        for row in (r for r in result["rows"] if r["split"] == split):
            table.add_row(
                row["category"],
                row["system"],
                str(row["cases"]),
                f"{row['accuracy']:.2f}",
                f"{row['silently_wrong']:.2f}",
                f"{row['right_and_ok']:.2f}",
                str(row["right_not_ok"]),
                str(row["not_ok"]),
                f"{row['mean_calls']:.2f}",
                f"{row['seconds_per_task']:.1f}",
            )
        console.print(table)
        for r in (r for r in result["ratios"] if r["split"] == split and r["category"] == "all"):
            ratio = "n/a (other scored 0)" if r["ratio"] is None else f"{r['ratio']:.2f}x"
            console.print(
                f"{split}: lamina/{r['versus']} accuracy {ratio} "
                f"({r['lamina_accuracy']:.2f} vs {r['other_accuracy']:.2f})"
            )
    console.print(
        f"{result['tasks']} tasks, {result['wall_seconds']:.0f} s wall, {result['crashes']} "
        "runs crashed their process. silently wrong: failed the checker although the system "
        "reported success; right & ok: passed and reported success (what a user can trust); "
        "right, not ok: passed but reported a failure (a false alarm); not ok: the system "
        "reported a failure, raised, hit its limit or crashed."
    )


if __name__ == "__main__":
    raise SystemExit(main())
