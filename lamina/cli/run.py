"""`lamina run`: one task through the five layers, with a live view of what each layer does.

A tool that needs approval (`@tool(requires_approval=True)`) pauses the run; `lamina run` then
asks at the prompt whether the call may run. `--yes` approves every such call without asking;
without a terminal to ask (stdin closed or not interactive input), a call is refused.
"""

from __future__ import annotations

import json
import sys
import uuid
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.text import Text

if TYPE_CHECKING:
    from rich.console import Console

    from lamina.agents.agent import Agent
    from lamina.agents.result import RunResult

__all__ = [
    "NOT_OK_EXIT",
    "ask_approval",
    "build_agent",
    "print_trace",
    "resume_command",
    "run_command",
]

NOT_OK_EXIT = 2
"""`lamina run`'s exit code for a run that finished but is not `ok` (1: an error stopped it)."""

_LAYER_LABEL = {
    "input": "input: validated the request",
    "router": "router: chose a model",
    "memory": "memory: recalled",
    "reasoning": "reasoning",
    "execution": "execution: ran tools",
    "respond": "respond",
    "remember": "memory: wrote back",
}


def build_agent(config: Path | None, memory: str | None = None, **flags: str) -> Agent:
    """The agent `lamina run` uses: from `--config`, `./lamina.toml`, or the defaults.

    Settings come from `flags` (`--set name=value`), then `LAMINA_*` variables, then that one
    config file, then the defaults. `memory` (`--memory`: a Chroma server URL or a directory)
    replaces the config file's `memory`.
    """
    from lamina.agents.agent import Agent
    from lamina.config import find_config, get_settings

    path = find_config(config)
    settings = get_settings(path, **flags)
    overrides: dict[str, Any] = {} if memory is None else {"memory": memory}
    if path is None:
        return Agent(settings=settings, **overrides)
    return Agent.from_config(path, settings=settings, **overrides)


def _describe(node: str, update: dict[str, Any]) -> str:
    """One line of plain text (never markup: it quotes model and tool output) for a node."""
    events = update.get("trace") or []
    data = events[-1]["data"] if events else {}
    if node == "router" and update.get("route"):
        r = update["route"]
        name = r.get("route") or "none"
        seconds = {e.get("layer"): e.get("seconds", 0.0) for e in events}
        encoder = seconds.get("loading encoder")
        before = f"loading encoder {encoder:.2f} s; " if encoder is not None else ""
        model = seconds.get("loading model")
        after = f"; loading model {model:.2f} s" if model is not None else ""
        return f"{before}router → {name} → model {r.get('model')} ({r.get('reason')}){after}"
    if node == "memory":
        hits = data.get("hits") or []
        return f"memory → {len(hits)} memories recalled"
    if node == "reasoning":
        plan = data.get("plan") or []
        return (
            f"reasoning → plan of {len(plan)} step(s), cache hits {data.get('cache_hits', 0)}, "
            f"misses {data.get('cache_misses', 0)}"
        )
    if node == "execution":
        calls = ", ".join(
            f"{c.get('name')}({json.dumps(c.get('args'))}) = {c.get('result', c.get('error'))}"
            for c in data.get("tool_calls") or []
        )
        return (
            f"execution → step {data.get('step')} on {data.get('model')}: {calls or 'no tool call'}"
        )
    return _LAYER_LABEL.get(node, node)


def ask_approval(result: RunResult, *, yes: bool, console: Console) -> bool:
    """Whether the run's pending tool call may run: `--yes`, else the user's answer.

    Without an answer (no terminal, end of input) the call is refused: a tool that needs
    approval never runs unattended.
    """
    request = result.pending_approval
    if request is None:  # paused for something else: nothing to approve
        return False
    args = json.dumps(request.args, ensure_ascii=False)
    console.print(Text.assemble(("approval needed: ", "yellow"), f"{request.tool}({args})"))
    if request.description:
        console.print(Text(f"  {request.description}"))
    if yes:
        console.print("  approved (--yes)")
        return True
    try:
        return bool(typer.confirm(f"Run {request.tool}?", default=False, err=True))
    except typer.Abort:
        console.print("  refused (no answer: not an interactive terminal)")
        return False


