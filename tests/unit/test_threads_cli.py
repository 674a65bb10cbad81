"""`lamina threads list|show|prune` over a real SQLite checkpoint file written by real runs."""

from __future__ import annotations

import json
import os
import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from langgraph.checkpoint.sqlite import SqliteSaver
from typer.testing import CliRunner

from lamina import Agent
from lamina.cli import app
from lamina.errors import InputError
from lamina.models.testing import FakeChatModel
from lamina.stores.ledger import ToolLedger
from lamina.stores.thread_locks import FileThreadLocks
from lamina.stores.threads import list_threads, parse_duration, thread_messages


def _run(path: Path, exchanges: dict[str, list[str]]) -> None:
    """One agent on the checkpoint file `path`; each thread gets its tasks, answered in turn."""
    answers = [f"answer {i}" for i in range(sum(map(len, exchanges.values())))]
    agent = Agent(
        chat_models={"fake": FakeChatModel(responses=answers)},
        routes=[],
        tools=[],
        memory=False,
        step_cache=False,
        checkpointer=path,
    )
    try:
        for thread, tasks in exchanges.items():
            for task in tasks:
                agent.run(task, thread_id=thread, user_id="ada")
    finally:
        agent.close()


def _age(path: Path, thread: str, days: float) -> None:
    """Make `thread`'s checkpoints `days` old, through the checkpointer's own API (rewritten)."""
    conn = sqlite3.connect(path, check_same_thread=False)
    saver = SqliteSaver(conn)
    config: Any = {"configurable": {"thread_id": thread, "checkpoint_ns": ""}}
    items = list(saver.list(config))[::-1]
    saver.delete_thread(thread)
    ts = (datetime.now(UTC) - timedelta(days=days)).isoformat()
    for item in items:
        checkpoint = {**item.checkpoint, "ts": ts}
        parent = item.parent_config or {"configurable": {"thread_id": thread, "checkpoint_ns": ""}}
        saver.put(parent, checkpoint, item.metadata, checkpoint["channel_versions"])
    conn.close()


@pytest.fixture
def store(tmp_path: Path) -> Path:
    path = tmp_path / "checkpoints.sqlite"
    _run(path, {"old": ["Say hello"], "new": ["Say hi", "Say bye"], "other": ["Say yes"]})
    _age(path, "old", days=40)
    return path


def invoke(*args: str) -> Any:
    result = CliRunner().invoke(app, ["threads", *args], env={"COLUMNS": "200"})
    assert result.exception is None or isinstance(result.exception, SystemExit), result.output
    return result


def test_list_shows_each_thread_with_update_time_and_messages(store: Path) -> None:
    result = invoke("list", "--checkpointer", str(store), "--json")
    assert result.exit_code == 0, result.output
    threads = {t["thread_id"]: t for t in json.loads(result.stdout)["threads"]}
    assert set(threads) == {"old", "new", "other"}
    assert (threads["new"]["messages"], threads["old"]["messages"]) == (4, 2)
    assert threads["new"]["user_id"] == "ada"
    assert list(threads)[-1] == "old"  # most recently updated first
    age = datetime.now(UTC) - datetime.fromisoformat(threads["old"]["updated_at"])
    assert timedelta(days=39) < age < timedelta(days=41)
    table = invoke("list", "--checkpointer", str(store))
    assert "3 threads in" in table.output
    assert "new" in table.output


def test_show_prints_a_threads_exchanges_in_order(store: Path) -> None:
    result = invoke("show", "new", "--checkpointer", str(store))
    assert result.exit_code == 0, result.output
    lines = [line for line in result.output.splitlines() if ": " in line][1:]
    assert [line.split(": ", 1)[0] for line in lines] == ["user", "answer", "user", "answer"]
    assert "Say hi" in lines[0]
    assert "Say bye" in lines[2]
    data = json.loads(invoke("show", "new", "--checkpointer", str(store), "--json").stdout)
    assert [m["type"] for m in data["messages"]] == ["human", "ai", "human", "ai"]
    missing = invoke("show", "nope", "--checkpointer", str(store))
    assert missing.exit_code == 1
    assert "lamina threads list" in " ".join(missing.output.split())


