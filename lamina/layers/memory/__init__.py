"""The memory layer: retrieve long-term memories before reasoning, write back what is worth
keeping after the answer.

`node.py` has the retrieval and write-back nodes (:func:`make_memory_node`,
:func:`make_memory_writeback_node`) and what decides what is worth remembering
(:func:`extract_memories`, :func:`is_noise`); `tools.py` the `remember`/`recall` tools an agent
can call (:func:`make_memory_tools`). The store itself is :mod:`lamina.stores.memory`.
"""

from lamina.layers.memory.node import (
    DEFAULT_USER,
    extract_memories,
    is_noise,
    make_memory_node,
    make_memory_writeback_node,
    worth_remembering,
)
from lamina.layers.memory.tools import MAX_RECALL, make_memory_tools

__all__ = [
    "DEFAULT_USER",
    "MAX_RECALL",
    "extract_memories",
    "is_noise",
    "make_memory_node",
    "make_memory_tools",
    "make_memory_writeback_node",
    "worth_remembering",
]
