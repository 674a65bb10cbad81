"""A read-only home: `lamina memory stats` and `lamina cache stats` still answer, and write nothing.

The commands run in a child process. As an ordinary user the home is made read-only with
`chmod -R a-w`. Root ignores file modes, so as root the child runs in its own mount namespace
(`unshare --user --map-root-user --mount`) where the home is bind-mounted read-only: writes fail
with EROFS, as on a read-only mount or backup; the test is skipped where unshare is refused.
"""

from __future__ import annotations

import json
import os
import shutil
import stat
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from lamina.models.testing import HashingEncoder
from lamina.stores.memory import MemoryStore
from lamina.stores.step_cache import StepCache

_CHILD = """
import json, sys
import lamina.models.encoder as embeddings
from lamina.models.testing import HashingEncoder
embeddings.default_encoder = lambda: HashingEncoder(dim=512)
from typer.testing import CliRunner
from lamina.cli import app
out = {}
for name, argv in (("memory", ["memory", "stats", "--json"]),
                   ("memory_ada", ["memory", "stats", "--user", "ada", "--json"]),
                   ("cache", ["cache", "stats", "--json"])):
    r = CliRunner().invoke(app, argv)
    out[name] = {"code": r.exit_code, "stdout": r.stdout, "stderr": r.stderr}
print(json.dumps(out))
"""


def _tree(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in root.rglob("*") if p.is_file()}


@pytest.fixture
def home(tmp_path: Path) -> Iterator[Path]:
    yield tmp_path / "home"
    for p in [tmp_path, *tmp_path.rglob("*")]:  # writable again, for pytest's clean-up
        if p.is_dir() and not p.is_symlink():
            p.chmod(p.stat().st_mode | stat.S_IWUSR)


def _read_only_command(home: Path) -> list[str]:
    """The child's command line, with `home` read-only for it."""
    child = [sys.executable, "-c", _CHILD]
    if os.geteuid() != 0:
        for p in [home, *home.rglob("*")]:
            p.chmod(p.stat().st_mode & ~(stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH))
        return child
    unshare = shutil.which("unshare")
    probe = [unshare or "unshare", "--user", "--map-root-user", "--mount", "true"]
    if unshare is None or subprocess.run(probe, capture_output=True, check=False).returncode:
        pytest.skip("running as root without unshare: cannot make the home read-only for root")
    script = 'mount --bind -o ro "$1" "$1" && shift && exec "$@"'
    return [*probe[:-1], "sh", "-c", script, "sh", str(home), *child]


def _run_child(home: Path) -> dict[str, dict[str, object]]:
    scratch = home.parent / "scratch"  # HOME and TMPDIR for the child, writable
    scratch.mkdir()
    env = {
        **os.environ,
        "LAMINA_HOME": str(home),
        "HOME": str(scratch),
        "TMPDIR": str(scratch),
        "HF_HUB_OFFLINE": "1",
        "ANONYMIZED_TELEMETRY": "False",
    }
    proc = subprocess.run(
        _read_only_command(home),
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        cwd=scratch,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    result: dict[str, dict[str, object]] = json.loads(proc.stdout.strip().splitlines()[-1])
    return result


def test_stats_commands_work_in_a_read_only_home(home: Path) -> None:
    with MemoryStore(home / "memory", encoder=HashingEncoder(dim=512)) as store:
        store.add(["Ada likes tea.", "Ada lives in Lyon."], "ada")
        store.add("Bob likes coffee.", "bob", kind="preference")
    cache = StepCache(home / "step_cache.sqlite")
    cache.put("k1", "v1")
    cache.get("k1")
    cache.get("missing")
    cache.close()
    before = _tree(home)

    out = _run_child(home)

    assert out["memory"]["code"] == 0, out["memory"]["stderr"]
    memory = json.loads(str(out["memory"]["stdout"]))
    assert memory["count"] == 3
    assert memory["users"] == {"ada": 2, "bob": 1}
    assert memory["kinds"] == {"fact": 2, "preference": 1}
    assert "read-only" in memory["location"]
    assert out["memory_ada"]["code"] == 0, out["memory_ada"]["stderr"]
    assert json.loads(str(out["memory_ada"]["stdout"]))["count"] == 2
    assert out["cache"]["code"] == 0, out["cache"]["stderr"]
    cache_stats = json.loads(str(out["cache"]["stdout"]))
    assert (cache_stats["entries"], cache_stats["hits"], cache_stats["misses"]) == (1, 1, 1)
    assert _tree(home) == before  # nothing written, created or removed
