"""The server's hardening (issue 18): deep JSON and framework errors in OpenAI's shape (item 6),
keys bound to tenants (item 8), tool exception text kept from clients (item 9)."""

from __future__ import annotations

import hashlib
import json
import logging
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from lamina import Agent, tool
from lamina.errors import ConfigError
from lamina.models.testing import FakeChatModel, ToolCallScript
from lamina.serving.app import create_app
from lamina.serving.redaction import public_text, redact
from lamina.serving.requests import MAX_JSON_DEPTH, json_depth
from lamina.serving.tenants import KeyFile, load_keys
from lamina.tools.calculator import calculator

SECRET = "db failed: secret=hunter2"


@tool
def lookup(name: str) -> str:
    """Look a customer up in the database.

    Args:
        name: the customer's name.
    """
    raise ValueError(SECRET)


def make_agent(*responses: Any) -> Agent:
    return Agent(
        chat_models={"fake": FakeChatModel(responses=list(responses))},
        routes=[],
        tools=[calculator, lookup],
        memory=False,
        step_cache=False,
        checkpointer=":memory:",
        rc_iterations=1,
    )


def chat(text: str = "hi", model: str = "lamina", **extra: Any) -> dict[str, Any]:
    return {"model": model, "messages": [{"role": "user", "content": text}], **extra}


def assert_openai_error(body: dict[str, Any]) -> dict[str, Any]:
    assert set(body) == {"error"}, body
    error = body["error"]
    assert set(error) == {"message", "type", "param", "code"}, error
    assert error["message"]
    return error  # type: ignore[no-any-return]


@pytest.fixture
def client() -> Iterator[TestClient]:
    agent = make_agent(*["ok"] * 20)
    with TestClient(create_app(agent), raise_server_exceptions=False) as c:
        yield c
    agent.close()


# -- item 6: deep JSON, and every framework error in OpenAI's shape ----------------------------
def nested(depth: int) -> bytes:
    return b"[" * depth + b"]" * depth


@pytest.mark.parametrize(
    "body",
    [
        b'{"model": "lamina", "messages": ' + nested(50_000) + b"}",
        b'{"model": "lamina", "messages": [{"role": "user", "content": "hi"}], "x": '
        + nested(50_000)
        + b"}",
        nested(50_000),
        # parses, but deeper than any request needs
        b'{"model": "lamina", "messages": [{"role": "user", "content": "hi"}], "x": '
        + nested(MAX_JSON_DEPTH + 5)
        + b"}",
    ],
)
def test_deeply_nested_json_is_a_clean_400(client: TestClient, body: bytes) -> None:
    reply = client.post(
        "/v1/chat/completions", content=body, headers={"content-type": "application/json"}
    )
    assert reply.status_code == 400, reply.text
    error = assert_openai_error(reply.json())
    assert error["type"] == "invalid_request_error"
    assert f"at most {MAX_JSON_DEPTH} levels" in error["message"]
    assert "Fix" in error["message"]


def test_nesting_within_the_limit_is_served(client: TestClient) -> None:
    body = b'{"model": "lamina", "messages": [{"role": "user", "content": "hi"}], "x": '
    body += nested(MAX_JSON_DEPTH - 2) + b"}"
    reply = client.post(
        "/v1/chat/completions", content=body, headers={"content-type": "application/json"}
    )
    assert reply.status_code == 200, reply.text


def test_json_depth_counts_without_recursion() -> None:
    deep: Any = []
    for _ in range(100_000):  # far past the interpreter's recursion limit
        deep = [deep]
    assert json_depth(deep, 10) == 11  # stops just past the limit
    assert json_depth({"a": [1, {"b": []}]}, 64) == 4
    assert json_depth("text", 64) == 0


