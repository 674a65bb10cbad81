"""OpenAI tool calling and the other Chat Completions options of a model served directly, over
scripted models (no model files): the shapes, the checks and the 400s."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest
from langchain_core.messages import AIMessage, AIMessageChunk, BaseMessage, ToolMessage
from langchain_core.outputs import ChatGenerationChunk

from lamina import Agent
from lamina.models.testing import FakeChatModel, ToolCallScript
from lamina.serving.app import create_app
from lamina.serving.local import serve_in_thread

WEATHER = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "The weather in a city.",
        "parameters": {
            "type": "object",
            "properties": {"city": {"type": "string"}},
            "required": ["city"],
        },
    },
}


class RecordingModel(FakeChatModel):
    """A scripted model that records the options of every call and streams text per word."""

    options: list[dict[str, Any]] = []  # noqa: RUF012 (pydantic copies the default)

    def _generate(self, messages: list[BaseMessage], stop: Any = None, **kwargs: Any) -> Any:
        self.options.append(
            {"stop": stop, **{k: v for k, v in kwargs.items() if k != "run_manager"}}
        )
        return super()._generate(messages, stop=stop, **kwargs)

    def _stream(self, messages: list[BaseMessage], stop: Any = None, **kwargs: Any) -> Any:
        whole = self._generate(messages, stop=stop, **kwargs).generations[0].message
        words = str(whole.content).split(" ")
        for i, word in enumerate(words):
            yield ChatGenerationChunk(
                message=AIMessageChunk(content=word + (" " if i < len(words) - 1 else ""))
            )
        yield ChatGenerationChunk(
            message=AIMessageChunk(
                content="",
                usage_metadata={"input_tokens": 5, "output_tokens": 3, "total_tokens": 8},
                response_metadata={"finish_reason": "length"},
            )
        )


def scripted_agent(model: FakeChatModel) -> Agent:
    """An agent with only `model` (no router, memory, cache or encoder), for serving tests."""
    return Agent(
        chat_models={"fake": model},
        routes=[],
        memory=False,
        step_cache=False,
        checkpointer=":memory:",
        tool_relevance=False,  # the model's own choice; the relevance gate: test_tool_gate.py
    )


def serve(model: FakeChatModel) -> Any:
    agent = scripted_agent(model)
    return agent, serve_in_thread(create_app(agent))


PARIS_CALL = [
    {
        "role": "assistant",
        "content": None,
        "tool_calls": [
            {
                "id": "call_1",
                "type": "function",
                "function": {"name": "get_weather", "arguments": '{"city": "Paris"}'},
            }
        ],
    },
    {"role": "tool", "tool_call_id": "call_1", "content": "21 degrees"},
]
"""A history's `get_weather("Paris")` call and its result, as OpenAI clients send them."""


def post(url: str, **body: Any) -> httpx.Response:
    body.setdefault("model", "fake")
    body.setdefault("messages", [{"role": "user", "content": "Weather in Paris?"}])
    return httpx.post(f"{url}/v1/chat/completions", json=body, timeout=30)


def events(url: str, **body: Any) -> list[dict[str, Any]]:
    body.setdefault("model", "fake")
    body.setdefault("messages", [{"role": "user", "content": "Weather in Paris?"}])
    with httpx.stream("POST", f"{url}/v1/chat/completions", json={**body, "stream": True}) as r:
        assert r.status_code == 200, r.read()
        lines = [line[6:] for line in r.iter_lines() if line.startswith("data: ")]
    assert lines[-1] == "[DONE]"
    return [json.loads(line) for line in lines[:-1]]


@pytest.fixture
def tool_server():
    model = RecordingModel(responses=[ToolCallScript("get_weather", {"city": "Paris"})] * 20)
    agent, server = serve(model)
    with server as url:
        yield url, model
    agent.close()


def test_a_tool_call_comes_back_in_openai_shape(tool_server) -> None:
    url, model = tool_server
    reply = post(url, tools=[WEATHER], tool_choice="required")
    assert reply.status_code == 200, reply.text
    choice = reply.json()["choices"][0]
    assert choice["finish_reason"] == "tool_calls"
    assert choice["message"]["content"] is None
    [call] = choice["message"]["tool_calls"]
    assert call["type"] == "function"
    assert call["id"].startswith("call_")
    assert call["function"]["name"] == "get_weather"
    assert json.loads(call["function"]["arguments"]) == {"city": "Paris"}
    assert model.bound_tools == ["get_weather"]
    assert model.tool_choices == ["required"]


