"""The OpenAI-compatible server over an agent of scripted models (no model files)."""

from __future__ import annotations

import json
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from lamina import Agent
from lamina.errors import ConfigError
from lamina.models.testing import FakeChatModel, ToolCallScript
from lamina.serving.admission import AdmissionQueue, QueueFullError
from lamina.serving.app import create_app
from lamina.serving.local import serve_in_thread
from lamina.tools.calculator import calculator


class SlowModel(FakeChatModel):
    """Answers after `delay` seconds, so requests overlap."""

    delay: float = 0.3

    def _generate(self, *args: Any, **kwargs: Any) -> Any:
        time.sleep(self.delay)
        return super()._generate(*args, **kwargs)


def make_agent(model: FakeChatModel) -> Agent:
    return Agent(
        chat_models={"fake": model},
        routes=[],
        tools=[calculator],
        memory=False,
        step_cache=False,
        checkpointer=":memory:",
        rc_iterations=1,
        trust_model_answers=True,  # serving is tested here; the verdict in test_verdict.py
    )


def chat(model: str = "lamina", text: str = "hi", **extra: Any) -> dict[str, Any]:
    return {"model": model, "messages": [{"role": "user", "content": text}], **extra}


@pytest.fixture
def served():
    """A server over an agent whose model answers every question with "Paris." (up to 200)."""
    agent = make_agent(FakeChatModel(responses=["Paris."] * 200))
    # a generous timeout: the first request loads the encoder (slow on a busy machine)
    with (
        serve_in_thread(create_app(agent)) as url,
        httpx.Client(base_url=url, timeout=120) as client,
    ):
        yield client
    agent.close()


# -- the endpoints -----------------------------------------------------------------------------
def test_models_and_health(served: httpx.Client) -> None:
    ids = [m["id"] for m in served.get("/v1/models").json()["data"]]
    assert ids == ["lamina", "fake"]
    health = served.get("/healthz").json()
    assert health["status"] == "ok"
    assert health["queues"]["lamina"]["depth"] == 32


def test_agent_completion_has_the_answer_and_the_extension(served: httpx.Client) -> None:
    reply = served.post("/v1/chat/completions", json=chat(text="What is the capital of France?"))
    assert reply.status_code == 200
    body = reply.json()
    assert body["object"] == "chat.completion"
    assert body["choices"][0]["message"] == {"role": "assistant", "content": "Paris."}
    assert body["choices"][0]["finish_reason"] == "stop"
    ext = body["lamina"]
    assert ext["model"] == "fake"
    assert ext["models_used"] == ["fake"]
    assert set(ext["timings"]) >= {"input", "router", "memory", "reasoning"}
    assert ext["thread_id"]
    assert ext["ok"] is True
    assert ext["error"] is None


def test_agent_stream_reports_layers_then_the_answer(served: httpx.Client) -> None:
    with served.stream("POST", "/v1/chat/completions", json=chat(stream=True)) as reply:
        assert reply.status_code == 200
        assert reply.headers["content-type"].startswith("text/event-stream")
        events = [line[6:] for line in reply.iter_lines() if line.startswith("data: ")]
    assert events[-1] == "[DONE]"
    chunks = [json.loads(e) for e in events[:-1]]
    assert chunks[0]["choices"][0]["delta"] == {"role": "assistant"}
    layers = [c["lamina"]["layer"] for c in chunks if "layer" in c.get("lamina", {})]
    assert layers[:4] == ["input", "router", "memory", "reasoning"]
    text = "".join(c["choices"][0]["delta"].get("content", "") for c in chunks)
    assert text == "Paris."
    assert chunks[-1]["choices"][0]["finish_reason"] == "stop"
    assert chunks[-1]["lamina"]["model"] == "fake"


def test_a_thread_continues_with_only_the_new_message() -> None:
    fake = FakeChatModel(responses=["Hello Ann.", "You are Ann."])
    agent = make_agent(fake)
    with serve_in_thread(create_app(agent)) as url, httpx.Client(base_url=url) as client:
        first = client.post(
            "/v1/chat/completions", json=chat(text="I am Ann.", lamina={"thread_id": "t1"})
        ).json()
        second = client.post(
            "/v1/chat/completions", json=chat(text="Who am I?", lamina={"thread_id": "t1"})
        ).json()
        state = agent.graph.get_state({"configurable": {"thread_id": "t1"}}).values
    agent.close()
    assert first["lamina"]["thread_id"] == second["lamina"]["thread_id"] == "t1"
    texts = [str(m.content) for m in state["messages"]]
    assert texts == ["I am Ann.", "Hello Ann.", "Who am I?", "You are Ann."]  # nothing repeated


