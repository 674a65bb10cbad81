"""One run per conversation thread at a time (issue 18, item 1): a second run on a busy thread
waits for the first, or past `thread_wait_seconds` fails with ThreadBusyError (HTTP 409); the
thread's history never loses an exchange and is never forked.

Across processes with SQLite checkpoints (two real OS processes, scripted models), through the
server, and across PostgreSQL sessions when a PostgreSQL server can be started here (or one is
named by LAMINA_TEST_POSTGRES_URL)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest

from lamina import Agent
from lamina.config import get_settings
from lamina.errors import ConfigError, ThreadBusyError
from lamina.models.testing import FakeChatModel
from lamina.scaleout.servers import postgres_available
from lamina.serving.app import create_app
from lamina.serving.local import serve_in_thread
from lamina.stores.thread_locks import FileThreadLocks, LocalThreadLocks, PostgresThreadLocks

ROOT = Path(__file__).resolve().parents[2]


def texts(agent: Agent, thread: str) -> list[str]:
    state = agent.graph.get_state({"configurable": {"thread_id": thread}}).values
    return [str(m.content) for m in state.get("messages", [])]


def wait_for(path: Path, proc: subprocess.Popen[str] | None = None, limit: float = 120) -> None:
    """Block until `path` exists (or the process died, or `limit` seconds: a broken test)."""
    deadline = time.monotonic() + limit
    while not path.exists():
        if proc is not None and proc.poll() is not None:
            out, err = proc.communicate()
            pytest.fail(f"worker exited {proc.returncode} early:\n{out}\n{err}")
        assert time.monotonic() < deadline, f"{path.name} never appeared"
        time.sleep(0.02)


# -- the locks themselves ------------------------------------------------------------------------
@pytest.mark.parametrize("kind", ["file", "local"])
def test_a_held_thread_refuses_a_second_holder_past_the_wait(tmp_path: Path, kind: str) -> None:
    # file locks: a second instance stands for another process; local locks live in one agent
    local = LocalThreadLocks(0.05)
    first = FileThreadLocks(tmp_path / "locks", 0.05) if kind == "file" else local
    second = FileThreadLocks(tmp_path / "locks", 0.05) if kind == "file" else local
    with first.hold("t1"):
        with pytest.raises(ThreadBusyError) as info, second.hold("t1"):
            pass
        with second.hold("t2"):  # another thread is free
            pass
    message = str(info.value)
    assert "'t1' is busy" in message
    assert "0.05 s" in message
    assert "Fix:" in message
    with second.hold("t1"):  # released
        pass


def test_a_waiting_holder_gets_the_thread_when_it_is_released(tmp_path: Path) -> None:
    locks = FileThreadLocks(tmp_path / "locks", wait=60)
    order: list[str] = []
    held = threading.Event()

    def second() -> None:
        held.wait()
        with locks.hold("t"):
            order.append("second")

    worker = threading.Thread(target=second)
    worker.start()
    with locks.hold("t"):
        held.set()
        time.sleep(0.2)  # the second holder is polling meanwhile
        order.append("first")
    worker.join(timeout=60)
    assert order == ["first", "second"]
    assert list((tmp_path / "locks").iterdir()) == []  # lock files go with their holders


def test_lock_files_are_hashed_names_and_a_stale_file_is_reused(tmp_path: Path) -> None:
    locks = FileThreadLocks(tmp_path / "locks", wait=0)
    path = locks.path_for("../../etc/passwd")
    assert path.parent == tmp_path / "locks"
    assert path.suffix == ".lock"
    path.parent.mkdir()
    path.touch()  # left by a run killed with -9: nothing holds it
    with locks.hold("../../etc/passwd"):
        assert path.exists()
    assert not path.exists()


def test_a_bad_wait_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="thread_wait_seconds"):
        FileThreadLocks(tmp_path, wait=-1)
    with pytest.raises(ConfigError, match="thread_wait_seconds"):
        get_settings(thread_wait_seconds="long")


def test_agents_lock_where_their_checkpoints_are(tmp_path: Path) -> None:
    # imported here: another test re-imports lamina's modules, and with them these classes
    from lamina.agents.assembly import make_thread_locks
    from lamina.stores.thread_locks import (
        FileThreadLocks,
        LocalThreadLocks,
        PostgresThreadLocks,
    )

    file_locks = make_thread_locks(tmp_path / "c.sqlite", tmp_path, 5)
    assert isinstance(file_locks, FileThreadLocks)
    assert file_locks.folder == tmp_path / "c.locks"
    assert file_locks.wait == 5
    default = make_thread_locks(None, tmp_path / "home", 5)
    assert isinstance(default, FileThreadLocks)
    assert default.folder == tmp_path / "home" / "checkpoints.locks"
    assert isinstance(make_thread_locks(":memory:", tmp_path, 5), LocalThreadLocks)
    pg = make_thread_locks("postgresql://u@db:5432/x", tmp_path, 5)
    assert isinstance(pg, PostgresThreadLocks)


# -- two OS processes on one SQLite thread --------------------------------------------------------
WORKER = """
import json, sys, time
from pathlib import Path

