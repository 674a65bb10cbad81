"""`import lamina` and `lamina --help` must not import the heavy libraries."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

HEAVY = ("torch", "sentence_transformers", "chromadb", "llama_cpp")

_PROBE = textwrap.dedent(
    """
    import json, sys
    {body}
    heavy = {heavy!r}
    print(json.dumps(sorted(m for m in sys.modules if m.split(".")[0] in heavy)))
    """
)


def _heavy_modules_after(body: str) -> list[str]:
    code = _PROBE.format(body=textwrap.dedent(body), heavy=HEAVY)
    proc = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=False
    )
    assert proc.returncode == 0, proc.stderr
    loaded: list[str] = json.loads(proc.stdout.strip().splitlines()[-1])
    return loaded


def test_import_lamina_is_light() -> None:
    assert _heavy_modules_after("import lamina, lamina.errors, lamina.config") == []


def test_model_modules_are_light() -> None:
    body = """
    import lamina.models, lamina.models.catalog, lamina.models.pool
    import lamina.models.provision, lamina.models.gguf, lamina.cli.models, lamina.models.llama
    """
    assert _heavy_modules_after(body) == []


def test_cli_help_is_light() -> None:
    body = """
    from typer.testing import CliRunner
    from lamina.cli import app
    runner = CliRunner()
    for args in (["--help"], ["models", "--help"], ["models", "pull", "--help"],
                 ["models", "info", "--help"], ["memory", "--help"], ["serve", "--help"],
                 ["route", "--help"]):
        result = runner.invoke(app, args)
        assert result.exit_code == 0, (args, result.output)
        assert "Usage" in result.output
    """
    assert _heavy_modules_after(body) == []


def test_cli_models_list_is_light() -> None:
    body = """
    from typer.testing import CliRunner
    from lamina.cli import app
    result = CliRunner().invoke(app, ["models", "list", "--json"])
    assert result.exit_code == 0, result.output
    """
    assert _heavy_modules_after(body) == []


def test_python_m_lamina_cli_help() -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "lamina.cli", "--help"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    assert "models" in proc.stdout
