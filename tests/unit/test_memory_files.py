"""What the memory store leaves on disk: forget purges text, damage and permissions are reported.

These tests read the store directory's bytes, lock it from a second process and break its files
on purpose. They use the hashing test encoder with random-word texts, so that Chroma's HNSW index
behaves as it does with real embeddings (distinct vectors).
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import sqlite3
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest

from lamina.errors import MemoryStoreError
from lamina.models.testing import HashingEncoder
from lamina.stores.memory import LOCK_FILE, MemoryStore

SECRET = b"zebrasecret4242"
# Save the vector index every 100 writes (Chroma's default: 1,000), so that a test reaches a
# saved index with a few hundred memories.
SMALL_SYNC = {"sync_threshold": 100, "batch_size": 100}


def _encoder() -> HashingEncoder:
    return HashingEncoder(dim=4096)


def _texts(n: int, prefix: str = "m") -> list[str]:
    """Distinct texts of four random-looking words each (low mutual similarity)."""
    return [f"{prefix}{i}a {prefix}{i * 7}b {prefix}{i * 13}c {prefix}{i + 5}d" for i in range(n)]


def _files_containing(root: Path, needle: bytes) -> list[str]:
    return sorted(
        str(f.relative_to(root))
        for f in root.rglob("*")
        if f.is_file() and needle in f.read_bytes()
    )


def _hashes(root: Path) -> dict[str, str]:
    return {
        str(f.relative_to(root)): hashlib.sha256(f.read_bytes()).hexdigest()
        for f in sorted(root.rglob("*"))
        if f.is_file() and f.name != LOCK_FILE
    }


def _run(code: str, *prefix: str) -> dict[str, Any]:
    out = subprocess.run(
        [*prefix, sys.executable, "-c", textwrap.dedent(code)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert out.returncode == 0, out.stderr
    result: dict[str, Any] = json.loads(out.stdout.strip().splitlines()[-1])
    return result


# The child opens the store and counts (the default encoder is built but never loads a model).
_OPEN_IN_CHILD = """
import json, logging
from lamina.errors import MemoryStoreError
from lamina.stores.memory import MemoryStore
logging.disable(logging.WARNING)  # the encoder differs from the parent's hashing one
try:
    s = MemoryStore({path!r}, lock_timeout=0.3)
    print(json.dumps({{"count": s.count("ada")}}))
    s.close()
except MemoryStoreError as e:
    print(json.dumps({{"error": str(e)}}))
