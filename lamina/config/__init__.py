"""lamina's configuration: settings, agent options and process tuning.

`settings.py` holds `Settings` (`LAMINA_*` environment variables and `lamina.toml`: where state
and models live, threads, seed, memory budget, KV and step caches) and `get_settings()`.
`options.py` holds `AgentOptions`, the typed options of every node of the agent graph (what
`Agent(**options)` and the top level of `lamina.toml` accept). `process.py` tunes the process for
llama.cpp (glibc's malloc, OpenMP spinning). This package imports nothing else of lamina but
`lamina.errors`, so every layer may use it.
"""

from lamina.config.options import (
    AgentOptions,
    Guards,
    PromptTemplates,
    StepVerifier,
    expected_type,
    unknown_name_message,
)
from lamina.config.process import bounded_malloc, bounded_openmp_spin, release_free_heap
from lamina.config.settings import (
    Settings,
    available_cores,
    default_home,
    default_models_dir,
    find_config,
    get_settings,
    parse_setting_flags,
    read_config_file,
)

__all__ = [
    "AgentOptions",
    "Guards",
    "PromptTemplates",
    "Settings",
    "StepVerifier",
    "available_cores",
    "bounded_malloc",
    "bounded_openmp_spin",
    "default_home",
    "default_models_dir",
    "expected_type",
    "find_config",
    "get_settings",
    "parse_setting_flags",
    "read_config_file",
    "release_free_heap",
    "unknown_name_message",
]
