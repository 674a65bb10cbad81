"""The router's utterance embeddings: the encoder, the normalised matrix and its disk cache.

:class:`UtteranceIndex` embeds every route's utterances once, L2-normalised, with the index of
each row's route, and keeps the matrix in a `.npz` file keyed by the encoder's identity and the
utterances (so a file from another encoder or other utterances is never read; a damaged one is
only a lost speed-up). :meth:`UtteranceIndex.route_scores` turns one query's similarities to the
utterances into one score per route. The packaged encoder is created on first use, so building a
router loads no model.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import tempfile
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from lamina.errors import ConfigError
from lamina.layers.router.types import Aggregate, QueryEncoder, Route, TextEncoder

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt

__all__ = ["UtteranceIndex", "normalise"]

logger = logging.getLogger(__name__)

# Bump when the layout of the cache file changes, so old files are never misread.
_CACHE_FORMAT = 1


class UtteranceIndex:
    """The normalised embeddings of every route's utterances, cached on disk.

    Args:
        routes: the routes whose utterances are embedded, in order (row owners index them).
        encoder: the encoder; None creates the packaged one
            (:func:`lamina.models.encoder.default_encoder`) on first use.
        cache_dir: the directory of the embedding cache files.
    """

    def __init__(
        self, routes: Sequence[Route], encoder: TextEncoder | None, cache_dir: Path
    ) -> None:
        self._routes = tuple(routes)
        self._encoder = encoder
        self._cache_dir = cache_dir
        self._lock = threading.Lock()
        # Filled by embeddings(): the utterance matrix and, per row, the index of its route.
        self._matrix: npt.NDArray[np.float32] | None = None
        self._owner: npt.NDArray[np.intp] | None = None
        self._centroids: npt.NDArray[np.float32] | None = None
        self._cache_hit: bool | None = None
        self._encoder_warm = False
        # Set by expect_encoder() before the encoder exists: checked when it is created.
        self._saved_identity: str | None = None

    @property
    def routes(self) -> tuple[Route, ...]:
        """The routes whose utterances are embedded, in order."""
        return self._routes

    @property
    def cache_path(self) -> Path:
        """The file holding the utterance embeddings (it may not exist yet)."""
        return self._cache_dir / f"routes-{self._cache_key()}.npz"

    @property
    def cache_hit(self) -> bool | None:
        """Whether the embeddings came from the disk cache (None: not embedded yet)."""
        return self._cache_hit

    def get_encoder(self) -> TextEncoder:
        """The encoder (the packaged one is created here on first use)."""
        if self._encoder is None:
            from lamina.models.encoder import default_encoder

            self._encoder = default_encoder()
        if self._saved_identity is not None:
            saved, self._saved_identity = self._saved_identity, None
            _check_identity(saved, self._encoder)
        return self._encoder

    def expect_encoder(self, identity: str) -> None:
        """Warn if the encoder is not the one with `identity` (now, or when it is created)."""
        if self._encoder is not None:
            _check_identity(identity, self._encoder)
        else:
            self._saved_identity = identity

    def warm_up(self) -> None:
        """Embed the utterances (or read them from the cache) and load the encoder now."""
        self.embeddings()
        if self._cache_hit and not self._encoder_warm:
            # The embeddings came from disk, so nothing was encoded yet, and the packaged encoder
            # loads its model on the first encode: do that now, not in the first decision.
            self.encode(["warm up"])
        self._encoder_warm = True

    def prepare(self) -> bool:
        """What a decision needs before its clock starts: the embeddings and a loaded encoder.

        Unlike :meth:`warm_up`, an encoder without a `warm_up()` of its own (a test double) is not
        asked to encode anything.

        Returns:
            True when this call loaded or embedded anything (False: all was ready).
        """
        if self._encoder_warm:
            return False
        self.embeddings()
        load = getattr(self.get_encoder(), "warm_up", None)
        if self._cache_hit and callable(load):
            load()
        self._encoder_warm = True
        return True

    def embeddings(self) -> tuple[npt.NDArray[np.float32], npt.NDArray[np.intp]]:
        """The normalised utterance matrix and, per row, the index of its route.

        Computed once (read from the cache file if it holds them, else embedded and written).
        """
        if self._matrix is not None and self._owner is not None:
            return self._matrix, self._owner
        import numpy as np

        with self._lock:
            if self._matrix is None or self._owner is None:
                texts = [u for r in self._routes for u in r.utterances]
                owner = np.repeat(
                    np.arange(len(self._routes), dtype=np.intp),
                    [len(r.utterances) for r in self._routes],
                )
                path = self.cache_path
                matrix = _load_cache(path, len(texts))
                self._cache_hit = matrix is not None
                if matrix is None:
                    started = time.perf_counter()
                    matrix = normalise(self.encode(texts))
                    logger.info(
                        "Embedded %d route utterances in %.2fs",
                        len(texts),
                        time.perf_counter() - started,
                    )
                    _save_cache(path, matrix)
                self._matrix, self._owner = matrix, owner
            return self._matrix, self._owner

    def encode(self, texts: Sequence[str]) -> npt.NDArray[np.float32]:
        """The encoder's rows for `texts` (not normalised).

        Raises:
            ConfigError: when the encoder does not return one row per text.
        """
        import numpy as np

        encoder = self.get_encoder()
        # The fast path when the encoder has one: the same vectors without torch's thread waits.
        encode = encoder.encode_queries if isinstance(encoder, QueryEncoder) else encoder.encode
        vectors = np.asarray(encode(list(texts)), dtype=np.float32)
        if vectors.ndim != 2 or vectors.shape[0] != len(texts):
            raise ConfigError(
                f"The router's encoder returned an array of shape {vectors.shape} for "
                f"{len(texts)} texts; expected one row per text. Fix: make encode() return a "
                "(len(texts), dim) matrix."
            )
        return vectors

    def route_scores(
        self, query: npt.NDArray[np.float32], aggregate: Aggregate, top_k: int
    ) -> npt.NDArray[np.float64]:
        """Each route's aggregated similarity to one normalised query, in route order.

        Args:
            query: the query's normalised embedding.
            aggregate: "max" (the closest utterance), "mean_topk" (the mean of the `top_k`
                closest) or "centroid" (the similarity to the normalised mean of the route's
                utterances: a nearest-centroid classifier).
            top_k: utterances averaged by "mean_topk".
        """
        import numpy as np

        matrix, owner = self.embeddings()
        if aggregate == "centroid":
            return np.asarray(self.centroids() @ query, dtype=np.float64)
        return _aggregate(matrix @ query, owner, len(self._routes), aggregate, top_k)

    def centroids(self) -> npt.NDArray[np.float32]:
        """One row per route: the normalised mean of its normalised utterance embeddings."""
        if self._centroids is None:
            import numpy as np

            matrix, owner = self.embeddings()
            sums = np.stack([matrix[owner == i].sum(0) for i in range(len(self._routes))])
            self._centroids = normalise(sums.astype(np.float32))
        return self._centroids

    def held_out_scores(
        self, aggregate: Aggregate, top_k: int
    ) -> list[tuple[str, list[tuple[str, float]]]]:
        """Every route utterance scored against the routes as if it were not among them.

        For each utterance of a route with at least two: (its route's name, every route's
        (name, score) best first), where its own route is aggregated over its other utterances
        only. These are requests the router has not seen that are known to belong to their
        route, so fitting can count them (see :func:`lamina.layers.router.fit.fit_thresholds`).
        """
        import numpy as np

        matrix, owner = self.embeddings()
        n_routes = len(self._routes)
        names = [r.name for r in self._routes]
        out: list[tuple[str, list[tuple[str, float]]]] = []
        sums = np.stack([matrix[owner == i].sum(0) for i in range(n_routes)])
        for row, route in enumerate(owner.tolist()):
            if int((owner == route).sum()) < 2:
                continue  # no other utterance to stand for its route
            keep = np.arange(len(owner)) != row
            if aggregate == "centroid":
                held = sums.copy()
                held[route] -= matrix[row]
                scores = np.asarray(normalise(held.astype(np.float32)) @ matrix[row], np.float64)
            else:
                sims = matrix[keep] @ matrix[row]
                scores = _aggregate(sims, owner[keep], n_routes, aggregate, top_k)
            ranked = sorted(zip(names, map(float, scores), strict=True), key=lambda x: -x[1])
            out.append((names[route], ranked))
        return out

    def _cache_key(self) -> str:
        # Names and models are left out on purpose: renaming a route or changing its model does
        # not change any embedding, so the cache stays valid.
        payload = json.dumps(
            {
                "format": _CACHE_FORMAT,
                "encoder": self.get_encoder().identity,
                "utterances": [list(r.utterances) for r in self._routes],
            },
            ensure_ascii=False,
        )
        return hashlib.sha256(payload.encode("utf-8")).hexdigest()[:24]


def _aggregate(
    sims: npt.NDArray[np.float32],
    owner: npt.NDArray[np.intp],
    n_routes: int,
    aggregate: Aggregate,
    top_k: int,
) -> npt.NDArray[np.float64]:
    """Per route, the "max" or "mean_topk" of its utterances' similarities `sims`."""
    import numpy as np

    out = np.empty(n_routes, dtype=np.float64)
    for i in range(n_routes):
        own = sims[owner == i]
        if aggregate == "max":
            out[i] = float(own.max())
        else:
            k = min(top_k, own.shape[0])
            out[i] = float(np.sort(own)[-k:].mean())
    return out


