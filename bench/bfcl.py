"""Benchmark: BFCL function calling, lamina's constrained tool calls against llama-cpp-python's own.

    python bench/bfcl.py [--data DIR] [--category NAME ...] [--model NAME] [--limit N]
                         [--quick] [--json] [--systems lamina,lamina-model,baseline] [--failures]
                         [--server [--no-relevance-gate]]

``--server`` sends the same cases through the ``openai`` client to ``lamina serve`` and to
``python -m llama_cpp.server`` instead (``bench/bfcl_server.py``).

DIR holds ``BFCL_v4_<category>.json`` and ``possible_answer/BFCL_v4_<category>.json`` (format in
../shared/bench/README.md). Each case's function schemas are converted to JSON Schema
(``"dict"`` → object, ``"float"`` → number, ``"tuple"`` → array, ``"any"`` → no type) and its
question goes to three systems on the same GGUF file, at temperature 0:

* **lamina**: what the agent does with a request and tools. `step_needs_tool` with the tools'
  relevance (`lamina.guards.tool_relevance`, the packaged MiniLM encoder) decides whether a
  call is made at all; if so, the functions that fit are offered to
  ``LlamaChatModel.bind_tools(..., parallel_tool_calls=True)`` with ``tool_choice="required"``
  when one fits by meaning, else ``"auto"`` (two-stage grammar: choose a function or
  ``final_answer``, then arguments from the schema; after each call, another call or the end);
* **lamina-model**: the chat model alone, ``tool_choice="auto"`` over all the functions (what
  lamina scored before tool relevance; it shows what the relevance decisions add);
* **baseline**: llama-cpp-python's ``chatml-function-calling`` chat handler
  (``Llama(..., chat_format="chatml-function-calling")``, ``create_chat_completion`` with the same
  tools and ``tool_choice="auto"``). The handler writes arguments with no token limit; here each
  of its completions is capped at lamina's ``max_tokens`` (256), so a looping string costs both
  systems the same.

The relevance thresholds were chosen on cases this benchmark does not report by default
(`simple_python` 100-399, `irrelevance` 50-239, `multiple` 50-199); `--limit` beyond the default
reports on them too.

Outputs are checked with the AST-style checker in ``bfcl_checker.py``. Reported per category and
system: accuracy, the share of outputs that are valid calls (at least one call, every call naming
a given function with arguments that fit its schema), for ``irrelevance`` the share of correct
abstentions (no call), and seconds per case. The goal on ``simple_python`` with SmolLM2-135M is
100% valid calls and accuracy >= 0.30, above the baseline's in the same run.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from bfcl_checker import CheckResult, check_case, check_irrelevance

DEFAULT_DATA = Path(__file__).resolve().parents[2] / "shared" / "bench" / "bfcl"
DEFAULT_CATEGORIES = ("simple_python", "multiple", "parallel", "irrelevance")
DEFAULT_LIMITS = {"simple_python": 100}
DEFAULT_LIMIT = 50
QUICK_LIMIT = 6
DEFAULT_MODEL = "smollm2-135m-instruct"
SYSTEMS = ("lamina", "lamina-model", "baseline")
MAX_TOKENS = 256
# BFCL's longest tool lists do not fit SmolLM2's catalog context of 2048 tokens.
CONTEXT_SIZE = 4096

_TYPE_MAP = {
    "dict": "object",
    "float": "number",
    "double": "number",
    "tuple": "array",
    "list": "array",
    "str": "string",
    "int": "integer",
    "bool": "boolean",
}
_JSON_TYPES = frozenset({"object", "number", "integer", "string", "boolean", "array", "null"})
# BFCL keywords that are not JSON Schema ("optional" repeats what "required" says).
_NOT_SCHEMA = frozenset({"optional"})


# -- data ---------------------------------------------------------------------------------
@dataclass(frozen=True)
class Case:
    """One BFCL question with its functions and (when the category has them) its answers."""

    id: str
    messages: list[dict[str, str]]
    functions: list[dict[str, Any]]
    ground_truth: list[dict[str, Any]] | None


def load_cases(data: Path, category: str, limit: int | None) -> list[Case]:
    """Read `BFCL_v4_<category>.json` and its answers (none for an irrelevance category)."""
    path = data / f"BFCL_v4_{category}.json"
    if not path.is_file():
        known = sorted(p.name[len("BFCL_v4_") : -5] for p in data.glob("BFCL_v4_*.json"))
        raise SystemExit(
            f"No file {path}; categories in {data}: {', '.join(known) or '(none)'}. "
            "Fix: pass --data DIR holding BFCL_v4_<category>.json and possible_answer/."
        )
    answers: dict[str, list[dict[str, Any]]] = {}
    answer_path = data / "possible_answer" / path.name
    if answer_path.is_file():
        for line in answer_path.read_text(encoding="utf-8").splitlines():
            if line.strip():
                row = json.loads(line)
                answers[row["id"]] = row["ground_truth"]
    elif not is_abstention_category(category):
        raise SystemExit(
            f"No answers for {category!r}: expected {answer_path}. Only irrelevance categories "
            "are checked without answers (a case passes when the model makes no call)."
        )
    cases = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if not line.strip():
            continue
        row = json.loads(line)
        turns = row["question"]
        if len(turns) > 1:
            logging.getLogger(__name__).warning(
                "%s has %d turns; only the first is asked", row["id"], len(turns)
            )
        cases.append(
            Case(
                id=row["id"],
                messages=[{"role": m["role"], "content": m["content"]} for m in turns[0]],
                functions=list(row["function"]),
                ground_truth=answers.get(row["id"]) if answers else None,
            )
        )
        if limit is not None and len(cases) >= limit:
            break
    return cases


def is_abstention_category(category: str) -> bool:
    """Categories whose cases pass only when the model makes no call."""
    return "irrelevance" in category


def convert_schema(node: Any) -> Any:
    """A BFCL parameter schema as JSON Schema.

    ``"dict"`` becomes ``"object"``, Python type names become JSON-schema ones (``"float"`` →
    ``"number"``, ``"tuple"`` → ``"array"``), ``"any"`` and unknown type names lose their
    ``type`` (any value), and BFCL's own ``"optional"`` flag is dropped; the grammar converter
    drops the rest of what it cannot take (see ``lamina.models.grammar.clean_schema``).
    """
    if isinstance(node, list):
        return [convert_schema(item) for item in node]
    if not isinstance(node, dict):
        return node
    out: dict[str, Any] = {}
    for key, value in node.items():
        if key in _NOT_SCHEMA:
            continue
        if key == "type" and isinstance(value, str):
            mapped = _TYPE_MAP.get(value, value)
            if mapped in _JSON_TYPES:
                out["type"] = mapped
            continue
        if key == "properties" and isinstance(value, dict):
            out[key] = {name: convert_schema(sub) for name, sub in value.items()}
        elif key in ("items", "additionalProperties", "anyOf", "oneOf", "allOf"):
            out[key] = convert_schema(value)
        else:
            out[key] = value
    return out


def openai_tools(functions: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """The case's functions as OpenAI tool dicts with JSON-schema parameters."""
    return [
        {
            "type": "function",
            "function": {
                "name": f["name"],
                "description": f.get("description", ""),
                "parameters": convert_schema(f.get("parameters") or {"type": "dict"}),
            },
        }
        for f in functions
    ]


