"""`lamina memory add|search|forget|stats` on an embedded store with the hashing test encoder."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

import lamina.models.encoder as embeddings
from lamina.cli.memory import DEFAULT_USER, app
from lamina.models.testing import HashingEncoder
from lamina.stores.memory import MemoryStore


@pytest.fixture(autouse=True)
def _hashing_encoder(monkeypatch: pytest.MonkeyPatch) -> None:
    # The store builds its default encoder through this function when none is given.
    monkeypatch.setattr(embeddings, "default_encoder", lambda: HashingEncoder(dim=512))


@pytest.fixture
def path(tmp_path: Path) -> Path:
    return tmp_path / "memory"


def invoke(*args: str, stdin: str | None = None) -> tuple[int, str, str]:
    result = CliRunner().invoke(app, list(args), input=stdin)
    return result.exit_code, result.stdout, result.stderr


def as_json(*args: str, code: int = 0, stdin: str | None = None) -> dict[str, Any]:
    exit_code, out, err = invoke(*args, "--json", stdin=stdin)
    assert exit_code == code, (out, err)
    data: dict[str, Any] = json.loads(out)  # exactly one JSON object, nothing else
    return data


def test_add_then_search_json(path: Path) -> None:
    added = as_json(
        "add", "My sister lives in Lyon.", "I like green tea.", "--user", "ada",
        "--kind", "preference", "--thread", "t1", "--path", str(path),
    )  # fmt: skip
    found = as_json("search", "where does my sister live", "--user", "ada", "--path", str(path))

    assert len(added["ids"]) == 2
    assert [m["text"] for m in added["memories"]] == [
        "My sister lives in Lyon.",
        "I like green tea.",
    ]
    assert {m["kind"] for m in added["memories"]} == {"preference"}
    assert added["memories"][0]["thread_id"] == "t1"
    assert added["store"] == {
        "mode": "embedded",
        "location": str(path),
        "collection": "lamina_memory",
    }
    assert found["query"] == "where does my sister live"
    assert found["user_id"] == "ada"
    top = found["memories"][0]
    assert top["id"] == added["ids"][0]
    assert top["score"] > found["memories"][1]["score"]
    assert {"created_at", "updated_at", "similarity"} <= set(top)


def test_users_are_kept_apart_and_default_to_the_agents_default_user(path: Path) -> None:
    as_json("add", "My name is Ada.", "--user", "ada", "--path", str(path))
    as_json("add", "My name is Bob.", "--path", str(path))

    assert as_json("search", "name", "--user", "carol", "--path", str(path))["memories"] == []
    (bob,) = as_json("search", "name", "--path", str(path))["memories"]
    assert bob["text"] == "My name is Bob."
    assert bob["user_id"] == DEFAULT_USER == "default"


def test_a_near_duplicate_updates_the_existing_memory(path: Path) -> None:
    first = as_json("add", "I live in Paris.", "--user", "ada", "--path", str(path))
    again = as_json("add", "i live in paris", "--user", "ada", "--path", str(path))

    assert again["ids"] == first["ids"]
    (m,) = again["memories"]
    assert m["text"] == "i live in paris"
    assert m["updated_at"] > m["created_at"]
    assert as_json("stats", "--user", "ada", "--path", str(path))["count"] == 1


def test_search_filters_kind_and_time_and_weighs_recency(path: Path) -> None:
    as_json(
        "add", "I like green tea.", "--kind", "preference", "--user", "ada", "--path", str(path)
    )
    as_json("add", "I drank green tea.", "--kind", "episode", "--user", "ada", "--path", str(path))
    base = ("search", "green tea", "--user", "ada", "--path", str(path))

    prefs = as_json(*base, "--kind", "preference")["memories"]
    future = as_json(*base, "--since", "2999-01-01")["memories"]
    weighted = as_json(*base, "--recency-weight", "0.5", "-k", "1")["memories"]

    assert [m["kind"] for m in prefs] == ["preference"]
    assert future == []
    assert len(weighted) == 1
    assert weighted[0]["score"] == pytest.approx(0.5 * weighted[0]["similarity"] + 0.5, abs=1e-3)


def test_forget_by_id_filter_or_all_and_refuse_without_a_choice(path: Path) -> None:
    ids = as_json(
        "add", "My PIN is 4242.", "I like tea.", "I had lunch.", "--user", "ada",
        "--path", str(path),
    )["ids"]  # fmt: skip
    as_json("add", "I had lunch too.", "--kind", "episode", "--user", "ada", "--path", str(path))

    refused = as_json("forget", "--user", "ada", "--path", str(path), code=1)
    by_id = as_json("forget", ids[0], "--user", "ada", "--path", str(path))
    by_kind = as_json("forget", "--kind", "episode", "--user", "ada", "--path", str(path))
    rest = as_json("forget", "--all", "--user", "ada", "--path", str(path))

    assert refused["error"]["type"] == "ConfigError"
    assert "--all" in refused["error"]["message"]
    assert (by_id["deleted"], by_id["purged"]) == (1, True)
    assert by_kind["deleted"] == 1
    assert rest["deleted"] == 2
    assert as_json("stats", "--user", "ada", "--path", str(path))["count"] == 0
    assert b"4242" not in (path / "chroma.sqlite3").read_bytes()


def test_stats_of_the_store_and_of_one_user(path: Path) -> None:
    as_json("add", "My name is Ada.", "I like tea.", "--user", "ada", "--path", str(path))
    as_json("add", "Talked about tea.", "--kind", "episode", "--user", "bob", "--path", str(path))

    everyone = as_json("stats", "--path", str(path))
    ada = as_json("stats", "--user", "ada", "--path", str(path))

    assert everyone["count"] == 3
    assert everyone["users"] == {"ada": 2, "bob": 1}
    assert everyone["kinds"] == {"fact": 2, "episode": 1}
    assert (ada["count"], ada["user_id"], ada["kinds"]) == (2, "ada", {"fact": 2})
    assert "users" not in ada


def test_texts_from_stdin(path: Path) -> None:
    added = as_json(
        "add", "-", "--user", "ada", "--path", str(path), stdin="I like tea.\n\nMy cat is Tom.\n"
    )
    assert [m["text"] for m in added["memories"]] == ["I like tea.", "My cat is Tom."]


def test_the_default_store_is_in_lamina_home(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LAMINA_HOME", str(tmp_path / "home"))

    stats = as_json("stats")

    assert stats["location"] == str(tmp_path / "home" / "memory")
    assert stats["mode"] == "embedded"


def test_errors_are_one_json_object_and_exit_code_1(path: Path) -> None:
    empty = as_json("add", "  ", "--path", str(path), code=1)
    both = as_json("stats", "--path", str(path), "--host", "localhost", code=1)
    down = as_json("stats", "--host", "127.0.0.1", "--port", "1", code=1)

    assert empty["error"]["type"] == "MemoryStoreError"
    assert "empty" in empty["error"]["message"]
    assert both["error"]["type"] == "ConfigError"
    assert "--path" in both["error"]["message"]
    assert "Chroma server is running at http://127.0.0.1:1" in down["error"]["message"]


def test_plain_output_is_readable_and_errors_go_to_stderr(path: Path) -> None:
    code, out, _ = invoke("add", "My sister lives in Lyon.", "--user", "ada", "--path", str(path))
    assert code == 0
    assert "1 new" in out
    code, out, _ = invoke("search", "sister", "--user", "ada", "--path", str(path))
    assert code == 0
    assert "Lyon" in out
    code, out, _ = invoke("stats", "--path", str(path))
    assert code == 0
    assert "1 memories" in out
    code, out, err = invoke("forget", "--user", "ada", "--path", str(path))
    assert code == 1
    assert out == ""
    assert "--all" in err


def test_a_store_opened_by_the_cli_is_an_ordinary_memory_store(path: Path) -> None:
    (mid,) = as_json("add", "My name is Ada.", "--user", "ada", "--path", str(path))["ids"]

    with MemoryStore(path, encoder=HashingEncoder(dim=512)) as store:
        assert store.get([mid], user_id="ada")[0].text == "My name is Ada."


def test_memory_cli_help_is_light() -> None:
    code = (
        "import sys\n"
        "from typer.testing import CliRunner\n"
        "from lamina.cli.memory import app\n"
        "for args in ([], ['--help'], ['add', '--help'], ['search', '--help']):\n"
        "    r = CliRunner().invoke(app, args)\n"
        "    assert 'Usage' in r.output, r.output\n"
        "print(sorted(m for m in ('chromadb', 'torch', 'sentence_transformers') "
        "if m in sys.modules))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=120
    )
    assert out.stdout.strip() == "[]"
