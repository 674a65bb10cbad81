"""The tool loop of one plan step (:class:`StepRun`), as the execution node runs it.

The checks of a call are in :mod:`~lamina.layers.execution.calls`, approval in
:mod:`~lamina.layers.execution.approval`, the durable model and tool steps in
:mod:`~lamina.layers.execution.durable` and the thread runner in
:mod:`~lamina.layers.execution.runner`; the small-model guards it applies are in
:mod:`lamina.guards`.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from langchain_core.messages import (
    AIMessage,
    BaseMessage,
    HumanMessage,
    SystemMessage,
    ToolMessage,
)
from langchain_core.tools import BaseTool

from lamina.config import Guards
from lamina.core.records import ApprovalRequest, ToolCallRecord, written_call
from lamina.core.serialise import json_safe, message_text, truncate
from lamina.core.text import render_memories, render_step_results, resolve_references
from lamina.errors import ConfigError, InputError, ModelOutputError
from lamina.guards.grounding import Grounding
from lamina.guards.tool_calls import echoes_instructions, ignores_results
from lamina.guards.tool_shortlist import (
    by_name_words,
    named_tools,
    shortlist_tools,
    written_expressions,
)
from lamina.guards.unfinished import still_wanted
from lamina.guards.units import with_returned_unit
from lamina.layers.escalation import fallback_chain, run_with_escalation
from lamina.layers.execution.approval import ask_approval, requires_approval
from lamina.layers.execution.calls import (
    CallError,
    call_key,
    check_grounded,
    check_strings_given,
    check_uses_the_step,
    checked_tool,
    with_call_ids,
)
from lamina.layers.execution.durable import durable, invoke_model
from lamina.layers.execution.grounded_moves import (
    failed_values,
    given_texts,
    grounded_tools,
    inputs_used,
    listed_values,
    missing_arguments,
    span_shortlist,
    uncallable_text,
)
from lamina.layers.execution.runner import ToolJob, execution_tools
from lamina.models.tool_calls import to_openai_tool
from lamina.stores.ledger import call_id_for
from lamina.tools.decorator import tool_timeout

if TYPE_CHECKING:
    from lamina.core.context import AgentContext
    from lamina.core.state import AgentState
    from lamina.guards.tool_relevance import ToolFit

__all__ = ["EndReason", "Limits", "StepRun"]

logger = logging.getLogger(__name__)

EndReason = Literal[
    "final_answer", "max_tool_calls", "max_retries", "repeated_call", "ungrounded", "inputs_used"
]


class _NothingCallableError(Exception):
    """Grounding left no tool callable for this move."""


_SYSTEM_PROMPT = (
    "You complete one step of a task, using tools when the step needs them. "
    "Call a tool with the arguments it asks for; its result comes back to you. "
    "Copy numbers and names exactly from tool results. When you have what the step asks for, "
    "reply with a short final answer that states the result."
)

_ANSWER_NOW = "The tool returned {result}. Give the final answer in one short sentence."

_AFTER_RESULT = 'The tool returned {result}. If that answers "{step}", give the final answer.'


@dataclass(frozen=True)
class Limits:
    """The execution node's bounds (checked by `make_execution_node`)."""

    max_tool_calls: int
    max_retries: int
    tool_timeout: float
    max_output_chars: int
    max_tool_calls_per_plan_step: int
    concurrent: bool = True
    parallel_tool_calls: bool | None = None
    guards: Guards = field(default_factory=Guards)


@dataclass
class _Planned:
    """What happens to one call of a reply: a ready outcome, or a job to run."""

    name: str
    args: Any
    call_id: str
    key: str
    failure: CallError | None = None
    reused: str | None = None  # the result of an earlier identical call
    job: int | None = None  # index into the batch of calls to run
    approval: str = ""
    skipped: bool = False


@dataclass(frozen=True)
class _Opening:
    """A step's first move, until a call succeeds: the tools offered and the `tool_choice`
    (``"required"`` when a tool fits the step; None: the model's default)."""

    tools: Mapping[str, BaseTool]
    tool_choice: str | None = None
    # may the other tools be offered when none of these can be called with what was given? Not
    # when these fit the step by meaning: "how many days are in a week?" fits `days_between`,
    # which needs dates nobody gave, and widened, SmolLM2 sent the words to the calculator
    widens: bool = True


