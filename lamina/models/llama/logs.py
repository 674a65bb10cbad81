"""Route llama.cpp's own log output into Python logging.

llama.cpp prints model-load and context details straight to stderr; llama-cpp-python's default
callback does the same. lamina sends them to the ``lamina.llama_cpp`` logger at DEBUG level instead,
so a normal load or generation prints nothing and an application that wants the details turns that
logger on.
"""

from __future__ import annotations

import ctypes
import logging
import threading
from typing import Any

__all__ = ["LLAMA_LOGGER_NAME", "route_llama_logs"]

LLAMA_LOGGER_NAME = "lamina.llama_cpp"

_llama_logger = logging.getLogger(LLAMA_LOGGER_NAME)
_lock = threading.Lock()
_install_lock = threading.Lock()
_buffer: list[str] = []
# The ctypes callback must outlive every call llama.cpp makes to it: a collected callback
# is a dangling function pointer, and the next log line would crash the process.
_callback: Any = None


def _on_log(level: int, text: bytes | None, user_data: Any) -> None:
    if not text:
        return
    message = text.decode("utf-8", errors="replace")
    # llama.cpp logs lines in pieces; emit whole lines only.
    with _lock:
        _buffer.append(message)
        if not message.endswith("\n"):
            return
        line = "".join(_buffer).rstrip("\n")
        _buffer.clear()
    if line and _llama_logger.isEnabledFor(logging.DEBUG):
        _llama_logger.debug("%s", line)


def route_llama_logs() -> None:
    """Install (once) a llama.cpp log callback that forwards to ``lamina.llama_cpp`` (DEBUG).

    Safe to call any number of times and from any thread.
    """
    global _callback
    with _install_lock:
        if _callback is not None:
            return
        import llama_cpp

        callback = llama_cpp.llama_log_callback(_on_log)
        llama_cpp.llama_log_set(callback, ctypes.c_void_p(0))
        _callback = callback
