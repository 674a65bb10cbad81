"""The relevance gate of `tool_choice="auto"` on a model served directly (scripted model, a
fake weigher, a real uvicorn server)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import pytest

from lamina import Agent
from lamina.errors import ConfigError
from lamina.guards.tool_relevance import ToolFit
from lamina.models.testing import FakeChatModel, ToolCallScript
from lamina.serving.app import create_app
from lamina.serving.local import serve_in_thread
from tests.unit.test_serving_tools import (
    PARIS_CALL,
    WEATHER,
    RecordingModel,
    events,
    post,
    scripted_agent,
)

UNRELATED = [{"role": "user", "content": "Write a short poem about autumn leaves."}]
RELATED = [{"role": "user", "content": "Is it going to rain in Paris tomorrow?"}]


class KeywordWeigher:
    """A tool fits (0.9) a request holding one of its keywords; otherwise 0.1."""

    supports_above = 0.30

    def __init__(self, keywords: Mapping[str, Sequence[str]]) -> None:
        self.keywords = keywords
        self.asked: list[str] = []

    def assess(self, text: str, tools: Sequence[Any]) -> ToolFit:
        self.asked.append(text)
        names = [t["function"]["name"] for t in tools]
        lowered = text.lower()
        return ToolFit(
            {n: 0.9 if any(k in lowered for k in self.keywords.get(n, ())) else 0.1 for n in names}
        )

    def closest(self, what: str, values: Sequence[str], k: int) -> list[str]:
        return list(values)[:k]

    def assess_each(self, texts: Sequence[str], tools: Sequence[Any]) -> list[ToolFit]:
        return [self.assess(t, tools) for t in texts]


def gated_server(responses: list[Any], gate: Any = None) -> Any:
    model = RecordingModel(responses=responses)
    agent = scripted_agent(model)
    weigher = KeywordWeigher({"get_weather": ("rain", "weather")}) if gate is None else gate
    return model, weigher, agent, serve_in_thread(create_app(agent, relevance_gate=weigher))


def test_auto_with_no_fitting_tool_is_answered_in_text() -> None:
    model, weigher, agent, server = gated_server(["Leaves fall, red and gold."])
    with server as url:
        reply = post(url, messages=UNRELATED, tools=[WEATHER])
    agent.close()
    assert reply.status_code == 200, reply.text
    body = reply.json()
    choice = body["choices"][0]
    assert choice["message"] == {"role": "assistant", "content": "Leaves fall, red and gold."}
    assert choice["finish_reason"] == "stop"
    assert model.tool_choices == []  # the tools were never shown to the model
    assert weigher.asked == [UNRELATED[0]["content"]]
    decision = body["lamina"]["tool_relevance"]
    assert decision["outcome"] == "text answer"
    assert decision["scores"] == {"get_weather": 0.1}
    assert decision["fits_above"] == 0.45


def test_auto_with_a_fitting_tool_lets_the_model_call_it() -> None:
    model, _, agent, server = gated_server([ToolCallScript("get_weather", {"city": "Paris"})])
    with server as url:
        reply = post(url, messages=RELATED, tools=[WEATHER], tool_choice="auto")
    agent.close()
    body = reply.json()
    assert body["choices"][0]["finish_reason"] == "tool_calls"
    assert body["choices"][0]["message"]["tool_calls"][0]["function"]["name"] == "get_weather"
    assert model.tool_choices == ["auto"]
    assert body["lamina"]["tool_relevance"]["outcome"] == "model chooses"


@pytest.mark.parametrize(
    "choice", ["required", {"type": "function", "function": {"name": "get_weather"}}]
)
def test_required_and_named_choices_are_never_gated(choice: Any) -> None:
    _, weigher, agent, server = gated_server([ToolCallScript("get_weather", {"city": "X"})])
    with server as url:
        reply = post(url, messages=UNRELATED, tools=[WEATHER], tool_choice=choice)
    agent.close()
    assert reply.json()["choices"][0]["finish_reason"] == "tool_calls"
    assert weigher.asked == []
    assert "lamina" not in reply.json()


def test_after_tool_results_the_model_chooses() -> None:
    model, weigher, agent, server = gated_server(["It is 21 degrees."])
    history = [*UNRELATED, *PARIS_CALL]
    with server as url:
        reply = post(url, messages=history, tools=[WEATHER])
    agent.close()
    assert reply.status_code == 200, reply.text
    assert weigher.asked == []
    assert model.tool_choices == ["auto"]


def test_a_follow_up_is_weighed_with_the_conversation() -> None:
    _, weigher, agent, server = gated_server(
        [ToolCallScript("get_weather", {"city": "Rome"}), "Leaves fall."]
    )
    follow_up = [
        *RELATED,
        {"role": "assistant", "content": "Yes, take an umbrella."},
        {"role": "user", "content": "And in Rome?"},
    ]
    with server as url:
        reply = post(url, messages=follow_up, tools=[WEATHER])
        unrelated = post(url, messages=[*follow_up[:2], *UNRELATED], tools=[WEATHER])
    agent.close()
    decision = reply.json()["lamina"]["tool_relevance"]
    assert decision["weighed"] == "user messages together"
    assert decision["outcome"] == "model chooses"
    assert reply.json()["choices"][0]["finish_reason"] == "tool_calls"
    assert weigher.asked[:2] == ["And in Rome?", f"{RELATED[0]['content']} And in Rome?"]
    # the conversation is weighed only to keep a call, never to drop one: here it fits (rain)
    assert unrelated.json()["lamina"]["tool_relevance"]["outcome"] == "model chooses"


def test_a_gated_stream_is_text_and_its_first_chunk_carries_the_decision() -> None:
    model, _, agent, server = gated_server(["Leaves fall slowly."])
    with server as url:
        chunks = events(url, messages=UNRELATED, tools=[WEATHER])
    agent.close()
    text = "".join(c["choices"][0]["delta"].get("content") or "" for c in chunks)
    assert text == "Leaves fall slowly."
    assert chunks[0]["lamina"]["tool_relevance"]["outcome"] == "text answer"
    assert all("lamina" not in c for c in chunks[1:])
    assert model.tool_choices == []


def test_the_gate_can_be_switched_off() -> None:
    model, _, agent, server = gated_server(
        [ToolCallScript("get_weather", {"city": "Paris"})], gate=False
    )
    with server as url:
        reply = post(url, messages=UNRELATED, tools=[WEATHER])
    agent.close()
    assert reply.json()["choices"][0]["finish_reason"] == "tool_calls"
    assert model.tool_choices == ["auto"]
    assert "lamina" not in reply.json()


def test_an_agent_without_tool_relevance_has_no_gate_and_a_bad_gate_is_refused() -> None:
    model = FakeChatModel(responses=[ToolCallScript("get_weather", {"city": "Paris"})])
    agent = Agent(
        chat_models={"fake": model},
        routes=[],
        memory=False,
        step_cache=False,
        checkpointer=":memory:",
        tool_relevance=False,
    )
    with serve_in_thread(create_app(agent)) as url:
        reply = post(url, messages=UNRELATED, tools=[WEATHER])
    assert reply.json()["choices"][0]["finish_reason"] == "tool_calls"
    with pytest.raises(ConfigError, match="relevance_gate"):
        create_app(agent, relevance_gate="on")  # type: ignore[arg-type]
    agent.close()
