"""The import contract of lamina's layout (issue 16), checked from the source with `ast`.

What fails here:
- an import cycle between lamina modules (module-level and function-level imports both count;
  imports under `if TYPE_CHECKING:` never run, so they are left out of cycles);
- an import that runs upward against `RANKS` (TYPE_CHECKING imports count here: a type that
  comes from above is a dependency that points the wrong way);
- a private name (`_x`) of one module imported, or read as `module._x`, by another;
- a module over `MAX_LINES` lines, unless `ALLOWED_OVER` says why it stays over;
- lamina's own code, examples, benchmarks, tests or README importing a deprecated shim (a module
  whose body calls `warnings.warn(..., DeprecationWarning, ...)`). Shims exist for users' old
  imports only; a test file that checks shims (it names `DeprecationWarning`) may import them.

Two simplifications, on purpose: importing `lamina.a.b` also runs `lamina/a/__init__.py`, but
that implicit edge is not counted (it would make every package's `__init__` part of every cycle
through its children); and names reached through strings (`importlib.import_module`, the lazy
table of `lamina/__init__.py`) are not seen.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cache
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "lamina"
MAX_LINES = 400

# Imports run one way: cli -> agents -> graph -> layers -> guards -> core/stores -> models/tools
# -> config/errors. A module may import modules of its own rank or of a higher number, never of
# a lower one. The top-level modules the arrow does not name:
# - `lamina` (the package's `__init__`, the public face) re-exports from every layer: the top.
# - `demo` runs an agent and prints its trace with the CLI's helpers: with `cli`.
# - `serving` is a front for an agent (an OpenAI-compatible server), as the CLI is: with
#   `agents` (its `lamina serve` command lives in `cli/`).
# - `scaleout` builds stores and checkpointers from URLs: beside `stores`.
# - `graphs` and `memory_store` are the old packages, kept as shims for one release: with their
#   new homes (`graph`, `stores`).
RANKS: dict[str, int] = {
    "lamina": 0,
    "cli": 0,
    "demo": 0,
    "agents": 1,
    "serving": 1,
    "graph": 2,
    "graphs": 2,
    "layers": 3,
    "guards": 4,
    "core": 5,
    "stores": 5,
    "scaleout": 5,
    "memory_store": 5,
    "models": 6,
    "tools": 6,
    "config": 7,
    "errors": 7,
}

# Modules that stay over MAX_LINES, each with the reason. Keep this list short and honest.
ALLOWED_OVER: dict[str, str] = {}


@dataclass(frozen=True)
class Import:
    """One import statement's edge from a lamina module to another."""

    source: str  # the importing module, e.g. "lamina.agents.agent"
    target: str  # the imported module, e.g. "lamina.core.context"
    names: tuple[str, ...]  # names taken from the target (`from target import names`)
    line: int
    type_checking: bool  # under `if TYPE_CHECKING:`

    def where(self) -> str:
        return f"{path_of(self.source)}:{self.line}"


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


