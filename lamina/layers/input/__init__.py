"""The input layer: validate and normalise what the user sends (text or messages), bound its size,
attach thread and user ids. Everything is in `node.py` (:func:`make_input_node`, the pydantic
:class:`AgentRequest` at the edge and :func:`check_ids` for its id rules, :func:`to_messages`,
:func:`normalise_task`)."""

from lamina.layers.input.node import (
    DEFAULT_MAX_CHARS,
    DEFAULT_USER,
    AgentRequest,
    check_ids,
    make_input_node,
    normalise_task,
    to_messages,
)

__all__ = [
    "DEFAULT_MAX_CHARS",
    "DEFAULT_USER",
    "AgentRequest",
    "check_ids",
    "make_input_node",
    "normalise_task",
    "to_messages",
]
