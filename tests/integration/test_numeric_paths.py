"""The answers users see, under more than one llama.cpp numeric path.

Different CPUs round llama.cpp's kernels differently, so a greedy answer that is right on one
machine's exact outputs only is not right. Each run here uses a fresh LAMINA_HOME (no step cache
or KV state carried over) and one of two numeric paths: 2 threads with the RAM KV prefix cache,
and 1 thread with the KV prefix cache off (another thread split and another evaluation order).
The demo and both examples assert their own answers and exit non-zero when one is wrong.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

PATHS = {
    "2-threads-kv-ram": {"LAMINA_N_THREADS": "2", "LAMINA_KV_CACHE": "ram"},
    "1-thread-kv-off": {"LAMINA_N_THREADS": "1", "LAMINA_KV_CACHE": "off"},
}


def _run(args: list[str], numeric: dict[str, str], home: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, **numeric, "LAMINA_HOME": str(home), "PYTHONPATH": str(ROOT)}
    return subprocess.run(
        [sys.executable, *args], capture_output=True, text=True, env=env, timeout=900
    )


@pytest.mark.parametrize("path", sorted(PATHS))
def test_the_demo_answers_right(path: str, tmp_path: Path) -> None:
    out = _run(["-m", "lamina.demo"], PATHS[path], tmp_path)
    assert out.returncode == 0, out.stdout[-4000:] + out.stderr[-2000:]
    assert "all 3 demo answers are right." in out.stdout


@pytest.mark.parametrize("example", ["custom_tool.py", "custom_graph.py"])
def test_the_examples_answer_right_on_the_second_path(example: str, tmp_path: Path) -> None:
    out = _run([str(ROOT / "examples" / example)], PATHS["1-thread-kv-off"], tmp_path)
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]
