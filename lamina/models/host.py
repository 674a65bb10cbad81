"""What a chat model over an in-process model needs from whoever holds that model.

:class:`~lamina.models.pool.ModelPool` is the real holder; the chat models depend on this small
protocol instead of on the pool, so the pool can build chat models (through
:mod:`lamina.models.factory`) without an import cycle, and a test can hand a chat model a
holder of its own.
"""

from __future__ import annotations

from contextlib import AbstractContextManager
from typing import Any, Protocol, runtime_checkable

from lamina.models.catalog import ModelSpec

__all__ = ["ModelHost"]


@runtime_checkable
class ModelHost(Protocol):
    """Holds loaded models by name and lends one to one caller at a time."""

    def spec(self, name: str) -> ModelSpec:
        """The spec of the model called `name` (raises `UnknownModelError` when unknown)."""
        ...

    def use(self, name: str) -> AbstractContextManager[Any]:
        """Hold the model called `name` (loading it if needed) for one exclusive call."""
        ...
