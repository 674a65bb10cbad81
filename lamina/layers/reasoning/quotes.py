"""A question about a text the request gives, answered with the text's own sentences: the one
the encoder finds closest to the question, and the next closest when it is nearly as close.

"How many runners took part this year?" over a three-sentence race report: SmolLM2-135M gave
the report back whole; "When is the dentist appointment?" over a reminder: "I'm sorry for your
loss, but as a dental chatbot ...". Measured on 16 questions of lamina's own over short texts
(emails, notices, news; 8 used to build this, 8 held out) and the five questions over texts of
`bench/agent_tasks.py`, counting an answer right when it holds the fact asked for and is shorter
than the text:

| answered by | dev (8) | held-out (8) | bench (5) |
|---|---|---|---|
| SmolLM2-135M (the agent before this) | 1 | 4 | 3 |
| the closest sentence | 6 | 7 | 5 |
| + the next one within `MARGIN` | 8 | 7 | 5 |

Misses of the closest sentence alone were sentences that name the question's subject but not
its answer ("Hi all, the weekly sync moves this Thursday." for "Where is the meeting on
Thursday?"; the next sentence says "room 4B"). `MARGIN` was chosen on the dev questions only.

A quote is the text's own words, so it holds no figure the text does not; but nothing checks
that the sentences answer the question, so the run stays `unverified`, with a message that says
the answer is a quote. It applies only to a question (one that opens with a question word, or
"is/are/does/did/..."): "Can you translate this?" or "Rewrite this politely:" ask for a new
text. An agent that trusts its model (`trust_model_answers=True`) lets the model answer.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from lamina.layers.reasoning.one_step import answered_in_one_step
from lamina.layers.reasoning.plan import PlanStep
from lamina.layers.reasoning.summarise import SummaryEncoder, sentences_of

__all__ = ["MARGIN", "Quote", "question_about_text", "quote_for", "quote_update"]

MARGIN = 0.1
"""The next closest sentence is quoted too when its cosine similarity to the question is within
this of the closest one's (and the text has a sentence more to leave out)."""

_QUESTION = re.compile(
    r"^(?:[^?\n]*[.!]\s+)?(?P<q>(?:what|who|whom|whose|when|where|which|why|how"
    r"|is|are|was|were|does|do|did|has|have|had)\b[^?\n]*\?)\s*$",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class Quote:
    """The sentences of a text quoted as the answer to a question about it.

    Attributes:
        question: the question, as the request writes it.
        sentences: the quoted sentences, in the text's order.
        kept: their (0-based) positions in the text.
        total: how many sentences the text has.
    """

    question: str
    sentences: tuple[str, ...]
    kept: tuple[int, ...]
    total: int

    def answer(self) -> str:
        """The answer: the sentences, quoted ('The text says: "..."')."""
        return f'The text says: "{" ".join(self.sentences)}"'

    def to_dict(self) -> dict[str, Any]:
        """The quote for the trace and the step result."""
        return {"question": self.question, "kept": list(self.kept), "sentences": self.total}


def question_about_text(request: str) -> tuple[str, str] | None:
    """(question, text) when the request is a question on its own line with a text of two
    sentences or more after it (or before it, unless the request opens with an instruction
    such as "Write a reply to this email:"), else None.

    >>> question_about_text("Who won?\\n\\nRovers beat City 3-1. The return match is in March.")
    ('Who won?', 'Rovers beat City 3-1. The return match is in March.')
    >>> question_about_text("Can you translate this?\\n\\nIt rained. We stayed in.") is None
    True
    """
    lines = [line.strip() for line in request.strip().splitlines() if line.strip()]
    if len(lines) < 2:
        return None
    first = _QUESTION.match(lines[0])
    if first is not None:
        asked, text = first["q"], "\n".join(lines[1:])
    elif lines[0].endswith(":"):
        return None  # "Write a reply to this email:": the text's own questions are not asked
    else:
        last = _QUESTION.match(lines[-1])
        if last is None:
            return None
        asked, text = last["q"], "\n".join(lines[:-1])
    return (asked, text) if len(sentences_of(text)) >= 2 else None


def quote_for(question: str, text: str, encoder: SummaryEncoder) -> Quote:
    """The sentences of `text` closest to `question` (see the module docstring)."""
    import numpy as np

    sentences = sentences_of(text)
    raw = np.asarray(encoder.encode([question, *sentences]), dtype=np.float64)
    norms = np.linalg.norm(raw, axis=1, keepdims=True)
    unit = raw / np.where(norms == 0, 1.0, norms)
    scores = unit[1:] @ unit[0]
    # stable: equal scores keep the earlier sentence
    ranked = sorted(range(len(sentences)), key=lambda i: (-float(scores[i]), i))
    kept = [ranked[0]]
    if len(sentences) > 2 and scores[ranked[0]] - scores[ranked[1]] <= MARGIN:
        kept.append(ranked[1])
    chosen = tuple(sorted(kept))
    return Quote(question, tuple(sentences[i] for i in chosen), chosen, len(sentences))


def quote_update(
    task: str, plan: Sequence[PlanStep], start: float, encoder: SummaryEncoder | None = None
) -> dict[str, Any] | None:
    """The reasoning node's update when the plan is one step with no tool and the request asks
    a question about a text it gives (`start`: when the node began), else None."""
    if len(plan) != 1 or plan[0].needs_tool:
        return None
    asked = question_about_text(task)
    if asked is None:
        return None
    if encoder is None:
        from lamina.models.encoder import default_encoder

        encoder = default_encoder()
    quote = quote_for(*asked, encoder)
    return answered_in_one_step(task, quote.answer(), start, "quote", quote.to_dict())
