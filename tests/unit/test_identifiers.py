"""The identifier a request asks for from a text it gives (lamina/layers/reasoning/
identifiers.py), and the run that answers with it."""

from __future__ import annotations

import time

import pytest

from lamina.agents.result import StepOutcome
from lamina.layers.reasoning.identifiers import identifier_asked, identifier_update

EMAIL = (
    "Customer email below. What's the order number?\n\nHi team, my order #A-20931 arrived "
    "yesterday but the box was crushed. I paid 34.90 for it. Could you send a replacement to "
    "my new address, 12 Harbour Lane, Cork? Thanks, Declan"
)


@pytest.mark.parametrize(
    ("request_text", "answer"),
    [
        (EMAIL, "The order number is A-20931."),
        ("Invoice 2291 from Brightside Studio. What is the invoice number?", "2291"),
        ("What is my booking reference? Booking reference: XK42P. Seat 14C.", "XK42P"),
        ("Which ticket ID was it? I opened ticket T-4711 on Monday.", "The ticket ID is T-4711."),
        ("What's the order no.? Order no. 55120 ships today.", "The order number is 55120."),
    ],
)
def test_the_identifier_written_after_its_noun(request_text: str, answer: str) -> None:
    found = identifier_asked(request_text)
    assert found is not None
    assert answer in (found.answer(), found.value)


@pytest.mark.parametrize(
    "request_text",
    [
        "I placed the order 3 days ago. What's the order number?",  # a count, not an ID
        "Orders 12345 and 67890 shipped. What is the order number?",  # two of one shape
        "My order A-1 and order B-22 came. What's the order number?",  # two after the noun
        "What's the order number?",  # no text gives one
        "The order #A-20931 came broken. What should I do?",  # no identifier asked
        "Invoice 2291 was sent in 2026. What is the invoice number?",  # a year of its shape
    ],
)
def test_no_identifier(request_text: str) -> None:
    assert identifier_asked(request_text) is None


def test_the_run_answers_with_the_identifier_as_an_extract() -> None:
    update = identifier_update(EMAIL, time.perf_counter())
    assert update is not None
    assert update["answer"] == "The order number is A-20931."
    (result,) = update["step_results"]
    step = StepOutcome.from_state(result)
    assert (step.source, step.result, step.model) == ("extract", update["answer"], None)
    assert identifier_update("What is 12 times 7?", time.perf_counter()) is None