def test_a_model_by_name_is_served_directly(served: httpx.Client) -> None:
    reply = served.post("/v1/chat/completions", json=chat(model="fake"))
    assert reply.status_code == 200
    body = reply.json()
    assert body["choices"][0]["message"]["content"] == "Paris."
    assert "lamina" not in body
    with served.stream("POST", "/v1/chat/completions", json=chat(model="fake", stream=True)) as r:
        events = [line[6:] for line in r.iter_lines() if line.startswith("data: ")]
    assert events[-1] == "[DONE]"
    text = "".join(json.loads(e)["choices"][0]["delta"].get("content", "") for e in events[:-1])
    assert text == "Paris."


def test_a_tool_call_is_reported_in_the_extension() -> None:
    fake = FakeChatModel(responses=[ToolCallScript("calculator", {"expression": "12 * 7"}), "84"])
    agent = make_agent(fake)
    with serve_in_thread(create_app(agent)) as url:
        body = httpx.post(f"{url}/v1/chat/completions", json=chat(text="What is 12 times 7?"))
    agent.close()
    ext = body.json()["lamina"]
    assert [(c["name"], c["result"]) for c in ext["tool_calls"]] == [("calculator", "84")]


# -- bad requests -----------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("body", "status", "needle"),
    [
        (b"{not json", 400, "invalid JSON"),
        (b"\xff\xfe{}", 400, "invalid UTF-8"),
        (b"[1, 2]", 400, "JSON object"),
        (json.dumps({"model": "lamina"}).encode(), 400, "messages"),
        (json.dumps({"model": "lamina", "messages": []}).encode(), 400, "messages"),
        (json.dumps(chat(model="gpt-4")).encode(), 404, "gpt-4"),
        (json.dumps({"model": "lamina", "messages": "hi"}).encode(), 400, "messages"),
        (json.dumps(chat(text="   ")).encode(), 400, "empty"),
        (
            json.dumps(
                {"model": "lamina", "messages": [{"role": "assistant", "content": "x"}]}
            ).encode(),
            400,
            "last message",
        ),
        (json.dumps(chat(max_tokens=-5)).encode(), 400, "max_tokens"),
    ],
)
def test_bad_requests_get_a_clear_4xx(
    served: httpx.Client, body: bytes, status: int, needle: str
) -> None:
    reply = served.post(
        "/v1/chat/completions", content=body, headers={"content-type": "application/json"}
    )
    assert reply.status_code == status, reply.text
    error = reply.json()["error"]
    assert needle.lower() in error["message"].lower()
    assert "Fix" in error["message"] or status == 404


def test_an_oversize_body_is_413() -> None:
    agent = make_agent(FakeChatModel(responses=[]))
    with serve_in_thread(create_app(agent, max_body_bytes=2048)) as url:
        reply = httpx.post(f"{url}/v1/chat/completions", json=chat(text="x" * 5000))
    agent.close()
    assert reply.status_code == 413
    assert "at most 2048 bytes" in reply.json()["error"]["message"]


def test_the_api_key_is_required_when_set() -> None:
    agent = make_agent(FakeChatModel(responses=["ok"]))
    with serve_in_thread(create_app(agent, api_key="s3cret")) as url:
        missing = httpx.post(f"{url}/v1/chat/completions", json=chat())
        wrong = httpx.get(f"{url}/v1/models", headers={"Authorization": "Bearer nope"})
        right = httpx.post(
            f"{url}/v1/chat/completions",
            json=chat(),
            headers={"Authorization": "Bearer s3cret"},
        )
        health = httpx.get(f"{url}/healthz")
    agent.close()
    assert missing.status_code == 401
    assert wrong.status_code == 401
    assert "LAMINA_API_KEY" in wrong.json()["error"]["message"]
    assert right.status_code == 200
    assert health.status_code == 200


