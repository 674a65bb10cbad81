"""Everything that touches llama.cpp directly.

`chat` is the LangChain chat model over an in-process `llama_cpp.Llama`; `decoding` holds its
constrained answers (two-stage tool calls, structured output) and `completion` one completion
with its usage. `loader` loads a GGUF file for the model pool (checks, thread and malloc bounds,
then the KV prefix cache of `kv_cache`); `logs` routes llama.cpp's log lines into Python logging;
`scoring` gives the log-probability of each of a few continuations (the router's LLM fallback).
The few llama-cpp-python internals lamina relies on (`Llama._model`, ctypes logits,
`Llama.n_tokens`) are reached only through `internals`, pinned to the version it was written for.
`build_info` reads what the installed llama-cpp-python was compiled with and what this CPU offers,
and names the combinations known to crash.

The names below are imported on first use, so `import lamina.models.llama` loads neither llama_cpp
nor LangChain.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from lamina.models.llama.chat import PARALLEL_TOOL_CALLS, LlamaChatModel
    from lamina.models.llama.loader import (
        ALLOW_MODEL_LOADS,
        attach_kv_cache,
        check_gguf_file,
        evaluate_last_token_alone,
        load_llama,
    )
    from lamina.models.llama.logs import LLAMA_LOGGER_NAME, route_llama_logs
    from lamina.models.llama.scoring import path_logprobs

__all__ = [
    "ALLOW_MODEL_LOADS",
    "LLAMA_LOGGER_NAME",
    "PARALLEL_TOOL_CALLS",
    "LlamaChatModel",
    "attach_kv_cache",
    "check_gguf_file",
    "evaluate_last_token_alone",
    "load_llama",
    "path_logprobs",
    "route_llama_logs",
]

_LAZY = {
    "ALLOW_MODEL_LOADS": "lamina.models.llama.loader",
    "LLAMA_LOGGER_NAME": "lamina.models.llama.logs",
    "PARALLEL_TOOL_CALLS": "lamina.models.llama.chat",
    "LlamaChatModel": "lamina.models.llama.chat",
    "attach_kv_cache": "lamina.models.llama.loader",
    "check_gguf_file": "lamina.models.llama.loader",
    "evaluate_last_token_alone": "lamina.models.llama.loader",
    "load_llama": "lamina.models.llama.loader",
    "path_logprobs": "lamina.models.llama.scoring",
    "route_llama_logs": "lamina.models.llama.logs",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)
