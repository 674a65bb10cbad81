"""`AgentOptions`: every option of the agent graph's nodes, typed and validated.

`Agent(**options)`, the top level of `lamina.toml` and `build_agent_graph(...)` take the same
names; `AgentOptions.NODE_PARAMS` says which node each one reaches. A mistake raises
`ConfigError` with what was expected, what was found and the fix.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Mapping, Sequence
from types import UnionType
from typing import Any, ClassVar, Protocol, Union, get_args, get_origin, runtime_checkable

from pydantic import BaseModel, ConfigDict, Field, ValidationError
from pydantic.fields import FieldInfo

from lamina.errors import ConfigError

__all__ = [
    "AgentOptions",
    "Guards",
    "PromptTemplates",
    "StepVerifier",
    "expected_type",
    "unknown_name_message",
]


@runtime_checkable
class PromptTemplates(Protocol):
    """What the reasoning layer needs of a prompt file (lamina's `PromptSet` is one)."""

    @property
    def version(self) -> str: ...

    def render(self, section: str, key: str, **values: Any) -> str: ...

    def template_version(self, section: str) -> str: ...


@runtime_checkable
class StepVerifier(Protocol):
    """A check of a reasoned step's result (lamina's `Verifier`s, e.g. `ArithmeticVerifier`)."""

    @property
    def name(self) -> str: ...

    def check(
        self, instruction: str, result: str, *, earlier: Sequence[Mapping[str, Any]] = ()
    ) -> Any: ...


class Guards(BaseModel):
    """Which small-model guards run (each on by default; a larger model may not need them).

    Every guard lives in `lamina.guards` and says its measured effect in its docstring, except
    `loop_retry`, which lives in the llama chat model's decoding (`LlamaChatModel.retry_loops`,
    set by the agent on the models of its pool). `Guards.off()` switches them all off; in
    lamina.toml, a `[guards]` table.
    """

    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)

    grounding: bool = Field(
        default=True,
        description="Tool arguments hold only numbers and words the run was given.",
    )
    copied_example: bool = Field(
        default=True, description="Send back a string argument copied from a tool's description."
    )
    echoed_instructions: bool = Field(
        default=True, description="A final text that restates the tool instructions is not one."
    )
    ignored_results: bool = Field(
        default=True,
        description="A final text that quotes no figure of the tool results is not one.",
    )
    follow_on_tools: bool = Field(
        default=True,
        description="After a call that worked, a step without numbers sees only the tools "
        "called and those its words still point to.",
    )
    name_shortlist: bool = Field(
        default=True, description="A step of a longer plan is offered the tools its words name."
    )
    result_check: bool = Field(
        default=True, description="After a result, ask whether it answers the step."
    )
    degenerate_output: bool = Field(
        default=True,
        description="Reasoning drops echoing or looping output (off: only empty output).",
    )
    unfinished_request: bool = Field(
        default=True,
        description="A tool-backed answer is not ok while a request word points to an unused tool.",
    )
    finish_conversions: bool = Field(
        default=True,
        description=(
            "An answer in another unit than asked gets one more step that converts it, and a "
            "quantity given in another unit than the fitting tool takes is converted first."
        ),
    )
    combine_results: bool = Field(
        default=True,
        description=(
            "Arithmetic the figures or the request's words decide is planned: a value of one "
            "thing times an unused count of them, a share, a difference or ratio of two "
            "figures in one unit, a percentage on top or off, a second name's lookup."
        ),
    )
    loop_retry: bool = Field(
        default=True,
        description="JSON that loops until max_tokens is decoded once more with a repeat penalty.",
    )

    @classmethod
    def off(cls) -> Guards:
        """Every guard switched off."""
        return cls(**dict.fromkeys(cls.model_fields, False))


