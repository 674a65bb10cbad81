"""The tool-call ledger: durable, deterministic ids, shared by processes."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from lamina.errors import ConfigError
from lamina.stores.ledger import ToolLedger, call_id_for


def test_ids_are_deterministic_and_tell_calls_apart() -> None:
    a = call_id_for("t", 0, 1, 0, "append", {"text": "x"})
    assert a == call_id_for("t", 0, 1, 0, "append", {"text": "x"})
    others = {
        call_id_for("u", 0, 1, 0, "append", {"text": "x"}),
        call_id_for("t", 1, 1, 0, "append", {"text": "x"}),  # a later turn of the thread
        call_id_for("t", 0, 2, 0, "append", {"text": "x"}),
        call_id_for("t", 0, 1, 1, "append", {"text": "x"}),
        call_id_for("t", 0, 1, 0, "append", {"text": "y"}),
    }
    assert a not in others
    assert len(others) == 5


def test_a_recorded_call_survives_another_process(tmp_path: Path) -> None:
    path = tmp_path / "ledger.sqlite"
    code = (
        "from lamina.stores.ledger import ToolLedger\n"
        f"ToolLedger({str(path)!r}).record('c1', thread_id='t', name='n', args={{'a': 1}}, "
        "result='done')\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)
    ledger = ToolLedger(path)
    entry = ledger.get("c1")
    assert entry is not None
    assert (entry.name, entry.args, entry.result) == ("n", {"a": 1}, "done")
    ledger.record("c1", thread_id="t", name="n", args={}, result="again")  # ignored
    assert ledger.get("c1").result == "done"
    assert [e.call_id for e in ledger.calls("t")] == ["c1"]
    assert ledger.get("nope") is None


def test_a_file_that_is_not_a_ledger_is_a_clear_error(tmp_path: Path) -> None:
    bad = tmp_path / "ledger.sqlite"
    bad.write_bytes(b"this is not sqlite" * 100)
    with pytest.raises(ConfigError, match="ledger"):
        ToolLedger(bad)
