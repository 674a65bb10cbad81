"""Memory as tools: let the model store and look up long-term memories itself.

The memory layer recalls and writes back on its own; these tools are for agents whose model
should decide what to remember (`remember`) or look something up mid-task (`recall`). Both are
bound to one user's memories when they are made, so a model can never reach another user's.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

from lamina.errors import MemoryStoreError, ToolError
from lamina.layers.memory.node import is_noise
from lamina.stores.memory import MemoryKind
from lamina.tools.decorator import tool

if TYPE_CHECKING:
    from langchain_core.tools import BaseTool

    from lamina.stores.memory import MemoryStore

__all__ = ["MAX_RECALL", "make_memory_tools"]

MAX_RECALL = 10
"""Most memories `recall` returns in one call (more would crowd a small model's context)."""


def make_memory_tools(
    store: MemoryStore, user_id: str, *, thread_id: str | None = None
) -> list[BaseTool]:
    """The `remember` and `recall` tools over `store`, bound to `user_id`.

    Args:
        store: the long-term memory store.
        user_id: whose memories the tools read and write.
        thread_id: conversation recorded with memories the model writes (None: none).

    Returns:
        `[remember, recall]`, LangChain tools.
    """

    @tool
    def remember(
        text: Annotated[
            str, "One short, self-contained statement to keep, e.g. 'The user's sister is Lea.'"
        ],
        kind: Annotated[
            MemoryKind,
            "'fact' for facts about the user, 'preference' for likes and dislikes, "
            "'episode' for something that happened",
        ] = "fact",
    ) -> str:
        """Store a memory about the user for later conversations. Returns the memory's id."""
        if is_noise(text):
            raise ToolError(
                "Nothing to remember: the text is empty, a system prompt or tool output. "
                "Pass one short statement about the user."
            )
        try:
            (memory_id,) = store.add(
                text, user_id, kind=kind, thread_id=thread_id, source="agent", importance=0.7
            )
        except MemoryStoreError as exc:
            raise ToolError(f"Could not store the memory: {exc}") from exc
        return f"Remembered (id {memory_id})."

    @tool
    def recall(
        query: Annotated[str, "What to look for in the user's memories, e.g. 'favourite colour'"],
        k: Annotated[int, f"How many memories to return, 1 to {MAX_RECALL}"] = 3,
    ) -> str:
        """Look up what you remember about the user. Returns the closest memories, best first."""
        if not query.strip():
            raise ToolError("Expected something to look for; found an empty query.")
        try:
            found = store.search(query, user_id, k=max(1, min(int(k), MAX_RECALL)))
        except MemoryStoreError as exc:
            raise ToolError(f"Could not search the memories: {exc}") from exc
        if not found:
            return "No memories found."
        # The date of the current wording, as in the memory layer's context block.
        return "\n".join(
            f"- ({(m.updated_at or m.created_at)[:10]}, {m.kind}, score {m.score or 0.0:.2f}) "
            f"{m.text}"
            for m in found
        )

    return [remember, recall]
