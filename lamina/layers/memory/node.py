"""The memory layer: recall what is relevant before reasoning, write back what is worth keeping.

Two nodes:

* :func:`make_memory_node` - searches the user's long-term memories (`runtime.context.memory`,
  a :class:`~lamina.stores.memory.MemoryStore`) for the task and puts the best hits
  into `state["memories"]`, where the reasoning layer shows them to the model.
* :func:`make_memory_writeback_node` - after the answer, stores what the user told about
  themselves ("My name is Ada", "Remember that my sister lives in Lyon") for that user and
  thread, so that a later run - in any thread - can recall it.

What is worth keeping is decided by :func:`extract_memories` / :func:`worth_remembering`, a small,
conservative rule set: explicit requests to remember and first-person statements are kept;
questions, instructions, system prompts and tool output are not. Missing a memory costs a
repeated question; storing junk costs wrong context in every later run, so the rules err on the
side of storing less.
"""

from __future__ import annotations

import json
import logging
import re
import time
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from lamina.core.nodes import LayerNode
from lamina.stores.memory import MemoryItem, MemoryKind

if TYPE_CHECKING:
    from langgraph.runtime import Runtime

    from lamina.core.context import AgentContext
    from lamina.core.state import AgentState

__all__ = [
    "DEFAULT_USER",
    "extract_memories",
    "is_noise",
    "make_memory_node",
    "make_memory_writeback_node",
    "worth_remembering",
]

logger = logging.getLogger(__name__)

# The input layer's default user; memories of anonymous runs are shared under this id.
DEFAULT_USER = "default"
# A "memory" longer than this is a document or a paste, not a fact about the user.
MAX_MEMORY_CHARS = 500
# At most this many memories from one message: a long message is rarely all about the user.
MAX_MEMORIES_PER_MESSAGE = 5

_SENTENCE_END = re.compile(r"(?<=[.!?])\s+|\n+")
_GREETING = re.compile(
    r"^(?:hi|hello|hey|ok|okay|so|well|also|and|btw|by the way)\b[\s,!.:-]*", re.I
)
_REMEMBER = re.compile(
    r"^(?:please\s+)?(?:remember|note|keep in mind|don'?t forget|do not forget|never forget)"
    r"(?:\s+(?:this|that))?\s*[:,-]?\s*",
    re.I,
)
_FIRST_PERSON = re.compile(
    r"^(?:my\s+\w+|i\s+(?:am|was|have|had|live|lived|work|worked|like|love|prefer|enjoy|hate|"
    r"dislike|own|study|speak|use|grew up|moved|come from|was born|don'?t|do not|can'?t|cannot|"
    r"never|always|usually)\b|i'?m\s+\w+|i'?ve\s+\w+|call me\b|our\s+\w+|we\s+(?:live|have|are)\b)",
    re.I,
)
# First-person openings that introduce a request, not a fact ("I want you to write ...").
_REQUEST = re.compile(
    r"^i\s+(?:want|need|would like|wonder|was wondering|hope|asked|mean|think you|am asking|"
    r"am looking for)\b|^i'?d\s+like\b|"
    r"^i'?m\s+(?:asking|looking for|wondering|trying to get you)\b",
    re.I,
)
_QUESTION_START = re.compile(
    r"^(?:what|who|whom|whose|where|when|why|how|which|is|are|am|do|does|did|can|could|would|"
    r"will|shall|should|may|have|has)\b",
    re.I,
)
_PREFERENCE = re.compile(
    r"\b(?:i\s+(?:like|love|prefer|enjoy|hate|dislike|don'?t like|do not like|can'?t stand)|"
    r"favou?rite)\b",
    re.I,
)
_SYSTEM_PROMPT = re.compile(
    r"^\s*(?:system\s*:|you are (?:a|an|the)\s|as an ai\b|<\|?(?:im_start|system|start_of_turn)|"
    r"\[inst\]|<<sys>>|###\s*(?:system|instruction))",
    re.I,
)
_TOOL_NOISE = re.compile(
    r"^\s*(?:traceback \(most recent call last\)|(?:tool|function|observation|error|exception|"
    r"tool result|tool error)\s*:|<tool_call>|<function|```)",
    re.I,
)


