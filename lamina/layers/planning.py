"""Planning: split a task into steps, and mark the steps that need a tool.

A task is multi-step when it carries explicit sequencing: a numbered or bulleted list, markers
such as "then", "after that", "next,", "finally", or several sentences that each ask for
something. That test is deterministic (:func:`split_task`); a single-step task becomes a
one-step plan without any model call. A task written as a numbered or bulleted list is already
a plan: its items are the steps, again without a model call (source "list"), since a model can
only rephrase them (and a rephrased step no longer matches the same step of another task in the
step cache). For any other multi-step task the model writes the plan as grammar-constrained JSON
(:class:`Plan`, at least two steps) from a short few-shot prompt; when its plan is unusable the
deterministic split is used instead, and the outcome says so (:attr:`PlanOutcome.source` is
"fallback" with a `note`), so the trace shows it.

Whether a step needs a tool is a heuristic (:func:`step_needs_tool`): only when tools exist,
and the step names a tool, contains arithmetic, or asks to look something up; given the tools'
relevance (:mod:`lamina.layers.tool_relevance`), a tool that fits by meaning makes a tool step
and a lookup or name word counts only near a tool. The model's own
`needs_tool` flag can add a tool step but not remove one, because a small model that skips the
calculator gets arithmetic wrong, while an unneeded tool step only costs one call.
"""

from __future__ import annotations

import functools
import json
import logging
import re
import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from importlib import resources
from typing import TYPE_CHECKING, Any, Literal

from langchain_core.messages import AIMessage, BaseMessage, HumanMessage, SystemMessage
from pydantic import BaseModel, ConfigDict, Field, create_model

from lamina.errors import ConfigError
from lamina.memory_store.step_cache import StepCache, structured_call

if TYPE_CHECKING:
    from langchain_core.language_models import BaseChatModel

    from lamina.layers.tool_relevance import ToolFit, ToolRelevance

__all__ = [
    "Plan",
    "PlanOutcome",
    "PlanStep",
    "PlanStepModel",
    "PromptSet",
    "explicit_steps",
    "is_multi_step",
    "load_prompts",
    "make_plan",
    "named_tools",
    "plan_schema",
    "plan_task",
    "shortlist_tools",
    "split_task",
    "step_needs_tool",
    "task_preamble",
    "with_max_tokens",
]

logger = logging.getLogger(__name__)

PlanSource = Literal["single", "list", "model", "fallback"]


# -- prompts as data -------------------------------------------------------------------------
_PLACEHOLDER = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)\}")


@dataclass(frozen=True)
class PromptSet:
    """A prompt file of `lamina/prompts/`: sections of templates under one `version`.

    Attributes:
        name: the file's stem, e.g. "reasoning".
        version: the file's `version`; part of every step-cache key.
        sections: the file's tables, e.g. {"plan": {"system": "...", ...}, ...}.
    """

    name: str
    version: str
    sections: Mapping[str, Mapping[str, Any]]

    def get(self, section: str, key: str) -> Any:
        """A raw value; raises `ConfigError` naming what is missing."""
        try:
            return self.sections[section][key]
        except KeyError:
            raise ConfigError(
                f"Prompt file {self.name}.toml: expected [{section}] {key} = ...; not found. "
                f"Fix: add it (sections present: {', '.join(sorted(self.sections))})."
            ) from None

    def render(self, section: str, key: str, **values: Any) -> str:
        """Fill `{name}` placeholders of a template (other braces stay literal, e.g. JSON)."""
        template = str(self.get(section, key))

        def fill(match: re.Match[str]) -> str:
            name = match.group(1)
            if name not in values:
                raise ConfigError(
                    f"Prompt {self.name}.toml [{section}] {key} uses {{{name}}}, but only "
                    f"{sorted(values)} were given. Fix: remove the placeholder or pass it."
                )
            return str(values[name])

        return _PLACEHOLDER.sub(fill, template)

    def template_version(self, section: str) -> str:
        """The string the step cache keys a section's calls under, e.g. "reasoning/1/solve"."""
        return f"{self.name}/{self.version}/{section}"