@pytest.mark.parametrize(
    ("sent", "bound"),
    [
        (None, "auto"),
        ("auto", "auto"),
        ("required", "required"),
        ({"type": "function", "function": {"name": "get_weather"}}, "get_weather"),
    ],
)
def test_tool_choice_reaches_bind_tools(tool_server, sent: Any, bound: str) -> None:
    url, model = tool_server
    body: dict[str, Any] = {"tools": [WEATHER]}
    if sent is not None:
        body["tool_choice"] = sent
    assert post(url, **body).status_code == 200
    assert model.tool_choices[-1] == bound


def test_tool_choice_none_answers_without_binding_the_tools() -> None:
    model = RecordingModel(responses=["It is sunny."])
    agent, server = serve(model)
    with server as url:
        reply = post(url, tools=[WEATHER], tool_choice="none")
    agent.close()
    assert reply.json()["choices"][0]["message"] == {"role": "assistant", "content": "It is sunny."}
    assert model.tool_choices == []


def test_a_streamed_tool_call_comes_as_openai_deltas(tool_server) -> None:
    url, _ = tool_server
    chunks = events(url, tools=[WEATHER], tool_choice="required")
    deltas = [c["choices"][0]["delta"] for c in chunks]
    assert deltas[0]["role"] == "assistant"
    head, args = deltas[1]["tool_calls"][0], deltas[2]["tool_calls"][0]
    assert head["index"] == 0
    assert head["type"] == "function"
    assert head["function"] == {"name": "get_weather", "arguments": ""}
    assert args == {"index": 0, "function": {"arguments": '{"city": "Paris"}'}}
    assert chunks[-1]["choices"][0]["finish_reason"] == "tool_calls"


def test_a_tool_result_in_the_history_reaches_the_model() -> None:
    model = RecordingModel(responses=["It is 21 degrees in Paris."])
    agent, server = serve(model)
    history = [{"role": "user", "content": "Weather in Paris?"}, *PARIS_CALL]
    with server as url:
        reply = post(url, messages=history, tools=[WEATHER])
    agent.close()
    assert reply.status_code == 200, reply.text
    seen = model.calls[0]
    assert isinstance(seen[1], AIMessage)
    assert seen[1].tool_calls[0]["args"] == {"city": "Paris"}
    assert seen[1].tool_calls[0]["id"] == "call_1"
    assert isinstance(seen[2], ToolMessage)
    assert seen[2].tool_call_id == "call_1"


def test_stop_n_seed_and_top_p_reach_the_model() -> None:
    model = RecordingModel(responses=["a", "b", "c"])
    agent, server = serve(model)
    with server as url:
        reply = post(url, stop="\n", n=3, seed=7, top_p=0.5, temperature=0.8)
    agent.close()
    assert reply.status_code == 200, reply.text
    body = reply.json()
    assert [c["message"]["content"] for c in body["choices"]] == ["a", "b", "c"]
    assert [c["index"] for c in body["choices"]] == [0, 1, 2]
    assert [o["seed"] for o in model.options] == [7, 8, 9]
    assert {o["stop"][0] for o in model.options} == {"\n"}
    assert {o["top_p"] for o in model.options} == {0.5}
    assert body["usage"]["completion_tokens"] == 3


def test_a_stream_ends_with_the_models_finish_reason_and_a_usage_chunk() -> None:
    model = RecordingModel(responses=["one two three"])
    agent, server = serve(model)
    with server as url:
        chunks = events(url, max_tokens=3, stream_options={"include_usage": True})
    agent.close()
    text = "".join(c["choices"][0]["delta"].get("content") or "" for c in chunks if c["choices"])
    assert text == "one two three"
    assert chunks[-2]["choices"][0]["finish_reason"] == "length"
    assert all(c["usage"] is None for c in chunks[:-1])
    assert chunks[-1]["choices"] == []
    assert chunks[-1]["usage"] == {"prompt_tokens": 5, "completion_tokens": 3, "total_tokens": 8}


