"""The router's lean encoder path against sentence-transformers, on the packaged MiniLM.

The memory layer embeds through `Encoder.encode` (sentence-transformers); the router through
`Encoder.encode_queries` (ONNX Runtime, see lamina/models/lean_encoder.py). Both must give the same
vectors, and using the fast path must not change what the memory layer stores.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from lamina.models.lean_encoder import LeanBertEncoder

TEXTS = [
    "Was the claim from my office visit received?",
    "cant log in again. it says wrong password but i just changed it yesterday",
    "Summarise this: " + "The budget grew by ten percent while costs rose faster. " * 60,
    "Café au lait, naïve résumé — 東京 🚀",
    "x",
]


def test_query_path_gives_the_sentence_transformers_vectors(encoder) -> None:  # type: ignore[no-untyped-def]
    fast = encoder.encode_queries(TEXTS)
    full = encoder.encode(TEXTS)
    assert fast.shape == full.shape
    assert fast.dtype == np.float32
    assert np.abs(fast - full).max() < 1e-5
    assert np.allclose(np.linalg.norm(fast, axis=1), 1.0, atol=1e-5)


def test_memory_embeddings_are_unchanged_by_the_query_path(encoder) -> None:  # type: ignore[no-untyped-def]
    from sentence_transformers import SentenceTransformer

    before = encoder.encode(TEXTS)
    encoder.encode_queries(TEXTS)  # the router's path, in the same process
    after = encoder.encode(TEXTS)
    reference = SentenceTransformer(str(encoder.path), device="cpu").encode(
        TEXTS, normalize_embeddings=True, convert_to_numpy=True
    )
    # Bit for bit: what the memory layer stores is sentence-transformers' output, as before.
    assert np.array_equal(before, after)
    assert np.array_equal(after, np.asarray(reference, dtype=np.float32))


def test_lean_path_loads_without_torch_and_reuses_its_graph(encoder, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    graph = tmp_path / "graph.onnx"
    first = LeanBertEncoder(encoder.path, graph).embed(TEXTS[0])
    assert graph.exists()
    code = (
        "import sys\n"
        "from pathlib import Path\n"
        "from lamina.models.lean_encoder import LeanBertEncoder\n"
        f"e = LeanBertEncoder(Path({str(encoder.path)!r}), Path({str(graph)!r}))\n"
        f"v = e.embed({TEXTS[0]!r})\n"
        "print('torch' in sys.modules, 'onnx' in sys.modules, ' '.join(map(repr, v.tolist())))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=120
    ).stdout.split()
    assert out[:2] == ["False", "False"]  # no torch, and no graph building: read from the file
    assert np.abs(np.asarray([float(x) for x in out[2:]]) - first).max() < 1e-6


def test_a_damaged_graph_file_is_rebuilt(encoder, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    graph = tmp_path / "graph.onnx"
    graph.write_bytes(b"not an onnx graph")
    vector = LeanBertEncoder(encoder.path, graph).embed(TEXTS[0])
    assert vector == pytest.approx(encoder.encode([TEXTS[0]])[0], abs=1e-5)
    assert graph.stat().st_size > 1_000_000
