"""A toy bank for the README's approval example, `--config bank.toml`.

`lamina run "Send Bob 50 euros" --config bank.toml` asks before the transfer.

Accounts live in a JSON file (`$BANK_FILE`, default `bank.json` in the working directory), created
with Alice 500, Bob 100 and Carol 250 euros on first use. `transfer` moves money and so needs
approval: the run pauses before it and `lamina run` asks "Run transfer?" (`--yes` approves).
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Annotated

from lamina import tool
from lamina.errors import ToolError

OWNER = "Alice"
OPENING = {"Alice": 500.0, "Bob": 100.0, "Carol": 250.0}


def _file() -> Path:
    return Path(os.environ.get("BANK_FILE", "bank.json"))


def load_accounts() -> dict[str, float]:
    """The balances, in euros, by account holder."""
    path = _file()
    if not path.exists():
        return dict(OPENING)
    return {name: float(v) for name, v in json.loads(path.read_text(encoding="utf-8")).items()}


def _save(accounts: dict[str, float]) -> None:
    path = _file()
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(accounts, indent=2), encoding="utf-8")
    os.replace(tmp, path)  # all or nothing


@tool
def balance(name: Annotated[str, "Whose account, e.g. Bob."]) -> str:
    """Look up how many euros an account holds."""
    accounts = load_accounts()
    if name.strip().title() not in accounts:
        raise ToolError(f"No account of {name!r}; accounts: {', '.join(accounts)}.")
    return f"{accounts[name.strip().title()]:.2f} euros"


@tool(requires_approval=True)
def transfer(
    to: Annotated[str, "Who receives the money, e.g. Bob."],
    amount: Annotated[float, "How many euros to send."],
) -> str:
    """Send euros from your account to another person's account."""
    accounts = load_accounts()
    name = to.strip().title()
    if name not in accounts or name == OWNER:
        others = ", ".join(n for n in accounts if n != OWNER)
        raise ToolError(f"Cannot send money to {to!r}; you can send to {others}.")
    if not 0 < amount <= accounts[OWNER]:
        raise ToolError(f"Cannot send {amount} euros; the balance is {accounts[OWNER]:.2f}.")
    accounts[OWNER] -= amount
    accounts[name] += amount
    _save(accounts)
    return f"Sent {amount:.2f} euros to {name}; your balance is {accounts[OWNER]:.2f} euros."
