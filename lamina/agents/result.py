"""`RunResult`: what one agent run did, read from the graph's final state and trace."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

from lamina.agents.verdict import judge_run
from lamina.core.records import ApprovalRequest, RunError

__all__ = ["ApprovalRequest", "RunError", "RunResult", "StepOutcome", "ToolCallRecord"]


@dataclass(frozen=True)
class ToolCallRecord:
    """One tool call of a run, successful or not.

    Attributes:
        name: the tool.
        arguments: what the model sent.
        result: the tool's output (None for a failed call).
        error: what went wrong (None for a success).
        seconds: how long the call took.
        step: the plan step it belongs to.
        kind: the failure kind (`unknown_tool`, `invalid_arguments`, `exception`, `timeout`,
            `model_output`, `refused`, `copied_example`), "" for a success.
        approval: "approved"/"refused" for a tool that needs approval, else "".
        repeated: the model sent an identical earlier call again; it was not run a second
            time (its earlier result was reused, and the step ended there).
        replayed: the call had finished before the run was cut off; on resume its result came
            from the tool-call ledger and the tool did not run again.
        error_id: for an exception raised inside the tool, the id its full text was logged
            under (`lamina serve` sends clients this id, never the text).
    """

    name: str
    arguments: dict[str, Any]
    result: str | None
    error: str | None
    seconds: float
    step: int | None = None
    kind: str = ""
    approval: str = ""
    repeated: bool = False
    replayed: bool = False
    error_id: str = ""


StepSource = Literal["tool", "verified", "summary", "extract", "quote", "model"]


@dataclass(frozen=True)
class StepOutcome:
    """One step of the run's plan, as it ended.

    Attributes:
        index: the step's position in the plan (0-based).
        instruction: what the step was to do.
        result: what it gave (for a failed step, why it failed).
        status: "ok" or "failed".
        source: where the result comes from: "tool" (a tool call that worked), "verified" (a
            reasoned result a check passed), "summary" (an extractive summary of the request's
            text), "extract" (an identifier the request's text writes where the question says:
            lamina.layers.reasoning.identifiers), "quote" (the sentences of the request's text
            closest to its question: lamina.layers.reasoning.quotes; nothing checked that they
            answer it) or "model" (the model's own text, nothing checked it).
        tool_calls: the step's tool calls, in order.
        model: the model that worked on the step (None when none did).
    """

    index: int
    instruction: str
    result: str
    status: Literal["ok", "failed"]
    source: StepSource
    tool_calls: tuple[ToolCallRecord, ...] = ()
    model: str | None = None

    @classmethod
    def from_state(cls, data: Mapping[str, Any]) -> StepOutcome:
        """Read a step result the reasoning and execution layers wrote into the state."""
        index = int(data.get("index", 0))
        calls = tuple(_call_record(c, index) for c in data.get("tool_calls") or [])
        source: StepSource = "model"
        if any(c.error is None and c.result is not None for c in calls):
            source = "tool"
        elif data.get("verified") is True:
            source = "verified"
        elif data.get("summary"):
            source = "summary"
        elif data.get("extracted"):
            source = "extract"
        elif data.get("quote"):
            source = "quote"
        model = data.get("model")
        return cls(
            index=index,
            instruction=str(data.get("instruction", "")),
            result=str(data.get("result", "")),
            status="failed" if data.get("status") == "failed" else "ok",
            source=source,
            tool_calls=calls,
            model=model if isinstance(model, str) and model else None,
        )


def _call_record(call: Mapping[str, Any], step: Any) -> ToolCallRecord:
    return ToolCallRecord(
        name=str(call.get("name")),
        arguments=dict(call.get("args") or {}),
        result=None if call.get("result") is None else str(call["result"]),
        error=None if call.get("error") is None else str(call["error"]),
        seconds=float(call.get("seconds", 0.0)),
        step=step,
        kind=str(call.get("kind") or ""),
        approval=str(call.get("approval") or ""),
        repeated=bool(call.get("repeated", False)),
        replayed=bool(call.get("replayed", False)),
        error_id=str(call.get("error_id") or ""),
    )


@dataclass(frozen=True)
class RunResult:
    """The outcome of `Agent.run`.

    Check `ok` before using `answer`: a run that could not do what was asked says so here,
    with a typed `error` (what failed, why, what was tried), never in a sentence posing as the
    answer alone.

    Attributes:
        answer: the final answer text.
        route: the intent the router chose (None when it abstained).
        model: the model the router chose.
        models_used: every model that generated text in this run.
        tool_calls: every tool call, in order, with its result or error and seconds.
        escalations: each move to a fallback model: `{"layer", "stage"?, "from", "to",
            "error"}` (empty when every model worked).
        memories: memories retrieved before reasoning, with their store ids and scores.
        reasoning: the plan's steps, `cache_hits` and `cache_misses`.
        timings: seconds spent per layer.
        tokens: tokens generated or read per layer, and the total.
        thread_id: the conversation's thread (pass it again to continue).
        user_id: whose memory was used.
        trace: the raw trace events.
        interrupted: the run is paused, waiting for a human (see `pending_approval`); continue
            it with `agent.resume(thread_id, approve=True|False)`.
        pending_approval: the tool call waiting for approval, with its arguments (None when
            the run is not waiting for one).
        error: why the answer cannot be trusted as the task's answer (None: it can); see
            :mod:`lamina.agents.verdict`.
        steps: the plan's steps as they ended, typed (:class:`StepOutcome`): which step
            failed, which results came from tools and which from the model alone.
    """

    answer: str
    route: str | None
    model: str | None
    models_used: list[str]
    tool_calls: list[ToolCallRecord]
    escalations: list[dict[str, Any]]
    memories: list[dict[str, Any]]
    reasoning: dict[str, Any]
    timings: dict[str, float]
    tokens: dict[str, int]
    thread_id: str
    user_id: str
    trace: list[dict[str, Any]] = field(default_factory=list)
    interrupted: bool = False
    pending_approval: ApprovalRequest | None = None
    error: RunError | None = None
    steps: list[StepOutcome] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """The run did what was asked: every step done, every figure of the answer sourced."""
        return self.error is None

    def to_dict(self) -> dict[str, Any]:
        """A JSON-safe dict of every field, and `ok`."""
        return _json_safe({"ok": self.ok, **asdict(self)})  # type: ignore[no-any-return]

    @classmethod
    def from_state(
        cls,
        state: Mapping[str, Any],
        *,
        thread_id: str,
        user_id: str,
        interrupts: Sequence[Any] = (),
    ) -> RunResult:
        """Build the result from the graph's final state (its `trace` above all).

        Args:
            state: the graph state's values.
            thread_id: the run's thread.
            user_id: whose memory the run used.
            interrupts: the state snapshot's pending interrupts (LangGraph `Interrupt`s).
        """
        trace: list[dict[str, Any]] = list(state.get("trace") or [])
        route = state.get("route") or {}
        model = route.get("model") or state.get("model")
        timings: dict[str, float] = {}
        tokens: dict[str, int] = {}
        models_used: list[str] = []
        tool_calls: list[ToolCallRecord] = []
        memory_hits: list[dict[str, Any]] = []
        escalations: list[dict[str, Any]] = []
        hits = misses = 0

        def used(name: Any) -> None:
            if isinstance(name, str) and name and name not in models_used:
                models_used.append(name)

        for event in trace:
            layer = str(event.get("layer"))
            data = event.get("data") or {}
            timings[layer] = timings.get(layer, 0.0) + float(event.get("seconds", 0.0))
            for move in data.get("escalations") or []:
                escalations.append({"layer": layer, **move})
            if isinstance(data.get("tokens"), int):
                tokens[layer] = tokens.get(layer, 0) + int(data["tokens"])
            if layer == "reasoning":
                hits += int(data.get("cache_hits", 0))
                misses += int(data.get("cache_misses", 0))
                for step in data.get("steps") or []:
                    if not step.get("cached"):
                        used(step.get("model"))
                    used(step.get("summariser_model"))
                for m in data.get("models") or []:
                    used(m)
            elif layer == "execution":
                used(data.get("model"))
                for call in data.get("tool_calls") or []:
                    tool_calls.append(_call_record(call, data.get("step")))
            elif layer == "memory":
                memory_hits = list(data.get("hits") or [])
        tokens["total"] = sum(tokens.values())
        memories = list(state.get("memories") or [])
        if not memories and memory_hits:
            memories = memory_hits
        plan = [s.get("instruction", "") for s in state.get("plan") or []]
        pending = next(
            (
                request
                for request in (
                    ApprovalRequest.from_value(getattr(i, "value", None)) for i in interrupts
                )
                if request is not None
            ),
            None,
        )
        return cls(
            answer=str(state.get("answer") or ""),
            route=route.get("route"),
            model=model,
            models_used=models_used,
            tool_calls=tool_calls,
            escalations=escalations,
            memories=memories,
            reasoning={
                "plan": plan,
                "steps": list(state.get("step_results") or []),
                "cache_hits": hits,
                "cache_misses": misses,
            },
            timings=timings,
            tokens=tokens,
            thread_id=thread_id,
            user_id=user_id,
            trace=trace,
            interrupted=bool(interrupts),
            pending_approval=pending,
            error=judge_run(state, pending),
            steps=[StepOutcome.from_state(r) for r in state.get("step_results") or []],
        )


def _json_safe(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {str(k): _json_safe(v) for k, v in value.items()}
    if isinstance(value, Sequence) and not isinstance(value, str | bytes):
        return [_json_safe(v) for v in value]
    if value is None or isinstance(value, bool | int | float | str):
        return value
    return str(value)
