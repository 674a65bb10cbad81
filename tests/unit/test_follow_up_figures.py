"""What a follow-up may take from the thread's last answer: no step label's number
(lamina/core/text.py's `without_step_labels`), and no conversion of a figure into the unit it
is said to be in already (lamina/layers/execution/calls.py's `check_converts`)."""

from __future__ import annotations

import pytest
from langchain_core.tools import tool

from lamina.core.text import render_step_results, without_step_labels
from lamina.layers.execution.calls import CallError, check_converts


def test_step_labels_hold_no_figure() -> None:
    answer = render_step_results(
        [
            {"index": 0, "instruction": "price of a phone case", "result": "15.0"},
            {"index": 1, "instruction": "Calculate 15 * 3.", "result": "45"},
        ],
        header=False,
    )
    assert answer.startswith("- Step 1 (")
    kept = without_step_labels(f"{answer}\nAnswer: 45")
    assert kept == ("- (price of a phone case): 15.0\n- (Calculate 15 * 3.): 45\nAnswer: 45")
    # a request's own "Step 2" is left as it is
    assert without_step_labels("Step 2 of 5 is done.") == "Step 2 of 5 is done."


@tool
def convert_currency(amount: float, from_currency: str, to_currency: str) -> float:
    """Convert money between currencies.

    Args:
        amount: the amount.
        from_currency: the currency converted from, e.g. EUR.
        to_currency: the currency converted to, e.g. USD.
    """
    return amount


def test_a_conversion_into_its_own_unit_is_refused() -> None:
    with pytest.raises(CallError) as raised:
        check_converts(
            convert_currency, {"amount": 15, "from_currency": "USD", "to_currency": "dollars"}
        )
    assert raised.value.kind == "invalid_arguments"
    assert "from USD into USD converts nothing" in raised.value.error


def test_a_conversion_between_two_units_goes_ahead() -> None:
    check_converts(convert_currency, {"amount": 15, "from_currency": "EUR", "to_currency": "USD"})