def test_prune_by_age_needs_yes_and_then_deletes_only_old_threads(store: Path) -> None:
    dry = invoke("prune", "--older-than", "30d", "--checkpointer", str(store))
    assert dry.exit_code == 0, dry.output
    assert "--yes" in dry.output
    assert "old" in dry.output
    assert {t.thread_id for t in _threads(store)} == {"old", "new", "other"}  # dry run

    done = invoke("prune", "--older-than", "30d", "--checkpointer", str(store), "--yes", "--json")
    assert json.loads(done.stdout)["deleted"] == ["old"]
    assert {t.thread_id for t in _threads(store)} == {"new", "other"}


def test_prune_by_id_deletes_the_thread_and_its_ledger_entries(store: Path) -> None:
    ledger = ToolLedger(store.parent / "checkpoints.ledger.sqlite")
    ledger.record("c1", thread_id="other", name="lookup", args={}, result="x")
    ledger.close()
    result = invoke("prune", "other", "--checkpointer", str(store), "--yes")
    assert result.exit_code == 0, result.output
    assert "Deleted 1 threads" in result.output
    assert {t.thread_id for t in _threads(store)} == {"old", "new"}
    ledger = ToolLedger(store.parent / "checkpoints.ledger.sqlite")
    assert ledger.calls("other") == []
    ledger.close()


def test_prune_refuses_unknown_ids_and_deletes_nothing(store: Path) -> None:
    result = invoke("prune", "new", "ghost", "--checkpointer", str(store), "--yes")
    assert result.exit_code == 1
    assert "'ghost'" in result.output
    assert "Nothing was deleted" in " ".join(result.output.split())
    assert len(_threads(store)) == 3
    assert invoke("prune", "--checkpointer", str(store)).exit_code == 1  # neither ids nor age


def test_prune_skips_a_thread_a_run_holds(store: Path) -> None:
    locks = FileThreadLocks(store.parent / "checkpoints.locks", wait=0)
    with locks.hold("new"):
        result = invoke("prune", "new", "other", "--checkpointer", str(store), "--yes", "--json")
    data = json.loads(result.stdout)
    assert (data["deleted"], data["busy"]) == (["other"], ["new"])
    assert {t.thread_id for t in _threads(store)} == {"old", "new"}


def test_the_default_checkpoints_come_from_home_and_config(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    home = Path(os.environ["LAMINA_HOME"])
    assert "No threads in" in invoke("list").output  # nothing written yet: nothing created
    assert not (home / "checkpoints.sqlite").exists()
    _run(home / "checkpoints.sqlite", {"t1": ["Say hello"]})
    assert [t["thread_id"] for t in json.loads(invoke("list", "--json").stdout)["threads"]] == [
        "t1"
    ]
    elsewhere = tmp_path / "agent" / "ck.sqlite"
    _run(elsewhere, {"t2": ["Say hello"]})
    config = tmp_path / "agent.toml"
    config.write_text(f'checkpointer = "{elsewhere}"\n')
    threads = json.loads(invoke("list", "--config", str(config), "--json").stdout)["threads"]
    assert [t["thread_id"] for t in threads] == ["t2"]


def test_thread_messages_and_durations() -> None:
    saver = SqliteSaver(sqlite3.connect(":memory:", check_same_thread=False))
    with pytest.raises(InputError, match="lamina threads list"):
        thread_messages(saver, "nope")
    assert parse_duration("30d") == timedelta(days=30)
    assert parse_duration("1d12h") == timedelta(hours=36)
    for bad in ("30", "soon", "3x", "-1d"):
        with pytest.raises(InputError, match="Expected a duration"):
            parse_duration(bad)


def _threads(path: Path) -> list[Any]:
    conn = sqlite3.connect(path, check_same_thread=False)
    try:
        return list_threads(SqliteSaver(conn))
    finally:
        conn.close()
