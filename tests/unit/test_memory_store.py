"""MemoryStore over real embedded Chroma, with a tiny deterministic bag-of-words encoder."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from lamina.errors import MemoryStoreError
from lamina.memory_store.chroma_store import (
    LaminaEmbeddingFunction,
    Memory,
    MemoryItem,
    MemoryStore,
)
from lamina.models.testing import HashingEncoder

DIM = 512


def test_add_then_search_returns_the_closest_memory_first(store: MemoryStore) -> None:
    ids = store.add(
        ["My favourite colour is teal.", "My sister lives in Lyon.", "I work as a nurse."],
        "ada",
        thread_id="t1",
    )
    assert len(set(ids)) == 3

    hits = store.search("What is my favourite colour?", "ada", k=2)

    assert hits[0].id == ids[0]
    assert hits[0].text == "My favourite colour is teal."
    assert hits[0].thread_id == "t1"
    assert hits[0].kind == "fact"
    assert hits[0].score is not None
    assert 0.5 < hits[0].score <= 1.0001
    assert len(hits) == 2
    assert hits[0].score >= hits[1].score  # type: ignore[operator]


def test_a_user_never_sees_another_users_memories(store: MemoryStore) -> None:
    (ada_id,) = store.add("My favourite colour is teal.", "ada")
    store.add("My favourite colour is red.", "bob")

    bob_hits = store.search("favourite colour teal", "bob", k=5)

    assert ada_id not in [h.id for h in bob_hits]
    assert all(h.user_id == "bob" for h in bob_hits)
    assert store.search("favourite colour", "carol") == []
    assert store.get([ada_id], user_id="bob") == []
    assert store.count("ada") == 1
    assert store.count("bob") == 1
    assert store.count() == 2


def test_near_duplicate_updates_the_existing_memory(store: MemoryStore) -> None:
    (first,) = store.add("My favourite colour is teal", "ada", thread_id="t1", importance=0.9)
    before = store.get([first], user_id="ada")[0]

    (second,) = store.add("my favourite colour is TEAL!", "ada", thread_id="t2", importance=0.2)

    assert second == first
    assert store.count("ada") == 1
    after = store.get([first], user_id="ada")[0]
    assert after.text == "my favourite colour is TEAL!"  # the newer wording
    assert after.thread_id == "t2"
    assert after.created_at == before.created_at
    assert after.updated_at >= before.updated_at
    assert after.importance == pytest.approx(0.9)  # the higher importance stays


def test_near_duplicates_within_one_call_are_one_memory(store: MemoryStore) -> None:
    ids = store.add(["I live in Paris.", "I live in Paris", "My dog is called Rex."], "ada")

    assert ids[0] == ids[1]
    assert ids[2] != ids[0]
    assert store.count("ada") == 2


def test_dedupe_is_per_user(store: MemoryStore) -> None:
    (a,) = store.add("I live in Paris.", "ada")
    (b,) = store.add("I live in Paris.", "bob")

    assert a != b
    assert store.count() == 2


@pytest.mark.parametrize(("threshold", "merged"), [(0.95, False), (0.85, True)])
def test_dedupe_threshold_decides_what_is_near_identical(
    tmp_path: Path, threshold: float, merged: bool
) -> None:
    s = MemoryStore(tmp_path / "m", encoder=HashingEncoder(dim=DIM), dedupe_threshold=threshold)
    try:
        # 4 of the 5 words shared: cosine 4 / sqrt(4 * 5) = 0.894.
        (a,) = s.add("I live in Paris.", "ada")
        (b,) = s.add("I live in Paris now.", "ada")
        assert (a == b) is merged
        assert s.count("ada") == (1 if merged else 2)
    finally:
        s.close()


def test_forget_really_deletes(tmp_path: Path) -> None:
    path = tmp_path / "memory"
    store = MemoryStore(path, encoder=HashingEncoder(dim=DIM))
    secret, keep = store.add(["My PIN is zebra-4242.", "My sister lives in Lyon."], "ada")
    (bobs,) = store.add("My PIN is zebra-4242.", "bob")

    assert store.forget([secret], user_id="bob") == 0  # not bob's to delete
    assert store.forget([secret], user_id="ada") == 1

    assert store.get([secret], user_id="ada") == []
    assert all("zebra" not in h.text for h in store.search("PIN zebra", "ada", k=5))
    assert store.count("ada") == 1
    assert store.get([bobs], user_id="bob")[0].text == "My PIN is zebra-4242."
    store.close()

    reopened = MemoryStore(path, encoder=HashingEncoder(dim=DIM))
    try:
        assert reopened.get([secret], user_id="ada") == []
        assert [m.id for m in reopened.get([keep], user_id="ada")] == [keep]
        assert reopened.count() == 2
    finally:
        reopened.close()


def test_forget_by_filter_and_everything_of_a_user(store: MemoryStore) -> None:
    store.add("Asked about the weather.", "ada", kind="episode")
    store.add(["My name is Ada.", "I like green tea."], "ada", kind="fact")
    store.add("My name is Bob.", "bob")

    assert store.forget(where={"kind": "episode"}, user_id="ada") == 1
    assert store.count("ada") == 2
    assert store.forget(user_id="ada") == 2
    assert store.count("ada") == 0
    assert store.count("bob") == 1
    with pytest.raises(MemoryStoreError, match="user_id"):
        store.forget(where={"user_id": "bob"}, user_id="ada")


@pytest.mark.parametrize("text", ["", "   ", "\n\t"])
def test_empty_text_is_refused_and_nothing_is_written(store: MemoryStore, text: str) -> None:
    with pytest.raises(MemoryStoreError, match="empty"):
        store.add(["My name is Ada.", text], "ada")
    assert store.count() == 0


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"kind": "secret"}, "Unknown memory kind"),
        ({"importance": 1.5}, "importance"),
    ],
)
def test_bad_records_are_refused(store: MemoryStore, kwargs: dict[str, object], match: str) -> None:
    with pytest.raises(MemoryStoreError, match=match):
        store.add("My name is Ada.", "ada", **kwargs)  # type: ignore[arg-type]


def test_bad_requests_are_refused(store: MemoryStore) -> None:
    with pytest.raises(MemoryStoreError, match="user id"):
        store.add("My name is Ada.", " ")
    with pytest.raises(MemoryStoreError, match="query"):
        store.search("  ", "ada")
    with pytest.raises(MemoryStoreError, match="k >= 1"):
        store.search("name", "ada", k=0)
    with pytest.raises(MemoryStoreError, match="kinds"):
        store.search("name", "ada", kinds=["secret"])  # type: ignore[list-item]


def test_items_override_the_defaults(store: MemoryStore) -> None:
    (mid,) = store.add(
        [MemoryItem("I like green tea.", kind="preference", thread_id="t9", importance=0.8)],
        "ada",
        kind="fact",
        thread_id="t1",
        source="agent",
    )
    (m,) = store.get([mid], user_id="ada")
    assert (m.kind, m.thread_id, m.importance, m.source) == ("preference", "t9", 0.8, "agent")


def test_search_filters_by_kind_time_and_score(store: MemoryStore) -> None:
    store.add("I like green tea.", "ada", kind="preference")
    store.add("I drank green tea yesterday.", "ada", kind="episode")
    now = datetime.now(UTC)

    prefs = store.search("green tea", "ada", k=5, kinds=["preference"])
    assert [m.kind for m in prefs] == ["preference"]
    assert len(store.search("green tea", "ada", k=5, since=now - timedelta(minutes=5))) == 2
    assert store.search("green tea", "ada", k=5, since=now + timedelta(minutes=5)) == []
    assert store.search("green tea", "ada", k=5, until=now - timedelta(minutes=5)) == []
    assert (
        len(store.search("green tea", "ada", k=5, until=(now + timedelta(hours=1)).isoformat()))
        == 2
    )
    assert store.search("green tea", "ada", k=5, min_score=0.99) == []


def test_memory_dict_is_json_safe_with_the_fields_layers_need(store: MemoryStore) -> None:
    store.add("My name is Ada.", "ada", thread_id="t1")
    (hit,) = store.search("name", "ada", k=1)

    d = json.loads(json.dumps(hit.to_dict()))

    assert {"id", "text", "score", "created_at", "kind", "user_id", "thread_id"} <= set(d)
    assert datetime.fromisoformat(d["created_at"]).tzinfo is not None
    assert isinstance(hit, Memory)


def test_stats_count_per_user_and_kind(store: MemoryStore) -> None:
    store.add(["My name is Ada.", "I like tea."], "ada")
    store.add("Talked about tea.", "bob", kind="episode")

    stats = store.stats()

    assert stats["count"] == 3
    assert stats["users"] == {"ada": 2, "bob": 1}
    assert stats["kinds"] == {"fact": 2, "episode": 1}
    assert stats["mode"] == "embedded"
    json.dumps(stats)


def test_chroma_never_uses_its_own_embedding_model(
    store: MemoryStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    from chromadb.api.types import DefaultEmbeddingFunction, validate_embedding_function

    def refuse(self: object, input: object) -> None:
        raise AssertionError("Chroma's default (downloading) embedding function was called")

    monkeypatch.setattr(DefaultEmbeddingFunction, "__call__", refuse)
    store.add("My name is Ada.", "ada")
    assert store.search("name", "ada")

    ef = LaminaEmbeddingFunction(store.encoder)
    validate_embedding_function(ef)
    assert ef.is_legacy() is False
    assert store._collection.configuration_json["embedding_function"]["name"] == "lamina"
    rebuilt = LaminaEmbeddingFunction.build_from_config(ef.get_config())
    with pytest.raises(MemoryStoreError, match="custom encoder"):
        rebuilt(["text"])


def test_telemetry_is_off(store: MemoryStore) -> None:
    assert store._client.get_settings().anonymized_telemetry is False


def test_a_file_where_the_directory_should_be_is_an_error(tmp_path: Path) -> None:
    blocker = tmp_path / "not_a_dir"
    blocker.write_text("x")

    with pytest.raises(MemoryStoreError, match="found a file"):
        MemoryStore(blocker, encoder=HashingEncoder(dim=DIM))
    # Tests run as root, for whom chmod does not make a directory unwritable; a path *below* a
    # file cannot be created by anyone.
    with pytest.raises(MemoryStoreError, match="Fix:"):
        MemoryStore(blocker / "memory", encoder=HashingEncoder(dim=DIM))


def test_a_corrupted_store_is_a_memory_store_error(tmp_path: Path) -> None:
    path = tmp_path / "memory"
    path.mkdir()
    (path / "chroma.sqlite3").write_bytes(b"this is not a database" * 100)

    with pytest.raises(MemoryStoreError) as info:
        MemoryStore(path, encoder=HashingEncoder(dim=DIM))

    message = str(info.value)
    assert str(path) in message
    assert "corrupted" in message
    assert "Fix:" in message


def test_an_unreachable_server_is_a_memory_store_error() -> None:
    # Port 1 on localhost: nothing listens there, the connection is refused at once.
    with pytest.raises(
        MemoryStoreError, match=r"Chroma server is running at http://127\.0\.0\.1:1\b"
    ):
        MemoryStore.connect("127.0.0.1", 1, encoder=HashingEncoder(dim=DIM))


def test_closed_store_refuses_use(tmp_path: Path) -> None:
    store = MemoryStore(tmp_path / "m", encoder=HashingEncoder(dim=DIM))
    store.close()
    store.close()  # idempotent
    with pytest.raises(MemoryStoreError, match="closed"):
        store.count()


def test_importing_lamina_memory_modules_does_not_import_chromadb() -> None:
    code = (
        "import sys, lamina.memory_store.chroma_store, lamina.layers.memory, "
        "lamina.tools.memory_tools; print('chromadb' in sys.modules)"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=120
    )
    assert out.stdout.strip() == "False"
