"""`lamina memory` refuses the ids `lamina run` refuses, and unknown ids to forget."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

import lamina.models.encoder as embeddings
from lamina.cli.memory import app
from lamina.errors import InputError
from lamina.layers.input import check_ids, make_input_node
from lamina.models.testing import HashingEncoder
from lamina.stores.memory import MemoryStore

BAD_IDS = ["[/b]", "ada lovelace", "x" * 129, "", "ada/../bob"]


@pytest.fixture(autouse=True)
def _hashing_encoder(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(embeddings, "default_encoder", lambda: HashingEncoder(dim=512))


def _run_refuses(user: str) -> str:
    """The message the input layer of `lamina run` gives for this user id."""
    from langchain_core.messages import HumanMessage

    node = make_input_node()
    with pytest.raises(InputError) as info:
        node({"messages": [HumanMessage("hi")], "user_id": user or None})  # type: ignore[arg-type]
    return str(info.value)


@pytest.mark.parametrize("user", BAD_IDS)
@pytest.mark.parametrize("command", ["add", "search", "forget", "stats"])
def test_every_memory_command_refuses_an_id_run_refuses(
    command: str, user: str, tmp_path: Path
) -> None:
    path = tmp_path / "memory"
    args = {"add": ["add", "a fact"], "search": ["search", "q"], "forget": ["forget", "--all"]}
    argv = [*args.get(command, [command]), "--user", user, "--path", str(path), "--json"]
    result = CliRunner().invoke(app, argv)
    assert result.exit_code == 1, result.output
    error = json.loads(result.stdout)["error"]
    assert error["type"] == "InputError"
    assert "user_id" in error["message"]
    assert "Traceback" not in result.output
    assert not path.exists()  # refused before the store was opened or created
    if user:  # the empty id is replaced by the default user in a run
        with pytest.raises(InputError) as info:
            check_ids(user_id=user)
        assert str(info.value) == error["message"] == _run_refuses(user)


def test_a_bad_thread_id_is_refused_too(tmp_path: Path) -> None:
    argv = ["add", "fact", "--thread", "t 1", "--path", str(tmp_path / "m"), "--json"]
    result = CliRunner().invoke(app, argv)
    assert result.exit_code == 1
    assert "thread_id" in json.loads(result.stdout)["error"]["message"]


def test_good_ids_still_work(tmp_path: Path) -> None:
    path = tmp_path / "memory"
    argv = ["add", "a fact", "--user", "ada.l@x:1_-", "--path", str(path), "--json"]
    result = CliRunner().invoke(app, argv)
    assert result.exit_code == 0, result.output


def test_forgetting_unknown_ids_fails_and_deletes_nothing(tmp_path: Path) -> None:
    path = tmp_path / "memory"
    with MemoryStore(path, encoder=HashingEncoder(dim=512)) as store:
        (ada,) = store.add("Ada likes tea.", "ada")
        (bob,) = store.add("Bob likes coffee.", "bob")
    runner = CliRunner()
    argv = ["forget", ada, "no-such-id", "--user", "ada", "--path", str(path)]
    result = runner.invoke(app, argv)
    assert result.exit_code == 1
    assert "no-such-id" in result.stderr
    assert "Nothing was deleted" in result.stderr
    # Another user's id is unknown for this user: refused, and not revealed as existing.
    result = runner.invoke(app, ["forget", bob, "--user", "ada", "--path", str(path), "--json"])
    assert result.exit_code == 1
    assert json.loads(result.stdout)["error"]["type"] == "InputError"
    with MemoryStore(path, encoder=HashingEncoder(dim=512)) as store:
        assert [m.id for m in store.get([ada], user_id="ada")] == [ada]
        assert [m.id for m in store.get([bob], user_id="bob")] == [bob]
    result = runner.invoke(app, ["forget", ada, "--user", "ada", "--path", str(path), "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["deleted"] == 1
