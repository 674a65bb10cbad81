"""`lamina memory`: add, search, forget and count long-term memories from the shell.

    lamina memory add "My sister lives in Lyon." --user ada
    lamina memory search "where does my sister live" --user ada --json
    lamina memory forget ID ... --user ada          # or --kind episode, --thread t1, --all
    lamina memory stats [--user ada]

Every command takes `--user ID` (default: "default", the agent's anonymous user; user and
thread ids follow `lamina run`'s rules: at most 128 letters, digits and - _ . : @) and `--json`
(print one JSON object on stdout, nothing else; on failure `{"error": {"type", "message"}}`
and exit code 1). `forget` with an id that is not one of the user's memories deletes nothing
and exits with code 1. The store is the embedded one in `Settings().home / "memory"` unless
`--path DIR` names another directory, `--host HOST [--port PORT]` a Chroma server, or
`--memory URL|DIR` either (as `lamina run --memory` and `Agent(memory=...)` name it). An
embedded store serves one process at a time: while an agent has it open, use a server
(`chroma run --path DIR --port 8000`) for both.
"""

from __future__ import annotations

import json
import sys
from enum import StrEnum
from typing import TYPE_CHECKING, Annotated, Any

import typer

from lamina.cli.errors_out import reporting_errors
from lamina.cli.memory_options import (
    CollectionOption,
    HostOption,
    JsonOption,
    MemoryOption,
    PathOption,
    PortOption,
    UserOption,
    open_for_reading,
    open_store,
)
from lamina.cli.progress import working

if TYPE_CHECKING:
    from lamina.stores.memory import Memory, MemoryStore

__all__ = ["app", "open_store"]

DEFAULT_USER = "default"  # the input layer's user for runs without one

