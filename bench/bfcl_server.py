"""BFCL through HTTP: `lamina serve` against `python -m llama_cpp.server`, side by side.

    python bench/bfcl.py --server [--quick] [--json] [--category NAME ...] [--limit N]
                                  [--no-relevance-gate]

The same cases as ``bench/bfcl.py`` (same data, categories, schema conversion and checker), each
sent with the official ``openai`` client, as any OpenAI application would send it, to two
servers of the same GGUF file at temperature 0:

* **lamina-serve**: ``lamina serve``'s app (``create_app``, in this process on a free loopback
  port) with the model by name, so the request goes to ``LlamaChatModel.bind_tools``: the
  two-stage grammar (a function or a text answer, then arguments under the function's whole
  JSON schema);
* **llama-cpp-server**: ``python -m llama_cpp.server --chat_format chatml-function-calling``
  (llama-cpp-python's own tool calling) in a child process.

Both get the identical request: ``tools``, ``tool_choice="auto"``, ``parallel_tool_calls=true``,
``max_tokens=256``, ``seed=0``; the llama.cpp server also ``repeat_penalty=1.0`` (lamina's
setting; its own default is 1.1). Unlike the in-process baseline of ``bench/bfcl.py``, the
llama.cpp server's handler cannot be capped from outside: it writes arguments with no token
limit, so a looping string runs to the context's end (its time is counted) or to the client's
timeout of 180 s (30 s with ``--quick``; an error, counted wrong), after which the server is
started afresh (it would go on writing, and hold every later request behind it). Arguments that
are not JSON count as an invalid call.

lamina serve weighs an ``"auto"`` request against its tools with its relevance gate
(``lamina.serving.tool_gate``: the agent's `step_needs_tool` and `ToolRelevance` thresholds, the
packaged MiniLM encoder): when no function fits, it answers in text without showing the model any.
It does not narrow the functions or force a call, as the agent does (``lamina`` in
``bench/bfcl.py``). ``--no-relevance-gate`` leaves every choice to the model, as lamina serve did
before the gate; the llama.cpp server's choice is always its model's own.
Goal on ``simple_python``: lamina serve's accuracy at least 3x the llama.cpp server's, and
100% valid calls.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path
from typing import Any

from bfcl import (
    CONTEXT_SIZE,
    MAX_TOKENS,
    Case,
    Runner,
    run_category,
)

SYSTEMS = ("lamina-serve", "llama-cpp-server")
GOAL = {"category": "simple_python", "valid_calls": 1.0, "accuracy_ratio": 3.0}
TIMEOUT = 180.0  # seconds per request: a looping argument string of the llama.cpp handler
QUICK_TIMEOUT = 30.0  # with --quick: a request this long is writing thousands of tokens


def client_runner(client: Any, model: str, extra_body: dict[str, Any] | None = None) -> Runner:
    """A system behind an OpenAI-compatible server, asked through the `openai` client."""

    def run(case: Case, tools: list[dict[str, Any]]) -> list[dict[str, Any]]:
        reply = client.chat.completions.create(
            model=model,
            messages=case.messages,
            tools=tools,
            tool_choice="auto",
            parallel_tool_calls=True,
            temperature=0.0,
            max_tokens=MAX_TOKENS,
            seed=0,
            extra_body=extra_body,
        )
        message = reply.choices[0].message
        return [
            {"name": call.function.name, "args": json.loads(call.function.arguments)}
            for call in message.tool_calls or []
        ]

    return run


class RestartingLlamaServer:
    """``python -m llama_cpp.server``, started afresh after a request timed out.

    Its handler goes on writing a looping argument after the client gave up (to the context's
    end, minutes on two cores), and the server answers one request at a time: every later case
    would wait behind it and time out too, and lamina serve's cases would share the cores with
    it. A new process costs a few seconds; the timed-out case counts as an error either way.
    """

    def __init__(self, start: Any, timeout: float) -> None:
        self._start = start
        self._timeout = timeout
        self.restarts = 0
        self._open()

    def _open(self) -> None:
        from openai import OpenAI

        self.server = self._start()
        self.client = OpenAI(
            base_url=self.server.url, api_key="unused", max_retries=0, timeout=self._timeout
        )

    def close(self) -> None:
        self.client.close()
        self.server.stop()

    def runner(self, model: str, extra_body: dict[str, Any]) -> Runner:
        from openai import APITimeoutError

        def run(case: Case, tools: list[dict[str, Any]]) -> list[dict[str, Any]]:
            try:
                return client_runner(self.client, model, extra_body)(case, tools)
            except APITimeoutError:
                self.client.close()
                self.server.kill()
                self.restarts += 1
                self._open()
                raise

        return run


def run(args: argparse.Namespace, data: dict[str, list[Case]]) -> int:
    """Both servers over `data` (cases per category); print the table or the JSON."""
    from openai import OpenAI

    from lamina import Agent
    from lamina.config import get_settings
    from lamina.models.pool import ModelPool
    from lamina.scaleout.servers import start_llama_cpp_server
    from lamina.serving.app import create_app
    from lamina.serving.local import serve_in_thread

    settings = get_settings()
    pool = ModelPool(settings)
    spec = pool.spec(args.model)
    # BFCL's longest tool lists do not fit SmolLM2's catalog context of 2048 tokens.
    pool.register(
        spec.model_copy(update={"context_size": max(spec.context_size or 0, CONTEXT_SIZE)})
    )
    agent = Agent(
        pool=pool,
        settings=settings,
        routes=[],
        memory=False,
        step_cache=False,
        checkpointer=":memory:",
    )
    rows: list[dict[str, Any]] = []
    timeout = QUICK_TIMEOUT if args.quick else TIMEOUT
    with (
        tempfile.TemporaryDirectory(prefix="bfcl-server-") as logs,
        serve_in_thread(create_app(agent, relevance_gate=args.relevance_gate)) as lamina_url,
    ):
        lamina_client = OpenAI(
            base_url=f"{lamina_url}/v1", api_key="unused", max_retries=0, timeout=timeout
        )
        llama = RestartingLlamaServer(
            lambda: start_llama_cpp_server(
                pool.path_of(args.model),
                alias=args.model,
                n_threads=settings.n_threads,
                n_ctx=CONTEXT_SIZE,
                chat_format="chatml-function-calling",
                log_dir=Path(logs),
                timeout=300.0,
            ),
            timeout,
        )
        runners = {
            "lamina-serve": client_runner(lamina_client, args.model),
            "llama-cpp-server": llama.runner(args.model, {"repeat_penalty": 1.0}),
        }
        try:
            for category, cases in data.items():
                for tally in run_category(runners, cases, category, args.failures):
                    rows.append(tally.summary())
                    print(json.dumps(rows[-1]), file=sys.stderr)  # progress, one row at a time
        finally:
            lamina_client.close()
            llama.close()
            agent.close()
            pool.close()
    result = {
        "model": args.model,
        "mode": "server",
        "data": str(args.data),
        "n_threads": settings.n_threads,
        "max_tokens": MAX_TOKENS,
        "quick": args.quick,
        "relevance_gate": args.relevance_gate,
        "request_timeout": timeout,
        "llama_server_restarts": llama.restarts,
        "rows": rows,
        "ratios": ratios(rows),
        "goal": GOAL,
    }
    if args.json:
        print(json.dumps(result))
    else:
        print_table(result)
    return 0


def ratios(rows: list[dict[str, Any]]) -> dict[str, dict[str, float | None]]:
    """lamina serve over the llama.cpp server per category (accuracy and seconds per case)."""
    by = {(r["system"], r["category"]): r for r in rows}
    out: dict[str, dict[str, float | None]] = {}
    for (system, category), row in by.items():
        base = by.get(("llama-cpp-server", category))
        if system != "lamina-serve" or base is None:
            continue
        out[category] = {
            "accuracy": round(row["accuracy"] / base["accuracy"], 3) if base["accuracy"] else None,
            "valid_calls": (
                round(row["valid_calls"] / base["valid_calls"], 3) if base["valid_calls"] else None
            ),
            "seconds": (
                round(row["seconds_per_case"] / base["seconds_per_case"], 3)
                if base["seconds_per_case"]
                else None
            ),
        }
    return out


def print_table(result: dict[str, Any]) -> None:
    from rich.console import Console
    from rich.table import Table

    console = Console()
    table = Table(
        title=f"BFCL v4 through HTTP on {result['model']} (openai client, temperature 0, "
        f"n_threads={result['n_threads']})"
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

    def times(value: float | None) -> str:
        return "n/a (llama.cpp server at 0)" if value is None else f"{value:.2f}x"

    for category, ratio in result["ratios"].items():
        console.print(
            f"{category}: lamina-serve/llama-cpp-server accuracy {times(ratio['accuracy'])}, "
            f"valid calls {times(ratio['valid_calls'])}, time {times(ratio['seconds'])}"
        )