def test_streamed_choices_each_have_their_index() -> None:
    model = RecordingModel(responses=["a", "b"])
    agent, server = serve(model)
    with server as url:
        chunks = events(url, n=2)
    agent.close()
    finished = [c["choices"][0]["index"] for c in chunks if c["choices"][0]["finish_reason"]]
    assert finished == [0, 1]


BAD = [
    ({"tools": [{"type": "code_interpreter"}]}, "tools.0.type"),
    ({"tools": [{"type": "function", "function": {"name": "bad name"}}]}, "tools.0.function.name"),
    ({"tools": [WEATHER, WEATHER]}, "tools.1.function.name"),
    (
        {"tools": [{"type": "function", "function": {"name": "final_answer"}}]},
        "tools.0.function.name",
    ),
    (
        {
            "tools": [
                {"type": "function", "function": {"name": "f", "parameters": {"type": "dict"}}}
            ]
        },
        "tools.0.function.parameters",
    ),
    ({"tool_choice": "required"}, "tool_choice"),
    ({"parallel_tool_calls": True}, "parallel_tool_calls"),
    ({"tools": [WEATHER], "tool_choice": "any"}, "tool_choice"),
    (
        {"tools": [WEATHER], "tool_choice": {"type": "function", "function": {"name": "x"}}},
        "tool_choice",
    ),
    (
        {"tools": [WEATHER], "response_format": {"type": "json_object"}},
        "response_format",
    ),
    ({"n": 9}, "n"),
    ({"stop": ["a", "b", "c", "d", "e"]}, "stop"),
    ({"stream_options": {"include_usage": True}}, "stream_options"),
    ({"logprobs": True}, "logprobs"),
    ({"logit_bias": {"1": 5}}, "logit_bias"),
    ({"presence_penalty": 0.5}, "presence_penalty"),
    ({"functions": [{"name": "f"}]}, "functions"),
    ({"grammar": "root ::= [a-z]+"}, "grammar"),
    (
        {"messages": [{"role": "tool", "tool_call_id": "call_9", "content": "x"}]},
        "messages.0.tool_call_id",
    ),
    (
        {
            "messages": [
                {"role": "user", "content": "hi"},
                {
                    "role": "assistant",
                    "tool_calls": [
                        {
                            "id": "c1",
                            "type": "function",
                            "function": {"name": "f", "arguments": "{"},
                        }
                    ],
                },
                {"role": "tool", "tool_call_id": "c1", "content": "x"},
            ]
        },
        "messages.1.tool_calls.0.function.arguments",
    ),
    (
        {
            "messages": [
                {"role": "user", "content": "hi"},
                {
                    "role": "assistant",
                    "tool_calls": [
                        {
                            "id": "c1",
                            "type": "function",
                            "function": {"name": "f", "arguments": "{}"},
                        }
                    ],
                },
            ]
        },
        "messages",
    ),
]


@pytest.mark.parametrize(("body", "param"), BAD)
def test_what_lamina_cannot_honour_is_a_clear_400(body: dict[str, Any], param: str) -> None:
    model = RecordingModel(responses=["never"])
    agent, server = serve(model)
    with server as url:
        replies = [post(url, **body)]
        if "stream_options" not in body:  # streamed, the same request gets its status too
            replies.append(post(url, stream=True, **body))
    agent.close()
    for reply in replies:
        assert reply.status_code == 400, reply.text
        error = reply.json()["error"]
        assert error["param"] == param
        assert error["type"] == "invalid_request_error"
        assert "Fix" in error["message"] or "Input should" in error["message"]
    assert model.calls == []


@pytest.mark.parametrize(
    "body",
    [
        {"tools": [WEATHER]},
        {"tool_choice": "auto"},
        {"stop": "x"},
        {"n": 2},
        {"response_format": {"type": "json_object"}},
        {
            "messages": [
                {"role": "user", "content": "hi"},
                {"role": "tool", "tool_call_id": "c", "content": "x"},
                {"role": "user", "content": "and?"},
            ]
        },
    ],
)
def test_the_agent_refuses_what_only_a_model_takes(body: dict[str, Any]) -> None:
    model = RecordingModel(responses=["never"])
    agent, server = serve(model)
    with server as url:
        reply = post(url, **{"model": "lamina", **body})
    agent.close()
    assert reply.status_code == 400, reply.text
    assert "Fix" in reply.json()["error"]["message"]
