"""`make run`: the main job on lamina's embedded defaults, through all five layers.

1. A multi-step arithmetic task that needs two calculator calls, routed by intent, planned by the
   reasoning layer, executed with grammar-constrained tool calls, in thread A of user "demo".
2. A question in a *new* thread B of the same user that can only be answered from the long-term
   memory written after run 1.
3. A summarising task that the router sends to the second model (Gemma 3 270M).

Each run prints its trace, so a newcomer sees every layer work.
"""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")

TASK_1 = "My bike lock costs 15 dollars. First compute 12 times 7, then compute that result plus 15"
TASK_2 = "How much does my bike lock cost?"
TASK_3 = (
    "Summarise this: The city council met on Tuesday to discuss the new bicycle lanes. "
    "After a long debate, members voted to build two new lanes downtown next spring."
)


def main() -> int:
    """Run the demo; return a process exit code."""
    from rich.console import Console
    from rich.rule import Rule

    from lamina.agents.agent import Agent
    from lamina.cli.run import print_trace
    from lamina.config import get_settings
    from lamina.errors import LaminaError

    console = Console()
    # A fresh memory/cache home per demo run keeps the demo repeatable; models stay in the cache.
    work = Path(tempfile.mkdtemp(prefix="lamina-demo-"))
    settings = get_settings()
    try:
        agent = Agent(
            settings=settings,
            memory=work / "memory",
            checkpointer=work / "checkpoints.sqlite",
        )
    except LaminaError as exc:
        console.print(f"[red]error:[/] {exc}")
        return 1
    with agent:
        for title, task, thread in (
            ("1. multi-step tool task (thread A)", TASK_1, "demo-thread-a"),
            ("2. recall from memory (new thread B, same user)", TASK_2, "demo-thread-b"),
            ("3. summarising, routed to the second model", TASK_3, "demo-thread-c"),
        ):
            console.print(Rule(title))
            console.print(f"[bold]task:[/] {task}")
            result = agent.run(task, thread_id=thread, user_id="demo")
            console.print(f"[bold green]answer:[/] {result.answer}")
            print_trace(result, console)
    return 0


if __name__ == "__main__":
    sys.exit(main())
