"""The llama.cpp chat model against the real small models (SmolLM2-135M, Gemma 3 270M)."""

from __future__ import annotations

import asyncio
import enum
from concurrent.futures import ThreadPoolExecutor
from typing import Annotated

import jsonschema
import pytest
from langchain_core.messages import AIMessage, HumanMessage, SystemMessage, ToolMessage
from langchain_core.tools import tool
from pydantic import BaseModel, Field

from lamina.errors import ModelOutputError

SYSTEM = SystemMessage("You are a helpful assistant. Answer briefly.")


def _usage_ok(message: AIMessage) -> None:
    usage = message.usage_metadata
    assert usage is not None
    assert usage["input_tokens"] > 0
    assert usage["output_tokens"] > 0
    assert usage["total_tokens"] == usage["input_tokens"] + usage["output_tokens"]


def test_answers_a_simple_question(smollm2) -> None:
    reply = smollm2.invoke([SYSTEM, HumanMessage("What is the capital of France?")])

    assert isinstance(reply, AIMessage)
    assert "paris" in reply.content.lower()
    _usage_ok(reply)
    assert reply.response_metadata["finish_reason"] in {"stop", "length"}


def test_stream_concatenation_equals_invoke(smollm2) -> None:
    llm = smollm2.bind(max_tokens=24)
    messages = [SYSTEM, HumanMessage("Name three colours.")]

    chunks = list(llm.stream(messages))
    whole = llm.invoke(messages)

    texts = [c.content for c in chunks if c.content]
    assert len(texts) >= 3
    assert "".join(texts) == whole.content
    assert chunks[-1].usage_metadata is not None
    assert chunks[-1].usage_metadata["output_tokens"] > 0


def test_ainvoke_and_batch(smollm2) -> None:
    llm = smollm2.bind(max_tokens=8)
    reply = asyncio.run(llm.ainvoke([SYSTEM, HumanMessage("Say hello.")]))
    replies = llm.batch([[SYSTEM, HumanMessage("Say hi.")], [SYSTEM, HumanMessage("Say bye.")]])

    assert isinstance(reply, AIMessage)
    assert reply.content
    _usage_ok(reply)
    assert len(replies) == 2
    assert all(isinstance(r, AIMessage) and r.content for r in replies)


def test_stop_sequences_cut_the_answer(smollm2) -> None:
    messages = [SYSTEM, HumanMessage("Count from 1 to 10, separated by commas.")]
    full = smollm2.bind(max_tokens=40).invoke(messages).content
    # Stop at a character the answer really holds, whatever its layout on this CPU.
    stop = next((c for c in (",", "\n", ".", " ") if c in full.strip()), None)
    assert stop is not None, full

    cut = smollm2.bind(max_tokens=40).invoke(messages, stop=[stop]).content

    assert stop not in cut
    assert len(cut) < len(full)
    # the same greedy answer up to the stop, though the second call reused the first's prefix
    assert full.startswith(cut)


def test_eight_threads_share_one_model(smollm2) -> None:
    llm = smollm2.bind(max_tokens=6)

    def ask(i: int) -> AIMessage:
        return llm.invoke([SYSTEM, HumanMessage(f"Say the number {i}.")])

    with ThreadPoolExecutor(max_workers=8) as workers:
        replies = list(workers.map(ask, range(8)))

    assert len(replies) == 8
    assert all(isinstance(r, AIMessage) and r.usage_metadata for r in replies)


class Mood(enum.Enum):
    HAPPY = "happy"
    SAD = "sad"
    NEUTRAL = "neutral"


class Place(BaseModel):
    city: str = Field(max_length=24)
    country: str = Field(max_length=24)


class Profile(BaseModel):
    name: str = Field(max_length=24)
    age: int
    mood: Mood
    hobbies: list[Annotated[str, Field(max_length=20)]] = Field(max_length=3)
    home: Place


