"""The texts a request gives for a tool to work on (`lamina.guards.passages`)."""

from __future__ import annotations

from lamina.guards.grounding import Grounding
from lamina.guards.passages import given_passages, takes_a_text

TEXT = {"type": "string", "description": "the text to count."}


def test_a_passage_follows_an_instruction_s_colon_or_stands_in_quotes() -> None:
    assert given_passages(["Count the words in: the quick brown fox jumps"]) == [
        "the quick brown fox jumps"
    ]
    assert given_passages(["What would this cost: 'Our new range ships in May'?"]) == [
        "Our new range ships in May"
    ]
    # a quoted name is no passage, nor is a request without a colon or quotes
    assert given_passages(["How much is the 'desk lamp'?"]) == []
    assert given_passages(["How many words are in a haiku?"]) == []


def test_an_argument_that_takes_a_text_is_offered_the_passage_whole() -> None:
    assert takes_a_text("text", TEXT)
    assert not takes_a_text("city", {"type": "string", "description": "e.g. Lisbon"})
    schema = {"type": "object", "properties": {"text": TEXT}, "required": ["text"]}
    narrowed = Grounding.from_texts(["Count the words in: the quick brown fox jumps"]).narrow(
        schema
    )
    assert narrowed is not None
    # offered every span after a failure, SmolLM2-135M counted "jumps" (1 word, ok=True)
    assert narrowed["properties"]["text"]["enum"] == ["the quick brown fox jumps"]
    # no passage given: the argument stays free for its first move
    free = Grounding.from_texts(["How many words are in a haiku?"]).narrow(schema)
    assert free is not None
    assert "enum" not in free["properties"]["text"]


def test_a_passage_is_the_step_s_own_not_a_result_s() -> None:
    step = "Split the total 3 ways for me"
    assert Grounding.from_texts([step, "tip: 9.60, total: 73.60 and more"]).passages == ()
    assert Grounding.from_texts(["Count the words in: one two three"]).passages == (
        "one two three",
    )
