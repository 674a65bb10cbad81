"""Tool relevance: scoring tools by meaning, and what planning and execution do with the scores.

A keyword encoder stands in for MiniLM: each text is a vector over a few topic words, so the
cosine similarities (and which side of a threshold they fall) are known in advance.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Annotated, Any, ClassVar

import numpy as np
import numpy.typing as npt
import pytest
from langchain_core.tools import tool as lc_tool
from langgraph.runtime import Runtime

from lamina.agents.config_file import AgentConfig
from lamina.config.options import Guards
from lamina.core.context import AgentContext, StaticModels
from lamina.errors import ConfigError
from lamina.guards.tool_relevance import ToolFit, ToolRelevance
from lamina.guards.tool_shortlist import named_tools, step_needs_tool
from lamina.guards.written_arithmetic import written_expressions
from lamina.layers.execution import make_execution_node
from lamina.layers.reasoning.planning import make_plan
from lamina.models.testing import FakeChatModel, ToolCallScript
from lamina.tools.decorator import tool

TOPICS = ("weather", "money", "ticket", "time")


class KeywordEncoder:
    """Counts topic words (and their synonyms); other words count for nothing."""

    identity = "keywords-v1"
    synonyms: ClassVar[dict[str, str]] = {
        "rain": "weather",
        "forecast": "weather",
        "euros": "money",
        "balance": "money",
    }

    def __init__(self) -> None:
        self.calls: list[list[str]] = []

    def encode(self, texts: Sequence[str]) -> npt.NDArray[np.float32]:
        self.calls.append(list(texts))
        out = np.zeros((len(texts), len(TOPICS)), dtype=np.float32)
        for i, text in enumerate(texts):
            for word in text.lower().replace("?", " ").replace(".", " ").replace(":", " ").split():
                topic = self.synonyms.get(word, word)
                if topic in TOPICS:
                    out[i, TOPICS.index(topic)] += 1.0
            out[i] /= np.linalg.norm(out[i]) or 1.0
        return out


@tool
def get_weather(city: Annotated[str, "A city."]) -> str:
    """Weather forecast."""
    return f"rain in {city}"


@tool
def send_money(to: Annotated[str, "Who gets it."]) -> str:
    """Money transfer."""
    return f"sent to {to}"


@tool
def open_ticket(title: Annotated[str, "A title."]) -> str:
    """Support ticket."""
    return "T-1"


TOOLS = [get_weather, send_money, open_ticket]


def relevance(**kwargs: Any) -> ToolRelevance:
    return ToolRelevance(KeywordEncoder(), **kwargs)


def test_scores_follow_meaning_and_the_fitting_tool_is_required_first() -> None:
    fit = relevance().assess("rain forecast", TOOLS)
    assert list(fit.scores) == ["get_weather", "send_money", "open_ticket"]
    assert fit.scores["get_weather"] > 0.45 > fit.scores["send_money"]
    assert fit.fits
    assert fit.supports
    assert fit.tool_choice() == "required"
    assert fit.shortlist() == ["get_weather"]
    assert fit.to_dict()["shortlist"] == ["get_weather"]


def test_nothing_fits_every_tool_stays_and_the_model_may_answer() -> None:
    fit = relevance().assess("what is the capital of france", TOOLS)
    assert not fit.fits
    assert fit.tool_choice() == "auto"
    assert fit.shortlist() == ["get_weather", "send_money", "open_ticket"]


def test_shortlist_keeps_close_tools_related_tools_and_named_tools() -> None:
    fit = ToolFit({"a": 0.80, "b": 0.77, "c": 0.35, "d": 0.10})
    assert fit.shortlist() == ["a", "b", "c"]  # b within the margin, c above supports_above
    assert fit.shortlist(named=["d"]) == ["a", "b", "c", "d"]
    tight = ToolFit({"a": 0.80, "b": 0.77, "c": 0.35}, supports_above=0.4, margin=0.01)
    assert tight.shortlist() == ["a", "b"]  # c is now below both floors
    assert ToolFit({"a": 0.40, "b": 0.39}).shortlist() == ["a", "b"]  # nothing fits: all


def test_embeddings_are_computed_once() -> None:
    r = relevance()
    r.assess("rain", TOOLS)
    r.assess("money please", TOOLS)
    encoded = [text for call in r.encoder.calls for text in call]  # type: ignore[attr-defined]
    assert sum("weather forecast" in t.lower() for t in encoded) == 1
    assert encoded.count("money please") == 1
    calls = len(r.encoder.calls)  # type: ignore[attr-defined]
    r.assess("money please", TOOLS)  # planning and execution ask about the same step
    assert len(r.encoder.calls) == calls  # type: ignore[attr-defined]


def test_tools_as_dicts_names_and_mappings() -> None:
    r = relevance()
    as_dict = {"type": "function", "function": {"name": "rain_gauge", "description": "Weather."}}
    assert r.assess("forecast", [as_dict]).fits
    assert r.assess("weather", ["get_weather"]).fits  # a bare name: its words
    by_name = {t.name: t for t in TOOLS}
    assert list(r.assess("rain", by_name).scores) == list(by_name)


def test_no_tools_or_empty_text_fit_nothing() -> None:
    assert relevance().assess("rain", []).best == -1.0
    assert not relevance().assess("  ", TOOLS).fits


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"fits_above": 1.5}, "fits_above"),
        ({"supports_above": math.nan}, "supports_above"),
        ({"supports_above": 0.6, "fits_above": 0.5}, "supports_above <= fits_above"),
        ({"margin": -0.1}, "margin"),
    ],
)
def test_bad_thresholds_are_config_errors(kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        relevance(**kwargs)


# -- planning ------------------------------------------------------------------------------
def test_a_fitting_tool_makes_a_tool_step_without_any_tool_word() -> None:
    r = relevance()
    step = "Will it rain tomorrow?"
    assert not step_needs_tool(step, TOOLS)  # no tool word: words alone say no
    assert step_needs_tool(step, TOOLS, fit=r.assess(step, TOOLS))


def test_a_lookup_word_far_from_every_tool_is_not_enough() -> None:
    r = relevance()
    step = "Search for the capital of France."
    assert step_needs_tool(step, TOOLS)  # "search" is a lookup word
    assert not step_needs_tool(step, TOOLS, fit=r.assess(step, TOOLS))


def test_a_request_for_an_amount_of_money_needs_a_tool_that_supports_it() -> None:
    r = relevance()
    step = "How much are 40 tickets in euros?"
    assert step_needs_tool(step, TOOLS)  # the answer is in a currency: no model knows prices
    assert not step_needs_tool("How much is a lot, in your words?", TOOLS)
    fit = r.assess(step, TOOLS)
    assert step_needs_tool(step, TOOLS, fit=fit) == fit.supports


def test_an_amount_of_money_no_figure_gives_needs_a_tool_that_returns_money() -> None:
    # "how much would 3 webcams set me back in yen": 0.25 from product_price, SmolLM2 guessed
    @lc_tool
    def product_price(product: str) -> float:
        """Look up the unit price in euros of a product in our shop."""
        return 1.0

    @lc_tool
    def stock_level(product: str) -> int:
        """How many units of a product are in stock in our warehouse."""
        return 1

    weak = ToolFit(scores={"product_price": 0.25, "stock_level": 0.1})
    step = "how much would 3 webcams set me back in yen"
    assert step_needs_tool(step, [product_price, stock_level], fit=weak)
    as_dicts = [{"type": "function", "function": {"name": "p", "description": "Price in euros."}}]
    assert step_needs_tool(step, as_dicts, fit=weak)
    # a total of things no figure gives is an amount too
    together = "A keyboard and a mouse, what's that together?"
    assert step_needs_tool(together, [product_price, stock_level], fit=weak)
    # no tool returns money; or the step gives the amount itself
    assert not step_needs_tool(step, [stock_level], fit=weak)
    assert not step_needs_tool(together, [stock_level], fit=weak)
    assert not step_needs_tool("what is 12.5 EUR in yen", [stock_level], fit=weak)


def test_arithmetic_and_named_tools_count_whatever_the_similarity() -> None:
    r = relevance()
    for step in ("What is 40 times 3?", "Call open_ticket for the capital of France."):
        assert step_needs_tool(step, TOOLS, fit=r.assess(step, TOOLS)), step
    assert named_tools("use open ticket and send_money", [t.name for t in TOOLS]) == [
        "send_money",
        "open_ticket",
    ]


def test_make_plan_weighs_tools_with_the_relevance_it_is_given() -> None:
    fake = FakeChatModel(responses=[])
    task = "Will it rain in Lyon?"
    assert not make_plan(fake, task, TOOLS).steps[0].needs_tool
    assert make_plan(fake, task, TOOLS, relevance=relevance()).steps[0].needs_tool


# -- execution -----------------------------------------------------------------------------
def run_step(fake: FakeChatModel, task: str, **limits: Any) -> dict[str, Any]:
    context = AgentContext(
        models=StaticModels({"fake": fake}),
        default_model="fake",
        tools={t.name: t for t in TOOLS},
        tool_relevance=relevance(),
    )
    state = {"messages": [], "task": task, "model": "fake", "trace": []}
    return make_execution_node(**limits)(state, Runtime(context=context))  # type: ignore[arg-type]


def test_first_move_sees_the_fitting_tools_required_then_those_still_wanted() -> None:
    fake = FakeChatModel(responses=[ToolCallScript("get_weather", {"city": "Lyon"}), "Rain."])
    update = run_step(fake, "Will it rain in Lyon?")
    (event,) = update["trace"]
    assert event["data"]["tool_fit"]["shortlist"] == ["get_weather"]
    assert event["data"]["tool_fit"]["fits"] is True
    # bound afresh for each move: the first move's shortlist, required; then the tool called
    # (no word of the request points to another one)
    assert fake.tool_choices == ["required", None]
    assert fake.bound_tools == ["get_weather"]
    assert update["step_results"][0]["result"] == "Rain."
    assert [c["name"] for c in update["step_results"][0]["tool_calls"]] == ["get_weather"]


def test_after_a_result_a_word_left_over_keeps_its_tool_on_offer() -> None:
    task = "Will it rain in Lyon? And what is my balance in euros?"
    fake = FakeChatModel(responses=[ToolCallScript("get_weather", {"city": "Lyon"}), "Rain."])
    run_step(fake, task)
    assert sorted(fake.bound_tools) == ["get_weather", "send_money"]  # "balance", "euros"

    fake = FakeChatModel(responses=[ToolCallScript("get_weather", {"city": "Lyon"}), "Rain."])
    run_step(fake, "Will it rain in Lyon?", guards=Guards(follow_on_tools=False))
    assert fake.bound_tools == [t.name for t in TOOLS]  # the guard off: every tool


def test_a_first_call_outside_the_shortlist_is_an_unknown_tool() -> None:
    fake = FakeChatModel(
        responses=[
            ToolCallScript("send_money", {"to": "Ann"}),
            ToolCallScript("get_weather", {"city": "Lyon"}),
            "Rain.",
        ]
    )
    update = run_step(fake, "Will it rain in Lyon?")
    calls = update["step_results"][0]["tool_calls"]
    assert calls[0]["name"] == "send_money"
    assert "unknown tool 'send_money'; the tools are: get_weather" in str(calls[0]["error"])
    assert calls[1]["name"] == "get_weather"
    assert "error" not in calls[1]


def test_without_a_fitting_tool_the_step_is_unchanged() -> None:
    fake = FakeChatModel(responses=["Paris."])
    update = run_step(fake, "Search for the capital of France.")
    (event,) = update["trace"]
    assert event["data"]["tool_fit"]["fits"] is False
    assert fake.tool_choices == [None]
    assert sorted(fake.bound_tools) == sorted(t.name for t in TOOLS)


# -- configuration -------------------------------------------------------------------------
def test_lamina_toml_table_builds_the_relevance_or_switches_it_off() -> None:
    on = AgentConfig.model_validate({"tool_relevance": {"fits_above": 0.6, "margin": 0.1}})
    built = on.build_agent_kwargs()["tool_relevance"]
    assert isinstance(built, ToolRelevance)
    assert (built.fits_above, built.supports_above, built.margin) == (0.6, 0.30, 0.1)
    off = AgentConfig.model_validate({"tool_relevance": {"enabled": False}})
    assert off.build_agent_kwargs()["tool_relevance"] is False
    assert "tool_relevance" not in AgentConfig().build_agent_kwargs()


def test_agent_refuses_a_tool_relevance_of_another_type() -> None:
    from lamina import Agent

    with pytest.raises(ConfigError, match="tool_relevance"):
        Agent(
            chat_models={"fake": FakeChatModel(responses=[])},
            routes=[],
            memory=False,
            step_cache=False,
            checkpointer=":memory:",
            tool_relevance="yes",  # type: ignore[arg-type]
        )


def test_every_toml_block_of_the_readme_is_a_valid_lamina_toml(tmp_path: Any) -> None:
    import re
    from pathlib import Path

    from lamina.agents.config_file import load_config

    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text(encoding="utf-8")
    blocks = re.findall(r"```toml\n(.*?)```", readme, flags=re.DOTALL)
    assert blocks
    for i, block in enumerate(blocks):
        if block.lstrip().startswith("[[keys]]"):
            continue  # `lamina serve --keys`'s key file (test_serving_hardening.py reads it)
        path = tmp_path / f"block{i}.toml"
        path.write_text(block, encoding="utf-8")
        config = load_config(path)  # raises ConfigError on a bad key or value
        if config.mcp:
            continue  # building would start the example's MCP server (test_mcp_tools.py does)
        config.build_agent_kwargs()


def test_arithmetic_written_in_the_step_goes_to_the_tool_whose_pattern_takes_it() -> None:
    from lamina.tools.calculator import calculator

    @tool
    def add_tip(bill: float, tip_percent: float) -> str:
        """Work out the tip on a bill.

        Args:
            bill: the bill.
            tip_percent: the tip in percent.
        """
        return ""

    tools = {"add_tip": add_tip, "calculator": calculator}
    assert written_expressions("(1250 - 380) / 6 = ?", tools) == [
        ("calculator", "expression", "(1250 - 380) / 6")
    ]
    assert written_expressions("What is 17*23+5? Use the calculator.", tools) == [
        ("calculator", "expression", "17*23+5")
    ]
    # a negative operand ("11 - -3": SmolLM2 wrote "11 - 3" for it)
    assert written_expressions("Calculate 11 - -3.", tools) == [
        ("calculator", "expression", "11 - -3")
    ]
    # operator words between figures, in symbols
    assert written_expressions("What is 12 times 7?", tools) == [
        ("calculator", "expression", "12 * 7")
    ]
    assert written_expressions("1,200 divided by 4 plus 3", tools) == [
        ("calculator", "expression", "1200 / 4 + 3")
    ]
    # a function call stays whole: from "round(22.222)" the run was "(22.222)", computed
    # unrounded
    assert written_expressions("Calculate round(22.222).", tools) == [
        ("calculator", "expression", "round(22.222)")
    ]
    # a comma before an operator word closes what comes before it
    assert written_expressions("What's 1200 divided by 16, times 3?", tools) == [
        ("calculator", "expression", "(1200 / 16) * 3")
    ]
    assert written_expressions("2 plus 3, times 4", tools) == [
        ("calculator", "expression", "(2 + 3) * 4")
    ]
    # a share inside operator words is one run too
    assert written_expressions("What is 15 percent of 80, plus 4?", tools) == [
        ("calculator", "expression", "(15 / 100 * 80) + 4")
    ]
    # a power inside operator words is one run, not two
    assert written_expressions("What's 7 squared minus 9?", tools) == [
        ("calculator", "expression", "7 ** 2 - 9")
    ]
    assert written_expressions("What is the square root of 196?", tools) == [
        ("calculator", "expression", "square root of 196")
    ]
    assert written_expressions("What is 2 * sqrt(16) + max(3, 9)?", tools) == [
        ("calculator", "expression", "2 * sqrt(16) + max(3, 9)")
    ]
    for no_arithmetic in (
        "I water it 5 times a day.",  # a frequency, not a product
        "Walk around(3) blocks.",  # a function's name inside a word
        "It ships on 2025-11-20.",  # a date
        "Deliver on 03/04/2025.",
        "Order 10-15 boxes.",  # a range
        "Add a 15% tip to 40.",
    ):
        assert written_expressions(no_arithmetic, tools) == [], no_arithmetic
    assert written_expressions("(1250 - 380) / 6", {"add_tip": add_tip}) == []


def run_with_calculator(fake: FakeChatModel, task: str, **limits: Any) -> dict[str, Any]:
    from lamina.tools.calculator import calculator

    context = AgentContext(
        models=StaticModels({"fake": fake}),
        default_model="fake",
        tools={t.name: t for t in (*TOOLS, calculator)},
        tool_relevance=relevance(),
    )
    state = {"messages": [], "task": task, "model": "fake", "trace": []}
    return make_execution_node(**limits)(state, Runtime(context=context))  # type: ignore[arg-type]


def test_arithmetic_the_step_writes_is_the_first_call_as_written() -> None:
    fake = FakeChatModel(responses=["It is 145."])
    update = run_with_calculator(fake, "(1250 - 380) / 6 = ?")
    (call,) = update["step_results"][0]["tool_calls"]
    assert (call["name"], call["args"], call["result"]) == (
        "calculator",
        {"expression": "(1250 - 380) / 6"},
        "145",
    )
    assert len(fake.tool_choices) == 1  # the model only answered, after the call
    # without grounding the model writes the call (here, as SmolLM2 did, a wrong one)
    fake = FakeChatModel(
        responses=[ToolCallScript("calculator", {"expression": "1250 * 380"}), "475000"]
    )
    update = run_with_calculator(fake, "(1250 - 380) / 6 = ?", guards=Guards(grounding=False))
    assert update["step_results"][0]["tool_calls"][0]["args"] == {"expression": "1250 * 380"}


def test_a_written_function_call_is_called_whole() -> None:
    fake = FakeChatModel(responses=["It is 22."])
    update = run_with_calculator(fake, "Calculate round(22.222).")
    (call,) = update["step_results"][0]["tool_calls"]
    assert (call["args"], call["result"]) == ({"expression": "round(22.222)"}, "22")


def test_an_amount_asked_of_a_named_thing_needs_a_tool_whose_name_is_close() -> None:
    tools = ["unit_price", "get_distance"]
    close = ToolFit({"unit_price": 0.25, "get_distance": 0.1}, name_scores={"unit_price": 0.37})
    far = ToolFit({"unit_price": 0.25, "get_distance": 0.1}, name_scores={"unit_price": 0.2})
    assert step_needs_tool("How much is the teapot?", tools, fit=close)
    assert not step_needs_tool("How much is the teapot?", tools, fit=far)
    # a count of the things gives no value of one: that is still looked up
    assert step_needs_tool("How much is 3 teapots?", tools, fit=close)
    assert step_needs_tool("If I buy 3 teapots, how much is that altogether?", tools, fit=close)
    # the request gives a figure of its own: the amount may come from it
    assert not step_needs_tool("How much is 30 EUR in dollars?", tools, fit=close)
    assert not step_needs_tool("How much is 3 teapots at 27.5 EUR?", tools, fit=close)
    # no amount asked
    assert not step_needs_tool("Tell me about the teapot.", tools, fit=close)


def test_the_name_alone_is_scored_too() -> None:
    fit = relevance().assess("How much is the teapot?", TOOLS)
    assert set(fit.name_scores) == set(fit.scores)
    assert fit.best_name == max(fit.name_scores.values())


def test_when_only_a_name_is_close_the_close_names_are_offered_first() -> None:
    fit = ToolFit(
        {"unit_price": 0.28, "units_in_stock": 0.09, "calculator": 0.13},
        name_scores={"unit_price": 0.35, "units_in_stock": 0.17, "calculator": 0.17},
    )
    assert fit.shortlist() == ["unit_price"]
    assert fit.shortlist(named=["calculator"]) == ["unit_price", "calculator"]
    assert fit.tool_choice() == "auto"  # no description fits: the model may still answer
    far = ToolFit({"unit_price": 0.28, "units_in_stock": 0.09}, name_scores={"unit_price": 0.2})
    assert far.shortlist() == ["unit_price", "units_in_stock"]  # every tool, closest first


def test_a_name_the_best_fitting_tool_takes_makes_a_tool_step() -> None:
    from langchain_core.tools import tool

    @tool(parse_docstring=True)
    def weather(city: str) -> str:
        """Current weather in a city: temperature in degrees Celsius, conditions, wind.

        Args:
            city: the city's name, e.g. Lisbon.
        """
        return "21 °C"

    @tool
    def word_count(text: str) -> int:
        """Count the words in a piece of text."""
        return 3

    tools = {"weather": weather, "word_count": word_count}
    below = ToolFit({"weather": 0.39, "word_count": 0.1})  # supports, does not fit
    assert step_needs_tool("What's Cairo's temperature in Fahrenheit?", tools, fit=below)
    # no name (a unit's name is none; nor is the first word of a sentence)
    assert not step_needs_tool("What's the temperature in Fahrenheit?", tools, fit=below)
    assert not step_needs_tool("Cairo is lovely, isn't it?", tools, fit=below)
    # the tool that fits best takes no name; nothing fits enough
    texts = ToolFit({"weather": 0.1, "word_count": 0.39})
    assert not step_needs_tool("What's Cairo's temperature in Fahrenheit?", tools, fit=texts)
    far = ToolFit({"weather": 0.2, "word_count": 0.1})
    assert not step_needs_tool("What's Cairo's temperature in Fahrenheit?", tools, fit=far)


def test_tool_names_of_openai_tool_dicts_are_their_function_names() -> None:
    from lamina.guards.tool_shortlist import tool_names

    spec = {"type": "function", "function": {"name": "get_weather", "parameters": {}}}
    assert tool_names([spec]) == ["get_weather"]


class _FitsTheTip:
    """A weigher under which the tip tool is the closest to the request by meaning: it
    supports the request (0.37, as `add_tip` for "the desk lamp with 20% tax"), or with
    `fits`, it fits it on meaning alone."""

    supports_above = 0.3

    def __init__(self, fits: bool = False) -> None:
        self.score = 0.6 if fits else 0.37

    def assess(self, text: str, tools: Any) -> ToolFit:
        names = list(tools)
        return ToolFit(
            {str(getattr(n, "name", n)): (self.score if "tip" in str(n) else 0.1) for n in names}
        )

    def assess_each(self, texts: Any, tools: Any) -> list[ToolFit]:
        return [self.assess(t, tools) for t in texts]

    def closest(self, what: str, values: Sequence[str], k: int) -> list[str]:
        return list(values)[:k]


def test_when_no_tool_that_fits_can_take_what_was_given_the_others_are_offered() -> None:
    @tool
    def tip_on(
        bill: Annotated[float, "The bill's amount."],
        tip_percent: Annotated[float, "The tip in percent."],
    ) -> str:
        """Work out the tip on a bill."""
        return "tip"

    @tool
    def price_of(product: Annotated[str, "The product's name."]) -> float:
        """The price of a product."""
        return 34.9

    fake = FakeChatModel(responses=[ToolCallScript("price_of", {"product": "desk lamp"}), "34.9"])
    context = AgentContext(
        models=StaticModels({"fake": fake}),
        default_model="fake",
        tools={t.name: t for t in (tip_on, price_of)},
        tool_relevance=_FitsTheTip(),  # type: ignore[arg-type]
    )
    task = "How much is the desk lamp with 20% tax on top?"
    state = {"messages": [], "task": task, "model": "fake", "trace": []}
    update = make_execution_node()(state, Runtime(context=context))  # type: ignore[arg-type]
    calls = update["step_results"][0]["tool_calls"]
    # no bill was given (20 is a percentage): the tip tool is left out, the price is looked up
    assert [(c["name"], c["args"], c.get("error")) for c in calls] == [
        ("price_of", {"product": "desk lamp"}, None)
    ]


def test_when_the_tools_that_fit_cannot_take_what_was_given_the_model_answers_alone() -> None:
    from lamina.agents.verdict import judge_run

    @tool
    def days_between(
        start: Annotated[str, "the first date as YYYY-MM-DD."],
        end: Annotated[str, "the second date as YYYY-MM-DD."],
    ) -> int:
        """The number of days from one date to another."""
        return 0

    @tool
    def price_of(product: Annotated[str, "The product's name."]) -> float:
        """The price of a product."""
        return 34.9

    class _FitsTheDates(_FitsTheTip):
        def assess(self, text: str, tools: Any) -> ToolFit:
            names = [str(getattr(n, "name", n)) for n in tools]
            return ToolFit({n: (0.5 if "days" in n else 0.1) for n in names})

    # were the other tools offered, the script's call would be made
    fake = FakeChatModel(responses=["There are 7 days in a week."])
    context = AgentContext(
        models=StaticModels({"fake": fake}),
        default_model="fake",
        tools={t.name: t for t in (days_between, price_of)},
        tool_relevance=_FitsTheDates(),  # type: ignore[arg-type]
    )
    task = "how many days are in a week?"
    state = {"messages": [], "task": task, "model": "fake", "trace": []}
    update = make_execution_node()(state, Runtime(context=context))  # type: ignore[arg-type]
    result = update["step_results"][0]
    # no date was given: days_between cannot be called, and a fitting tool's step is not
    # widened to the others; the model answers alone, and the step says what was missing
    assert result["tool_calls"] == []
    assert result["result"] == "There are 7 days in a week."
    assert result["uncallable"] == {"days_between": ["start", "end"]}
    assert fake.tool_choices == []  # no tool was ever bound
    error = judge_run({"task": task, "answer": result["result"], "step_results": [result]})
    assert error is not None
    assert error.kind == "unverified"
    assert "days_between needs start and end" in error.message
    # a later call that took the model's figure does not make it a tool's
    converted = {
        "index": 1,
        "instruction": "Convert 7 days to hours.",
        "result": "168",
        "tool_calls": [{"name": "calc", "args": {"expression": "7 * 24"}, "result": "168"}],
        "status": "ok",
    }
    later = judge_run({"task": task, "answer": "168", "step_results": [result, converted]})
    assert later is not None
    assert later.kind == "unverified"
    assert later.step == 0


def test_a_share_of_a_figure_is_arithmetic_the_calculator_takes_as_written() -> None:
    from lamina.tools.calculator import calculator

    tools = {"calculator": calculator}
    assert step_needs_tool("what is 17.5% of 2,340?", tools)
    assert step_needs_tool("how much is a third of 96?", tools)
    assert not step_needs_tool("What is a third of the class called?", tools)
    assert written_expressions("what is 17.5% of 2,340?", tools) == [
        ("calculator", "expression", "17.5% of 2,340")
    ]
    # written without its currency sign, which the calculator's pattern does not take
    assert written_expressions("What's 15 percent of $80?", tools) == [
        ("calculator", "expression", "15 percent of 80")
    ]
    assert written_expressions("Add a 15% tip to a 64 dollar bill", tools) == []
    # packs of things are a product (given the calculator, SmolLM2 had written "24 * 24")
    eggs = "I have 3 boxes of 24 eggs. How many eggs is that?"
    assert step_needs_tool(eggs, tools)
    assert written_expressions(eggs, tools) == [("calculator", "expression", "3 * 24")]
    assert written_expressions("Ship 3 boxes of books", tools) == []
    # one amount shared, a division (SmolLM2 had called convert_currency three times)
    split = "Split a 120 euro bill between 4 people"
    assert step_needs_tool(split, tools)
    assert written_expressions(split, tools) == [("calculator", "expression", "120 / 4")]
    tipped = "Dinner came to 120 CHF, add a 15% tip and split it between 4 of us"
    assert written_expressions(tipped, tools) == []  # the tip first: another plan
    # powers in words, as written (SmolLM2 answered "2^10 = 10^10 = 1024" with no call)
    assert step_needs_tool("What's 7 squared?", tools)
    assert written_expressions("What is 2 to the power of 10?", tools) == [
        ("calculator", "expression", "2 to the power of 10")
    ]


def test_the_tools_whose_names_the_step_uses_are_offered_first() -> None:
    from lamina.guards.tool_shortlist import by_name_words

    names = ["product_price", "add_tip", "convert_currency"]
    step = "What's the tip on 45 euros at 20 percent?"
    assert by_name_words(step, names) == ["add_tip", "product_price", "convert_currency"]
    # no name word used: the order (a ranking by meaning) stays
    assert by_name_words("How much is 120 CHF in euros?", names) == names


def test_a_count_in_words_gives_no_value_a_tool_could_be_asked_about() -> None:
    from lamina.guards.tool_shortlist import only_counts

    assert only_counts("Two desk lamps - what do they cost together?")
    assert only_counts("If I buy 3 mechanical keyboards, how much is that?")
    assert not only_counts("Two desk lamps at 34.90 - what do they cost together?")
