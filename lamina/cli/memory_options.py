"""The options every `lamina memory` command shares, and the store they name (`open_store`)."""

from __future__ import annotations

from contextlib import AbstractContextManager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

if TYPE_CHECKING:
    from lamina.stores.memory import MemoryStore

__all__ = [
    "CollectionOption",
    "HostOption",
    "JsonOption",
    "MemoryOption",
    "PathOption",
    "PortOption",
    "UserOption",
    "open_for_reading",
    "open_store",
]

UserOption = Annotated[str, typer.Option("--user", help="Whose memories (a user id).")]
JsonOption = Annotated[
    bool, typer.Option("--json", help="Print one JSON object on stdout, nothing else.")
]
PathOption = Annotated[
    Path | None,
    typer.Option("--path", help="Embedded store directory (default: LAMINA_HOME/memory)."),
]
HostOption = Annotated[
    str | None,
    typer.Option("--host", help="Use the Chroma server on this host instead of a directory."),
]
PortOption = Annotated[int, typer.Option("--port", help="Port of the Chroma server.")]
MemoryOption = Annotated[
    str | None,
    typer.Option(
        "--memory",
        metavar="URL",
        help="The store as `lamina run --memory` and Agent(memory=...) name it: a Chroma server "
        "URL (http://127.0.0.1:8000, e.g. the one beside a running `lamina serve`) or a "
        "directory.",
    ),
]
CollectionOption = Annotated[
    str, typer.Option("--collection", help="Chroma collection holding the memories.")
]


def open_store(
    path: Path | None = None,
    host: str | None = None,
    port: int = 8000,
    collection: str = "lamina_memory",
    memory: str | None = None,
) -> MemoryStore:
    """The store the options name: `memory` (a Chroma server URL or a directory), a Chroma
    server with `host`, else an embedded directory.

    Raises:
        ConfigError: more than one of `path`, `host` and `memory` given, or a URL without a host.
        MemoryStoreError: the store cannot be opened or reached.
    """
    from lamina.errors import ConfigError
    from lamina.stores.memory import MemoryStore

    given = {
        flag: value
        for flag, value in (("--path", path), ("--host", host), ("--memory", memory))
        if value is not None
    }
    if len(given) > 1:
        found = ", ".join(f"{flag} {value}" for flag, value in given.items())
        raise ConfigError(
            f"Expected one of --path (embedded store), --host (Chroma server) or --memory "
            f"(either, as a URL or a directory), found {found}. Fix: keep one of them."
        )
    if memory is not None:
        from lamina.scaleout.backends import make_memory_store

        return make_memory_store(memory, collection=collection)
    if host is not None:
        return MemoryStore.connect(host, port, collection=collection)
    if path is None:
        from lamina.config import get_settings

        path = get_settings().home / "memory"
    return MemoryStore(path, collection=collection)


def open_for_reading(
    path: Path | None, host: str | None, port: int, collection: str, memory: str | None
) -> AbstractContextManager[MemoryStore]:
    """`open_store`, or a temporary copy of an embedded store this process may not write."""
    from lamina.stores.memory.snapshot import is_writable, open_read_only

    if memory is not None:
        return open_store(path, host, port, collection, memory)
    if host is None and path is None:
        from lamina.config import get_settings

        path = get_settings().home / "memory"
    if host is None and path is not None and not is_writable(path):
        return open_read_only(path, collection=collection)
    return open_store(path, host, port, collection, memory)
