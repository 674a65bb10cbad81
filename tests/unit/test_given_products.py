"""A value of one thing and a count of those things that the request gives itself ("Each ticket
costs 12 EUR. What do 5 tickets cost?"): read from the sentence (lamina.guards.request_quantities),
planned as their product before anything else (lamina.layers.reasoning.combination's
`planned_product`), and answered with the product's unit."""

from __future__ import annotations

from typing import Any

import pytest
from langchain_core.tools import tool

from lamina.guards.request_quantities import request_quantities
from lamina.guards.tool_relevance import ToolFit
from lamina.guards.unfinished import unhandled
from lamina.layers.reasoning.answer import final_answer
from lamina.layers.reasoning.given_figures import planned_product
from lamina.layers.reasoning.plan import PlanStep
from lamina.layers.reasoning.prompts import load_prompts
from lamina.layers.reasoning.rc_loop import Tally
from lamina.models.testing import FakeChatModel
from lamina.tools.calculator import calculator


@tool
def convert(value: float, from_unit: str, to_unit: str) -> float:
    """Convert a weight between units."""
    return value


@tool
def postage(weight_kg: float, zone: str) -> float:
    """Price in euros of sending one parcel."""
    return 7.1


@tool
def unit_price(item: str) -> float:
    """Look up the unit price in euros of an item in the shop."""
    return 6.25


TOOLS = {t.name: t for t in (convert, postage, unit_price, calculator)}


def fit(best: str | None) -> ToolFit | None:
    """A fit whose best tool is `best` (fits on meaning), or one where nothing fits."""
    scores = {name: (0.6 if name == best else 0.1) for name in TOOLS}
    return ToolFit(scores)


@pytest.mark.parametrize(
    ("task", "value", "unit", "thing"),
    [
        ("A bag of my coffee is 12 oz. How many grams are in 4 bags?", 12, "oz", "bag"),
        ("Each ticket costs 12 EUR. What do 5 tickets cost?", 12, "EUR", "ticket"),
        ("Tickets are 8.5 dollars each. How much for 4 tickets?", 8.5, "USD", "ticket"),
        ("Tickets are 12 EUR each and I need 5 tickets.", 12, "EUR", "ticket"),
        ("One large pizza costs 11.50 dollars, we want 3 pizzas", 11.5, "USD", "pizza"),
    ],
)
def test_a_value_one_thing_is_said_to_have_is_read_with_the_thing(
    task: str, value: float, unit: str, thing: str
) -> None:
    values = [q for q in request_quantities(task) if q.unit is not None]
    assert [(q.value, q.unit.name if q.unit else None, q.per) for q in values] == [
        (value, unit, frozenset({thing}))
    ]


@pytest.mark.parametrize(
    "task",
    [
        "My parcel weighs 3 kg. What does sending it cost?",  # the parcel: no one of several
        "The bill is 40 EUR for 3 people.",
        "I paid 12 EUR for the tickets.",
    ],
)
def test_a_figure_of_a_particular_thing_is_no_value_of_one(task: str) -> None:
    assert all(not q.per for q in request_quantities(task) if q.unit is not None)


def test_the_product_the_request_gives_is_planned_first() -> None:
    task = "A bag of my coffee is 12 oz. How many grams are in 4 bags?"
    step = planned_product(task, fit("convert"), TOOLS)
    assert step is not None
    assert (step.index, step.instruction, step.tools) == (0, "Calculate 12 * 4.", ("calculator",))
    assert step.unit == "ounces"  # the answer says "48 ounces", and a conversion into grams follows
    # a lookup that fits has nothing left to do: the request gives the value
    ticket = planned_product(
        "Each ticket costs 12 EUR. What do 5 tickets cost?", fit("unit_price"), TOOLS
    )
    assert ticket is not None
    assert ticket.instruction == "Calculate 12 * 5."
    assert (
        planned_product("Each ticket costs 12 EUR. What do 5 tickets cost?", None, TOOLS)
        is not None
    )