app = typer.Typer(
    help="Add, search, forget and count long-term memories.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


class Kind(StrEnum):
    """Memory kinds, as a CLI choice."""

    fact = "fact"
    episode = "episode"
    preference = "preference"


def _check_ids(as_json: bool, user: str, thread: str | None = None) -> None:
    """Refuse ids that `lamina run` refuses (the input layer's rules), before a store opens."""
    from lamina.layers.input import check_ids

    with reporting_errors(as_json):
        check_ids(user_id=user, thread_id=thread)


def _emit(data: dict[str, Any]) -> None:
    sys.stdout.write(json.dumps(data, ensure_ascii=False) + "\n")


def _store_info(store: MemoryStore) -> dict[str, str]:
    return {"mode": store.mode, "location": store.location, "collection": store.collection_name}


def _table(memories: list[Memory], title: str, scores: bool) -> None:
    from rich.console import Console
    from rich.table import Table
    from rich.text import Text

    table = Table(title=Text(title))
    if scores:
        table.add_column("score", justify="right")
    for col in ("date", "kind", "text", "id"):
        table.add_column(col, overflow="fold")
    for m in memories:
        row = [Text(x) for x in ((m.updated_at or m.created_at)[:10], m.kind, m.text, m.id)]
        table.add_row(*([Text(f"{m.score or 0.0:.3f}")] if scores else []), *row)
    Console().print(table)


@app.command("add")
def add_command(
    texts: Annotated[
        list[str],
        typer.Argument(help="Memories to store, one per argument ('-': one per stdin line)."),
    ],
    user: UserOption = DEFAULT_USER,
    kind: Annotated[Kind, typer.Option("--kind", help="What the memories are.")] = Kind.fact,
    thread: Annotated[
        str | None, typer.Option("--thread", help="Conversation the memories come from.")
    ] = None,
    source: Annotated[str, typer.Option("--source", help="Who wrote them.")] = "user",
    importance: Annotated[
        float, typer.Option("--importance", min=0.0, max=1.0, help="How much they matter.")
    ] = 0.5,
    path: PathOption = None,
    host: HostOption = None,
    port: PortOption = 8000,
    memory: MemoryOption = None,
    collection: CollectionOption = "lamina_memory",
    as_json: JsonOption = False,
) -> None:
    """Store memories for a user; a near-duplicate updates the existing memory instead."""
    _check_ids(as_json, user, thread)
    if texts == ["-"]:
        texts = [line.strip() for line in sys.stdin if line.strip()]
    busy = working(f"storing {len(texts)} memories (the encoder loads first) …", as_json=as_json)
    with (
        reporting_errors(as_json),
        busy,
        open_store(path, host, port, collection, memory) as store,
    ):
        ids = store.add(
            texts,
            user,
            kind=kind.value,
            thread_id=thread,
            source=source,
            importance=importance,
        )
        unique = list(dict.fromkeys(ids))
        memories = store.get(unique, user_id=user)
        info = _store_info(store)
    by_id = {m.id: m for m in memories}
    records = [by_id[i] for i in unique if i in by_id]
    updated = sum(m.created_at != m.updated_at for m in records)
    if as_json:
        _emit(
            {
                "user_id": user,
                "ids": ids,
                "memories": [m.to_dict() for m in records],
                "store": info,
            }
        )
        return
    typer.echo(
        f"Stored {len(texts)} text(s) for user {user!r} as {len(records)} memories "
        f"({len(records) - updated} new, {updated} updated a near-duplicate)."
    )
    _table(records, f"memories of {user}", scores=False)


@app.command("search")
def search_command(
    query: Annotated[str, typer.Argument(help="What to look for.")],
    user: UserOption = DEFAULT_USER,
    k: Annotated[int, typer.Option("-k", "--k", min=1, help="At most this many results.")] = 5,
    min_score: Annotated[
        float, typer.Option("--min-score", help="Drop results less similar than this.")
    ] = 0.0,
    kinds: Annotated[
        list[Kind] | None, typer.Option("--kind", help="Only this kind (repeatable).")
    ] = None,
    since: Annotated[
        str | None, typer.Option("--since", help="Only memories created at/after (ISO 8601).")
    ] = None,
    until: Annotated[
        str | None, typer.Option("--until", help="Only memories created at/before (ISO 8601).")
    ] = None,
    recency_weight: Annotated[
        float,
        typer.Option("--recency-weight", min=0.0, max=1.0, help="Weight of recency in ranking."),
    ] = 0.0,
    half_life_days: Annotated[
        float, typer.Option("--half-life-days", help="Age at which recency halves.")
    ] = 30.0,
    path: PathOption = None,
    host: HostOption = None,
    port: PortOption = 8000,
    memory: MemoryOption = None,
    collection: CollectionOption = "lamina_memory",
    as_json: JsonOption = False,
) -> None:
    """Find a user's memories closest to QUERY, best first."""
    _check_ids(as_json, user)
    busy = working("searching memories (the encoder loads first) …", as_json=as_json)
    with (
        reporting_errors(as_json),
        busy,
        open_store(path, host, port, collection, memory) as store,
    ):
        found = store.search(
            query,
            user,
            k=k,
            min_score=min_score,
            kinds=[kd.value for kd in kinds] if kinds else None,
            since=since,
            until=until,
            recency_weight=recency_weight,
            half_life_days=half_life_days,
        )
        info = _store_info(store)
    if as_json:
        _emit(
            {
                "query": query,
                "user_id": user,
                "k": k,
                "memories": [m.to_dict() for m in found],
                "store": info,
            }
        )
        return
    if not found:
        typer.echo(f"No memories of user {user!r} match.")
        return
    _table(found, f"memories of {user} for {query[:60]!r}", scores=True)


@app.command("forget")
def forget_command(
    ids: Annotated[list[str] | None, typer.Argument(help="Ids of the memories to delete.")] = None,
    user: UserOption = DEFAULT_USER,
    kind: Annotated[
        Kind | None, typer.Option("--kind", help="Delete memories of this kind.")
    ] = None,
    thread: Annotated[
        str | None, typer.Option("--thread", help="Delete memories from this conversation.")
    ] = None,
    everything: Annotated[
        bool, typer.Option("--all", help="Delete every memory of the user.")
    ] = False,
    path: PathOption = None,
    host: HostOption = None,
    port: PortOption = 8000,
    memory: MemoryOption = None,
    collection: CollectionOption = "lamina_memory",
    as_json: JsonOption = False,
) -> None:
    """Delete a user's memories for real (embedded stores also purge the text from disk).

    Ids that are not memories of the user are an error (exit code 1), and nothing is deleted.
    """
    from lamina.errors import ConfigError

    _check_ids(as_json, user, thread)
    where: dict[str, Any] = {}
    if kind is not None:
        where["kind"] = kind.value
    if thread is not None:
        where["thread_id"] = thread
    flt: dict[str, Any] | None = None
    if len(where) == 1:
        flt = where
    elif where:
        flt = {"$and": [{key: value} for key, value in where.items()]}
    with reporting_errors(as_json):
        if not ids and flt is None and not everything:
            raise ConfigError(
                f"Refusing to forget every memory of user {user!r} without --all. Fix: pass "
                "memory ids, --kind or --thread to choose, or --all to delete them all."
            )
        with open_store(path, host, port, collection, memory) as store:
            if ids:
                _refuse_unknown(store, ids, user)
            deleted = store.forget(ids or None, flt, user_id=user)
            info = _store_info(store)
    purged = deleted > 0 and info["mode"] == "embedded"
    if as_json:
        _emit({"user_id": user, "deleted": deleted, "purged": purged, "store": info})
        return
    note = " and purged from the store's files" if purged else ""
    typer.echo(f"Deleted {deleted} memories of user {user!r}{note}.")


def _refuse_unknown(store: MemoryStore, ids: list[str], user: str) -> None:
    from lamina.errors import InputError

    known = {m.id for m in store.get(ids, user_id=user)}
    unknown = [i for i in dict.fromkeys(ids) if i not in known]
    if unknown:
        raise InputError(
            f"Expected ids of memories of user {user!r}; found {len(unknown)} that are not: "
            f"{', '.join(unknown)}. Nothing was deleted. Fix: copy the ids from "
            f"`lamina memory search QUERY --user {user} --json`, or name the user who owns them "
            "with --user."
        )


@app.command("stats")
def stats_command(
    user: Annotated[
        str | None, typer.Option("--user", help="Only this user (default: the whole store).")
    ] = None,
    path: PathOption = None,
    host: HostOption = None,
    port: PortOption = 8000,
    memory: MemoryOption = None,
    collection: CollectionOption = "lamina_memory",
    as_json: JsonOption = False,
) -> None:
    """How many memories the store holds, per kind and per user (a read-only store works)."""
    if user is not None:
        _check_ids(as_json, user)
    with (
        reporting_errors(as_json),
        open_for_reading(path, host, port, collection, memory) as store,
    ):
        stats = store.stats(user)
    if as_json:
        _emit(stats)
        return
    from rich.console import Console
    from rich.table import Table
    from rich.text import Text

    console = Console()
    who = f"user {user!r}" if user is not None else "all users"
    console.print(
        Text(
            f"{stats['count']} memories ({who}) in {stats['mode']} store {stats['location']} "
            f"(collection {stats['collection']}, encoder {stats['encoder']})"
        )
    )
    for title, counts in (("kind", stats["kinds"]), ("user", stats.get("users"))):
        if not counts:
            continue
        table = Table(title=f"per {title}")
        table.add_column(title)
        table.add_column("memories", justify="right")
        for name, n in sorted(counts.items(), key=lambda kv: -kv[1]):
            table.add_row(Text(name), str(n))
        console.print(table)