# -- scoring ------------------------------------------------------------------------------
def valid_calls(calls: Sequence[dict[str, Any]], tools: Sequence[dict[str, Any]]) -> bool:
    """At least one call, and every call names a given function with arguments that fit."""
    import jsonschema

    if not calls:
        return False
    by_name = {t["function"]["name"]: t["function"]["parameters"] for t in tools}
    for c in calls:
        schema = by_name.get(c.get("name", ""))
        if schema is None or not isinstance(c.get("args"), dict):
            return False
        try:
            jsonschema.validate(c["args"], schema)
        except jsonschema.ValidationError:
            return False
    return True


def check(case: Case, calls: list[dict[str, Any]], category: str) -> CheckResult:
    if is_abstention_category(category) or case.ground_truth is None:
        return check_irrelevance(calls)
    return check_case(calls, case.ground_truth, case.functions)


@dataclass
class Outcome:
    id: str
    calls: list[dict[str, Any]]
    seconds: float
    error: str = ""
    valid: bool = False
    correct: bool = False
    reason: str = ""


@dataclass
class Tally:
    system: str
    category: str
    outcomes: list[Outcome] = field(default_factory=list)

    def summary(self) -> dict[str, Any]:
        n = len(self.outcomes)
        seconds = sum(o.seconds for o in self.outcomes)
        row: dict[str, Any] = {
            "system": self.system,
            "category": self.category,
            "cases": n,
            "accuracy": round(sum(o.correct for o in self.outcomes) / n, 4) if n else 0.0,
            "valid_calls": round(sum(o.valid for o in self.outcomes) / n, 4) if n else 0.0,
            "errors": sum(bool(o.error) for o in self.outcomes),
            "seconds_per_case": round(seconds / n, 3) if n else 0.0,
        }
        if is_abstention_category(self.category):
            row["abstentions"] = round(sum(not o.calls for o in self.outcomes) / n, 4) if n else 0.0
        return row


