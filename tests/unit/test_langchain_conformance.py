"""What LangChain's standard tests expect of a chat model, on a scripted llama (no model files).

Each test pins one framework-level failure `langchain-tests` found (issue 19): list-of-blocks AI
content, `strict=`, `ls_structured_output_format`, pydantic v1 schemas, duplicate tools, the
model override in traces, JSON mode's prompt, and the retries of arguments that do not fit
their schema and of structured output that loops.
"""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest
from langchain_core.callbacks import BaseCallbackHandler
from langchain_core.messages import AIMessage, HumanMessage, ToolMessage
from pydantic import BaseModel, Field
from pydantic.v1 import BaseModel as BaseModelV1

from lamina.errors import ConfigError
from lamina.models.prompting import to_turns
from lamina.models.remote import RemoteChatModel
from lamina.models.tool_calls import bound_tools
from tests.unit.test_tool_calls import chat


class Joke(BaseModel):
    """A joke."""

    setup: str = Field(description="question to set up a joke")
    punchline: str = Field(description="answer to resolve the joke")


class JokeV1(BaseModelV1):
    """A joke."""

    setup: str
    punchline: str


class Magic(BaseModel):
    """Apply a magic function to an input."""

    input: int = Field(gt=-1000, lt=1000)


JOKE = '{"setup": "Why?", "punchline": "Because."}'


class Options(BaseCallbackHandler):
    def __init__(self) -> None:
        self.options: list[dict[str, Any]] = []

    def on_chat_model_start(self, serialized, messages, *, options=None, **kwargs):  # type: ignore[no-untyped-def]
        self.options.append(options or {})


@pytest.mark.parametrize(
    "content",
    [
        # LangChain 1.x output_version="v1": the call is a content block too
        [{"type": "tool_call", "id": "c1", "name": "Magic", "args": {"input": 3}}],
        # Anthropic-style list content
        [
            {"type": "text", "text": "some text"},
            {"type": "tool_use", "id": "c1", "name": "Magic", "input": {"input": 3}},
        ],
    ],
)
def test_ai_messages_with_tool_call_blocks_render_as_calls(content: list[Any]) -> None:
    messages = [
        HumanMessage("magic of 3?"),
        AIMessage(content, tool_calls=[{"name": "Magic", "args": {"input": 3}, "id": "c1"}]),
        ToolMessage("5", tool_call_id="c1"),
    ]
    turns = to_turns(messages, None, tool_role=True)
    assistant = turns[1]
    assert assistant["role"] == "assistant"
    assert assistant["content"].endswith('Action: Magic\n{"input": 3}')
    assert "tool_use" not in assistant["content"]
    assert turns[2] == {"role": "tool", "content": "(Magic) 5"}


def test_tool_use_blocks_without_tool_calls_still_render_as_calls() -> None:
    message = AIMessage([{"type": "tool_use", "id": "c9", "name": "Magic", "input": {"input": 1}}])
    turns = to_turns([HumanMessage("hi"), message], None, tool_role=True)
    assert turns[1]["content"] == 'Action: Magic\n{"input": 1}'


def test_the_v1_reply_of_a_tool_call_goes_back_into_the_model() -> None:
    model, llama = chat([" Magic", '{"input": 3}', " final_answer", "It is 5."])
    v1 = model.model_copy(update={"output_version": "v1"})
    bound = v1.bind_tools([Magic])
    call = bound.invoke("magic of 3?")
    assert any(block["type"] == "tool_call" for block in call.content_blocks)
    answer = bound.invoke(
        [HumanMessage("magic of 3?"), call, ToolMessage("5", tool_call_id=call.tool_calls[0]["id"])]
    )
    assert answer.text == "It is 5."
    assert 'Action: Magic\n{"input": 3}' in llama.prompts[2]


def test_strict_is_accepted_and_never_reaches_the_call() -> None:
    model, _ = chat([" Magic", '{"input": 3}', JOKE])
    reply = model.bind_tools([Magic], strict=True).invoke("magic of 3?")
    assert reply.tool_calls[0]["args"] == {"input": 3}
    joke = model.with_structured_output(Joke, strict=True).invoke("a joke")
    assert joke == Joke(setup="Why?", punchline="Because.")