def test_no_product_is_planned_where_it_is_not_the_only_reading() -> None:
    # a tool that takes a number fits: three parcels of 2 kg are not one parcel of 6 kg
    parcels = "Each parcel weighs 2 kg. What does sending 3 parcels cost?"
    assert planned_product(parcels, fit("postage"), TOOLS) is None
    # the request asks for the count, or for the value of one
    assert planned_product("A bag is 12 oz. How many bags are in 48 oz?", None, TOOLS) is None
    # a temperature of one thing times a count is no quantity
    assert planned_product("Each cup is 80 C. What about 3 cups?", None, TOOLS) is None
    # two values of one bag: which one to multiply is open
    two = "A bag is 12 oz and costs 8 EUR. What about 4 bags?"
    assert planned_product(two, None, TOOLS) is None
    # a count of other things
    assert planned_product("Each ticket costs 12 EUR. We are 5 friends.", None, TOOLS) is None
    # without the calculator there is no step to plan
    no_calculator = {k: v for k, v in TOOLS.items() if k != "calculator"}
    assert (
        planned_product("Each ticket costs 12 EUR. What do 5 tickets cost?", None, no_calculator)
        is None
    )


def _answer(plan: list[PlanStep], results: list[dict[str, Any]]) -> str:
    return final_answer(
        "task", plan, results, FakeChatModel(responses=[]), None, Tally(), {}, load_prompts()
    )


def test_a_planned_step_s_figure_is_answered_in_its_unit() -> None:
    step = PlanStep(0, "Calculate 2 * 5.", True, tools=("calculator",), unit="lb")
    done = {"name": "calculator", "args": {"expression": "2 * 5"}, "result": "10", "error": None}
    result = {"index": 0, "result": "The final answer is 10.", "tool_calls": [done]}
    assert _answer([step], [result]) == "10 lb"
    # without a unit, or when the call failed, the step's own text stays the answer
    assert _answer([PlanStep(0, "Calculate 2 * 5.", True)], [result]) == "The final answer is 10."
    failed = {
        **result,
        "status": "failed",
        "tool_calls": [{**done, "error": "boom", "result": None}],
    }
    assert _answer([step], [failed]) == "The final answer is 10."


def test_the_verb_that_states_a_used_figure_is_accounted_for() -> None:
    task = "Each ticket costs 12 EUR. What do 5 tickets cost?"

    def words(expression: str) -> list[str]:
        done = [{"name": "calculator", "args": {"expression": expression}, "error": None}]
        return [f["word"] for f in unhandled(task, done, TOOLS, _Close())]

    assert "costs" not in words("12 * 5")
    assert "costs" in words("3 * 5")  # 12 went into no call: "costs" still points to a lookup


class _Close:
    """A tool weigher under which every word is close to `unit_price`."""

    supports_above = 0.3

    def assess_each(self, texts: Any, tools: Any) -> list[ToolFit]:
        return [
            ToolFit({name: (0.9 if name == "unit_price" else 0.0) for name in tools}) for _ in texts
        ]


def test_no_product_after_the_fact_while_a_tool_that_takes_a_number_awaits() -> None:
    from lamina.layers.reasoning.owed_steps import step_still_owed

    task = "Each parcel weighs 2 kg. What does sending 3 parcels cost?"
    # the model converted 2 kg to kg: a value of one parcel, and 3 parcels unused
    calls = [
        {
            "name": "convert",
            "args": {"value": 2, "from_unit": "kg", "to_unit": "kg"},
            "result": 2.0,
            "error": None,
        }
    ]
    plan = [PlanStep(0, task, True)]
    assert step_still_owed(task, calls, [], plan, TOOLS, fit=fit("postage")) is None
    # where nothing fits, the product is what is left
    owed = step_still_owed(task, calls, [], plan, TOOLS, fit=fit(None))
    assert owed is not None
    assert owed.instruction == "Calculate 2 * 3."


