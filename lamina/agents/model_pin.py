"""`Agent(model=...)`: one model for every route.

The router still recognises the intent (a summarise request still gets an extractive summary),
but every route is served by the one model, with no fallbacks to others. Useful to compare
models, or to run the whole agent on a larger GGUF of your own.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from typing import TYPE_CHECKING

from lamina.errors import ConfigError

if TYPE_CHECKING:
    from lamina.layers.router.types import Route
    from lamina.models.catalog import ModelSpec

__all__ = ["pin_model"]


def pin_model(
    model: str | ModelSpec,
    models: Sequence[str | ModelSpec] | None,
    default_model: str | None,
    routes: Sequence[Route] | None,
) -> tuple[list[str | ModelSpec], str, list[Route]]:
    """`(models, default_model, routes)` for an agent whose every route uses `model`.

    Raises:
        ConfigError: `models=` or `default_model=` given as well (they would contradict it).
    """
    from lamina.layers.router.defaults import default_routes

    name = model if isinstance(model, str) else model.name
    if models is not None or default_model is not None:
        given = "models=" if models is not None else "default_model="
        raise ConfigError(
            f"Expected either model= (one model for every route) or {given}, found both "
            f"(model={name!r}). Fix: drop {given[:-1]}, or drop model= and list the models."
        )
    pinned = [
        replace(r, model=name, fallbacks=())
        for r in (default_routes() if routes is None else routes)
    ]
    return [model], name, pinned
