"""Prompts as data: the reasoning layer's prompt templates (`lamina/prompts/<name>.toml`), each
section versioned, so that a changed prompt changes the step-cache keys of its calls."""

from __future__ import annotations

import functools
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from importlib import resources
from typing import Any

from lamina.errors import ConfigError

__all__ = ["PromptSet", "load_prompts"]

_PLACEHOLDER = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)\}")


@dataclass(frozen=True)
class PromptSet:
    """A prompt file of `lamina/prompts/`: sections of templates under one `version`.

    Attributes:
        name: the file's stem, e.g. "reasoning".
        version: the file's `version`; part of every step-cache key.
        sections: the file's tables, e.g. {"plan": {"system": "...", ...}, ...}.
    """

    name: str
    version: str
    sections: Mapping[str, Mapping[str, Any]]

    def get(self, section: str, key: str) -> Any:
        """A raw value; raises `ConfigError` naming what is missing."""
        try:
            return self.sections[section][key]
        except KeyError:
            raise ConfigError(
                f"Prompt file {self.name}.toml: expected [{section}] {key} = ...; not found. "
                f"Fix: add it (sections present: {', '.join(sorted(self.sections))})."
            ) from None

    def render(self, section: str, key: str, **values: Any) -> str:
        """Fill `{name}` placeholders of a template (other braces stay literal, e.g. JSON)."""
        template = str(self.get(section, key))

        def fill(match: re.Match[str]) -> str:
            name = match.group(1)
            if name not in values:
                raise ConfigError(
                    f"Prompt {self.name}.toml [{section}] {key} uses {{{name}}}, but only "
                    f"{sorted(values)} were given. Fix: remove the placeholder or pass it."
                )
            return str(values[name])

        return _PLACEHOLDER.sub(fill, template)

    def template_version(self, section: str) -> str:
        """The string the step cache keys a section's calls under, e.g. "reasoning/1/solve"."""
        return f"{self.name}/{self.version}/{section}"


@functools.cache
def load_prompts(name: str = "reasoning") -> PromptSet:
    """Load `lamina/prompts/<name>.toml` (shipped as package data)."""
    resource = resources.files("lamina").joinpath("prompts", f"{name}.toml")
    try:
        data = tomllib.loads(resource.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(
            f"Prompt file lamina/prompts/{name}.toml not found. "
            "Fix: reinstall lamina (the prompts ship as package data)."
        ) from None
    version = data.pop("version", None)
    if not isinstance(version, str | int) or version == "":
        raise ConfigError(
            f'Prompt file {name}.toml: expected a top-level `version = "..."`; found '
            f"{version!r}. Fix: add one (it keys the step cache)."
        )
    sections = {k: v for k, v in data.items() if isinstance(v, dict)}
    return PromptSet(name=name, version=str(version), sections=sections)


# -- value types -----------------------------------------------------------------------------