def print_trace(result: RunResult, console: Console) -> None:
    """A short table of what each layer did and how long it took."""
    from rich.table import Table

    table = Table(title="trace", show_lines=False)
    table.add_column("layer")
    table.add_column("seconds", justify="right")
    table.add_column("what happened")
    route = f"{result.route or 'abstained'} → {result.model}"
    memories = ", ".join(str(m.get("id", ""))[:8] for m in result.memories) or "none"
    reasoning = result.reasoning
    tools = "; ".join(
        f"{c.name}({json.dumps(c.arguments)}) = "
        f"{c.result if c.error is None else 'error: ' + c.error}"
        for c in result.tool_calls
    )
    what = {
        "input": "request validated",
        "loading encoder": "the router's encoder (once per process)",
        "router": route,
        "loading model": f"{result.model} (once per process, until evicted)",
        "memory": f"recalled: {memories}",
        "reasoning": f"plan {len(reasoning['plan'])} step(s); cache hits "
        f"{reasoning['cache_hits']}, misses {reasoning['cache_misses']}",
        "execution": tools or "no tool call",
        "remember": "exchange written back",
    }
    for layer, seconds in result.timings.items():
        table.add_row(Text(layer), f"{seconds:.2f}", Text(what.get(layer, "")))
    console.print(table)
    console.print(
        Text(f"models used: {', '.join(result.models_used) or '-'}; thread {result.thread_id}")
    )


def _show(console: Console, events: Iterable[Any]) -> None:
    """Print one line per layer update of a streamed run."""
    with console.status("input …") as status:
        for event in events:
            _mode, chunk = event  # (stream mode, data) since modes are given as a list
            for node, update in (chunk or {}).items():
                if not isinstance(update, dict):
                    continue  # LangGraph's own entries (interrupts, durable tool/model steps)
                console.print(Text.assemble(("● ", "cyan"), _describe(node, update)))
                status.update(Text(f"after {node} …"))


def _print_json(agent: Agent, result: RunResult, yes: bool, err: Console) -> RunResult:
    """Answer each approval the run pauses for, then print only the final result as JSON."""
    while result.interrupted and result.pending_approval is not None:
        approve = ask_approval(result, yes=yes, console=err)
        result = agent.resume(result.thread_id, approve=approve)
    sys.stdout.write(json.dumps(result.to_dict(), ensure_ascii=False) + "\n")
    return result


def _print_streamed(
    agent: Agent, thread_id: str, user: str | None, yes: bool, console: Console
) -> RunResult:
    """After a streamed run: answer each approval (streaming on), then the answer and trace."""
    result = agent.result(thread_id, user_id=user)
    while result.interrupted and result.pending_approval is not None:
        approve = ask_approval(result, yes=yes, console=console)
        _show(console, agent.stream_resume(thread_id, approve, stream_mode=["updates"]))
        result = agent.result(thread_id, user_id=user)
    if result.error is None:
        console.print(Text.assemble("\n", ("answer: ", "bold green"), result.answer, "\n"))
    else:
        not_ok = (f"not answered ({result.error.kind}): ", "bold red")
        console.print(Text.assemble("\n", not_ok, result.answer))
        console.print(Text.assemble(("why: ", "red"), result.error.message, "\n"))
    print_trace(result, console)
    return result


def _exit_unless_ok(result: RunResult) -> None:
    if not result.ok:
        raise typer.Exit(NOT_OK_EXIT)


