"""`lamina threads list|show|prune`: the conversation threads in the checkpoints.

Every run writes checkpoints of its thread; nothing deletes them, so a long-lived home grows.
`list` shows each thread with its last update and message count, `show` one thread's exchanges,
and `prune` deletes threads by id or by age (`--older-than 30d`): without `--yes` it only says
what it would delete. A thread that a run holds right now is skipped, never deleted under it;
its tool ledger entries go with it.

The checkpoints are the agent's: the `checkpointer` of `--config` (or `./lamina.toml`), else
`home/checkpoints.sqlite`; `--checkpointer` names another SQLite file or a PostgreSQL URL.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from lamina.cli.errors_out import reporting_errors

if TYPE_CHECKING:
    from langgraph.checkpoint.base import BaseCheckpointSaver

    from lamina.stores.thread_locks import ThreadLocks
    from lamina.stores.threads import ThreadInfo

__all__ = ["app"]

app = typer.Typer(no_args_is_help=True, add_completion=False, pretty_exceptions_enable=False)

ConfigOption = Annotated[
    Path | None,
    typer.Option("--config", help="A lamina.toml whose checkpointer and home to use."),
]
CheckpointerOption = Annotated[
    str | None,
    typer.Option(
        "--checkpointer", help="A SQLite checkpoint file or a PostgreSQL URL (overrides --config)."
    ),
]
JsonOption = Annotated[
    bool, typer.Option("--json", help="Print one JSON object on stdout, nothing else.")
]


@dataclass
class _Checkpoints:
    saver: BaseCheckpointSaver[Any] | None  # None: the SQLite file does not exist yet
    location: str
    locks: ThreadLocks | None = None
    ledger: Any = None


def _spec(config: Path | None, checkpointer: str | None) -> tuple[str | None, Path]:
    from lamina.agents.config_file import load_config
    from lamina.config import find_config, get_settings

    path = find_config(config)
    home = get_settings(path).home
    if checkpointer is None and path is not None:
        checkpointer = load_config(path).checkpointer
    return checkpointer, home


@contextmanager
def _open(config: Path | None, checkpointer: str | None, *, write: bool) -> Iterator[_Checkpoints]:
    from lamina.agents.assembly import make_checkpointer_for, make_ledger, make_thread_locks
    from lamina.scaleout.backends import is_postgres_url

    spec, home = _spec(config, checkpointer)
    if spec == ":memory:":
        from lamina.errors import ConfigError

        raise ConfigError(
            "Expected checkpoints that outlive a process; found ':memory:', which keeps none. "
            "Fix: name a SQLite file or a PostgreSQL URL with --checkpointer."
        )
    file = None if is_postgres_url(spec) else Path(spec) if spec else home / "checkpoints.sqlite"
    location = str(file) if file is not None else str(spec)
    if file is not None and not file.exists():
        yield _Checkpoints(None, location)  # nothing written yet: nothing to list or delete
        return
    saver, close = make_checkpointer_for(spec, home)
    locks = make_thread_locks(spec, home, 0.0) if write else None
    ledger = make_ledger(None, spec, home) if write else None
    try:
        yield _Checkpoints(saver, location, locks, ledger)
    finally:
        if ledger is not None:
            ledger.close()
        if close is not None:
            close()


def _emit(data: dict[str, Any]) -> None:
    sys.stdout.write(json.dumps(data, ensure_ascii=False) + "\n")


def _threads_table(threads: list[ThreadInfo], title: str) -> None:
    from rich.console import Console
    from rich.table import Table
    from rich.text import Text

    table = Table(title=Text(title))
    for col in ("thread", "user", "updated (UTC)", "messages", "checkpoints"):
        table.add_column(col, overflow="fold")
    for t in threads:
        table.add_row(
            Text(t.thread_id),
            Text(t.user_id or "-"),
            t.updated_at.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S"),
            str(t.messages),
            str(t.checkpoints),
        )
    Console().print(table)


@app.command("list")
def list_command(
    config: ConfigOption = None,
    checkpointer: CheckpointerOption = None,
    as_json: JsonOption = False,
) -> None:
    """List the threads in the checkpoints, most recently updated first."""
    from lamina.stores.threads import list_threads

    with reporting_errors(as_json), _open(config, checkpointer, write=False) as store:
        threads = list_threads(store.saver) if store.saver is not None else []
    if as_json:
        _emit({"checkpoints": store.location, "threads": [t.to_dict() for t in threads]})
        return
    if not threads:
        typer.echo(f"No threads in {store.location}.")
        return
    _threads_table(threads, f"{len(threads)} threads in {store.location}")


@app.command("show")
def show_command(
    thread: Annotated[str, typer.Argument(help="The thread's id.")],
    config: ConfigOption = None,
    checkpointer: CheckpointerOption = None,
    as_json: JsonOption = False,
) -> None:
    """Show one thread's exchanges: each user turn and the answer it got."""
    from langchain_core.messages import messages_to_dict

    from lamina.errors import InputError
    from lamina.stores.threads import thread_messages

    with reporting_errors(as_json), _open(config, checkpointer, write=False) as store:
        if store.saver is None:
            raise InputError(
                f"Expected checkpoints at {store.location}; found none, so no thread "
                f"{thread!r}. Fix: check --config or --checkpointer."
            )
        messages = thread_messages(store.saver, thread)
    if as_json:
        _emit({"thread_id": thread, "messages": messages_to_dict(messages)})
        return
    from rich.console import Console
    from rich.text import Text

    console = Console()
    console.print(Text(f"thread {thread}: {len(messages)} messages", style="bold"))
    for message in messages:
        who = {"human": "user", "ai": "answer"}.get(message.type, message.type)
        style = "cyan" if who == "user" else "green"
        console.print(Text.assemble((f"{who}: ", style), message.text))