def test_structured_output_tells_callbacks_its_schema_and_method() -> None:
    model, _ = chat([JOKE])
    handler = Options()
    model.with_structured_output(Joke, method="json_schema").invoke(
        "a joke", config={"callbacks": [handler]}
    )
    (options,) = handler.options
    fmt = options["ls_structured_output_format"]
    assert fmt["kwargs"] == {"method": "json_schema"}
    assert fmt["schema"]["title"] == "Joke"
    assert set(fmt["schema"]["properties"]) == {"setup", "punchline"}


def test_a_pydantic_v1_schema_returns_an_instance() -> None:
    model, _ = chat([JOKE, JOKE])
    assert model.with_structured_output(JokeV1).invoke("a joke") == JokeV1(
        setup="Why?", punchline="Because."
    )
    raw = model.with_structured_output(JokeV1, include_raw=True).invoke("a joke")
    assert isinstance(raw["parsed"], JokeV1)


def test_json_mode_does_not_show_a_schema_to_copy() -> None:
    model, llama = chat([JOKE])
    joke = model.with_structured_output(Joke, method="json_mode").invoke(
        "Tell me a joke as JSON with 'setup' and 'punchline' keys."
    )
    assert joke == Joke(setup="Why?", punchline="Because.")
    assert '{"type":"object"}' not in llama.prompts[0]
    assert "Reply with only a JSON object." in llama.prompts[0]


def test_a_tool_given_twice_is_bound_once_and_two_different_tools_of_one_name_are_refused() -> None:
    tools = bound_tools([Joke, Joke.model_json_schema()])
    assert [t["function"]["name"] for t in tools] == ["Joke"]

    class Other(BaseModel):
        """Something else."""

        x: int

    clash = {**Other.model_json_schema(), "title": "Joke"}
    with pytest.raises(ConfigError, match="two different tools called 'Joke'"):
        bound_tools([Joke, clash])


def test_traces_report_the_model_a_call_overrides() -> None:
    model, _ = chat([])
    assert model._get_ls_params()["ls_model_name"] == "scripted"
    assert model._get_ls_params(model="other")["ls_model_name"] == "other"


def test_arguments_that_do_not_fit_the_schema_get_one_sampled_retry() -> None:
    # A bound the grammar cannot hold (a float's): the first arguments fail validation.
    class Ratio(BaseModel):
        """A ratio."""

        value: float = Field(lt=1.0)

    model, llama = chat(['{"value": 5.0}', '{"value": 0.5}'])
    reply = model.bind_tools([Ratio], tool_choice="Ratio").invoke("half")
    assert reply.tool_calls[0]["args"] == {"value": 0.5}
    assert llama.options[0]["temperature"] == 0.0
    assert llama.options[1]["temperature"] > 0.0
    assert llama.options[1]["seed"] is not None
    assert llama.prompts[0] == llama.prompts[1]


def test_structured_output_that_loops_inside_a_string_is_decoded_again_with_a_penalty() -> None:
    loop = '{"setup": "' + "a cat and " * 20
    model, llama = chat([(loop, "length"), JOKE])
    joke = model.with_structured_output(Joke).invoke("a joke")
    assert joke == Joke(setup="Why?", punchline="Because.")
    assert llama.options[1]["repeat_penalty"] > llama.options[0]["repeat_penalty"]


def test_the_remote_model_takes_the_same_options(monkeypatch: pytest.MonkeyPatch) -> None:
    bodies: list[dict[str, Any]] = []

    def handle(request: httpx.Request) -> httpx.Response:
        bodies.append(json.loads(request.content))
        message = {"role": "assistant", "content": JOKE}
        return httpx.Response(
            200, json={"choices": [{"message": message, "finish_reason": "stop"}], "usage": {}}
        )

    model = RemoteChatModel(model_name="far", endpoint="http://model-host:9/v1", backoff=0.0)
    model._client = httpx.Client(transport=httpx.MockTransport(handle))
    handler = Options()
    joke = model.with_structured_output(JokeV1, strict=True).invoke(
        "a joke", config={"callbacks": [handler]}
    )
    assert joke == JokeV1(setup="Why?", punchline="Because.")
    assert handler.options[0]["ls_structured_output_format"]["kwargs"]["strict"] is True
    assert "strict" not in bodies[0]
    model.bind_tools([Joke, Joke.model_json_schema()], parallel_tool_calls=False, strict=True)