def normalise(vectors: npt.NDArray[np.float32]) -> npt.NDArray[np.float32]:
    """L2-normalise rows; a zero row stays zero (it is similar to nothing)."""
    import numpy as np

    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    out: npt.NDArray[np.float32] = np.divide(
        vectors, norms, out=np.zeros_like(vectors, dtype=np.float32), where=norms > 0
    ).astype(np.float32)
    return out


def _check_identity(expected: str, encoder: TextEncoder) -> None:
    if expected != encoder.identity:
        logger.warning(
            "Router thresholds were fitted with encoder %r but this router uses %r; they "
            "may not suit it. Fix: fit the router again with this encoder.",
            expected,
            encoder.identity,
        )


def _load_cache(path: Path, rows: int) -> npt.NDArray[np.float32] | None:
    import numpy as np

    if not path.exists():
        return None
    try:
        with np.load(path, allow_pickle=False) as data:
            matrix = np.asarray(data["embeddings"], dtype=np.float32)
    except (OSError, ValueError, KeyError) as exc:
        # A damaged cache file is only a lost speed-up: say so and recompute.
        logger.warning("Ignoring unreadable router cache %s (%s); re-embedding", path, exc)
        return None
    if matrix.ndim != 2 or matrix.shape[0] != rows:
        logger.warning(
            "Ignoring router cache %s: shape %s, expected %d rows", path, matrix.shape, rows
        )
        return None
    logger.debug("Router embeddings loaded from %s", path)
    return matrix


def _save_cache(path: Path, matrix: npt.NDArray[np.float32]) -> None:
    import numpy as np

    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        # Write then rename, so a concurrent reader never sees a half-written file.
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".routes-", suffix=".npz")
        with os.fdopen(fd, "wb") as fh:
            np.savez(fh, embeddings=matrix)
        os.replace(tmp, path)
    except OSError as exc:
        logger.warning("Could not write router cache %s (%s); routing goes on", path, exc)
