"""The reasoning layer's step cache: an exact key to a step's result, persistent in SQLite.

The key is a sha256 over the model's identity (name plus the GGUF file's sha256), its sampling
parameters, the prompt template's version and the full prompt text, so an entry is only ever
served to the very same call. The file uses SQLite's WAL journal, so two processes may share it.
Entries are evicted least-recently-used beyond `max_entries` and expire after `ttl_seconds`.
A corrupted file is moved aside and rebuilt with a logged warning; the cache never crashes a run.

Semantic (nearest-neighbour) reuse is off unless `semantic_threshold` is given (at least 0.97;
its guards are in `semantic.py`). The package's docstring says where the rest lives.

    >>> cache = StepCache(tmp_path / "steps.sqlite")  # doctest: +SKIP
    >>> step = cache.call(model, messages, "reasoning/1/solve")  # doctest: +SKIP
    >>> step.text, step.hit, step.tokens  # doctest: +SKIP
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from lamina.errors import ConfigError
from lamina.stores.step_cache.calls import (
    StepCall,
    StructuredReply,
    cached_reply,
    measured_call,
    reply_value,
    structured_call,
)
from lamina.stores.step_cache.database import (
    CacheDatabase,
    CacheEntry,
    CacheStats,
    bump,
    evict_over,
    insert_entry,
    read_stats,
    touch,
)
from lamina.stores.step_cache.keys import (
    message_text,
    model_identity,
    prompt_text,
    sampling_params,
    step_key,
)
from lamina.stores.step_cache.semantic import (
    MIN_SEMANTIC_THRESHOLD,
    embed,
    encoder_identity,
    semantic_lookup,
)

if TYPE_CHECKING:
    from langchain_core.language_models import BaseChatModel
    from langchain_core.messages import BaseMessage
    from pydantic import BaseModel

    from lamina.config import Settings

__all__ = ["StepCache"]

logger = logging.getLogger(__name__)


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
        self._file = CacheDatabase(self.path, self._lock)
        with self._lock:
            self._file.open()

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

    # -- public API --------------------------------------------------------------------------
    @staticmethod
    def key_for(
        model_identity: str, params: Mapping[str, Any], template_version: str, prompt: str
    ) -> str:
        """The exact cache key: sha256 over identity, sampling params, template version, prompt."""
        return step_key(model_identity, params, template_version, prompt)

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

    def _lookup(self, key: str, *, count_miss: bool) -> CacheEntry | None:
        def op() -> CacheEntry | None:
            now = self._clock()
            with self._file.transaction() as conn:
                row = conn.execute(
                    "SELECT value, tokens, seconds, created_at FROM entries WHERE key = ?", (key,)
                ).fetchone()
                expired = row is not None and self._expired(float(row[3]), now)
                if row is None or expired:
                    if expired:
                        conn.execute("DELETE FROM entries WHERE key = ?", (key,))
                        conn.execute("DELETE FROM vectors WHERE key = ?", (key,))
                    if count_miss:
                        bump(conn, misses=1)
                    return None
                touch(conn, key)
                bump(conn, hits=1, saved_tokens=int(row[1]), saved_seconds=float(row[2]))
                return CacheEntry(str(row[0]), int(row[1]), float(row[2]))

        return self._file.guarded("lookup", op, lambda: None)

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
        encoder_id = encoder_identity(self._get_encoder()) if vector is not None else ""

        def op() -> None:
            now = self._clock()
            with self._file.transaction() as conn:
                insert_entry(conn, key, value, tokens, seconds, now, vector, encoder_id)
                excess = evict_over(conn, self.max_entries)
            if excess > 0:
                logger.debug("step cache evicted %d least recently used entries", excess)

        self._file.guarded("write", op, op)

    def __contains__(self, key: object) -> bool:
        if not isinstance(key, str):
            return False

        def op() -> bool:
            row = (
                self._file.connection()
                .execute("SELECT created_at FROM entries WHERE key = ?", (key,))
                .fetchone()
            )
            return row is not None and not self._expired(float(row[0]), self._clock())

        return self._file.guarded("lookup", op, lambda: False)

    def __len__(self) -> int:
        def op() -> int:
            row = self._file.connection().execute("SELECT count(*) FROM entries").fetchone()
            return int(row[0])

        return self._file.guarded("count", op, lambda: 0)

    def stats(self) -> CacheStats:
        """Hits, misses and savings recorded in this file (by every process using it)."""

        def op() -> CacheStats:
            return read_stats(self._file.connection())

        return self._file.guarded("stats", op, lambda: CacheStats(0, 0, 0, 0.0, 0))

    def clear(self) -> int:
        """Delete every entry and reset the statistics.

        Returns:
            How many entries were deleted.
        """

        def op() -> int:
            with self._file.transaction() as conn:
                (count,) = conn.execute("SELECT count(*) FROM entries").fetchone()
                conn.execute("DELETE FROM entries")
                conn.execute("DELETE FROM vectors")
                conn.execute("DELETE FROM counters")
                return int(count)

        return self._file.guarded("clear", op, lambda: 0)

    def close(self) -> None:
        """Close the connection (it reopens on next use)."""
        self._file.close()

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
            embedding = embed(self._get_encoder(), query)
            found = semantic_lookup(
                self._file,
                scope=scope,
                query=query,
                embedding=embedding,
                threshold=float(self.semantic_threshold or 1.0),
                encoder_id=encoder_identity(self._get_encoder()),
                expired=self._expired,
                clock=self._clock,
            )
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
            cached = cached_reply(entry[0], entry[1])
            if cached is not None:
                return cached
            logger.warning("step cache entry %s is not a structured reply; recomputing", key[:12])
        reply, seconds = structured_call(model, schema, messages)
        self.put(key, reply_value(reply), tokens=reply.tokens, seconds=seconds)
        return reply

    # -- semantic reuse ----------------------------------------------------------------------
    def _get_encoder(self) -> Any:
        if self._encoder is None:
            from lamina.models.encoder import default_encoder

            self._encoder = default_encoder()
        return self._encoder

    def _scope(
        self, model: BaseChatModel, template_version: str, messages: Sequence[BaseMessage]
    ) -> str:
        """Everything but the last message: a semantic match must agree on all of it exactly."""
        return self.key_for_model(model, template_version, prompt_text(messages[:-1]))
