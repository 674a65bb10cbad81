"""Things a request coordinates ("a monitor, a webcam and a backpack", "desk lamps and
backpacks": lamina/guards/parts_left_out.py), the answer that lists the same lookup made for
each (lamina/layers/reasoning/lookup_answers.py), and the verdict that takes such a
list as using every figure it gives (lamina/guards/quantities.py's `ignored_values`)."""

from __future__ import annotations

from typing import Any

import pytest

from lamina.guards.parts_left_out import coordinated_with
from lamina.guards.quantities import ignored_values
from lamina.layers.reasoning.final_arithmetic import ADDED_FOR_NAME
from lamina.layers.reasoning.lookup_answers import lookups_listed
from lamina.layers.reasoning.plan import PlanStep
from lamina.tools.calculator import calculator
from tests.unit.shop_stubs import product_price

TOOLS = {t.name: t for t in (product_price, calculator)}


def call(name: str, result: Any, **args: Any) -> dict[str, Any]:
    return {"name": name, "args": args, "result": result, "error": None}


def price(product: str, euros: float) -> dict[str, Any]:
    return call("product_price", str(euros), product=product)


@pytest.mark.parametrize(
    ("request_text", "value", "others"),
    [
        ("How much are a monitor, a webcam and a backpack?", "webcam", ["monitor", "backpack"]),
        ("How much are a monitor, a webcam and a backpack?", "backpack", ["webcam"]),
        ("How much are a monitor, a webcam and a backpack?", "a monitor", ["webcam"]),
        ("How many desk lamps and backpacks are in stock?", "desk lamp", ["backpacks"]),
        ("How many desk lamps and backpacks are in stock?", "backpacks", ["desk lamps"]),
        ("Any batteries and cables left?", "battery", ["cables"]),
        # a bare singular, or a plural beside a verb, is no thing coordinated
        ("Look up keyboards and tell me the price.", "keyboard", []),
        ("Find the price of a webcam and tell me.", "webcam", []),
        ("the monitor price and shipping", "monitor", []),
    ],
)
def test_the_things_coordinated_with_a_value(
    request_text: str, value: str, others: list[str]
) -> None:
    assert coordinated_with(request_text, value) == others


def _step(index: int, **kw: Any) -> PlanStep:
    return PlanStep(index, f"step {index}", True, **kw)


def _result(index: int, *calls: dict[str, Any]) -> dict[str, Any]:
    return {"index": index, "instruction": f"step {index}", "result": "", "tool_calls": list(calls)}


ADDED = _step(1, added_for=ADDED_FOR_NAME, call=("product_price", "product", "backpack"))


def test_the_answer_lists_each_name_s_lookup() -> None:
    results = [_result(0, price("a phone case", 15.0)), _result(1, price("backpack", 59.9))]
    assert lookups_listed([_step(0), ADDED], results) == "phone case: 15.0; backpack: 59.9"


def test_a_result_that_names_its_thing_is_listed_as_it_is() -> None:
    weather = PlanStep(1, "w", True, added_for=ADDED_FOR_NAME, call=("weather", "city", "Oslo"))
    results = [
        _result(0, call("weather", "Lisbon: 21 °C", city="Lisbon")),
        _result(1, call("weather", "Oslo: -3 °C", city="Oslo")),
    ]
    assert lookups_listed([_step(0), weather], results) == "Lisbon: 21 °C; Oslo: -3 °C"


@pytest.mark.parametrize(
    "plan",
    [
        [_step(0), _step(1)],  # the last step was no lookup for another name
        [_step(0), ADDED, _step(2)],
    ],
)
def test_no_list_unless_the_plan_ends_with_a_name_s_lookup(plan: list[PlanStep]) -> None:
    results = [_result(i, price(f"thing {i}", float(i + 1))) for i in range(len(plan))]
    assert lookups_listed(plan, results) is None


def test_one_lookup_is_no_list() -> None:
    failed = {**price("backpack", 0.0), "error": "unknown product", "result": None}
    results = [_result(0, price("phone case", 15.0)), _result(1, failed)]
    assert lookups_listed([_step(0), ADDED], results) is None


REQUEST = "How much are a backpack and a phone case?"
LOOKUPS = [price("phone case", 15.0), price("backpack", 59.9)]


def test_a_listed_figure_is_used() -> None:
    answer = "- Step 1: 15.0\n- Step 2: 59.9\nAnswer: phone case: 15.0; backpack: 59.9"
    assert ignored_values(REQUEST, LOOKUPS, TOOLS, answer) == []


def test_a_figure_left_off_the_answer_s_line_is_ignored() -> None:
    answer = "- Step 1: 15.0\n- Step 2: 59.9\nAnswer: 59.9"
    found = ignored_values(REQUEST, LOOKUPS, TOOLS, answer)
    assert [(q.value, tool) for q, tool in found] == [(15.0, "product_price")]


def test_a_listed_figure_a_calculation_came_after_is_ignored() -> None:
    # the mug's price was looked up, then the count and the stock added: 6.25 went nowhere
    calls = [price("mug", 6.25), call("calculator", "132", expression="12 + 120")]
    answer = "Answer: mug: 6.25; total 132"
    found = ignored_values("Price of the mug: I want 12 mugs. Stock is 120.", calls, TOOLS, answer)
    assert [q.value for q, _ in found] == [6.25]