@pytest.mark.parametrize(
    ("method", "path", "status", "allow"),
    [
        ("GET", "/v1/chat/completions", 405, "POST"),
        ("DELETE", "/v1/chat/completions", 405, "POST"),
        ("POST", "/healthz", 405, "GET"),
        ("PUT", "/v1/models", 405, "GET"),
        ("GET", "/v1/nothing", 404, None),
        ("POST", "/", 404, None),
    ],
)
def test_framework_errors_come_in_openai_shape(
    client: TestClient, method: str, path: str, status: int, allow: str | None
) -> None:
    reply = client.request(method, path)
    assert reply.status_code == status
    error = assert_openai_error(reply.json())
    assert error["type"] == "invalid_request_error"
    assert path in error["message"]
    assert "Fix" in error["message"]
    if allow is not None:
        assert error["code"] == "method_not_allowed"
        assert reply.headers["allow"] == allow
        assert f"found {method}" in error["message"]


def test_a_validation_error_of_the_framework_comes_in_openai_shape() -> None:
    agent = make_agent()
    app = create_app(agent)

    @app.get("/typed")
    async def typed(n: int) -> dict[str, int]:  # FastAPI validates `n` itself
        return {"n": n}

    with TestClient(app, raise_server_exceptions=False) as c:
        reply = c.get("/typed", params={"n": "many"})
    agent.close()
    assert reply.status_code == 422
    error = assert_openai_error(reply.json())
    assert error["param"] == "query.n"


