"""The relevance gate of `tool_choice="auto"` in `lamina serve`, with the real encoder (the
packaged all-MiniLM-L6-v2, the agent's `ToolRelevance` at its default thresholds) and the real
SmolLM2-135M, over requests and tools of this file's own (not BFCL's).

What is asserted is the decision and the shape of the reply (a text answer with no tools shown to
the model, or the model's own choice), never the model's prose.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from openai import OpenAI

from lamina import Agent
from lamina.config import get_settings
from lamina.guards.tool_relevance import FITS_ABOVE, ToolRelevance
from lamina.serving.app import create_app
from lamina.serving.local import serve_in_thread

MODEL = "smollm2-135m-instruct"


def function(name: str, description: str, **properties: str) -> dict[str, Any]:
    return {
        "type": "function",
        "function": {
            "name": name,
            "description": description,
            "parameters": {
                "type": "object",
                "properties": {k: {"type": t, "maxLength": 40} for k, t in properties.items()},
                "required": list(properties),
            },
        },
    }


WEATHER = function("get_weather", "The current weather in a city.", city="string")
CURRENCY = function(
    "convert_currency",
    "Convert an amount of money from one currency to another.",
    amount="string",
    source="string",
    target="string",
)
EMAIL = function("send_email", "Send an email to a recipient.", to="string", subject="string")
TOOLS = [WEATHER, CURRENCY, EMAIL]


@pytest.fixture(scope="module")
def client(pool, encoder, tmp_path_factory):
    agent = Agent(
        pool=pool,
        settings=get_settings(home=tmp_path_factory.mktemp("gate_home"), seed=0),
        routes=[],
        memory=False,
        step_cache=False,
        checkpointer=":memory:",
        tool_relevance=ToolRelevance(encoder=encoder),
    )
    with serve_in_thread(create_app(agent)) as base:
        yield OpenAI(base_url=f"{base}/v1", api_key="unused", max_retries=0, timeout=300)
    agent.close()


def ask(client: OpenAI, request: str, tools: list[dict[str, Any]]) -> Any:
    return client.chat.completions.create(
        model=MODEL,
        messages=[{"role": "user", "content": request}],
        tools=tools,
        tool_choice="auto",
        temperature=0,
        max_tokens=48,
        seed=0,
    )


@pytest.mark.parametrize(
    ("request_text", "tools"),
    [
        ("Write a short poem about the sea.", TOOLS),
        ("Who painted the Mona Lisa?", TOOLS),
        ("Summarise the plot of Hamlet in two sentences.", TOOLS),
        # a conversion, but the only tool offered is the weather
        ("Convert 250 euros to Japanese yen.", [WEATHER]),
    ],
)
def test_a_request_no_tool_fits_is_answered_in_text(client, request_text, tools) -> None:
    reply = ask(client, request_text, tools)
    choice = reply.choices[0]
    assert choice.message.tool_calls is None
    assert choice.finish_reason in ("stop", "length")
    assert choice.message.content
    decision = reply.model_extra["lamina"]["tool_relevance"]
    assert decision["outcome"] == "text answer"
    assert set(decision["scores"]) == {t["function"]["name"] for t in tools}
    assert decision["best"] < FITS_ABOVE


@pytest.mark.parametrize(
    ("request_text", "fitting"),
    [
        ("What's the weather like in Lisbon right now?", "get_weather"),
        ("Convert 250 euros to Japanese yen.", "convert_currency"),
        ("Email Maria that the meeting moved to Friday.", "send_email"),
        # no lookup word and no tool's name: the amount asked in a currency says a tool
        ("How much is 40 dollars in pounds?", "convert_currency"),
    ],
)
def test_a_request_a_tool_fits_is_left_to_the_model(client, request_text, fitting) -> None:
    reply = ask(client, request_text, TOOLS)
    decision = reply.model_extra["lamina"]["tool_relevance"]
    assert decision["outcome"] == "model chooses"
    assert max(decision["scores"], key=decision["scores"].get) == fitting
    for call in reply.choices[0].message.tool_calls or []:  # the model's choice: any tool or text
        assert call.function.name in {t["function"]["name"] for t in TOOLS}
        assert isinstance(json.loads(call.function.arguments), dict)