def is_noise(text: str) -> bool:
    """True for text that must never become a memory: empty, system prompts, tool output.

    Tool output covers JSON payloads, tracebacks, `Error:`/`Tool:` lines and text without a
    single word (numbers and symbols only).
    """
    stripped = text.strip()
    if not stripped:
        return True
    if _SYSTEM_PROMPT.search(stripped) or _TOOL_NOISE.search(stripped):
        return True
    if stripped[0] in "{[":
        try:
            json.loads(stripped)
        except ValueError:
            pass
        else:
            return True
    # Numbers and symbols alone ("[1, 2, 3]", "84", "---") carry no statement to keep.
    return re.search(r"[^\W\d_]{2,}", stripped) is None


def _is_question(sentence: str) -> bool:
    return sentence.rstrip().endswith("?") or bool(_QUESTION_START.match(sentence))


def _tidy(sentence: str) -> str:
    sentence = sentence.strip().strip("\"'").strip()
    if sentence and sentence[-1] not in ".!?":
        sentence += "."
    return sentence[:1].upper() + sentence[1:]


def extract_memories(text: str) -> list[MemoryItem]:
    """The statements in a user's message worth keeping, as memory items (kind set).

    A sentence is kept when it is an explicit request to remember ("Remember that my sister
    lives in Lyon." keeps "My sister lives in Lyon.") or a first-person statement ("My name is
    Ada.", "I live in Paris."). Questions, instructions, requests ("I want you to ..."), system
    prompts, tool output and over-long sentences are not kept. Kind is 'preference' for likes
    and dislikes, 'fact' otherwise.

    Args:
        text: the user's message (the input layer's normalised task).

    Returns:
        Up to 5 items in message order; empty when nothing is worth remembering.
    """
    if is_noise(text):
        return []
    items: list[MemoryItem] = []
    for raw in _SENTENCE_END.split(text):
        sentence = _GREETING.sub("", raw.strip()).strip()
        if not sentence or len(sentence) > MAX_MEMORY_CHARS or is_noise(sentence):
            continue
        if _is_question(sentence):
            continue
        explicit = _REMEMBER.match(sentence)
        if explicit:
            content = sentence[explicit.end() :].strip()
            # "Remember to buy milk" is a to-do for the agent, not a fact about the user.
            if len(content.split()) < 2 or content.lower().startswith("to "):
                continue
            importance = 0.8
        elif _FIRST_PERSON.match(sentence) and not _REQUEST.match(sentence):
            content, importance = sentence, 0.6
        else:
            continue
        kind: MemoryKind = "preference" if _PREFERENCE.search(content) else "fact"
        items.append(MemoryItem(text=_tidy(content), kind=kind, importance=importance))
        if len(items) == MAX_MEMORIES_PER_MESSAGE:
            break
    return items


def worth_remembering(text: str) -> bool:
    """True when the message holds at least one statement :func:`extract_memories` keeps."""
    return bool(extract_memories(text))


