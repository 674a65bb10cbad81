"""lamina's strict @tool and the tool registry."""

from __future__ import annotations

from typing import Annotated, Any

import pytest
from langchain_core.tools import BaseTool
from langchain_core.tools import tool as langchain_tool

from lamina.errors import ConfigError, ToolError
from lamina.tools.calculator import calculator
from lamina.tools.decorator import tool, tool_source, tool_timeout
from lamina.tools.registry import ToolRegistry


def _descriptions(t: BaseTool) -> dict[str, Any]:
    schema = t.tool_call_schema.model_json_schema()  # type: ignore[union-attr]
    return {k: v.get("description") for k, v in schema["properties"].items()}


# -- the decorator --------------------------------------------------------------------------
def test_docstring_args_become_descriptions() -> None:
    @tool
    def convert(value: float, unit: str = "km") -> str:
        """Convert a distance.

        Args:
            value: The distance in miles.
            unit: The unit to convert to.
        """
        return f"{value * 1.609:.1f} {unit}"

    assert convert.name == "convert"
    assert convert.description == "Convert a distance."
    assert _descriptions(convert) == {
        "value": "The distance in miles.",
        "unit": "The unit to convert to.",
    }
    assert convert.invoke({"value": 10}) == "16.1 km"
    assert convert.metadata == {"requires_approval": False, "timeout": None, "lamina_tool": True}


def test_annotated_descriptions_need_no_args_section() -> None:
    @tool
    def shout(text: Annotated[str, "What to shout."]) -> str:
        """Shout some text."""
        return text.upper()

    assert _descriptions(shout) == {"text": "What to shout."}
    assert shout.invoke({"text": "hi"}) == "HI"


def test_options_are_stored() -> None:
    @tool(name="lookup_price", requires_approval=True, timeout=2.5)
    def price(item: Annotated[str, "The item."]) -> float:
        """Look up a price."""
        return 1.0

    assert price.name == "lookup_price"
    assert price.metadata is not None
    assert price.metadata["requires_approval"] is True
    assert tool_timeout(price, 30.0) == 2.5
    assert tool_timeout(calculator, 30.0) == 30.0

    @tool("named")
    def other() -> str:
        """Return a constant."""
        return "x"

    assert other.name == "named"


def test_missing_type_hint_is_refused_at_decoration() -> None:
    with pytest.raises(ConfigError, match=r"'.*untyped'.*parameter 'value' has no type hint"):

        @tool
        def untyped(value) -> str:  # type: ignore[no-untyped-def]
            """Do something.

            Args:
                value: A value.
            """
            return str(value)


def test_missing_description_is_refused_at_decoration() -> None:
    with pytest.raises(ConfigError, match=r"'.*half_documented'.*parameter 'b' has no description"):

        @tool
        def half_documented(a: int, b: int) -> int:
            """Add numbers.

            Args:
                a: The first number.
            """
            return a + b

    with pytest.raises(ConfigError, match=r"parameter 'a' has no description"):

        @tool
        def undocumented_args(a: int) -> int:
            """Double a number."""
            return 2 * a


def test_missing_docstring_is_refused() -> None:
    with pytest.raises(ConfigError, match=r"'.*no_doc' has no docstring"):

        @tool
        def no_doc(a: Annotated[int, "A number."]) -> int:
            return a


def test_docstring_naming_a_missing_parameter_is_refused() -> None:
    with pytest.raises(ConfigError, match=r"'.*wrong_args'.*docstring could not be read"):

        @tool
        def wrong_args(a: int) -> int:
            """Do something.

            Args:
                a: A number.
                b: Not a parameter.
            """
            return a


def test_varargs_and_bad_options_are_refused() -> None:
    with pytest.raises(ConfigError, match="named parameters only"):

        @tool
        def many(*values: int) -> int:
            """Sum numbers.

            Args:
                values: Numbers.
            """
            return sum(values)

    with pytest.raises(ConfigError, match="Invalid tool name"):
        tool(name="bad name!")
    with pytest.raises(ConfigError, match="Invalid tool timeout"):
        tool(timeout=0)
    with pytest.raises(ConfigError, match="expected a function"):
        tool(name="x")(42)  # type: ignore[arg-type]


# -- the registry ---------------------------------------------------------------------------
@langchain_tool
def lc_echo(text: str) -> str:
    """Echo text back."""
    return text


class Ping(BaseTool):
    name: str = "ping"
    description: str = "Answer pong."

    def _run(self, *args: Any, **kwargs: Any) -> str:
        return "pong"


def plain_function(x: Annotated[int, "A number."]) -> int:
    """Increment a number."""
    return x + 1


