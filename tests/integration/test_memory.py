"""Long-term memory with the real all-MiniLM-L6-v2 encoder, on embedded Chroma and a Chroma server.

The `store` fixture runs each test twice: on an embedded store in its own directory, and on a
real `chroma run` server that a session fixture starts on a free port and stops at the end (each
test gets its own collection there). Two processes writing to that server at once lose nothing.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import textwrap
import time
import urllib.request
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, cast

import pytest
from langchain_core.messages import HumanMessage
from langgraph.runtime import Runtime
from typer.testing import CliRunner

from lamina.cli.memory import app as memory_app
from lamina.core.context import AgentContext, StaticModels
from lamina.core.state import AgentState
from lamina.errors import MemoryStoreError
from lamina.layers.memory import make_memory_node, make_memory_writeback_node
from lamina.layers.memory.tools import make_memory_tools
from lamina.models.encoder import Encoder
from lamina.stores.memory import MemoryStore

CHROMA = Path(sys.executable).with_name("chroma")
ROOT = Path(__file__).resolve().parents[2]


# --- a real Chroma server for the session ---------------------------------------------------


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _wait_until_up(proc: subprocess.Popen[bytes], port: int, log: Path, timeout: float) -> None:
    url = f"http://127.0.0.1:{port}/api/v2/heartbeat"
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            pytest.fail(f"chroma run exited with {proc.returncode}:\n{log.read_text()[-2000:]}")
        try:
            with urllib.request.urlopen(url, timeout=1) as response:
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.1)
    pytest.fail(f"chroma run did not answer on port {port} in {timeout} s")


@pytest.fixture(scope="session")
def chroma_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, int]]:
    """`chroma run --path TMP --host 127.0.0.1 --port FREE`, up for the session."""
    assert CHROMA.exists(), f"the chroma CLI (part of chromadb) is missing at {CHROMA}"
    root = tmp_path_factory.mktemp("chroma_server")
    port = _free_port()
    log = root / "server.log"
    env = {**os.environ, "ANONYMIZED_TELEMETRY": "False"}
    with log.open("wb") as out:
        command = [str(CHROMA), "run", "--path", str(root / "data")]
        proc = subprocess.Popen(
            [*command, "--host", "127.0.0.1", "--port", str(port)],
            stdout=out,
            stderr=subprocess.STDOUT,
            env=env,
        )
        try:
            _wait_until_up(proc, port, log, timeout=60)
            yield "127.0.0.1", port
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


@pytest.fixture(params=["embedded", "server"])
def store(
    request: pytest.FixtureRequest, tmp_path: Path, encoder: Encoder
) -> Iterator[MemoryStore]:
    if request.param == "embedded":
        s = MemoryStore(tmp_path / "memory", encoder=encoder)
    else:
        host, port = request.getfixturevalue("chroma_server")
        # One collection per test: the server is shared by the whole session.
        s = MemoryStore.connect(host, port, encoder=encoder, collection=f"t{uuid.uuid4().hex}")
    yield s
    s.close()


def _runtime(store: MemoryStore) -> Runtime[AgentContext]:
    return Runtime(
        context=AgentContext(models=StaticModels({}), default_model="none", memory=store)
    )


def _state(task: str, user_id: str, thread_id: str, **extra: Any) -> AgentState:
    raw: dict[str, Any] = {
        "messages": [HumanMessage(task)],
        "task": task,
        "user_id": user_id,
        "thread_id": thread_id,
        "trace": [],
        **extra,
    }
    return cast(AgentState, raw)


# --- the memory suite, embedded and on the server -------------------------------------------


def test_a_fact_told_in_one_thread_is_recalled_in_a_new_thread_for_that_user_only(
    store: MemoryStore,
) -> None:
    write = make_memory_writeback_node()
    recall = make_memory_node(k=3, min_score=0.35)
    runtime = _runtime(store)
    # Other memories of the same user compete with the right one.
    store.add(["My sister lives in Lyon.", "I work as a nurse."], "user-a", thread_id="t0")

    told = write(
        _state("Remember that my favourite colour is teal.", "user-a", "t1", answer="Noted."),
        runtime,
    )
    (teal_id,) = told["trace"][0]["data"]["ids"]

    asked = recall(_state("What is my favourite colour?", "user-a", "t2"), runtime)
    hits = asked["trace"][0]["data"]["hits"]
    assert hits[0]["id"] == teal_id
    assert hits[0]["similarity"] >= 0.5
    assert "teal" in asked["memories"][0]["text"]
    assert asked["memories"][0]["thread_id"] == "t1"

    other = recall(_state("What is my favourite colour?", "user-b", "t3"), runtime)
    assert other["memories"] == []
    assert teal_id not in [h["id"] for h in other["trace"][0]["data"]["hits"]]


def test_a_near_identical_sentence_updates_instead_of_adding(store: MemoryStore) -> None:
    (first,) = store.add("My favourite colour is teal.", "user-a")
    (again,) = store.add("My favorite color is teal!", "user-a")  # cosine ≈ 0.96 with MiniLM
    (other,) = store.add("My favourite food is pizza.", "user-a")

    assert again == first
    assert other != first
    assert store.count("user-a") == 2
    (m,) = store.get([first], user_id="user-a")
    assert m.text == "My favorite color is teal!"


def test_search_ranks_by_similarity_filters_and_weighs_recency(
    store: MemoryStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    import lamina.stores.memory.writer as memory_writer

    year_ago = datetime.now(UTC) - timedelta(days=365)
    monkeypatch.setattr(memory_writer, "utc_now", lambda: year_ago)
    (paris,) = store.add("I live in Paris.", "ada")
    monkeypatch.undo()
    (lyon,) = store.add("I moved to Lyon last month.", "ada")
    store.add("I love green tea.", "ada", kind="preference")

    plain = store.search("Where do I live?", "ada", k=3)
    recent = store.search("Where do I live?", "ada", k=3, min_score=0.2, recency_weight=1.0)
    prefs = store.search("Where do I live?", "ada", k=3, kinds=["preference"])
    old = store.search("Where do I live?", "ada", k=3, until=year_ago + timedelta(days=1))

    sims = [m.similarity or 0.0 for m in plain]
    assert sims == sorted(sims, reverse=True)
    assert plain[-1].kind == "preference"  # tea is the least related to living somewhere
    assert [m.id for m in recent] == [lyon, paris]
    assert [m.kind for m in prefs] == ["preference"]
    assert [m.id for m in old] == [paris]


def test_users_never_see_each_others_memories(store: MemoryStore) -> None:
    (ada,) = store.add("My bank PIN is 4242.", "ada")
    store.add("My bank PIN is 1111.", "bob")

    assert all(m.user_id == "bob" for m in store.search("bank PIN", "bob", k=5))
    assert store.get([ada], user_id="bob") == []
    assert store.forget([ada], user_id="bob") == 0
    assert store.search("bank PIN", "carol") == []
    assert store.users() == ["ada", "bob"]
    assert store.stats()["users"] == {"ada": 1, "bob": 1}


def test_forget_deletes_by_id_filter_and_user(store: MemoryStore) -> None:
    ids = store.add(["My PIN is 4242.", "I like tea."], "ada", thread_id="t1")
    store.add("We talked about tea.", "ada", kind="episode", thread_id="t2")

    assert store.forget([ids[0]], user_id="ada") == 1
    assert store.forget(where={"thread_id": "t2"}, user_id="ada") == 1
    assert [m.text for m in store.search("tea", "ada", k=5)] == ["I like tea."]
    assert store.forget(user_id="ada") == 1
    assert store.count("ada") == 0


def test_purging_files_is_for_embedded_stores(store: MemoryStore) -> None:
    (mid,) = store.add("My PIN is zebra4242.", "ada")
    if store.mode == "embedded":
        assert store.path is not None
        store.forget([mid], user_id="ada", purge=True)
        assert b"zebra4242" not in (store.path / "chroma.sqlite3").read_bytes()
        return
    with pytest.raises(MemoryStoreError, match="chroma vacuum"):
        store.forget([mid], user_id="ada", purge=True)
    assert store.count("ada") == 1  # refused before deleting anything
    with pytest.raises(MemoryStoreError, match="on the server"):
        store.purge()
    assert store.forget([mid], user_id="ada") == 1  # the default does not purge on a server


def test_bad_input_is_refused_and_nothing_stored_is_lost(store: MemoryStore) -> None:
    (kept,) = store.add("My sister lives in Lyon.", "ada")

    with pytest.raises(MemoryStoreError, match="empty"):
        store.add(["I like tea.", " "], "ada")
    with pytest.raises(MemoryStoreError, match="at most 1000 characters"):
        store.add(["I like tea.", "word " * 300], "ada")
    with pytest.raises(MemoryStoreError, match="query"):
        store.search("", "ada")

    assert store.count("ada") == 1
    assert store.search("where does my sister live", "ada", k=1)[0].id == kept


def test_memory_tools_round_trip(store: MemoryStore) -> None:
    remember, recall = make_memory_tools(store, "ada", thread_id="t9")

    reply = remember.invoke({"text": "The user's dog is called Rex.", "kind": "fact"})
    found = recall.invoke({"query": "What is the name of my dog?", "k": 2})

    assert "Remembered" in reply
    assert "Rex" in found
    assert store.search("dog", "ada", k=1)[0].source == "agent"


@pytest.mark.parametrize("spelling", ["--path/--host", "--memory"])
def test_the_cli_reaches_the_same_store(store: MemoryStore, spelling: str) -> None:
    collection = ["--collection", store.collection_name]
    if spelling == "--memory":
        # `--memory` names the store the way `lamina run --memory` and Agent(memory=) do.
        where = ["--memory", str(store.path) if store.mode == "embedded" else store.location]
        where += collection
    elif store.mode == "embedded":
        where = ["--path", str(store.path), *collection]
    else:
        where = [
            "--host",
            store.location.split("//")[1].split(":")[0],
            "--port",
            store.location.rsplit(":", 1)[1],
            *collection,
        ]

    def run(*args: str) -> dict[str, Any]:
        result = CliRunner().invoke(memory_app, [*args, *where, "--json"])
        assert result.exit_code == 0, result.output
        data: dict[str, Any] = json.loads(result.stdout)
        return data

    added = run("add", "My favourite colour is teal.", "--user", "ada")
    found = run("search", "What is my favourite colour?", "--user", "ada", "-k", "1")

    assert found["memories"][0]["id"] == added["ids"][0]
    assert found["store"]["mode"] == store.mode
    assert store.get(added["ids"], user_id="ada")[0].text == "My favourite colour is teal."
    assert run("forget", "--all", "--user", "ada")["deleted"] == 1
    assert run("stats", "--user", "ada")["count"] == 0


# --- several processes share memory through the server --------------------------------------

_WRITER = """
import json, sys
from lamina.stores.memory import MemoryStore
from lamina.models.testing import HashingEncoder

