"""MemoryStore over real embedded Chroma, with a tiny deterministic bag-of-words encoder."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from lamina.errors import MemoryStoreError
from lamina.models.testing import HashingEncoder
from lamina.stores.memory import (
    LaminaEmbeddingFunction,
    Memory,
    MemoryItem,
    MemoryStore,
)

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
    col = store._collection_of("ada", create=False)
    assert col.configuration_json["embedding_function"]["name"] == "lamina"
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
        "import sys, lamina.stores.memory, lamina.layers.memory, "
        "lamina.layers.memory.tools; print('chromadb' in sys.modules)"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=120
    )
    assert out.stdout.strip() == "False"


# --- ranking: similarity and recency ----------------------------------------------------------


def _add_at(store: MemoryStore, monkeypatch: pytest.MonkeyPatch, when: datetime, text: str) -> str:
    import lamina.stores.memory.writer as memory_writer

    monkeypatch.setattr(memory_writer, "utc_now", lambda: when)
    (mid,) = store.add(text, "ada")
    monkeypatch.undo()
    return mid


def test_recency_weight_ranks_a_newer_memory_above_an_older_more_similar_one(
    store: MemoryStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    now = datetime.now(UTC)
    old = _add_at(store, monkeypatch, now - timedelta(days=365), "I live in Paris.")
    new = store.add("I moved to Lyon.", "ada")[0]
    query = "where do I live"  # shares 2 of 4 words with the old memory, 1 with the new one

    plain = store.search(query, "ada", k=2)
    recent = store.search(query, "ada", k=2, recency_weight=0.5, half_life_days=30)

    assert [m.id for m in plain] == [old, new]
    assert [m.id for m in recent] == [new, old]
    by_id = {m.id: m for m in recent}
    assert by_id[old].similarity == pytest.approx(0.5, abs=1e-4)
    assert by_id[new].similarity == pytest.approx(0.25, abs=1e-4)
    # score = (1 - w) * similarity + w * 0.5 ** (age_days / half_life_days)
    assert by_id[new].score == pytest.approx(0.5 * 0.25 + 0.5 * 1.0, abs=1e-3)
    assert by_id[old].score == pytest.approx(0.5 * 0.5 + 0.5 * 0.5 ** (365 / 30), abs=1e-3)
    assert all(m.score == m.similarity for m in plain)


def test_min_score_applies_to_similarity_so_recency_never_lets_an_irrelevant_memory_in(
    store: MemoryStore,
) -> None:
    store.add(["I live in Paris.", "My dog is called Rex."], "ada")

    hits = store.search("where do I live", "ada", k=5, min_score=0.3, recency_weight=1.0)

    assert [m.text for m in hits] == ["I live in Paris."]
    assert hits[0].score == pytest.approx(1.0, abs=1e-3)  # all recency, but it is relevant


def test_the_stores_default_recency_weight_applies_and_is_validated(tmp_path: Path) -> None:
    from lamina.errors import ConfigError

    s = MemoryStore(tmp_path / "m", encoder=HashingEncoder(dim=DIM), recency_weight=0.2)
    try:
        s.add("I live in Paris.", "ada")
        (hit,) = s.search("where do I live", "ada", k=1)
        assert hit.score == pytest.approx(0.8 * 0.5 + 0.2, abs=1e-3)
        with pytest.raises(MemoryStoreError, match="recency_weight"):
            s.search("where", "ada", recency_weight=1.5)
    finally:
        s.close()
    for bad in ({"recency_weight": -0.1}, {"half_life_days": 0}, {"dedupe_threshold": 0}):
        with pytest.raises(ConfigError):
            MemoryStore(tmp_path / "bad", encoder=HashingEncoder(dim=DIM), **bad)  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="collection name"):
        MemoryStore(tmp_path / "bad", encoder=HashingEncoder(dim=DIM), collection="a b")
    with pytest.raises(ConfigError, match="Unknown HNSW settings"):
        MemoryStore(tmp_path / "bad", encoder=HashingEncoder(dim=DIM), hnsw={"space": "l2"})


def test_search_filters_by_thread_through_where(store: MemoryStore) -> None:
    store.add("I like green tea.", "ada", thread_id="t1")
    store.add("I like black tea.", "ada", thread_id="t2")

    hits = store.search("tea", "ada", k=5, where={"thread_id": "t2"})

    assert [m.text for m in hits] == ["I like black tea."]
    with pytest.raises(MemoryStoreError, match="user_id"):
        store.search("tea", "ada", where={"user_id": "bob"})


# --- bad input: nothing already stored is lost ------------------------------------------------


def test_text_over_the_size_limit_is_refused_and_the_batch_is_not_written(
    store: MemoryStore,
) -> None:
    from lamina.stores.memory import MAX_TEXT_CHARS

    (kept,) = store.add("My sister lives in Lyon.", "ada")
    longest = "word " * (MAX_TEXT_CHARS // 5)

    with pytest.raises(MemoryStoreError, match=f"at most {MAX_TEXT_CHARS} characters") as info:
        store.add(["I like tea.", longest + "x" * 10], "ada")

    assert "Nothing was stored" in str(info.value)
    assert "Fix:" in str(info.value)
    assert store.count("ada") == 1
    assert store.get([kept], user_id="ada")[0].text == "My sister lives in Lyon."
    assert len(store.add(longest.strip(), "ada")) == 1  # exactly at the limit is fine


def test_the_size_limit_is_configurable(tmp_path: Path) -> None:
    s = MemoryStore(tmp_path / "m", encoder=HashingEncoder(dim=DIM), max_chars=20)
    try:
        s.add("Short enough.", "ada")
        with pytest.raises(MemoryStoreError, match="at most 20 characters"):
            s.add("This sentence is longer than twenty.", "ada")
    finally:
        s.close()


def test_a_bad_item_in_a_large_batch_writes_nothing(store: MemoryStore) -> None:
    texts = [f"memory a{i} b{i} c{i}" for i in range(1200)]

    with pytest.raises(MemoryStoreError, match="empty"):
        store.add([*texts, "  "], "ada")

    assert store.count() == 0


# --- batch writes -----------------------------------------------------------------------------


def test_large_batches_are_written_in_rounds_and_deduplicated_across_them(
    store: MemoryStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    import lamina.stores.memory.writer as memory_writer

    monkeypatch.setattr(memory_writer, "WRITE_BATCH", 512)  # three rounds for 1,100 items
    texts = [f"memory a{i} b{i} c{i}" for i in range(1100)]
    texts[1050] = texts[3]  # a duplicate in a later round of the same call

    ids = store.add(texts, "ada")

    assert len(ids) == 1100
    assert ids[1050] == ids[3]
    assert len(set(ids)) == 1099
    assert store.count("ada") == 1099
    calls = store.encoder.calls  # type: ignore[attr-defined]
    assert [len(call) for call in calls] == [512, 512, 76]


def test_precomputed_vectors_skip_the_encoder(store: MemoryStore) -> None:
    texts = ["I live in Paris.", "My dog is called Rex."]
    vectors = HashingEncoder(dim=DIM).encode(texts) * 3.0  # not normalised: the store does it
    encoder: HashingEncoder = store.encoder  # type: ignore[assignment]

    ids = store.add(texts, "ada", vectors=vectors)

    assert encoder.calls == []
    (hit,) = store.search("I live in Paris", "ada", k=1)
    assert hit.id == ids[0]
    assert hit.similarity == pytest.approx(1.0, abs=1e-4)
    with pytest.raises(MemoryStoreError, match="one embedding row per item"):
        store.add(texts, "ada", vectors=vectors[:1])


def test_in_batch_near_duplicates_chain_to_the_first_memory(tmp_path: Path) -> None:
    s = MemoryStore(tmp_path / "m", encoder=HashingEncoder(dim=4096), dedupe_threshold=0.8)
    try:
        ids = s.add(
            [
                "my locker code is qwerty alpha",
                "my locker code is qwerty beta",
                "the weather is nice",
            ],
            "ada",
            importance=0.3,
        )
        assert ids[0] == ids[1] != ids[2]
        (m,) = s.get([ids[0]], user_id="ada")
        assert m.text == "my locker code is qwerty beta"  # the newest wording wins
    finally:
        s.close()


# --- users ------------------------------------------------------------------------------------


def test_any_user_id_works_and_stats_and_users_report_per_user(store: MemoryStore) -> None:
    odd = "ada@example.com / Zoë ✓"
    store.add(["I like tea.", "My cat is Tom."], odd)
    store.add("Talked about tea.", "bob", kind="episode")
    store.add("Temporary.", "carol")
    store.forget(user_id="carol")

    assert store.users() == sorted([odd, "bob"])
    assert store.search("tea", odd, k=1)[0].user_id == odd
    mine = store.stats(odd)
    assert (mine["count"], mine["kinds"], mine["user_id"]) == (2, {"fact": 2}, odd)
    assert "users" not in mine
    assert store.stats()["users"] == {odd: 2, "bob": 1}
    assert store.stats("nobody")["count"] == 0
    assert store.count("nobody") == 0
    assert store.forget(user_id="nobody") == 0
