"""The memory layer's nodes, write policy and memory tools, on real Chroma with a fake encoder."""

from __future__ import annotations

from typing import Any, cast

import pytest
from langchain_core.messages import HumanMessage
from langgraph.graph import END, START, StateGraph
from langgraph.runtime import Runtime

from lamina.core.context import AgentContext, StaticModels
from lamina.core.state import AgentState
from lamina.core.text import render_memories
from lamina.errors import ConfigError, ToolError
from lamina.layers.memory import (
    extract_memories,
    is_noise,
    make_memory_node,
    make_memory_writeback_node,
    worth_remembering,
)
from lamina.layers.memory.tools import make_memory_tools
from lamina.stores.memory import MemoryStore

DIM = 512


def runtime(memory: MemoryStore | None) -> Runtime[AgentContext]:
    return Runtime(
        context=AgentContext(models=StaticModels({}), default_model="fake", memory=memory)
    )


def state(task: str, **extra: Any) -> AgentState:
    return cast(AgentState, {"messages": [HumanMessage(task)], "task": task, "trace": [], **extra})


# --- write policy ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("message", "expected"),
    [
        (
            "Remember that my favourite colour is teal.",
            [("My favourite colour is teal.", "preference")],
        ),
        ("Remember that my sister lives in Lyon.", [("My sister lives in Lyon.", "fact")]),
        ("My name is Ada", [("My name is Ada.", "fact")]),
        ("Hi! I'm Ada. Can you help me with my homework?", [("I'm Ada.", "fact")]),
        (
            "I like green tea. I live in Paris.",
            [("I like green tea.", "preference"), ("I live in Paris.", "fact")],
        ),
        ("Please note: our office moved to Berlin", [("Our office moved to Berlin.", "fact")]),
    ],
)
def test_statements_about_the_user_are_kept(message: str, expected: list[tuple[str, str]]) -> None:
    items = extract_memories(message)
    assert [(i.text, i.kind) for i in items] == expected
    assert worth_remembering(message)


@pytest.mark.parametrize(
    "message",
    [
        "",
        "   ",
        "What is my favourite colour?",
        "Do I have a sister",
        "Summarise this article about whales.",
        "I want you to write a poem about the sea.",
        "Remember to buy milk.",
        "You are a helpful assistant. Answer briefly.",
        "system: you are lamina",
        '{"tool": "calculator", "result": 42}',
        "Traceback (most recent call last):\n  File 'x.py', line 1",
        "Error: division by zero",
        "12 * 7 = 84",
        "ok",
    ],
)
def test_questions_requests_prompts_and_tool_noise_are_not_kept(message: str) -> None:
    assert extract_memories(message) == []
    assert not worth_remembering(message)


def test_noise_detection() -> None:
    assert is_noise("<|im_start|>system\nYou are a bot")
    assert is_noise("[1, 2, 3]")
    assert is_noise("84")
    assert not is_noise("12 * 7 is 84.")
    assert not is_noise("My sister lives in Lyon.")


# --- retrieval node -------------------------------------------------------------------------


def test_memory_node_without_a_store_is_a_no_op() -> None:
    node = make_memory_node()

    out = node(state("What is my favourite colour?"), runtime(None))

    assert out["memories"] == []
    (event,) = out["trace"]
    assert event["layer"] == "memory"
    assert event["data"]["hits"] == []
    assert event["data"]["user_id"] == "default"


def test_memory_node_returns_the_users_memories_with_the_fields_layers_need(
    store: MemoryStore,
) -> None:
    (teal,) = store.add("My favourite colour is teal.", "ada", thread_id="t1")
    store.add("My favourite colour is red.", "bob")
    node = make_memory_node(k=3, min_score=0.3)

    out = node(state("What is my favourite colour?", user_id="ada", thread_id="t2"), runtime(store))

    memories = out["memories"]
    assert [m["id"] for m in memories] == [teal]
    for key in ("id", "text", "score", "created_at", "kind", "user_id", "thread_id"):
        assert key in memories[0]
    assert memories[0]["user_id"] == "ada"
    (event,) = out["trace"]
    assert event["layer"] == "memory"
    assert event["data"]["hits"] == [
        {"id": teal, "score": memories[0]["score"], "similarity": memories[0]["similarity"]}
    ]
    assert event["data"]["user_id"] == "ada"
    assert event["seconds"] >= 0
    assert "teal" in render_memories(memories)


def test_memory_node_uses_the_default_user_and_min_score(store: MemoryStore) -> None:
    (mid,) = store.add("My favourite colour is teal.", "default")

    found = make_memory_node(min_score=0.3)(state("my favourite colour?"), runtime(store))
    strict = make_memory_node(min_score=0.99)(state("my favourite colour?"), runtime(store))

    assert [m["id"] for m in found["memories"]] == [mid]
    assert strict["memories"] == []


