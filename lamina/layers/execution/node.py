"""The execution layer: runs one plan step as a tool loop.

The model (with the tools bound) either calls tools or answers. A reply may hold several calls:
each is checked against its tool's schema before anything runs, then the valid ones run
concurrently, each in its own worker thread with its own timeout, and their results go back in
the order the model wrote the calls. Output is serialised to text, truncated if long, and handed
back as a `ToolMessage`. A bad call (unknown tool, invalid arguments, exception, timeout, a call
the user refused) goes back to the model as a tool message built from one template, and counts
against a retry budget; an identical call that already failed is not run again. The loop ends
on a final answer, on `max_tool_calls` successful calls, on the retry budget, or when the model
repeats a call it already made (the earlier result is reused). Every attempt, failed or not, is
in the trace, so a run never ends silently on a bad call.

**Approval.** A tool marked `requires_approval` (`@tool(requires_approval=True)`) pauses the run
with LangGraph's `interrupt()` before it runs; the interrupt's value is an
:class:`ApprovalRequest` as a dict. Resuming with `Command(resume=True)` (or
`{"approved": True}`) runs the call; `False` turns it into a "refused" tool message. A resumed
node starts again from its beginning, so model replies and tool results are LangGraph tasks
inside a graph run: they are checkpointed and replayed on resume, never computed (or, for a
tool, executed) twice. Outside a graph (the node called directly) they simply run.

**Crashes.** A task's result is saved only when the whole batch finishes; a process killed in
the middle of a batch would run its finished calls again on resume. So each call that finishes is
also written (fsynced) to the context's :class:`~lamina.stores.ledger.ToolLedger` under its
`tool_call_id`, which with a ledger is made from the thread, turn, step, position, tool and
arguments (the same on every resume), and a call found there is replayed from it
(`replayed` in the trace) instead of run. The agent runs with `durability="sync"`, so the
checkpoint of every finished step is on disk before the next step starts.

**Small models.** For a step of a multi-step plan the tools are shortlisted by name (a step
saying "close" and "ticket" is offered `close_ticket` alone when no other tool matches as well);
with the context's tool relevance (:mod:`lamina.guards.tool_relevance`), when a tool fits the
step by meaning the tools far from it leave the first move's prompt and that move must be a
call (no `final_answer` until a call has succeeded);
a string argument copied from the tool's own description but absent from the task is sent back;
after a successful call the model is asked whether that answers the step (so it answers, or
repeats the call, which ends the step, instead of calling on with invented numbers); and a final
text that only restates the tool instructions gives way to the last tool result.

Graph contract: reads `task`, `model`, `memories`, `plan`, `step_index`, `step_results`,
`steps_taken`; returns `step_results` (one more entry), `step_index` + 1, `steps_taken` + 1 and
one `execution` trace event. Without a plan (user-built graphs) the task is the one step.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from lamina.config import Guards
from lamina.core.nodes import LayerNode
from lamina.errors import ConfigError
from lamina.layers.execution.limits import Limits
from lamina.layers.execution.step_run import StepRun

if TYPE_CHECKING:
    from langgraph.runtime import Runtime

    from lamina.core.context import AgentContext
    from lamina.core.state import AgentState

__all__ = ["make_execution_node"]


def make_execution_node(
    *,
    max_tool_calls: int = 4,
    max_tool_calls_per_plan_step: int = 1,
    max_retries: int = 2,
    tool_timeout: float = 30.0,
    max_output_chars: int = 4000,
    parallel_tool_calls: bool | None = None,
    concurrent_tool_calls: bool = True,
    guards: Guards | None = None,
) -> LayerNode:
    """Build the execution layer's node.

    Args:
        max_tool_calls: Successful tool calls allowed per step; reaching it ends the step with
            the last tool result. Calls of one reply beyond it are not run.
        max_tool_calls_per_plan_step: the same bound for a step of a plan of several steps,
            where each step is meant to be one action.
        max_retries: Failed tool calls tolerated per step; one more failure ends the step.
        tool_timeout: Seconds a tool may run, unless it sets its own (`@tool(timeout=...)`).
            A synchronous tool cannot be killed: after its timeout it is abandoned in a daemon
            thread and the run moves on; a tool with too many such calls still running is not
            called again until one ends (:mod:`lamina.layers.execution.hung`).
        max_output_chars: Longer tool output is cut to this many characters, with a marker.
        parallel_tool_calls: Passed to the model's `bind_tools`: whether one reply may hold
            several calls (None: the model's default; lamina's llama.cpp model makes one call
            per reply unless asked). Whatever a reply holds is run.
        concurrent_tool_calls: Run the calls of one reply concurrently (False: one after
            another, for tools that must not overlap). Results reach the model in call order
            either way.
        guards: the small-model guards that run (None: all of them, `Guards()`).

    Returns:
        `node(state, runtime) -> dict`, a partial state update.

    Raises:
        ConfigError: A limit is out of range.
    """
    _check_int("max_tool_calls", max_tool_calls, 1)
    _check_int("max_tool_calls_per_plan_step", max_tool_calls_per_plan_step, 1)
    _check_int("max_retries", max_retries, 0)
    _check_int("max_output_chars", max_output_chars, 100)
    if isinstance(tool_timeout, bool) or not isinstance(tool_timeout, int | float):
        raise ConfigError(f"tool_timeout must be a number of seconds, found {tool_timeout!r}.")
    if not tool_timeout > 0:
        raise ConfigError(f"tool_timeout must be > 0 seconds, found {tool_timeout!r}.")
    limits = Limits(
        max_tool_calls,
        max_retries,
        float(tool_timeout),
        max_output_chars,
        max_tool_calls_per_plan_step,
        bool(concurrent_tool_calls),
        parallel_tool_calls,
        guards if guards is not None else Guards(),
    )

    def execution(state: AgentState, runtime: Runtime[AgentContext]) -> dict[str, Any]:
        return StepRun(state, runtime.context, limits).run()

    return execution


def _check_int(name: str, value: object, minimum: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ConfigError(f"{name} must be an integer >= {minimum}, found {value!r}.")