@app.command("prune")
def prune_command(
    threads: Annotated[
        list[str] | None, typer.Argument(help="Ids of the threads to delete.")
    ] = None,
    older_than: Annotated[
        str | None,
        typer.Option("--older-than", help="Delete threads not updated for this long (30d, 12h)."),
    ] = None,
    yes: Annotated[
        bool, typer.Option("--yes", "-y", help="Delete; without it, only say what would go.")
    ] = False,
    config: ConfigOption = None,
    checkpointer: CheckpointerOption = None,
    as_json: JsonOption = False,
) -> None:
    """Delete threads by id and/or by age; without --yes, list them and delete nothing."""
    from lamina.errors import InputError, ThreadBusyError
    from lamina.stores.threads import list_threads, parse_duration

    deleted: list[str] = []
    busy: list[str] = []
    with reporting_errors(as_json):
        if not threads and older_than is None:
            raise InputError(
                "Expected thread ids or --older-than; found neither. Fix: e.g. "
                "`lamina threads prune --older-than 30d --yes` or `lamina threads prune ID --yes`."
            )
        age = parse_duration(older_than) if older_than is not None else None
        with _open(config, checkpointer, write=yes) as store:
            known = list_threads(store.saver) if store.saver is not None else []
            by_id = {t.thread_id: t for t in known}
            unknown = [t for t in dict.fromkeys(threads or []) if t not in by_id]
            if unknown:
                raise InputError(
                    f"Expected ids of threads in {store.location}; found {len(unknown)} that are "
                    f"not: {', '.join(map(repr, unknown))}. Nothing was deleted. Fix: copy the "
                    "ids from `lamina threads list`."
                )
            now = datetime.now(UTC)
            chosen = [
                t
                for t in known
                if t.thread_id in (threads or []) or (age is not None and now - t.updated_at > age)
            ]
            if yes and store.saver is not None and store.locks is not None:
                for t in chosen:
                    try:
                        with store.locks.hold(t.thread_id):
                            store.saver.delete_thread(t.thread_id)
                            if store.ledger is not None:
                                store.ledger.forget(t.thread_id)
                    except ThreadBusyError:
                        busy.append(t.thread_id)  # a run holds it now: not deleted under it
                        continue
                    deleted.append(t.thread_id)
    _report_prune(store.location, chosen, deleted, busy, yes=yes, as_json=as_json)


def _report_prune(
    location: str,
    chosen: list[ThreadInfo],
    deleted: list[str],
    busy: list[str],
    *,
    yes: bool,
    as_json: bool,
) -> None:
    if as_json:
        _emit(
            {
                "checkpoints": location,
                "matched": [t.to_dict() for t in chosen],
                "deleted": deleted,
                "busy": busy,
                "dry_run": not yes,
            }
        )
        return
    if not chosen:
        typer.echo(f"No thread in {location} matches; nothing to delete.")
        return
    if not yes:
        _threads_table(chosen, f"would delete {len(chosen)} threads from {location}")
        typer.echo("Nothing deleted. Run again with --yes to delete them.")
        return
    typer.echo(f"Deleted {len(deleted)} threads from {location}.")
    if busy:
        typer.echo(f"Skipped {len(busy)} busy threads (a run holds them): {', '.join(busy)}.")
