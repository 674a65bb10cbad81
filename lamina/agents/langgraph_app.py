"""lamina's agent as a graph for LangGraph's own server (`langgraph dev`, LangGraph Platform).

`langgraph.json` at the repository root names :data:`graph` here. LangGraph's server gives a
graph JSON input and a JSON `context`, while lamina's five layers need live dependencies (the
model pool, the tools, the memory store) in their runtime context. So the served graph is one
node, ``agent``, that runs lamina's whole graph through :class:`~lamina.agents.agent.Agent`
(built once per server process, from ``$LAMINA_CONFIG`` — a lamina.toml — when set) and
appends the answer to the thread's ``messages``, with the run's trace (route, tool calls,
``ok``) in the message's ``response_metadata["lamina"]``.

What works under LangGraph's server: threads (the server's checkpointer keeps the messages;
lamina continues the conversation under the same thread id), runs and their streaming at the
node level, the SDK's `runs.wait`/`runs.stream`, Postgres for the server's state. What does not:
the five layers are not separate nodes in the server's view (no per-layer streaming or Studio
drawing), lamina's approval interrupts do not surface as the server's interrupts (a tool that
needs approval ends the run with ``ok = False``), and each server worker loads its own models.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from functools import lru_cache
from typing import TYPE_CHECKING, Any

from langchain_core.messages import AIMessage, BaseMessage, HumanMessage
from langchain_core.runnables import RunnableConfig
from langgraph.graph import END, START, MessagesState, StateGraph

if TYPE_CHECKING:
    from langgraph.graph.state import CompiledStateGraph

    from lamina.agents.agent import Agent

__all__ = ["build_server_graph", "graph", "server_agent"]


@lru_cache(maxsize=1)
def server_agent() -> Agent:
    """The agent this server process runs: from ``$LAMINA_CONFIG`` if set, else the default."""
    from lamina.agents.agent import Agent

    path = os.environ.get("LAMINA_CONFIG")
    return Agent.from_config(path) if path else Agent()


def _last_human_text(messages: Sequence[BaseMessage]) -> str:
    for message in reversed(messages):
        if isinstance(message, HumanMessage):
            return message.text
    from lamina.errors import InputError

    raise InputError(
        "Expected a human message in `messages`, found none. Fix: send "
        '{"messages": [{"role": "user", "content": "..."}]}.'
    )


def build_server_graph(agent: Agent | None = None) -> CompiledStateGraph[Any, Any, Any, Any]:
    """The one-node graph that runs `agent` (default: :func:`server_agent`) on a thread."""

    def run_agent(state: MessagesState, config: RunnableConfig) -> dict[str, Any]:
        runner = agent if agent is not None else server_agent()
        thread_id = (config.get("configurable") or {}).get("thread_id")
        result = runner.run(
            _last_human_text(state["messages"]),
            thread_id=str(thread_id) if thread_id else None,
        )
        reply = AIMessage(
            content=result.answer or "", response_metadata={"lamina": result.to_dict()}
        )
        return {"messages": [reply]}

    builder = StateGraph(MessagesState)
    builder.add_node("agent", run_agent)
    builder.add_edge(START, "agent")
    builder.add_edge("agent", END)
    return builder.compile(name="lamina")


graph = build_server_graph()
"""What `langgraph.json` serves (the server brings its own checkpointer)."""
