"""The reasoning layer's step cache: an exact key to a step's result, persistent in SQLite.

The key is a sha256 over the model's identity (name plus the GGUF file's sha256), its sampling
parameters, the prompt template's version and the full prompt text, so an entry is only ever
served to the very same call. The file uses SQLite's WAL journal, so two processes may share it.
Entries are evicted least-recently-used beyond `max_entries` and expire after `ttl_seconds`.
A corrupted file is moved aside and rebuilt with a logged warning; the cache never crashes a run.

    >>> cache = StepCache(tmp_path / "steps.sqlite")  # doctest: +SKIP
    >>> text, hit, tokens = cache.cached_invoke(  # doctest: +SKIP
    ...     model, messages, "reasoning/1/solve"
    ... )
"""

from __future__ import annotations

import hashlib
import json
import logging
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager, suppress
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from lamina.errors import ConfigError, MemoryStoreError, ModelOutputError

if TYPE_CHECKING:
    from langchain_core.language_models import BaseChatModel
    from langchain_core.messages import BaseMessage
    from pydantic import BaseModel

__all__ = [
    "SAMPLING_PARAMS",
    "CacheStats",
    "StepCache",
    "StructuredReply",
    "invoke_measured",
    "message_text",
    "model_identity",
    "prompt_text",
    "sampling_params",
    "structured_call",
]

logger = logging.getLogger(__name__)

SAMPLING_PARAMS: tuple[str, ...] = (
    "temperature",
    "top_p",
    "top_k",
    "max_tokens",
    "repeat_penalty",
    "seed",
    "stop",
)
"""Fields of a chat model that change its output, and therefore belong in the cache key."""

_SCHEMA_VERSION = 1
_T = TypeVar("_T")


@dataclass(frozen=True)
class CacheStats:
    """What the cache file has served since it was created (or last cleared).

    Attributes:
        hits: lookups that found a live entry.
        misses: lookups that found nothing (or an expired entry).
        saved_tokens: tokens the hits did not have to generate again.
        saved_seconds: model time the hits did not have to spend again.
        entries: entries stored now.
    """

    hits: int
    misses: int
    saved_tokens: int
    saved_seconds: float
    entries: int

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe form (for traces and the CLI)."""
        return asdict(self)


# -- model identity and prompt text ----------------------------------------------------------
def model_identity(model: Any) -> str:
    """A string naming the model's weights as exactly as we can.

    `model_name` (or the class name), plus the GGUF file's sha256 when the model comes from a
    pool; when the catalog has no sha256 the file's size and modification time stand in for it.
    """
    name = str(getattr(model, "model_name", None) or type(model).__name__)
    pool = getattr(model, "pool", None)
    if pool is None:
        return name
    try:
        spec = pool.spec(name)
    except Exception:  # a pool that does not know its own model: the name is all we have
        logger.debug("model %s: pool has no spec; cache identity is the name", name)
        return name
    sha = getattr(spec, "sha256", None)
    if sha:
        return f"{name}@sha256:{sha}"
    try:
        path = Path(pool.path_of(name))
        st = path.stat()
    except (OSError, AttributeError, ValueError, ConfigError):
        return name
    # No checksum: size and mtime change whenever the file is replaced, which is what matters.
    return f"{name}@{path}:{st.st_size}:{st.st_mtime_ns}"


def sampling_params(model: Any) -> dict[str, Any]:
    """The model's sampling parameters that are set (see :data:`SAMPLING_PARAMS`)."""
    params: dict[str, Any] = {}
    for field in SAMPLING_PARAMS:
        if hasattr(model, field):
            value = getattr(model, field)
            params[field] = (
                value if isinstance(value, int | float | str | bool | None) else repr(value)
            )
    return params


def message_text(message: Any) -> str:
    """The text of a message's content (joining the text parts of multi-part content)."""
    content = getattr(message, "content", message)
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "".join(p if isinstance(p, str) else str(p.get("text", "")) for p in content)
    return str(content)


def prompt_text(messages: Sequence[BaseMessage]) -> str:
    """The full prompt as one canonical string (role and text of every message)."""
    return json.dumps([[m.type, message_text(m)] for m in messages], ensure_ascii=False)