def test_an_unexpected_error_is_a_500_with_an_id_and_no_text(
    caplog: pytest.LogCaptureFixture,
) -> None:
    agent = make_agent()

    def broken(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("cannot reach postgres://admin:hunter2@db")

    agent.run = broken  # type: ignore[method-assign]
    with (
        caplog.at_level(logging.ERROR, logger="lamina.serving"),
        TestClient(create_app(agent), raise_server_exceptions=False) as c,
    ):
        reply = c.post("/v1/chat/completions", json=chat())
    agent.close()
    assert reply.status_code == 500
    error = assert_openai_error(reply.json())
    assert "hunter2" not in reply.text
    assert "RuntimeError" in error["message"]
    error_id = re.search(r"err_[0-9a-f]{16}", error["message"])
    assert error_id is not None
    logged = [r for r in caplog.records if error_id.group(0) in r.getMessage()]
    assert logged
    assert logged[0].exc_info is not None
    assert "hunter2" in str(logged[0].exc_info[1])


# -- item 8: keys bound to tenants -------------------------------------------------------------
ANN_KEY = "sk-ann-0123456789abcdef"
DESK_KEY = "sk-desk-0123456789abcdef"
BOB_KEY = "sk-bob-0123456789abcdef"

KEYS_TOML = f"""
[[keys]]
name = "ann-laptop"
key = "{ANN_KEY}"
users = ["ann"]

[[keys]]
name = "support-desk"
key_sha256 = "{hashlib.sha256(DESK_KEY.encode()).hexdigest()}"
users = ["bob", "carol"]

[[keys]]
name = "bob-phone"
key = "{BOB_KEY}"
users = ["bob"]
"""


def auth(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


@pytest.fixture
def keys_file(tmp_path: Path) -> Path:
    path = tmp_path / "keys.toml"
    path.write_text(KEYS_TOML)
    return path


@pytest.fixture
def tenants(keys_file: Path) -> Iterator[tuple[TestClient, Agent]]:
    agent = make_agent(*[f"answer {i}" for i in range(40)])
    app = create_app(agent, keys=load_keys(keys_file))
    with TestClient(app, raise_server_exceptions=False) as c:
        yield c, agent
    agent.close()


def test_a_key_file_reads_as_toml_or_json(keys_file: Path, tmp_path: Path) -> None:
    toml_keys = load_keys(keys_file)
    assert toml_keys.tenant_for(ANN_KEY).users == ("ann",)  # type: ignore[union-attr]
    assert toml_keys.tenant_for(DESK_KEY).users == ("bob", "carol")  # type: ignore[union-attr]
    assert toml_keys.tenant_for("sk-someone-else-0000") is None
    as_json = tmp_path / "keys.json"
    as_json.write_text(json.dumps({"keys": [{"name": "a", "key": ANN_KEY, "users": ["ann"]}]}))
    assert load_keys(as_json).tenant_for(ANN_KEY).name == "a"  # type: ignore[union-attr]


def test_the_readmes_key_file_is_valid(tmp_path: Path) -> None:
    readme = (Path(__file__).parents[2] / "README.md").read_text(encoding="utf-8")
    block = re.search(r"```toml\n(\s*\[\[keys\]\].*?)```", readme, flags=re.DOTALL)
    assert block is not None
    path = tmp_path / "keys.toml"
    path.write_text("\n".join(line.strip() for line in block.group(1).splitlines()))
    keys = load_keys(path)
    assert keys.tenant_for("sk-ann-2f9c7e41d0b35a86").users == ("ann",)  # type: ignore[union-attr]
    desk = keys.tenant_for("sk-desk-7d1e0c5b9a2f4e68")
    assert desk is not None
    assert desk.users == ("bob", "carol")


@pytest.mark.parametrize(
    ("data", "needle"),
    [
        ({"keys": []}, "keys"),
        ({"keys": [{"name": "a", "key": ANN_KEY}]}, "users"),
        ({"keys": [{"name": "a", "key": "short", "users": ["ann"]}]}, "at least 16"),
        ({"keys": [{"name": "a", "users": ["ann"]}]}, "exactly one"),
        (
            {"keys": [{"name": "a", "key": ANN_KEY, "key_sha256": "0" * 64, "users": ["a"]}]},
            "exactly one",
        ),
        ({"keys": [{"name": "a", "key": ANN_KEY, "users": ["ann:x"]}]}, "no ':'"),
        ({"keys": [{"name": "a", "key": ANN_KEY, "users": ["ann"], "admin": True}]}, "admin"),
        (
            {
                "keys": [
                    {"name": "a", "key": ANN_KEY, "users": ["ann"]},
                    {"name": "b", "key": ANN_KEY, "users": ["bob"]},
                ]
            },
            "twice",
        ),
    ],
)
def test_a_bad_key_file_is_one_clear_config_error(data: Any, needle: str) -> None:
    with pytest.raises(ConfigError, match=re.escape(needle)) as info:
        KeyFile.from_mapping(data)
    assert "Fix" in str(info.value)


def test_an_unreadable_key_file_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="readable key file"):
        load_keys(tmp_path / "missing.toml")
    with pytest.raises(ConfigError, match=r"\.toml or \.json"):
        load_keys(tmp_path / "keys.yaml")
    broken = tmp_path / "keys.toml"
    broken.write_text("[[keys]\nname=")
    with pytest.raises(ConfigError, match="valid TOML"):
        load_keys(broken)


def test_one_key_mode_and_a_key_file_do_not_mix(keys_file: Path) -> None:
    agent = make_agent()
    with pytest.raises(ConfigError, match="both api_key"):
        create_app(agent, api_key="s3cret-s3cret-s3cret", keys=load_keys(keys_file))
    agent.close()


def test_a_key_acts_as_its_own_user_only(
    tenants: tuple[TestClient, Agent], caplog: pytest.LogCaptureFixture
) -> None:
    c, _ = tenants
    mine = c.post("/v1/chat/completions", json=chat(), headers=auth(ANN_KEY))
    assert mine.status_code == 200, mine.text
    assert mine.json()["lamina"]["user_id"] == "ann"  # a one-user key needs no `user`
    for body in (
        chat(user="bob"),
        chat(lamina={"user_id": "bob"}),
        chat(user="ann", lamina={"user_id": "bob"}),
    ):
        reply = c.post("/v1/chat/completions", json=body, headers=auth(ANN_KEY))
        assert reply.status_code == 403, reply.text
        error = assert_openai_error(reply.json())
        assert error["type"] == "permission_error"
        assert "'bob'" in error["message"]
        assert "ann" in error["message"]
        assert "Fix" in error["message"]
    assert "'ann-laptop' asked to act as user 'bob'" in caplog.text
    assert ANN_KEY not in caplog.text
    desk = c.post("/v1/chat/completions", json=chat(user="carol"), headers=auth(DESK_KEY))
    assert desk.status_code == 200
    assert desk.json()["lamina"]["user_id"] == "carol"
    unnamed = c.post("/v1/chat/completions", json=chat(), headers=auth(DESK_KEY))
    assert unnamed.status_code == 400
    assert "bob, carol" in assert_openai_error(unnamed.json())["message"]


def test_a_key_is_checked_on_every_endpoint(tenants: tuple[TestClient, Agent]) -> None:
    c, _ = tenants
    assert c.get("/v1/models", headers=auth(ANN_KEY)).status_code == 200
    assert c.get("/v1/models").status_code == 401
    wrong = c.post("/v1/chat/completions", json=chat(), headers=auth("sk-nobody-0123456789"))
    assert wrong.status_code == 401
    assert "key file" in assert_openai_error(wrong.json())["message"]
    assert c.get("/healthz").status_code == 200
    # a model by name touches no memory or thread, but still no foreign user
    direct = c.post("/v1/chat/completions", json=chat(model="fake"), headers=auth(DESK_KEY))
    assert direct.status_code == 200
    foreign = c.post(
        "/v1/chat/completions", json=chat(model="fake", user="ann"), headers=auth(DESK_KEY)
    )
    assert foreign.status_code == 403


def thread_texts(agent: Agent, thread: str) -> list[str]:
    state = agent.graph.get_state({"configurable": {"thread_id": thread}}).values
    return [str(m.content) for m in state.get("messages", [])]


def test_a_key_cannot_continue_another_tenants_thread(tenants: tuple[TestClient, Agent]) -> None:
    c, agent = tenants
    first = c.post(
        "/v1/chat/completions",
        json=chat("My PIN is 4321.", lamina={"thread_id": "t1"}),
        headers=auth(ANN_KEY),
    )
    assert first.status_code == 200
    assert first.json()["lamina"]["thread_id"] == "t1"  # the client's own id
    # bob names the same thread id: he gets a thread of his own, not ann's history
    other = c.post(
        "/v1/chat/completions",
        json=chat("What is my PIN?", lamina={"thread_id": "t1"}),
        headers=auth(BOB_KEY),
    )
    assert other.status_code == 200
    assert other.json()["lamina"]["thread_id"] == "t1"
    again = c.post(
        "/v1/chat/completions",
        json=chat("Say it again.", lamina={"thread_id": "t1"}),
        headers=auth(ANN_KEY),
    )
    assert again.status_code == 200
    ann, bob = thread_texts(agent, "ann:t1"), thread_texts(agent, "bob:t1")
    assert ann[0] == "My PIN is 4321."
    assert "Say it again." in ann
    assert "What is my PIN?" not in ann
    assert bob[0] == "What is my PIN?"
    assert not any("4321" in text for text in bob)
    assert thread_texts(agent, "t1") == []  # nothing under the bare id
    # nor can an id spell out another user's scoped thread
    spelled = c.post(
        "/v1/chat/completions",
        json=chat("And now?", lamina={"thread_id": "ann:t1"}),
        headers=auth(BOB_KEY),
    )
    assert spelled.status_code == 200
    assert "And now?" not in thread_texts(agent, "ann:t1")


def test_a_streamed_run_keeps_the_tenants_thread(tenants: tuple[TestClient, Agent]) -> None:
    c, agent = tenants
    with c.stream(
        "POST",
        "/v1/chat/completions",
        json=chat("hello", stream=True, lamina={"thread_id": "s1"}),
        headers=auth(ANN_KEY),
    ) as reply:
        assert reply.status_code == 200
        events = [line[6:] for line in reply.iter_lines() if line.startswith("data: ")]
    final = json.loads(events[-2])
    assert final["lamina"]["thread_id"] == "s1"
    assert final["lamina"]["user_id"] == "ann"
    assert thread_texts(agent, "ann:s1")[0] == "hello"


def test_a_scoped_thread_id_too_long_is_a_400(tenants: tuple[TestClient, Agent]) -> None:
    c, _ = tenants
    reply = c.post(
        "/v1/chat/completions",
        json=chat(lamina={"thread_id": "t" * 126}),
        headers=auth(ANN_KEY),
    )
    assert reply.status_code == 400
    error = assert_openai_error(reply.json())
    assert error["param"] == "lamina.thread_id"
    assert "at most 124" in error["message"]


def test_serve_refuses_a_bad_key_file_and_a_second_key_mode(
    tmp_path: Path, keys_file: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from typer.testing import CliRunner

    from lamina.cli import app

    monkeypatch.delenv("LAMINA_API_KEY", raising=False)
    missing = CliRunner().invoke(app, ["serve", "--keys", str(tmp_path / "none.toml")])
    assert missing.exit_code == 1
    assert "readable key file" in missing.output
    assert "Traceback" not in missing.output
    monkeypatch.setenv("LAMINA_API_KEY", "one-key-for-everything")
    both = CliRunner().invoke(app, ["serve", "--keys", str(keys_file)])
    assert both.exit_code == 1
    assert "both LAMINA_API_KEY and --keys" in both.output


# -- item 9: a tool's exception text stays on the server ---------------------------------------
def error_ids(text: str) -> set[str]:
    return set(re.findall(r"err_[0-9a-f]{16}", text))


def test_a_tools_exception_text_reaches_the_log_not_the_client(
    caplog: pytest.LogCaptureFixture,
) -> None:
    # the model reads the error, then copies it into its answer
    agent = make_agent(
        ToolCallScript("lookup", {"name": "ann"}),
        f"The lookup failed: ValueError: {SECRET}. Also: {SECRET}",
    )
    with (
        caplog.at_level(logging.WARNING, logger="lamina.serving"),
        TestClient(create_app(agent), raise_server_exceptions=False) as c,
    ):
        reply = c.post("/v1/chat/completions", json=chat("Look up ann."))
    assert reply.status_code == 200
    assert "hunter2" not in reply.text
    body = reply.json()
    failed = [call for call in body["lamina"]["tool_calls"] if call["kind"] == "exception"]
    assert len(failed) == 1
    error_id = failed[0]["error_id"]
    assert failed[0]["error"] == public_text("lookup", f"ValueError: {SECRET}", error_id)
    assert "ValueError" in failed[0]["error"]
    assert error_id in body["choices"][0]["message"]["content"]
    # the full text is in the server log, under the id the client got
    logged = [r.getMessage() for r in caplog.records if error_id in r.getMessage()]
    assert logged
    assert SECRET in logged[0]
    # and in the run's trace, beside the same id
    thread = body["lamina"]["thread_id"]
    trace = agent.graph.get_state({"configurable": {"thread_id": thread}}).values["trace"]
    calls = [c for e in trace for c in (e.get("data") or {}).get("tool_calls") or []]
    assert [(c["error"], c["error_id"]) for c in calls] == [(f"ValueError: {SECRET}", error_id)]
    agent.close()


def test_a_failed_step_streams_no_exception_text() -> None:
    agent = make_agent(*[ToolCallScript("lookup", {"name": "ann"})] * 4, "sorry")
    with (
        TestClient(create_app(agent), raise_server_exceptions=False) as c,
        c.stream("POST", "/v1/chat/completions", json=chat("Look up ann.", stream=True)) as r,
    ):
        text = "".join(r.iter_lines())
    agent.close()
    assert "hunter2" not in text
    final = json.loads(text.split("data: ")[-2])
    assert final["lamina"]["ok"] is False
    assert "error id" in final["lamina"]["error"]["message"]
    assert len(error_ids(text)) == 1  # the repeated call reuses the first failure's id


def test_argument_errors_lamina_writes_stay_readable() -> None:
    agent = make_agent(ToolCallScript("calculator", {"expr": "2 + 2"}), "4")
    with TestClient(create_app(agent), raise_server_exceptions=False) as c:
        body = c.post("/v1/chat/completions", json=chat("Add 2 and 2.")).json()
    agent.close()
    failed = body["lamina"]["tool_calls"][0]
    assert failed["kind"] == "invalid_arguments"
    assert "expression" in failed["error"]
    assert failed["error_id"] == ""


def test_redact_replaces_longest_first_and_leaves_short_messages() -> None:
    table = {"ValueError: db down at 10.0.0.7": "[A]", "db down at 10.0.0.7": "[A]"}
    assert redact("x ValueError: db down at 10.0.0.7 / db down at 10.0.0.7", table) == "x [A] / [A]"
    assert redact({"a": ["db down at 10.0.0.7"], "n": 3}, table) == {"a": ["[A]"], "n": 3}
    assert redact("untouched", {}) == "untouched"
