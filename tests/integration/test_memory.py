"""Long-term memory with the real all-MiniLM-L6-v2 encoder and real embedded Chroma."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any, cast

import pytest
from langchain_core.messages import HumanMessage
from langgraph.runtime import Runtime

from lamina.graphs.context import AgentContext, StaticModels
from lamina.graphs.state import AgentState
from lamina.layers.memory import make_memory_node, make_memory_writeback_node
from lamina.memory_store.chroma_store import MemoryStore
from lamina.memory_store.embeddings import Encoder


@pytest.fixture
def store(tmp_path: Path, encoder: Encoder) -> Iterator[MemoryStore]:
    s = MemoryStore(tmp_path / "memory", encoder=encoder)
    yield s
    s.close()


def _runtime(store: MemoryStore) -> Runtime[AgentContext]:
    return Runtime(
        context=AgentContext(models=StaticModels({}), default_model="none", memory=store)
    )


def _state(task: str, user_id: str, thread_id: str, **extra: Any) -> AgentState:
    raw: dict[str, Any] = {
        "messages": [HumanMessage(task)],
        "task": task,
        "user_id": user_id,
        "thread_id": thread_id,
        "trace": [],
        **extra,
    }
    return cast(AgentState, raw)


def test_a_fact_told_in_one_thread_is_recalled_in_a_new_thread_for_that_user_only(
    store: MemoryStore,
) -> None:
    write = make_memory_writeback_node()
    recall = make_memory_node(k=3, min_score=0.35)
    runtime = _runtime(store)
    # Other memories of the same user compete with the right one.
    store.add(["My sister lives in Lyon.", "I work as a nurse."], "user-a", thread_id="t0")

    told = write(
        _state("Remember that my favourite colour is teal.", "user-a", "t1", answer="Noted."),
        runtime,
    )
    (teal_id,) = told["trace"][0]["data"]["ids"]

    asked = recall(_state("What is my favourite colour?", "user-a", "t2"), runtime)
    hits = asked["trace"][0]["data"]["hits"]
    assert hits[0]["id"] == teal_id
    assert hits[0]["score"] >= 0.5
    assert "teal" in asked["memories"][0]["text"]
    assert asked["memories"][0]["thread_id"] == "t1"

    other = recall(_state("What is my favourite colour?", "user-b", "t3"), runtime)
    assert other["memories"] == []
    assert teal_id not in [h["id"] for h in other["trace"][0]["data"]["hits"]]


def test_a_near_identical_sentence_updates_instead_of_adding(store: MemoryStore) -> None:
    (first,) = store.add("My favourite colour is teal.", "user-a")
    (again,) = store.add("My favorite color is teal!", "user-a")  # cosine ≈ 0.96 with MiniLM
    (other,) = store.add("My favourite food is pizza.", "user-a")

    assert again == first
    assert other != first
    assert store.count("user-a") == 2
    (m,) = store.get([first], user_id="user-a")
    assert m.text == "My favorite color is teal!"
