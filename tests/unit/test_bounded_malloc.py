"""`bounded_malloc`: glibc's mmap threshold and arena count fixed at run time, once."""

from __future__ import annotations

import subprocess
import sys

import pytest

SCRIPT = """
import ctypes, ctypes.util, json, os, sys
from lamina.config import bounded_malloc
first = bounded_malloc()
second = bounded_malloc()
print(json.dumps({"first": first, "second": second}))
"""


def _run(env_extra: dict[str, str]) -> dict[str, bool]:
    import json
    import os

    env = {k: v for k, v in os.environ.items() if not k.startswith("MALLOC_")}
    env.update(env_extra)
    out = subprocess.run(
        [sys.executable, "-c", SCRIPT], capture_output=True, text=True, env=env, check=True
    )
    result: dict[str, bool] = json.loads(out.stdout)
    return result


@pytest.mark.skipif(sys.platform != "linux", reason="glibc's mallopt is Linux-only")
def test_applied_once_on_glibc() -> None:
    assert _run({}) == {"first": True, "second": True}


@pytest.mark.skipif(sys.platform != "linux", reason="glibc's mallopt is Linux-only")
def test_a_threshold_the_user_set_wins() -> None:
    assert _run({"MALLOC_MMAP_THRESHOLD_": "262144"}) == {"first": False, "second": False}
