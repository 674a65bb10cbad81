"""`lamina run`: one task through the five layers, with a live view of what each layer does."""

from __future__ import annotations

import json
import sys
import uuid
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

if TYPE_CHECKING:
    from rich.console import Console

    from lamina.agents.agent import Agent
    from lamina.agents.result import RunResult

__all__ = ["build_agent", "print_trace", "run_command"]

_LAYER_LABEL = {
    "input": "input: validated the request",
    "router": "router: chose a model",
    "memory": "memory: recalled",
    "reasoning": "reasoning",
    "execution": "execution: ran tools",
    "respond": "respond",
    "remember": "memory: wrote back",
}


def build_agent(config: Path | None) -> Agent:
    """The agent `lamina run` uses: from `--config`, `./lamina.toml`, or the defaults."""
    from lamina.agents.agent import Agent
    from lamina.agents.config_file import find_config

    path = find_config(config)
    return Agent.from_config(path) if path is not None else Agent()


def _describe(node: str, update: dict[str, Any]) -> str:
    events = update.get("trace") or []
    data = events[-1]["data"] if events else {}
    if node == "router" and update.get("route"):
        r = update["route"]
        name = r.get("route") or "none"
        return f"router → [bold]{name}[/] → model {r.get('model')} ({r.get('reason')})"
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
        "router": route,
        "memory": f"recalled: {memories}",
        "reasoning": f"plan {len(reasoning['plan'])} step(s); cache hits "
        f"{reasoning['cache_hits']}, misses {reasoning['cache_misses']}",
        "execution": tools or "no tool call",
        "remember": "exchange written back",
    }
    for layer, seconds in result.timings.items():
        table.add_row(layer, f"{seconds:.2f}", what.get(layer, ""))
    console.print(table)
    console.print(f"models used: {', '.join(result.models_used) or '-'}; thread {result.thread_id}")


def run_command(
    task: Annotated[str, typer.Argument(help="What the agent should do.")],
    config: Annotated[
        Path | None, typer.Option("--config", help="A lamina.toml with models, routes, tools.")
    ] = None,
    thread: Annotated[
        str | None, typer.Option("--thread", help="Continue this conversation thread.")
    ] = None,
    user: Annotated[str | None, typer.Option("--user", help="Whose long-term memory.")] = None,
    as_json: Annotated[
        bool, typer.Option("--json", help="Print RunResult.to_dict() as JSON, nothing else.")
    ] = False,
) -> None:
    """Run TASK through input → router → memory → reasoning → execution."""
    from rich.console import Console

    from lamina.errors import LaminaError

    err = Console(stderr=True)
    try:
        agent = build_agent(config)
        if as_json:
            result = agent.run(task, thread_id=thread, user_id=user)
            sys.stdout.write(json.dumps(result.to_dict(), ensure_ascii=False) + "\n")
            return
        console = Console()
        thread_id = thread or uuid.uuid4().hex
        with console.status("input …") as status:
            for event in agent.stream(
                task, thread_id=thread_id, user_id=user, stream_mode=["updates"]
            ):
                _mode, chunk = event  # (stream mode, data) since modes are given as a list
                for node, update in (chunk or {}).items():
                    if not isinstance(update, dict):
                        continue
                    console.print(f"[cyan]●[/] {_describe(node, update)}")
                    status.update(f"after {node} …")
        result = agent.result(thread_id, user_id=user)
        console.print(f"\n[bold green]answer:[/] {result.answer}\n")
        print_trace(result, console)
    except LaminaError as exc:
        err.print(f"[red]error:[/] {exc}")
        raise typer.Exit(1) from None
