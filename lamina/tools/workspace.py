"""File tools confined to one directory (the agent's workspace).

    >>> from lamina.tools.workspace import workspace_tools
    >>> tools = workspace_tools("/tmp/my-workspace")  # doctest: +SKIP
    >>> [t.name for t in tools]  # doctest: +SKIP
    ['list_files', 'read_file', 'write_file']

Every path the model sends must be relative to the workspace; it is resolved (symbolic links
included) before use, and a path that lands outside the workspace (`../`, a link out of it) is
refused with a `ToolError`, which the execution layer hands back to the model. Absolute paths are
refused too, even ones inside the workspace: the model should not learn where the workspace is.
A file larger than `max_file_bytes` is refused before it is read, so a huge file never reaches
memory; a readable file longer than `max_read_chars` is cut with a marker.

The check and the use cannot be told apart by a race: after the path is checked, the file is
opened relative to a descriptor of the workspace, one folder at a time with `O_NOFOLLOW`, so a
folder swapped for a link in between is refused instead of followed. A file with more than one
hard link is neither read nor written (a link made inside the workspace to a file outside it
would otherwise expose or overwrite that file), and a write replaces the file atomically
(a temporary file renamed over it), so a crash never leaves half a file.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Annotated

from langchain_core.tools import BaseTool

from lamina.errors import ConfigError, ToolError
from lamina.tools.decorator import tool

__all__ = ["workspace_tools"]

_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)
_DIRECTORY = getattr(os, "O_DIRECTORY", 0)


@contextmanager
def _folder_fd(base: Path, parts: tuple[str, ...], *, create: bool = False) -> Iterator[int]:
    """A descriptor of the folder `base/parts...`, opened one step at a time without following
    links (`create` makes missing folders). Raises `ToolError` when a step is not a folder."""
    fd = os.open(base, os.O_RDONLY | _DIRECTORY)
    try:
        for part in parts:
            if create:
                with suppress(FileExistsError):
                    os.mkdir(part, dir_fd=fd)
            try:
                step = os.open(part, os.O_RDONLY | _DIRECTORY | _NOFOLLOW, dir_fd=fd)
            except OSError as exc:  # ELOOP/ENOTDIR: swapped for a link or a file after the check
                raise ToolError(
                    f"{'/'.join(parts)!r} is not a folder in the workspace ({exc.strerror})."
                ) from None
            os.close(fd)
            fd = step
        yield fd
    finally:
        os.close(fd)


def _refuse_linked(st: os.stat_result, path: str) -> None:
    if st.st_nlink > 1:
        raise ToolError(
            f"{path!r} has {st.st_nlink} hard links; expected a file with one. A hard link can "
            "reach a file outside the workspace, so lamina neither reads nor writes it. Fix: "
            "copy the file into the workspace instead of linking it."
        )


def workspace_tools(
    root: str | Path,
    *,
    allow_write: bool = True,
    approve_writes: bool = True,
    max_read_chars: int = 20_000,
    max_write_chars: int = 100_000,
    max_entries: int = 200,
    max_file_bytes: int = 1_000_000,
) -> list[BaseTool]:
    """Tools to list, read and (optionally) write text files under `root`.

    Args:
        root: The workspace directory; created if missing.
        allow_write: Include `write_file`. Writes overwrite existing files.
        approve_writes: `write_file` needs a human's approval before each call (the run
            pauses; see `Agent.resume`). On by default: a tool that can overwrite a user's
            file never runs unattended unless the user says so.
        max_read_chars: `read_file` returns at most this many characters (with a marker).
        max_write_chars: `write_file` refuses longer content.
        max_entries: `list_files` lists at most this many entries.
        max_file_bytes: `read_file` refuses larger files (before reading them).

    Returns:
        `[list_files, read_file]`, plus `write_file` when `allow_write`.

    Raises:
        ConfigError: `root` exists and is not a directory, or a limit is not positive.
    """
    for label, value in (
        ("max_read_chars", max_read_chars),
        ("max_write_chars", max_write_chars),
        ("max_entries", max_entries),
        ("max_file_bytes", max_file_bytes),
    ):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ConfigError(f"{label} must be a positive integer, found {value!r}.")
    base = Path(root).expanduser()
    if base.exists() and not base.is_dir():
        raise ConfigError(
            f"Workspace root {base} is a file; expected a directory. Fix: pass a directory path."
        )
    base.mkdir(parents=True, exist_ok=True)
    base = base.resolve()

    def inside(path: str) -> Path:
        if Path(path).is_absolute() or path == "~" or path.startswith("~/"):
            raise ToolError(
                f"Path {path!r} is absolute; expected a path relative to the workspace, e.g. "
                "'notes.txt' or 'data/report.md'."
            )
        try:
            target = (base / path).resolve()
        except (OSError, ValueError) as exc:  # a NUL byte, a link loop
            raise ToolError(f"Path {path!r} cannot be used ({exc}).") from None
        if not target.is_relative_to(base):
            raise ToolError(
                f"Path {path!r} is outside the workspace; expected a path relative to the "
                "workspace, e.g. 'notes.txt' or 'data/report.md'."
            )
        return target

    @tool
    def list_files(
        directory: Annotated[str, "A folder inside the workspace; '.' for the top."] = ".",
    ) -> str:
        """List the files and folders in a workspace folder (folders end with '/')."""
        folder = inside(directory)
        if not folder.is_dir():
            raise ToolError(f"{directory!r} is not a folder in the workspace.")
        entries = sorted(folder.iterdir())
        names = [
            str(p.relative_to(base)) + ("/" if p.is_dir() else "") for p in entries[:max_entries]
        ]
        if len(entries) > max_entries:
            names.append(f"[... {len(entries) - max_entries} more entries not shown]")
        return "\n".join(names) if names else "(empty)"

    @tool
    def read_file(path: Annotated[str, "The file's path inside the workspace."]) -> str:
        """Read a text file from the workspace."""
        target = inside(path)
        if not target.is_file():
            raise ToolError(f"No file {path!r} in the workspace; call list_files to see what is.")
        *folders, name = target.relative_to(base).parts
        with _folder_fd(base, tuple(folders)) as dir_fd:
            try:
                fd = os.open(name, os.O_RDONLY | _NOFOLLOW, dir_fd=dir_fd)
            except OSError as exc:
                raise ToolError(f"{path!r} cannot be opened ({exc.strerror}).") from None
            with os.fdopen(fd, "rb") as fh:
                st = os.fstat(fh.fileno())
                _refuse_linked(st, path)
                if st.st_size > max_file_bytes:
                    raise ToolError(
                        f"{path!r} is too large to read: {st.st_size} bytes, the limit is "
                        f"{max_file_bytes}. Fix: read a smaller file."
                    )
                data = fh.read(max_file_bytes + 1)
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError:
            raise ToolError(f"{path!r} is not a UTF-8 text file.") from None
        if len(text) > max_read_chars:
            return text[:max_read_chars] + (
                f"\n[... file truncated: showing {max_read_chars} of {len(text)} characters]"
            )
        return text

    @tool(requires_approval=approve_writes)
    def write_file(
        path: Annotated[str, "The file's path inside the workspace."],
        content: Annotated[str, "The full text to write (replaces the file)."],
    ) -> str:
        """Write a text file in the workspace, replacing it if it exists."""
        if len(content) > max_write_chars:
            raise ToolError(
                f"Content too long: {len(content)} characters, the limit is {max_write_chars}."
            )
        target = inside(path)
        if target.is_dir():
            raise ToolError(f"{path!r} is a folder; expected a file path.")
        relative = target.relative_to(base)
        *folders, name = relative.parts
        with _folder_fd(base, tuple(folders), create=True) as dir_fd:
            with suppress(FileNotFoundError):
                _refuse_linked(os.stat(name, dir_fd=dir_fd, follow_symlinks=False), path)
            temp = f".{name}.lamina-{os.getpid()}-{os.urandom(4).hex()}.tmp"
            fd = os.open(
                temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | _NOFOLLOW, 0o644, dir_fd=dir_fd
            )
            try:
                with os.fdopen(fd, "wb") as fh:
                    fh.write(content.encode("utf-8"))
                os.replace(temp, name, src_dir_fd=dir_fd, dst_dir_fd=dir_fd)
            except BaseException:
                os.unlink(temp, dir_fd=dir_fd)
                raise
        return f"Wrote {len(content)} characters to {relative}."

    tools: list[BaseTool] = [list_files, read_file]
    if allow_write:
        tools.append(write_file)
    return tools
