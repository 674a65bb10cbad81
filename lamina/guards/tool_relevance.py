"""Tool relevance: how well each tool fits a request, by meaning.

A small model decides badly whether to call a tool at all: SmolLM2-135M calls one for nearly
every BFCL `irrelevance` question and now and then answers in prose when its one tool plainly
fits. The same sentence-transformers encoder the router uses compares the request with each
tool's name and description, and lamina acts on that evidence in three places:

* **planning** (:func:`lamina.guards.tool_shortlist.step_needs_tool`): a step whose best similarity
  reaches `fits_above` needs a tool even with no telling word in it, and a name word or a lookup
  word counts only when the similarity reaches `supports_above` (arithmetic and a tool named
  outright still count on their own: "What is 40 times 3?" is only 0.25 from the calculator);
* **execution**, first move of a step: when a tool fits, the model is not offered
  `final_answer` (``tool_choice="required"``) until a call has succeeded;
* **execution**, the tools offered first: when a tool fits, the tools far from the step (below
  `supports_above` and more than `margin` below the best) leave the first move's prompt.

The defaults were chosen on BFCL v4 cases that `bench/bfcl.py` does not report by default
(`simple_python` 100-399, `irrelevance` 50-239, `multiple` 50-199), with all-MiniLM-L6-v2:
a tool step when needed 0.943 (heuristics alone: 0.903), a correct "no tool" 0.742 (0.684); the
right function kept in all 150 `multiple` cases, with 1.46 tools offered first of 2.87.

A tool's name alone is scored too (`ToolFit.name_scores`): a step that asks for an amount and
gives no figure needs a tool whose name is close, and when no description fits, the tools with
the closest names are offered first. On the same cases: a correct "no tool" 0.721, the right
function kept in all 150 with 1.27 offered first; on the cases `bench/bfcl.py` reports
(`multiple` 0-49), kept in 49 of 50 (50 before), 2.18 offered of 2.54 (2.26).
"""

from __future__ import annotations

import re
import threading
from collections import OrderedDict
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from lamina.errors import ConfigError

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt

    from lamina.models.encoder import TextEncoder

__all__ = ["FITS_ABOVE", "SHORTLIST_MARGIN", "SUPPORTS_ABOVE", "ToolFit", "ToolRelevance"]

FITS_ABOVE = 0.45
"""Cosine similarity from which a tool fits a request on meaning alone."""

SUPPORTS_ABOVE = 0.30
"""Cosine similarity from which a tool-name or lookup word in a request counts as evidence."""

SHORTLIST_MARGIN = 0.05
"""When a tool fits, the tools within this much of the best one stay offered."""

_CACHE_SIZE = 4096