@pytest.mark.parametrize(
    ("task", "instruction", "unit"),
    [
        (
            "I run 5 km every day. How many miles is that in a week?",
            "Calculate 5 * 7.",
            "kilometres",
        ),
        (
            "I'm paid 3,200 USD a month. What's that per year in euros?",
            "Calculate 3200 * 12.",
            "USD",
        ),
        ("I earn 48000 EUR a year. How much is that per month?", "Calculate 48000 / 12.", "EUR"),
        ("I run 5 km every day. How far is that in one week?", "Calculate 5 * 7.", "kilometres"),
        (
            "My dog eats 300 g of food every day. How much in a week?",
            "Calculate 300 * 7.",
            "grammes",
        ),
        (
            "I drink 2 litres of water a day. How much is that per week?",
            "Calculate 2 * 7.",
            "litres",
        ),
    ],
)
def test_a_rate_per_period_is_turned_into_the_period_asked_about(
    task: str, instruction: str, unit: str
) -> None:
    step = planned_product(task, None, TOOLS)
    assert step is not None
    assert (step.instruction, step.unit, step.tools) == (instruction, unit, ("calculator",))


@pytest.mark.parametrize(
    "task",
    [
        "My rent is 900 EUR a month.",  # no other period asked about
        "I run 5 km every day and rest one day a week. How far in a week?",  # not 7 days of 5 km
        "I earn 15 EUR an hour and work 8 hours a day. What is that in a week?",  # two rates
        "I pay 900 EUR a month. What is that per day?",  # months have no fixed number of days
        "It is 20 C every day. What about a week?",  # a temperature is no rate
        "I bought 300 g of a special blend. What is that in a week?",  # no rate: "of a special"
        # money per hour, day or week: working time, not calendar time
        "I earn 25 USD an hour. How much in a week?",
        "I earn 200 USD a day. How much a week?",
        "We spend 60 EUR a week on food. What is that in a day?",
        # the request says more than the rate
        "Netflix costs 15 USD a month. How much a year if I cancel for the summer?",
        "The gym is 40 USD a month but the first month is free. What is that a year?",
        "I earn 60,000 USD a year. How much is that a month after tax?",
        "I save 200 EUR a month. How long until I have a year's rent?",
    ],
)
def test_no_period_step_where_the_periods_do_not_fix_it(task: str) -> None:
    assert planned_product(task, None, TOOLS) is None


@pytest.mark.parametrize(
    "task",
    [
        # another figure the product would leave out
        "Each ticket costs 12 EUR. Students get 25% off. What do 4 student tickets cost?",
        "Each ticket costs 12 EUR plus a 2 EUR booking fee. What do 4 tickets cost?",
        "I have 50 EUR. How much is left after buying 3 tickets at 12 EUR each?",
        "Each apple costs 0.50 EUR and each pear 0.80 EUR. What do 10 apples and 3 pears cost?",
        "A room costs 80 EUR a night. How much for 2 rooms for 3 nights?",
        # a count that is a rate, a unit that is two, another kind of the thing
        "A bag of coffee is 12 oz. I use 3 bags a month. How much is that?",
        "Each shirt is 20 pounds. How much for 3 shirts?",
        "Adult tickets cost 12 EUR each. How much are 3 child tickets?",
        "A large pizza is 15 USD. How much are 3 small pizzas?",
        # the unit asked for is of another dimension
        "An apple weighs 150 g. How much do 6 apples cost?",
        "Each bag costs 8 EUR. How many kg are 4 bags?",
    ],
)
def test_no_product_where_the_request_says_more_than_the_product(task: str) -> None:
    assert planned_product(task, None, TOOLS) is None


def test_a_tool_that_takes_a_number_and_fits_nearly_as_well_blocks_the_product() -> None:
    task = "Each parcel weighs 2 kg. What do 3 parcels weigh?"
    scores = {"unit_price": 0.50, "postage": 0.48, "convert": 0.1, "calculator": 0.1}
    assert planned_product(task, ToolFit(scores), TOOLS) is None  # postage within the margin
    scores["postage"] = 0.2
    assert planned_product(task, ToolFit(scores), TOOLS) is not None


def test_the_clause_that_states_a_used_rate_is_accounted_for() -> None:
    task = "I'm paid 3,200 USD a month. What's that per year in euros?"

    def words(expression: str) -> list[str]:
        done = [{"name": "calculator", "args": {"expression": expression}, "error": None}]
        return [f["word"] for f in unhandled(task, done, TOOLS, _Close())]

    assert "paid" not in words("3200 * 12")
    assert "paid" in words("12 * 12")  # the rate went into no call: "paid" is still open
