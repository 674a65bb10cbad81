"""The tool loop of one plan step (:class:`StepRun`), as the execution node runs it.

What a step works from (its instruction, tools and prompts) is read in
:mod:`~lamina.layers.execution.step_inputs`; the calls of one reply are run by
:mod:`~lamina.layers.execution.reply_calls` and kept in a
:class:`~lamina.layers.execution.call_log.CallLog`; the checks of a call are in
:mod:`~lamina.layers.execution.calls`, approval in
:mod:`~lamina.layers.execution.approval`, the durable model and tool steps in
:mod:`~lamina.layers.execution.durable` and the thread runner in
:mod:`~lamina.layers.execution.runner`; the small-model guards it applies are in
:mod:`lamina.guards`.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from langchain_core.messages import AIMessage, BaseMessage, HumanMessage, SystemMessage
from langchain_core.tools import BaseTool

from lamina.core.records import ApprovalRequest
from lamina.core.serialise import message_text, truncate
from lamina.errors import ConfigError, ModelOutputError
from lamina.guards.grounding import Grounding
from lamina.guards.unfinished import still_wanted
from lamina.guards.units import with_returned_unit
from lamina.layers.escalation import fallback_chain, run_with_escalation
from lamina.layers.execution.approval import ask_approval
from lamina.layers.execution.call_log import CallLog
from lamina.layers.execution.calls import (
    CallError,
    check_converts,
    check_grounded,
    check_strings_given,
    check_uses_the_step,
    with_call_ids,
)
from lamina.layers.execution.durable import invoke_model
from lamina.layers.execution.grounded_moves import (
    given_texts,
    grounded_tools,
    inputs_used,
    missing_arguments,
    span_shortlist,
)
from lamina.layers.execution.limits import EndReason, Limits
from lamina.layers.execution.opening import Opening, opening_move, written_call_message
from lamina.layers.execution.reply_calls import Planned, run_reply_calls, with_ledger_ids
from lamina.layers.execution.step_inputs import (
    call_limit,
    current_step,
    step_model,
    step_prompt,
    step_text,
    step_tools,
    system_prompt,
    task_text,
)
from lamina.layers.execution.step_report import set_aside, step_update

if TYPE_CHECKING:
    from lamina.core.context import AgentContext
    from lamina.core.state import AgentState

__all__ = ["EndReason", "Limits", "StepRun"]

logger = logging.getLogger(__name__)


class _NothingCallableError(Exception):
    """Grounding left no tool callable for this move."""


_ANSWER_NOW = "The tool returned {result}. Give the final answer in one short sentence."

_AFTER_RESULT = 'The tool returned {result}. If that answers "{step}", give the final answer.'


@dataclass
class StepRun:
    """The tool loop of one step (state for one call of the node): the first move
    (:mod:`~lamina.layers.execution.opening`), then model replies and their calls, each move's
    tools bound with grounded schemas, until the model answers or a bound is reached."""

    state: AgentState
    context: AgentContext
    limits: Limits
    log: CallLog = field(default_factory=CallLog)
    tokens: int = 0
    model_name: str = ""
    written: tuple[str, str, str] | None = None  # see FirstMove.written
    # by tool, the required arguments nothing given could fill, when no tool could be called
    uncallable: dict[str, list[str]] = field(default_factory=dict)

    # -- the loop ---------------------------------------------------------------------------
    def run(self) -> dict[str, Any]:
        started = time.perf_counter()
        index, instruction = current_step(self.state)
        tools = step_tools(self.state, self.context.tools)
        offered = len(tools)
        move = opening_move(
            self.state, index, instruction, tools, self.context.tool_relevance, self.limits.guards
        )
        tools, opening, self.written = move.tools, move.opening, move.written
        first, route = step_model(self.state, index, self.context.default_model)
        chain = fallback_chain(self.context, self.state, first, route)

        def attempt(name: str) -> tuple[EndReason, str]:
            self.log.failures = 0
            self.model_name = name
            return self._attempt(name, tools, opening, instruction, index)

        (ended_by, final_text), model_name, escalations = run_with_escalation(
            chain,
            attempt,
            layer="execution",
            failed=lambda outcome: (
                f"its tool calls still failed after {self.limits.max_retries} retries "
                f"(last error: {self.log.last_error})"
                if outcome[0] == "max_retries" and self.log.last_success is None
                else None
            ),
        )

        dropped = set_aside(final_text, ended_by, tools, self.log, self.limits.guards)
        if dropped:
            logger.info("execution step %d: final text set aside (%s)", index, dropped)
            final_text = ""
        return step_update(
            self.state,
            index=index,
            instruction=instruction,
            ended_by=ended_by,
            final_text=final_text,
            model_name=model_name,
            log=self.log,
            tokens=self.tokens,
            max_retries=self.limits.max_retries,
            tools=tools,
            offered=offered,
            fit=move.fit,
            escalations=escalations,
            uncallable=self.uncallable,
            dropped=dropped,
            seconds=time.perf_counter() - started,
        )

    def _attempt(
        self,
        model_name: str,
        tools: Mapping[str, BaseTool],
        opening: Opening,
        instruction: str,
        index: int,
    ) -> tuple[EndReason, str]:
        """The tool loop with one model: returns why it ended and the model's final text."""
        chat_model = self.context.models.chat_model(model_name)
        options: dict[str, Any] = {}
        if self.limits.parallel_tool_calls is not None:
            options["parallel_tool_calls"] = self.limits.parallel_tool_calls
        messages: list[BaseMessage] = [
            SystemMessage(system_prompt(self.state, tools)),
            HumanMessage(step_prompt(self.state, instruction)),
        ]
        while True:
            # Until a call has succeeded the first move's tools and tool choice apply; after
            # that every tool and the answer are open. Tools are bound afresh for every move:
            # with grounding, each result adds to the numbers an argument may hold.
            opens = self.log.last_success is None
            offered = opening.tools if opens else self._later_tools(tools, index)
            choice = opening.tool_choice if opens else None
            if opens and self.log.records and choice in (None, "auto"):
                # a call was tried and failed: the next move is a call too (left a choice after
                # its refused first call, SmolLM2-135M answered with that call's arguments)
                choice = "required"
            try:
                try:
                    bound = self._bind(
                        chat_model, model_name, offered, choice, instruction, options
                    )
                except _NothingCallableError:
                    if (
                        opens
                        and not self.log.records
                        and opening.widens
                        and set(offered) < set(tools)
                    ):
                        # none of the tools that fit best can take what was given: the others
                        # may ("the desk lamp with 20% tax": no bill for `add_tip`)
                        opening = Opening(tools, opening.tool_choice)
                        continue
                    if not self.log.records:
                        # no tool can be called with what was given: the step is the model's
                        # own to answer, and the verdict says so (what each tool lacked)
                        self.uncallable = missing_arguments(
                            offered, Grounding.from_texts(self._given(instruction))
                        )
                    # or every value left was tried and failed: the model may only answer now
                    bound = chat_model
                written = opens and not self.log.records and not self.uncallable
                preset = written_call_message(self.written, offered) if written else None
                reply = preset if preset is not None else invoke_model(bound, messages)
            except ModelOutputError as exc:
                # An unreadable reply is a failed attempt like a bad call: say so, then retry.
                failure = CallError(
                    "model_output",
                    "your reply could not be read as a tool call or an answer",
                    str(exc),
                    "call one of the tools with valid arguments, or give the final answer",
                )
                self.log.record_failure("", {}, 0.0, failure)
                if self.log.failures > self.limits.max_retries:
                    return "max_retries", ""
                messages.append(HumanMessage(failure.message()))
                continue
            if not isinstance(reply, AIMessage):
                raise ModelOutputError(
                    f"Model {model_name!r} returned {type(reply).__name__}; expected an AIMessage."
                )
            self._count_tokens(reply)
            if not reply.tool_calls:
                ended: EndReason = "ungrounded" if self.uncallable else "final_answer"
                return ended, message_text(reply).strip()
            reply = with_call_ids(reply)
            if self.context.ledger is not None:
                reply = with_ledger_ids(reply, self.state, index, len(self.log.records))
            messages.append(reply)
            succeeded = self.log.successes()
            stop = self._run_calls(reply, offered, messages, index)
            if stop is not None:
                return stop, ""
            if self.limits.guards.grounding and self._inputs_used(index):
                # Every number the step gives went into a call that worked: another call could
                # only feed a result into a tool the step never asked for ("What is 12 times 7?"
                # answered 105.3 by shipping_cost(84)). The next move is the answer, no tools.
                return self._answer_only(chat_model, messages)
            if (
                self.limits.guards.result_check
                and self.log.successes() > succeeded
                and self.log.last_success is not None
            ):
                # Small models keep calling tools on numbers of their own after the answer is
                # in; asked this, they answer or repeat the call (which ends the step).
                messages.append(
                    HumanMessage(
                        _AFTER_RESULT.format(
                            result=truncate(self.log.last_success, 200), step=instruction
                        )
                    )
                )

    def _answer_only(self, chat_model: Any, messages: list[BaseMessage]) -> tuple[EndReason, str]:
        """The model's final text, with no tool to call (the step's inputs are all used)."""
        if self.log.last_success is not None:
            messages.append(
                HumanMessage(_ANSWER_NOW.format(result=truncate(self.log.last_success, 200)))
            )
        try:
            reply = invoke_model(chat_model, messages)
        except ModelOutputError:
            return "inputs_used", ""
        self._count_tokens(reply)
        if isinstance(reply, AIMessage) and reply.tool_calls:
            return "inputs_used", ""  # a call is not an answer: the last result stands
        return "inputs_used", message_text(reply).strip()

    def _bind(
        self,
        chat_model: Any,
        model_name: str,
        tools: Mapping[str, BaseTool],
        tool_choice: str | None,
        instruction: str,
        options: dict[str, Any],
    ) -> Any:
        """The chat model with `tools` bound for one move; with grounding, each tool's schema
        narrowed to the numbers this run was given (:mod:`lamina.guards.grounding`).

        Raises:
            _NothingCallableError: grounding leaves no tool callable (each needs a number nobody
                gave), so a move could only invent one.
        """
        offered: list[Any] = list(tools.values())
        if self.limits.guards.grounding:
            offered = grounded_tools(
                tools,
                Grounding.from_texts(self._given(instruction)),
                self.log.excluded,
                span_shortlist(self.context.tool_relevance),
                self.log.listed,
            )
            if not offered:
                raise _NothingCallableError
            names = {o["function"]["name"] for o in offered}
            if tool_choice not in (None, "auto", "required", "any") and tool_choice not in names:
                tool_choice = "required"
        try:
            if tool_choice in (None, "auto"):  # the model's default
                return chat_model.bind_tools(offered, **options)
            return chat_model.bind_tools(offered, tool_choice=tool_choice, **options)
        except NotImplementedError:
            raise ConfigError(
                f"Model {model_name!r} ({type(chat_model).__name__}) cannot call tools: its "
                "bind_tools is not implemented. Fix: route tool steps to a model that supports "
                "tools (lamina's LlamaChatModel does)."
            ) from None

    def _later_tools(self, tools: Mapping[str, BaseTool], index: int) -> Mapping[str, BaseTool]:
        """The tools a move after a success sees: all of them, or with the `follow_on_tools`
        guard and a step that gives no number, the ones called and those its words still
        point to (:func:`~lamina.guards.unfinished.still_wanted`)."""
        relevance = self.context.tool_relevance
        step = step_text(self.state, index)
        if not self.limits.guards.follow_on_tools or relevance is None:
            return tools
        if Grounding.from_texts([step]).numbers:
            return tools  # its numbers decide: they must all go into calls (see _inputs_used)
        calls = [r.to_dict() for r in self.log.records]
        return {n: tools[n] for n in still_wanted(step, calls, tools, relevance)}

    def _inputs_used(self, index: int) -> bool:
        return inputs_used(step_text(self.state, index), self.log.successful_args())

    def _given(self, instruction: str) -> list[str]:
        # not a tool's errors: offered the values an error lists ("known: lyon, nice, ..."),
        # SmolLM2 took the first, lyon, for "the distance from Paris to Nice"
        tools = step_tools(self.state, self.context.tools)
        units = [
            with_returned_unit(str(r.result), tools[r.name].description or "")
            for r in self.log.records
            if r.error is None and r.result is not None and r.name in tools
        ]
        results = [*self.log.seen.values(), *(u for u in units if u is not None)]
        return given_texts(self.state, instruction, results)

    # -- one reply's calls ------------------------------------------------------------------
    def _run_calls(
        self,
        reply: AIMessage,
        tools: Mapping[str, BaseTool],
        messages: list[BaseMessage],
        index: int,
    ) -> EndReason | None:
        """Check, approve and run the reply's calls (:func:`run_reply_calls`)."""
        step = step_text(self.state, index)

        def check(t: BaseTool, args: Any) -> None:
            given = [*self._given(step), task_text(self.state)]
            if self.limits.guards.copied_example:
                check_grounded(t, args, given)
            if self.limits.guards.grounding:
                check_converts(t, args)
                check_uses_the_step(t, args, step)
                check_strings_given(t, args, given)

        return run_reply_calls(
            reply,
            tools,
            messages,
            self.log,
            self.limits,
            call_limit(self.state, self.limits),
            check,
            lambda t, item: self._ask_approval(t, item, index),
            self.context.ledger,
            str(self.state.get("thread_id") or ""),
        )

    def _ask_approval(self, t: BaseTool, item: Planned, index: int) -> bool:
        """Pause the run until a human approves or refuses the call (LangGraph `interrupt`)."""
        request = ApprovalRequest(
            tool=item.name,
            args=dict(item.args),
            call_id=item.call_id,
            step=index,
            model=self.model_name,
            description=" ".join((t.description or "").split()),
        )
        return ask_approval(request)

    def _count_tokens(self, reply: AIMessage) -> None:
        usage = reply.usage_metadata
        if usage:
            self.tokens += int(usage.get("total_tokens", 0))