def _total_tokens(usage: Any) -> int:
    if not usage:
        return 0
    total = usage.get("total_tokens")
    if total is None:
        total = int(usage.get("input_tokens", 0)) + int(usage.get("output_tokens", 0))
    return int(total)


def invoke_measured(
    model: BaseChatModel, messages: Sequence[BaseMessage]
) -> tuple[str, int, float]:
    """Call `model` once: its reply text, the tokens it reports and the wall time it took."""
    start = time.perf_counter()
    reply = model.invoke(list(messages))
    seconds = time.perf_counter() - start
    return message_text(reply), _total_tokens(getattr(reply, "usage_metadata", None)), seconds


def _usage_counter() -> Any:
    """A callback handler that adds up `usage_metadata` of every chat generation it sees.

    LangChain's own `UsageMetadataCallbackHandler` skips messages without a `model_name` in
    their response metadata, which would undercount some chat models.
    """
    from langchain_core.callbacks import BaseCallbackHandler
    from langchain_core.outputs import ChatGeneration, LLMResult

    class _UsageCounter(BaseCallbackHandler):
        def __init__(self) -> None:
            self.tokens = 0
            self._lock = threading.Lock()

        def on_llm_end(self, response: LLMResult, **kwargs: Any) -> None:
            for generations in response.generations:
                for generation in generations:
                    if isinstance(generation, ChatGeneration):
                        usage = getattr(generation.message, "usage_metadata", None)
                        with self._lock:
                            self.tokens += _total_tokens(usage)

    return _UsageCounter()


@dataclass(frozen=True)
class StructuredReply:
    """The outcome of one structured-output call (computed or from the cache).

    Attributes:
        data: the reply as a dict, or None when the output was unusable.
        error: why the output was unusable ("" when it was fine). Unusable output is cached
            like any other: at a fixed seed the same call fails the same way again.
        hit: whether it came from the step cache.
        tokens: tokens spent (miss) or saved (hit).
    """

    data: dict[str, Any] | None
    error: str
    hit: bool
    tokens: int


def structured_call(
    model: BaseChatModel, schema: type[BaseModel], messages: Sequence[BaseMessage]
) -> tuple[StructuredReply, float]:
    """Call `model.with_structured_output(schema)` once; unusable output becomes `error`.

    Only failures of the output (`ModelOutputError`, a parse or validation `ValueError`) are
    turned into `error`; any other failure (a model that cannot load) propagates. Tokens are
    counted with a callback because the structured runnable returns the parsed object, not
    the message that carries the usage.

    Returns:
        (the reply, seconds the call took).
    """
    from pydantic import BaseModel as PydanticModel

    counter = _usage_counter()
    start = time.perf_counter()
    error = ""
    data: dict[str, Any] | None = None
    try:
        reply = model.with_structured_output(schema).invoke(
            list(messages), config={"callbacks": [counter]}
        )
        if isinstance(reply, PydanticModel):
            data = reply.model_dump(mode="json")
        elif isinstance(reply, dict):
            data = dict(reply)
        else:
            error = f"expected a {schema.__name__} or a dict; found {type(reply).__name__}"
    except (ModelOutputError, ValueError) as exc:  # pydantic's ValidationError is a ValueError
        error = f"{type(exc).__name__}: {exc}"[:500]
    seconds = time.perf_counter() - start
    return StructuredReply(data=data, error=error, hit=False, tokens=int(counter.tokens)), seconds


# -- the cache -------------------------------------------------------------------------------
_SCHEMA = """
CREATE TABLE IF NOT EXISTS entries (
    key TEXT PRIMARY KEY,
    value TEXT NOT NULL,
    tokens INTEGER NOT NULL DEFAULT 0,
    seconds REAL NOT NULL DEFAULT 0,
    created_at REAL NOT NULL,
    tick INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS entries_tick ON entries(tick);
CREATE TABLE IF NOT EXISTS counters (name TEXT PRIMARY KEY, value REAL NOT NULL);
CREATE TABLE IF NOT EXISTS meta (name TEXT PRIMARY KEY, value TEXT NOT NULL);
"""

_CORRUPT_CODES = frozenset({"SQLITE_CORRUPT", "SQLITE_NOTADB"})


