"""`lamina cache`: the reasoning layer's step cache (and llama.cpp's on-disk KV prefix states).

    lamina cache stats [--path FILE] [--json]
    lamina cache clear [--path FILE] [--kv] [--json]

The step cache is `LAMINA_HOME/step_cache.sqlite` unless `--path` names another file. Statistics
are the file's own counters, shared by every process that used it. `clear --kv` also deletes the
KV prefix states that `kv_cache = "disk"` keeps under `LAMINA_HOME/kv_cache`.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path
from typing import Annotated, Any

import typer

__all__ = ["app", "cache_stats", "clear_cache"]

app = typer.Typer(
    help="Show or clear the reasoning layer's step cache.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

PathOption = Annotated[
    Path | None,
    typer.Option("--path", help="The step-cache file (default: LAMINA_HOME/step_cache.sqlite)."),
]
JsonOption = Annotated[bool, typer.Option("--json", help="Print one JSON object, nothing else.")]


def _home() -> Path:
    from lamina.config import get_settings

    return get_settings().home


def _default_path(path: Path | None) -> Path:
    return path.expanduser() if path is not None else _home() / "step_cache.sqlite"


def _folder_bytes(folder: Path) -> int:
    if not folder.is_dir():
        return 0
    return sum(f.stat().st_size for f in folder.rglob("*") if f.is_file())


def cache_stats(path: Path | None = None) -> dict[str, Any]:
    """The step cache's statistics as a JSON-safe dict (a missing file reports zeros).

    Args:
        path: the step-cache file (default: `LAMINA_HOME/step_cache.sqlite`).
    """
    from lamina.stores.step_cache import CacheStats, StepCache
    from lamina.stores.step_cache.database import read_only_stats

    file = _default_path(path)
    exists = file.exists()
    stats = CacheStats(0, 0, 0, 0.0, 0)  # no file is created where there was none
    if exists and os.access(file, os.W_OK) and os.access(file.parent, os.W_OK):
        stats = StepCache(file).stats()  # as a run opens it: a damaged file is set aside
    elif exists:  # a read-only home, mount or file: read it without writing
        stats = read_only_stats(file)
    size = sum(
        p.stat().st_size for p in (file, Path(f"{file}-wal"), Path(f"{file}-shm")) if p.exists()
    )
    kv_folder = _home() / "kv_cache"
    return {
        "path": str(file),
        "exists": exists,
        "file_bytes": size,
        **stats.to_dict(),
        "hit_rate": round(stats.hit_rate, 4),
        "kv_cache_dir": str(kv_folder),
        "kv_cache_bytes": _folder_bytes(kv_folder),
    }


def clear_cache(path: Path | None = None, *, kv: bool = False) -> dict[str, Any]:
    """Delete every step-cache entry and its statistics (and with `kv`, the disk KV states).

    Args:
        path: the step-cache file (default: `LAMINA_HOME/step_cache.sqlite`).
        kv: also delete `LAMINA_HOME/kv_cache` (llama.cpp prefix states on disk).
    """
    from lamina.stores.step_cache import StepCache

    file = _default_path(path)
    removed = 0
    if file.exists():
        cache = StepCache(file)
        removed = cache.clear()
        cache.close()
    result: dict[str, Any] = {"path": str(file), "removed_entries": removed}
    if kv:
        folder = _home() / "kv_cache"
        result["kv_cache_dir"] = str(folder)
        result["kv_cache_removed_bytes"] = _folder_bytes(folder)
        shutil.rmtree(folder, ignore_errors=True)
    return result


def _fail(exc: Exception) -> typer.Exit:
    from rich.console import Console
    from rich.text import Text

    Console(stderr=True).print(Text.assemble(("error: ", "red"), str(exc)), soft_wrap=True)
    return typer.Exit(1)


@app.command("stats")
def stats_command(path: PathOption = None, as_json: JsonOption = False) -> None:
    """Show hits, misses, hit rate and what the hits saved."""
    from lamina.errors import LaminaError

    try:
        data = cache_stats(path)
    except LaminaError as exc:
        raise _fail(exc) from exc
    if as_json:
        typer.echo(json.dumps(data))
        return
    from rich.console import Console
    from rich.table import Table
    from rich.text import Text

    table = Table(title="step cache", show_header=False)
    table.add_column("what")
    table.add_column("value", justify="right")
    rows = [
        ("file", data["path"] + ("" if data["exists"] else " (not created yet)")),
        ("size", f"{data['file_bytes'] / 1024:.1f} KiB"),
        ("entries", str(data["entries"])),
        ("hits", str(data["hits"])),
        ("misses", str(data["misses"])),
        ("hit rate", f"{data['hit_rate']:.1%}"),
        ("semantic hits", str(data["semantic_hits"])),
        ("tokens saved", str(data["saved_tokens"])),
        ("seconds saved", f"{data['saved_seconds']:.1f}"),
        ("KV states on disk", f"{data['kv_cache_bytes'] / 1024**2:.1f} MiB"),
    ]
    for what, value in rows:
        table.add_row(what, Text(value))
    Console().print(table)


@app.command("clear")
def clear_command(
    path: PathOption = None,
    kv: Annotated[
        bool, typer.Option("--kv", help="Also delete llama.cpp's KV prefix states on disk.")
    ] = False,
    as_json: JsonOption = False,
) -> None:
    """Delete every cached step and reset the statistics."""
    from lamina.errors import LaminaError

    try:
        data = clear_cache(path, kv=kv)
    except LaminaError as exc:
        raise _fail(exc) from exc
    if as_json:
        typer.echo(json.dumps(data))
        return
    message = f"Cleared {data['removed_entries']} cached step(s) from {data['path']}."
    if kv:
        message += f" Deleted {data['kv_cache_removed_bytes']} bytes of KV states."
    typer.echo(message)