@dataclass(frozen=True)
class ToolFit:
    """How well each tool fits one request.

    Attributes:
        scores: cosine similarity of the request to each tool, by tool name, in the tools' order.
        name_scores: the same for each tool's name alone, in words.
        fits_above: the similarity from which a tool fits on meaning alone.
        supports_above: the similarity from which a name or lookup word counts.
        margin: how far below the best a tool may be and stay on the shortlist.
    """

    scores: Mapping[str, float]
    fits_above: float = FITS_ABOVE
    supports_above: float = SUPPORTS_ABOVE
    margin: float = SHORTLIST_MARGIN
    name_scores: Mapping[str, float] = field(default_factory=dict)

    @property
    def best_name(self) -> float:
        """The highest similarity of the request to a tool's name alone ("product price"; -1.0
        without them): "How much does the standing desk cost?" is 0.25 from `product_price`'s
        description and 0.37 from its name."""
        return max(self.name_scores.values(), default=-1.0)

    @property
    def best(self) -> float:
        """The highest similarity (-1.0 without tools)."""
        return max(self.scores.values(), default=-1.0)

    @property
    def fits(self) -> bool:
        """Some tool fits the request on meaning alone."""
        return self.best >= self.fits_above

    @property
    def supports(self) -> bool:
        """Some tool is close enough that a name or lookup word in the request counts."""
        return self.best >= self.supports_above

    def ranked(self) -> list[str]:
        """The tools, closest first (ties keep the tools' order).

        A small model favours the first tool it is shown: offered `convert_units` before
        `convert_currency` for "Convert 5,000 yen to pounds sterling", SmolLM2-135M called
        `convert_units` three times although `convert_currency` scored 0.64 against 0.35.
        """
        return sorted(self.scores, key=lambda name: -self.scores[name])

    def shortlist(self, named: Collection[str] = ()) -> list[str]:
        """The tools to offer first, closest first: all of them unless a tool fits; then those
        within `margin` of the best, those at least `supports_above` (a step may need two
        related tools) and those in `named` (a step that names a tool means it). When no tool
        fits but a tool's name alone is at least `supports_above` from the step, those within
        `margin` of the closest name (and those in `named`)."""
        if not self.fits and self.supports:
            # no description fits, but one is close: the closest first ("How many will be left
            # in stock?": stock_level 0.37, product_price 0.15; offered by name, SmolLM2-135M
            # looked up the price)
            floor = self.best - self.margin
            return [n for n in self.ranked() if self.scores[n] >= floor or n in named]
        if not self.fits and self.best_name >= self.supports_above:
            # no description fits, but a name is close ("How much is a teapot?": unit_price
            # 0.35, units_in_stock 0.17; offered both, SmolLM2-135M counted the teapots)
            floor = self.best_name - self.margin
            by_name = sorted(self.name_scores, key=lambda name: -self.name_scores[name])
            return [n for n in by_name if self.name_scores[n] >= floor or n in named]
        if not self.fits:
            return self.ranked()
        floor = min(self.best - self.margin, self.supports_above)
        return [name for name in self.ranked() if self.scores[name] >= floor or name in named]

    def tool_choice(self) -> Literal["required", "auto"]:
        """``"required"`` when a tool fits (no `final_answer` first), else ``"auto"``."""
        return "required" if self.fits else "auto"

    def to_dict(self) -> dict[str, Any]:
        """A JSON-safe summary for the trace."""
        return {
            "scores": {name: round(score, 4) for name, score in self.scores.items()},
            "best": round(self.best, 4),
            "fits": self.fits,
            "shortlist": self.shortlist(),
        }


