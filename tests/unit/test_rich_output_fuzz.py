"""Fuzz every place the CLI prints text that a user, a model or a tool wrote through rich.

Task texts, answers, tool results, memory texts, queries, user ids, thread ids and paths are
random strings built from markup-like pieces (`[/x]`, `[bold`, `[link=...]`, `\\[`, `:smile:`)
and unicode. No command may crash on them, and none may read them as markup: the literal text
appears in the output (rich strips control characters, which these strings do not hold).
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner, Result

import lamina.cli.run as run_cli
import lamina.models.encoder as embeddings
from lamina import Agent, tool
from lamina.cli import app
from lamina.config.options import Guards
from lamina.models.testing import FakeChatModel, HashingEncoder, ToolCallScript
from lamina.stores.memory import MemoryStore
from lamina.stores.step_cache import StepCache

MARKUP = st.sampled_from(
    [
        "[/x]", "[/]", "[bold", "[bold]", "[red]x[/red]", "[link=https://e.example/?a=[1]]",
        "[@click=app.bell]", "[#ff0000]", "\\[", "\\", "\\\\[b]", "]", "[", "[[", "[b][/i]",
        ":smile:", ":thumbs_up:", "[on red]", "[/link]", "[not bold]",
    ]
)  # fmt: skip
WORD = st.text(
    alphabet=st.characters(categories=["L", "N", "P", "S"], exclude_characters="\x7f"),
    min_size=1,
    max_size=6,
)
# not "-x ...": a positional argument that starts with "-" is read as an option (pass "--")
TEXT = (
    st.lists(MARKUP | WORD, min_size=1, max_size=5)
    .map(" ".join)
    .filter(lambda text: not text.lstrip().startswith("-"))
)
# the characters `lamina run` and `lamina memory` accept in ids (letters, digits, - _ . : @)
ID = st.lists(
    st.sampled_from([":smile:", ":x:", "a", "b@c", "d.e", "f-g", "h_i", "7"]),
    min_size=1,
    max_size=4,
).map("".join)
WIDE = {"COLUMNS": "3000", "LINES": "200"}  # no wrapping: a literal text stays on one line

FUZZ = settings(
    max_examples=12,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


def _invoke(args: list[str], typer_app: Any = app, stdin: str | None = None) -> Result:
    result = CliRunner().invoke(typer_app, args, env=WIDE, input=stdin)
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception  # a crash: show rich's own error, not a vague assertion
    return result


def _shown(text: str, output: str) -> bool:
    """Whether `text` appears literally in `output`, up to how rich lays out spaces."""
    return " ".join(text.split()) in " ".join(output.split())


def _agent_factory(answer: str, tool_result: str) -> Callable[..., Agent]:
    def build(_config: Any, *_args: Any, **_flags: Any) -> Agent:
        @tool
        def lookup(name: str) -> str:
            """Look a name up.

            Args:
                name: what to look up.
            """
            return tool_result

        # a task with "then" in it is a plan of several steps: enough script for each
        script = [ToolCallScript("lookup", {"name": "x"}), answer] * 6
        return Agent(
            chat_models={"fake": FakeChatModel(responses=script)},
            routes=[],
            tools=[lookup],
            memory=False,
            step_cache=False,
            checkpointer=":memory:",
            guards=Guards.off(),  # "x" is in no random task: printing is tested here
        )

    return build


@FUZZ
@given(task=TEXT, answer=TEXT, tool_result=TEXT, thread=ID, user=ID)
def test_run_prints_answers_tool_results_and_the_trace_literally(
    task: str, answer: str, tool_result: str, thread: str, user: str, monkeypatch: Any
) -> None:
    monkeypatch.setattr(run_cli, "build_agent", _agent_factory(answer, tool_result))
    args = ["run", f"Look up x {task}", "--user", user, "--thread"]
    as_json = _invoke([*args, f"{thread}-1", "--json"])  # what the run produced, as data
    assert as_json.exit_code in (0, run_cli.NOT_OK_EXIT), as_json.output
    data = json.loads(as_json.stdout)
    shown = _invoke([*args, f"{thread}-2"])
    assert shown.exit_code in (0, run_cli.NOT_OK_EXIT), shown.output
    output = shown.output
    assert _shown(data["answer"], output), (data["answer"], output)
    for call in data["tool_calls"]:
        assert _shown(str(call["result"] if call["error"] is None else call["error"]), output)
    assert "trace" in output
    assert _shown(f"thread {thread}-2", output)


@FUZZ
@given(name=TEXT)
def test_run_prints_a_config_path_literally(name: str, tmp_path: Path) -> None:
    path = tmp_path / f"{name.replace('/', '_')}.toml"
    result = _invoke(["run", "hello", "--config", str(path)])
    assert result.exit_code == 1
    assert _shown(str(path), result.output)  # "found nothing" names the path


@pytest.fixture
def memory_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setattr(embeddings, "default_encoder", lambda: HashingEncoder(dim=512))
    return tmp_path


@settings(FUZZ, max_examples=5)  # each example opens a Chroma store five times
@given(texts=st.lists(TEXT, min_size=1, max_size=3), query=TEXT, user=ID)
def test_memory_commands_print_texts_queries_and_users_literally(
    texts: list[str], query: str, user: str, memory_home: Path
) -> None:
    path = memory_home / f"memory-{uuid.uuid4().hex[:8]}"
    base = ["--user", user, "--path", str(path)]
    added = _invoke(["memory", "add", *texts, *base])
    assert added.exit_code == 0, added.output
    assert any(_shown(text, added.output) for text in texts)  # near-duplicates merge
    assert _shown(f"memories of {user}", added.output)

    search = [query, *base, "--min-score", "-1", "-k", "10"]
    found = _invoke(["memory", "search", *search])
    assert found.exit_code == 0, found.output
    assert _shown(repr(query[:60]), found.output), (query, found.output)
    stored = json.loads(_invoke(["memory", "search", *search, "--json"]).stdout)["memories"]
    for memory in stored:  # every memory stored, in the table literally
        assert _shown(memory["text"], found.output), (memory["text"], found.output)
        assert _shown(memory["text"], added.output), (memory["text"], added.output)

    for args in (["--user", user], []):
        stats = _invoke(["memory", "stats", *args, "--path", str(path)])
        assert stats.exit_code == 0, stats.output
        assert _shown(user, stats.output) if not args else _shown(f"user {user!r}", stats.output)

    ids = json.loads(_invoke(["memory", "search", query, *base, "--json"]).stdout)
    unknown = _invoke(["memory", "forget", f"{texts[0]}-not-an-id", *base])
    assert unknown.exit_code == 1
    assert _shown(f"{texts[0]}-not-an-id", unknown.output)
    gone = _invoke(["memory", "forget", *[m["id"] for m in ids["memories"]], *base])
    assert gone.exit_code == 0, gone.output
    assert _shown(f"user {user!r}", gone.output)


@FUZZ
@given(user=TEXT, text=TEXT)
def test_memory_stats_prints_users_written_by_code_literally(
    user: str, text: str, memory_home: Path
) -> None:
    """A store filled by code may hold any user id; `stats` of the whole store shows it."""
    path = memory_home / f"memory-{uuid.uuid4().hex[:8]}"
    with MemoryStore(path, encoder=HashingEncoder(dim=512)) as store:
        store.add([text], user)
    stats = _invoke(["memory", "stats", "--path", str(path)])
    assert stats.exit_code == 0, stats.output
    assert _shown(user, stats.output), (user, stats.output)


@FUZZ
@given(bad=TEXT)
def test_memory_commands_print_a_refused_user_id_literally(bad: str, memory_home: Path) -> None:
    for command in (["add", "x"], ["search", "x"], ["stats"], ["forget", "--all"]):
        result = _invoke(["memory", *command, "--user", bad, "--path", str(memory_home / "m")])
        if result.exit_code == 0:  # the id happens to be valid
            continue
        assert result.exit_code == 1
        assert "Fix:" in result.output
        for ch in set(bad) & set("[]\\/:"):  # the message lists the characters refused
            assert repr(ch) in result.output or ch == ":", (ch, result.output)


@FUZZ
@given(name=TEXT)
def test_cache_commands_print_paths_literally(name: str, tmp_path: Path) -> None:
    folder = tmp_path / re.sub(r"[/\x00]", "_", name)
    folder.mkdir(exist_ok=True)
    path = folder / "step_cache.sqlite"
    StepCache(path).close()
    for command in (["cache", "stats"], ["cache", "clear"]):
        result = _invoke([*command, "--path", str(path)])
        assert result.exit_code == 0, result.output
        assert _shown(str(path), result.output), (path, result.output)
    broken = folder / "dir.sqlite"
    broken.mkdir(exist_ok=True)  # not a file: a clean error that names it
    result = _invoke(["cache", "stats", "--path", str(broken)])
    assert result.exit_code in (0, 1)
    assert _shown(str(broken), result.output)
