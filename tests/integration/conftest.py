"""Integration fixtures: the real GGUF models, loaded once per test session.

Models are read from the normal models dir (`make test` provisions them); everything else lamina
writes (memory, caches) goes to a temporary LAMINA_HOME-like directory per test.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Iterator
from typing import Any

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")
os.environ.setdefault("GOMP_SPINCOUNT", "10000")  # see lamina.config.bounded_openmp_spin

from lamina.config import get_settings
from lamina.models.pool import ModelPool

N_THREADS = int(os.environ.get("LAMINA_N_THREADS", "2"))
"""The numeric path: 2 threads unless LAMINA_N_THREADS says otherwise (`make test` runs a pinned
subset on a second path too: test_numeric_paths.py). The pool below and every agent a test
builds use it (see :func:`_numeric_path`), so `LAMINA_N_THREADS=1 LAMINA_KV_CACHE=off pytest
tests/integration` runs the whole suite on the other path."""
SEED = 0


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "tests/integration" in str(item.fspath):
            item.add_marker(pytest.mark.integration)


@pytest.fixture(scope="session")
def pool() -> Iterator[ModelPool]:
    """One model pool for the whole session: each model loads once."""
    settings = get_settings(n_threads=N_THREADS, seed=SEED)
    p = ModelPool(settings)
    yield p
    p.close()


@pytest.fixture(scope="session")
def smollm2(pool: ModelPool):  # type: ignore[no-untyped-def]
    """SmolLM2-135M-Instruct, deterministic: temperature 0, fixed seed, capped tokens."""
    return pool.chat_model("smollm2-135m-instruct", temperature=0.0, seed=SEED, max_tokens=128)


@pytest.fixture(scope="session")
def gemma(pool: ModelPool):  # type: ignore[no-untyped-def]
    """Gemma 3 270M (base), deterministic."""
    return pool.chat_model("gemma3-270m", temperature=0.0, seed=SEED, max_tokens=64)


@pytest.fixture(scope="session")
def encoder():  # type: ignore[no-untyped-def]
    """The packaged all-MiniLM-L6-v2 encoder."""
    from lamina.models.encoder import default_encoder

    return default_encoder()


@pytest.fixture(scope="module", autouse=True)
def _numeric_path() -> Iterator[None]:
    """LAMINA_N_THREADS for each integration module (its agents' settings and subprocesses read
    it), restored afterwards so the unit tests of the same session see the environment as it
    was."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("LAMINA_N_THREADS", str(N_THREADS))
        yield


@pytest.fixture(scope="module")
def tools_agent(pool: ModelPool, tmp_path_factory: pytest.TempPathFactory, request: Any) -> Any:
    """An agent over the test module's `AGENT_TOOLS` and lamina's calculator, on the session's
    pool: no memory, an in-memory checkpointer, replies capped at 96 tokens, seed 0."""
    from lamina import Agent
    from lamina.tools.calculator import calculator

    home = tmp_path_factory.mktemp(request.module.__name__.rpartition(".")[2])
    agent = Agent(
        pool=pool,
        settings=get_settings(home=home, seed=SEED),
        memory=False,
        tools=[*request.module.AGENT_TOOLS, calculator],
        checkpointer=":memory:",
        model_settings={"max_tokens": 96},
    )
    yield agent
    agent.close()


def _answer_figures(answer: str) -> list[float]:
    """The figures of an answer's own line (after "Answer:" when the answer lists its steps)."""
    tail = answer.split("Answer:")[-1]
    return [float(x) for x in re.findall(r"-?\d+(?:\.\d+)?", tail.replace(",", ""))]


@pytest.fixture(scope="session")
def answer_figures() -> Callable[[str], list[float]]:
    """The figures an answer gives a user (see `_answer_figures`), to assert them."""
    return _answer_figures
