"""OpenAI tool calling through `lamina serve`, on the real SmolLM2-135M, driven by clients lamina
did not write: the official `openai` client, langchain-openai's `ChatOpenAI`, and lamina's own
`RemoteChatModel` pointed at the server.

What is asserted is structure (a call that fits its schema, the finish reason, the shape of the
stream, what `stop`, `n` and `include_usage` do), never the model's prose.
"""

from __future__ import annotations

import json
from typing import Any

import jsonschema
import pytest
from langchain_core.tools import tool
from langchain_openai import ChatOpenAI
from openai import BadRequestError, OpenAI
from pydantic import BaseModel, Field

from lamina import Agent
from lamina.config import get_settings
from lamina.errors import ModelError
from lamina.models.remote import RemoteChatModel
from lamina.serving.app import create_app
from lamina.serving.local import serve_in_thread

MODEL = "smollm2-135m-instruct"
QUESTION = [{"role": "user", "content": "What is the weather in Paris?"}]
WEATHER_PARAMETERS = {
    "type": "object",
    "properties": {
        "city": {"type": "string", "description": "the city", "maxLength": 40},
        "unit": {"type": "string", "enum": ["celsius", "fahrenheit"]},
    },
    "required": ["city"],
    "additionalProperties": False,
}
WEATHER = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Get the current weather in a city.",
        "parameters": WEATHER_PARAMETERS,
    },
}
TIME = {
    "type": "function",
    "function": {
        "name": "get_time",
        "description": "Get the current time in a time zone.",
        "parameters": {
            "type": "object",
            "properties": {"zone": {"type": "string", "maxLength": 40}},
            "required": ["zone"],
        },
    },
}


@tool
def get_weather(city: str) -> str:
    """Get the current weather in a city.

    Args:
        city: the city's name
    """
    return f"Sunny in {city}."


class Person(BaseModel):
    """A person mentioned in the text."""

    name: str = Field(description="the person's first name", max_length=40)
    age: int = Field(description="age in years", ge=0, le=150)


@pytest.fixture(scope="module")
def url(pool, tmp_path_factory):
    home = tmp_path_factory.mktemp("serve_tools_home")
    agent = Agent(
        pool=pool,
        settings=get_settings(home=home, seed=0),
        routes=[],
        memory=False,
        step_cache=False,
        checkpointer=":memory:",
    )
    with serve_in_thread(create_app(agent)) as base:
        yield f"{base}/v1"
    agent.close()


@pytest.fixture(scope="module")
def client(url):
    return OpenAI(base_url=url, api_key="unused", max_retries=0, timeout=300)


def check_call(call: Any, tools: list[dict[str, Any]]) -> dict[str, Any]:
    """The call's arguments, checked against the schema of the tool it names."""
    schemas = {t["function"]["name"]: t["function"]["parameters"] for t in tools}
    assert call.type == "function"
    assert call.id
    assert call.function.name in schemas
    args = json.loads(call.function.arguments)
    jsonschema.validate(args, schemas[call.function.name])
    return args


# -- the official openai client -------------------------------------------------------------------
@pytest.mark.parametrize(
    "tool_choice", ["required", {"type": "function", "function": {"name": "get_time"}}]
)
def test_a_required_or_named_tool_choice_gives_a_schema_valid_call(client, tool_choice) -> None:
    reply = client.chat.completions.create(
        model=MODEL,
        messages=QUESTION,
        tools=[WEATHER, TIME],
        tool_choice=tool_choice,
        temperature=0,
        max_tokens=64,
    )
    choice = reply.choices[0]
    assert choice.finish_reason == "tool_calls"
    assert choice.message.content is None
    assert choice.message.tool_calls
    for call in choice.message.tool_calls:
        check_call(call, [WEATHER, TIME])
    if isinstance(tool_choice, dict):
        assert {c.function.name for c in choice.message.tool_calls} == {"get_time"}
    assert reply.usage.completion_tokens > 0


