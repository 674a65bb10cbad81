"""The reasoning layer's step cache: an exact key to a step's result, persistent in SQLite.

The key is a sha256 over the model's identity (name plus the GGUF file's sha256), its sampling
parameters, the prompt template's version and the full prompt text, so an entry is only ever
served to the very same call. The file uses SQLite's WAL journal, so two processes may share it.
Entries are evicted least-recently-used beyond `max_entries` and expire after `ttl_seconds`.
A corrupted file is moved aside and rebuilt with a logged warning; the cache never crashes a run.

Semantic (nearest-neighbour) reuse is off unless `semantic_threshold` is given (at least 0.97):
then a call that misses exactly may be served the answer of a call with the same model, sampling
parameters, template version and leading messages whose last message embeds within the
threshold and carries the same numbers, operators and negations. Semantic caches answer
near-opposite questions wrongly ("12 * 7" and "12 * 8" embed almost alike), hence the guards,
and every semantic hit is logged as a warning and marked in the returned :class:`StepCall`.

    >>> cache = StepCache(tmp_path / "steps.sqlite")  # doctest: +SKIP
    >>> step = cache.call(model, messages, "reasoning/1/solve")  # doctest: +SKIP
    >>> step.text, step.hit, step.tokens  # doctest: +SKIP
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
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

    from lamina.config import Settings

__all__ = [
    "MIN_SEMANTIC_THRESHOLD",
    "SAMPLING_PARAMS",
    "CacheStats",
    "StepCache",
    "StepCall",
    "StructuredReply",
    "invoke_measured",
    "measured_call",
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

MIN_SEMANTIC_THRESHOLD = 0.97
"""The lowest cosine similarity semantic reuse may be configured with."""

_SCHEMA_VERSION = 1
_T = TypeVar("_T")


@dataclass(frozen=True)
class CacheStats:
    """What the cache file has served since it was created (or last cleared).

    Attributes:
        hits: lookups that found a live entry (semantic hits included).
        misses: lookups that found nothing (or an expired entry).
        saved_tokens: tokens the hits did not have to generate again.
        saved_seconds: model time the hits did not have to spend again.
        entries: entries stored now.
        semantic_hits: hits served by nearest-neighbour reuse (not an exact key).
    """

    hits: int
    misses: int
    saved_tokens: int
    saved_seconds: float
    entries: int
    semantic_hits: int = 0

    @property
    def hit_rate(self) -> float:
        """hits / (hits + misses), 0.0 before any lookup."""
        lookups = self.hits + self.misses
        return self.hits / lookups if lookups else 0.0

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


def _prompt_tokens(usage: Any) -> tuple[int, int | None]:
    """(prompt tokens, prompt tokens the model evaluated or None when it does not say).

    Evaluated = input tokens minus `input_token_details.cache_read`, which lamina's llama.cpp
    chat model fills with the tokens its KV cache supplied.
    """
    if not usage:
        return 0, None
    prompt = int(usage.get("input_tokens", 0) or 0)
    details = usage.get("input_token_details") or {}
    if "cache_read" not in details:
        return prompt, None
    return prompt, max(0, prompt - int(details["cache_read"] or 0))


@dataclass(frozen=True)
class StepCall:
    """One model call of the reasoning layer, computed or served from the step cache.

    Attributes:
        text: the reply text.
        hit: whether it came from the cache.
        tokens: tokens spent (miss) or saved (hit).
        seconds: model time spent (miss) or saved (hit).
        prompt_tokens: prompt tokens sent to the model (0 on a hit).
        prompt_tokens_evaluated: prompt tokens the model evaluated, the rest coming from
            llama.cpp's KV prefix cache (0 on a hit; None when the model does not report it).
        semantic: served by nearest-neighbour reuse rather than the exact key.
        similarity: the cosine similarity of a semantic hit.
    """

    text: str
    hit: bool
    tokens: int
    seconds: float
    prompt_tokens: int = 0
    prompt_tokens_evaluated: int | None = None
    semantic: bool = False
    similarity: float | None = None

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe form."""
        return asdict(self)


