"""The input layer: normalisation and clear errors for bad requests."""

from __future__ import annotations

import pytest
from langchain_core.messages import AIMessage, HumanMessage

from lamina.errors import InputError
from lamina.layers.input import make_input_node, normalise_task, to_messages


def test_normalise_strips_and_cleans_control_characters():
    assert normalise_task("  what is\x00 2+2?\r\n ") == "what is 2+2?"


def test_bytes_must_be_utf8():
    assert normalise_task("café".encode()) == "café"
    with pytest.raises(InputError, match="not valid UTF-8"):
        normalise_task(b"caf\xe9")


@pytest.mark.parametrize("task", ["", "   ", "\n\t", "\x00\x01"])
def test_empty_tasks_are_refused(task):
    with pytest.raises(InputError, match="empty or whitespace-only"):
        normalise_task(task)


def test_size_limit_says_both_numbers():
    with pytest.raises(InputError, match=r"at most 10 characters; found 11"):
        normalise_task("x" * 11, max_chars=10)


def test_lone_surrogates_are_refused():
    with pytest.raises(InputError, match="surrogate"):
        normalise_task("abc\udcff")


def test_to_messages_accepts_text_and_dicts():
    assert to_messages("hi")[0].content == "hi"
    msgs = to_messages([{"role": "user", "content": "hello"}])
    assert isinstance(msgs[0], HumanMessage)
    with pytest.raises(InputError):
        to_messages([])
    with pytest.raises(InputError):
        to_messages(42)  # type: ignore[arg-type]


def test_input_node_resets_per_run_fields_and_keeps_user():
    node = make_input_node()
    update = node(
        {
            "messages": [HumanMessage("first"), AIMessage("ok"), HumanMessage("  second  ")],
            "user_id": "ada",
            "trace": [],
        }
    )
    assert update["task"] == "second"
    assert update["user_id"] == "ada"
    assert update["plan"] == []
    assert update["step_results"] == []
    assert update["answer"] == ""
    assert update["trace"][0]["layer"] == "input"


def test_input_node_default_user_and_bad_ids():
    node = make_input_node()
    assert node({"messages": [HumanMessage("x")], "trace": []})["user_id"] == "default"
    with pytest.raises(InputError, match="user_id"):
        node({"messages": [HumanMessage("x")], "user_id": "a b/c", "trace": []})
    with pytest.raises(InputError, match="at least one user message"):
        node({"messages": [AIMessage("x")], "trace": []})