# -- the queue ---------------------------------------------------------------------------------
def test_a_full_queue_answers_429_with_retry_after() -> None:
    agent = make_agent(SlowModel(responses=["ok"] * 8, delay=0.4))
    with serve_in_thread(create_app(agent, queue_depth=2)) as url:

        def one(_: int) -> httpx.Response:
            return httpx.post(f"{url}/v1/chat/completions", json=chat(), timeout=60)

        with ThreadPoolExecutor(8) as pool:
            replies = list(pool.map(one, range(8)))
    agent.close()
    codes = sorted(r.status_code for r in replies)
    assert all(c in (200, 429) for c in codes), codes
    assert codes.count(429) >= 1
    assert codes.count(200) >= 2
    limited = next(r for r in replies if r.status_code == 429)
    assert int(limited.headers["Retry-After"]) >= 1
    assert "queue" in limited.json()["error"]["message"]


def test_admission_queue_counts_and_frees_slots() -> None:
    q = AdmissionQueue("m", 1)
    with q.slot():
        assert q.admitted == 1
        with pytest.raises(QueueFullError, match="limit"), q.slot():
            pass
    assert q.admitted == 0
    assert q.rejected == 1
    with q.slot():  # freed
        pass
    with pytest.raises(ConfigError, match="at least 1"):
        AdmissionQueue("m", 0)


def test_concurrent_users_never_see_each_others_threads() -> None:
    fake = FakeChatModel(responses=["ok"] * 40)
    agent = make_agent(fake)
    seen: dict[str, str] = {}
    lock = threading.Lock()
    with serve_in_thread(create_app(agent)) as url:

        def one(i: int) -> None:
            body = chat(text=f"note {i}", user=f"user-{i}")
            reply = httpx.post(f"{url}/v1/chat/completions", json=body, timeout=60).json()
            with lock:
                seen[reply["lamina"]["user_id"]] = reply["lamina"]["thread_id"]

        with ThreadPoolExecutor(8) as pool:
            list(pool.map(one, range(16)))
    agent.close()
    assert sorted(seen) == sorted(f"user-{i}" for i in range(16))
    assert len(set(seen.values())) == 16  # a thread each


# -- fuzzing -----------------------------------------------------------------------------------
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner),
    max_leaves=12,
)
bodies = st.one_of(
    st.binary(max_size=300),
    json_values.map(lambda v: json.dumps(v).encode()),
    st.fixed_dictionaries(
        {"model": st.one_of(st.just("lamina"), st.text(max_size=10), json_values)},
        optional={
            "messages": st.one_of(
                json_values,
                st.lists(
                    st.fixed_dictionaries(
                        {
                            "role": st.sampled_from(["user", "system", "assistant", "tool", "x"]),
                            "content": st.one_of(st.text(max_size=50), json_values),
                        }
                    ),
                    max_size=3,
                ),
            ),
            "stream": json_values,
            "max_tokens": json_values,
            "temperature": json_values,
            "lamina": json_values,
        },
    ).map(lambda v: json.dumps(v).encode()),
)


@settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(body=bodies)
def test_fuzzed_bodies_get_a_clean_answer_never_a_5xx(served: httpx.Client, body: bytes) -> None:
    reply = served.post(
        "/v1/chat/completions",
        content=body,
        headers={"content-type": "application/json"},
        timeout=30,
    )
    assert reply.status_code < 500, reply.text
    if reply.status_code >= 400:
        assert reply.json()["error"]["message"]


def test_response_format_is_parsed_or_refused(served: httpx.Client) -> None:
    from lamina.serving.protocol import ChatCompletionRequest

    req = ChatCompletionRequest.model_validate(
        chat(
            model="fake",
            response_format={"type": "json_schema", "json_schema": {"schema": {"type": "object"}}},
        )
    )
    assert req.json_schema() == {"type": "object"}
    assert ChatCompletionRequest.model_validate(chat()).json_schema() is None
    bad = served.post(
        "/v1/chat/completions", json=chat(model="fake", response_format={"type": "xml"})
    )
    assert bad.status_code == 400
    assert "response_format" in bad.json()["error"]["message"]


def test_serve_with_a_missing_config_is_one_clear_line(tmp_path) -> None:
    from typer.testing import CliRunner

    from lamina.cli import app

    result = CliRunner().invoke(app, ["serve", "--config", str(tmp_path / "missing.toml")])
    assert result.exit_code == 1
    assert "Expected a config file at" in result.output
    assert "Traceback" not in result.output