# -- the two systems ----------------------------------------------------------------------
Runner = Callable[[Case, list[dict[str, Any]]], list[dict[str, Any]]]


def lamina_runner(pool: Any, model: str, relevance: Any = None) -> Runner:
    """lamina: LlamaChatModel.bind_tools on the pooled model.

    With `relevance` (a `ToolRelevance`), the request first goes through the decisions the
    agent makes before a tool step: `step_needs_tool` (words and meaning) decides whether any
    call is made, the tools that fit are offered, and a fitting tool makes the choice
    ``"required"`` (as the execution layer's first move). Without it, the model alone decides
    under ``tool_choice="auto"`` among all the case's functions.
    """
    from langchain_core.messages import AIMessage, HumanMessage, SystemMessage

    from lamina.guards.tool_shortlist import named_tools, step_needs_tool

    chat = pool.chat_model(model, temperature=0.0, seed=0, max_tokens=MAX_TOKENS)
    kinds = {"system": SystemMessage, "user": HumanMessage, "assistant": AIMessage}

    def run(case: Case, tools: list[dict[str, Any]]) -> list[dict[str, Any]]:
        messages = [kinds[m["role"]](m["content"]) for m in case.messages]
        offered, choice = tools, "auto"
        if relevance is not None:
            request = " ".join(m["content"] for m in case.messages if m["role"] == "user")
            names = [t["function"]["name"] for t in tools]
            fit = relevance.assess(request, tools)
            if not step_needs_tool(request, names, fit=fit):
                return []  # no tool step: the agent answers without a call
            keep = set(fit.shortlist(named=named_tools(request, names)))
            offered = [t for t in tools if t["function"]["name"] in keep]
            choice = fit.tool_choice()
        # Several calls per reply for every category alike (BFCL's parallel cases need them).
        bound = chat.bind_tools(offered, tool_choice=choice, parallel_tool_calls=True)
        reply = bound.invoke(messages)
        return [{"name": c["name"], "args": c["args"]} for c in reply.tool_calls]

    return run


