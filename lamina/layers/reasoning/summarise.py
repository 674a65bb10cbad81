"""Summaries for a route whose task is "summarise": shorter than the text, and only its facts.

Measured on the demo's text and two more (a council vote, quarterly sales, museum hours):
Gemma 3 270M (a base model) under the solve prompt echoed the text whole (145 characters in, 145
out); under a three-example "Headline:" prompt it shortened two of three but changed the facts
("meets to discuss" for "voted to build"); under "TL;DR:" it invented facts in all three. A
135M-270M model cannot be trusted to summarise, so the summary is extractive, scored as MEAD
does (Radev et al., 2004: centroid plus position): each sentence's cosine similarity to the
mean of all of them (with the sentence-transformers encoder the router and memory use), plus a
position term that falls from the first sentence to the last (scaled to the best centroid
score), since notes, news and reviews say their point early. It keeps about a third of the
sentences, at least one and at least two of four or more, in their original order. Measured on
`bench/agent_tasks.py`'s three summaries and four texts of lamina's own: centroid alone kept
every key fact in 0 of 3 and 0 of 4; with the position term and two sentences of four, 2 of 3
and 4 of 4 (`tests/integration/test_summaries.py`). It is always shorter than a text of two
or more sentences and holds nothing the text does not say; a text of one sentence is returned
as it is, and the trace says so. A length the request asks for ("in a sentence or two", "in
three sentences", "in one line") is kept to instead: its upper bound, and always fewer
sentences than the text has (`requested_sentences`).

A sentence that opens a contrast ("But the battery barely lasts a day", "The changing rooms,
however, are often dirty") and the sentence it answers are both kept first: Edmundson's cue
method (1969), read from how a sentence opens (`opens_contrast`). Reviews and notices put their
point in such a pair (the pro and the con), while their first sentence is often only the
setting ("I've had this phone for three weeks now"). Measured by `bench/summaries.py` on 18
texts of lamina's own (10 used to build it, 8 held out; `bench/agent_tasks.py`'s tl;dr of a
review had been a held-out miss): every key fact kept, dev 6/10 → 9/10, held-out 2/8 → 5/8.
Without the term, centroid and position keep what the lead baseline (the first sentences)
keeps, on both splits.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from lamina.guards.passages import after_instruction
from lamina.layers.reasoning.one_step import answered_in_one_step

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt

__all__ = [
    "Summary",
    "SummaryEncoder",
    "extractive_summary",
    "opens_contrast",
    "requested_sentences",
    "sentences_of",
    "split_request",
    "summary_update",
]

_SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[\"'“(A-Z0-9])")


class SummaryEncoder(Protocol):
    """Turns texts into vectors (lamina's sentence-transformers `Encoder` is one)."""

    def encode(self, texts: Sequence[str]) -> npt.NDArray[np.float32]: ...


@dataclass(frozen=True)
class Summary:
    """A summary and how it was made.

    Attributes:
        text: the summary.
        sentences: how many sentences the text had.
        kept: the (0-based) sentences kept, in order.
    """

    text: str
    sentences: int
    kept: tuple[int, ...]

    def to_dict(self) -> dict[str, object]:
        return {
            "method": "extractive",
            "sentences": self.sentences,
            "kept": list(self.kept),
            "chars": len(self.text),
        }


_COUNTS = {"a": 1, "an": 1, "one": 1, "single": 1, "two": 2, "couple": 2, "three": 3, "few": 3}
_COUNT = r"(?:\d{1,2}|a|an|one|single|two|three|a\s+couple\s+of|a\s+few)"
_LENGTH = re.compile(
    rf"\b(?P<n>{_COUNT})(?:\s*-\s*|\s+)(?:sentences?|lines?|liners?)"
    rf"(?:\s+(?:or|to)\s+(?P<m>{_COUNT}))?\b"
    rf"|\b(?P<k>{_COUNT})\s+(?:or|to)\s+(?P<l>{_COUNT})\s+(?:sentences|lines)\b",
    re.IGNORECASE,
)


def requested_sentences(instruction: str) -> int | None:
    """How many sentences the instruction asks for at most ("in a sentence or two": 2, "in
    three sentences": 3, "a one-line summary": 1, "in 2-3 sentences": 3), or None
    when it asks for no length."""
    match = _LENGTH.search(instruction)
    if match is None:
        return None
    bounds = [_count(g) for g in match.group("n", "m", "k", "l") if g]
    return max(bounds) if bounds and all(b > 0 for b in bounds) else None


def _count(word: str) -> int:
    key = word.lower().split()[-2 if word.lower().endswith(" of") else -1]
    return int(key) if key.isdigit() else _COUNTS.get(key, 0)


def split_request(request: str) -> str:
    """The text to summarise: what follows a short instruction (up to 12 words and 60
    characters: "Summarise this: The ..."; the text starts a sentence or a line), else the
    whole request."""
    after = after_instruction(request)
    return request.strip() if after is None else after


POSITION_WEIGHT = 1.0
"""Weight of the position term against the centroid term (MEAD's default weights are equal)."""

CONTRAST_WEIGHT = 1.0
"""Weight of the contrast term (0 turns it off): a sentence that opens a contrast, and the one
before it, gain this share of the best other score, so the pair is kept before the rest."""

_CONTRAST = re.compile(
    r"^(?:but|however|yet|still|sadly|unfortunately|although|though|that said"
    r"|on the other hand)\b"
    r"|^[^,.;:]{1,40},\s*(?:though|however),",
    re.IGNORECASE,
)


def opens_contrast(sentence: str) -> bool:
    """Whether `sentence` answers the one before it with a contrast: it opens with a contrast
    connective ("But the battery ..."), or sets one after its subject ("Shop owners, though,
    ...")."""
    return _CONTRAST.search(sentence.strip()) is not None


def sentences_of(text: str) -> list[str]:
    """The sentences of `text`, split after ".", "!" or "?" where the next one starts."""
    return [s.strip() for s in _SENTENCE_END.split(text.strip()) if s.strip()]


def extractive_summary(
    text: str,
    encoder: SummaryEncoder,
    share: float = 1 / 3,
    position_weight: float = POSITION_WEIGHT,
    sentences_asked: int | None = None,
    contrast_weight: float = CONTRAST_WEIGHT,
) -> Summary:
    """The best sentences of `text` by centroid, position and contrast, in order:
    `sentences_asked` of them when given (fewer than the text has), else about `share` of them
    (at least one, and two of four or more)."""
    sentences = sentences_of(text)
    if len(sentences) <= 1:
        return Summary(text.strip(), len(sentences), (0,) if sentences else ())
    import numpy as np

    raw = np.asarray(encoder.encode(sentences), dtype=np.float64)
    norms = np.linalg.norm(raw, axis=1, keepdims=True)
    unit = raw / np.where(norms == 0, 1.0, norms)
    centrality = unit @ unit.mean(axis=0)
    n = len(sentences)
    position = np.array([(n - i) / n for i in range(n)])
    scores = centrality + position_weight * position * float(centrality.max())
    contrast = np.zeros(n)
    for i in range(1, n):
        if opens_contrast(sentences[i]):
            contrast[i - 1 : i + 1] = 1.0
    scores = scores + contrast_weight * contrast * float(scores.max())
    count = max(1, round(n * share), 2 if n >= 4 else 1)
    if sentences_asked is not None:
        count = max(1, min(sentences_asked, n - 1))
    # Stable: equal scores keep the earlier sentence.
    ranked = sorted(range(len(sentences)), key=lambda i: (-float(scores[i]), i))
    kept = tuple(sorted(ranked[:count]))
    return Summary(" ".join(sentences[i] for i in kept), len(sentences), kept)


def summary_update(task: str, start: float) -> dict[str, Any]:
    """The reasoning node's update for a "summarise" route: an extractive summary of the
    request's text as the answer (`start`: when the node began, for its trace event)."""
    from lamina.models.encoder import default_encoder

    text = split_request(task)
    asked = requested_sentences(task[: len(task) - len(text)]) if text != task.strip() else None
    summary = extractive_summary(text, default_encoder(), sentences_asked=asked)
    return answered_in_one_step(task, summary.text, start, "summary", summary.to_dict())
