"""RemoteChatModel against a scripted OpenAI-compatible endpoint (httpx.MockTransport)."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from pydantic import BaseModel, ValidationError

from lamina.errors import ConfigError, ModelError, ModelOutputError
from lamina.models.catalog import ModelSpec
from lamina.models.pool import ModelPool
from lamina.models.remote import RemoteChatModel
from lamina.scaleout.servers import free_port
from lamina.tools.calculator import calculator

Handler = Callable[[dict[str, Any]], tuple[int, Any]]


def completion(text: str, prompt: int = 5, completion_tokens: int = 3) -> dict[str, Any]:
    return {
        "id": "x",
        "object": "chat.completion",
        "choices": [
            {"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}
        ],
        "usage": {"prompt_tokens": prompt, "completion_tokens": completion_tokens},
    }


def remote(replies: list[Any], bodies: list[dict[str, Any]], **options: Any) -> RemoteChatModel:
    """A model whose endpoint answers `replies` in order: a text, or (status, body)."""
    queue = list(replies)

    def handle(request: httpx.Request) -> httpx.Response:
        bodies.append(json.loads(request.content))
        reply = queue.pop(0)
        if isinstance(reply, tuple):
            return httpx.Response(reply[0], json=reply[1])
        return httpx.Response(200, json=completion(reply))

    model = RemoteChatModel(
        model_name="far", endpoint="http://model-host:9/v1", backoff=0.0, **options
    )
    model._client = httpx.Client(transport=httpx.MockTransport(handle))
    return model


def test_a_plain_call_sends_openai_messages_and_reads_usage() -> None:
    bodies: list[dict[str, Any]] = []
    reply = remote(["Hello!"], bodies, remote_model="smollm2").invoke("Hi", max_tokens=7)
    assert reply.content == "Hello!"
    assert reply.usage_metadata["input_tokens"] == 5
    (body,) = bodies
    assert body["model"] == "smollm2"
    assert body["messages"] == [{"role": "user", "content": "Hi"}]
    assert (body["temperature"], body["max_tokens"], body["seed"]) == (0.0, 7, 0)


def test_tool_calls_are_two_grammar_constrained_requests() -> None:
    bodies: list[dict[str, Any]] = []
    model = remote(["Action: calculator", '{"expression": "12 * 7"}'], bodies)
    reply = model.bind_tools([calculator]).invoke("What is 12 times 7?")
    assert reply.tool_calls[0]["name"] == "calculator"
    assert reply.tool_calls[0]["args"] == {"expression": "12 * 7"}
    choose, arguments = bodies
    assert '"Action: calculator"' in choose["grammar"]
    assert '"Action: final_answer"' in choose["grammar"]
    assert "calculator" in choose["messages"][0]["content"]  # the tools are described
    assert "root" in arguments["grammar"]
    assert arguments["messages"][-2] == {"role": "assistant", "content": "Action: calculator"}
    assert reply.usage_metadata["output_tokens"] == 6


def test_final_answer_is_a_free_text_request() -> None:
    bodies: list[dict[str, Any]] = []
    model = remote(["Action: final_answer", "It is 84."], bodies)
    reply = model.bind_tools([calculator]).invoke("Thanks")
    assert reply.content == "It is 84."
    assert not reply.tool_calls
    assert "grammar" not in bodies[1]


def test_servers_without_grammar_get_json_schemas() -> None:
    bodies: list[dict[str, Any]] = []
    model = remote(
        ['{"action": "calculator"}', '{"expression": "2 + 2"}'], bodies, grammar_field=False
    )
    reply = model.bind_tools([calculator]).invoke("2 + 2?")
    assert reply.tool_calls[0]["args"] == {"expression": "2 + 2"}
    choose, arguments = bodies
    assert "grammar" not in choose
    schema = choose["response_format"]["json_schema"]["schema"]
    assert schema["properties"]["action"]["enum"] == ["calculator", "final_answer"]
    assert "expression" in arguments["response_format"]["json_schema"]["schema"]["properties"]


def tool_calls_reply(*calls: tuple[str, str]) -> tuple[int, dict[str, Any]]:
    """A completion whose message calls tools: (name, arguments as the server wrote them)."""
    message = {
        "role": "assistant",
        "content": None,
        "tool_calls": [
            {"id": f"call_{i}", "type": "function", "function": {"name": n, "arguments": a}}
            for i, (n, a) in enumerate(calls)
        ],
    }
    reply = completion("")
    reply["choices"][0].update(message=message, finish_reason="tool_calls")
    return 200, reply


def test_native_tools_go_to_the_server_as_openai_tools_in_one_request() -> None:
    from langchain_core.messages import AIMessage, HumanMessage, ToolMessage

    bodies: list[dict[str, Any]] = []
    model = remote(
        [tool_calls_reply(("calculator", '{"expression": "85 + 1"}'))], bodies, native_tools=True
    )
    history = [
        HumanMessage("What is 12 times 7, plus 1?"),
        # LangChain 1.x v1 content: the call is a content block as well as in tool_calls
        AIMessage(
            content=[
                {
                    "type": "tool_call",
                    "id": "c1",
                    "name": "calculator",
                    "args": {"expression": "12 * 7"},
                }
            ],
            tool_calls=[{"id": "c1", "name": "calculator", "args": {"expression": "12 * 7"}}],
        ),
        ToolMessage("84", tool_call_id="c1"),
    ]
    reply = model.bind_tools([calculator], tool_choice="any").invoke(history)
    assert reply.tool_calls == [
        {
            "name": "calculator",
            "args": {"expression": "85 + 1"},
            "id": "call_0",
            "type": "tool_call",
        }
    ]
    assert reply.response_metadata["finish_reason"] == "tool_calls"
    (body,) = bodies
    assert [t["function"]["name"] for t in body["tools"]] == ["calculator"]
    assert body["tool_choice"] == "required"  # LangChain's "any" as OpenAI spells it
    assert "grammar" not in body
    assert "response_format" not in body
    _user, assistant, tool = body["messages"]
    assert assistant["content"] == ""
    assert assistant["tool_calls"] == [
        {
            "id": "c1",
            "type": "function",
            "function": {"name": "calculator", "arguments": '{"expression": "12 * 7"}'},
        }
    ]
    assert tool == {"role": "tool", "tool_call_id": "c1", "content": "84"}


def test_native_tools_name_a_forced_tool_and_read_a_text_answer() -> None:
    bodies: list[dict[str, Any]] = []
    model = remote(["It is 84."], bodies, native_tools=True)
    reply = model.bind_tools([calculator], tool_choice="calculator").invoke("12 * 7?")
    assert reply.content == "It is 84."
    assert not reply.tool_calls
    assert bodies[0]["tool_choice"] == {"type": "function", "function": {"name": "calculator"}}


@pytest.mark.parametrize(
    ("call", "found"),
    [
        (("shell", '{"cmd": "ls"}'), "called 'shell'"),
        (("calculator", '{"expression": '), "not JSON"),
        (("calculator", '{"expr": "1"}'), "expression"),
    ],
)
def test_native_tool_calls_that_break_the_tools_are_model_output_errors(call, found) -> None:
    model = remote([tool_calls_reply(call)], [], native_tools=True)
    with pytest.raises(ModelOutputError, match=found):
        model.bind_tools([calculator]).invoke("12 * 7?")


def test_arguments_that_break_the_schema_are_a_model_output_error() -> None:
    model = remote(["Action: calculator", '{"expr": 1}'], [])
    with pytest.raises(ModelOutputError, match="calculator"):
        model.bind_tools([calculator]).invoke("What is 12 times 7?")


def test_structured_output_is_constrained_and_parsed() -> None:
    class City(BaseModel):
        name: str

    bodies: list[dict[str, Any]] = []
    city = remote(['{"name": "Paris"}'], bodies).with_structured_output(City).invoke("Capital?")
    assert city == City(name="Paris")
    assert "grammar" in bodies[0]


def test_transient_failures_are_retried_then_succeed() -> None:
    bodies: list[dict[str, Any]] = []
    model = remote([(503, {"error": "busy"}), (502, {}), "ok"], bodies, max_retries=2)
    assert model.invoke("hi").content == "ok"
    assert len(bodies) == 3


def test_a_refused_request_is_not_retried() -> None:
    bodies: list[dict[str, Any]] = []
    model = remote([(400, {"error": "bad model"}), "never"], bodies)
    with pytest.raises(ModelError, match="HTTP 400"):
        model.invoke("hi")
    assert len(bodies) == 1


def test_an_unreachable_endpoint_is_a_model_error_after_the_retries() -> None:
    port = free_port()
    model = RemoteChatModel(
        model_name="far", endpoint=f"http://127.0.0.1:{port}/v1", max_retries=1, backoff=0.0
    )
    with pytest.raises(ModelError, match=r"could not be reached after 2 attempt\(s\)") as info:
        model.invoke("hi")
    assert "fallback" in str(info.value)


def test_specs_with_an_endpoint_give_remote_models(tmp_path) -> None:
    from lamina.config import get_settings

    spec = ModelSpec(name="far", endpoint="http://10.0.0.5:8000/v1/", remote_model="smol")
    assert spec.endpoint == "http://10.0.0.5:8000/v1"
    assert spec.is_remote
    pool = ModelPool(get_settings(home=tmp_path))
    pool.register(spec)
    model = pool.chat_model("far", max_tokens=9)
    assert isinstance(model, RemoteChatModel)
    assert (model.remote_model, model.max_tokens) == ("smol", 9)


def test_bad_endpoint_specs_are_refused() -> None:
    with pytest.raises(ValidationError, match="http"):
        ModelSpec(name="far", endpoint="model-host:8000")
    spec = ModelSpec(name="far", endpoint="http://h:1/v1", api_key_env="LAMINA_TEST_UNSET_KEY")
    with pytest.raises(ConfigError, match="LAMINA_TEST_UNSET_KEY"):
        RemoteChatModel.from_spec(spec)


def test_base_models_get_lamina_completion_layout_on_completions() -> None:
    paths: list[str] = []
    bodies: list[dict[str, Any]] = []

    def handle(request: httpx.Request) -> httpx.Response:
        paths.append(request.url.path)
        bodies.append(json.loads(request.content))
        return httpx.Response(
            200,
            json={
                "choices": [{"text": " A short summary.", "finish_reason": "stop"}],
                "usage": {"prompt_tokens": 9, "completion_tokens": 4},
            },
        )

    model = RemoteChatModel(
        model_name="base", endpoint="http://h:1/v1", prompt_format="completion", backoff=0.0
    )
    model._client = httpx.Client(transport=httpx.MockTransport(handle))
    reply = model.invoke("Summarise: the train was late.")
    assert reply.content == "A short summary."
    assert paths == ["/v1/completions"]
    (body,) = bodies
    assert "messages" not in body
    assert body["prompt"] == "Summarise: the train was late."  # a lone request is plain text
    with pytest.raises(ConfigError, match="chat model"):
        model.bind_tools([calculator]).invoke("2 + 2?")
