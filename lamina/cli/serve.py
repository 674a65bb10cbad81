"""`lamina serve`: the agent behind an OpenAI-compatible HTTP API."""

from __future__ import annotations

import ipaddress
import logging
import os
from pathlib import Path
from typing import Annotated

import typer

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
) -> None:
    """Serve the agent over OpenAI's Chat Completions API (as model `lamina`).

    Each configured model is served by its name too, unrouted. Set LAMINA_API_KEY to require
    `Authorization: Bearer <key>`.
    """
    import uvicorn

    from lamina.cli.run import build_agent
    from lamina.config import bounded_openmp_spin
    from lamina.serving.app import create_app

    api_key = os.environ.get("LAMINA_API_KEY") or None
    if not _is_loopback(host) and api_key is None:
        typer.echo(
            f"warning: serving on {host} without an API key; anyone who can reach this port can "
            "run the agent. Set LAMINA_API_KEY.",
            err=True,
        )
    from lamina.errors import LaminaError

    bounded_openmp_spin()
    try:
        agent = build_agent(config)
    except LaminaError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(1) from None
    app = create_app(agent, api_key=api_key, queue_depth=queue_depth, max_body_bytes=max_body_bytes)
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
