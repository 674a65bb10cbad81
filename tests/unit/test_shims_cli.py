"""The old paths of the run and serve commands still import, with a DeprecationWarning."""

from __future__ import annotations

import importlib
import sys

import pytest


@pytest.mark.parametrize(
    ("old", "new", "name"),
    [
        ("lamina.agents.cli", "lamina.cli.run", "run_command"),
        ("lamina.agents.cli", "lamina.cli.run", "build_agent"),
        ("lamina.serving.cli", "lamina.cli.serve", "serve_command"),
    ],
)
def test_old_cli_paths_warn_and_give_the_same_object(old: str, new: str, name: str) -> None:
    sys.modules.pop(old, None)
    with pytest.warns(DeprecationWarning, match=new):
        module = importlib.import_module(old)
    assert getattr(module, name) is getattr(importlib.import_module(new), name)
