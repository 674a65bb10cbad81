"""Deprecated: `lamina.agents.ledger` moved to `lamina.stores.ledger`.

This shim keeps the old import path working for one release.
"""

import warnings

from lamina.stores.ledger import (
    LedgerEntry,
    ToolLedger,
    call_id_for,
)

__all__ = [
    "LedgerEntry",
    "ToolLedger",
    "call_id_for",
]

warnings.warn(
    "lamina.agents.ledger is deprecated; import from lamina.stores.ledger",
    DeprecationWarning,
    stacklevel=2,
)