def measured_call(model: BaseChatModel, messages: Sequence[BaseMessage]) -> StepCall:
    """Call `model` once and measure it: tokens, wall time, prompt tokens evaluated."""
    start = time.perf_counter()
    reply = model.invoke(list(messages))
    seconds = time.perf_counter() - start
    usage = getattr(reply, "usage_metadata", None)
    prompt, evaluated = _prompt_tokens(usage)
    return StepCall(
        text=message_text(reply),
        hit=False,
        tokens=_total_tokens(usage),
        seconds=seconds,
        prompt_tokens=prompt,
        prompt_tokens_evaluated=evaluated,
    )


def invoke_measured(
    model: BaseChatModel, messages: Sequence[BaseMessage]
) -> tuple[str, int, float]:
    """Call `model` once: its reply text, the tokens it reports and the wall time it took."""
    call = measured_call(model, messages)
    return call.text, call.tokens, call.seconds


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
            self.prompt_tokens = 0
            self.evaluated: int | None = None
            self._lock = threading.Lock()

        def on_llm_end(self, response: LLMResult, **kwargs: Any) -> None:
            for generations in response.generations:
                for generation in generations:
                    if isinstance(generation, ChatGeneration):
                        usage = getattr(generation.message, "usage_metadata", None)
                        prompt, evaluated = _prompt_tokens(usage)
                        with self._lock:
                            self.tokens += _total_tokens(usage)
                            self.prompt_tokens += prompt
                            if evaluated is not None:
                                self.evaluated = (self.evaluated or 0) + evaluated

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
        prompt_tokens: prompt tokens sent to the model (0 on a hit).
        prompt_tokens_evaluated: of those, the ones the model evaluated (None: not reported).
    """

    data: dict[str, Any] | None
    error: str
    hit: bool
    tokens: int
    prompt_tokens: int = 0
    prompt_tokens_evaluated: int | None = None


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
    reply_ = StructuredReply(
        data=data,
        error=error,
        hit=False,
        tokens=int(counter.tokens),
        prompt_tokens=int(counter.prompt_tokens),
        prompt_tokens_evaluated=counter.evaluated,
    )
    return reply_, seconds


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
CREATE TABLE IF NOT EXISTS vectors (
    key TEXT PRIMARY KEY,
    scope TEXT NOT NULL,
    encoder TEXT NOT NULL,
    query TEXT NOT NULL,
    vector BLOB NOT NULL
);
CREATE INDEX IF NOT EXISTS vectors_scope ON vectors(scope, encoder);
"""

# Words that turn a question into its opposite; a semantic match must carry the same ones.
_NEGATIONS = re.compile(
    r"\b(?:not|no|never|none|nothing|without|except|neither|nor|least|fewest|smallest|"
    r"minimum|min|below|under|less|fewer|before)\b|n't",
    re.IGNORECASE,
)
# numbers and arithmetic operators, in order: "12 - 7" and "7 - 12" embed alike but differ
_FACTS = re.compile(r"\d+(?:[.,]\d+)*|[-+*/×÷^%=<>]")


def _same_facts(a: str, b: str) -> bool:
    """True when two texts carry the same numbers and operators in the same order, and the
    same negation-like words."""

    def facts(text: str) -> tuple[list[str], list[str]]:
        return (
            _FACTS.findall(text),
            sorted(m.group(0).lower() for m in _NEGATIONS.finditer(text)),
        )

    return facts(a) == facts(b)