ConfigOption = Annotated[
    Path | None,
    typer.Option("--config", help="A lamina.toml with models, routes, tools (the run's own)."),
]
JsonOption = Annotated[
    bool, typer.Option("--json", help="Print RunResult.to_dict() as JSON, nothing else.")
]
SetOption = Annotated[
    list[str] | None,
    typer.Option(
        "--set",
        metavar="NAME=VALUE",
        help="A setting (repeatable; e.g. --set n_threads=4); beats LAMINA_* and the config file.",
    ),
]
MemoryOption = Annotated[
    str | None,
    typer.Option(
        "--memory",
        metavar="URL",
        help="Long-term memory on this Chroma server (http://HOST:PORT) or in this directory, "
        "instead of LAMINA_HOME/memory. A server store is shared: `lamina run`, `lamina "
        "memory` and `lamina serve` given the same URL work side by side.",
    ),
]
YesOption = Annotated[
    bool,
    typer.Option(
        "--yes", "-y", help="Approve every tool call that needs approval, without asking."
    ),
]


def run_command(
    task: Annotated[
        str | None,
        typer.Argument(
            help="What the agent should do ('-': read it from stdin).", show_default=False
        ),
    ] = None,
    file: Annotated[
        Path | None,
        typer.Option("--file", help="Read the task from this UTF-8 file (for long tasks)."),
    ] = None,
    config: ConfigOption = None,
    thread: Annotated[
        str | None, typer.Option("--thread", help="Continue this conversation thread.")
    ] = None,
    user: Annotated[str | None, typer.Option("--user", help="Whose long-term memory.")] = None,
    memory: MemoryOption = None,
    as_json: JsonOption = False,
    yes: YesOption = False,
    set_: SetOption = None,
) -> None:
    """Run TASK through input → router → memory → reasoning → execution.

    TASK '-' reads the task from stdin, `--file PATH` from a file: a long task cannot be an
    argument. With '-', stdin cannot answer an approval: add --yes, or the call is refused.
    """
    from rich.console import Console

    from lamina.cli.task_input import read_task
    from lamina.config import parse_setting_flags
    from lamina.errors import LaminaError

    err = Console(stderr=True)
    try:
        task = read_task(task, file)
        agent = build_agent(config, memory, **parse_setting_flags(set_ or []))
        if as_json:
            result = _print_json(agent, agent.run(task, thread_id=thread, user_id=user), yes, err)
        else:
            console = Console()
            thread_id = thread or uuid.uuid4().hex
            _show(
                console,
                agent.stream(task, thread_id=thread_id, user_id=user, stream_mode=["updates"]),
            )
            result = _print_streamed(agent, thread_id, user, yes, console)
    except LaminaError as exc:
        err.print(Text.assemble(("error: ", "red"), str(exc)))
        raise typer.Exit(1) from None
    _exit_unless_ok(result)


def resume_command(
    thread: Annotated[str, typer.Argument(help="The thread of the unfinished run.")],
    config: ConfigOption = None,
    approve: Annotated[
        bool | None,
        typer.Option(
            "--approve/--refuse",
            help="Answer a pending approval (a run paused before a tool that needs one).",
        ),
    ] = None,
    memory: MemoryOption = None,
    as_json: JsonOption = False,
    yes: YesOption = False,
    set_: SetOption = None,
) -> None:
    """Continue THREAD's unfinished run: one cut off by a crash, or one paused for approval.

    Finished steps come from the checkpoints and finished tool calls from the ledger; neither
    runs again.
    """
    from rich.console import Console

    from lamina.config import parse_setting_flags
    from lamina.errors import LaminaError

    err = Console(stderr=True)
    try:
        agent = build_agent(config, memory, **parse_setting_flags(set_ or []))
        if as_json:
            result = _print_json(agent, agent.resume(thread, approve=approve), yes, err)
        else:
            console = Console()
            _show(console, agent.stream_resume(thread, approve, stream_mode=["updates"]))
            result = _print_streamed(agent, thread, None, yes, console)
    except LaminaError as exc:
        err.print(Text.assemble(("error: ", "red"), str(exc)))
        raise typer.Exit(1) from None
    _exit_unless_ok(result)
