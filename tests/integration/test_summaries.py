"""Extractive summaries with the real encoder (all-MiniLM-L6-v2) on texts of lamina's own:
each keeps the text's key facts, is shorter, and holds only the text's sentences."""

from __future__ import annotations

import pytest

from lamina.layers.reasoning.summarise import extractive_summary

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
]


@pytest.mark.parametrize(("text", "facts"), TEXTS, ids=["council", "sales", "museum", "snow"])
def test_a_summary_keeps_the_key_facts(encoder, text: str, facts: tuple[str, ...]) -> None:  # type: ignore[no-untyped-def]
    summary = extractive_summary(text, encoder)
    assert len(summary.text) < len(text)
    assert summary.text.split(". ")[0] in text
    assert [f for f in facts if f not in summary.text.lower()] == []
