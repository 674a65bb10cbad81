"""Summaries for a "summarise" route: extractive, shorter than the text, only its sentences."""

from __future__ import annotations

import numpy as np
import pytest

from lamina.layers.reasoning.summarise import (
    extractive_summary,
    opens_contrast,
    requested_sentences,
    split_request,
)
from lamina.models.testing import HashingEncoder

TEXT = (
    "The city council met on Tuesday to discuss the new bicycle lanes. "
    "After a long debate, members voted to build two new lanes downtown next spring. "
    "The mayor thanked residents for their letters. Work starts in March and ends in June. "
    "Parking on Main Street will be reduced during the works. A bakery opened nearby."
)


def test_the_instruction_is_not_part_of_the_text() -> None:
    assert split_request("Summarise this: Rain fell. Roads flooded.") == "Rain fell. Roads flooded."
    assert split_request("Please give me a summary:\nRain fell.") == "Rain fell."
    asked = "Sum up this update in a sentence or two: Rain fell."  # nine words
    assert split_request(asked) == "Rain fell."
    plain = "Rain fell on Monday: roads flooded. Schools shut."
    assert split_request(plain) == plain  # a colon inside the text is not an instruction


def test_a_summary_is_shorter_and_made_of_the_texts_sentences() -> None:
    summary = extractive_summary(TEXT, HashingEncoder(dim=256))
    assert len(summary.text) < len(TEXT) / 2
    assert summary.sentences == 6
    assert len(summary.kept) == 2
    assert list(summary.kept) == sorted(summary.kept)
    for sentence in summary.text.split(". "):
        assert sentence.rstrip(".") in TEXT


class _Towards:
    """An encoder under which sentences mentioning 'lanes' agree with each other."""

    def encode(self, texts):
        return np.array([[1.0, 0.1] if "lane" in t.lower() else [0.1, 1.0] for t in texts])


def test_the_most_central_sentences_are_kept_in_order() -> None:
    text = "Lanes are coming. A bakery opened. The lanes cost little. New lanes open in May."
    summary = extractive_summary(text, _Towards())
    # two of four: the earliest two about lanes; the bakery, off-topic, goes though it is early
    assert summary.kept == (0, 2)
    assert summary.text == "Lanes are coming. The lanes cost little."


def test_position_breaks_the_tie_between_equally_central_sentences() -> None:
    text = "Lanes are coming. The lanes cost little. New lanes open in May."
    assert extractive_summary(text, _Towards()).kept == (0,)
    assert extractive_summary(text, _Towards(), position_weight=0.0).kept == (0,)  # stable
    last = "A bakery opened. A cafe opened. Lanes are coming."
    assert extractive_summary(last, _Towards(), position_weight=0.0).kept == (0,)
    assert extractive_summary(last, _Towards()).kept == (0,)


def test_a_single_sentence_is_returned_whole() -> None:
    summary = extractive_summary("Only one sentence here.", HashingEncoder(dim=64))
    assert summary.text == "Only one sentence here."
    assert summary.kept == (0,)


@pytest.mark.parametrize(
    ("instruction", "asked"),
    [
        ("Summarise these notes in a sentence or two:", 2),
        ("Sum this up in one sentence:", 1),
        ("Give me a one-line summary:", 1),
        ("In three sentences, what happened?", 3),
        ("Summarise in a couple of sentences:", 2),
        ("Two or three sentences, please:", 3),
        ("Summarise in 2 sentences:", 2),
        ("Give me a short summary of this:", None),
        ("Summarise this:", None),
        ("Summarise the three reports:", None),  # a count of other things, not of sentences
    ],
)
def test_the_length_a_request_asks_for_is_read(instruction: str, asked: int | None) -> None:
    assert requested_sentences(instruction) == asked


def test_a_summary_keeps_the_length_asked_for_and_stays_shorter() -> None:
    text = "Lanes are coming. A bakery opened. The lanes cost little. New lanes open in May."
    assert len(extractive_summary(text, _Towards(), sentences_asked=1).kept) == 1
    assert extractive_summary(text, _Towards(), sentences_asked=3).kept == (0, 2, 3)
    # more than the text has: one sentence fewer than the text, so it is still a summary
    assert len(extractive_summary(text, _Towards(), sentences_asked=9).kept) == 3


@pytest.mark.parametrize(
    ("sentence", "opens"),
    [
        ("But the battery barely lasts a day.", True),
        ("However, the air conditioning broke twice.", True),
        ("Unfortunately the lid no longer clicks shut.", True),
        ("Shop owners, though, complain about parking.", True),
        ("The changing rooms, however, are often dirty.", True),
        ("I am keeping it, but I wear earplugs.", False),  # a contrast inside the sentence
        ("Members can still book private tours.", False),
        ("Butter prices rose again.", False),
    ],
)
def test_a_contrast_is_read_from_how_the_sentence_opens(sentence: str, opens: bool) -> None:
    assert opens_contrast(sentence) is opens


def test_a_contrast_and_the_sentence_it_answers_are_kept_together() -> None:
    # under _Towards the lane sentences are the central ones; the contrast pair wins anyway
    text = "Lanes are coming. The lanes cost little. A bakery opened. But it closes early."
    assert extractive_summary(text, _Towards()).kept == (2, 3)
    assert extractive_summary(text, _Towards(), contrast_weight=0.0).kept == (0, 1)
