"""The step that multiplies a value of one thing by a count of those things
(lamina/layers/reasoning/combination.py): written from what the figures are, never chosen by a
model, and only when one product is possible."""

from __future__ import annotations

from typing import Any

import pytest
from langchain_core.tools import tool

from lamina.agents.verdict import judge_run
from lamina.guards.quantities import quantities_of_run
from lamina.guards.unfinished import answered_in_another_unit, left_out_values
from lamina.layers.reasoning.combination import combination_step, looked_up_alone, lookup_step
from lamina.layers.reasoning.plan import PlanStep
from lamina.tools.calculator import calculator


@tool
def unit_price(product: str) -> float:
    """Look up the unit price in euros of a product in our shop."""
    return 89.0


@tool
def in_stock(product: str) -> int:
    """How many units of a product are in stock.

    Args:
        product: the product's name.
    """
    return 42


@tool
def word_count(text: str) -> int:
    """Count the words in a piece of text."""
    return 9


@tool
def change_money(amount: float, from_currency: str, to_currency: str) -> float:
    """Convert money between currencies."""
    return round(amount * 1.08, 2)


@tool
def days_apart(start: str, end: str) -> int:
    """The number of days between two dates."""
    return 168


TOOLS = {t.name: t for t in (unit_price, in_stock, word_count, change_money, days_apart)}
TOOLS["calculator"] = calculator
ONE = [PlanStep(0, "the request", True)]


def call(name: str, result: Any, **args: Any) -> dict[str, Any]:
    return {"name": name, "args": args, "result": result, "error": None}


PRICE = call("unit_price", 89.0, product="mechanical keyboard")


def test_a_unit_price_and_a_count_the_request_gives_are_multiplied() -> None:
    task = "If I buy 3 mechanical keyboards, how much is that altogether?"
    step = combination_step(task, [PRICE], ONE, TOOLS)
    assert step is not None
    assert step.instruction == "Calculate 89 * 3."
    assert step.tools == ("calculator",)
    assert step.unit == "EUR"  # the price's unit: the answer says what its figure is
    assert step.added_for == "combination"
    assert step.index == 1
    assert PlanStep.from_dict(step.to_dict(), 1) == step
    # written as a word, and with the model's shorter name of the product
    short = call("unit_price", 89.0, product="keyboard")
    step = combination_step("what would four keyboards cost?", [short], ONE, TOOLS)
    assert step is not None
    assert step.instruction == "Calculate 89 * 4."


def test_a_call_about_the_word_before_the_counted_thing_priced_one_of_them() -> None:
    # a lenient tool took "espresso" for "2 espresso machines"
    espresso = call("unit_price", 249.0, product="espresso")
    step = combination_step("What would 2 espresso machines cost me?", [espresso], ONE, TOOLS)
    assert step is not None
    assert step.instruction == "Calculate 249 * 2."
    # the request also names a keyboard on its own: the price is of one keyboard, not a cover
    keyboard = call("unit_price", 89.0, product="keyboard")
    task = "I have 2 keyboard covers. What does a keyboard cost?"
    assert combination_step(task, [keyboard], ONE, TOOLS) is None


def test_a_count_a_tool_returned_multiplies_the_value_of_the_same_thing() -> None:
    task = "I want to buy every espresso machine you have in stock. What's the total cost?"
    calls = [
        call("in_stock", 9, product="espresso machine"),
        call("unit_price", 249.0, product="espresso machine"),
    ]
    step = combination_step(task, calls, ONE, TOOLS)
    assert step is not None
    assert step.instruction == "Calculate 249 * 9."
    # another product's count is not a count of espresso machines
    other = [calls[0], call("unit_price", 89.0, product="keyboard")]
    assert combination_step(task, other, ONE, TOOLS) is None