def _is_corruption(exc: sqlite3.DatabaseError) -> bool:
    # OperationalError (locked, busy, read-only) is a subclass of DatabaseError but is no sign of
    # a damaged file; only SQLITE_CORRUPT/SQLITE_NOTADB (plain DatabaseError) are.
    name = getattr(exc, "sqlite_errorname", "") or ""
    if any(name.startswith(code) for code in _CORRUPT_CODES):
        return True
    return type(exc) is sqlite3.DatabaseError and any(
        s in str(exc) for s in ("not a database", "malformed", "corrupt")
    )


class StepCache:
    """A persistent exact-match cache of reasoning steps.

    Args:
        path: the SQLite file (default: `Settings().home / "step_cache.sqlite"`).
        max_entries: beyond this many entries the least recently used are evicted.
        ttl_seconds: entries older than this are never served (None: they never expire).
        clock: wall-clock source in seconds (tests pass a fake one to exercise the TTL).

    Raises:
        ConfigError: `max_entries` < 1 or `ttl_seconds` <= 0.
        MemoryStoreError: the file cannot be opened (unwritable directory).
    """

    def __init__(
        self,
        path: Path | None = None,
        max_entries: int = 10_000,
        ttl_seconds: float | None = None,
        *,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if max_entries < 1:
            raise ConfigError(
                f"StepCache max_entries must be at least 1; found {max_entries}. "
                "Fix: pass a positive max_entries (default 10_000)."
            )
        if ttl_seconds is not None and ttl_seconds <= 0:
            raise ConfigError(
                f"StepCache ttl_seconds must be positive or None; found {ttl_seconds}. "
                "Fix: pass None for entries that never expire."
            )
        if path is None:
            from lamina.config import get_settings

            path = get_settings().home / "step_cache.sqlite"
        self.path = Path(path).expanduser()
        self.max_entries = max_entries
        self.ttl_seconds = ttl_seconds
        self._clock = clock
        self._lock = threading.RLock()
        self._conn: sqlite3.Connection | None = None
        with self._lock:
            self._open()

    def __repr__(self) -> str:
        return f"StepCache(path={str(self.path)!r}, max_entries={self.max_entries})"

    # -- connection management ---------------------------------------------------------------
    def _connect(self) -> sqlite3.Connection:
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            # autocommit mode: transactions are explicit (BEGIN IMMEDIATE) so writers queue.
            conn = sqlite3.connect(
                self.path, timeout=10.0, isolation_level=None, check_same_thread=False
            )
        except (OSError, sqlite3.OperationalError) as exc:
            raise MemoryStoreError(
                f"Step cache: cannot open {self.path} ({exc}). Expected a writable file. "
                "Fix: check the directory's permissions or pass StepCache(path=...) elsewhere."
            ) from exc
        try:
            conn.execute("PRAGMA busy_timeout = 10000")
            conn.execute("PRAGMA journal_mode = WAL")
            conn.execute("PRAGMA synchronous = NORMAL")
            conn.executescript(_SCHEMA)
            conn.execute(
                "INSERT OR IGNORE INTO meta(name, value) VALUES ('schema', ?)",
                (str(_SCHEMA_VERSION),),
            )
            conn.execute("SELECT count(*) FROM entries").fetchone()
        except sqlite3.DatabaseError:
            conn.close()
            raise
        return conn

    def _open(self) -> None:
        try:
            self._conn = self._connect()
        except sqlite3.DatabaseError as exc:
            if not _is_corruption(exc):
                raise MemoryStoreError(
                    f"Step cache: cannot use {self.path} ({exc}). "
                    "Fix: check the file's permissions, or delete it to start an empty cache."
                ) from exc
            self._rebuild(exc)

    def _rebuild(self, exc: BaseException) -> None:
        if self._conn is not None:
            with suppress(sqlite3.Error):
                self._conn.close()
            self._conn = None
        aside = self.path.with_name(self.path.name + ".corrupt")
        logger.warning(
            "step cache %s is corrupted (%s); moved it to %s and started an empty cache",
            self.path,
            exc,
            aside,
        )
        try:
            self.path.replace(aside)
        except OSError:
            self.path.unlink(missing_ok=True)
        for suffix in ("-wal", "-shm"):
            self.path.with_name(self.path.name + suffix).unlink(missing_ok=True)
        self._conn = self._connect()

    def _db(self) -> sqlite3.Connection:
        if self._conn is None:
            self._open()
        if self._conn is None:  # pragma: no cover - _open either sets it or raises
            raise MemoryStoreError(f"Step cache: {self.path} is not open.")
        return self._conn

    @contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        conn = self._db()
        conn.execute("BEGIN IMMEDIATE")
        try:
            yield conn
        except BaseException:
            try:
                conn.execute("ROLLBACK")
            except sqlite3.Error:
                logger.debug("step cache rollback failed", exc_info=True)
            raise
        else:
            conn.execute("COMMIT")

    def _guarded(self, what: str, op: Callable[[], _T], on_corrupt: Callable[[], _T]) -> _T:
        """Run `op`; a corrupted file is rebuilt and `on_corrupt()` answers instead."""
        with self._lock:
            try:
                return op()
            except sqlite3.DatabaseError as exc:
                if _is_corruption(exc):
                    self._rebuild(exc)
                    return on_corrupt()
                raise MemoryStoreError(
                    f"Step cache: {what} failed on {self.path} ({exc}). "
                    "Fix: check that no other program holds a long write lock on the file."
                ) from exc

    # -- public API --------------------------------------------------------------------------
    @staticmethod
    def key_for(
        model_identity: str,
        params: Mapping[str, Any],
        template_version: str,
        prompt: str,
    ) -> str:
        """The exact cache key: sha256 over identity, sampling params, template version, prompt."""
        payload = json.dumps(
            {
                "model": model_identity,
                "params": dict(sorted(params.items())),
                "template": template_version,
                "prompt": prompt,
            },
            ensure_ascii=False,
            sort_keys=True,
            default=repr,
        )
        return hashlib.sha256(payload.encode("utf-8")).hexdigest()

    def key_for_model(
        self,
        model: Any,
        template_version: str,
        prompt: str,
        *,
        extra_params: Mapping[str, Any] | None = None,
    ) -> str:
        """:meth:`key_for` with the identity and sampling params read from `model`."""
        params = {**sampling_params(model), **(extra_params or {})}
        return self.key_for(model_identity(model), params, template_version, prompt)

    def get(self, key: str) -> str | None:
        """The value stored under `key`, or None (a miss; expired entries are misses)."""
        entry = self.get_entry(key)
        return None if entry is None else entry[0]

    def get_entry(self, key: str) -> tuple[str, int] | None:
        """Like :meth:`get`, with the tokens the entry cost when it was computed."""

        def op() -> tuple[str, int] | None:
            now = self._clock()
            with self._write() as conn:
                row = conn.execute(
                    "SELECT value, tokens, seconds, created_at FROM entries WHERE key = ?", (key,)
                ).fetchone()
                expired = (
                    row is not None
                    and self.ttl_seconds is not None
                    and now - float(row[3]) > self.ttl_seconds
                )
                if row is None or expired:
                    if expired:
                        conn.execute("DELETE FROM entries WHERE key = ?", (key,))
                    self._bump(conn, misses=1)
                    return None
                conn.execute(
                    "UPDATE entries SET tick = (SELECT COALESCE(MAX(tick), 0) + 1 FROM entries) "
                    "WHERE key = ?",
                    (key,),
                )
                self._bump(conn, hits=1, saved_tokens=int(row[1]), saved_seconds=float(row[2]))
                return str(row[0]), int(row[1])

        return self._guarded("lookup", op, lambda: None)

    def put(self, key: str, value: str, *, tokens: int = 0, seconds: float = 0.0) -> None:
        """Store `value` under `key` (replacing it), then evict LRU entries over `max_entries`.

        Args:
            key: from :meth:`key_for`.
            value: the step's result text (JSON text for structured results).
            tokens: tokens the model spent producing it (counted as saved on each hit).
            seconds: model time spent producing it (counted as saved on each hit).
        """

        def op() -> None:
            now = self._clock()
            with self._write() as conn:
                conn.execute(
                    "INSERT OR REPLACE INTO entries(key, value, tokens, seconds, created_at, tick) "
                    "VALUES (?, ?, ?, ?, ?, (SELECT COALESCE(MAX(tick), 0) + 1 FROM entries))",
                    (key, value, int(tokens), float(seconds), now),
                )
                (count,) = conn.execute("SELECT count(*) FROM entries").fetchone()
                excess = int(count) - self.max_entries
                if excess > 0:
                    conn.execute(
                        "DELETE FROM entries WHERE key IN "
                        "(SELECT key FROM entries ORDER BY tick ASC LIMIT ?)",
                        (excess,),
                    )
                    logger.debug("step cache evicted %d least recently used entries", excess)

        self._guarded("write", op, op)

    def __contains__(self, key: object) -> bool:
        if not isinstance(key, str):
            return False

        def op() -> bool:
            row = (
                self._db()
                .execute("SELECT created_at FROM entries WHERE key = ?", (key,))
                .fetchone()
            )
            if row is None:
                return False
            return self.ttl_seconds is None or self._clock() - float(row[0]) <= self.ttl_seconds

        return self._guarded("lookup", op, lambda: False)

    def __len__(self) -> int:
        return self._guarded(
            "count",
            lambda: int(self._db().execute("SELECT count(*) FROM entries").fetchone()[0]),
            lambda: 0,
        )

    def stats(self) -> CacheStats:
        """Hits, misses and savings recorded in this file (by every process using it)."""

        def op() -> CacheStats:
            conn = self._db()
            counters = dict(conn.execute("SELECT name, value FROM counters").fetchall())
            (entries,) = conn.execute("SELECT count(*) FROM entries").fetchone()
            return CacheStats(
                hits=int(counters.get("hits", 0)),
                misses=int(counters.get("misses", 0)),
                saved_tokens=int(counters.get("saved_tokens", 0)),
                saved_seconds=float(counters.get("saved_seconds", 0.0)),
                entries=int(entries),
            )

        return self._guarded("stats", op, lambda: CacheStats(0, 0, 0, 0.0, 0))

    def clear(self) -> None:
        """Delete every entry and reset the statistics."""

        def op() -> None:
            with self._write() as conn:
                conn.execute("DELETE FROM entries")
                conn.execute("DELETE FROM counters")

        self._guarded("clear", op, lambda: None)

    def close(self) -> None:
        """Close the connection (it reopens on next use)."""
        with self._lock:
            if self._conn is not None:
                self._conn.close()
                self._conn = None

    def cached_invoke(
        self, model: BaseChatModel, messages: Sequence[BaseMessage], template_version: str
    ) -> tuple[str, bool, int]:
        """Answer `messages` with `model`, from the cache when the same call was made before.

        Returns:
            (reply text, whether it was a cache hit, tokens: spent on a miss, saved on a hit).
        """
        key = self.key_for_model(model, template_version, prompt_text(messages))
        entry = self.get_entry(key)
        if entry is not None:
            return entry[0], True, entry[1]
        text, tokens, seconds = invoke_measured(model, messages)
        self.put(key, text, tokens=tokens, seconds=seconds)
        return text, False, tokens

    def cached_structured(
        self,
        model: BaseChatModel,
        schema: type[BaseModel],
        messages: Sequence[BaseMessage],
        template_version: str,
    ) -> StructuredReply:
        """:meth:`cached_invoke` for `model.with_structured_output(schema)` (see
        :func:`structured_call`). The schema's JSON form is part of the key, so changing the
        schema never serves old replies.
        """
        schema_json = json.dumps(schema.model_json_schema(), sort_keys=True)
        key = self.key_for_model(
            model,
            template_version,
            prompt_text(messages),
            extra_params={"structured_output": schema_json},
        )
        entry = self.get_entry(key)
        if entry is not None:
            try:
                stored = json.loads(entry[0])
            except json.JSONDecodeError:
                stored = None
            if isinstance(stored, dict) and isinstance(stored.get("error"), str):
                data = stored.get("data")
                return StructuredReply(
                    data=data if isinstance(data, dict) else None,
                    error=stored["error"],
                    hit=True,
                    tokens=entry[1],
                )
            logger.warning("step cache entry %s is not a structured reply; recomputing", key[:12])
        reply, seconds = structured_call(model, schema, messages)
        value = json.dumps({"data": reply.data, "error": reply.error}, ensure_ascii=False)
        self.put(key, value, tokens=reply.tokens, seconds=seconds)
        return reply

    @staticmethod
    def _bump(conn: sqlite3.Connection, **amounts: float) -> None:
        for name, amount in amounts.items():
            conn.execute(
                "INSERT INTO counters(name, value) VALUES (?, ?) "
                "ON CONFLICT(name) DO UPDATE SET value = value + excluded.value",
                (name, amount),
            )