class ToolRelevance:
    """Scores tools against requests with a sentence encoder; embeddings are cached.

    Args:
        encoder: any :class:`~lamina.models.encoder.TextEncoder` (default: the packaged
            all-MiniLM-L6-v2, loaded on first use).
        fits_above: see :data:`FITS_ABOVE`.
        supports_above: see :data:`SUPPORTS_ABOVE`; at most `fits_above`.
        margin: see :data:`SHORTLIST_MARGIN`.

    Raises:
        ConfigError: a threshold outside [-1, 1], `supports_above` > `fits_above`, or a
            negative margin.
    """

    def __init__(
        self,
        encoder: TextEncoder | None = None,
        *,
        fits_above: float = FITS_ABOVE,
        supports_above: float = SUPPORTS_ABOVE,
        margin: float = SHORTLIST_MARGIN,
    ) -> None:
        for what, value in (("fits_above", fits_above), ("supports_above", supports_above)):
            if not isinstance(value, int | float) or not -1.0 <= value <= 1.0:
                raise ConfigError(
                    f"Expected {what} to be a cosine similarity in [-1, 1], found {value!r}. "
                    f"Fix: pass a number such as {FITS_ABOVE}."
                )
        if supports_above > fits_above:
            raise ConfigError(
                f"Expected supports_above <= fits_above, found {supports_above} > {fits_above}. "
                "Fix: a word counts from a lower similarity than meaning alone does."
            )
        if not isinstance(margin, int | float) or margin < 0:
            raise ConfigError(
                f"Expected margin to be a number >= 0, found {margin!r}. Fix: pass e.g. "
                f"{SHORTLIST_MARGIN}."
            )
        self._encoder = encoder
        self.fits_above = float(fits_above)
        self.supports_above = float(supports_above)
        self.margin = float(margin)
        self._vectors: OrderedDict[str, npt.NDArray[np.float32]] = OrderedDict()
        self._lock = threading.Lock()

    @property
    def encoder(self) -> TextEncoder:
        """The encoder (the packaged default is loaded on first use)."""
        if self._encoder is None:
            from lamina.models.encoder import default_encoder

            self._encoder = default_encoder()
        return self._encoder

    def assess(self, text: str, tools: Sequence[Any] | Mapping[str, Any]) -> ToolFit:
        """How well each of `tools` fits `text`.

        Args:
            text: the request or plan step.
            tools: LangChain tools, OpenAI-format tool dicts or tool names (a mapping: its
                values, or its keys when the values are not tools).
        """
        described = _described(tools)
        if not described or not text.strip():
            return self._fit({name: -1.0 for name, _ in described})
        import numpy as np

        # Planning and execution both ask about the same step: its vector is cached like the tools'.
        query = self._vector(text)
        matrix = np.stack([self._vector(description) for _, description in described])
        names = np.stack([self._vector(description.split(":")[0]) for _, description in described])
        return self._fit(
            {name: float(s) for (name, _), s in zip(described, matrix @ query, strict=True)},
            {name: float(s) for (name, _), s in zip(described, names @ query, strict=True)},
        )

    def closest(self, what: str, values: Sequence[str], k: int) -> list[str]:
        """Up to `k` of `values`, closest in meaning to `what` (an argument's name and
        description) first, no two sharing a word; all of them when there are no more than
        `k`."""
        if len(values) <= k:
            return list(values)
        import numpy as np

        self._encode_batch(values)
        query = self._vector(what)
        scores = np.stack([self._vector(v) for v in values]) @ query
        order = sorted(range(len(values)), key=lambda i: (-float(scores[i]), i))
        # Distinct candidates: a span sharing a word with a closer one is skipped, so "Nice"
        # is not crowded out by "Paris", "Paris to", "from Paris" for a French city.
        chosen: list[str] = []
        taken: set[str] = set()
        for i in order:
            words = set(values[i].lower().split())
            if words & taken:
                continue
            chosen.append(values[i])
            taken |= words
            if len(chosen) == k:
                break
        return chosen

    def assess_each(
        self, texts: Sequence[str], tools: Sequence[Any] | Mapping[str, Any]
    ) -> list[ToolFit]:
        """`assess` for each of `texts` (a request's words, say), encoded in one batch."""
        self._encode_batch(texts)
        return [self.assess(text, tools) for text in texts]

    def _encode_batch(self, texts: Sequence[str]) -> None:
        """Cache the vectors of `texts` with one encode call for the new ones."""
        with self._lock:
            uncached = [t for t in dict.fromkeys(texts) if t not in self._vectors and t.strip()]
        if not uncached:
            return
        from lamina.models.encoder import encode_fast

        encoded = encode_fast(self.encoder, uncached)
        with self._lock:
            for text, vector in zip(uncached, encoded, strict=True):
                self._vectors[text] = vector
            while len(self._vectors) > _CACHE_SIZE:
                self._vectors.popitem(last=False)

    def _fit(self, scores: dict[str, float], names: dict[str, float] | None = None) -> ToolFit:
        return ToolFit(scores, self.fits_above, self.supports_above, self.margin, names or {})

    def _vector(self, text: str) -> npt.NDArray[np.float32]:
        with self._lock:
            cached = self._vectors.get(text)
            if cached is not None:
                self._vectors.move_to_end(text)
                return cached
        from lamina.models.encoder import encode_fast

        # The encoder's query path: the same vectors, without loading torch for one request.
        vector: npt.NDArray[np.float32] = encode_fast(self.encoder, [text])[0]
        with self._lock:
            self._vectors[text] = vector
            while len(self._vectors) > _CACHE_SIZE:
                self._vectors.popitem(last=False)
        return vector


def _described(tools: Sequence[Any] | Mapping[str, Any]) -> list[tuple[str, str]]:
    """(name, "name words: description") for each tool."""
    items: Sequence[Any]
    if isinstance(tools, Mapping):
        values = list(tools.values())
        items = values if values and not all(isinstance(v, str) for v in values) else list(tools)
    else:
        items = tools
    out: list[tuple[str, str]] = []
    for item in items:
        if isinstance(item, str):
            name, description = item, ""
        elif isinstance(item, Mapping):
            function = item.get("function", item)
            name, description = str(function.get("name", "")), str(function.get("description", ""))
        else:
            name = str(getattr(item, "name", item))
            description = str(getattr(item, "description", "") or "")
        words = " ".join(w for w in re.split(r"[_.\s]+|(?<=[a-z0-9])(?=[A-Z])", name) if w)
        out.append((name, f"{words}: {' '.join(description.split())}"))
    return out
