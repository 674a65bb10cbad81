"""The identifier a request asks for from a text it gives (:func:`identifier_asked`), read from
where it stands in the text, never by a model.

"Customer email below. What's the order number? Hi team, my order #A-20931 arrived yesterday
... send a replacement to my new address, 12 Harbour Lane, Cork?": SmolLM2-135M answered "The
order number is 12 Harbour Lane, Cork." The question names what the identifier belongs to
("order") and what it is ("number", "ID", "code", "reference"); the text writes the identifier
right after that word ("order #A-20931", "Invoice 2291", "booking reference: XK42P"). It holds
a digit and is not a small count ("the order 3 days ago": a bare number needs four digits, or
a "#", "number" or ":" before it). Exactly one such identifier is the answer; none, two
different ones, or another token of the same shape in the text ("Orders 12345 and 67890")
leave the question to the model, whose answer the verdict marks unchecked.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from lamina.layers.reasoning.one_step import answered_in_one_step

__all__ = ["Identifier", "identifier_asked", "identifier_update"]

_KIND = r"(?:number|no|id|code|reference|ref)\b\.?"
_ASKED = re.compile(
    r"\b(?:what|which)(?:'s|\s+is|\s+was|\s+are|\s+were)?\s+"
    r"(?:(?:the|my|our|their|his|her|its|this|that|your)\s+)?"
    rf"(?P<noun>[^\W\d_]+)\s+(?P<kind>{_KIND})[^.?!\n]*\?",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class Identifier:
    """An identifier a request's text gives for the question it asks.

    Attributes:
        noun: what it belongs to, as the question writes it ("order").
        kind: what it is ("number", "ID", "code").
        value: the identifier as the text writes it, without a leading "#" ("A-20931").
    """

    noun: str
    kind: str
    value: str

    def answer(self) -> str:
        """The answer's sentence ("The order number is A-20931.")."""
        return f"The {self.noun.lower()} {self.kind} is {self.value}."


def identifier_asked(request: str) -> Identifier | None:
    """The identifier the request asks for, when its text gives exactly one (see the module
    docstring), else None.

    >>> identifier_asked("What's the order number? My order #A-20931 came broken.").value
    'A-20931'
    >>> identifier_asked("I placed the order 3 days ago. What's the order number?") is None
    True
    """
    asked = _ASKED.search(request)
    if asked is None:
        return None
    noun = re.escape(asked["noun"])
    text = request[: asked.start()] + " " + request[asked.end() :]
    written = re.compile(
        rf"\b{noun}s?\s*(?P<named>{_KIND})?\s*(?P<mark>[:#]|\bis\b|\bwas\b)?\s*"
        r"(?P<hash>#)?(?P<id>[A-Za-z0-9][\w/-]*)",
        re.IGNORECASE,
    )
    found = {
        m["id"].rstrip("-/")
        for m in written.finditer(text)
        if _an_identifier(m["id"].rstrip("-/"), bool(m["named"] or m["mark"] or m["hash"]))
    }
    if len(found) != 1:
        return None
    value = found.pop()
    if any(t != value and _shape(t) == _shape(value) for t in re.findall(r"[\w/-]+", text)):
        return None  # "Orders 12345 and 67890 shipped": another of the same shape
    kind = asked["kind"].lower().rstrip(".")
    kind = {"no": "number", "id": "ID", "ref": "reference"}.get(kind, kind)
    return Identifier(asked["noun"], kind, value)


def _shape(token: str) -> str:
    """A token's shape: each digit as 9, each letter as A ("A-20931" → "A-99999")."""
    return re.sub(r"[^\W\d_]", "A", re.sub(r"\d", "9", token))


def _an_identifier(token: str, marked: bool) -> bool:
    """Does `token` read as an identifier: a digit in it, three characters or more, and a bare
    number only with four digits or a mark before it?"""
    if not any(ch.isdigit() for ch in token) or len(token) < 3:
        return False
    return marked or not token.isdigit() or len(token) >= 4


def identifier_update(task: str, start: float) -> dict[str, Any] | None:
    """The reasoning node's update when the request asks for an identifier its text gives
    (`start`: when the node began, for its trace event), else None."""
    found = identifier_asked(task)
    if found is None:
        return None
    extracted = {"noun": found.noun, "kind": found.kind, "value": found.value}
    return answered_in_one_step(task, found.answer(), start, "extracted", extracted)