PROFILE_PROMPTS = [
    "Alice is 30, lives in Paris, France, loves chess and is happy.",
    "Bob, 45, from Berlin in Germany, enjoys hiking. He feels sad today.",
    "Chen is a 22 year old student in Shanghai, China who plays piano.",
    "Dana (61) gardens and paints in Austin, USA; she is content.",
    "Emeka is 35, lives in Lagos, Nigeria and likes football and cooking.",
    "Fatima, aged 28, from Cairo, Egypt, reads novels. She is cheerful.",
    "Gus is an old man of 80 in Oslo, Norway who fishes.",
    "Hana, 19, Tokyo, Japan. Hobbies: anime, drawing, tennis.",
    "Ivan is 50 and lives in Moscow, Russia. He is gloomy and collects stamps.",
    "Julia from Rome, Italy is 33 and loves opera.",
]

ORDER_SCHEMA = {
    "type": "object",
    "properties": {
        "customer": {
            "type": "object",
            "properties": {
                "name": {"type": "string", "maxLength": 24},
                "email": {"type": "string", "format": "email", "maxLength": 40},
            },
            "required": ["name"],
        },
        "priority": {"type": "string", "enum": ["low", "normal", "urgent"]},
        "items": {
            "type": "array",
            "items": {"type": "string", "maxLength": 20},
            "minItems": 1,
            "maxItems": 3,
        },
    },
    "required": ["customer", "priority", "items"],
}

ORDER_PROMPTS = [
    "Urgent: Tom needs two laptops and a mouse.",
    "Sara (sara@example.com) ordered a lamp, no rush.",
    "Please send Mike a keyboard as soon as possible.",
    "Low priority order for Ann: three notebooks.",
    "Ravi wants headphones and a charger, normal delivery.",
    "Order for Lea: one desk chair. It is very urgent!",
    "Kim (kim@corp.io) would like a monitor and a cable.",
    "Send Paul coffee beans whenever convenient.",
    "Nora needs printer paper and ink urgently.",
    "Max orders a backpack.",
]


# Every string in these schemas has a maxLength and every array a maxItems, so even at one token
# per character the JSON ends within 192 tokens: a cut-off is impossible by construction.


def test_structured_output_pydantic_is_valid_every_time(smollm2) -> None:
    structured = smollm2.with_structured_output(Profile, max_tokens=192)
    results = [structured.invoke([SYSTEM, HumanMessage(p)]) for p in PROFILE_PROMPTS * 2]

    assert len(results) == 20
    assert all(isinstance(r, Profile) for r in results)
    assert all(len(r.hobbies) <= 3 for r in results)


def test_structured_output_json_schema_is_valid_every_time(smollm2) -> None:
    structured = smollm2.with_structured_output(ORDER_SCHEMA, max_tokens=192)
    results = [structured.invoke([SYSTEM, HumanMessage(p)]) for p in ORDER_PROMPTS * 2]

    assert len(results) == 20
    for result in results:
        assert isinstance(result, dict)
        jsonschema.validate(result, ORDER_SCHEMA)


ESCAPED_VALUES = ['7, "from_currency', "C:\\temp", 'caf\u00e9 "Le Bar"', "plain"]


def test_enum_values_with_quotes_and_backslashes_decode_exactly(smollm2) -> None:
    # llama-cpp-python's converter left such values as undefined rules: no decoding at all
    schema = {
        "type": "object",
        "properties": {"value": {"type": "string", "enum": ESCAPED_VALUES}},
        "required": ["value"],
    }
    structured = smollm2.with_structured_output(schema, max_tokens=48)
    prompts = [f"Pick the value {v!r}." for v in ESCAPED_VALUES]
    results = [structured.invoke([SYSTEM, HumanMessage(p)]) for p in prompts]
    assert all(r["value"] in ESCAPED_VALUES for r in results)
    assert any(r["value"] != "plain" for r in results)  # the escaped ones are reachable