def test_a_thing_is_named_by_the_words_of_the_call_not_its_function_words() -> None:
    # a lenient tool took the model's "desk lamps, what's that"; it names desk lamps
    lenient = call("unit_price", 34.9, product="desk lamps, what's that")
    step = combination_step("4 desk lamps, what's that going to be?", [lenient], ONE, TOOLS)
    assert step is not None
    assert step.instruction == "Calculate 34.9 * 4."
    # "3 of the" counts nothing: "the" is no thing the call named
    assert combination_step("Give me 3 of the best", [lenient], ONE, TOOLS) is None


def test_a_rate_per_thing_multiplies_a_count_of_those_things() -> None:
    task = "A translator charges 0.12 euros per word. What would this cost: 'Fresh bread daily'"
    step = combination_step(task, [call("word_count", 3, text="Fresh bread daily")], ONE, TOOLS)
    assert step is not None
    assert step.instruction == "Calculate 0.12 * 3."
    assert step.unit == "EUR"


def test_a_converted_value_of_one_thing_is_still_a_value_of_that_thing() -> None:
    task = "4 desk lamps, what's that going to be in US dollars?"
    calls = [
        call("unit_price", 34.9, product="desk lamp"),
        call("change_money", 37.69, amount=34.9, from_currency="EUR", to_currency="USD"),
    ]
    step = combination_step(task, calls, ONE, TOOLS)
    assert step is not None
    assert step.instruction == "Calculate 37.69 * 4."  # the euro price was used: converted
    assert step.unit == "USD"


def test_an_operation_left_open_adds_no_step() -> None:
    # two counts of the same thing: added or subtracted, not for this step to choose
    task = "We just got an order for 40 water bottles. How many will be left in stock?"
    stock = call("in_stock", 254, product="water bottle")
    assert combination_step(task, [stock], ONE, TOOLS) is None
    # two counts of keyboards for one price: which one is meant is open
    task = "If I buy 3 mechanical keyboards, how much is that altogether?"
    both = [PRICE, call("in_stock", 42, product="mechanical keyboard")]
    assert combination_step(task, both, ONE, TOOLS) is None
    # a count of something else, a percentage, a duration: not a count of the priced thing
    for task in (
        "I have 2 friends coming over. How much is a mechanical keyboard?",
        "What would the keyboard cost with 25% off?",
        "How much is a keyboard, and how much in 3 days?",
        "How much are the keyboards? I need them twice.",
    ):
        assert combination_step(task, [PRICE], ONE, TOOLS) is None, task


def test_no_step_once_the_count_was_used_or_the_product_is_known() -> None:
    task = "If I buy 3 mechanical keyboards, how much is that altogether?"
    used = [PRICE, call("calculator", 267, expression="89 * 3")]
    assert combination_step(task, used, ONE, TOOLS) is None
    # one combination per run; none without the calculator
    added = combination_step(task, [PRICE], ONE, TOOLS)
    assert added is not None
    assert combination_step(task, [PRICE], [*ONE, added], TOOLS) is None
    without = {n: t for n, t in TOOLS.items() if n != "calculator"}
    assert combination_step(task, [PRICE], ONE, without) is None
    # a failed call returned nothing to combine
    failed = {**PRICE, "error": "unknown product", "result": None}
    assert combination_step(task, [failed], ONE, TOOLS) is None


def test_what_the_figures_are() -> None:
    calls = [
        PRICE,
        call("days_apart", 168, start="2025-03-03", end="2025-08-18"),
        call("in_stock", 42, product="mechanical keyboards"),
    ]
    found = quantities_of_run("Buy 3 mechanical keyboards, at 0.5 USD each day", calls, TOOLS)
    by_value = {q.value: q for q in found}
    assert by_value[3].counts == {"keyboard"}
    assert by_value[3].unit is None
    assert by_value[0.5].per == {"day"}
    assert by_value[0.5].unit is not None
    assert by_value[89].per == {"keyboard"}
    assert by_value[89].unit is not None
    assert by_value[89].unit.name == "EUR"
    assert by_value[168].unit is not None
    assert by_value[168].unit.name == "day"
    assert by_value[168].per == frozenset()  # dates name no thing
    assert by_value[42].counts == {"keyboard", "unit"}  # "How many units of a product"


