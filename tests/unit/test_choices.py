"""A question that picks one of two things by a comparative (lamina/guards/comparisons.py's
`asked_choice`), planned as one lookup per thing and answered with the pick the figures make
(lamina/layers/reasoning/lookup_answers.py)."""

from __future__ import annotations

from typing import Any

import pytest
from langchain_core.tools import tool

from lamina.guards.comparisons import asked_choice, picks_one
from lamina.guards.tool_relevance import ToolFit
from lamina.guards.tool_shortlist import step_needs_tool
from lamina.layers.reasoning.lookup_answers import (
    ADDED_FOR_CHOICE,
    choice_answer,
    lookups_listed,
    planned_choice,
)
from lamina.tools.calculator import calculator
from tests.unit.shop_stubs import product_price, stock_level


@tool
def weather(city: str) -> str:
    """Current weather in a city: temperature in degrees Celsius, conditions, wind, humidity."""
    return ""


@tool
def shipping_cost(weight_kg: float, zone: str) -> float:
    """Price in euros of shipping one parcel."""
    return 1.0


TOOLS = {t.name: t for t in (product_price, stock_level, weather, shipping_cost, calculator)}


@pytest.mark.parametrize(
    ("request_text", "word", "dimension", "larger", "things"),
    [
        (
            "Is it warmer in Lisbon or in Berlin?",
            "warmer",
            "temperature",
            True,
            ("Lisbon", "Berlin"),
        ),
        (
            "Which is cheaper, a monitor or a webcam?",
            "cheaper",
            "money",
            False,
            ("monitor", "webcam"),
        ),
        (
            "Which costs more: a backpack or a desk lamp?",
            "costs more",
            "money",
            True,
            ("backpack", "desk lamp"),
        ),
        (
            "Which is less expensive, a mouse or a cable?",
            "less expensive",
            "money",
            False,
            ("mouse", "cable"),
        ),
        (
            "Where is it colder right now, Oslo or Toronto?",
            "colder",
            "temperature",
            False,
            ("Oslo", "Toronto"),
        ),
        (
            "Which city is warmer: Lisbon, or Berlin?",
            "warmer",
            "temperature",
            True,
            ("Lisbon", "Berlin"),
        ),
        (
            "Is it colder in Oslo right now or in Toronto?",
            "colder",
            "temperature",
            False,
            ("Oslo", "Toronto"),
        ),
        # figures given are no things to look up
        ("Which is heavier, a 2 kg bag or a 3 lb bag?", "heavier", "mass", True, ()),
        # comparatives that name no dimension: the figure's label decides
        (
            "Which city is windier, Denver or Reykjavik?",
            "windier",
            None,
            True,
            ("Denver", "Reykjavik"),
        ),
        ("Which is less humid, Mumbai or Cairo?", "less humid", None, False, ("Mumbai", "Cairo")),
        ("Is it more humid in Mumbai or in Cairo?", "more humid", None, True, ("Mumbai", "Cairo")),
        ("Do we have more backpacks or webcams?", "more", None, True, ("backpacks", "webcams")),
        (
            "Do we have more desk lamps or office chairs?",
            "more",
            None,
            True,
            ("desk lamps", "office chairs"),
        ),
        (
            "Do we have more monitors or standing desks in stock?",
            "more",
            None,
            True,
            ("monitors", "standing desks"),
        ),
    ],
)
def test_what_a_choice_picks_from(
    request_text: str, word: str, dimension: str, larger: bool, things: tuple[str, ...]
) -> None:
    asked = asked_choice(request_text)
    assert asked is not None
    assert (asked.word, asked.dimension, asked.larger, asked.things) == (
        word,
        dimension,
        larger,
        things,
    )


@pytest.mark.parametrize(
    ("request_text", "word", "things", "claimed"),
    [
        ("Is Berlin warmer than Oslo?", "warmer", ("Berlin", "Oslo"), "Berlin"),
        (
            "Is a webcam more expensive than a monitor?",
            "more expensive",
            ("webcam", "monitor"),
            "webcam",
        ),
        ("Is it warmer in Lisbon than in Berlin?", "warmer", ("Lisbon", "Berlin"), "Lisbon"),
        ("Does a monitor cost more than a webcam?", "cost more", ("monitor", "webcam"), "monitor"),
        ("Is a monitor or a webcam cheaper?", "cheaper", ("monitor", "webcam"), None),
    ],
)
def test_a_choice_written_around_its_things(
    request_text: str, word: str, things: tuple[str, ...], claimed: str | None
) -> None:
    asked = asked_choice(request_text)
    assert asked is not None
    assert (asked.word, asked.things, asked.claimed) == (word, things, claimed)


