"""`lamina serve`'s app driven by the official `openai` client, on the real models and memory."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest
from openai import OpenAI

from lamina import Agent
from lamina.config import get_settings
from lamina.serving.app import create_app
from lamina.serving.local import serve_in_thread
from lamina.stores.memory import MemoryStore
from lamina.stores.step_cache import StepCache

TOOL_MODEL = "smollm2-135m-instruct"


@pytest.fixture(scope="module")
def client(pool, encoder, tmp_path_factory):
    home = tmp_path_factory.mktemp("serve_home")
    agent = Agent(
        pool=pool,
        settings=get_settings(home=home, seed=0),
        memory=MemoryStore(home / "memory", encoder=encoder),
        step_cache=StepCache(home / "steps.sqlite"),
        checkpointer=":memory:",
        model_settings={"max_tokens": 96},
    )
    with serve_in_thread(create_app(agent)) as url:
        yield OpenAI(base_url=f"{url}/v1", api_key="unused", max_retries=0, timeout=300)
    agent.context.memory.close()


def test_the_agent_answers_through_the_openai_client(client):
    reply = client.chat.completions.create(
        model="lamina", messages=[{"role": "user", "content": "Compute 12 times 7."}]
    )
    assert "84" in reply.choices[0].message.content
    ext = reply.model_extra["lamina"]
    assert ext["route"] == "arithmetic"
    assert ext["model"] == TOOL_MODEL
    assert [c["name"] for c in ext["tool_calls"] if not c["repeated"]] == ["calculator"]
    assert reply.usage.total_tokens > 0


def test_the_agent_streams_through_the_openai_client(client):
    stream = client.chat.completions.create(
        model="lamina",
        messages=[{"role": "user", "content": "What is 25 minus 8?"}],
        stream=True,
    )
    chunks = list(stream)
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert "17" in text
    layers = [
        c.model_extra["lamina"]["layer"]
        for c in chunks
        if "layer" in (c.model_extra.get("lamina") or {})
    ]
    assert layers[:4] == ["input", "router", "memory", "reasoning"]
    assert "execution" in layers
    assert chunks[-1].choices[0].finish_reason == "stop"


def test_a_model_is_served_directly_and_streams(client):
    ids = [m.id for m in client.models.list().data]
    assert ids[0] == "lamina"
    assert TOOL_MODEL in ids
    reply = client.chat.completions.create(
        model=TOOL_MODEL,
        messages=[{"role": "user", "content": "Say hello."}],
        max_tokens=12,
        temperature=0,
    )
    assert reply.choices[0].message.content.strip()
    assert 0 < reply.usage.completion_tokens <= 12
    streamed = client.chat.completions.create(
        model=TOOL_MODEL,
        messages=[{"role": "user", "content": "Say hello."}],
        max_tokens=12,
        temperature=0,
        stream=True,
    )
    text = "".join(c.choices[0].delta.content or "" for c in streamed if c.choices)
    assert text == reply.choices[0].message.content  # temperature 0: the same tokens


def test_sixteen_concurrent_requests_to_one_model_all_succeed(client):
    def one(i: int) -> str:
        reply = client.chat.completions.create(
            model=TOOL_MODEL,
            messages=[{"role": "user", "content": f"Count to {i % 5 + 1}."}],
            max_tokens=8,
            temperature=0,
        )
        return reply.choices[0].finish_reason

    with ThreadPoolExecutor(16) as pool:
        reasons = list(pool.map(one, range(16)))
    assert len(reasons) == 16
    assert set(reasons) <= {"stop", "length"}


def test_concurrent_users_never_see_each_others_memories(client):
    def tell(user: str, fact: str) -> None:
        client.chat.completions.create(
            model="lamina",
            messages=[{"role": "user", "content": f"Remember that my locker code is {fact}."}],
            user=user,
        )

    def ask(user: str) -> dict:
        reply = client.chat.completions.create(
            model="lamina",
            messages=[{"role": "user", "content": "What is my locker code?"}],
            user=user,
        )
        return reply.model_extra["lamina"]

    with ThreadPoolExecutor(2) as pool:
        list(pool.map(lambda uf: tell(*uf), [("ann", "4417"), ("ben", "9902")]))
    with ThreadPoolExecutor(2) as pool:
        ann, ben = pool.map(ask, ["ann", "ben"])
    ann_texts = " ".join(m["text"] for m in ann["memories"])
    ben_texts = " ".join(m["text"] for m in ben["memories"])
    assert "4417" in ann_texts
    assert "9902" in ben_texts
    assert "9902" not in ann_texts
    assert "4417" not in ben_texts
