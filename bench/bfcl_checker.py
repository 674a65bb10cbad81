"""An AST-style checker for BFCL answers, written from the rules in ../shared/bench/README.md.

A model's output for one case is a list of calls, each ``{"name": str, "args": dict}``. A case's
ground truth is a list of expected calls ``{function_name: {param: [allowed values...]}}``:

* a value list containing ``""`` means the parameter is optional (it may be left out);
* strings compare case-insensitively after removing spaces and ``,./-_*^`` (and with ``'`` read
  as ``"``);
* an int is accepted where the schema expects a float (never a bool: ``True`` is no number);
* lists compare element by element, dicts key by key (a dict's allowed values are themselves
  ``{key: [allowed values...]}``), each element or value by the same rules;
* the number of calls must equal the number of expected calls, and parallel calls match in any
  order (each expected call to a distinct actual call);
* ``irrelevance`` cases have no answer: a case passes only when the model makes no call.

Besides the ground truth, the function schemas (the case's ``function`` list) give each
parameter's type, which is checked too, and its ``required`` list: a required parameter left
out is wrong even when the ground truth would allow it.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

__all__ = ["CheckResult", "check_case", "check_irrelevance", "standardise"]

_STRIP = re.compile(r"[ ,./\-_*^]")

_PY_TYPES: dict[str, tuple[type, ...]] = {
    "string": (str,),
    "integer": (int,),
    "float": (float, int),
    "number": (float, int),
    "boolean": (bool,),
    "array": (list, tuple),
    "tuple": (list, tuple),
    "dict": (dict,),
    "object": (dict,),
}


@dataclass(frozen=True)
class CheckResult:
    """Whether one case's output is right, and if not, the first reason found."""

    ok: bool
    reason: str = ""


def standardise(text: str) -> str:
    """Lower-case `text` and remove spaces and ``,./-_*^`` (BFCL's string comparison)."""
    return _STRIP.sub("", text).lower().replace("'", '"')


def check_irrelevance(calls: Sequence[Mapping[str, Any]]) -> CheckResult:
    """An `irrelevance` case passes only when the model made no call."""
    if calls:
        names = ", ".join(str(c.get("name")) for c in calls)
        return CheckResult(False, f"expected no call, found {len(calls)} ({names})")
    return CheckResult(True)


def check_case(
    calls: Sequence[Mapping[str, Any]],
    ground_truth: Sequence[Mapping[str, Mapping[str, Sequence[Any]]]],
    functions: Sequence[Mapping[str, Any]],
) -> CheckResult:
    """Check a model's calls against a case's ground truth (any category with answers).

    Args:
        calls: the model's calls, ``[{"name": ..., "args": {...}}, ...]``.
        ground_truth: the expected calls, ``[{name: {param: [allowed...]}}, ...]``.
        functions: the case's function schemas (BFCL format), for types and required params.

    Returns:
        ``CheckResult(True)``, or ``CheckResult(False, reason)``.
    """
    if len(calls) != len(ground_truth):
        return CheckResult(False, f"expected {len(ground_truth)} call(s), found {len(calls)}")
    schemas = {str(f.get("name")): f for f in functions}
    # Which actual call may stand for which expected call; then a perfect matching.
    fits: list[list[int]] = []
    first_reason = ""
    for expected in ground_truth:
        row = []
        for index, call in enumerate(calls):
            result = _check_call(call, expected, schemas)
            if result.ok:
                row.append(index)
            elif not first_reason:
                first_reason = result.reason
        fits.append(row)
    if _has_matching(fits, len(calls)):
        return CheckResult(True)
    return CheckResult(False, first_reason or "no assignment of calls to expected calls")


def _has_matching(fits: list[list[int]], n: int) -> bool:
    """Is there a way to give each expected call its own actual call? (augmenting paths)"""
    owner: list[int | None] = [None] * n

    def place(row: int, seen: set[int]) -> bool:
        for col in fits[row]:
            if col in seen:
                continue
            seen.add(col)
            current = owner[col]
            if current is None or place(current, seen):
                owner[col] = row
                return True
        return False

    return all(place(row, set()) for row in range(len(fits)))


def _check_call(
    call: Mapping[str, Any],
    expected: Mapping[str, Mapping[str, Sequence[Any]]],
    schemas: Mapping[str, Mapping[str, Any]],
) -> CheckResult:
    ((name, allowed),) = expected.items()
    if call.get("name") != name:
        return CheckResult(False, f"expected function {name!r}, found {call.get('name')!r}")
    args = call.get("args")
    if not isinstance(args, Mapping):
        return CheckResult(False, f"{name}: arguments are not an object")
    schema = schemas.get(name, {})
    params = schema.get("parameters") or {}
    properties: Mapping[str, Any] = params.get("properties") or {}
    for required in params.get("required") or []:
        if required not in args:
            return CheckResult(False, f"{name}: required parameter {required!r} missing")
    for key, value in args.items():
        if key not in allowed:
            return CheckResult(False, f"{name}: unexpected parameter {key!r}")
        spec = properties.get(key) or {}
        if not _type_ok(value, spec):
            return CheckResult(
                False, f"{name}.{key}: expected type {spec.get('type')!r}, found {value!r}"
            )
        if not any(_value_ok(value, option) for option in allowed[key] if option != ""):
            return CheckResult(
                False, f"{name}.{key}: {value!r} is not one of {list(allowed[key])!r}"
            )
    for key, options in allowed.items():
        if key not in args and "" not in options:
            return CheckResult(False, f"{name}: parameter {key!r} missing")
    return CheckResult(True)


def _type_ok(value: Any, spec: Mapping[str, Any]) -> bool:
    kind = spec.get("type")
    if not isinstance(kind, str) or kind not in _PY_TYPES:
        return True  # "any", or no type: nothing to check
    if isinstance(value, bool) and kind != "boolean":
        return False
    if not isinstance(value, _PY_TYPES[kind]):
        return False
    items = spec.get("items")
    if kind in ("array", "tuple") and isinstance(items, Mapping):
        return all(_type_ok(item, items) for item in value)
    return True


def _value_ok(value: Any, option: Any) -> bool:
    """Does `value` equal the allowed `option`, by BFCL's comparison rules?"""
    if isinstance(option, str):
        return isinstance(value, str) and standardise(value) == standardise(option)
    if isinstance(option, bool) or isinstance(value, bool):
        return isinstance(value, bool) and isinstance(option, bool) and value == option
    if isinstance(option, int | float):
        return isinstance(value, int | float) and float(value) == float(option)
    if isinstance(option, list):
        return (
            isinstance(value, list | tuple)
            and len(value) == len(option)
            and all(_value_ok(v, o) for v, o in zip(value, option, strict=True))
        )
    if isinstance(option, dict):
        return _dict_ok(value, option)
    if option is None:
        return value is None
    return bool(value == option)


def _dict_ok(value: Any, option: Mapping[str, Any]) -> bool:
    """A dict value against ``{key: [allowed values...]}`` (or a plain dict of values)."""
    if not isinstance(value, Mapping):
        return False
    for key, sub in value.items():
        if key not in option:
            return False
        choices = _sub_options(option[key])
        if not any(_value_ok(sub, c) for c in choices if c != ""):
            return False
    return all(key in value or "" in _sub_options(choices) for key, choices in option.items())


def _sub_options(allowed: Any) -> list[Any]:
    """The allowed values of a nested key: a list of options, or one plain value."""
    return list(allowed) if isinstance(allowed, list) else [allowed]