from lamina import Agent
from lamina.config import get_settings
from lamina.errors import ThreadBusyError
from lamina.models.testing import FakeChatModel

root, name, wait = Path(sys.argv[1]), sys.argv[2], float(sys.argv[3])


class Gated(FakeChatModel):
    # Says when it is called, then answers only once the test opens its gate.
    def _generate(self, *args, **kwargs):
        (root / f"{name}.called").touch()
        while not (root / f"{name}.go").exists():
            time.sleep(0.01)
        return super()._generate(*args, **kwargs)


agent = Agent(
    chat_models={"fake": Gated(responses=[f"answer {name}"] * 4)},
    routes=[], tools=[], memory=False, step_cache=False, tool_relevance=False,
    checkpointer=str(root / "checkpoints.sqlite"), rc_iterations=1,
    settings=get_settings(home=root / "home", thread_wait_seconds=wait),
)
(root / f"{name}.ready").touch()
try:
    result = agent.run(f"task {name}", thread_id="same")
except ThreadBusyError as exc:
    print(json.dumps({"busy": str(exc)}))
    sys.exit(3)
print(json.dumps({"answer": result.answer}))
"""


@pytest.fixture
def worker(tmp_path: Path) -> Iterator[Any]:
    script = tmp_path / "worker.py"
    script.write_text(WORKER)
    procs: list[subprocess.Popen[str]] = []

    def start(name: str, wait: float) -> subprocess.Popen[str]:
        env = {**os.environ, "PYTHONPATH": str(ROOT)}
        proc = subprocess.Popen(
            [sys.executable, str(script), str(tmp_path), name, str(wait)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
        )
        procs.append(proc)
        return proc

    yield start
    for name in ("a", "b"):
        (tmp_path / f"{name}.go").touch()  # never leave a worker waiting at its gate
    for proc in procs:
        try:
            proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            proc.kill()


def history(tmp_path: Path) -> list[str]:
    with Agent(
        chat_models={"fake": FakeChatModel(responses=[])},
        routes=[],
        tools=[],
        memory=False,
        step_cache=False,
        tool_relevance=False,
        checkpointer=str(tmp_path / "checkpoints.sqlite"),
    ) as agent:
        return texts(agent, "same")


def test_two_processes_on_one_thread_keep_both_exchanges(tmp_path: Path, worker: Any) -> None:
    a = worker("a", 120)
    wait_for(tmp_path / "a.called", a)  # A is mid-run: it holds the thread
    (tmp_path / "b.go").touch()  # B's model would answer at once
    b = worker("b", 120)
    wait_for(tmp_path / "b.ready", b)
    deadline = time.monotonic() + 2.0  # B gets this long to (wrongly) run beside A
    while time.monotonic() < deadline and not (tmp_path / "b.called").exists():
        time.sleep(0.02)
    assert not (tmp_path / "b.called").exists(), "B ran while A held the thread"
    (tmp_path / "a.go").touch()
    out_a, err_a = a.communicate(timeout=120)
    out_b, err_b = b.communicate(timeout=120)
    assert (a.returncode, b.returncode) == (0, 0), err_a + err_b
    assert json.loads(out_a) == {"answer": "answer a"}
    assert json.loads(out_b) == {"answer": "answer b"}
    assert history(tmp_path) == ["task a", "answer a", "task b", "answer b"]
    assert not any((tmp_path / "checkpoints.locks").iterdir())


def test_a_second_process_past_the_wait_fails_clearly_and_forks_nothing(
    tmp_path: Path, worker: Any
) -> None:
    a = worker("a", 120)
    wait_for(tmp_path / "a.called", a)
    (tmp_path / "b.go").touch()
    b = worker("b", 0.3)
    out_b, err_b = b.communicate(timeout=120)
    assert b.returncode == 3, f"expected ThreadBusyError, got exit {b.returncode}: {out_b}{err_b}"
    assert "'same' is busy" in json.loads(out_b)["busy"]
    assert not (tmp_path / "b.called").exists()
    (tmp_path / "a.go").touch()
    _, err_a = a.communicate(timeout=120)
    assert a.returncode == 0, err_a
    assert history(tmp_path) == ["task a", "answer a"]


# -- through the server --------------------------------------------------------------------------
class GatedModel(FakeChatModel):
    """Signals `called` and answers once `gate` is set (threading events: no real waiting)."""

    called: Any = None
    gate: Any = None

    def _generate(self, *args: Any, **kwargs: Any) -> Any:
        self.called.set()
        assert self.gate.wait(60)
        return super()._generate(*args, **kwargs)


def gated_agent(wait: float, tmp_path: Path) -> tuple[Agent, GatedModel]:
    model = GatedModel(
        responses=[f"answer {i}" for i in range(10)],
        called=threading.Event(),
        gate=threading.Event(),
    )
    agent = Agent(
        chat_models={"fake": model},
        routes=[],
        tools=[],
        memory=False,
        step_cache=False,
        tool_relevance=False,
        checkpointer=str(tmp_path / "checkpoints.sqlite"),
        rc_iterations=1,
        settings=get_settings(home=tmp_path, thread_wait_seconds=wait),
    )
    return agent, model


def chat(text: str, thread: str, **extra: Any) -> dict[str, Any]:
    return {
        "model": "lamina",
        "messages": [{"role": "user", "content": text}],
        "lamina": {"thread_id": thread},
        **extra,
    }


@pytest.mark.parametrize("stream", [False, True])
def test_the_server_answers_a_busy_thread_with_409(tmp_path: Path, stream: bool) -> None:
    agent, model = gated_agent(0.2, tmp_path)
    try:
        with (
            serve_in_thread(create_app(agent)) as url,
            httpx.Client(base_url=url, timeout=60) as client,
            ThreadPoolExecutor(1) as pool,
        ):
            first = pool.submit(client.post, "/v1/chat/completions", json=chat("one", "t"))
            assert model.called.wait(60)
            second = client.post("/v1/chat/completions", json=chat("two", "t", stream=stream))
            model.gate.set()
            assert first.result().status_code == 200
    finally:
        model.gate.set()
        agent.close()
    assert second.status_code == 409
    assert second.headers["content-type"].startswith("application/json")
    error = second.json()["error"]
    assert error["code"] == "thread_busy"
    assert error["type"] == "conflict_error"
    assert "'t' is busy" in error["message"]
    assert second.headers["retry-after"] == "1"
    with Agent(
        chat_models={"fake": FakeChatModel(responses=[])},
        routes=[],
        tools=[],
        memory=False,
        step_cache=False,
        tool_relevance=False,
        checkpointer=str(tmp_path / "checkpoints.sqlite"),
    ) as reader:
        assert texts(reader, "t") == ["one", "answer 0"]  # the refused request left no trace


def test_concurrent_requests_on_one_thread_keep_every_exchange(tmp_path: Path) -> None:
    agent, model = gated_agent(60, tmp_path)
    model.gate.set()
    try:
        with serve_in_thread(create_app(agent)) as url, ThreadPoolExecutor(3) as pool:

            def one(i: int) -> int:
                body = chat(f"note {i}", "shared")
                return httpx.post(f"{url}/v1/chat/completions", json=body, timeout=120).status_code

            codes = list(pool.map(one, range(3)))
        history_texts = texts(agent, "shared")
    finally:
        agent.close()
    assert codes == [200, 200, 200]
    assert sorted(history_texts[0::2]) == ["note 0", "note 1", "note 2"]
    assert history_texts[1::2] == ["answer 0", "answer 1", "answer 2"]


# -- PostgreSQL: advisory locks across sessions (two workers) -------------------------------------
@pytest.fixture(scope="module")
def postgres_url() -> Iterator[str]:
    configured = os.environ.get("LAMINA_TEST_POSTGRES_URL")
    if configured:
        yield configured
        return
    why_not = postgres_available()
    if why_not is not None:
        pytest.skip(f"PostgreSQL: {why_not}; or set LAMINA_TEST_POSTGRES_URL")
    from lamina.scaleout.servers import start_postgres

    with start_postgres() as pg:
        yield pg.url


def test_postgres_advisory_locks_exclude_across_sessions(postgres_url: str) -> None:
    worker_1 = PostgresThreadLocks(postgres_url, wait=0.2)
    worker_2 = PostgresThreadLocks(postgres_url, wait=0.2)
    with worker_1.hold("pg-thread"):
        with (
            pytest.raises(ThreadBusyError, match="'pg-thread' is busy"),
            worker_2.hold("pg-thread"),
        ):
            pass
        with worker_2.hold("another thread"):
            pass
    patient = PostgresThreadLocks(postgres_url, wait=30)  # a loaded machine may take a while
    with patient.hold("pg-thread"):  # released with the first session's hold
        pass


def test_two_postgres_workers_on_one_thread_keep_both_exchanges(postgres_url: str) -> None:
    def agent_with(model: FakeChatModel) -> Agent:
        return Agent(
            chat_models={"fake": model},
            routes=[],
            tools=[],
            memory=False,
            step_cache=False,
            tool_relevance=False,
            checkpointer=postgres_url,
            rc_iterations=1,
            ledger=False,
            settings=get_settings(thread_wait_seconds=60),
        )

    gate, called = threading.Event(), threading.Event()
    slow = GatedModel(responses=["answer a"], called=called, gate=gate)
    thread = f"pg-{time.time_ns()}"
    with agent_with(slow) as one, agent_with(FakeChatModel(responses=["answer b"])) as two:
        with ThreadPoolExecutor(2) as pool:
            first = pool.submit(one.run, "task a", thread)
            assert called.wait(60)
            second = pool.submit(two.run, "task b", thread)
            time.sleep(0.3)  # the second worker polls for the lock meanwhile
            assert not second.done()
            gate.set()
            assert first.result(timeout=60).answer == "answer a"
            assert second.result(timeout=60).answer == "answer b"
        assert texts(two, thread) == ["task a", "answer a", "task b", "answer b"]
