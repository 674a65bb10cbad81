"""Where `lamina run` takes its task from: the argument, stdin (`-`) or a file (`--file PATH`).

A long task (a document to summarise) cannot be a command-line argument: Linux refuses one
argument over 128 KiB. `lamina run -` reads it from stdin and `lamina run --file PATH` from a
file; either way the input layer then checks it as it checks any task (UTF-8, not empty, at most
`max_input_chars`).
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import BinaryIO

from lamina.errors import InputError

__all__ = ["MAX_TASK_BYTES", "read_task"]

MAX_TASK_BYTES = 64 * 1024 * 1024
"""Most bytes read from stdin or a task file, so `--file /dev/zero` fails instead of filling RAM.

Far above any task the input layer accepts (`max_input_chars` is 32,000 by default)."""

_USAGE = "`lamina run TASK`, `lamina run -` (the task on stdin) or `lamina run --file PATH`"


def read_task(task: str | None, file: Path | None) -> str:
    """The task text from TASK, `-` (stdin) or `--file PATH`: exactly one of them.

    Raises:
        InputError: none or two of them given; the file is missing, unreadable, a directory, too
            large or not UTF-8 text.
    """
    if task is not None and file is not None:
        raise InputError(
            f"Expected the task once; found both TASK ({task[:40]!r}) and --file {file}. "
            f"Fix: use one of {_USAGE}."
        )
    if file is not None:
        try:
            with file.open("rb") as stream:
                return _decode(_read_bounded(stream, str(file)), str(file))
        except OSError as exc:
            raise InputError(
                f"Expected a readable task file at {file}; could not read it "
                f"({exc.strerror or exc}). Fix: check the path and its permissions."
            ) from None
    if task is None:
        raise InputError(f"Expected a task; found none. Fix: use {_USAGE}.")
    if task == "-":
        stdin: BinaryIO | None = getattr(sys.stdin, "buffer", None)
        if stdin is None:  # a text-only stdin (embedded interpreters, some test runners)
            return sys.stdin.read(MAX_TASK_BYTES)
        return _decode(_read_bounded(stdin, "stdin"), "stdin")
    return task


def _read_bounded(stream: BinaryIO, where: str) -> bytes:
    data = stream.read(MAX_TASK_BYTES + 1)
    if len(data) > MAX_TASK_BYTES:
        raise InputError(
            f"Expected a task of at most {MAX_TASK_BYTES // 2**20} MiB from {where}; found more. "
            "Fix: pass a text file (the input layer accepts max_input_chars characters)."
        )
    return data


def _decode(data: bytes, where: str) -> str:
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InputError(
            f"Expected the task from {where} as UTF-8 text; found bytes that are not (byte "
            f"{exc.start}: {data[exc.start : exc.start + 1]!r}). Fix: convert it, e.g. "
            "`iconv -f latin1 -t utf-8`."
        ) from None
