"""The JSON file a router is saved to: write it, and read it back with every problem named.

:func:`save_router` writes a router's routes, options, fitted thresholds and encoder identity
(not its LLM fallback, which holds a model); :func:`read_router_file` reads such a file into a
:class:`SavedRouter` and checks its shape. The options themselves are checked by
:class:`~lamina.layers.router.intent_router.IntentRouter` when
:func:`~lamina.layers.router.intent_router.load_router` builds the router from them.
"""

from __future__ import annotations

import json
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from lamina.errors import ConfigError
from lamina.layers.router.types import Route

if TYPE_CHECKING:
    from lamina.layers.router.intent_router import IntentRouter

__all__ = [
    "FILE_FORMAT",
    "FILE_KIND",
    "SavedRouter",
    "bad_router_file",
    "read_router_file",
    "save_router",
]

# Bump when the layout of a saved router changes.
FILE_FORMAT = 1
FILE_KIND = "lamina-router"


def save_router(router: IntentRouter, path: str | Path) -> None:
    """Write `router` as JSON (see :meth:`IntentRouter.save`).

    The encoder identity is recorded so that loading with another encoder can warn; getting it
    loads the default encoder when the router has none yet.

    Raises:
        ConfigError: when the file cannot be written.
    """
    p = Path(path)
    data = {
        "kind": FILE_KIND,
        "format": FILE_FORMAT,
        "routes": [r.to_dict() for r in router.routes],
        "aggregate": router.aggregate,
        "top_k": router.top_k,
        "default_threshold": router.default_threshold,
        "default_model": router.default_model,
        "affinity_margin": router.affinity_margin,
        "fitted_thresholds": router.fitted_thresholds,
        "encoder": router.encoder_identity,
    }
    try:
        p.parent.mkdir(parents=True, exist_ok=True)
        # Write then rename, so a crash never leaves a half-written router behind.
        fd, tmp = tempfile.mkstemp(dir=p.parent, prefix=".router-", suffix=".json")
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            json.dump(data, fh, ensure_ascii=False, indent=2)
        os.replace(tmp, p)
    except OSError as exc:
        raise ConfigError(
            f"Could not write the router to {p} ({exc}). Fix: choose a writable path."
        ) from None


@dataclass(frozen=True)
class SavedRouter:
    """What a router file holds. The options are as found: the router checks them when built.

    Attributes:
        routes: the routes (each checked by :class:`Route`).
        default_model, aggregate, top_k, default_threshold, affinity_margin: the router's
            options (the constructor's defaults where the file has none).
        fitted_thresholds: route name → fitted threshold.
        encoder: the identity of the encoder the router was saved with (None: not recorded).
    """

    routes: tuple[Route, ...]
    default_model: Any
    aggregate: Any
    top_k: Any
    default_threshold: Any
    affinity_margin: Any
    fitted_thresholds: dict[str, Any]
    encoder: str | None


def read_router_file(path: str | Path) -> SavedRouter:
    """Read a router file written by :func:`save_router`.

    Raises:
        ConfigError: for a missing, unreadable or malformed file, or an invalid route.
    """
    p = Path(path)
    try:
        raw = json.loads(p.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise bad_router_file(p, "no file") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise bad_router_file(p, f"unreadable or invalid JSON ({exc})") from None
    if not isinstance(raw, dict) or raw.get("kind") != FILE_KIND:
        raise bad_router_file(p, "JSON without kind 'lamina-router'")
    if raw.get("format") != FILE_FORMAT:
        raise bad_router_file(p, f"format {raw.get('format')!r}, this lamina reads {FILE_FORMAT}")
    route_data = raw.get("routes")
    if not isinstance(route_data, list) or not all(isinstance(r, dict) for r in route_data):
        raise bad_router_file(p, f"'routes' = {route_data!r:.80}, not a list of objects")
    fitted = raw.get("fitted_thresholds") or {}
    if not isinstance(fitted, dict):
        raise bad_router_file(p, f"'fitted_thresholds' = {fitted!r:.80}, not an object")
    try:
        routes = tuple(
            Route(
                name=r["name"],
                utterances=r["utterances"],
                model=r["model"],
                threshold=r.get("threshold"),
                description=r.get("description"),
                fallbacks=r.get("fallbacks", ()),
                task=r.get("task", "answer"),
            )
            for r in route_data
        )
    except KeyError as exc:
        raise bad_router_file(p, f"no {exc} key in a route") from None
    except ConfigError as exc:
        raise bad_router_file(p, f"invalid content: {exc}") from None
    encoder = raw.get("encoder")
    return SavedRouter(
        routes=routes,
        default_model=raw.get("default_model"),
        aggregate=raw.get("aggregate", "max"),
        top_k=raw.get("top_k", 3),
        default_threshold=raw.get("default_threshold", 0.5),
        affinity_margin=raw.get("affinity_margin"),
        fitted_thresholds=fitted,
        encoder=encoder if isinstance(encoder, str) else None,
    )


def bad_router_file(p: Path, found: str) -> ConfigError:
    """The error for a file that is not a router written by `IntentRouter.save()`."""
    return ConfigError(
        f"Expected a router file written by IntentRouter.save() at {p}; found {found}. "
        "Fix: save the router again, or pass the right file."
    )
