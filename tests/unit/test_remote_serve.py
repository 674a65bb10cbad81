"""RemoteChatModel pointed at `lamina serve` (a scripted model behind a real uvicorn server)."""

from __future__ import annotations

from typing import Any

import pytest

from lamina import tool
from lamina.models.remote import RemoteChatModel
from lamina.models.testing import FakeChatModel
from lamina.serving.app import create_app
from lamina.serving.local import serve_in_thread
from tests.unit.test_serving_tools import scripted_agent


@tool
def station_time() -> str:
    """The time at the station."""
    return "12:00"


@tool
def find_customer(name: str) -> str:
    """Look a customer up.

    Args:
        name: the customer's name, as written.
    """
    return name


def remote_over_serve(responses: list[Any]) -> Any:
    """A RemoteChatModel and the `lamina serve` it talks to, which answers `responses`."""
    agent = scripted_agent(FakeChatModel(responses=responses))
    return agent, serve_in_thread(create_app(agent))


@pytest.mark.parametrize(
    ("tools", "replies", "call"),
    [
        ([station_time], ['{"action": "station_time"}', "{}"], ("station_time", {})),
        (
            [find_customer],
            ['{"action": "find_customer"}', '{"name": "こんにちは株式会社"}'],
            ("find_customer", {"name": "こんにちは株式会社"}),
        ),
    ],
)
def test_a_streamed_tool_call_adds_up_to_the_call(
    tools: list[Any], replies: list[str], call: tuple[str, dict[str, Any]]
) -> None:
    agent, server = remote_over_serve(replies * 2)
    with server as url:
        remote = RemoteChatModel(model_name="fake", endpoint=f"{url}/v1", grammar_field=False)
        bound = remote.bind_tools(tools, tool_choice="any")
        whole = bound.invoke("Call the tool.")
        full: Any = None
        for chunk in bound.stream("Call the tool."):
            full = chunk if full is None else full + chunk
        remote.close()
    agent.close()
    assert [(c["name"], c["args"]) for c in whole.tool_calls] == [call]
    assert [(c["name"], c["args"]) for c in full.tool_calls] == [call]
    assert full.response_metadata["finish_reason"] == "tool_calls"
    assert full.usage_metadata["output_tokens"] > 0