def test_memory_node_refuses_bad_k() -> None:
    with pytest.raises(ConfigError, match="k >= 1"):
        make_memory_node(k=0)


# --- write-back node ------------------------------------------------------------------------


def test_a_fact_told_in_one_thread_is_recalled_in_another_for_the_same_user_only(
    store: MemoryStore,
) -> None:
    write = make_memory_writeback_node()
    recall = make_memory_node(k=3, min_score=0.35)

    told = write(
        state(
            "Remember that my favourite colour is teal.",
            user_id="ada",
            thread_id="t1",
            answer="OK.",
        ),
        runtime(store),
    )
    (event,) = told["trace"]
    assert event["layer"] == "memory_write"
    (mid,) = event["data"]["ids"]
    assert event["data"]["thread_id"] == "t1"

    asked = recall(
        state("What is my favourite colour?", user_id="ada", thread_id="t2"), runtime(store)
    )
    other = recall(
        state("What is my favourite colour?", user_id="bob", thread_id="t3"), runtime(store)
    )

    assert mid in [h["id"] for h in asked["trace"][0]["data"]["hits"]]
    assert asked["memories"][0]["thread_id"] == "t1"
    assert other["memories"] == []
    assert other["trace"][0]["data"]["hits"] == []


def test_write_back_skips_questions_prompts_and_empty_answers(store: MemoryStore) -> None:
    write = make_memory_writeback_node(episodes=True)

    for task, answer in [
        ("You are a helpful assistant.", "OK"),
        ("What is 12 * 7?", ""),
        ("", "Hello"),
        ("What is 12 * 7?", '{"tool": "calculator"}'),
    ]:
        out = write(state(task, user_id="ada", answer=answer), runtime(store))
        assert out["trace"][0]["data"]["ids"] == []
    assert store.count() == 0


def test_episodes_are_opt_in(store: MemoryStore) -> None:
    task, answer = "What is 12 * 7?", "12 * 7 is 84."

    plain = make_memory_writeback_node()(state(task, user_id="ada", answer=answer), runtime(store))
    assert plain["trace"][0]["data"]["ids"] == []

    with_episodes = make_memory_writeback_node(episodes=True)
    out = with_episodes(state(task, user_id="ada", thread_id="t1", answer=answer), runtime(store))
    (mid,) = out["trace"][0]["data"]["ids"]
    (m,) = store.get([mid], user_id="ada")
    assert m.kind == "episode"
    assert "12 * 7" in m.text
    assert "84" in m.text
    assert m.thread_id == "t1"


def test_write_back_without_a_store_does_nothing() -> None:
    out = make_memory_writeback_node()(state("My name is Ada.", answer="Hi Ada"), runtime(None))
    assert out["trace"][0]["data"]["ids"] == []
    assert out["trace"][0]["data"]["skipped"] == "no memory store"


def test_telling_a_fact_twice_keeps_one_memory(store: MemoryStore) -> None:
    write = make_memory_writeback_node()
    first = write(state("My name is Ada.", user_id="ada", answer="Hi"), runtime(store))
    again = write(state("my name is Ada", user_id="ada", answer="Hi"), runtime(store))

    assert first["trace"][0]["data"]["ids"] == again["trace"][0]["data"]["ids"]
    assert store.count("ada") == 1


def test_nodes_get_the_store_through_langgraph_runtime_context(store: MemoryStore) -> None:
    graph = StateGraph(AgentState, context_schema=AgentContext)
    graph.add_node("memory", make_memory_node(min_score=0.3))
    graph.add_node("remember", make_memory_writeback_node())
    graph.add_edge(START, "memory")
    graph.add_edge("memory", "remember")
    graph.add_edge("remember", END)
    app = graph.compile()
    ctx = AgentContext(models=StaticModels({}), default_model="fake", memory=store)

    app.invoke(
        state("Remember that my favourite colour is teal.", user_id="ada", answer="OK"),
        context=ctx,
    )
    result = app.invoke(state("What is my favourite colour?", user_id="ada"), context=ctx)

    layers = [e["layer"] for e in result["trace"]]
    assert layers == ["memory", "memory_write"]
    assert "teal" in result["memories"][0]["text"]


# --- tools ----------------------------------------------------------------------------------


def test_remember_and_recall_tools_are_bound_to_one_user(store: MemoryStore) -> None:
    remember, recall = make_memory_tools(store, "ada", thread_id="t1")
    _, bobs_recall = make_memory_tools(store, "bob")

    reply = remember.invoke({"text": "The user's sister lives in Lyon.", "kind": "fact"})

    assert "Remembered" in reply
    (m,) = store.search("sister Lyon", "ada", k=1)
    assert m.id in reply
    assert m.source == "agent"
    assert m.thread_id == "t1"
    assert "Lyon" in recall.invoke({"query": "where does my sister live", "k": 2})
    assert bobs_recall.invoke({"query": "where does my sister live"}) == "No memories found."