def baseline_runner(path: Path, n_threads: int) -> tuple[Runner, Callable[[], None]]:
    """llama-cpp-python's chatml-function-calling handler on the same file."""
    from llama_cpp import Llama

    llama = Llama(
        model_path=str(path),
        chat_format="chatml-function-calling",
        n_ctx=CONTEXT_SIZE,
        n_threads=n_threads,
        n_threads_batch=n_threads,
        seed=0,
        verbose=False,
    )

    # The handler asks for the arguments with max_tokens=None (up to the whole context): a
    # looping string would run for thousands of tokens. Both systems get the same budget.
    complete = llama.create_completion

    def capped(*args: Any, **kwargs: Any) -> Any:
        limit = kwargs.get("max_tokens")
        kwargs["max_tokens"] = MAX_TOKENS if limit is None else min(limit, MAX_TOKENS)
        return complete(*args, **kwargs)

    llama.create_completion = capped  # type: ignore[method-assign]

    def run(case: Case, tools: list[dict[str, Any]]) -> list[dict[str, Any]]:
        out = llama.create_chat_completion(
            messages=case.messages,  # type: ignore[arg-type]
            tools=tools,  # type: ignore[arg-type]
            tool_choice="auto",
            temperature=0.0,
            repeat_penalty=1.0,  # lamina's setting, so both decode alike
            max_tokens=MAX_TOKENS,
            seed=0,
        )
        message = out["choices"][0]["message"]  # type: ignore[index]
        calls = []
        for c in message.get("tool_calls") or []:
            calls.append(
                {"name": c["function"]["name"], "args": json.loads(c["function"]["arguments"])}
            )
        return calls

    return run, llama.close


def run_case(system: str, runner: Runner, case: Case, category: str) -> Outcome:
    """Ask one system one case and check its answer."""
    tools = openai_tools(case.functions)
    started = time.perf_counter()
    calls: list[dict[str, Any]] = []
    error = ""
    try:
        calls = runner(case, tools)
    except Exception as exc:  # a failed case counts as wrong; the benchmark goes on
        error = f"{type(exc).__name__}: {exc}"[:300]
    seconds = time.perf_counter() - started
    result = check(case, calls, category)
    return Outcome(
        id=case.id,
        calls=calls,
        seconds=seconds,
        error=error,
        valid=valid_calls(calls, tools),
        correct=result.ok and not error,
        reason=error or result.reason,
    )


def run_category(
    runners: dict[str, Runner], cases: list[Case], category: str, show: bool
) -> list[Tally]:
    """Every case through every system, alternating which goes first (the machine's load then
    weighs on both alike)."""
    tallies = {name: Tally(name, category) for name in runners}
    order = list(runners)
    for i, case in enumerate(cases):
        for system in order if i % 2 == 0 else order[::-1]:
            outcome = run_case(system, runners[system], case, category)
            tallies[system].outcomes.append(outcome)
            if show and not outcome.correct:
                print(
                    f"[{system}] {case.id}: {outcome.reason} | "
                    f"calls={json.dumps(outcome.calls)[:300]}",
                    file=sys.stderr,
                )
    return list(tallies.values())