def test_registry_accepts_every_kind_of_tool() -> None:
    registry = ToolRegistry([calculator, lc_echo, Ping(), plain_function])
    assert registry.names() == ["calculator", "lc_echo", "ping", "plain_function"]
    assert list(registry.as_dict()) == registry.names()
    assert "ping" in registry
    assert len(registry) == 4
    assert registry.get("plain_function").invoke({"x": 1}) == 2
    registry.add(calculator)  # the same object again is not a clash
    assert len(registry) == 4


def test_registry_name_clash_names_both_sources() -> None:
    @tool(name="calculator")
    def my_calculator(expression: Annotated[str, "Arithmetic."]) -> str:
        """My own calculator."""
        return "0"

    with pytest.raises(ConfigError) as info:
        ToolRegistry([calculator, my_calculator])
    message = str(info.value)
    assert "Two tools are named 'calculator'" in message
    assert tool_source(calculator) in message
    assert "my_calculator" in message
    assert tool_source(calculator) != tool_source(my_calculator)


def test_registry_refuses_non_tools_and_unknown_names() -> None:
    with pytest.raises(ConfigError, match="Expected a tool"):
        ToolRegistry([42])  # type: ignore[list-item]
    with pytest.raises(ConfigError, match="Unknown tool 'nope'; known: calculator"):
        ToolRegistry([calculator]).get("nope")
    with pytest.raises(ConfigError, match="has no type hint"):
        ToolRegistry([lambda_like])


def lambda_like(x):  # type: ignore[no-untyped-def]
    """A function without hints."""
    return x


# -- workspace tools ------------------------------------------------------------------------
def _workspace(tmp_path: Any, **limits: Any) -> tuple[Any, dict[str, BaseTool]]:
    from lamina.tools.workspace import workspace_tools

    root = tmp_path / "ws"
    tools = {t.name: t for t in workspace_tools(root, **limits)}
    (tmp_path / "secret.txt").write_text("no")
    return root, tools


def test_workspace_tools_read_write_and_list(tmp_path: Any) -> None:
    from lamina.tools.workspace import workspace_tools

    root, tools = _workspace(tmp_path, max_read_chars=10)
    assert list(tools) == ["list_files", "read_file", "write_file"]
    assert tools["list_files"].invoke({}) == "(empty)"
    assert "Wrote 5 characters" in tools["write_file"].invoke(
        {"path": "a/b.txt", "content": "hello"}
    )
    assert tools["list_files"].invoke({"directory": "a"}) == "a/b.txt"
    assert tools["read_file"].invoke({"path": "a/b.txt"}) == "hello"
    assert tools["read_file"].invoke({"path": "a/../a/b.txt"}) == "hello"  # stays inside
    tools["write_file"].invoke({"path": "long.txt", "content": "y" * 50})
    assert "truncated: showing 10 of 50" in tools["read_file"].invoke({"path": "long.txt"})
    with pytest.raises(ToolError, match="No file"):
        tools["read_file"].invoke({"path": "missing.txt"})
    assert [t.name for t in workspace_tools(root, allow_write=False)] == ["list_files", "read_file"]


@pytest.mark.parametrize(
    ("name", "args"),
    [
        ("read_file", {"path": "../secret.txt"}),
        ("read_file", {"path": "a/../../secret.txt"}),
        ("write_file", {"path": "../x.txt", "content": "x"}),
        ("list_files", {"directory": ".."}),
    ],
)
def test_workspace_refuses_path_traversal(tmp_path: Any, name: str, args: dict[str, Any]) -> None:
    _, tools = _workspace(tmp_path)
    with pytest.raises(ToolError, match="outside the workspace"):
        tools[name].invoke(args)
    assert not (tmp_path / "x.txt").exists()


def test_workspace_refuses_absolute_paths_even_inside(tmp_path: Any) -> None:
    root, tools = _workspace(tmp_path)
    (root / "inside.txt").write_text("ok")
    for name, args in [
        ("read_file", {"path": str(tmp_path / "secret.txt")}),
        ("read_file", {"path": str(root / "inside.txt")}),
        ("write_file", {"path": "/tmp/lamina-should-not-exist.txt", "content": "x"}),
        ("list_files", {"directory": "/"}),
        ("read_file", {"path": "~/secret.txt"}),
    ]:
        with pytest.raises(ToolError, match="is absolute"):
            tools[name].invoke(args)
    assert tools["read_file"].invoke({"path": "inside.txt"}) == "ok"