MONITOR = call("unit_price", 219.0, product="the monitors in the warehouse")
SOLD = "If we sold all the monitors in the warehouse at list price, how much would that bring in?"
POINTS_TO_STOCK = [{"word": "warehouse", "tool": "in_stock", "similarity": 0.47}]


def test_a_tool_a_word_points_to_is_asked_about_the_thing_priced() -> None:
    step = lookup_step(SOLD, POINTS_TO_STOCK, [MONITOR], ONE, TOOLS)
    assert step is not None
    assert step.instruction == (
        "How many units of a product are in stock: the monitors in the warehouse"
    )
    assert step.tools == ("in_stock",)
    assert step.call == ("in_stock", "product", "the monitors in the warehouse")
    assert PlanStep.from_dict(step.to_dict(), 1) == step
    assert step.added_for == "lookup"
    # its count then combines with the price
    counted = [MONITOR, call("in_stock", 18, product="monitors")]
    combined = combination_step(SOLD, counted, [*ONE, step], TOOLS)
    assert combined is not None
    assert combined.instruction == "Calculate 219 * 18."
    assert looked_up_alone([*ONE, step, combined]) is None


def test_no_lookup_where_no_combination_could_follow() -> None:
    # the request already counts the thing; nothing points anywhere; a tool of two arguments
    assert lookup_step("Sell 3 monitors", POINTS_TO_STOCK, [MONITOR], ONE, TOOLS) is None
    assert lookup_step(SOLD, [], [MONITOR], ONE, TOOLS) is None
    to_money = [{"word": "dollars", "tool": "change_money", "similarity": 0.41}]
    assert lookup_step(SOLD, to_money, [MONITOR], ONE, TOOLS) is None
    # a count returned first: the value of one is owed, unless the request counts them too
    stock = call("in_stock", 18, product="monitor")
    to_price = [{"word": "price", "tool": "unit_price", "similarity": 0.4}]
    priced = lookup_step(SOLD, to_price, [stock], ONE, TOOLS)
    assert priced is not None
    assert priced.call == ("unit_price", "product", "monitor")
    assert lookup_step("I sell 3 monitors at list price.", to_price, [stock], ONE, TOOLS) is None
    assert lookup_step(SOLD, to_price, [stock, MONITOR], ONE, TOOLS) is None  # both known
    # one lookup per run
    step = lookup_step(SOLD, POINTS_TO_STOCK, [MONITOR], ONE, TOOLS)
    assert step is not None
    assert lookup_step(SOLD, POINTS_TO_STOCK, [MONITOR], [*ONE, step], TOOLS) is None


def test_a_lookup_no_combination_followed_leaves_the_answer_unfinished() -> None:
    step = lookup_step(SOLD, POINTS_TO_STOCK, [MONITOR], ONE, TOOLS)
    assert step is not None
    alone = looked_up_alone([*ONE, step])
    assert alone == {"looked_up": "in_stock", "step": 1}
    error = judge_run({"task": SOLD, "answer": "18", "unhandled": [alone]})
    assert error is not None
    assert error.kind == "unfinished"
    assert "in_stock" in error.message
    assert looked_up_alone(ONE) is None


def test_a_lookup_repeated_by_the_model_is_one_value() -> None:
    step = lookup_step(SOLD, POINTS_TO_STOCK, [MONITOR, MONITOR], ONE, TOOLS)
    assert step is not None
    assert step.tools == ("in_stock",)