@functools.cache
def load_prompts(name: str = "reasoning") -> PromptSet:
    """Load `lamina/prompts/<name>.toml` (shipped as package data)."""
    resource = resources.files("lamina").joinpath("prompts", f"{name}.toml")
    try:
        data = tomllib.loads(resource.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(
            f"Prompt file lamina/prompts/{name}.toml not found. "
            "Fix: reinstall lamina (the prompts ship as package data)."
        ) from None
    version = data.pop("version", None)
    if not isinstance(version, str | int) or version == "":
        raise ConfigError(
            f'Prompt file {name}.toml: expected a top-level `version = "..."`; found '
            f"{version!r}. Fix: add one (it keys the step cache)."
        )
    sections = {k: v for k, v in data.items() if isinstance(v, dict)}
    return PromptSet(name=name, version=str(version), sections=sections)


# -- value types -----------------------------------------------------------------------------
@dataclass(frozen=True)
class PlanStep:
    """One step of a plan, as it goes into graph state (`to_dict`)."""

    index: int
    instruction: str
    needs_tool: bool
    # step-level routing (lamina.layers.escalation.step_model): the model for this step, the
    # route that chose it, and why; None until the reasoning layer routes the step
    model: str | None = None
    route: str | None = None
    route_reason: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe form: {"index", "instruction", "needs_tool"} and, once routed, "model",
        "route" and "route_reason"."""
        data: dict[str, Any] = {
            "index": self.index,
            "instruction": self.instruction,
            "needs_tool": self.needs_tool,
        }
        if self.model is not None:
            data.update(model=self.model, route=self.route, route_reason=self.route_reason)
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], position: int) -> PlanStep:
        """Read a step from state; raises `ConfigError` when a node wrote a malformed plan."""
        instruction = data.get("instruction") if isinstance(data, Mapping) else None
        if not isinstance(instruction, str) or not instruction.strip():
            raise ConfigError(
                f"Plan step {position} in state is {data!r:.120}; expected a dict with a "
                "non-empty 'instruction'. Fix: write plan steps as PlanStep(...).to_dict()."
            )
        return cls(
            index=int(data.get("index", position)),
            instruction=instruction,
            needs_tool=bool(data.get("needs_tool", False)),
            model=_optional_str(data.get("model")),
            route=_optional_str(data.get("route")),
            route_reason=_optional_str(data.get("route_reason")),
        )


def _optional_str(value: object) -> str | None:
    return None if value is None else str(value)


@dataclass(frozen=True)
class PlanOutcome:
    """A plan and how it was made.

    Attributes:
        steps: the plan.
        source: "single" (one step, no model call), "list" (the task's own numbered or
            bulleted list, no model call), "model" (the model's JSON plan) or "fallback" (the
            model's plan was unusable; the deterministic split was used).
        cached: whether the model's plan came from the step cache (None: no model call).
        tokens: tokens spent (miss) or saved (hit) on the model call.
        note: why the fallback was taken ("" otherwise).
        prompt_tokens: prompt tokens the plan call sent (0 on a hit or without a call).
        prompt_tokens_evaluated: of those, the ones the model evaluated (the rest came from
            llama.cpp's KV prefix cache; None when the model does not report it).
    """

    steps: tuple[PlanStep, ...]
    source: PlanSource
    cached: bool | None = None
    tokens: int = 0
    note: str = ""
    prompt_tokens: int = 0
    prompt_tokens_evaluated: int | None = None

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe form for the trace."""
        return {
            "steps": [s.to_dict() for s in self.steps],
            "source": self.source,
            "cached": self.cached,
            "tokens": self.tokens,
            "note": self.note,
            "prompt_tokens": self.prompt_tokens,
            "prompt_tokens_evaluated": self.prompt_tokens_evaluated,
        }


class PlanStepModel(BaseModel):
    """One step as the model writes it."""

    model_config = ConfigDict(extra="forbid")

    instruction: str = Field(min_length=1, description="One short imperative sentence.")
    needs_tool: bool = Field(description="True when the step must calculate or look up.")


class Plan(BaseModel):
    """The model's plan: at least two steps, in order."""

    model_config = ConfigDict(extra="forbid")

    steps: list[PlanStepModel] = Field(min_length=2)


@functools.cache
def plan_schema(max_steps: int) -> type[Plan]:
    """:class:`Plan` with at most `max_steps` steps (so the grammar bounds the plan's length)."""
    schema: type[Plan] = create_model(
        "Plan",
        __base__=Plan,
        steps=(list[PlanStepModel], Field(min_length=2, max_length=max_steps)),
    )
    return schema


# -- the deterministic split -----------------------------------------------------------------
_LIST_ITEM = re.compile(r"^\s*(?:\d{1,2}[.)]|[-*•])\s+(\S.*?)\s*$", re.MULTILINE)
_SENTENCE_END = re.compile(r"(?<=[.!?;])\s+|\n+")
_MARKER = re.compile(
    r",?\s*\b(?:and\s+then|after\s+that|afterwards|then|finally|lastly|followed\s+by)\b,?\s*"
    r"|(?:^|,\s*)\bnext\b,\s*",
    re.IGNORECASE,
)
_LEADING_FILLER = re.compile(
    r"^(?:(?:first(?:ly)?|second(?:ly)?|third(?:ly)?|then|next|finally|lastly|also|and|now|"
    r"please|after\s+that|afterwards)\b[,:]?\s*)+",
    re.IGNORECASE,
)
_IF_CLAUSE = re.compile(r"\b(?:if|when|since|until)\b", re.IGNORECASE)
_REQUEST_VERBS = frozenset(
    [
        "add",
        "answer",
        "calculate",
        "check",
        "choose",
        "compare",
        "compute",
        "convert",
        "count",
        "create",
        "define",
        "describe",
        "divide",
        "draft",
        "estimate",
        "explain",
        "find",
        "give",
        "list",
        "look",
        "make",
        "multiply",
        "name",
        "outline",
        "plan",
        "rewrite",
        "search",
        "show",
        "sort",
        "subtract",
        "suggest",
        "sum",
        "summarise",
        "summarize",
        "tell",
        "translate",
        "write",
    ]
)
_QUESTION_WORDS = frozenset(
    [
        "what",
        "who",
        "whom",
        "whose",
        "which",
        "when",
        "where",
        "why",
        "how",
        "is",
        "are",
        "do",
        "does",
        "can",
    ]
)


def _is_request(sentence: str) -> bool:
    """A sentence that asks for something: a question or an imperative."""
    text = _LEADING_FILLER.sub("", sentence.strip()).strip()
    if not text:
        return False
    if text.endswith("?"):
        return True
    first = re.split(r"\W+", text.lower(), maxsplit=1)[0]
    return first in _REQUEST_VERBS or first in _QUESTION_WORDS


def _split_on_markers(sentence: str) -> list[str]:
    pieces: list[str] = []
    last = 0
    for match in _MARKER.finditer(sentence):
        before = sentence[last : match.start()]
        # "if it rains then ..." is a condition, not a sequence
        if match.group(0).strip(" ,").lower() == "then" and _IF_CLAUSE.search(before):
            continue
        pieces.append(before)
        last = match.end()
    pieces.append(sentence[last:])
    return pieces


def _clean(piece: str) -> str:
    text = _LEADING_FILLER.sub("", piece.strip()).strip(" ,;:\n\t")
    if not text:
        return ""
    return text[0].upper() + text[1:]


def split_task(task: str, max_steps: int = 5) -> list[str]:
    """Split a task on its explicit sequencing, deterministically; [task] when it has none.

    List items win; otherwise sentences and "then"/"after that"/"finally"-style markers. A
    piece set off by a marker is always a step; a sentence without one is a step only if it
    asks for something (a question or an imperative), else ("I have 3 apples.") it is kept with
    the step after it. More than `max_steps` pieces are merged into the last step.
    """
    items = [_clean(m.group(1)) for m in _LIST_ITEM.finditer(task)]
    items = [i for i in items if len(i) > 1]
    if len(items) >= 2:
        merged = items
    else:
        # (text, sequenced): sequenced pieces come from a marker split
        pieces: list[tuple[str, bool]] = []
        for sentence in _SENTENCE_END.split(task):
            parts = _split_on_markers(sentence)
            sequenced = len(parts) > 1
            pieces.extend((_clean(part), sequenced) for part in parts)
        pieces = [(text, seq) for text, seq in pieces if len(text) > 1]
        merged = []
        carry = ""
        for text, sequenced in pieces:
            if not sequenced and not _is_request(text):
                carry = f"{carry} {text}".strip()
                continue
            merged.append(f"{carry} {text}".strip() if carry else text)
            carry = ""
        if carry:
            if merged:
                merged[-1] = f"{merged[-1]} {carry}"
            else:
                merged.append(carry)
    if len(merged) < 2:
        return [task.strip()]
    if len(merged) > max_steps:
        merged = [*merged[: max_steps - 1], " ".join(merged[max_steps - 1 :])]
    return merged


def explicit_steps(task: str) -> list[str]:
    """The items of the task's numbered or bulleted list when they read as steps, else [].

    Two or more items, each a request or at least two words with a letter in them: "- 10\n- 30"
    or "- apples\n- pears" is data to work on, not a plan.
    """
    items = [_clean(m.group(1)) for m in _LIST_ITEM.finditer(task)]
    items = [i for i in items if len(i) > 1]
    if len(items) < 2:
        return []
    for item in items:
        words = re.findall(r"[A-Za-z]{2,}", item)
        if not words or (len(item.split()) < 2 and not _is_request(item)):
            return []
    return items


def task_preamble(task: str) -> str:
    """The text of a list task outside its items ("Anna buys 4 boxes of 12 eggs."), else ""."""
    if not explicit_steps(task):
        return ""
    return " ".join(_LIST_ITEM.sub("", task).split())


def is_multi_step(task: str) -> bool:
    """True when the task has explicit sequencing (see :func:`split_task`)."""
    return len(split_task(task, max_steps=1_000)) >= 2


_ARITHMETIC = re.compile(r"\d\s*(?:[-+*/×÷^%]|\*\*)\s*\(?\s*\d")
_MATH_WORDS = re.compile(
    r"\b(?:calculate|compute|sum|add|subtract|multiply|divide|product|total|square\s+root|"
    r"percent|percentage|average|plus|minus|times|divided)\b",
    re.IGNORECASE,
)
_LOOKUP_WORDS = re.compile(
    r"\b(?:look\s+up|search|find\s+out|weather|latest|current(?:ly)?|today|price|exchange\s+rate|"
    r"convert)\b",
    re.IGNORECASE,
)


def _tool_names(tools: Sequence[Any] | Mapping[str, Any]) -> list[str]:
    if isinstance(tools, Mapping):
        return [str(n) for n in tools]
    return [str(getattr(t, "name", t)) for t in tools]


# Verbs and fillers in tool names that say nothing about what the tool is for.
_GENERIC_NAME_WORDS = frozenset(
    {
        "get",
        "set",
        "put",
        "add",
        "make",
        "do",
        "run",
        "use",
        "call",
        "list",
        "read",
        "write",
        "fetch",
        "find",
        "load",
        "save",
        "show",
        "tool",
        "tools",
        "the",
        "for",
        "from",
        "with",
        "and",
        "into",
        "data",
        "info",
        "value",
        "values",
        "item",
        "items",
        "text",
    }
)


def _name_words(name: str) -> list[str]:
    """The telling words of a tool name: `get_distance` → ["distance"], `km_to_miles` →
    ["miles"] ("km" is shorter than three letters), `searchFlights` → ["search", "flights"]."""
    spaced = re.sub(r"(?<=[a-z0-9])(?=[A-Z])", " ", name)
    words = re.split(r"[^A-Za-z]+", spaced.lower())
    return [w for w in words if len(w) >= 3 and w not in _GENERIC_NAME_WORDS]


def shortlist_tools(instruction: str, names: Sequence[str]) -> list[str]:
    """The tools a one-action step most likely means, by the telling words of their names.

    "Close that ticket" with `open_ticket` and `close_ticket` → `["close_ticket"]` (two words
    match against one). Every tool when no name word matches or the best match is shared: a
    shortlist only ever narrows to one clear winner.
    """
    lowered = instruction.lower()
    scores = {
        name: sum(
            1
            for word in _name_words(name)
            if re.search(rf"\b{re.escape(word)}(?:s|es|d|ed)?\b", lowered)
        )
        for name in names
    }
    best = max(scores.values(), default=0)
    winners = [name for name, score in scores.items() if score == best]
    return winners if best > 0 and len(winners) == 1 else list(names)


def named_tools(instruction: str, names: Sequence[str]) -> list[str]:
    """The tools `instruction` names outright (`get_distance` or "get distance")."""
    lowered = instruction.lower()
    return [
        name
        for name in names
        if re.search(rf"\b{re.escape(name.lower())}\b", lowered)
        or name.lower().replace("_", " ") in lowered
    ]


def step_needs_tool(
    instruction: str, tools: Sequence[Any] | Mapping[str, Any], *, fit: ToolFit | None = None
) -> bool:
    """Heuristic: does this step need a tool? Never without tools.

    True when the step names a tool, contains arithmetic (digits with an operator, or digits
    with a word like "multiply"), holds a telling word of a tool's name ("distance" for
    `get_distance`) or asks to look something up ("search", "weather", ...). With `fit` (the
    step's :class:`~lamina.layers.tool_relevance.ToolFit`), meaning weighs in: a step that a
    tool fits needs one even without such words, and a name or lookup word counts only when
    some tool is close enough (`fit.supports`): "What is the price of gold?" holds the lookup
    word "price", which is not enough when the only tool is `get_distance`.
    """
    names = _tool_names(tools)
    if not names:
        return False
    lowered = instruction.lower()
    if named_tools(instruction, names):
        return True
    has_digit = any(ch.isdigit() for ch in instruction)
    if _ARITHMETIC.search(instruction) or (has_digit and _MATH_WORDS.search(instruction)):
        return True
    if fit is not None and fit.fits:
        return True
    worded = any(
        re.search(rf"\b{re.escape(word)}(?:s|es)?\b", lowered)
        for name in names
        for word in _name_words(name)
    ) or bool(_LOOKUP_WORDS.search(instruction))
    return worded and (fit is None or fit.supports)


# -- the plan --------------------------------------------------------------------------------
def with_max_tokens(model: BaseChatModel, max_tokens: int, *, cap_only: bool) -> BaseChatModel:
    """`model` with another `max_tokens` (a copy; models without that field are unchanged).

    With `cap_only` the budget only ever goes down (summaries, synthesis); without it the call
    gets exactly `max_tokens` (a plan's JSON needs room whatever the routed model's budget is).
    The copy's `max_tokens` is a sampling parameter, so the step-cache key follows it.
    """
    if "max_tokens" not in type(model).model_fields:
        return model
    current = getattr(model, "max_tokens", None)
    if current == max_tokens or (cap_only and current is not None and current <= max_tokens):
        return model
    return model.model_copy(update={"max_tokens": max_tokens})


def _plan_messages(
    task: str, tool_names: list[str], max_steps: int, prompts: PromptSet
) -> list[BaseMessage]:
    tools_text = prompts.render("plan", "tools", names=", ".join(tool_names)) if tool_names else ""
    return [
        SystemMessage(prompts.render("plan", "system", max_steps=max_steps, tools=tools_text)),
        HumanMessage(prompts.render("plan", "example_task")),
        AIMessage(prompts.render("plan", "example_plan")),
        HumanMessage(prompts.render("plan", "user", task=task)),
    ]


def _example_instructions(prompts: PromptSet) -> frozenset[str]:
    try:
        example = json.loads(prompts.render("plan", "example_plan"))
    except json.JSONDecodeError:
        return frozenset()
    steps = example.get("steps", []) if isinstance(example, dict) else []
    return frozenset(
        str(s.get("instruction", "")).strip().lower() for s in steps if isinstance(s, dict)
    )


_NUMBER = re.compile(r"\d+(?:\.\d+)?")


def _usable_steps(
    data: Mapping[str, Any], task: str, copied: frozenset[str]
) -> list[tuple[str, bool]]:
    """Non-empty, grounded steps: not copied from the few-shot example, not several steps in
    one, and with no number the task does not hold.

    Small models often repeat the example's steps, copy the whole task into the first step, or
    invent operands ("Add 15 to 12" for "add 15 to that result"); such a step would be executed
    faithfully and give a wrong result, so it does not count.
    """
    steps = data.get("steps")
    if not isinstance(steps, list):
        return []
    usable: list[tuple[str, bool]] = []
    task_numbers = set(_NUMBER.findall(task))
    for item in steps:
        if not isinstance(item, Mapping):
            continue
        instruction = str(item.get("instruction", "")).strip()
        if not instruction:
            continue
        if instruction.lower() in copied and instruction.lower() not in task.lower():
            continue
        if len(split_task(instruction)) > 1:
            continue
        if not set(_NUMBER.findall(instruction)) <= task_numbers:
            continue
        usable.append((instruction, bool(item.get("needs_tool", False))))
    return usable


def make_plan(
    model: BaseChatModel,
    task: str,
    tools: Sequence[Any] | Mapping[str, Any] = (),
    *,
    max_steps: int = 5,
    cache: StepCache | None = None,
    prompts: PromptSet | None = None,
    relevance: ToolRelevance | None = None,
) -> PlanOutcome:
    """Plan `task`: one step or the task's own list without a model call, else 2..`max_steps`
    steps from the model.

    Args:
        model: writes multi-step plans (under a JSON-schema grammar).
        task: the user's request.
        tools: the tools the execution layer may call (names decide `needs_tool`).
        max_steps: the longest plan (at least 2).
        cache: the step cache (plans are cached like steps); None computes every time.
        prompts: the prompt file (default: lamina/prompts/reasoning.toml).
        relevance: scores the tools against each step for `needs_tool` (None: words only).

    Raises:
        ConfigError: `max_steps` < 2.
    """
    if max_steps < 2:
        raise ConfigError(
            f"max_plan_steps must be at least 2; found {max_steps}. Fix: pass 2 or more."
        )
    prompts = prompts or load_prompts()

    def needs_tool(text: str) -> bool:
        fit = relevance.assess(text, tools) if relevance is not None and tools else None
        return step_needs_tool(text, tools, fit=fit)

    split = split_task(task, max_steps)
    if len(split) < 2:
        step = PlanStep(0, task.strip(), needs_tool(task))
        return PlanOutcome(steps=(step,), source="single")
    if explicit_steps(task):
        steps = tuple(PlanStep(i, text, needs_tool(text)) for i, text in enumerate(split))
        return PlanOutcome(steps=steps, source="list")
    names = _tool_names(tools)
    messages = _plan_messages(task, names, max_steps, prompts)
    schema = plan_schema(max_steps)
    model = with_max_tokens(model, int(prompts.get("plan", "max_tokens")), cap_only=False)
    if cache is not None:
        reply = cache.cached_structured(model, schema, messages, prompts.template_version("plan"))
    else:
        reply, _ = structured_call(model, schema, messages)
    cached, tokens = reply.hit, reply.tokens
    prompt_tokens, evaluated = reply.prompt_tokens, reply.prompt_tokens_evaluated
    usable = _usable_steps(reply.data or {}, task, _example_instructions(prompts))
    note = ""
    if reply.error:
        note = f"the model's plan could not be read ({reply.error})"[:300]
    elif len(usable) < 2:
        note = (
            f"the model's plan had {len(usable)} usable step(s) (not empty, not copied from "
            "the example, one action each, no invented numbers); expected at least 2"
        )
    if note:
        logger.info("plan for %r: %s; using the deterministic split", task[:60], note)
        steps = tuple(PlanStep(i, text, needs_tool(text)) for i, text in enumerate(split))
        return PlanOutcome(
            steps=steps,
            source="fallback",
            cached=cached,
            tokens=tokens,
            note=note,
            prompt_tokens=prompt_tokens,
            prompt_tokens_evaluated=evaluated,
        )
    if len(usable) > max_steps:
        tail = " ".join(text for text, _ in usable[max_steps - 1 :])
        usable = [*usable[: max_steps - 1], (tail, any(f for _, f in usable[max_steps - 1 :]))]
    steps = tuple(
        PlanStep(i, text, bool(names) and (flag or needs_tool(text)))
        for i, (text, flag) in enumerate(usable)
    )
    return PlanOutcome(
        steps=steps,
        source="model",
        cached=cached,
        tokens=tokens,
        prompt_tokens=prompt_tokens,
        prompt_tokens_evaluated=evaluated,
    )


def plan_task(
    model: BaseChatModel,
    task: str,
    tools: Sequence[Any] | Mapping[str, Any] = (),
    *,
    max_steps: int = 5,
    cache: StepCache | None = None,
) -> list[PlanStep]:
    """The steps of :func:`make_plan` (use `make_plan` to also learn how the plan was made)."""
    return list(make_plan(model, task, tools, max_steps=max_steps, cache=cache).steps)
