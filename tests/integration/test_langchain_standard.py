"""LangChain's own standard integration tests (`langchain-tests`) over lamina's chat models.

`LlamaChatModel` as `chat_model("smollm2-135m-instruct")` builds it, and `RemoteChatModel`
talking to a real `lamina serve` (its direct model endpoint) on a free loopback port. The
capability flags say what the README claims.

`make test` runs the subset in :data:`QUICK` (the whole takes several minutes per model on two
cores); `make langchain-standard` (``LAMINA_STANDARD_TESTS=all``) runs all of them. A test that
a 135M model fails on quality, not through a framework bug, is ``xfail(strict=False)`` with the
pass rate measured over the runs named in its reason.
"""

from __future__ import annotations

import os
from typing import Any

import pytest
from langchain_tests.integration_tests import ChatModelIntegrationTests

from lamina.models.llama.chat import LlamaChatModel
from lamina.models.pool import ModelPool
from lamina.models.remote import RemoteChatModel

MODEL = "smollm2-135m-instruct"
FULL = os.environ.get("LAMINA_STANDARD_TESTS") == "all"

QUICK = frozenset(
    {
        "test_invoke",
        "test_stream",
        "test_usage_metadata",
        "test_stop_sequence",
        "test_tool_calling",
        "test_tool_message_histories_list_content",
        "test_tool_choice",
        "test_structured_output",
        "test_json_mode",
        "test_agent_loop",
    }
)
"""The standard tests `make test` runs: each exercises a path the others do not."""


def _subset(request: pytest.FixtureRequest) -> None:
    name = getattr(request.node, "originalname", request.node.name)
    if not FULL and name not in QUICK:
        pytest.skip("not in the make-test subset; `make langchain-standard` runs it")


class _Flags:
    """What the README claims for both chat models."""

    @pytest.mark.xfail(
        strict=False,
        reason=(
            "json_mode has no schema to decode under, only 'a JSON object': SmolLM2-135M "
            "writes the 'setup' key and stops. It passed in the four make-test runs of "
            "2026-12-06, where earlier tests had warmed the KV cache; it failed run alone on "
            "2b27619 and on 7bf0dfd, and in the make-test run of 7bf0dfd (0 of 3). With a "
            "schema (test_structured_output) the keys are decoded every time."
        ),
    )
    def test_json_mode(self, model: Any) -> None:
        super().test_json_mode(model)  # type: ignore[misc]

    @property
    def has_tool_calling(self) -> bool:
        return True

    @property
    def has_tool_choice(self) -> bool:
        return True

    @property
    def has_structured_output(self) -> bool:
        return True

    @property
    def supports_json_mode(self) -> bool:
        return True

    @property
    def returns_usage_metadata(self) -> bool:
        return True

    @property
    def supports_model_override(self) -> bool:
        # one chat model is one model of the pool; pick another with chat_model(name)
        return False


class TestLlamaChatModelStandard(_Flags, ChatModelIntegrationTests):
    @pytest.fixture(autouse=True)
    def _setup(self, request: pytest.FixtureRequest, pool: ModelPool) -> None:
        _subset(request)
        self.pool = pool

    @property
    def chat_model_class(self) -> type[LlamaChatModel]:
        return LlamaChatModel

    @property
    def chat_model_params(self) -> dict[str, Any]:
        return {"pool": self.pool, "model_name": MODEL, "seed": 0}


@pytest.fixture(scope="module")
def lamina_serve(pool, encoder, tmp_path_factory):
    """`lamina serve`'s app on a free loopback port, serving the session's pool."""
    from lamina import Agent
    from lamina.config import get_settings
    from lamina.serving.app import create_app
    from lamina.serving.local import serve_in_thread
    from lamina.stores.memory import MemoryStore

    home = tmp_path_factory.mktemp("standard_serve")
    agent = Agent(
        pool=pool,
        settings=get_settings(home=home, seed=0),
        memory=MemoryStore(home / "memory", encoder=encoder),
        checkpointer=":memory:",
    )
    with serve_in_thread(create_app(agent)) as url:
        yield f"{url}/v1"
    agent.context.memory.close()


class TestRemoteChatModelStandard(_Flags, ChatModelIntegrationTests):
    @pytest.fixture(autouse=True)
    def _setup(self, request: pytest.FixtureRequest, lamina_serve: str) -> None:
        _subset(request)
        self.endpoint = lamina_serve

    @property
    def chat_model_class(self) -> type[RemoteChatModel]:
        return RemoteChatModel

    @property
    def chat_model_params(self) -> dict[str, Any]:
        # lamina serve takes OpenAI's response_format and tools, not llama.cpp's grammar field
        return {
            "model_name": MODEL,
            "endpoint": self.endpoint,
            "grammar_field": False,
            "native_tools": True,
        }