def make_memory_node(
    k: int = 3,
    min_score: float = 0.35,
    *,
    recency_weight: float = 0.1,
    half_life_days: float = 30.0,
    kinds: Sequence[MemoryKind] | None = None,
) -> LayerNode:
    """Build the memory layer's retrieval node.

    The node searches the memories of `state["user_id"]` (default user "default") for
    `state["task"]` and returns the best `k` with a cosine similarity of at least `min_score`,
    ranked by `(1 - recency_weight) * similarity + recency_weight * 0.5 ** (age_days /
    half_life_days)`: among relevant memories, a newer one ("I moved to Lyon") beats an older
    one ("I live in Paris") of similar relevance. The reasoning and execution layers show the
    memories to the model with their dates (:func:`~lamina.core.text.render_memories`).
    Without a store (`runtime.context.memory is None`) or a task it returns no memories.
    A failing store raises :class:`~lamina.errors.MemoryStoreError`: a run never silently
    forgets what the user told it.

    Args:
        k: at most this many memories per run.
        min_score: similarity below which a memory is not shown to the model.
        recency_weight: weight of recency in the ranking, in [0, 1] (0: similarity only).
        half_life_days: age at which a memory's recency term halves.
        kinds: only these kinds of memory (None: all).

    Returns:
        A node returning `{"memories": [memory dicts], "trace": [event]}`; the event is
        `{"layer": "memory", "data": {"hits": [{"id", "score", "similarity"}], "user_id"}}`.

    Raises:
        ConfigError: k < 1, a weight outside [0, 1], a half-life <= 0 or an unknown kind.
    """
    from lamina.errors import ConfigError
    from lamina.stores.memory import KINDS

    # Developer mistakes, so they are refused when the graph is built.
    if k < 1:
        raise ConfigError(f"Expected memory k >= 1, found {k}. Fix: pass k=3 or similar.")
    if not 0.0 <= recency_weight <= 1.0:
        raise ConfigError(
            f"Expected recency_weight in [0, 1], found {recency_weight}. Fix: use 0 to about 0.2."
        )
    if not half_life_days > 0:
        raise ConfigError(f"Expected half_life_days > 0, found {half_life_days}. Fix: use 30.")
    if kinds is not None and (not kinds or any(kd not in KINDS for kd in kinds)):
        raise ConfigError(
            f"Expected memory kinds among {', '.join(KINDS)}, found {list(kinds)}. "
            "Fix: pass known kinds, or None for all."
        )
    wanted = list(kinds) if kinds is not None else None

    def memory_node(state: AgentState, runtime: Runtime[AgentContext]) -> dict[str, Any]:
        start = time.perf_counter()
        store = runtime.context.memory if runtime.context is not None else None
        user_id = state.get("user_id") or DEFAULT_USER
        task = (state.get("task") or "").strip()
        data: dict[str, Any] = {"hits": [], "user_id": user_id}
        memories: list[dict[str, Any]] = []
        if store is None:
            data["skipped"] = "no memory store"
        elif not task:
            data["skipped"] = "no task"
        else:
            found = store.search(
                task,
                user_id,
                k=k,
                min_score=min_score,
                kinds=wanted,
                recency_weight=recency_weight,
                half_life_days=half_life_days,
            )
            memories = [m.to_dict() for m in found]
            data["hits"] = [
                {"id": m.id, "score": m.score, "similarity": m.similarity} for m in found
            ]
            logger.debug("memory: %d hits for user %s", len(found), user_id)
        return {
            "memories": memories,
            "trace": [{"layer": "memory", "seconds": time.perf_counter() - start, "data": data}],
        }

    return memory_node


def make_memory_writeback_node(*, episodes: bool = False) -> LayerNode:
    """Build the node that writes an exchange back to long-term memory after the answer.

    It stores the statements of the user's request that :func:`extract_memories` keeps, for
    `state["user_id"]` and `state["thread_id"]`; a near-duplicate of an existing memory updates
    it instead of adding a second. System prompts, tool output and empty texts are never
    stored.

    Args:
        episodes: also store a short 'episode' ("Asked: ... Answered: ...") for requests that
            hold no fact. Off by default: small models' answers are often wrong, and feeding a
            wrong answer back as a memory repeats the mistake in every later run.

    Returns:
        A node returning `{"trace": [event]}` with the event
        `{"layer": "memory_write", "data": {"ids", "kinds", "user_id", "thread_id"}}`.
    """

    def memory_writeback_node(state: AgentState, runtime: Runtime[AgentContext]) -> dict[str, Any]:
        start = time.perf_counter()
        store = runtime.context.memory if runtime.context is not None else None
        user_id = state.get("user_id") or DEFAULT_USER
        thread_id = state.get("thread_id")
        task = (state.get("task") or "").strip()
        answer = (state.get("answer") or "").strip()
        data: dict[str, Any] = {"ids": [], "kinds": [], "user_id": user_id, "thread_id": thread_id}
        items: list[MemoryItem] = []
        if store is None:
            data["skipped"] = "no memory store"
        else:
            items = extract_memories(task)
            if episodes and not items and not is_noise(task) and not is_noise(answer):
                items = [_episode(task, answer)]
        if items and store is not None:
            data["ids"] = store.add(items, user_id, thread_id=thread_id, source="user")
            data["kinds"] = [it.kind for it in items]
            logger.debug("memory write-back: %d memories for user %s", len(items), user_id)
        return {
            "trace": [
                {"layer": "memory_write", "seconds": time.perf_counter() - start, "data": data}
            ]
        }

    return memory_writeback_node


def _episode(task: str, answer: str) -> MemoryItem:
    def short(s: str, n: int) -> str:
        s = " ".join(s.split())
        return s if len(s) <= n else s[: n - 1].rstrip() + "…"

    return MemoryItem(
        text=f"Asked: {short(task, 200)} Answered: {short(answer, 280)}",
        kind="episode",
        source="agent",
        importance=0.3,
    )