def test_memory_tools_have_typed_documented_arguments(store: MemoryStore) -> None:
    remember, recall = make_memory_tools(store, "ada")

    assert (remember.name, recall.name) == ("remember", "recall")
    r_args, q_args = remember.args, recall.args
    assert r_args["text"]["type"] == "string"
    assert set(r_args["kind"]["enum"]) == {"fact", "episode", "preference"}
    assert q_args["k"]["type"] == "integer"
    for args in (r_args, q_args):
        assert all(p.get("description") for p in args.values())


def test_remember_tool_refuses_noise(store: MemoryStore) -> None:
    remember, _ = make_memory_tools(store, "ada")

    with pytest.raises(ToolError, match="Nothing to remember"):
        remember.invoke({"text": "   ", "kind": "fact"})
    with pytest.raises(ToolError, match="Nothing to remember"):
        remember.invoke({"text": "You are a helpful assistant.", "kind": "fact"})
    assert store.count() == 0


# --- recency, kinds and dates in the model's context ------------------------------------------


def test_memory_node_prefers_the_newer_of_two_relevant_memories(
    store: MemoryStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    from datetime import UTC, datetime, timedelta

    import lamina.stores.memory.writer as memory_writer

    year_ago = datetime.now(UTC) - timedelta(days=365)
    monkeypatch.setattr(memory_writer, "utc_now", lambda: year_ago)
    (old,) = store.add("I live in Paris.", "ada")
    monkeypatch.undo()
    (new,) = store.add("I moved to Lyon.", "ada")
    task = state("where do I live", user_id="ada")

    plain = make_memory_node(k=2, min_score=0.2, recency_weight=0.0)(task, runtime(store))
    recent = make_memory_node(k=2, min_score=0.2, recency_weight=0.5)(task, runtime(store))

    assert [m["id"] for m in plain["memories"]] == [old, new]
    assert [m["id"] for m in recent["memories"]] == [new, old]
    hit = recent["trace"][0]["data"]["hits"][0]
    assert hit["score"] > hit["similarity"]
    text = render_memories(recent["memories"])
    assert text.index("Lyon") < text.index("Paris")
    assert f"({year_ago.date().isoformat()}) I live in Paris." in text


def test_memory_node_filters_kinds(store: MemoryStore) -> None:
    store.add("I like green tea.", "ada", kind="preference")
    store.add("I drank green tea.", "ada", kind="episode")

    out = make_memory_node(min_score=0.1, kinds=["preference"])(
        state("green tea", user_id="ada"), runtime(store)
    )

    assert [m["kind"] for m in out["memories"]] == ["preference"]


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"recency_weight": 1.5}, "recency_weight"),
        ({"half_life_days": 0}, "half_life_days"),
        ({"kinds": ["secret"]}, "kinds"),
        ({"kinds": []}, "kinds"),
    ],
)
def test_memory_node_refuses_bad_settings(kwargs: dict[str, Any], match: str) -> None:
    with pytest.raises(ConfigError, match=match):
        make_memory_node(**kwargs)


def test_render_memories_dates_each_memory_by_its_current_wording() -> None:
    moved = {
        "text": "I moved to Lyon.",
        "created_at": "2025-01-02T10:00",
        "updated_at": "2026-03-04T09:00",
    }
    text = render_memories(
        [
            moved,
            {"text": "My cat is Tom.", "created_at": "2024-05-06T00:00:00"},
            {"text": "Undated."},
        ]
    )

    lines = text.splitlines()
    assert lines[0].startswith("What you remember about this user")
    assert lines[1:] == [
        "- (2026-03-04) I moved to Lyon.",
        "- (2024-05-06) My cat is Tom.",
        "- Undated.",
    ]
    assert render_memories([]) == ""


def test_recall_shows_dates_and_remember_refuses_a_document(store: MemoryStore) -> None:
    from lamina.stores.memory import MAX_TEXT_CHARS

    remember, recall = make_memory_tools(store, "ada")
    remember.invoke({"text": "The user's sister lives in Lyon.", "kind": "fact"})

    reply = recall.invoke({"query": "sister", "k": 1})
    (m,) = store.search("sister", "ada", k=1)
    assert f"({m.updated_at[:10]}, fact, score" in reply
    with pytest.raises(ToolError, match=f"at most {MAX_TEXT_CHARS} characters"):
        remember.invoke({"text": "The user wrote " + "a very long text " * 80, "kind": "fact"})
    assert store.count("ada") == 1
