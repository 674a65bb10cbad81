"""Reading memories: metadata filters, the ranking of search results, and the tallies of `stats`.

Ranking: `search` scores each candidate as

    score = (1 - recency_weight) * similarity + recency_weight * 0.5 ** (age_days / half_life_days)

where `similarity` is the cosine similarity to the query and `age_days` the time since the
memory's current wording was stored (`updated_at`). `min_score` always applies to the
similarity, so recency reorders relevant memories but never lets an irrelevant one in.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from lamina.errors import MemoryStoreError
from lamina.stores.memory.failures import StoreFailures
from lamina.stores.memory.records import KINDS, Memory, memory_from_chroma

__all__ = ["as_utc", "build_where", "candidates_for", "freshness", "rank", "tally"]


def as_utc(when: datetime | str, name: str) -> datetime:
    """`when` (a datetime or an ISO 8601 string; naive means UTC) as an aware UTC datetime."""
    if isinstance(when, str):
        try:
            when = datetime.fromisoformat(when)
        except ValueError as exc:
            raise MemoryStoreError(
                f"Expected `{name}` as a datetime or an ISO 8601 string, found {when!r}. "
                "Fix: pass e.g. '2026-01-31T12:00:00+00:00'."
            ) from exc
    # A naive time is taken as UTC, the zone every stored time uses.
    return when.replace(tzinfo=UTC) if when.tzinfo is None else when.astimezone(UTC)


def freshness(meta: Mapping[str, Any], now: float, half_life_days: float) -> float:
    """0.5 ** (age in days / half-life) of a memory's current wording; 1.0 for a new one."""
    try:
        stamp = as_utc(str(meta["updated_at"]), "updated_at").timestamp()
    except (KeyError, MemoryStoreError):
        stamp = float(meta.get("ts", now))
    age_days = max(0.0, now - stamp) / 86400.0
    return math.pow(0.5, age_days / half_life_days)


def _names_key(flt: Any, key: str) -> bool:
    """True when a Chroma filter (nested `$and`/`$or` dicts and lists) uses `key` as a field."""
    if isinstance(flt, Mapping):
        return any(k == key or _names_key(v, key) for k, v in flt.items())
    if isinstance(flt, list | tuple):
        return any(_names_key(v, key) for v in flt)
    return False


def build_where(
    *,
    kinds: Sequence[str] | None = None,
    since: datetime | str | None = None,
    until: datetime | str | None = None,
    extra: Mapping[str, Any] | None = None,
) -> dict[str, Any] | None:
    """A Chroma filter within one user's collection (None: no filter, the fast path)."""
    conditions: list[dict[str, Any]] = []
    if kinds is not None:
        unknown = [k for k in kinds if k not in KINDS]
        if unknown or not kinds:
            raise MemoryStoreError(
                f"Expected kinds among {', '.join(KINDS)}, found {list(kinds)}. "
                "Fix: pass known kinds, or None for all."
            )
        conditions.append({"kind": {"$in": list(kinds)}})
    if since is not None:
        conditions.append({"ts": {"$gte": as_utc(since, "since").timestamp()}})
    if until is not None:
        conditions.append({"ts": {"$lte": as_utc(until, "until").timestamp()}})
    if extra:
        if _names_key(extra, "user_id"):
            raise MemoryStoreError(
                "A `where` filter may not name user_id. Fix: pass the user as user_id=."
            )
        conditions.append(dict(extra))
    if not conditions:
        return None
    return conditions[0] if len(conditions) == 1 else {"$and": conditions}


def candidates_for(k: int, recency_weight: float) -> int:
    """How many nearest memories to fetch for `k` results: more when recency re-ranks them."""
    return k if recency_weight == 0 else max(4 * k, k + 16)


def rank(
    res: Mapping[str, Any],
    user_id: str,
    *,
    k: int,
    min_score: float,
    recency_weight: float,
    half_life_days: float,
    now: float,
) -> list[Memory]:
    """The best `k` memories of a Chroma query result, scored as the module docstring says."""
    hits = []
    for mid, doc, meta, dist in zip(
        res["ids"][0],
        res["documents"][0],
        res["metadatas"][0],
        res["distances"][0],
        strict=True,
    ):
        similarity = 1.0 - float(dist)
        if similarity < min_score:
            continue
        score = similarity
        if recency_weight > 0:
            fresh = freshness(meta or {}, now, half_life_days)
            score = (1.0 - recency_weight) * similarity + recency_weight * fresh
        hits.append(
            memory_from_chroma(mid, doc, meta, user_id, round(score, 6), round(similarity, 6))
        )
    hits.sort(key=lambda m: m.score or 0.0, reverse=True)
    return hits[:k]


def tally(
    cols: Sequence[tuple[str, Any]], failures: StoreFailures
) -> tuple[dict[str, int], dict[str, int]]:
    """(memories per user, memories per kind) of these (user id, collection) pairs."""
    users: dict[str, int] = {}
    kinds: dict[str, int] = {}
    for user, col in cols:
        with failures.errors("read statistics"):
            metas = col.get(include=["metadatas"])["metadatas"] or []
        if metas:
            users[user] = users.get(user, 0) + len(metas)
        for m in metas:
            kd = str((m or {}).get("kind", ""))
            kinds[kd] = kinds.get(kd, 0) + 1
    return users, kinds