def test_the_conversion_after_a_combination_converts_the_product() -> None:
    # three_step-05 of bench/agent_tasks.py converted the first figure, 34.9, and answered
    # 37.69 USD for four lamps with ok=True
    answer = (
        "- Step 1 (4 desk lamps, what's that going to be in US dollars?): 34.9\n"
        "- Step 2 (Calculate 34.9 * 4.): 139.6\n"
        "Answer: 139.6 EUR"
    )
    calls = [
        call("unit_price", 34.9, product="desk lamps"),
        call("calculator", 139.6, expression="34.9 * 4"),
    ]
    task = "4 desk lamps, what's that going to be in US dollars?"
    found = answered_in_another_unit(task, answer, calls, TOOLS)
    assert found == [{"word": "USD", "asked": "USD", "answered": "EUR", "figure": "139.6"}]


def test_the_lookup_s_call_is_made_as_the_plan_writes_it() -> None:
    from langgraph.runtime import Runtime

    from lamina.core.context import AgentContext, StaticModels
    from lamina.layers.execution import make_execution_node
    from lamina.models.testing import FakeChatModel

    step = lookup_step(SOLD, POINTS_TO_STOCK, [MONITOR], ONE, TOOLS)
    assert step is not None
    fake = FakeChatModel(responses=["There are 42."])  # the model only answers, after the call
    context = AgentContext(models=StaticModels({"fake": fake}), default_model="fake", tools=TOOLS)
    state = {
        "messages": [],
        "task": SOLD,
        "model": "fake",
        "trace": [],
        "plan": [ONE[0].to_dict(), step.to_dict()],
        "step_index": 1,
        "step_results": [{"index": 0, "instruction": SOLD, "result": "219", "tool_calls": []}],
    }
    update = make_execution_node()(state, Runtime(context=context))  # type: ignore[arg-type]
    (call,) = update["step_results"][-1]["tool_calls"]
    assert (call["name"], call["args"]) == (
        "in_stock",
        {"product": "the monitors in the warehouse"},
    )
    assert call["result"] == "42"


def test_a_value_looked_up_and_left_out_of_the_answer_s_arithmetic_is_unfinished() -> None:
    task = "Look up the unit price of the mug: I want 12 mugs."
    calls = [
        call("unit_price", 6.25, product="mug"),
        call("in_stock", 120, product="mug"),
        call("calculator", 132, expression="12 + 120"),
    ]
    found = left_out_values(task, "132", calls, TOOLS)
    assert found == [{"left_out": "6.25 EUR", "tool": "unit_price"}]
    error = judge_run({"task": task, "answer": "132", "unhandled": found})
    assert error is not None
    assert error.kind == "unfinished"
    assert "6.25 EUR" in error.message
    # the price is the answer, or went into the arithmetic: nothing left out
    assert left_out_values("How much is a mug?", "A mug costs 6.25 EUR.", calls[:1], TOOLS) == []
    used = [*calls[:2], call("calculator", 75, expression="6.25 * 12")]
    assert left_out_values(task, "75", used, TOOLS) == []
    # a count left out is the unused-input check's business (and a stock is no value)
    assert left_out_values(task, "6.25", calls[:2], TOOLS) == []
    # the same lookup twice is one value
    twice = left_out_values(task, "132", [calls[0], *calls], TOOLS)
    assert twice == [{"left_out": "6.25 EUR", "tool": "unit_price"}]


@tool
def star_rating(product: str) -> int:
    """The customers' rating of a product, from 1 to 5."""
    return 4


@tool
def total_sales(product: str) -> float:
    """Total sales in euros of a product this year."""
    return 8900.0


@tool
def quote(product: str, quantity: str) -> float:
    """Price in euros of an order of a product."""
    return 267.0


MORE = {**TOOLS, **{t.name: t for t in (star_rating, total_sales, quote)}}


