"""LangChain's own standard unit tests (`langchain-tests`) over lamina's two chat models.

`LlamaChatModel` is built as `chat_model("smollm2-135m-instruct")` builds it (nothing is loaded:
these tests only construct, bind and trace); `RemoteChatModel` points at an address nobody
serves (nothing is sent). The capability flags say what the README claims.
"""

from __future__ import annotations

from typing import Any

import pytest
from langchain_tests.unit_tests import ChatModelUnitTests

from lamina.config import get_settings
from lamina.models.llama.chat import LlamaChatModel
from lamina.models.pool import ModelPool
from lamina.models.remote import RemoteChatModel

MODEL = "smollm2-135m-instruct"


@pytest.fixture(scope="module")
def unloaded_pool():
    pool = ModelPool(get_settings(n_threads=1, seed=0))
    yield pool
    pool.close()


class _Flags:
    """What the README claims for both chat models."""

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


class TestLlamaChatModelUnit(_Flags, ChatModelUnitTests):
    @pytest.fixture(autouse=True)
    def _pool(self, unloaded_pool: ModelPool) -> None:
        self.pool = unloaded_pool

    @property
    def chat_model_class(self) -> type[LlamaChatModel]:
        return LlamaChatModel

    @property
    def chat_model_params(self) -> dict[str, Any]:
        return {"pool": self.pool, "model_name": MODEL}


class TestRemoteChatModelUnit(_Flags, ChatModelUnitTests):
    @property
    def chat_model_class(self) -> type[RemoteChatModel]:
        return RemoteChatModel

    @property
    def chat_model_params(self) -> dict[str, Any]:
        return {"model_name": MODEL, "endpoint": "http://127.0.0.1:9/v1", "grammar_field": False}
