"""Render LangChain messages into one prompt string for a llama.cpp model.

Two layouts, chosen by the model spec's ``prompt_format``:

* ``chat-template``: the GGUF's own Jinja chat template (``tokenizer.chat_template``), rendered
  with the model's BOS/EOS tokens and ``add_generation_prompt=True``. The compiled template is
  cached per template text, so rendering costs microseconds.
* ``completion``: a plain layout for base models (system text, then ``User:``/``Assistant:``
  lines ending with ``Assistant:``). A lone human message with no system message is passed
  through as raw text, so plain text completion works.

Tool calls and tool results render the same way in both layouts, and the same way the chat model
asks for them (``Action: <tool>`` then the JSON arguments on the next line), so a model sees its
own earlier calls in the form it would write them.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from typing import TYPE_CHECKING, Any, Literal

from langchain_core.messages import (
    AIMessage,
    BaseMessage,
    ChatMessage,
    FunctionMessage,
    HumanMessage,
    SystemMessage,
    ToolMessage,
)

from lamina.errors import InputError, ModelError
from lamina.models.llama.internals import token_text
from lamina.models.tool_calls import (
    ACTION_PREFIX,
    FINAL_ANSWER,
    format_tool_call,
    tools_instructions,
)

if TYPE_CHECKING:
    from jinja2 import Template

__all__ = [
    "ACTION_PREFIX",
    "FINAL_ANSWER",
    "ChatTemplate",
    "Prompt",
    "PromptRenderer",
    "ai_calls",
    "format_tool_call",
    "message_text",
    "to_turns",
    "tools_instructions",
]

PromptFormat = Literal["chat-template", "completion"]

COMPLETION_STOPS: tuple[str, ...] = ("\nUser:", "\nTool result", "\nSystem:")
"""Where a base model that continues the conversation on its own is cut off."""


AI_CALL_BLOCKS = frozenset(
    {"tool_use", "tool_call", "tool_call_chunk", "invalid_tool_call", "function_call"}
)
"""Content blocks of an AI message that hold a tool call (Anthropic's `tool_use`, LangChain's
v1 `tool_call`, ...): the call is rendered from the message's `tool_calls` (or from the block,
when the message has none), not read as text."""

AI_SKIPPED_BLOCKS = frozenset({"reasoning", "thinking", "redacted_thinking"})
"""Content blocks of an AI message that are not part of the conversation a model continues."""


def message_text(message: BaseMessage) -> str:
    """The text of a message; content blocks of type 'text' are joined. In an AI message,
    tool-call and reasoning blocks are left out (:data:`AI_CALL_BLOCKS`).

    Raises:
        InputError: the message holds non-text content (images, audio), which these models
            cannot read.
    """
    content = message.content
    if isinstance(content, str):
        return content
    skipped = AI_CALL_BLOCKS | AI_SKIPPED_BLOCKS if isinstance(message, AIMessage) else ()
    parts: list[str] = []
    for block in content:
        if isinstance(block, str):
            parts.append(block)
        elif isinstance(block, dict) and block.get("type") == "text":
            parts.append(str(block.get("text", "")))
        elif isinstance(block, dict) and block.get("type") in skipped:
            continue
        else:
            kind = block.get("type") if isinstance(block, dict) else type(block).__name__
            raise InputError(
                f"Expected text content in a {message.type} message, found a {kind!r} block. "
                "Fix: send text only; lamina's llama.cpp models read text."
            )
    return "".join(parts)


@dataclass(frozen=True)
class Prompt:
    """A rendered prompt.

    Attributes:
        text: the prompt text.
        stop: stop sequences the layout needs (a base model would go on writing the next turn).
        raw: the text is a user's raw completion prompt, not a conversation.
    """

    text: str
    stop: tuple[str, ...] = ()
    raw: bool = False


class _TemplateRenderError(Exception):
    pass


@lru_cache(maxsize=32)
def _compile(source: str) -> Template:
    import jinja2
    import jinja2.ext
    from jinja2.sandbox import ImmutableSandboxedEnvironment

    env = ImmutableSandboxedEnvironment(
        loader=jinja2.BaseLoader(),
        trim_blocks=True,
        lstrip_blocks=True,
        extensions=[jinja2.ext.loopcontrols],
    )

    def tojson(
        value: Any,
        ensure_ascii: bool = False,
        indent: int | None = None,
        separators: tuple[str, str] | None = None,
        sort_keys: bool = False,
    ) -> str:
        # Match Transformers' chat-template rendering (no HTML escaping, unicode kept).
        return json.dumps(
            value,
            ensure_ascii=ensure_ascii,
            indent=indent,
            separators=separators,
            sort_keys=sort_keys,
        )

    env.filters["tojson"] = tojson
    try:
        return env.from_string(source)
    except jinja2.TemplateError as exc:
        raise ModelError(
            f"The model's chat template does not compile ({exc}). Fix: use a GGUF with a valid "
            "tokenizer.chat_template, or a ModelSpec with prompt_format='completion'."
        ) from exc


def _raise_exception(message: str) -> None:
    raise _TemplateRenderError(message)


@dataclass(frozen=True)
class ChatTemplate:
    """A model's Jinja chat template with its special tokens.

    Attributes:
        source: the Jinja template text.
        bos_token: the model's beginning-of-sequence token text.
        eos_token: the model's end-of-sequence token text.
    """

    source: str
    bos_token: str = ""
    eos_token: str = ""
    _supports_tool_role: list[bool] = field(default_factory=list, compare=False, repr=False)

    @classmethod
    def from_llama(cls, llama: Any, model_name: str) -> ChatTemplate:
        """Read the template and special tokens from a loaded ``llama_cpp.Llama``.

        Raises:
            ModelError: the GGUF has no chat template.
        """
        source = llama.metadata.get("tokenizer.chat_template")
        if not source:
            raise ModelError(
                f"Model {model_name!r} has no tokenizer.chat_template in its GGUF metadata, "
                "but its spec says prompt_format='chat-template'. Fix: use "
                "ModelSpec(..., prompt_format='completion') for this model."
            )
        return _template(
            source, token_text(llama, llama.token_bos()), token_text(llama, llama.token_eos())
        )

    def render(self, messages: list[dict[str, str]], *, add_generation_prompt: bool = True) -> str:
        """Render role/content dicts with the template.

        Raises:
            InputError: the template refuses the conversation (e.g. roles out of order).
        """
        import jinja2

        try:
            return _compile(self.source).render(
                messages=messages,
                bos_token=self.bos_token,
                eos_token=self.eos_token,
                add_generation_prompt=add_generation_prompt,
                raise_exception=_raise_exception,
            )
        except (_TemplateRenderError, jinja2.TemplateError) as exc:
            roles = [m["role"] for m in messages]
            raise InputError(
                f"The model's chat template refused the conversation ({exc}); roles in order: "
                f"{roles}. Fix: alternate user and assistant turns after one system message."
            ) from exc

    @property
    def supports_tool_role(self) -> bool:
        """Whether the template renders a 'tool' role message (checked once, by rendering)."""
        if not self._supports_tool_role:
            probe = "lamina-tool-probe-8d1f"
            try:
                text = self.render(
                    [
                        {"role": "user", "content": "hi"},
                        {"role": "assistant", "content": "ok"},
                        {"role": "tool", "content": probe},
                    ]
                )
                self._supports_tool_role.append(probe in text)
            except InputError:
                self._supports_tool_role.append(False)
        return self._supports_tool_role[0]


@lru_cache(maxsize=32)
def _template(source: str, bos: str, eos: str) -> ChatTemplate:
    return ChatTemplate(source=source, bos_token=bos, eos_token=eos)


class PromptRenderer:
    """Renders LangChain messages for one model.

    Args:
        prompt_format: ``'chat-template'`` or ``'completion'``.
        template: the model's chat template (required for ``'chat-template'``).
    """

    def __init__(self, prompt_format: PromptFormat, template: ChatTemplate | None = None) -> None:
        if prompt_format == "chat-template" and template is None:
            raise ModelError(
                "prompt_format 'chat-template' needs the model's chat template, found none. "
                "Fix: build the renderer with ChatTemplate.from_llama(llama, name)."
            )
        self.prompt_format = prompt_format
        self.template = template

    def render(self, messages: Sequence[BaseMessage], *, instructions: str | None = None) -> Prompt:
        """Render `messages`, with `instructions` appended to the system text.

        Raises:
            InputError: no messages, or content the model cannot read.
        """
        if not messages:
            raise InputError(
                "Expected at least one message, found none. Fix: pass a question or a list of "
                "messages."
            )
        if self.prompt_format == "completion":
            return self._render_completion(messages, instructions)
        template = self.template
        if template is None:  # guarded in __init__; keeps the type checker informed
            raise ModelError("chat-template renderer without a template")
        turns = to_turns(messages, instructions, tool_role=template.supports_tool_role)
        return Prompt(template.render(turns))

    def _render_completion(
        self, messages: Sequence[BaseMessage], instructions: str | None
    ) -> Prompt:
        if len(messages) == 1 and isinstance(messages[0], HumanMessage) and not instructions:
            return Prompt(message_text(messages[0]), raw=True)
        lines: list[str] = []
        for turn in to_turns(messages, instructions, tool_role=True):
            role, content = turn["role"], turn["content"]
            if role == "system":
                lines.append(content + "\n")
            elif role == "assistant":
                lines.append(f"Assistant: {content}")
            elif role == "tool":
                lines.append(f"Tool result: {content}")
            else:
                lines.append(f"User: {content}")
        lines.append("Assistant:")
        return Prompt("\n".join(lines), stop=COMPLETION_STOPS)


def to_turns(
    messages: Sequence[BaseMessage], instructions: str | None, *, tool_role: bool
) -> list[dict[str, str]]:
    """Role/content dicts: system texts merged first, tool calls and results as text.

    Args:
        messages: the conversation.
        instructions: text appended to the system text (None: nothing).
        tool_role: whether tool results keep the role "tool" (the template renders it) or
            become user turns that say "Tool result".
    """
    system: list[str] = []
    turns: list[dict[str, str]] = []
    call_names: dict[str, str] = {}
    for message in messages:
        if isinstance(message, SystemMessage):
            system.append(message_text(message))
            continue
        role, content = _turn(message, call_names, tool_role)
        if turns and turns[-1]["role"] == role and role == "user":
            # Templates that demand alternating roles refuse two user turns in a row.
            turns[-1]["content"] += "\n\n" + content
        else:
            turns.append({"role": role, "content": content})
    if instructions:
        system.append(instructions)
    if system:
        turns.insert(0, {"role": "system", "content": "\n\n".join(system)})
    return turns


def _turn(message: BaseMessage, call_names: dict[str, str], tool_role: bool) -> tuple[str, str]:
    if isinstance(message, HumanMessage):
        return "user", message_text(message)
    if isinstance(message, AIMessage):
        text = message_text(message) if message.content else ""
        parts = [text] if text else []
        for call_id, call_name, args in ai_calls(message):
            if call_id:
                call_names[call_id] = call_name
            parts.append(format_tool_call(call_name, args))
        return "assistant", "\n".join(parts)
    if isinstance(message, ToolMessage | FunctionMessage):
        name = getattr(message, "name", None)
        if not name and isinstance(message, ToolMessage):
            name = call_names.get(message.tool_call_id)
        label = f"({name}) " if name else ""
        text = message_text(message)
        if tool_role:
            return "tool", f"{label}{text}"
        return "user", f"Tool result {label}{text}".replace("  ", " ")
    if isinstance(message, ChatMessage):
        return message.role, message_text(message)
    raise InputError(
        f"Expected system, human, AI or tool messages, found a {type(message).__name__}. "
        "Fix: convert it to one of langchain_core.messages' standard types."
    )


def ai_calls(message: AIMessage) -> list[tuple[str, str, dict[str, Any]]]:
    """(id, name, args) of the calls in an AI message: its `tool_calls`, or, when it has none,
    the tool-call blocks of its content (an Anthropic-style message built by hand)."""
    if message.tool_calls:
        return [(str(c.get("id") or ""), c["name"], c["args"]) for c in message.tool_calls]
    calls: list[tuple[str, str, dict[str, Any]]] = []
    if isinstance(message.content, list):
        for block in message.content:
            if not isinstance(block, dict) or block.get("type") not in ("tool_use", "tool_call"):
                continue
            args = block.get("input", block.get("args"))
            if isinstance(block.get("name"), str) and isinstance(args, dict):
                calls.append((str(block.get("id") or ""), block["name"], args))
    return calls
