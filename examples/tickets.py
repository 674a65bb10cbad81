"""Support tickets for the README's durable-run example (`--config tickets.toml`).

Each ticket is a JSON file in `$TICKETS_DIR` (default `tickets/` in the working directory), so
a test can see exactly which calls ran. Tickets are numbered from T-4711.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Annotated, Any

from lamina import tool
from lamina.errors import ToolError


def tickets_dir() -> Path:
    """The folder of ticket files (created on first use)."""
    folder = Path(os.environ.get("TICKETS_DIR", "tickets"))
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def read_ticket(number: str) -> dict[str, Any]:
    """One ticket's fields."""
    path = tickets_dir() / f"{number}.json"
    if not path.exists():
        raise ToolError(f"No ticket {number!r}. Copy a number from open_ticket's result.")
    data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return data


def _write(path: Path, data: dict[str, Any]) -> None:
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(data), encoding="utf-8")
    os.replace(tmp, path)  # all or nothing


@tool
def open_ticket(title: Annotated[str, "A short title for the ticket."]) -> str:
    """Open a support ticket and return its number."""
    folder = tickets_dir()
    number = f"T-{4711 + sum(1 for _ in folder.glob('T-*.json'))}"
    _write(folder / f"{number}.json", {"number": number, "title": title, "status": "open"})
    return f"Opened ticket {number}: {title}"


@tool
def close_ticket(number: Annotated[str, "The ticket number."]) -> str:
    """Close a support ticket by its number."""
    ticket = read_ticket(number.strip().upper())
    ticket["status"] = "closed"
    _write(tickets_dir() / f"{ticket['number']}.json", ticket)
    return f"Closed ticket {ticket['number']}"
