"""Graph state helpers."""

from __future__ import annotations

from lamina.core.state import merge_trace


def _ev(layer: str):
    return {"layer": layer, "seconds": 0.0, "data": {}}


def test_trace_appends_within_a_run():
    assert [e["layer"] for e in merge_trace([_ev("input")], [_ev("router")])] == ["input", "router"]


def test_trace_restarts_with_a_new_run():
    old = [_ev("input"), _ev("router"), _ev("respond")]
    assert [e["layer"] for e in merge_trace(old, [_ev("input")])] == ["input"]
