"""Opt-in semantic (nearest-neighbour) reuse of cached steps, with its guards.

A call that misses exactly may be served the answer of a call with the same model, sampling
parameters, template version and leading messages whose last message embeds within the
threshold (at least :data:`MIN_SEMANTIC_THRESHOLD`) and carries the same numbers, operators and
negations. Semantic caches answer near-opposite questions wrongly ("12 * 7" and "12 * 8" embed
almost alike), hence the guards; every semantic hit is logged as a warning.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from typing import Any

from lamina.stores.step_cache.calls import StepCall
from lamina.stores.step_cache.database import CacheDatabase, bump, touch

__all__ = [
    "MIN_SEMANTIC_THRESHOLD",
    "embed",
    "encoder_identity",
    "same_facts",
    "semantic_lookup",
]

logger = logging.getLogger(__name__)

MIN_SEMANTIC_THRESHOLD = 0.97
"""The lowest cosine similarity semantic reuse may be configured with."""

# Words that turn a question into its opposite; a semantic match must carry the same ones.
_NEGATIONS = re.compile(
    r"\b(?:not|no|never|none|nothing|without|except|neither|nor|least|fewest|smallest|"
    r"minimum|min|below|under|less|fewer|before)\b|n't",
    re.IGNORECASE,
)
# numbers and arithmetic operators, in order: "12 - 7" and "7 - 12" embed alike but differ
_FACTS = re.compile(r"\d+(?:[.,]\d+)*|[-+*/×÷^%=<>]")


def same_facts(a: str, b: str) -> bool:
    """True when two texts carry the same numbers and operators in the same order, and the
    same negation-like words."""

    def facts(text: str) -> tuple[list[str], list[str]]:
        return (
            _FACTS.findall(text),
            sorted(m.group(0).lower() for m in _NEGATIONS.finditer(text)),
        )

    return facts(a) == facts(b)


def encoder_identity(encoder: Any) -> str:
    """The name vectors are stored under (vectors of different encoders never meet)."""
    return str(getattr(encoder, "identity", type(encoder).__name__))


def embed(encoder: Any, text: str) -> Any:
    """`text` as an L2-normalised float32 vector."""
    import numpy as np

    row = np.asarray(encoder.encode([text]), dtype=np.float32)[0]
    norm = float(np.linalg.norm(row))
    return row / norm if norm > 0 else row


def semantic_lookup(
    db: CacheDatabase,
    *,
    scope: str,
    query: str,
    embedding: Any,
    threshold: float,
    encoder_id: str,
    expired: Callable[[float, float], bool],
    clock: Callable[[], float],
) -> StepCall | None:
    """The best live entry of `scope` within `threshold` of `embedding` with the same facts.

    Counts a hit (and a semantic hit) or a miss in the file's counters.
    """
    import numpy as np

    def op() -> StepCall | None:
        now = clock()
        with db.transaction() as conn:
            rows = conn.execute(
                "SELECT v.key, v.query, v.vector, e.value, e.tokens, e.seconds, e.created_at "
                "FROM vectors v JOIN entries e ON e.key = v.key "
                "WHERE v.scope = ? AND v.encoder = ?",
                (scope, encoder_id),
            ).fetchall()
            best: tuple[float, Any] | None = None
            for row in rows:
                if expired(float(row[6]), now) or not same_facts(query, str(row[1])):
                    continue
                stored = np.frombuffer(row[2], dtype=np.float32)
                if stored.shape != embedding.shape:
                    continue
                similarity = float(np.dot(stored, embedding))
                if similarity >= threshold and (best is None or similarity > best[0]):
                    best = (similarity, row)
            if best is None:
                bump(conn, misses=1)
                return None
            similarity, row = best
            touch(conn, str(row[0]))
            bump(
                conn,
                hits=1,
                semantic_hits=1,
                saved_tokens=int(row[4]),
                saved_seconds=float(row[5]),
            )
        logger.warning(
            "step cache: semantic hit (similarity %.4f >= %.2f): served the answer to %r for %r",
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

    return db.guarded("semantic lookup", op, lambda: None)