@dataclass(frozen=True)
class _Entry:
    value: str
    tokens: int
    seconds: float


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
        semantic_threshold: switch on nearest-neighbour reuse for misses, serving an entry whose
            last message has at least this cosine similarity (>= 0.97) and the same numbers,
            operators and negations (None: exact matches only).
        encoder: embeds texts for semantic reuse (`encode(texts)` returning L2-normalised rows,
            and an `identity`); default: the packaged sentence-transformers model, loaded on
            the first semantic lookup.
        clock: wall-clock source in seconds (tests pass a fake one to exercise the TTL).

    Raises:
        ConfigError: `max_entries` < 1, `ttl_seconds` <= 0, or `semantic_threshold` outside
            [0.97, 1].
        MemoryStoreError: the file cannot be opened (unwritable directory).
    """

    def __init__(
        self,
        path: Path | None = None,
        max_entries: int = 10_000,
        ttl_seconds: float | None = None,
        *,
        semantic_threshold: float | None = None,
        encoder: Any = None,
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
        if semantic_threshold is not None and not (
            MIN_SEMANTIC_THRESHOLD <= semantic_threshold <= 1.0
        ):
            raise ConfigError(
                f"StepCache semantic_threshold must be between {MIN_SEMANTIC_THRESHOLD} and 1; "
                f"found {semantic_threshold}. A lower threshold serves answers to different "
                "questions. Fix: pass 0.97 or more, or None for exact matches only."
            )
        if path is None:
            from lamina.config import get_settings

            path = get_settings().home / "step_cache.sqlite"
        self.path = Path(path).expanduser()
        self.max_entries = max_entries
        self.ttl_seconds = ttl_seconds
        self.semantic_threshold = semantic_threshold
        self._encoder = encoder
        self._clock = clock
        self._lock = threading.RLock()
        self._conn: sqlite3.Connection | None = None
        with self._lock:
            self._open()

    @classmethod
    def from_settings(cls, settings: Settings | None = None, path: Path | None = None) -> StepCache:
        """A cache configured by lamina settings (`step_cache_*`; path under `home`).

        Args:
            settings: lamina settings (default: read from the environment now).
            path: the SQLite file (default: `settings.home / "step_cache.sqlite"`).
        """
        if settings is None:
            from lamina.config import get_settings

            settings = get_settings()
        return cls(
            path or settings.home / "step_cache.sqlite",
            max_entries=settings.step_cache_max_entries,
            ttl_seconds=settings.step_cache_ttl_seconds,
            semantic_threshold=settings.step_cache_semantic_threshold,
        )

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
        entry = self._lookup(key, count_miss=True)
        return None if entry is None else (entry.value, entry.tokens)

    def _expired(self, created_at: float, now: float) -> bool:
        return self.ttl_seconds is not None and now - created_at > self.ttl_seconds

    def _lookup(self, key: str, *, count_miss: bool) -> _Entry | None:
        def op() -> _Entry | None:
            now = self._clock()
            with self._write() as conn:
                row = conn.execute(
                    "SELECT value, tokens, seconds, created_at FROM entries WHERE key = ?", (key,)
                ).fetchone()
                expired = row is not None and self._expired(float(row[3]), now)
                if row is None or expired:
                    if expired:
                        conn.execute("DELETE FROM entries WHERE key = ?", (key,))
                        conn.execute("DELETE FROM vectors WHERE key = ?", (key,))
                    if count_miss:
                        self._bump(conn, misses=1)
                    return None
                self._touch(conn, key)
                self._bump(conn, hits=1, saved_tokens=int(row[1]), saved_seconds=float(row[2]))
                return _Entry(str(row[0]), int(row[1]), float(row[2]))

        return self._guarded("lookup", op, lambda: None)

    @staticmethod
    def _touch(conn: sqlite3.Connection, key: str) -> None:
        conn.execute(
            "UPDATE entries SET tick = (SELECT COALESCE(MAX(tick), 0) + 1 FROM entries) "
            "WHERE key = ?",
            (key,),
        )

    def put(
        self,
        key: str,
        value: str,
        *,
        tokens: int = 0,
        seconds: float = 0.0,
        vector: tuple[str, str, bytes] | None = None,
    ) -> None:
        """Store `value` under `key` (replacing it), then evict LRU entries over `max_entries`.

        Args:
            key: from :meth:`key_for`.
            value: the step's result text (JSON text for structured results).
            tokens: tokens the model spent producing it (counted as saved on each hit).
            seconds: model time spent producing it (counted as saved on each hit).
            vector: (scope, query text, float32 embedding bytes) for semantic reuse.
        """
        encoder_id = self._encoder_identity() if vector is not None else ""

        def op() -> None:
            now = self._clock()
            with self._write() as conn:
                conn.execute(
                    "INSERT OR REPLACE INTO entries(key, value, tokens, seconds, created_at, tick) "
                    "VALUES (?, ?, ?, ?, ?, (SELECT COALESCE(MAX(tick), 0) + 1 FROM entries))",
                    (key, value, int(tokens), float(seconds), now),
                )
                if vector is not None:
                    conn.execute(
                        "INSERT OR REPLACE INTO vectors(key, scope, encoder, query, vector) "
                        "VALUES (?, ?, ?, ?, ?)",
                        (key, vector[0], encoder_id, vector[1], vector[2]),
                    )
                (count,) = conn.execute("SELECT count(*) FROM entries").fetchone()
                excess = int(count) - self.max_entries
                if excess > 0:
                    oldest = "SELECT key FROM entries ORDER BY tick ASC LIMIT ?"
                    conn.execute(f"DELETE FROM vectors WHERE key IN ({oldest})", (excess,))
                    conn.execute(f"DELETE FROM entries WHERE key IN ({oldest})", (excess,))
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
            return row is not None and not self._expired(float(row[0]), self._clock())

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
                semantic_hits=int(counters.get("semantic_hits", 0)),
            )

        return self._guarded("stats", op, lambda: CacheStats(0, 0, 0, 0.0, 0))

    def clear(self) -> int:
        """Delete every entry and reset the statistics.

        Returns:
            How many entries were deleted.
        """

        def op() -> int:
            with self._write() as conn:
                (count,) = conn.execute("SELECT count(*) FROM entries").fetchone()
                conn.execute("DELETE FROM entries")
                conn.execute("DELETE FROM vectors")
                conn.execute("DELETE FROM counters")
                return int(count)

        return self._guarded("clear", op, lambda: 0)

    def close(self) -> None:
        """Close the connection (it reopens on next use)."""
        with self._lock:
            if self._conn is not None:
                self._conn.close()
                self._conn = None

    def call(
        self, model: BaseChatModel, messages: Sequence[BaseMessage], template_version: str
    ) -> StepCall:
        """Answer `messages` with `model`, from the cache when the same call was made before.

        With semantic reuse switched on, an exact miss may be served a near-identical call's
        answer (see the module docstring); that is logged as a warning and the result says
        `semantic=True`.

        Args:
            model: the chat model (its identity and sampling parameters are part of the key).
            messages: the full prompt.
            template_version: the prompt template's version, e.g. "reasoning/4/solve".
        """
        key = self.key_for_model(model, template_version, prompt_text(messages))
        semantic = self.semantic_threshold is not None and len(messages) > 0
        entry = self._lookup(key, count_miss=not semantic)
        if entry is not None:
            return StepCall(
                text=entry.value,
                hit=True,
                tokens=entry.tokens,
                seconds=entry.seconds,
                prompt_tokens_evaluated=0,
            )
        vector: tuple[str, str, bytes] | None = None
        if semantic:
            scope = self._scope(model, template_version, messages)
            query = message_text(messages[-1])
            embedding = self._embed(query)
            found = self._semantic_lookup(scope, query, embedding)
            if found is not None:
                return found
            vector = (scope, query, embedding.tobytes())
        computed = measured_call(model, messages)
        self.put(
            key, computed.text, tokens=computed.tokens, seconds=computed.seconds, vector=vector
        )
        return computed

    def cached_invoke(
        self, model: BaseChatModel, messages: Sequence[BaseMessage], template_version: str
    ) -> tuple[str, bool, int]:
        """:meth:`call`, as (reply text, whether it was a hit, tokens spent or saved)."""
        step = self.call(model, messages, template_version)
        return step.text, step.hit, step.tokens

    def cached_structured(
        self,
        model: BaseChatModel,
        schema: type[BaseModel],
        messages: Sequence[BaseMessage],
        template_version: str,
    ) -> StructuredReply:
        """:meth:`call` for `model.with_structured_output(schema)` (see
        :func:`structured_call`). The schema's JSON form is part of the key, so changing the
        schema never serves old replies. Exact matches only: a plan is never reused for a
        merely similar task.
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
                    prompt_tokens_evaluated=0,
                )
            logger.warning("step cache entry %s is not a structured reply; recomputing", key[:12])
        reply, seconds = structured_call(model, schema, messages)
        value = json.dumps({"data": reply.data, "error": reply.error}, ensure_ascii=False)
        self.put(key, value, tokens=reply.tokens, seconds=seconds)
        return reply

    # -- semantic reuse ----------------------------------------------------------------------
    def _get_encoder(self) -> Any:
        if self._encoder is None:
            from lamina.memory_store.embeddings import default_encoder

            self._encoder = default_encoder()
        return self._encoder

    def _encoder_identity(self) -> str:
        return str(getattr(self._get_encoder(), "identity", type(self._get_encoder()).__name__))

    def _embed(self, text: str) -> Any:
        import numpy as np

        row = np.asarray(self._get_encoder().encode([text]), dtype=np.float32)[0]
        norm = float(np.linalg.norm(row))
        return row / norm if norm > 0 else row

    def _scope(
        self, model: BaseChatModel, template_version: str, messages: Sequence[BaseMessage]
    ) -> str:
        """Everything but the last message: a semantic match must agree on all of it exactly."""
        return self.key_for_model(model, template_version, prompt_text(messages[:-1]))

    def _semantic_lookup(self, scope: str, query: str, embedding: Any) -> StepCall | None:
        import numpy as np

        threshold = float(self.semantic_threshold or 1.0)
        encoder_id = self._encoder_identity()

        def op() -> StepCall | None:
            now = self._clock()
            with self._write() as conn:
                rows = conn.execute(
                    "SELECT v.key, v.query, v.vector, e.value, e.tokens, e.seconds, e.created_at "
                    "FROM vectors v JOIN entries e ON e.key = v.key "
                    "WHERE v.scope = ? AND v.encoder = ?",
                    (scope, encoder_id),
                ).fetchall()
                best: tuple[float, Any] | None = None
                for row in rows:
                    if self._expired(float(row[6]), now) or not _same_facts(query, str(row[1])):
                        continue
                    stored = np.frombuffer(row[2], dtype=np.float32)
                    if stored.shape != embedding.shape:
                        continue
                    similarity = float(np.dot(stored, embedding))
                    if similarity >= threshold and (best is None or similarity > best[0]):
                        best = (similarity, row)
                if best is None:
                    self._bump(conn, misses=1)
                    return None
                similarity, row = best
                self._touch(conn, str(row[0]))
                self._bump(
                    conn,
                    hits=1,
                    semantic_hits=1,
                    saved_tokens=int(row[4]),
                    saved_seconds=float(row[5]),
                )
            logger.warning(
                "step cache: semantic hit (similarity %.4f >= %.2f): served the answer to %r "
                "for %r",
                similarity,
                threshold,
                str(row[1])[:120],
                query[:120],
            )
            return StepCall(
                text=str(row[3]),
                hit=True,
                tokens=int(row[4]),
                seconds=float(row[5]),
                prompt_tokens_evaluated=0,
                semantic=True,
                similarity=round(similarity, 6),
            )

        return self._guarded("semantic lookup", op, lambda: None)

    @staticmethod
    def _bump(conn: sqlite3.Connection, **amounts: float) -> None:
        for name, amount in amounts.items():
            conn.execute(
                "INSERT INTO counters(name, value) VALUES (?, ?) "
                "ON CONFLICT(name) DO UPDATE SET value = value + excluded.value",
                (name, amount),
            )