def test_workspace_refuses_symlinks_out_of_the_root(tmp_path: Any) -> None:
    root, tools = _workspace(tmp_path)
    (root / "dir_link").symlink_to(tmp_path)
    (root / "file_link.txt").symlink_to(tmp_path / "secret.txt")
    (root / "dangling.txt").symlink_to(tmp_path / "not-yet.txt")
    (root / "ok_link.txt").symlink_to(root / "real.txt")
    (root / "real.txt").write_text("real")
    for name, args in [
        ("read_file", {"path": "dir_link/secret.txt"}),
        ("read_file", {"path": "file_link.txt"}),
        ("list_files", {"directory": "dir_link"}),
        ("write_file", {"path": "dir_link/new.txt", "content": "x"}),
        ("write_file", {"path": "dangling.txt", "content": "x"}),
    ]:
        with pytest.raises(ToolError, match="outside the workspace"):
            tools[name].invoke(args)
    assert not (tmp_path / "new.txt").exists()
    assert not (tmp_path / "not-yet.txt").exists()
    assert tools["read_file"].invoke({"path": "ok_link.txt"}) == "real"  # a link inside is fine


def test_workspace_refuses_oversize_files(tmp_path: Any) -> None:
    root, tools = _workspace(tmp_path, max_file_bytes=100, max_write_chars=50)
    (root / "big.txt").write_text("z" * 101)
    (root / "fits.txt").write_text("z" * 100)
    with pytest.raises(ToolError, match="too large to read: 101 bytes, the limit is 100"):
        tools["read_file"].invoke({"path": "big.txt"})
    assert tools["read_file"].invoke({"path": "fits.txt"}) == "z" * 100
    with pytest.raises(ToolError, match="Content too long: 51 characters"):
        tools["write_file"].invoke({"path": "w.txt", "content": "w" * 51})
    assert not (root / "w.txt").exists()


def test_workspace_limits_are_checked(tmp_path: Any) -> None:
    from lamina.tools.workspace import workspace_tools

    with pytest.raises(ConfigError, match="max_file_bytes"):
        workspace_tools(tmp_path, max_file_bytes=0)
    (tmp_path / "f").write_text("x")
    with pytest.raises(ConfigError, match="is a file"):
        workspace_tools(tmp_path / "f")


def test_workspace_refuses_files_with_hard_links(tmp_path: Any) -> None:
    root, tools = _workspace(tmp_path)
    (root / "linked.txt").hardlink_to(tmp_path / "secret.txt")  # made before the agent ran
    with pytest.raises(ToolError, match="2 hard links"):
        tools["read_file"].invoke({"path": "linked.txt"})
    with pytest.raises(ToolError, match="2 hard links"):
        tools["write_file"].invoke({"path": "linked.txt", "content": "overwritten"})
    assert (tmp_path / "secret.txt").read_text() == "no"


def _swap_for_link_after_check(monkeypatch, root, outside, method: str) -> None:
    """Replace the folder `a` by a link out of the workspace right after the path check."""
    from pathlib import Path

    original = getattr(Path, method)

    def swap_then_check(self):
        import os

        folder = os.path.join(root, "a")
        if not os.path.islink(folder):
            os.rename(folder, os.path.join(root, "a_old"))
            os.symlink(outside, folder)
        return original(self)

    monkeypatch.setattr(Path, method, swap_then_check)


def test_workspace_reads_and_writes_cannot_race_a_link_swap(tmp_path: Any, monkeypatch) -> None:
    root, tools = _workspace(tmp_path)
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "b.txt").write_text("outside")
    (root / "a").mkdir()
    (root / "a" / "b.txt").write_text("inside")
    _swap_for_link_after_check(monkeypatch, root, outside, "is_file")
    with pytest.raises(ToolError, match="not a folder in the workspace"):
        tools["read_file"].invoke({"path": "a/b.txt"})
    monkeypatch.undo()
    (root / "a").unlink()
    (root / "a_old").rename(root / "a")
    _swap_for_link_after_check(monkeypatch, root, outside, "is_dir")
    with pytest.raises(ToolError, match="not a folder in the workspace"):
        tools["write_file"].invoke({"path": "a/b.txt", "content": "overwritten"})
    assert (outside / "b.txt").read_text() == "outside"


def test_workspace_writes_replace_the_file_whole(tmp_path: Any) -> None:
    root, tools = _workspace(tmp_path)
    tools["write_file"].invoke({"path": "n.txt", "content": "first version, long"})
    tools["write_file"].invoke({"path": "n.txt", "content": "second"})
    assert (root / "n.txt").read_text() == "second"
    assert sorted(p.name for p in root.iterdir()) == ["n.txt"]  # no temporary file left


def test_writing_needs_approval_unless_the_user_says_otherwise(tmp_path: Any) -> None:
    from lamina.layers.execution.approval import requires_approval
    from lamina.tools.workspace import workspace_tools

    tools = {t.name: t for t in workspace_tools(tmp_path / "ws")}
    assert requires_approval(tools["write_file"])
    assert not requires_approval(tools["read_file"])
    assert not requires_approval(tools["list_files"])
    unattended = {t.name: t for t in workspace_tools(tmp_path / "ws", approve_writes=False)}
    assert not requires_approval(unattended["write_file"])