@dataclass
class StepRun:
    """The tool loop of one step (state for one call of the node).

    To be rebuilt when plans become programs; kept whole here on purpose."""

    state: AgentState
    context: AgentContext
    limits: Limits
    records: list[ToolCallRecord] = field(default_factory=list)
    failures: int = 0
    tokens: int = 0
    skipped: int = 0
    last_success: str | None = None
    last_error: str | None = None
    seen: dict[str, str] = field(default_factory=dict)
    failed: dict[str, CallError] = field(default_factory=dict)
    # values that failed, by tool and argument: grounding offers them no more in this step
    excluded: dict[str, dict[str, set[Any]]] = field(default_factory=dict)
    # values a tool's error listed, by tool and argument: grounding prefers the spans among them
    listed: dict[str, dict[str, list[str]]] = field(default_factory=dict)
    model_name: str = ""
    # (tool, argument, text): arithmetic the step writes that one tool takes as it stands; the
    # first move is that call, not the model's (which rewrote "(1250 - 380) / 6" as
    # "{1250} * {380}")
    written: tuple[str, str, str] | None = None
    echoed: str = ""  # a final text that only restated the tool instructions
    # by tool, the required arguments nothing given could fill, when no tool could be called
    uncallable: dict[str, list[str]] = field(default_factory=dict)
    ignored: str = ""  # a final text that quoted none of the tool results

    # -- the loop ---------------------------------------------------------------------------
    def run(self) -> dict[str, Any]:
        started = time.perf_counter()
        index, instruction = self._current_step()
        tools = self._tools()
        offered = len(tools)
        if len(self.state.get("plan") or []) > 1 and self.limits.guards.name_shortlist:
            # One action per step: a 135M model picks the first tool it sees unless the step's
            # words single one out, so a clear winner by name is the only tool it is offered.
            tools = {n: tools[n] for n in shortlist_tools(instruction, list(tools))}
        fit = self._fit(instruction, tools)
        opening = _Opening(tools)
        if fit is not None:
            # Offered several tools, a small model often starts with the wrong one: its first
            # move sees the tools that fit the step (and those it names); later moves see all.
            # Every list it sees puts the closest tools first (see ToolFit.ranked).
            tools = {n: tools[n] for n in fit.ranked()}
            keep = by_name_words(
                instruction, fit.shortlist(named=named_tools(instruction, list(tools)))
            )
            opening = _Opening({n: tools[n] for n in keep}, fit.tool_choice(), not fit.fits)
        written = written_expressions(instruction, tools)
        if written:
            # the step writes arithmetic a tool takes as it stands: that tool, and a call first
            opening = _Opening(
                {n: tools[n] for n in dict.fromkeys(w[0] for w in written)}, "required"
            )
            if len(written) == 1 and self.limits.guards.grounding:
                self.written = written[0]
        planned = _planned_call(self.state.get("plan") or [], index)
        if planned is not None and planned[0] in tools:
            # the plan wrote the call itself (a lookup about a thing an earlier call named)
            opening, self.written = _Opening({planned[0]: tools[planned[0]]}, "required"), planned
        first, route = self._step_model(index)
        chain = fallback_chain(self.context, self.state, first, route)

        def attempt(name: str) -> tuple[EndReason, str]:
            self.failures = 0
            self.model_name = name
            return self._attempt(name, tools, opening, instruction, index)

        (ended_by, final_text), model_name, escalations = run_with_escalation(
            chain,
            attempt,
            layer="execution",
            failed=lambda outcome: (
                f"its tool calls still failed after {self.limits.max_retries} retries "
                f"(last error: {self.last_error})"
                if outcome[0] == "max_retries" and self.last_success is None
                else None
            ),
        )

        if (
            self.limits.guards.echoed_instructions
            and final_text
            and self.last_success is not None
            and echoes_instructions(final_text, tools)
        ):
            # A 135M model sometimes "answers" with its tool list or an argument's description;
            # that is not an answer, so the step falls back to its last tool result.
            logger.info("execution step %d: final text echoes the tool instructions", index)
            self.echoed = final_text
            final_text = ""
        if (
            self.limits.guards.ignored_results
            and final_text
            and ended_by in ("final_answer", "inputs_used")
            and ignores_results(final_text, self._results(tools))
        ):
            # "The answer is not provided." right after a call that returned the figure: the
            # step keeps the result rather than a text that drops it.
            logger.info("execution step %d: final text quotes no tool result", index)
            self.ignored = final_text
            final_text = ""
        result, source = self._result(ended_by, final_text, index)
        seconds = time.perf_counter() - started
        calls = [r.to_dict() for r in self.records]
        step_result = {
            "index": index,
            "instruction": instruction,
            "result": result,
            "model": model_name,
            "cached": False,
            "tool_calls": calls,
            "status": "failed" if source == "none" else "ok",
        }
        if self.uncallable:
            step_result["uncallable"] = self.uncallable
        data: dict[str, Any] = {
            "step": index,
            "model": model_name,
            "tool_calls": calls,
            "retries": sum(1 for r in self.records if r.error is not None),
            "tokens": self.tokens,
            "ended_by": ended_by,
            "result_source": source,
        }
        if len(tools) < offered:
            data["tools_offered"] = list(tools)
        if fit is not None:
            data["tool_fit"] = fit.to_dict()
        if self.skipped:
            data["skipped_calls"] = self.skipped
        if escalations:
            data["escalations"] = escalations
        if source == "last_tool_result":
            data["note"] = (
                "the model's final text restated its tool instructions"
                if self.echoed
                else "the model's final text quoted none of the tool results"
                if self.ignored
                else "the model gave no final answer"
                if ended_by in ("final_answer", "inputs_used")
                else f"the loop ended by {ended_by}"
            ) + "; the step's result is the last successful tool result"
        logger.info(
            "execution step %d: %d tool call(s), %d failure(s), ended by %s (%.2fs)",
            index,
            len(self.records),
            self.failures,
            ended_by,
            seconds,
        )
        return {
            "step_results": [*self.state.get("step_results", []), step_result],
            "step_index": self.state.get("step_index", 0) + 1,
            "steps_taken": self.state.get("steps_taken", 0) + 1,
            "trace": [{"layer": "execution", "seconds": round(seconds, 4), "data": data}],
        }

    def _fit(self, instruction: str, tools: Mapping[str, BaseTool]) -> ToolFit | None:
        """How well each tool fits the step, when the context weighs tools by meaning."""
        relevance = self.context.tool_relevance
        if relevance is None or not tools:
            return None
        fit: ToolFit = relevance.assess(instruction, tools)
        return fit

    def _step_model(self, index: int) -> tuple[str, str | None]:
        """The model the reasoning layer routed this step to, else the run's model."""
        plan = self.state.get("plan") or []
        step = plan[index] if 0 <= index < len(plan) else {}
        routed = step.get("model") if isinstance(step, dict) else None
        if routed:
            route = step.get("route")
            return str(routed), None if route is None else str(route)
        return str(self.state.get("model") or self.context.default_model), None

    def _attempt(
        self,
        model_name: str,
        tools: Mapping[str, BaseTool],
        opening: _Opening,
        instruction: str,
        index: int,
    ) -> tuple[EndReason, str]:
        """The tool loop with one model: returns why it ended and the model's final text."""
        chat_model = self.context.models.chat_model(model_name)
        options: dict[str, Any] = {}
        if self.limits.parallel_tool_calls is not None:
            options["parallel_tool_calls"] = self.limits.parallel_tool_calls
        messages: list[BaseMessage] = [
            SystemMessage(self._system_prompt(tools)),
            HumanMessage(self._step_prompt(instruction)),
        ]
        while True:
            # Until a call has succeeded the first move's tools and tool choice apply; after
            # that every tool and the answer are open. Tools are bound afresh for every move:
            # with grounding, each result adds to the numbers an argument may hold.
            opens = self.last_success is None
            offered = opening.tools if opens else self._later_tools(tools, index)
            choice = opening.tool_choice if opens else None
            if opens and self.records and choice in (None, "auto"):
                # a call was tried and failed: the next move is a call too (left a choice after
                # its refused first call, SmolLM2-135M answered with that call's arguments)
                choice = "required"
            try:
                try:
                    bound = self._bind(
                        chat_model, model_name, offered, choice, instruction, options
                    )
                except _NothingCallableError:
                    if opens and not self.records and opening.widens and set(offered) < set(tools):
                        # none of the tools that fit best can take what was given: the others
                        # may ("the desk lamp with 20% tax": no bill for `add_tip`)
                        opening = _Opening(tools, opening.tool_choice)
                        continue
                    if not self.records:
                        # no tool can be called with what was given: the step is the model's
                        # own to answer, and the verdict says so (what each tool lacked)
                        self.uncallable = missing_arguments(
                            offered, Grounding.from_texts(self._given(instruction))
                        )
                    # or every value left was tried and failed: the model may only answer now
                    bound = chat_model
                written = opens and not self.records and not self.uncallable
                preset = self._written_call(offered) if written else None
                reply = preset if preset is not None else invoke_model(bound, messages)
            except ModelOutputError as exc:
                # An unreadable reply is a failed attempt like a bad call: say so, then retry.
                failure = CallError(
                    "model_output",
                    "your reply could not be read as a tool call or an answer",
                    str(exc),
                    "call one of the tools with valid arguments, or give the final answer",
                )
                self._record_failure("", {}, 0.0, failure)
                if self.failures > self.limits.max_retries:
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
            reply = self._ledger_ids(with_call_ids(reply), index)
            messages.append(reply)
            succeeded = self._successes()
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
                and self._successes() > succeeded
                and self.last_success is not None
            ):
                # Small models keep calling tools on numbers of their own after the answer is
                # in; asked this, they answer or repeat the call (which ends the step).
                messages.append(
                    HumanMessage(
                        _AFTER_RESULT.format(
                            result=truncate(self.last_success, 200), step=instruction
                        )
                    )
                )

    def _written_call(self, offered: Mapping[str, BaseTool]) -> AIMessage | None:
        """The call the step writes itself (see `written`), when its tool is offered and needs
        no other argument."""
        if self.written is None or self.written[0] not in offered:
            return None
        name, arg, text = self.written
        parameters = to_openai_tool(offered[name])["function"].get("parameters") or {}
        if not set(parameters.get("required") or ()) <= {arg}:
            return None
        return AIMessage(content="", tool_calls=[{"name": name, "args": {arg: text}, "id": ""}])

    def _answer_only(self, chat_model: Any, messages: list[BaseMessage]) -> tuple[EndReason, str]:
        """The model's final text, with no tool to call (the step's inputs are all used)."""
        if self.last_success is not None:
            messages.append(
                HumanMessage(_ANSWER_NOW.format(result=truncate(self.last_success, 200)))
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
                self.excluded,
                span_shortlist(self.context.tool_relevance),
                self.listed,
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

    def _step_text(self, index: int) -> str:
        """The step's instruction with the earlier value it refers to written in."""
        plan = self.state.get("plan") or []
        instruction = str(plan[index]["instruction"]) if 0 <= index < len(plan) else self._task()
        return resolve_references(instruction, self.state.get("step_results", []) or [])

    def _later_tools(self, tools: Mapping[str, BaseTool], index: int) -> Mapping[str, BaseTool]:
        """The tools a move after a success sees: all of them, or with the `follow_on_tools`
        guard and a step that gives no number, the ones called and those its words still
        point to (:func:`~lamina.guards.unfinished.still_wanted`)."""
        relevance = self.context.tool_relevance
        step = self._step_text(index)
        if not self.limits.guards.follow_on_tools or relevance is None:
            return tools
        if Grounding.from_texts([step]).numbers:
            return tools  # its numbers decide: they must all go into calls (see _inputs_used)
        calls = [r.to_dict() for r in self.records]
        return {n: tools[n] for n in still_wanted(step, calls, tools, relevance)}

    def _inputs_used(self, index: int) -> bool:
        return inputs_used(
            self._step_text(index), [r.args for r in self.records if r.error is None]
        )

    def _given(self, instruction: str) -> list[str]:
        # not a tool's errors: offered the values an error lists ("known: lyon, nice, ..."),
        # SmolLM2 took the first, lyon, for "the distance from Paris to Nice"
        tools = self._tools()
        units = [
            with_returned_unit(str(r.result), tools[r.name].description or "")
            for r in self.records
            if r.error is None and r.result is not None and r.name in tools
        ]
        results = [*self.seen.values(), *(u for u in units if u is not None)]
        return given_texts(self.state, instruction, results)

    # -- one reply's calls ------------------------------------------------------------------
    def _run_calls(
        self,
        reply: AIMessage,
        tools: Mapping[str, BaseTool],
        messages: list[BaseMessage],
        index: int,
    ) -> EndReason | None:
        """Check, approve and run the reply's calls; return why the loop must end, or None."""
        planned: list[_Planned] = []
        jobs: list[ToolJob] = []
        in_batch: dict[str, int] = {}
        repeated = False
        budget = self._call_limit() - self._successes()
        for call in reply.tool_calls:
            name = str(call.get("name", ""))
            args = call.get("args")
            key = call_key(name, args)
            item = _Planned(name=name, args=args, call_id=str(call["id"]), key=key)
            planned.append(item)
            if key in self.seen:
                # An identical call gives the identical answer; asking again means the model is
                # looping, so the step ends with the result it already has.
                item.reused = self.seen[key]
                repeated = True
                continue
            if key in self.failed:
                # At temperature 0 a model may send the same bad call again; running it again
                # would fail the same way, so it gets the same error and a stronger hint.
                earlier = self.failed[key]
                item.failure = CallError(
                    earlier.kind,
                    earlier.what,
                    earlier.error,
                    "this exact call already failed; change the arguments, call another tool, "
                    "or give the final answer",
                    earlier.error_id,
                )
                continue
            if key in in_batch:
                item.job = planned[in_batch[key]].job  # the same call twice in one reply
                continue
            try:
                t = checked_tool(name, args, tools)
                given = [*self._given(self._step_text(index)), self._task()]
                if self.limits.guards.copied_example:
                    check_grounded(t, args, given)
                if self.limits.guards.grounding:
                    check_uses_the_step(t, args, self._step_text(index))
                    check_strings_given(t, args, given)
            except CallError as failure:
                item.failure = failure
                continue
            if len(jobs) >= budget:
                item.skipped = True
                continue
            if requires_approval(t):
                approved = self._ask_approval(t, item, index)
                item.approval = "approved" if approved else "refused"
                if not approved:
                    item.failure = CallError(
                        "refused",
                        f"the user did not approve calling {name!r}",
                        "the call was refused, so the tool did not run",
                        "do not call it again with these arguments; answer without it, or tell "
                        "the user what you would need",
                    )
                    continue
            in_batch[key] = len(planned) - 1
            item.job = len(jobs)
            jobs.append(
                ToolJob(
                    t,
                    dict(args),
                    tool_timeout(t, self.limits.tool_timeout),
                    item.call_id if self.context.ledger is not None else "",
                    self._thread_id(),
                    self.context.ledger,
                )
            )

        outcomes: list[dict[str, Any]] = (
            durable(
                "execution_tools",
                execution_tools,
                jobs,
                self.limits.max_output_chars,
                self.limits.concurrent,
            )
            if jobs
            else []
        )
        for item in planned:
            self._settle(item, outcomes, messages)
        if self.failures > self.limits.max_retries:
            return "max_retries"
        if repeated:
            return "repeated_call"
        if self._successes() >= self._call_limit():
            return "max_tool_calls"
        return None

    def _settle(
        self, item: _Planned, outcomes: list[dict[str, Any]], messages: list[BaseMessage]
    ) -> None:
        """Record one call's outcome and give the model its tool message (in call order)."""
        args = item.args if isinstance(item.args, dict) else {"value": json_safe(item.args)}
        attempt = len(self.records) + 1
        if item.skipped:
            self.skipped += 1
            messages.append(
                ToolMessage(
                    f"Tool call not run: this step allows {self._call_limit()} tool call(s).",
                    tool_call_id=item.call_id,
                    name=item.name,
                    status="error",
                )
            )
            return
        if item.reused is not None and item.job is None:
            self.records.append(
                ToolCallRecord(item.name, dict(args), 0.0, attempt, item.reused, repeated=True)
            )
            self.last_success = item.reused
            messages.append(ToolMessage(item.reused, tool_call_id=item.call_id, name=item.name))
            return
        failure = item.failure
        seconds = 0.0
        text = ""
        replayed = False
        if failure is None and item.job is not None:
            outcome = outcomes[item.job]
            seconds = float(outcome["seconds"])
            replayed = bool(outcome.get("replayed", False))
            if outcome["ok"]:
                text = str(outcome["text"])
            else:
                failure = CallError.from_dict(outcome)
        if failure is not None:
            self._record_failure(item.name, item.args, seconds, failure, item.approval)
            self.failed.setdefault(item.key, failure)
            self._exclude(item.name, item.args, failure)
            messages.append(
                ToolMessage(
                    failure.message(),
                    tool_call_id=item.call_id,
                    name=item.name or None,
                    status="error",
                )
            )
            return
        repeat = item.key in self.seen
        self.records.append(
            ToolCallRecord(
                item.name,
                dict(args),
                seconds,
                attempt,
                result=text,
                repeated=repeat,
                approval=item.approval,
                replayed=replayed,
            )
        )
        self.seen[item.key] = text
        self.last_success = text
        messages.append(ToolMessage(text, tool_call_id=item.call_id, name=item.name))

    def _exclude(self, name: str, args: Any, failure: CallError) -> None:
        accepted = listed_values(failure.error) if failure.kind == "exception" else []
        for key, value in failed_values(args, failure).items():
            self.excluded.setdefault(name, {}).setdefault(key, set()).add(value)
            if accepted:
                self.listed.setdefault(name, {})[key] = accepted

    def _thread_id(self) -> str:
        return str(self.state.get("thread_id") or "")

    def _ledger_ids(self, reply: AIMessage, step: int) -> AIMessage:
        """With a ledger, the reply's `tool_call_id`s become deterministic: the same each time
        a resumed run reaches the same call (thread, turn, step, position, tool, arguments), so
        the ledger is keyed by them."""
        if self.context.ledger is None:
            return reply
        turn = sum(1 for m in self.state.get("messages", []) if isinstance(m, HumanMessage)) - 1
        first = len(self.records)
        calls = [
            {
                **call,
                "id": call_id_for(
                    self._thread_id(),
                    turn,
                    step,
                    first + i,
                    str(call.get("name", "")),
                    json_safe(call.get("args")),
                ),
            }
            for i, call in enumerate(reply.tool_calls)
        ]
        return reply.model_copy(update={"tool_calls": calls})

    def _ask_approval(self, t: BaseTool, item: _Planned, index: int) -> bool:
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

    def _record_failure(
        self, name: str, args: Any, seconds: float, failure: CallError, approval: str = ""
    ) -> None:
        self.failures += 1
        self.last_error = failure.error
        self.records.append(
            ToolCallRecord(
                name=name,
                args=dict(args) if isinstance(args, dict) else {"value": json_safe(args)},
                seconds=seconds,
                attempt=len(self.records) + 1,
                error=failure.error,
                kind=failure.kind,
                approval=approval,
                error_id=failure.error_id,
            )
        )
        logger.info("tool call %r failed (%s): %s", name, failure.kind, failure.error)

    def _results(self, tools: Mapping[str, BaseTool]) -> list[str]:
        """The results of this step's calls that worked, when every call only read: after an
        action ("sent 50 EUR to Bob") an answer may just acknowledge it ("All done."), so []."""
        done = [r for r in self.records if r.error is None and r.result is not None]
        if any(r.name in tools and requires_approval(tools[r.name]) for r in done):
            return []
        return [str(r.result) for r in done]

    def _successes(self) -> int:
        return sum(1 for r in self.records if r.error is None and not r.repeated)

    def _result(self, ended_by: EndReason, final_text: str, index: int) -> tuple[str, str]:
        """The step's result and where it came from (`final_answer`, `last_tool_result`, `none`)."""
        if ended_by in ("final_answer", "inputs_used", "ungrounded") and final_text:
            return final_text, "final_answer"
        if self.last_success is not None:
            return self.last_success, "last_tool_result"
        if ended_by == "ungrounded":
            return (
                f"Step {index + 1} could not be done: {uncallable_text(self.uncallable)}.",
                "none",
            )
        if self.failures:
            return (
                f"Step {index + 1} could not be completed: {self.failures} tool call(s) failed "
                f"(retry limit {self.limits.max_retries}). Last error: {self.last_error}",
                "none",
            )
        return f"Step {index + 1} produced no answer: the model replied with empty text.", "none"

    # -- inputs -----------------------------------------------------------------------------
    def _current_step(self) -> tuple[int, str]:
        plan = self.state.get("plan") or []
        if not plan:
            return 0, self._task()
        index = self.state.get("step_index", 0)
        if not 0 <= index < len(plan):
            raise ConfigError(
                f"The execution layer was asked for step {index}, but the plan has {len(plan)} "
                "step(s). Fix: route to execution only while step_index < len(plan)."
            )
        return index, str(plan[index]["instruction"])

    def _task(self) -> str:
        task = self.state.get("task")
        if task:
            return task
        for message in reversed(self.state.get("messages", [])):
            if isinstance(message, HumanMessage):
                text = message_text(message).strip()
                if text:
                    return text
        raise InputError(
            "The execution layer found no task: expected state['task'] or a human message. "
            "Fix: put the input layer before execution, or pass messages=[HumanMessage(...)]."
        )

    def _tools(self) -> dict[str, BaseTool]:
        if not self.context.tools:
            raise ConfigError(
                "The execution layer has no tools to call: AgentContext.tools is empty. "
                "Fix: pass tools (e.g. lamina.tools.calculator.default_tools()) to the agent."
            )
        plan = self.state.get("plan") or []
        index = self.state.get("step_index", 0)
        named = plan[index].get("tools") if 0 <= index < len(plan) else None
        # a step the plan gave its tools (a conversion added after planning) sees only those
        kept = {n: t for n, t in self.context.tools.items() if named is None or n in named}
        return kept or dict(self.context.tools)

    def _system_prompt(self, tools: Mapping[str, BaseTool]) -> str:
        parts = [_SYSTEM_PROMPT, "Tools:"]
        for t in tools.values():
            summary = (t.description or "").strip().splitlines()
            parts.append(f"- {t.name}: {summary[0]}" if summary else f"- {t.name}")
        text = "\n".join(parts)
        memories = render_memories(self.state.get("memories", []))
        return f"{text}\n\n{memories}" if memories else text

    def _call_limit(self) -> int:
        """Successful calls allowed in this step.

        A step of a plan of several steps is one action by construction (the reasoning layer
        split the task that way), so it ends after `max_tool_calls_per_plan_step` calls: small
        models otherwise keep calling tools on numbers of their own invention.
        """
        if len(self.state.get("plan") or []) > 1:
            return min(self.limits.max_tool_calls, self.limits.max_tool_calls_per_plan_step)
        return self.limits.max_tool_calls

    def _step_prompt(self, instruction: str) -> str:
        # The step alone, with the results it may build on, and not the whole task: given the
        # whole task, small models redo all of it in the first step.
        earlier = self.state.get("step_results", [])
        resolved = resolve_references(instruction, earlier)
        if resolved != instruction:
            return resolved  # the value it needs is written in; the rest would only distract
        results = render_step_results(earlier)
        return f"{results}\n\n{instruction}" if results else instruction

    def _count_tokens(self, reply: AIMessage) -> None:
        usage = reply.usage_metadata
        if usage:
            self.tokens += int(usage.get("total_tokens", 0))


def _planned_call(plan: Sequence[Any], index: int) -> tuple[str, str, str] | None:
    """The call plan step `index` writes itself (`PlanStep.call`), if any."""
    step = plan[index] if 0 <= index < len(plan) else None
    return written_call(step.get("call")) if isinstance(step, Mapping) else None
