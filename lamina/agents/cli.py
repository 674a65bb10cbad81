"""Deprecated: `lamina run`/`lamina resume` moved to `lamina.cli.run`."""

import warnings

from lamina.cli.run import ask_approval, build_agent, print_trace, resume_command, run_command

__all__ = ["ask_approval", "build_agent", "print_trace", "resume_command", "run_command"]

warnings.warn(
    "lamina.agents.cli is deprecated; import from lamina.cli.run", DeprecationWarning, stacklevel=2
)