def test_structured_output_include_raw(smollm2) -> None:
    structured = smollm2.with_structured_output(Place, include_raw=True, max_tokens=64)

    out = structured.invoke([SYSTEM, HumanMessage("I live in Lima, Peru.")])

    assert isinstance(out["raw"], AIMessage)
    assert isinstance(out["parsed"], Place)
    assert out["parsing_error"] is None


def test_structured_output_cut_off_raises(smollm2) -> None:
    structured = smollm2.with_structured_output(Profile, max_tokens=5)

    with pytest.raises(ModelOutputError, match="max_tokens"):
        structured.invoke([SYSTEM, HumanMessage(PROFILE_PROMPTS[0])])


@tool
def get_weather(city: str) -> str:
    """Get the current weather for a city."""
    return f"Sunny, 21 C in {city}"


@tool
def add_numbers(a: float, b: float) -> float:
    """Add two numbers and return the sum."""
    return a + b


@tool
def send_email(to: str, subject: str, body: str) -> str:
    """Send an email to an address."""
    return f"sent to {to}"


TOOLS = [get_weather, add_numbers, send_email]
TOOL_PROMPTS = [
    ("What's the weather in Paris?", "get_weather"),
    ("What is 17 plus 25?", "add_numbers"),
    ("Add 3 and 4.", "add_numbers"),
    ("Send an email to bob@example.com saying hello.", "send_email"),
    ("Email alice@corp.com about the meeting tomorrow.", "send_email"),
]


def test_bind_tools_picks_the_right_tool_with_valid_arguments(smollm2) -> None:
    # An email's subject and body are free prose: room for them, beyond the fixture's 128.
    bound = smollm2.bind_tools(TOOLS).bind(max_tokens=256)
    schemas = {t.name: t.tool_call_schema.model_json_schema() for t in TOOLS}

    right = 0
    for prompt, expected in TOOL_PROMPTS:
        reply = bound.invoke([HumanMessage(prompt)])
        assert isinstance(reply, AIMessage)
        _usage_ok(reply)
        if not reply.tool_calls:
            continue
        call = reply.tool_calls[0]
        assert call["id"].startswith("call_")
        assert call["type"] == "tool_call"
        jsonschema.validate(call["args"], schemas[call["name"]])
        right += call["name"] == expected

    assert right >= 4, f"right tool in {right} of {len(TOOL_PROMPTS)}"


def test_tool_choice_forced_and_tool_loop(smollm2) -> None:
    forced = smollm2.bind_tools(TOOLS, tool_choice="get_weather")
    first = forced.invoke([HumanMessage("Weather in Rome?")])
    assert first.tool_calls
    assert first.tool_calls[0]["name"] == "get_weather"
    call = first.tool_calls[0]
    result = ToolMessage(get_weather.invoke(call["args"]), tool_call_id=call["id"])

    # The model sees its call and the result; it may answer or call again, never crash.
    follow = smollm2.bind_tools(TOOLS).invoke([HumanMessage("Weather in Rome?"), first, result])

    assert isinstance(follow, AIMessage)
    assert follow.content or follow.tool_calls


def test_stream_with_tools_yields_the_tool_call(smollm2) -> None:
    bound = smollm2.bind_tools(TOOLS, tool_choice="required")
    chunks = list(bound.stream([HumanMessage("Add 3 and 4.")]))

    total = chunks[0]
    for chunk in chunks[1:]:
        total = total + chunk
    assert total.tool_calls
    assert total.tool_calls[0]["name"] in {"get_weather", "add_numbers", "send_email"}


def test_gemma_base_model_completes_text(gemma) -> None:
    reply = gemma.bind(max_tokens=16).invoke("The capital of France is")

    assert isinstance(reply, AIMessage)
    assert reply.content.strip()
    _usage_ok(reply)


def test_gemma_renders_a_conversation(gemma) -> None:
    reply = gemma.bind(max_tokens=16).invoke(
        [SystemMessage("You answer questions."), HumanMessage("What is 2 plus 2?")]
    )

    assert isinstance(reply, AIMessage)
    assert "\nUser:" not in reply.content
    _usage_ok(reply)