class AgentOptions(BaseModel):
    """Every option of the graph's nodes, typed: what `Agent(**options)`, `lamina.toml` and
    `build_agent_graph(...)` accept. `NODE_PARAMS` says which node takes each option, and under
    which parameter name. Values are checked strictly (`"5"` is not an int) and within the
    bounds the nodes enforce, so a mistake is refused when the agent is built.
    """

    model_config = ConfigDict(
        extra="forbid", frozen=True, strict=True, arbitrary_types_allowed=True
    )

    # input
    max_input_chars: int = Field(default=32_000, ge=1, description="Longest request accepted.")
    # memory
    memory_k: int = Field(default=3, ge=1, description="Memories retrieved per run.")
    memory_min_score: float = Field(
        default=0.35,
        ge=-1.0,
        le=1.0,
        description="Similarity below which a memory is not retrieved.",
    )
    memory_recency_weight: float = Field(
        default=0.1,
        ge=0.0,
        le=1.0,
        description="Weight of recency in the memory ranking (0: similarity).",
    )
    memory_half_life_days: float = Field(
        default=30.0, gt=0.0, description="Age at which a memory's recency term halves."
    )
    memory_kinds: tuple[str, ...] | None = Field(
        default=None,
        strict=False,
        description="Retrieve only these kinds (fact, episode, preference).",
    )
    memory_episodes: bool = Field(
        default=False, description="Also write back 'Asked: ... Answered: ...' episodes."
    )
    # reasoning
    max_steps: int = Field(default=8, ge=1, description="Bound on the reasoning ⇄ execution loop.")
    max_plan_steps: int = Field(default=5, ge=2, description="Longest plan the model may write.")
    rc_iterations: int = Field(
        default=1,
        ge=1,
        description="Reasoning Cache attempts per reasoning step (1: no refinement).",
    )
    summariser_model: str | None = Field(
        default=None,
        description="Model that writes the Reasoning Cache summaries (None: the solver).",
    )
    prompts: PromptTemplates | None = Field(
        default=None, description="Prompt file; in lamina.toml the name of one in lamina/prompts/."
    )
    trust_model_answers: bool = Field(
        default=False,
        description="An answer no tool or check supports is ok (False: ok=False, unverified).",
    )
    verifiers: tuple[StepVerifier, ...] | None = Field(
        default=None,
        strict=False,
        description="Checks of reasoned steps (None: arithmetic; (): none); by name in toml.",
    )
    # execution
    max_tool_calls: int = Field(default=4, ge=1, description="Successful tool calls per step.")
    max_tool_calls_per_plan_step: int = Field(
        default=1, ge=1, description="The same bound for a step of a plan of several steps."
    )
    max_retries: int = Field(default=2, ge=0, description="Failed tool calls tolerated per step.")
    tool_timeout: float = Field(
        default=30.0, gt=0.0, description="Seconds a tool may run, unless it sets its own."
    )
    max_output_chars: int = Field(
        default=4000, ge=100, description="Longer tool output is cut to this many characters."
    )
    parallel_tool_calls: bool | None = Field(
        default=None,
        description="May one model reply hold several calls (None: the model's default).",
    )
    concurrent_tool_calls: bool = Field(
        default=True, description="Run the calls of one reply concurrently (False: one by one)."
    )
    guards: Guards | None = Field(
        default=None,
        description="Small-model guards on or off (None: all on; a [guards] table in toml).",
    )

    NODE_PARAMS: ClassVar[Mapping[str, Mapping[str, str]]] = {
        "input": {"max_input_chars": "max_chars"},
        "router": {},
        "memory": {
            "memory_k": "k",
            "memory_min_score": "min_score",
            "memory_recency_weight": "recency_weight",
            "memory_half_life_days": "half_life_days",
            "memory_kinds": "kinds",
        },
        "reasoning": {
            name: name
            for name in (
                "max_steps",
                "max_plan_steps",
                "rc_iterations",
                "summariser_model",
                "prompts",
                "verifiers",
                "guards",
                "trust_model_answers",
            )
        },
        "execution": {
            name: name
            for name in (
                "max_tool_calls",
                "max_tool_calls_per_plan_step",
                "max_retries",
                "tool_timeout",
                "max_output_chars",
                "parallel_tool_calls",
                "concurrent_tool_calls",
                "guards",
            )
        },
        "remember": {"memory_episodes": "episodes"},
    }
    """node -> {option: the node factory's parameter}."""

    def node_kwargs(self, node: str) -> dict[str, Any]:
        """Keyword arguments for the factory of `node` (a name of `NODE_PARAMS`)."""
        return {param: getattr(self, option) for option, param in self.NODE_PARAMS[node].items()}

    def explicit(self) -> dict[str, Any]:
        """The options that were given (not left to their defaults), by name."""
        return {name: getattr(self, name) for name in sorted(self.model_fields_set)}

    @classmethod
    def from_kwargs(cls, options: Mapping[str, Any], *, where: str = "Agent(...)") -> AgentOptions:
        """Validate `options`; a mistake raises `ConfigError` saying what was expected,
        what was found and the fix.

        Args:
            options: option values by name.
            where: what received them, for the message (e.g. "Agent(...)", a file name).
        """
        fields = cls.model_fields
        for name in options:
            if name not in fields:
                raise ConfigError(unknown_name_message(name, fields, what="option", where=where))
        try:
            return cls(**options)
        except ValidationError as exc:
            error = exc.errors()[0]
            name = str(error["loc"][0])
            field = fields[name]
            found = error.get("input")
            raise ConfigError(
                f"Expected option {name!r} of {where} to be {expected_type(field)} "
                f"({field.description}); found {found!r} ({type(found).__name__}): "
                f"{error['msg']}. Fix: pass e.g. {name}={field.default!r} (the default)."
            ) from None


def unknown_name_message(name: str, known: Iterable[str], *, what: str, where: str) -> str:
    """The message for an unknown name: the closest known one, and all of them."""
    names = sorted(known)
    close = difflib.get_close_matches(name, names, n=1)
    hint = f"rename it to {close[0]!r}" if close else "use one of the known names"
    return f"Unknown {what} {name!r} for {where}; expected one of: {', '.join(names)}. Fix: {hint}."


def expected_type(field: FieldInfo) -> str:
    """A field's type and bounds in words, e.g. "int >= 2" or "float in [0.0, 1.0]"."""
    bounds = {
        sign: getattr(item, attr)
        for item in field.metadata
        for attr, sign in (("ge", ">="), ("gt", ">"), ("le", "<="), ("lt", "<"))
        if getattr(item, attr, None) is not None
    }
    text = _type_name(field.annotation)
    if ">=" in bounds and "<=" in bounds:
        return f"{text} in [{bounds['>=']}, {bounds['<=']}]"
    return " ".join([text, *(f"{sign} {value}" for sign, value in bounds.items())])


def _type_name(annotation: Any) -> str:
    args = get_args(annotation)
    if get_origin(annotation) in (UnionType, Union):
        return " | ".join(_type_name(a) for a in args)
    if get_origin(annotation) is tuple:
        return f"tuple[{_type_name(args[0])}, ...]"
    return "None" if annotation is type(None) else getattr(annotation, "__name__", str(annotation))