def test_a_history_with_a_tool_result_gets_a_text_answer(client) -> None:
    history = [
        *QUESTION,
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
        {"role": "tool", "tool_call_id": "call_1", "content": "Sunny, 21 degrees celsius."},
    ]
    for extra in ({}, {"tools": [WEATHER], "tool_choice": "none"}):
        reply = client.chat.completions.create(
            model=MODEL, messages=history, temperature=0, max_tokens=48, **extra
        )
        choice = reply.choices[0]
        assert choice.message.tool_calls is None
        assert choice.message.content.strip()
        assert choice.finish_reason in ("stop", "length")


def test_streamed_tool_call_deltas_reassemble_to_the_same_call(client) -> None:
    request: dict[str, Any] = {
        "model": MODEL,
        "messages": QUESTION,
        "tools": [WEATHER],
        "tool_choice": "required",
        "temperature": 0,
        "seed": 0,
        "max_tokens": 64,
    }
    whole = client.chat.completions.create(**request).choices[0].message.tool_calls
    chunks = list(client.chat.completions.create(**request, stream=True))
    calls: dict[int, dict[str, str]] = {}
    for chunk in chunks:
        for delta in chunk.choices[0].delta.tool_calls or []:
            call = calls.setdefault(delta.index, {"id": "", "name": "", "arguments": ""})
            call["id"] += delta.id or ""
            call["name"] += (delta.function and delta.function.name) or ""
            call["arguments"] += (delta.function and delta.function.arguments) or ""
    assert chunks[-1].choices[0].finish_reason == "tool_calls"
    assert [(c["name"], json.loads(c["arguments"])) for c in calls.values()] == [
        (c.function.name, json.loads(c.function.arguments)) for c in whole
    ]
    assert all(c["id"].startswith("call_") for c in calls.values())


