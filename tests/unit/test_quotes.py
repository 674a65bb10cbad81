"""A question about a text the request gives, answered with the text's own sentences
(lamina/layers/reasoning/quotes.py), and the verdict on such a run."""

from __future__ import annotations

import time
from collections.abc import Sequence

import numpy as np
import numpy.typing as npt
import pytest

from lamina.agents.result import StepOutcome
from lamina.agents.verdict import judge_run
from lamina.layers.reasoning.plan import PlanStep
from lamina.layers.reasoning.quotes import question_about_text, quote_for, quote_update

NOTICE = (
    "Hi all, the weekly sync moves this Thursday. We will meet in room 4B. Please bring your "
    "laptops. Coffee will be provided."
)


class WordEncoder:
    """One axis per listed word: a text's vector counts the words it holds (a test double)."""

    def __init__(self, words: Sequence[str]) -> None:
        self.words = [w.lower() for w in words]

    def encode(self, texts: Sequence[str]) -> npt.NDArray[np.float32]:
        rows = [[t.lower().count(w) for w in self.words] + [0.01] for t in texts]
        return np.asarray(rows, dtype=np.float32)


@pytest.mark.parametrize(
    ("request_text", "question"),
    [
        (f"Where is the meeting on Thursday?\n\n{NOTICE}", "Where is the meeting on Thursday?"),
        (f"Email below. Who is bringing coffee?\n{NOTICE}", "Who is bringing coffee?"),
        (f"{NOTICE}\n\nwhen is the sync?", "when is the sync?"),
        (f"Here is a notice from work.\n{NOTICE}\nIs there coffee?", "Is there coffee?"),
    ],
)
def test_a_question_on_its_own_line_about_the_text(request_text: str, question: str) -> None:
    found = question_about_text(request_text)
    assert found is not None
    assert found[0] == question
    assert "room 4B" in found[1]
    assert question not in found[1]


@pytest.mark.parametrize(
    "request_text",
    [
        f"Can you translate this into French?\n\n{NOTICE}",  # asks for a new text
        f"Rewrite this more politely:\n\n{NOTICE}\nWhere is it?",  # an instruction first
        "Where is the meeting?\n\nIn room 4B.",  # a text of one sentence
        "Where is the meeting on Thursday? Hi all, we meet in room 4B. Bring laptops.",  # one line
        f"Summarise this:\n\n{NOTICE}",  # no question
    ],
)
def test_no_question_about_a_text(request_text: str) -> None:
    assert question_about_text(request_text) is None


def test_the_closest_sentence_is_quoted() -> None:
    quote = quote_for(
        "How many signatures?",
        "It rained. We got 40 signatures. We went home.",
        WordEncoder(["signatures", "rained", "home"]),
    )
    assert quote.sentences == ("We got 40 signatures.",)
    assert quote.answer() == 'The text says: "We got 40 signatures."'
    assert (quote.kept, quote.total) == ((1,), 3)


class TableEncoder:
    """The vector given for each text (a test double)."""

    def __init__(self, table: dict[str, tuple[float, float]]) -> None:
        self.table = table

    def encode(self, texts: Sequence[str]) -> npt.NDArray[np.float32]:
        return np.asarray([self.table[t] for t in texts], dtype=np.float32)


QUESTION = "Where is the meeting on Thursday?"
MOVES, ROOM, LAPTOPS = "The sync moves to Thursday.", "We meet in room 4B.", "Bring laptops."


@pytest.mark.parametrize(
    ("room", "kept"),
    [
        ((0.93, 0.37), (0, 1)),  # cos 0.93: within MARGIN of the closest (1.0)
        ((0.85, 0.53), (0,)),  # cos 0.85: further than MARGIN
    ],
)
def test_the_next_sentence_is_quoted_too_when_nearly_as_close(
    room: tuple[float, float], kept: tuple[int, ...]
) -> None:
    table = {QUESTION: (1.0, 0.0), MOVES: (1.0, 0.0), ROOM: room, LAPTOPS: (0.0, 1.0)}
    quote = quote_for(QUESTION, f"{MOVES} {ROOM} {LAPTOPS}", TableEncoder(table))
    assert quote.kept == kept
    assert quote.sentences == tuple((MOVES, ROOM, LAPTOPS)[i] for i in kept)


def test_the_quoted_sentences_keep_the_texts_order() -> None:
    table = {QUESTION: (1.0, 0.0), MOVES: (0.95, 0.31), ROOM: (1.0, 0.0), LAPTOPS: (0.0, 1.0)}
    quote = quote_for(QUESTION, f"{MOVES} {ROOM} {LAPTOPS}", TableEncoder(table))
    assert quote.answer() == f'The text says: "{MOVES} {ROOM}"'


def test_a_text_of_two_sentences_is_never_quoted_whole() -> None:
    encoder = WordEncoder(["meeting"])
    quote = quote_for("Which meeting?", "The meeting is on. The meeting is in 4B.", encoder)
    assert len(quote.sentences) == 1


def test_the_run_answers_with_the_quote_and_is_unverified() -> None:
    task = f"Where is the meeting on Thursday?\n\n{NOTICE}"
    encoder = WordEncoder(["meet", "room", "laptops", "coffee"])
    plan = [PlanStep(index=0, instruction=task, needs_tool=False)]
    update = quote_update(task, plan, time.perf_counter(), encoder)
    assert update is not None
    assert "room 4B" in update["answer"]
    (result,) = update["step_results"]
    step = StepOutcome.from_state(result)
    assert (step.source, step.result, step.model) == ("quote", update["answer"], None)
    error = judge_run({"task": task, "answer": update["answer"], **update})
    assert error is not None
    assert error.kind == "unverified"
    assert "quotes the sentences of the request's text" in error.message


def test_a_plan_with_a_tool_step_is_left_to_the_tools() -> None:
    task = f"How many words are in this?\n\n{NOTICE}"
    plan = [PlanStep(index=0, instruction=task, needs_tool=True)]
    assert quote_update(task, plan, time.perf_counter(), WordEncoder(["room"])) is None
    two = [
        PlanStep(index=0, instruction="a", needs_tool=False),
        PlanStep(index=1, instruction="b", needs_tool=False),
    ]
    assert quote_update(task, two, time.perf_counter(), WordEncoder(["room"])) is None
