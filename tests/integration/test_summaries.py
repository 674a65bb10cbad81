"""Extractive summaries with the real encoder (all-MiniLM-L6-v2) on texts of lamina's own:
each keeps the text's key facts, is shorter, and holds only the text's sentences."""

from __future__ import annotations

import time

import pytest

from lamina.layers.reasoning.summarise import extractive_summary, split_request, summary_update

TEXTS = [
    (
        "The city council voted on Tuesday to build a new public library on Elm Street. "
        "Construction starts in May and should take two years. The old library will stay open "
        "until then. Residents can comment on the design online until March.",
        ("council", "library"),
    ),
    (
        "Our quarterly sales rose 12 percent, driven mostly by the new garden range. Online "
        "orders now make up half of all sales. The Leeds shop will close in June because its "
        "lease ends. Staff there will move to the Bradford branch.",
        ("sales", "12"),
    ),
    (
        "The museum will be closed on Mondays from next month to save energy. Opening hours on "
        "other days stay the same. Members can still book private tours on Mondays. Tickets "
        "bought for a Monday will be refunded.",
        ("museum", "closed", "mondays"),
    ),
    (
        "Heavy snow is expected across the north tonight, with up to 20 cm on high ground. "
        "Schools in three districts will open two hours late tomorrow. Drivers are asked to "
        "avoid the mountain pass. Gritters have been out since noon.",
        ("snow", "20"),
    ),
    (
        "We stayed at the hotel for four nights in July. The room was spacious and the breakfast "
        "was excellent. However, the air conditioning broke twice and nobody came to fix it. I "
        "would not stay here again in summer.",
        ("breakfast", "air conditioning"),
    ),
    (
        "I've used this kettle every day since January. It boils quickly and looks great on the "
        "counter. Unfortunately the lid no longer clicks shut and steam escapes from the side. "
        "For forty pounds I expected it to last longer.",
        ("boils", "lid"),
    ),
]


@pytest.mark.parametrize(
    ("text", "facts"), TEXTS, ids=["council", "sales", "museum", "snow", "hotel", "kettle"]
)
def test_a_summary_keeps_the_key_facts(encoder, text: str, facts: tuple[str, ...]) -> None:  # type: ignore[no-untyped-def]
    summary = extractive_summary(text, encoder)
    assert len(summary.text) < len(text)
    assert summary.text.split(". ")[0] in text
    assert [f for f in facts if f not in summary.text.lower()] == []


ASKED = [
    (
        "Sum up this update in a sentence or two:\n\n"
        "The bakery on Mill Road reopens on Saturday after six weeks of repairs to its oven. "
        "Anna Kowalski, the new head baker, will run the morning shift and bring back rye bread. "
        "Parking nearby is free before nine.",
        2,
        ("bakery", "saturday", "anna"),
    ),
    (
        "Give me this in one sentence: The ferry to the island is cancelled tomorrow because of "
        "storm warnings. Ticket holders get a full refund. The next crossing leaves on Thursday "
        "at 7.",
        1,
        ("ferry", "cancelled"),
    ),
]


@pytest.mark.parametrize(("task", "kept", "facts"), ASKED, ids=["two", "one"])
def test_a_summary_is_as_long_as_the_request_asks(  # type: ignore[no-untyped-def]
    encoder, task: str, kept: int, facts: tuple[str, ...]
) -> None:
    update = summary_update(task, time.perf_counter())
    summary = update["trace"][0]["data"]["summary"]
    assert (summary["sentences"], len(summary["kept"])) == (3, kept)
    assert [f for f in facts if f not in update["answer"].lower()] == []
    assert len(update["answer"]) < len(split_request(task))