def test_stop_cuts_the_answer_where_the_sequence_begins(client) -> None:
    request: dict[str, Any] = {
        "model": MODEL,
        "messages": [{"role": "user", "content": "List five fruits."}],
        "temperature": 0,
        "max_tokens": 40,
    }
    free = client.chat.completions.create(**request).choices[0].message.content
    words = free.split()
    assert len(words) >= 4, free
    stop = words[len(words) // 2]  # a word from the middle of the model's own answer
    cut = client.chat.completions.create(**request, stop=[stop]).choices[0]
    assert cut.finish_reason == "stop"
    assert cut.message.content == free[: free.index(stop)]
    streamed = client.chat.completions.create(**request, stop=stop, stream=True)
    text = "".join(c.choices[0].delta.content or "" for c in streamed if c.choices)
    assert text == cut.message.content


def test_a_stream_cut_off_says_length_and_include_usage_sends_a_usage_chunk(client) -> None:
    chunks = list(
        client.chat.completions.create(
            model=MODEL,
            messages=[{"role": "user", "content": "Tell me a long story about a dragon."}],
            temperature=0,
            max_tokens=6,
            stream=True,
            stream_options={"include_usage": True},
        )
    )
    finishes = [c.choices[0].finish_reason for c in chunks if c.choices]
    assert finishes[-1] == "length"
    assert chunks[-1].choices == []
    assert 0 < chunks[-1].usage.completion_tokens <= 8  # the text re-tokenised
    assert chunks[-1].usage.prompt_tokens > 0
    assert all(c.usage is None for c in chunks[:-1])


def test_n_gives_that_many_choices(client) -> None:
    request: dict[str, Any] = {
        "model": MODEL,
        "messages": [{"role": "user", "content": "Name an animal."}],
        "temperature": 1.0,
        "max_tokens": 12,
        "seed": 11,
    }
    one = client.chat.completions.create(**request)
    three = client.chat.completions.create(**request, n=3)
    assert [c.index for c in three.choices] == [0, 1, 2]
    assert all(c.finish_reason in ("stop", "length") for c in three.choices)
    # the prompt is counted once, every choice's completion
    assert three.usage.prompt_tokens == one.usage.prompt_tokens
    assert 3 <= three.usage.completion_tokens <= 3 * 12
    streamed = list(client.chat.completions.create(**request, n=2, stream=True))
    finished = sorted(c.choices[0].index for c in streamed if c.choices[0].finish_reason)
    assert finished == [0, 1]


def test_what_is_not_supported_is_a_400_through_the_client(client) -> None:
    with pytest.raises(BadRequestError) as refused:
        client.chat.completions.create(model=MODEL, messages=QUESTION, logprobs=True, max_tokens=4)
    assert refused.value.body["param"] == "logprobs"
    with pytest.raises(BadRequestError) as unknown:
        client.chat.completions.create(
            model=MODEL,
            messages=QUESTION,
            tools=[WEATHER],
            tool_choice={"type": "function", "function": {"name": "get_news"}},
        )
    assert "get_news" in unknown.value.body["message"]


# -- langchain-openai -----------------------------------------------------------------------------
@pytest.fixture(scope="module")
def chat_openai(url):
    return ChatOpenAI(
        model=MODEL, base_url=url, api_key="unused", temperature=0, max_tokens=64, max_retries=0
    )


def test_chat_openai_bind_tools_gives_tool_calls(chat_openai) -> None:
    reply = chat_openai.bind_tools([get_weather], tool_choice="any").invoke(
        "What is the weather in Paris?"
    )
    assert [c["name"] for c in reply.tool_calls] == ["get_weather"]
    assert isinstance(reply.tool_calls[0]["args"]["city"], str)
    assert reply.response_metadata["finish_reason"] == "tool_calls"
    streamed = list(
        chat_openai.bind_tools([get_weather], tool_choice="any").stream(
            "What is the weather in Paris?"
        )
    )
    merged = streamed[0]
    for chunk in streamed[1:]:
        merged = merged + chunk
    assert [(c["name"], c["args"]) for c in merged.tool_calls] == [
        (c["name"], c["args"]) for c in reply.tool_calls
    ]


@pytest.mark.parametrize("method", ["function_calling", "json_schema"])
def test_chat_openai_structured_output(chat_openai, method) -> None:
    structured = chat_openai.with_structured_output(Person, method=method, include_raw=True)
    out = structured.invoke("Ann is 31 years old. Give her name and age.")
    assert out["parsing_error"] is None
    assert isinstance(out["parsed"], Person)
    if method == "function_calling":
        assert [c["name"] for c in out["raw"].tool_calls] == ["Person"]


def test_chat_openai_structured_output_in_json_mode(chat_openai) -> None:
    schema = {
        "title": "Person",
        "description": "A person mentioned in the text.",
        "type": "object",
        "properties": {"name": {"type": "string"}, "age": {"type": "integer"}},
    }
    out = chat_openai.with_structured_output(schema, method="json_mode", include_raw=True).invoke(
        "Ann is 31 years old. Reply with her name and age as a JSON object."
    )
    assert out["parsing_error"] is None
    assert isinstance(out["parsed"], dict)


# -- lamina's RemoteChatModel ---------------------------------------------------------------------
@pytest.mark.parametrize("native_tools", [True, False], ids=["openai-tools", "two-stage"])
def test_remote_chat_model_calls_tools_through_lamina_serve(url, native_tools) -> None:
    remote = RemoteChatModel(
        model_name=MODEL,
        endpoint=url,
        grammar_field=False,
        native_tools=native_tools,
        max_tokens=64,
    )
    try:
        reply = remote.bind_tools([get_weather], tool_choice="required").invoke(
            "What is the weather in Paris?"
        )
        assert [c["name"] for c in reply.tool_calls] == ["get_weather"]
        jsonschema.validate(
            reply.tool_calls[0]["args"], get_weather.args_schema.model_json_schema()
        )
        person = remote.with_structured_output(Person).invoke(
            "Ann is 31 years old. Give her name and age."
        )
        assert isinstance(person, Person)
    finally:
        remote.close()


def test_remote_chat_model_with_a_grammar_field_is_told_to_turn_it_off(url) -> None:
    remote = RemoteChatModel(
        model_name=MODEL, endpoint=url, grammar_field=True, max_tokens=16, max_retries=0
    )
    try:
        with pytest.raises(ModelError, match="grammar_field=False"):
            remote.bind_tools([get_weather], tool_choice="required").invoke("Weather in Paris?")
    finally:
        remote.close()
