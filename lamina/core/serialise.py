"""Values made safe to store and show: JSON-safe copies of tool arguments and results, their text
form, and truncation with a marker. Checkpoints are msgpack, so integers beyond 64 bits become
strings here."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Mapping
from typing import Any

from langchain_core.messages import BaseMessage
from pydantic import BaseModel

__all__ = ["json_safe", "message_text", "serialise", "truncate"]


def serialise(value: Any) -> str:
    """`value` as text: strings as they are, messages by their text, the rest as JSON."""
    if isinstance(value, str):
        return value
    if isinstance(value, BaseMessage):
        return message_text(value)
    return json.dumps(json_safe(value), ensure_ascii=False)


def json_safe(value: Any) -> Any:
    """A copy of `value` made of JSON types (models and dataclasses as dicts, else `str`)."""
    if isinstance(value, BaseModel):
        return value.model_dump(mode="json")
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return json_safe(dataclasses.asdict(value))
    if isinstance(value, Mapping):
        return {str(k): json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [json_safe(v) for v in value]
    if isinstance(value, int) and not isinstance(value, bool) and not -(2**63) <= value < 2**64:
        # checkpoints are msgpack, which stops at 64 bits; a model can write any integer
        return str(value)
    if value is None or isinstance(value, str | int | float | bool):
        return value
    return str(value)


def truncate(text: str, limit: int) -> str:
    """`text` cut to `limit` characters, with a marker saying how much was cut."""
    if len(text) <= limit:
        return text
    return text[:limit] + f"\n[... output truncated: showing {limit} of {len(text)} characters]"


def message_text(message: BaseMessage) -> str:
    """The text of a message (text blocks joined; other blocks dropped)."""
    content = message.content
    if isinstance(content, str):
        return content
    return "".join(_block_text(block) for block in content)


def _block_text(block: str | dict[str, Any]) -> str:
    if isinstance(block, str):
        return block
    if block.get("type") == "text":
        return str(block.get("text", ""))
    return ""