@pytest.mark.parametrize(
    "request_text",
    [
        "Is Berlin warmer than 10 C?",  # a limit: a threshold
        "Is my 23 kg suitcase heavier than the 20 kg limit?",
        "Is Berlin warmer than Oslo? By how many degrees?",  # a difference
        "Do I have more or less than 5?",
        "How much more is a monitor?",
        "Which is warmer in Lisbon.",  # no question
        "Which courier ships it, DHL or UPS?",  # -ier inside a noun is no comparative
    ],
)
def test_no_choice(request_text: str) -> None:
    assert asked_choice(request_text) is None


def call(name: str, result: Any, **args: Any) -> dict[str, Any]:
    return {"name": name, "args": args, "result": result, "error": None}


def results_of(*calls: dict[str, Any]) -> list[dict[str, Any]]:
    return [{"index": i, "result": "", "tool_calls": [c]} for i, c in enumerate(calls)]


LISBON = call("weather", "Lisbon: 21 °C, sunny, wind 14 km/h", city="Lisbon")
BERLIN = call("weather", "Berlin: 11 °C, drizzle, wind 36 km/h", city="Berlin")


def test_the_pick_is_the_figure_in_the_comparative_s_dimension() -> None:
    # Berlin's wind (36 km/h) is more than Lisbon's, but "warmer" compares temperatures
    answer = choice_answer(
        "Is it warmer in Lisbon or in Berlin?", results_of(LISBON, BERLIN), TOOLS
    )
    assert answer == "Lisbon is warmer than Berlin (11 degrees celsius): 21 degrees celsius."


def test_a_yes_or_no_choice_says_yes_or_no_first() -> None:
    results = results_of(LISBON, BERLIN)
    yes = choice_answer("Is Lisbon warmer than Berlin?", results, TOOLS)
    assert yes == "Yes: Lisbon is warmer than Berlin (11 degrees celsius): 21 degrees celsius."
    no = choice_answer("Is Lisbon colder than Berlin?", results, TOOLS)
    assert no == "No: Berlin is colder than Lisbon (21 degrees celsius): 11 degrees celsius."


def test_the_smaller_figure_picks_for_cheaper() -> None:
    prices = results_of(
        call("product_price", "219.0", product="a monitor"),
        call("product_price", "64.5", product="webcam"),
    )
    answer = choice_answer("Which is cheaper, a monitor or a webcam?", prices, TOOLS)
    assert answer == "Webcam is cheaper than monitor (219 EUR): 64.5 EUR."
    costs = choice_answer("Which costs more: a monitor or a webcam?", prices, TOOLS)
    assert costs == "Monitor costs more than webcam (64.5 EUR): 219 EUR."


DENVER = call("weather", "Denver: 8 °C, windy, wind 32 km/h, humidity 30 %", city="Denver")
REYKJAVIK = call("weather", "Reykjavik: 2 °C, rain, wind 27 km/h, humidity 90 %", city="Reykjavik")


def test_a_comparative_without_a_dimension_picks_by_the_figure_it_labels() -> None:
    results = results_of(DENVER, REYKJAVIK)
    windier = choice_answer("Which city is windier, Denver or Reykjavik?", results, TOOLS)
    assert windier == "Denver is windier than Reykjavik (27 km/h): 32 km/h."
    humid = choice_answer("Which is less humid, Denver or Reykjavik?", results, TOOLS)
    assert humid == "Denver is less humid than Reykjavik (90 %): 30 %."
    # "sunnier" labels no figure ("windy" is no label either: no figure follows it)
    assert choice_answer("Is it sunnier in Denver or in Reykjavik?", results, TOOLS) is None


def test_a_comparative_alone_compares_how_many_there_are() -> None:
    counts = results_of(
        call("stock_level", "18", product="monitors"),
        call("stock_level", "12", product="standing desks"),
    )
    more = choice_answer("Do we have more monitors or standing desks in stock?", counts, TOOLS)
    assert more == "More monitors than standing desks (12): 18."
    fewer = choice_answer("Which do we have fewer of, monitors or standing desks?", counts, TOOLS)
    assert fewer == "Fewer standing desks than monitors (18): 12."
    # counts of two tools are not one measure
    mixed = results_of(
        call("stock_level", "18", product="monitors"),
        call("word_count", "12", product="standing desks"),
    )
    tools = {**TOOLS, "word_count": stock_level}
    assert choice_answer("Do we have more monitors or standing desks?", mixed, tools) is None