host, port, collection, worker = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
store = MemoryStore.connect(host, port, encoder=HashingEncoder(dim=4096), collection=collection)
texts = [f"worker {worker} note {i} w{worker}x{i} tag{worker}{i}" for i in range(200)]
ids = []
for lo in range(0, 200, 10):  # many small writes, so that the two processes interleave
    ids += store.add(texts[lo : lo + 10], "shared")
store.close()
print(json.dumps({"ids": len(set(ids))}))
"""


def test_two_processes_writing_to_the_server_lose_nothing(
    chroma_server: tuple[str, int],
) -> None:
    from lamina.models.testing import HashingEncoder

    host, port = chroma_server
    collection = f"c{uuid.uuid4().hex}"
    env = {**os.environ, "ANONYMIZED_TELEMETRY": "False", "PYTHONPATH": str(ROOT)}
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", textwrap.dedent(_WRITER), host, str(port), collection, w],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
        )
        for w in ("a", "b")
    ]
    outputs = [p.communicate(timeout=300) for p in procs]
    for p, (out, err) in zip(procs, outputs, strict=True):
        assert p.returncode == 0, err
        assert json.loads(out.strip().splitlines()[-1]) == {"ids": 200}

    with MemoryStore.connect(
        host, port, encoder=HashingEncoder(dim=4096), collection=collection
    ) as store:
        assert store.count("shared") == 400
        col = store._collection_of("shared", create=False)
        texts = set(col.get(include=["documents"])["documents"])
    expected = {f"worker {w} note {i} w{w}x{i} tag{w}{i}" for w in ("a", "b") for i in range(200)}
    assert texts == expected
