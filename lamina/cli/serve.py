"""`lamina serve`: the agent behind an OpenAI-compatible HTTP API."""

from __future__ import annotations

import ipaddress
import logging
import os
from pathlib import Path
from typing import Annotated

import typer

from lamina.cli.run import MemoryOption, SetOption

__all__ = ["serve_command"]

logger = logging.getLogger(__name__)


def serve_command(
    host: Annotated[str, typer.Option(help="Interface to listen on (loopback by default).")] = (
        "127.0.0.1"
    ),
    port: Annotated[int, typer.Option(min=1, max=65535, help="TCP port.")] = 8080,
    config: Annotated[
        Path | None, typer.Option(help="lamina.toml to build the agent from.")
    ] = None,
    queue_depth: Annotated[
        int, typer.Option(min=1, help="Requests admitted per model at once; more get 429.")
    ] = 32,
    max_body_bytes: Annotated[
        int, typer.Option(min=1024, help="Larger request bodies get 413.")
    ] = 1_000_000,
    keys: Annotated[
        Path | None,
        typer.Option(
            help="Key file (TOML or JSON): API keys, each bound to the users it may act as."
        ),
    ] = None,
    relevance_gate: Annotated[
        bool,
        typer.Option(
            "--relevance-gate/--no-relevance-gate",
            help='Under tool_choice "auto" on a model served by name, answer in text when no '
            "offered tool fits the request by meaning (the agent's tool relevance).",
        ),
    ] = True,
    memory: MemoryOption = None,
    set_: SetOption = None,
) -> None:
    """Serve the agent over OpenAI's Chat Completions API (as model `lamina`).

    Each configured model is served by its name too, unrouted. Set LAMINA_API_KEY to require
    `Authorization: Bearer <key>` (one key for a one-user set-up: it reaches every user), or
    pass --keys keys.toml for keys bound to tenants (each reaches only its own users).
    """
    import uvicorn

    from lamina.cli.run import build_agent
    from lamina.config import bounded_openmp_spin, parse_setting_flags
    from lamina.errors import LaminaError
    from lamina.serving.app import create_app
    from lamina.serving.tenants import load_keys

    api_key = os.environ.get("LAMINA_API_KEY") or None
    key_file = None
    if keys is not None:
        if api_key is not None:
            typer.echo(
                "error: expected one way to check keys; found both LAMINA_API_KEY and --keys. "
                "Fix: unset LAMINA_API_KEY (the key file's keys replace it).",
                err=True,
            )
            raise typer.Exit(1)
        try:
            key_file = load_keys(keys)
        except LaminaError as exc:
            typer.echo(f"error: {exc}", err=True)
            raise typer.Exit(1) from None
    if not _is_loopback(host) and api_key is None and key_file is None:
        typer.echo(
            f"warning: serving on {host} without an API key; anyone who can reach this port can "
            "run the agent. Set LAMINA_API_KEY, or pass --keys.",
            err=True,
        )

    bounded_openmp_spin()
    try:
        agent = build_agent(config, memory, **parse_setting_flags(set_ or []))
    except LaminaError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(1) from None
    app = create_app(
        agent,
        api_key=api_key,
        keys=key_file,
        queue_depth=queue_depth,
        max_body_bytes=max_body_bytes,
        relevance_gate=relevance_gate,
    )
    try:
        uvicorn.run(app, host=host, port=port, log_level="info")
    finally:
        agent.close()


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