@pytest.mark.parametrize(
    ("task", "calls"),
    [
        # the request asks for the parts: the value of one, or how many there are
        (
            "What is the price of a keyboard, and how many keyboards are in stock?",
            [PRICE, call("in_stock", 42, product="keyboard")],
        ),
        ("What is the price per keyboard if I order 3 keyboards?", [PRICE]),
        ("What does each keyboard cost if I buy 3 keyboards?", [PRICE]),
        # a figure that is not a count of keyboards
        ("What is the price of the 2nd keyboard?", [PRICE]),
        ("I have 2 keyboard covers. What does a keyboard cost?", [PRICE]),
        ("Order #12 keyboards: what does a keyboard cost?", [PRICE]),
        ("There is a 20 percent keyboard discount. What does a keyboard cost?", [PRICE]),
        ("I own 1,5 keyboards. What does a keyboard cost?", [PRICE]),
        (
            "What does a keyboard cost, and its rating?",
            [PRICE, call("star_rating", 4, product="k")],
        ),
        # not a value of one keyboard
        ("We sold 100 keyboards. Total sales?", [call("total_sales", 8900.0, product="keyboard")]),
        # the count went into the call, as a string
        (
            "Quote me 3 keyboards, please.",
            [call("quote", 267.0, product="keyboard", quantity="3")],
        ),
    ],
)
def test_no_product_where_the_figures_are_not_a_value_and_its_count(
    task: str, calls: list[dict[str, Any]]
) -> None:
    assert combination_step(task, calls, ONE, MORE) is None


def test_a_call_with_arguments_that_are_not_a_mapping_is_read_as_naming_nothing() -> None:
    odd = {"name": "unit_price", "args": "keyboard", "result": 89.0, "error": None}
    assert combination_step("3 keyboards?", [odd], ONE, TOOLS) is None


@pytest.mark.parametrize(("steps_taken", "owed"), [(2, False), (6, True)])
def test_a_product_the_step_budget_leaves_undone_makes_the_run_unfinished(
    steps_taken: int, owed: bool
) -> None:
    from types import SimpleNamespace

    from lamina.core.context import AgentContext, StaticModels
    from lamina.layers.reasoning import make_reasoning_node
    from lamina.models.testing import FakeChatModel

    task = "I want every mechanical keyboard you have in stock. What's the total cost?"
    stock = call("in_stock", 42, product="mechanical keyboard")
    state = {
        "task": task,
        "model": "fake",
        "plan": [{"index": 0, "instruction": task, "needs_tool": True}],
        "step_index": 1,
        "step_results": [
            {
                "index": 0,
                "instruction": task,
                "result": "42",
                "tool_calls": [PRICE, stock],
                "status": "ok",
            }
        ],
        "steps_taken": steps_taken,
    }
    fake = FakeChatModel(responses=[])
    context = AgentContext(models=StaticModels({"fake": fake}), default_model="fake", tools=TOOLS)
    update = make_reasoning_node(max_steps=6)(state, SimpleNamespace(context=context))
    if owed:  # no step is added: the answer stands, unfinished
        assert update["answer"] == "42"
        assert {"owed": "Calculate 89 * 42."} in update["unhandled"]
        error = judge_run({**state, **update})
        assert error is not None
        assert error.kind == "unfinished"
        assert "max_steps" in error.message
    else:  # the product is the next step, run by execution
        assert "answer" not in update
        assert update["plan"][-1]["instruction"] == "Calculate 89 * 42."


@pytest.mark.parametrize(
    ("answer", "figure"),
    [
        ("139.6 EUR (34.9 EUR each)", "139.6"),  # the line's figure before its aside
        ("- Step 1: 37.69 USD\n- Step 2: 139.6\nAnswer: 139.6 EUR", "139.6"),  # the last line
        ("- Step 1: 150.77 EUR\nAnswer: 150.77 USD", None),  # in the unit asked for
    ],
)
def test_the_figure_to_convert_is_the_answer_s_own(answer: str, figure: str | None) -> None:
    task = "4 desk lamps, what's that going to be in US dollars?"
    found = answered_in_another_unit(task, answer, [], TOOLS)
    assert [f["figure"] for f in found] == ([figure] if figure else [])