"""


# --- forget deletes for real ----------------------------------------------------------------


def test_forget_removes_the_text_from_every_file_and_keeps_the_rest(tmp_path: Path) -> None:
    path = tmp_path / "memory"
    store = MemoryStore(path, encoder=_encoder())
    others = store.add(_texts(40), "ada")
    (secret,) = store.add(f"My PIN is {SECRET.decode()}.", "ada")
    store.add(_texts(5, prefix="later"), "ada")
    assert _files_containing(path, SECRET) == ["chroma.sqlite3"]  # the scan sees stored text

    assert store.forget([secret], user_id="ada") == 1

    assert _files_containing(path, SECRET) == []
    assert _files_containing(path, b"zebrasec") == []
    assert store.count("ada") == 45
    store.add("A memory written after the purge.", "ada")  # the open store goes on working
    store.close()
    assert _files_containing(path, SECRET) == []

    reopened = MemoryStore(path, encoder=_encoder())
    try:
        assert reopened.count("ada") == 46
        for text, mid in zip(_texts(40), others, strict=True):
            assert reopened.search(text, "ada", k=1)[0].id == mid
        assert all(SECRET.decode() not in m.text for m in reopened.search("PIN", "ada", k=50))
    finally:
        reopened.close()


def test_without_purge_the_text_stays_on_disk_until_purge(tmp_path: Path) -> None:
    path = tmp_path / "memory"
    with MemoryStore(path, encoder=_encoder()) as store:
        store.add(_texts(10), "ada")
        (secret,) = store.add(f"My PIN is {SECRET.decode()}.", "ada")

        store.forget([secret], user_id="ada", purge=False)

        # Why forget purges: Chroma's delete alone leaves the text in its write-ahead log (and,
        # when the heap held it, in the unused capacity of a saved vector index).
        assert store.get([secret], user_id="ada") == []
        assert "chroma.sqlite3" in _files_containing(path, SECRET)

        report = store.purge()

        assert _files_containing(path, SECRET) == []
        assert report["log_entries_removed"] >= 1
        assert report["bytes_after"] > 0
        assert store.count("ada") == 10


def test_purge_drops_the_old_wording_of_a_merged_memory(tmp_path: Path) -> None:
    path = tmp_path / "memory"
    with MemoryStore(path, encoder=_encoder(), dedupe_threshold=0.8) as store:
        (first,) = store.add("my locker code is qwerty oldcodealpha", "ada")
        (second,) = store.add("my locker code is qwerty newcodebeta", "ada")
        assert first == second
        assert _files_containing(path, b"oldcodealpha") == ["chroma.sqlite3"]

        store.purge()

        assert _files_containing(path, b"oldcodealpha") == []
        assert _files_containing(path, b"newcodebeta") == ["chroma.sqlite3"]
        assert store.get([first], user_id="ada")[0].text.endswith("newcodebeta")


def test_purge_keeps_every_live_vector_once_the_index_is_saved(tmp_path: Path) -> None:
    # Chroma saves its vector index every `sync_threshold` writes and replays its log after
    # that on open; purging must not take away a log entry the replay needs.
    import numpy as np

    path = tmp_path / "memory"
    texts = _texts(150)
    with MemoryStore(path, encoder=_encoder(), hnsw=SMALL_SYNC) as store:
        ids = store.add(texts[:120], "ada")  # saved with the index
        ids += store.add(texts[120:], "ada")  # only in the log
        assert list(path.glob("*/index_metadata.pickle"))
        doomed = set(ids[::7])  # from both
        assert store.forget(sorted(doomed), user_id="ada") == len(doomed)

    with MemoryStore(path, encoder=_encoder()) as store:
        assert store.count("ada") == 150 - len(doomed)
        kept = {i: t for t, i in zip(texts, ids, strict=True) if i not in doomed}
        col = store._collection_of("ada", create=False)
        got = col.get(ids=list(kept), include=["embeddings"])  # read from the vector index
        assert sorted(got["ids"]) == sorted(kept)
        expected = _encoder().encode([kept[i] for i in got["ids"]])
        assert np.allclose(np.asarray(got["embeddings"]), expected, atol=1e-5)
        assert store.get(sorted(doomed)[:5], user_id="ada") == []


# --- one process per embedded directory -----------------------------------------------------


def test_a_second_process_is_refused_and_pointed_to_server_mode(tmp_path: Path) -> None:
    path = tmp_path / "memory"
    store = MemoryStore(path, encoder=_encoder())
    store.add("My name is Ada.", "ada")
    code = _OPEN_IN_CHILD.format(path=str(path))

    refused = _run(code)

    assert "in use by another process" in refused["error"]
    assert f"pid {os.getpid()}" in refused["error"]
    assert "chroma run" in refused["error"]
    store.add("I live in Paris.", "ada")  # the holder is unaffected
    store.close()

    assert _run(code) == {"count": 2}


def test_stores_of_one_process_share_a_directory(tmp_path: Path) -> None:
    path = tmp_path / "memory"
    first = MemoryStore(path, encoder=_encoder())
    second = MemoryStore(path, encoder=_encoder())
    first.add("My name is Ada.", "ada")
    assert second.count("ada") == 1
    first.close()
    second.add("I live in Paris.", "ada")  # still open after the other one closed
    assert second.count("ada") == 2
    second.close()


# --- a read-only or damaged store -----------------------------------------------------------


def _without_file_permission_override() -> list[str]:
    """A command prefix under which permission bits apply (root ignores them otherwise)."""
    if os.geteuid() != 0:
        return []
    setpriv = shutil.which("setpriv")
    if setpriv is None:
        pytest.skip("running as root without setpriv: a read-only directory cannot be simulated")
    caps = "-dac_override,-dac_read_search"
    return [setpriv, f"--inh-caps={caps}", f"--bounding-set={caps}"]


def _chmod_tree(root: Path, dirs: int, files: int) -> None:
    for p in [root, *root.rglob("*")]:
        p.chmod(dirs if p.is_dir() else files)


def test_a_read_only_store_is_a_clear_error_and_loses_nothing(tmp_path: Path) -> None:
    prefix = _without_file_permission_override()
    path = tmp_path / "memory"
    with MemoryStore(path, encoder=_encoder()) as store:
        store.add(["My name is Ada.", "I live in Paris."], "ada")
    before = _hashes(path)
    _chmod_tree(path, 0o555, 0o444)
    try:
        result = _run(_OPEN_IN_CHILD.format(path=str(path)), *prefix)
    finally:
        _chmod_tree(path, 0o755, 0o644)

    message = result["error"]
    assert "read-only" in message
    assert str(path) in message
    assert "intact" in message
    assert "Fix:" in message
    assert _hashes(path) == before
    with MemoryStore(path, encoder=_encoder()) as store:
        assert store.count("ada") == 2


def test_a_damaged_vector_index_is_reported_and_other_users_still_work(tmp_path: Path) -> None:
    path = tmp_path / "memory"
    with MemoryStore(path, encoder=_encoder(), hnsw=SMALL_SYNC) as store:
        store.add(_texts(150), "ada")  # past 100 writes: the index is saved to disk
        store.add("I like tea.", "bob")
        ada = store._collection_of("ada", create=False)
        segment = next(
            d for d in path.iterdir() if (d / "index_metadata.pickle").exists()
        )  # only ada's index has been saved
        assert ada is not None
    data = segment / "data_level0.bin"
    data.write_bytes(data.read_bytes()[:1000])
    before = _hashes(segment)

    with MemoryStore(path, encoder=_encoder()) as store:
        with pytest.raises(MemoryStoreError) as info:
            store.search("anything", "ada")
        assert store.search("tea", "bob", k=1)[0].text == "I like tea."

    message = str(info.value)
    assert "corrupted" in message
    assert "'ada'" in message
    assert "backup" in message
    assert "Fix:" in message
    assert _hashes(segment) == before  # lamina neither "repaired" nor deleted the index
    # The texts, which the message points to, are all still in the database.
    con = sqlite3.connect(path / "chroma.sqlite3")
    (n,) = con.execute(
        "SELECT count(*) FROM embedding_metadata WHERE key = 'chroma:document'"
    ).fetchone()
    con.close()
    assert n == 151


def test_a_corrupted_database_is_reported_and_left_as_it_was(tmp_path: Path) -> None:
    path = tmp_path / "memory"
    with MemoryStore(path, encoder=_encoder()) as store:
        store.add(_texts(20), "ada")
    db = path / "chroma.sqlite3"
    raw = db.read_bytes()
    # Page 1 after its header holds the schema: without it nothing can be read.
    db.write_bytes(raw[:100] + b"\xa5" * 3996 + raw[4096:])
    before = _hashes(path)

    with pytest.raises(MemoryStoreError, match="corrupted") as info:
        MemoryStore(path, encoder=_encoder())

    assert "move it away" in str(info.value)
    assert _hashes(path) == before
    # The failed open released the directory: a fresh store elsewhere is unaffected.
    with MemoryStore(tmp_path / "other", encoder=_encoder()) as fresh:
        assert fresh.count() == 0