# -- main ---------------------------------------------------------------------------------
def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA, help="the BFCL data folder")
    parser.add_argument(
        "--category",
        action="append",
        help=f"a category (repeatable; default: {', '.join(DEFAULT_CATEGORIES)})",
    )
    parser.add_argument("--model", default=DEFAULT_MODEL, help="a lamina model name")
    parser.add_argument(
        "--limit",
        type=int,
        help=f"first N cases per category (default: 100 simple_python, {DEFAULT_LIMIT} others)",
    )
    parser.add_argument("--quick", action="store_true", help=f"{QUICK_LIMIT} cases per category")
    parser.add_argument("--json", action="store_true", help="print one JSON object only")
    parser.add_argument("--systems", default=",".join(SYSTEMS), help=",".join(SYSTEMS))
    parser.add_argument("--failures", action="store_true", help="print failed cases to stderr")
    parser.add_argument(
        "--server",
        action="store_true",
        help="through HTTP: lamina serve against llama_cpp.server (see bfcl_server.py)",
    )
    parser.add_argument(
        "--no-relevance-gate",
        dest="relevance_gate",
        action="store_false",
        help='with --server: lamina serve leaves every tool_choice "auto" to the model',
    )
    args = parser.parse_args(argv)

    os.environ.setdefault("GOMP_SPINCOUNT", "10000")
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
    systems = [s.strip() for s in args.systems.split(",") if s.strip()]
    unknown = set(systems) - set(SYSTEMS)
    if unknown:
        raise SystemExit(f"Unknown systems {sorted(unknown)}; known: {', '.join(SYSTEMS)}.")
    categories = args.category or list(DEFAULT_CATEGORIES)

    def limit_for(category: str) -> int:
        if args.quick:
            return QUICK_LIMIT
        if args.limit is not None:
            return int(args.limit)
        return DEFAULT_LIMITS.get(category, DEFAULT_LIMIT)

    data = {c: load_cases(args.data, c, limit_for(c)) for c in categories}
    if args.server:
        import bfcl_server

        return bfcl_server.run(args, data)

    from lamina.config import get_settings
    from lamina.models.pool import ModelPool

    settings = get_settings()
    pool = ModelPool(settings)
    spec = pool.spec(args.model)
    pool.register(
        spec.model_copy(update={"context_size": max(spec.context_size or 0, CONTEXT_SIZE)})
    )
    runners: dict[str, Runner] = {}
    closers: list[Callable[[], None]] = [pool.close]
    if "lamina" in systems:
        from lamina.guards.tool_relevance import ToolRelevance

        runners["lamina"] = lamina_runner(pool, args.model, ToolRelevance())
    if "lamina-model" in systems:
        runners["lamina-model"] = lamina_runner(pool, args.model)
    if "baseline" in systems:
        run, close = baseline_runner(pool.path_of(args.model), settings.n_threads)
        runners["baseline"] = run
        closers.append(close)
    rows: list[dict[str, Any]] = []
    try:
        for category, cases in data.items():
            for tally in run_category(runners, cases, category, args.failures):
                rows.append(tally.summary())
    finally:
        for close in closers:
            close()
    result = {
        "model": args.model,
        "data": str(args.data),
        "n_threads": settings.n_threads,
        "max_tokens": MAX_TOKENS,
        "quick": args.quick,
        "rows": rows,
        "ratios": _ratios(rows),
        "goal": {"category": "simple_python", "valid_calls": 1.0, "accuracy": 0.30},
    }
    if args.json:
        print(json.dumps(result))
        return 0
    _print_table(result)
    return 0


def _ratios(rows: list[dict[str, Any]]) -> dict[str, dict[str, float | None]]:
    """lamina over baseline per category (accuracy and seconds per case)."""
    by = {(r["system"], r["category"]): r for r in rows}
    out: dict[str, dict[str, float | None]] = {}
    for (system, category), row in by.items():
        base = by.get(("baseline", category))
        if system != "lamina" or base is None:
            continue
        out[category] = {
            "accuracy": round(row["accuracy"] / base["accuracy"], 3) if base["accuracy"] else None,
            "seconds": (
                round(row["seconds_per_case"] / base["seconds_per_case"], 3)
                if base["seconds_per_case"]
                else None
            ),
        }
    return out


def _print_table(result: dict[str, Any]) -> None:
    from rich.console import Console
    from rich.table import Table

    console = Console()
    table = Table(
        title=f"BFCL v4 on {result['model']} (temperature 0, n_threads={result['n_threads']})"
    )
    columns = ("category", "system", "cases", "accuracy", "valid calls", "abstained", "errors")
    for col in (*columns, "s/case"):
        table.add_column(col, justify="left" if col in ("category", "system") else "right")
    for row in result["rows"]:
        abstained = row.get("abstentions")
        table.add_row(
            row["category"],
            row["system"],
            str(row["cases"]),
            f"{row['accuracy']:.2f}",
            f"{row['valid_calls']:.2f}",
            "-" if abstained is None else f"{abstained:.2f}",
            str(row["errors"]),
            f"{row['seconds_per_case']:.2f}",
        )
    console.print(table)
    for category, ratio in result["ratios"].items():
        acc = "n/a" if ratio["accuracy"] is None else f"{ratio['accuracy']:.2f}x"
        sec = "n/a" if ratio["seconds"] is None else f"{ratio['seconds']:.2f}x"
        console.print(f"{category}: lamina/baseline accuracy {acc}, time {sec}")


if __name__ == "__main__":
    raise SystemExit(main())
