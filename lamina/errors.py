"""The lamina error tree, split by whose fault an error is.

* :class:`ConfigError` - a developer mistake (unknown model name, bad route, bad tool); raised
  when something is built, before anything runs.
* :class:`InputError` - the request a user sent is not acceptable (empty, too large, not UTF-8).
* :class:`ModelError`, :class:`ToolError`, :class:`MemoryStoreError`, :class:`CheckpointError` -
  runtime failures of a model, a tool, the memory store or the checkpoint store.

Every message says what was expected, what was found, and what to do about it.
"""

from __future__ import annotations

__all__ = [
    "AllModelsFailedError",
    "CheckpointError",
    "ChecksumError",
    "ConfigError",
    "InputError",
    "LaminaError",
    "MemoryStoreError",
    "ModelError",
    "ModelFileError",
    "ModelOutputError",
    "PullError",
    "ThreadBusyError",
    "ToolError",
    "UnknownModelError",
]


class LaminaError(Exception):
    """Base class of every error lamina raises on purpose."""


class ConfigError(LaminaError):
    """A developer mistake found while building an agent, a route, a tool or a model spec."""


class UnknownModelError(ConfigError, KeyError):
    """A model name that is neither in the catalog nor registered by the user."""

    def __init__(self, name: str, known: list[str]) -> None:
        self.name = name
        self.known = sorted(known)
        super().__init__(
            f"Unknown model {name!r}; known: {', '.join(self.known) or '(none)'}. "
            "Use one of these names, or a ModelSpec(path='file.gguf') for your own GGUF file."
        )

    def __str__(self) -> str:  # KeyError would add quotes around the message
        return str(self.args[0])


class InputError(LaminaError, ValueError):
    """A request that the input layer refuses (empty, too long, not valid UTF-8, wrong type)."""


class ModelError(LaminaError):
    """A model could not be loaded or did not produce usable output."""


class ModelFileError(ModelError):
    """A model file is missing, unreadable or not a GGUF file."""


class ModelOutputError(ModelError):
    """A model's output was cut off or does not fit what was asked for (JSON schema, tool call)."""


class AllModelsFailedError(ModelError):
    """Every model a layer may use (the route's model and its fallbacks) failed."""


class PullError(ModelError):
    """A model could not be fetched from the package index."""


class ChecksumError(PullError):
    """A fetched or assembled model file does not have the expected sha256."""


class ToolError(LaminaError):
    """A tool failed at run time (exception, timeout, invalid arguments)."""


class MemoryStoreError(LaminaError):
    """The long-term memory store failed (unreachable server, unreadable directory, bad record)."""


class CheckpointError(LaminaError):
    """The checkpoint store (threads' saved state) cannot be used: a damaged or unopenable file."""


class ThreadBusyError(LaminaError):
    """Another run holds the conversation thread and did not finish within the wait allowed.

    A conflict, not a failure: runs on one thread take turns (each reads the thread's history,
    runs and writes it back), so a second run waits for the first and, past the wait, is
    refused rather than forking the thread's history.
    """

    def __init__(self, thread_id: str, waited: float) -> None:
        self.thread_id = thread_id
        self.waited = waited
        super().__init__(
            f"Thread {thread_id!r} is busy: another run on it did not finish within "
            f"{waited:g} s; expected one run per thread at a time. Fix: send the request again "
            "once that run has answered, use another thread id, or wait longer "
            "(LAMINA_THREAD_WAIT_SECONDS, `thread_wait_seconds` in lamina.toml)."
        )