@cache
def modules() -> dict[str, Path]:
    return {module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def path_of(module: str) -> str:
    return str(modules()[module].relative_to(ROOT))


def rank_of(module: str) -> int | None:
    parts = module.split(".")
    return RANKS.get(parts[1] if len(parts) > 1 else parts[0])


@cache
def tree(path: Path) -> ast.Module:
    return ast.parse(path.read_text(encoding="utf-8"), filename=str(path))


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _walk(node: ast.AST, type_checking: bool = False) -> Iterator[tuple[ast.AST, bool]]:
    """Every node below `node`, with whether it sits under `if TYPE_CHECKING:`."""
    for child in ast.iter_child_nodes(node):
        if isinstance(child, ast.If) and _is_type_checking(child.test):
            for stmt in child.body:
                yield stmt, True
                yield from _walk(stmt, True)
            for stmt in child.orelse:
                yield stmt, type_checking
                yield from _walk(stmt, type_checking)
            continue
        yield child, type_checking
        yield from _walk(child, type_checking)


def _absolute(module: str, node: ast.ImportFrom, is_package: bool) -> str:
    if not node.level:
        return node.module or ""
    base = module.split(".")
    base = base if is_package else base[:-1]
    base = base[: len(base) - (node.level - 1)]
    return ".".join([*base, node.module] if node.module else base)


def imports_of(module: str, path: Path) -> Iterator[Import]:
    """The lamina modules `module` imports (the longest existing module of each import)."""
    known = modules()
    for node, tc in _walk(tree(path)):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.split(".")[0] == "lamina" and alias.name in known:
                    yield Import(module, alias.name, (), node.lineno, tc)
        elif isinstance(node, ast.ImportFrom):
            base = _absolute(module, node, path.name == "__init__.py")
            if base.split(".")[0] != "lamina":
                continue
            names: list[str] = []
            for alias in node.names:
                sub = f"{base}.{alias.name}"
                if sub in known:  # `from lamina.pkg import module`
                    yield Import(module, sub, (), node.lineno, tc)
                else:
                    names.append(alias.name)
            if names and base in known:
                yield Import(module, base, tuple(names), node.lineno, tc)


def is_shim(path: Path) -> bool:
    """Whether the module's body warns of its own deprecation when imported."""
    for stmt in tree(path).body:
        for node in ast.walk(stmt):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
                break
            if (
                isinstance(node, ast.Call)
                and getattr(node.func, "attr", getattr(node.func, "id", "")) == "warn"
                and "DeprecationWarning" in ast.unparse(node)
            ):
                return True
    return False


@cache
def all_imports() -> list[Import]:
    return [imp for name, path in modules().items() for imp in imports_of(name, path)]


@cache
def shims() -> frozenset[str]:
    return frozenset(name for name, path in modules().items() if is_shim(path))


def _cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module, or with a self-edge (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(edges.get(v, ())):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1 or v in edges.get(v, ()):
                found.append(sorted(component))

    for v in sorted(edges):
        if v not in index:
            visit(v)
    return found


def _report(title: str, problems: list[str]) -> str:
    return f"{title} ({len(problems)}):\n  " + "\n  ".join(problems)


# -- the contract ----------------------------------------------------------------------------
def test_every_top_level_module_has_a_rank() -> None:
    missing = sorted({m.split(".")[1] for m in modules() if "." in m and rank_of(m) is None})
    assert not missing, (
        f"Top-level modules without a rank in RANKS: {missing}. Fix: add each to RANKS in "
        "tests/unit/test_layout.py at the place the import order gives it, with a comment."
    )


def test_no_import_cycles() -> None:
    edges: dict[str, set[str]] = {}
    for imp in all_imports():
        if not imp.type_checking and imp.target != imp.source:
            edges.setdefault(imp.source, set()).add(imp.target)
    cycles = _cycles(edges)
    problems = []
    for component in cycles:
        members = set(component)
        links = sorted(
            f"{i.where()} imports {i.target}"
            for i in all_imports()
            if i.source in members and i.target in members and not i.type_checking
        )
        problems.append(" <-> ".join(component) + "\n      " + "\n      ".join(links))
    assert not problems, _report(
        "Import cycles (fix: move what both sides need into a module of its own, lower down)",
        problems,
    )


def test_imports_run_one_way() -> None:
    problems = []
    for imp in all_imports():
        if imp.source in shims():
            continue  # a shim stands at an old path and points to the new one, wherever it is
        src, dst = rank_of(imp.source), rank_of(imp.target)
        if src is not None and dst is not None and dst < src:
            tc = " (under TYPE_CHECKING)" if imp.type_checking else ""
            problems.append(f"{imp.where()}: {imp.source} imports {imp.target}{tc}")
    assert not problems, _report(
        "Upward imports, against cli -> agents -> graph -> layers -> guards -> core/stores -> "
        "models/tools -> config/errors (fix: move the shared thing down, or pass it in)",
        problems,
    )


def _module_aliases(module: str, path: Path) -> dict[str, str]:
    """Local names bound to lamina modules in `module` (`import lamina.x as y`, `from . import`)."""
    known = modules()
    aliases: dict[str, str] = {}
    for node, _ in _walk(tree(path)):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name in known and alias.asname:
                    aliases[alias.asname] = alias.name
        elif isinstance(node, ast.ImportFrom):
            base = _absolute(module, node, path.name == "__init__.py")
            for alias in node.names:
                if f"{base}.{alias.name}" in known:
                    aliases[alias.asname or alias.name] = f"{base}.{alias.name}"
    return aliases


def _private(name: str) -> bool:
    return name.startswith("_") and not (name.startswith("__") and name.endswith("__"))


def test_no_private_names_across_modules() -> None:
    problems = []
    for imp in all_imports():
        taken = [n for n in imp.names if _private(n)]
        if taken and imp.target != imp.source:
            problems.append(f"{imp.where()}: {imp.source} imports {taken} from {imp.target}")
        if _private(imp.target.rsplit(".", 1)[-1]) and not imp.source.startswith(
            imp.target.rsplit(".", 1)[0] + "."
        ):
            problems.append(f"{imp.where()}: {imp.source} imports private module {imp.target}")
    for module, path in modules().items():
        aliases = _module_aliases(module, path)
        for node in ast.walk(tree(path)):
            if (
                isinstance(node, ast.Attribute)
                and isinstance(node.value, ast.Name)
                and node.value.id in aliases
                and _private(node.attr)
                and aliases[node.value.id] != module
            ):
                problems.append(
                    f"{path_of(module)}:{node.lineno}: {module} reads "
                    f"{aliases[node.value.id]}.{node.attr}"
                )
    assert not problems, _report(
        "Private names used across modules (fix: give the shared helper a public name in a "
        "module of its own)",
        sorted(set(problems)),
    )


def test_modules_stay_small() -> None:
    problems = []
    for module, path in modules().items():
        lines = len(path.read_text(encoding="utf-8").splitlines())
        rel = path_of(module)
        if lines > MAX_LINES and rel not in ALLOWED_OVER:
            problems.append(f"{rel}: {lines} lines")
    stale = [p for p in ALLOWED_OVER if not (ROOT / p).exists()]
    assert not problems, _report(
        f"Modules over {MAX_LINES} lines (fix: split by job, or add the module to ALLOWED_OVER "
        "with the reason it stays over)",
        problems,
    )
    assert not stale, f"ALLOWED_OVER names modules that no longer exist: {stale}. Fix: drop them."


def _project_files() -> Iterator[Path]:
    for folder in ("lamina", "tests", "examples", "bench"):
        yield from sorted((ROOT / folder).rglob("*.py"))


def _python_blocks(markdown: str) -> Iterator[str]:
    yield from re.findall(r"```python\n(.*?)```", markdown, flags=re.DOTALL)


def _imported_lamina_modules(source: str) -> Iterator[tuple[int, str]]:
    try:
        parsed = ast.parse(source)
    except SyntaxError:
        return
    known = modules()
    for node in ast.walk(parsed):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            yield node.lineno, node.module
            for alias in node.names:
                if f"{node.module}.{alias.name}" in known:
                    yield node.lineno, f"{node.module}.{alias.name}"


def test_nothing_inside_the_project_imports_a_shim() -> None:
    old = shims()
    problems = []
    for path in _project_files():
        if path.is_relative_to(PACKAGE) and module_name(path) in old:
            continue  # a shim imports its new home
        text = path.read_text(encoding="utf-8")
        if path.is_relative_to(ROOT / "tests") and "DeprecationWarning" in text:
            continue  # a test of the shims themselves
        for line, name in _imported_lamina_modules(text):
            if name in old:
                problems.append(f"{path.relative_to(ROOT)}:{line} imports {name}")
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    for i, block in enumerate(_python_blocks(readme)):
        for line, name in _imported_lamina_modules(block):
            if name in old:
                problems.append(f"README.md python block {i + 1}, line {line}: imports {name}")
    assert not problems, _report(
        f"Imports of deprecated shims ({', '.join(sorted(old))}); use the new paths", problems
    )


def test_the_checks_see_what_they_should() -> None:
    """The checker itself: a cycle, an upward and a private import in a made-up module set."""
    assert _cycles({"a": {"b"}, "b": {"a"}, "c": {"a"}}) == [["a", "b"]]
    assert _cycles({"a": {"a"}}) == [["a"]]
    assert _cycles({"a": {"b"}, "b": set()}) == []
    source = "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    import x\nimport y\n"
    flags = [tc for node, tc in _walk(ast.parse(source)) if isinstance(node, ast.Import)]
    assert flags == [True, False]
    assert rank_of("lamina.cli.run") < rank_of("lamina.agents.agent") < rank_of("lamina.graph")
    assert rank_of("lamina.core.state") == rank_of("lamina.stores.ledger")
    assert _private("_x")
    assert not _private("__all__")
    assert not _private("x")
