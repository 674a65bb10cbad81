"""`lamina doctor`: what this machine, llama.cpp build and set-up are, for bug reports.

Prints the CPU and what llama.cpp was built with (AVX2, AVX-512, AMX, OpenMP, BLAS), the thread
count, where models and state live, the versions of the key dependencies, and a warning line for
each known-bad combination with its fix. Exits 1 when there is a warning, so scripts can use it.
"""

from __future__ import annotations

import json
import platform
import sys
from importlib import metadata
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape

__all__ = ["KEY_PACKAGES", "collect_report", "doctor_command"]

KEY_PACKAGES = (
    "lamina",
    "llama-cpp-python",
    "langgraph",
    "langchain-core",
    "chromadb",
    "sentence-transformers",
    "torch",
    "pydantic",
    "numpy",
)
_BUILD_FEATURES = ("AVX", "AVX2", "AVX512", "AVX512_VNNI", "AMX_INT8", "FMA", "OPENMP", "BLAS")


def _version(package: str) -> str | None:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return None


def _cpu_model(cpuinfo: Path = Path("/proc/cpuinfo")) -> str:
    try:
        for line in cpuinfo.read_text(encoding="utf-8", errors="replace").splitlines():
            if line.startswith("model name"):
                return line.partition(":")[2].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def collect_report() -> dict[str, Any]:
    """Everything `lamina doctor` shows, as JSON-safe data (`warnings` lists the problems)."""
    from lamina.config import available_cores, get_settings
    from lamina.models.catalog import CATALOG
    from lamina.models.llama.build_info import build_info

    settings = get_settings()
    info = build_info()
    warnings = info.problems()
    models = {}
    for name, spec in CATALOG.items():
        path = spec.local_path(settings.models_dir)
        models[name] = {"path": str(path), "present": path.is_file()}
        if not path.is_file():
            warnings.append(
                f"Model {name!r} is not at {path}. Fix: `lamina models pull {name}` "
                "(or set LAMINA_MODELS_DIR / models_dir to where it was pulled)."
            )
    return {
        "system": {
            "python": sys.version.split()[0],
            "platform": platform.platform(),
            "cpu": _cpu_model(),
            "cores_available": available_cores(),
            "cpu_flags": sorted(info.cpu_flags),
        },
        "llama_cpp": {
            "version": info.llama_cpp_version or None,
            "built_with": {k: info.features[k] for k in _BUILD_FEATURES if k in info.features},
            "amx_instructions": info.amx_instructions,
            "system_info": info.system_info,
            "n_threads": settings.n_threads,
            "kv_cache": settings.kv_cache,
        },
        "paths": {
            "home": str(settings.home),
            "models_dir": str(settings.models_dir),
            "memory": str(settings.home / "memory"),
            "step_cache": str(settings.home / "step_cache.sqlite"),
            "checkpoints": str(settings.home / "checkpoints.sqlite"),
        },
        "models": models,
        "packages": {name: _version(name) for name in KEY_PACKAGES},
        "warnings": warnings,
    }


def _render(report: dict[str, Any], console: Console) -> None:
    def section(title: str, rows: dict[str, Any]) -> None:
        console.print(f"[bold]{escape(title)}[/]")
        for key, value in rows.items():
            shown = value if isinstance(value, str) else json.dumps(value)
            console.print(f"  {escape(key):<18} {escape(str(shown))}", soft_wrap=True)

    section("system", report["system"])
    section("llama.cpp", report["llama_cpp"])
    section("paths", report["paths"])
    models = report["models"].items()
    section("models", {n: ("ok " if m["present"] else "missing ") + m["path"] for n, m in models})
    section("packages", {n: v or "not installed" for n, v in report["packages"].items()})
    for warning in report["warnings"]:
        console.print(f"[bold yellow]warning:[/] {escape(warning)}", soft_wrap=True)
    if not report["warnings"]:
        console.print("[green]no known problems[/]")


def doctor_command(
    as_json: Annotated[bool, typer.Option("--json", help="Print the report as JSON.")] = False,
) -> None:
    """Show this machine, the llama.cpp build, paths and versions; warn about known-bad mixes."""
    report = collect_report()
    if as_json:
        typer.echo(json.dumps(report, indent=2))
    else:
        _render(report, Console(highlight=False))
    if report["warnings"]:
        raise typer.Exit(code=1)
