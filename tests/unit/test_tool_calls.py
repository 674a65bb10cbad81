"""LlamaChatModel's grammar-constrained tool calls, one or several per reply (no model files).

A scripted stand-in for `llama_cpp.Llama` returns the texts a model would write at each stage
(choice, arguments, then another call or the end) and records every prompt and grammar.
"""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace
from typing import Annotated, Any

import pytest
from langchain_core.messages import HumanMessage

from lamina.config import get_settings
from lamina.errors import ModelOutputError
from lamina.models.catalog import ModelSpec
from lamina.models.grammar import continuation_grammar
from lamina.models.pool import ModelPool
from lamina.tools.decorator import tool

TEMPLATE = (
    "{% for m in messages %}<|{{ m.role }}|>{{ m.content }}\n{% endfor %}"
    "{% if add_generation_prompt %}<|assistant|>{% endif %}"
)


class ScriptedLlama:
    """Answers each completion with the next scripted (text, finish_reason)."""

    def __init__(self, script: list[str | tuple[str, str]]) -> None:
        self.script = list(script)
        self.prompts: list[str] = []
        self.grammars: list[str | None] = []
        self.options: list[dict[str, Any]] = []
        self.metadata = {"tokenizer.chat_template": TEMPLATE}
        self._model = SimpleNamespace(add_bos_token=lambda: False, token_get_text=lambda t: "")

    def token_bos(self) -> int:
        return -1

    def token_eos(self) -> int:
        return -1

    def tokenize(self, text: bytes, add_bos: bool = False, special: bool = True) -> list[int]:
        return list(text)

    def create_completion(self, tokens: list[int], **kwargs: Any) -> dict[str, Any]:
        self.prompts.append(bytes(tokens).decode("utf-8"))
        grammar = kwargs.get("grammar")
        self.options.append(kwargs)
        self.grammars.append(None if grammar is None else grammar._grammar)
        if not self.script:
            raise AssertionError("the model was asked more often than scripted")
        item = self.script.pop(0)
        text, finish = item if isinstance(item, tuple) else (item, "stop")
        return {
            "choices": [{"text": text, "finish_reason": finish}],
            "usage": {"prompt_tokens": len(tokens), "completion_tokens": max(1, len(text) // 4)},
        }


@tool
def get_distance(city: Annotated[str, "A city."]) -> int:
    """Get the distance from Paris to a city."""
    return 1


@tool
def km_to_miles(km: Annotated[float, "Kilometres."]) -> float:
    """Convert kilometres to miles."""
    return km * 0.62


def chat(script: list[str | tuple[str, str]], prompt_format: str = "chat-template") -> Any:
    llama = ScriptedLlama(script)
    pool = ModelPool(get_settings(), loader=lambda spec, path, settings: llama)
    pool.register(
        ModelSpec(name="scripted", path=Path("/nowhere/scripted.gguf"), prompt_format=prompt_format)
    )
    return pool.chat_model("scripted", max_tokens=64), llama


QUESTION = [HumanMessage("Distances from Paris to Lyon and to Lille?")]


def test_one_call_per_reply_by_default() -> None:
    model, llama = chat([" get_distance", '{"city": "Lyon"}'])
    reply = model.bind_tools([get_distance, km_to_miles]).invoke(QUESTION)
    assert [(c["name"], c["args"]) for c in reply.tool_calls] == [
        ("get_distance", {"city": "Lyon"})
    ]
    assert len(llama.prompts) == 2  # choice, arguments: no third completion
    assert llama.prompts[1].endswith("Action: get_distance\n")


def test_parallel_calls_continue_until_the_model_ends_its_turn() -> None:
    model, llama = chat(
        [
            " get_distance",
            '{"city": "Lyon"}',
            "\nAction: get_distance",
            '{"city": "Lille"}',
            "\nAction: km_to_miles",
            '{"km": 225}',
            "",  # the end-of-turn token: nothing more
        ]
    )
    bound = model.bind_tools([get_distance, km_to_miles], parallel_tool_calls=True)
    reply = bound.invoke(QUESTION)
    assert [(c["name"], c["args"]) for c in reply.tool_calls] == [
        ("get_distance", {"city": "Lyon"}),
        ("get_distance", {"city": "Lille"}),
        ("km_to_miles", {"km": 225}),
    ]
    assert len({c["id"] for c in reply.tool_calls}) == 3
    assert reply.response_metadata["finish_reason"] == "tool_calls"
    # each stage continues the previous one, in the form the prompt renders earlier calls
    assert llama.prompts[2].endswith('Action: get_distance\n{"city": "Lyon"}')
    assert llama.prompts[3].endswith('{"city": "Lyon"}\nAction: get_distance\n')
    assert llama.prompts[5].endswith('{"city": "Lille"}\nAction: km_to_miles\n')
    assert llama.grammars[2] == continuation_grammar(["get_distance", "km_to_miles"], "Action:")
    assert llama.grammars[6] == llama.grammars[2]
    # the prompt is the same as for one call per reply (see tools_instructions)
    single, single_llama = chat([" get_distance", '{"city": "Lyon"}'])
    single.bind_tools([get_distance, km_to_miles]).invoke(QUESTION)
    assert single_llama.prompts[0] == llama.prompts[0]
    usage = reply.usage_metadata
    assert usage is not None
    assert usage["output_tokens"] >= 7


def test_a_repeated_call_ends_the_reply() -> None:
    model, llama = chat(
        [" get_distance", '{"city": "Lyon"}', "\nAction: get_distance", '{"city": "Lyon"}']
    )
    bound = model.bind_tools([get_distance], parallel_tool_calls=True)
    reply = bound.invoke(QUESTION)
    assert [c["args"] for c in reply.tool_calls] == [{"city": "Lyon"}]
    assert not llama.script


def test_calls_per_reply_are_bounded() -> None:
    script: list[str | tuple[str, str]] = [" get_distance"]
    for i in range(12):
        script += [json.dumps({"city": f"c{i}"}), "\nAction: get_distance"]
    model, _ = chat(script)
    reply = model.bind_tools([get_distance], parallel_tool_calls=True).invoke(QUESTION)
    assert len(reply.tool_calls) == 8


def test_a_cut_off_continuation_keeps_the_calls_so_far() -> None:
    model, _ = chat([" get_distance", '{"city": "Lyon"}', ("\nAction: get_d", "length")])
    reply = model.bind_tools([get_distance], parallel_tool_calls=True).invoke(QUESTION)
    assert [c["args"] for c in reply.tool_calls] == [{"city": "Lyon"}]


def test_cut_off_arguments_of_a_later_call_are_an_error() -> None:
    model, _ = chat(
        [" get_distance", '{"city": "Lyon"}', "\nAction: get_distance", ('{"city": "Li', "length")]
    )
    with pytest.raises(ModelOutputError, match="cut off by max_tokens"):
        model.bind_tools([get_distance], parallel_tool_calls=True).invoke(QUESTION)


def test_a_base_model_makes_one_call_per_reply() -> None:
    model, llama = chat([" get_distance", '{"city": "Lyon"}'], prompt_format="completion")
    reply = model.bind_tools([get_distance], parallel_tool_calls=True).invoke(QUESTION)
    assert len(reply.tool_calls) == 1
    assert len(llama.prompts) == 2


def test_final_answer_is_plain_text() -> None:
    model, _ = chat([" final_answer", "Lyon is 467 km away."])
    reply = model.bind_tools([get_distance], parallel_tool_calls=True).invoke(QUESTION)
    assert reply.tool_calls == []
    assert reply.content == "Lyon is 467 km away."


LOOP = '{"start": "SF", "stops": ["Santa Barbara", ' + '"Santa Barbara", ' * 6


@tool
def route(
    start: Annotated[str, "Where to start."], stops: Annotated[list[str], "Where to stop."]
) -> str:
    """Plan a route."""
    return "ok"


def test_looping_arguments_are_decoded_again_with_a_repeat_penalty() -> None:
    fixed = '{"start": "SF", "stops": ["Santa Barbara", "Monterey"]}'
    model, llama = chat([" route", (LOOP, "length"), fixed])
    reply = model.bind_tools([route]).invoke(QUESTION)
    assert reply.tool_calls[0]["args"] == {"start": "SF", "stops": ["Santa Barbara", "Monterey"]}
    assert [o["repeat_penalty"] for o in llama.options[1:]] == [1.0, 1.3]
    assert llama.prompts[1] == llama.prompts[2]  # the same prompt, decoded again


def test_a_long_value_that_does_not_loop_is_reported_as_cut_off() -> None:
    long_text = '{"start": "' + "".join(f"word{i} " for i in range(40))
    model, llama = chat([" route", (long_text, "length")])
    with pytest.raises(ModelOutputError, match="cut off by max_tokens"):
        model.bind_tools([route]).invoke(QUESTION)
    assert len(llama.prompts) == 2  # no second decode


def test_a_loop_that_survives_the_penalty_is_reported() -> None:
    model, _ = chat([" route", (LOOP, "length"), (LOOP, "length")])
    with pytest.raises(ModelOutputError, match="cut off by max_tokens"):
        model.bind_tools([route]).invoke(QUESTION)


@pytest.mark.parametrize(
    ("text", "loops"),
    [
        (LOOP, True),
        ('{"protein_name": "human_hepcurin' + "_beta_1_c" * 8, True),
        ("a" * 60, True),
        ("".join(f"item {i}, " for i in range(30)), False),
        ("Santa Barbara, Santa Barbara", False),  # too short to call it a loop
        # a sentence-long loop in an email body (SmolLM2-135M, cut off mid-sentence)
        (
            '{"body": "Hi. '
            + "Thank you for coming to the meeting. Please RSVP to 12345. " * 2
            + "Thank you for",
            True,
        ),
        ("The meeting is at noon. Bring the slides. The meeting is at one. Bring a pen.", False),
    ],
)
def test_loop_detection(text: str, loops: bool) -> None:
    from lamina.models.llama.completion import is_loop

    assert is_loop(text) is loops
