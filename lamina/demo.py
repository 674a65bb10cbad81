"""`make run`: the main job on lamina's embedded defaults, through all five layers.

1. A multi-step arithmetic task that needs two calculator calls, routed by intent, planned by the
   reasoning layer, executed with grammar-constrained tool calls, in thread A of user "demo".
2. A question in a *new* thread B of the same user that can only be answered from the long-term
   memory written after run 1.
3. A summarising task: the router recognises the intent, and the summary is extractive (the
   encoder picks the text's central sentences; the 135M-270M models echoed or changed facts).

Each run prints its trace, so a newcomer sees every layer work, and each answer is checked:
the demo exits 1 when an answer is wrong or the run says it is not `ok`, so `make run` never
shows a wrong answer as a success.
"""

from __future__ import annotations

import os
import re
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")

TASK_1 = "My bike lock costs 15 dollars. First compute 12 times 7, then compute that result plus 15"
TASK_2 = "How much does my bike lock cost?"
TEXT_3 = (
    "The city council met on Tuesday to discuss the new bicycle lanes. "
    "After a long debate, members voted to build two new lanes downtown next spring."
)
TASK_3 = f"Summarise this: {TEXT_3}"


def final_number(answer: str) -> float | None:
    """The last number written in an answer ("... Answer: 99" -> 99.0)."""
    found = re.findall(r"-?\d+(?:\.\d+)?", answer.replace(",", ""))
    return float(found[-1]) if found else None


def check_sum(answer: str) -> str | None:
    got = final_number(answer)
    return None if got == 99 else f"expected 12 * 7 + 15 = 99, found {got}"


def check_recall(answer: str) -> str | None:
    return None if "15" in answer else "expected the lock's price, 15 dollars, from memory"


def check_summary(answer: str) -> str | None:
    if len(answer) >= len(TEXT_3):
        return f"expected a summary shorter than the text ({len(TEXT_3)} characters)"
    if not re.search(r"\blanes?\b", answer, re.I):
        return "expected the summary to keep what the text is about (the bicycle lanes)"
    return None


def main() -> int:
    """Run the demo; return a process exit code."""
    from rich.console import Console
    from rich.markup import escape
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
    checks: list[tuple[str, str, str, Callable[[str], str | None]]] = [
        ("1. multi-step tool task (thread A)", TASK_1, "demo-thread-a", check_sum),
        ("2. recall from memory (new thread B, same user)", TASK_2, "demo-thread-b", check_recall),
        ("3. summarising (routed by intent, extractive)", TASK_3, "demo-thread-c", check_summary),
    ]
    failed = 0
    with agent:
        for title, task, thread, check in checks:
            console.print(Rule(title))
            console.print(f"[bold]task:[/] {escape(task)}")
            result = agent.run(task, thread_id=thread, user_id="demo")
            console.print(f"[bold green]answer:[/] {escape(result.answer)}")
            print_trace(result, console)
            problem = check(result.answer) if result.ok else None
            if not result.ok and result.error is not None:
                problem = f"the run is not ok ({result.error.kind}): {result.error.message}"
            if problem is None:
                console.print("[green]✓ right answer[/]")
            else:
                failed += 1
                console.print(f"[bold red]✗ wrong:[/] {escape(problem)}")
    if failed:
        console.print(f"[bold red]{failed} of {len(checks)} demo answers are wrong.[/]")
        return 1
    console.print(f"[bold green]all {len(checks)} demo answers are right.[/]")
    return 0


if __name__ == "__main__":
    sys.exit(main())