@pytest.mark.parametrize(
    ("answer", "picks"),
    [
        ("Denver is windier than Reykjavik (27 km/h): 32 km/h.", True),
        ("Denver.", True),
        ("- Step 1 (...): 8 °C\nAnswer: Reykjavik", True),
        ("Denver: 8 °C, windy, wind 32 km/h; Reykjavik: 2 °C, rain, wind 27 km/h", False),
        ("The tool returned 32.", False),
        ("Denver: 32 km/h; Reykjavik: 27 km/h", False),  # a list names both
    ],
)
def test_an_answer_picks_one_thing_or_says_the_comparative(answer: str, picks: bool) -> None:
    asked = asked_choice("Which city is windier, Denver or Reykjavik?")
    assert asked is not None
    assert picks_one(asked, answer) is picks


@pytest.mark.parametrize(
    "calls",
    [
        # one thing's figure is not known
        [call("product_price", "219.0", product="monitor")],
        # a lookup of another thing than the question names
        [
            call("product_price", "219.0", product="monitor"),
            call("product_price", "24.99", product="mouse"),
        ],
        # counts are not prices: stock_level says no unit
        [
            call("stock_level", "12", product="monitor"),
            call("stock_level", "40", product="webcam"),
        ],
        # a tie picks nothing
        [
            call("product_price", "64.5", product="monitor"),
            call("product_price", "64.5", product="webcam"),
        ],
        # a failed call has no figure
        [
            call("product_price", "219.0", product="monitor"),
            {**call("product_price", None, product="webcam"), "error": "unknown"},
        ],
    ],
)
def test_no_pick(calls: list[dict[str, Any]]) -> None:
    request = "Which is cheaper, a monitor or a webcam?"
    assert choice_answer(request, results_of(*calls), TOOLS) is None


def fit(scores: dict[str, float], names: dict[str, float] | None = None) -> ToolFit:
    return ToolFit(scores=scores, name_scores=names or {})


def test_a_choice_is_planned_as_one_lookup_per_thing() -> None:
    asked: list[str] = []

    def fit_of(text: str) -> ToolFit:
        asked.append(text)
        # "the price of webcam": no description close enough, but product_price's name is
        return fit({"product_price": 0.27, "shipping_cost": 0.22}, {"product_price": 0.48})

    steps = planned_choice("Which is cheaper, a monitor or a webcam?", TOOLS, fit_of)
    assert asked == ["the price of monitor", "the price of webcam"]
    assert [s.call for s in steps] == [
        ("product_price", "product", "monitor"),
        ("product_price", "product", "webcam"),
    ]
    assert [s.index for s in steps] == [0, 1]
    assert {s.added_for for s in steps} == {ADDED_FOR_CHOICE}
    assert all(s.needs_tool and s.tools == ("product_price",) for s in steps)


def test_a_choice_of_more_is_planned_as_one_count_per_thing() -> None:
    def fit_of(text: str) -> ToolFit:
        return fit({"stock_level": 0.3, "product_price": 0.2})

    request = "Which has more in stock, usb-c cables or phone cases?"
    steps = planned_choice(request, TOOLS, fit_of)
    assert [s.call for s in steps] == [
        ("stock_level", "product", "usb-c cables"),
        ("stock_level", "product", "phone cases"),
    ]
    # no tool says it counts: nothing planned
    no_counter = {k: v for k, v in TOOLS.items() if k != "stock_level"}
    assert planned_choice(request, no_counter, fit_of) == ()


@pytest.mark.parametrize(
    "scores",
    [
        {"product_price": 0.2, "shipping_cost": 0.1},  # nothing close, by description or name
        {"shipping_cost": 0.5, "product_price": 0.2},  # the tool takes two arguments
    ],
)
def test_no_choice_plan(scores: dict[str, float]) -> None:
    steps = planned_choice(
        "Which is cheaper, a monitor or a webcam?", TOOLS, lambda _: fit(scores, scores)
    )
    assert steps == ()


def test_no_choice_plan_when_the_things_point_to_different_tools() -> None:
    def fit_of(text: str) -> ToolFit:
        top = "product_price" if "monitor" in text else "stock_level"
        return fit({top: 0.5})

    assert planned_choice("Which is cheaper, a monitor or a webcam?", TOOLS, fit_of) == ()


def test_planned_lookups_are_listed_when_no_pick_is_made() -> None:
    steps = planned_choice(
        "Which is cheaper, a monitor or a webcam?", TOOLS, lambda _: fit({"product_price": 0.5})
    )
    results = results_of(
        call("product_price", "64.5", product="monitor"),
        call("product_price", "64.5", product="webcam"),
    )
    assert lookups_listed(list(steps), results) == "monitor: 64.5; webcam: 64.5"


def test_a_choice_needs_a_tool() -> None:
    weak = fit({"product_price": 0.31})  # "supports", but no lookup word, no money asked
    assert step_needs_tool("Which is cheaper, a monitor or a webcam?", TOOLS, fit=weak)
    assert not step_needs_tool("Which colour is nicer, red or blue", TOOLS, fit=weak)
