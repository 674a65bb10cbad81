"""The same graph beyond one process: a remote llama.cpp server for one intent, an in-process
model for another, memory in a Chroma server, checkpoints in PostgreSQL — all started here on
loopback ports and stopped at the end."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from lamina import Agent
from lamina.config import get_settings
from lamina.layers.router import Route
from lamina.layers.router.defaults import default_routes
from lamina.models.catalog import DEFAULT_MODELS, ModelSpec
from lamina.scaleout.servers import (
    postgres_available,
    start_chroma_server,
    start_llama_cpp_server,
    start_postgres,
)

REMOTE = "smollm2-remote"
LOCAL_TOOLS = "smollm2-135m-instruct"
ROOT = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.skipif(
    postgres_available() is not None, reason=f"PostgreSQL: {postgres_available()}"
)


@pytest.fixture(scope="module")
def servers(pool, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("scale_out")
    model_file = pool.path_of(LOCAL_TOOLS)
    with (
        start_llama_cpp_server(model_file, alias=REMOTE, log_dir=tmp) as llm,
        start_chroma_server(tmp / "chroma", log_dir=tmp) as chroma,
        start_postgres() as pg,
    ):
        yield {"llm": llm, "chroma": chroma, "pg": pg, "tmp": tmp}


def routes() -> list[Route]:
    out = []
    for r in default_routes():
        if r.name == "arithmetic":  # this intent goes to the remote server, locally if it is down
            r = Route(
                r.name,
                r.utterances,
                REMOTE,
                threshold=r.threshold,
                description=r.description,
                fallbacks=[LOCAL_TOOLS],
            )
        out.append(r)
    return out


@pytest.fixture(scope="module")
def agent(pool, servers):
    remote = ModelSpec(
        name=REMOTE,
        endpoint=servers["llm"].url,
        capabilities=frozenset({"chat", "tools", "planning"}),
        max_retries=1,
        request_timeout=120,
    )
    a = Agent(
        models=[*DEFAULT_MODELS, remote],
        routes=routes(),
        pool=pool,
        settings=get_settings(home=servers["tmp"] / "home", seed=0),
        memory=servers["chroma"].url,
        checkpointer=servers["pg"].url,
        model_settings={"max_tokens": 96},
    )
    yield a
    a.close()


def test_one_intent_runs_remotely_and_another_in_process(agent):
    sums = agent.run("Compute 12 times 7.", user_id="ops", thread_id="s1")
    assert sums.route == "arithmetic"
    assert sums.model == REMOTE
    assert REMOTE in sums.models_used
    assert [c.name for c in sums.tool_calls if not c.repeated] == ["calculator"]
    assert "84" in sums.answer
    summary = agent.run(
        "Summarise this text: the meeting moved to Friday because the room was booked.",
        user_id="ops",
        thread_id="s2",
    )
    assert summary.route == "summarise"
    assert summary.model == "gemma3-270m"
    assert REMOTE not in summary.models_used


def test_a_worker_restart_resumes_the_thread_from_postgres_and_shares_memory(agent, servers, pool):
    # Another worker process (same Postgres, same Chroma server) runs the first turn and exits.
    worker_home = servers["tmp"] / "worker"
    worker_home.mkdir(exist_ok=True)
    script = textwrap.dedent(
        f"""
        import json
        from lamina import Agent
        from lamina.config import get_settings
        from pathlib import Path
        a = Agent(
            settings=get_settings(home=Path({str(worker_home)!r})),
            memory={servers["chroma"].url!r},
            checkpointer={servers["pg"].url!r},
            model_settings={{"max_tokens": 64}},
        )
        r = a.run("Remember that my badge number is 5521.", user_id="kim", thread_id="w1")
        print(json.dumps({{"answer": r.answer, "thread": r.thread_id}}))
        a.close()
        """
    )
    env = {**os.environ, "GOMP_SPINCOUNT": "10000", "ANONYMIZED_TELEMETRY": "False"}
    done = subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        timeout=600,
        cwd=ROOT,
        env=env,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    first = json.loads(done.stdout.strip().splitlines()[-1])
    assert first["thread"] == "w1"
    # This process picks the thread up from Postgres ...
    before = agent.result("w1", user_id="kim")
    assert before.answer == first["answer"]
    agent.run("What is my badge number?", user_id="kim", thread_id="w1")
    state = agent.graph.get_state({"configurable": {"thread_id": "w1"}}).values
    texts = [str(m.content) for m in state["messages"]]
    assert texts[0] == "Remember that my badge number is 5521."
    assert texts[2] == "What is my badge number?"
    # ... and the memory the other process wrote, from the Chroma server.
    recalled = agent.result("w1", user_id="kim").memories
    assert any("5521" in m["text"] for m in recalled), recalled


def test_a_dead_endpoint_escalates_to_the_fallback_and_the_trace_says_so(agent, servers):
    servers["llm"].kill()
    result = agent.run("What is 25 minus 8?", user_id="ops", thread_id="s3")
    assert result.route == "arithmetic"
    moves = [(e["from"], e["to"]) for e in result.escalations]
    assert (REMOTE, LOCAL_TOOLS) in moves, result.escalations
    assert "could not be reached" in result.escalations[0]["error"]
    assert LOCAL_TOOLS in result.models_used
    assert "17" in [c.result for c in result.tool_calls]  # the fallback did the work
