"""Long inputs on the real SmolLM2-135M: its context sized from the GGUF's metadata, a prompt
over it refused with `InputError` before llama.cpp decodes anything (HTTP 400 from the server),
and a ~7 KB summarise request answered (issue 18, item 4)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from lamina import Agent
from lamina.config import get_settings
from lamina.errors import InputError
from lamina.models.context import context_size_for
from lamina.models.pool import ModelPool
from lamina.serving.app import create_app
from lamina.serving.local import serve_in_thread

MODEL = "smollm2-135m-instruct"

SENTENCES = [
    "The city council met on Tuesday evening to discuss the new public library.",
    "Members voted seven to two in favour of building it near the central station.",
    "Construction is expected to begin in the spring and to last about eighteen months.",
    "The budget is twelve million euros, shared between the city and the region.",
    "Several residents spoke about parking and traffic around the site.",
    "The mayor promised a traffic study before the work starts.",
    "Local schools asked for a room where classes can borrow books together.",
    "The architects showed a building with large windows and a roof garden.",
]


def article(chars: int) -> str:
    """Plain prose of about `chars` characters, whole sentences."""
    out: list[str] = []
    i = 0
    while sum(len(s) + 1 for s in out) < chars:
        out.append(SENTENCES[i % len(SENTENCES)].replace("The ", f"In item {i}, the ", 1))
        i += 1
    return " ".join(out)


def n_ctx(pool: ModelPool) -> int:
    with pool.use(MODEL) as llama:
        return int(llama.n_ctx())


def over_the_context(pool: ModelPool, ask: str = "Summarise this: ") -> str:
    """`ask` and a text: at most 32,000 characters (the input layer's limit), more tokens than
    SmolLM2's context holds."""
    text = ask + " ".join(f"w{i % 97}" for i in range(10_000))[:31_000]
    with pool.use(MODEL) as llama:
        tokens = len(llama.tokenize(text.encode(), add_bos=False, special=True))
        assert tokens > int(llama.n_ctx()), "the test text must overflow the context"
    return text


@pytest.fixture(scope="module")
def agent(pool: ModelPool, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Agent]:
    home = tmp_path_factory.mktemp("context_home")
    a = Agent(
        models=[MODEL, "gemma3-270m"],
        pool=pool,
        settings=get_settings(home=home, seed=0),
        memory=False,
        step_cache=False,
        checkpointer=":memory:",
        model_settings={"max_tokens": 32},
    )
    yield a
    a.close()


def test_the_context_comes_from_the_metadata_within_the_budget(pool: ModelPool) -> None:
    spec = pool.spec(MODEL)
    expected = context_size_for(spec, pool.path_of(MODEL), pool.settings)
    assert n_ctx(pool) == expected.tokens
    assert expected.trained is not None
    assert 2048 < expected.tokens <= expected.trained
    assert expected.kv_bytes <= pool.settings.context_memory_bytes


def test_a_prompt_over_the_context_is_input_error_before_decoding(
    pool: ModelPool, smollm2: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    text = over_the_context(pool)
    calls: list[int] = []
    with pool.use(MODEL) as llama:
        real = llama.create_completion

        def spy(tokens: Any, **kwargs: Any) -> Any:
            calls.append(len(tokens))
            return real(tokens, **kwargs)

        monkeypatch.setattr(llama, "create_completion", spy)
    with pytest.raises(InputError) as caught:
        smollm2.invoke(text)
    assert calls == []  # llama.cpp never got the prompt
    message = str(caught.value)
    assert f"context of {n_ctx(pool):,} tokens" in message
    assert "shorten the input" in message


def test_an_agent_run_over_the_context_raises_input_error(pool: ModelPool, agent: Agent) -> None:
    # not a summary (that is extractive, no model reads the text): the model gets it whole
    task = over_the_context(pool, ask="Which of these codes comes most often? ")
    with pytest.raises(InputError, match="tokens"):
        agent.run(task, thread_id="overflow")


def test_a_7kb_summarise_request_is_answered(agent: Agent) -> None:
    text = article(6_900)
    result = agent.run("Summarise this: " + text, thread_id="summary")
    assert result.ok
    assert result.route == "summarise"
    assert 0 < len(result.answer) < len(text)
    assert result.answer.split(". ")[0] in text  # extractive: the text's own sentences


def test_the_server_answers_400_over_the_context_and_200_for_a_10kb_prompt(
    pool: ModelPool, agent: Agent
) -> None:
    too_long = over_the_context(pool)
    fits = article(10_000)  # the 10 KB prompt, a 500 at a 2,048-token context
    with serve_in_thread(create_app(agent)) as url, httpx.Client(base_url=url, timeout=600) as c:
        refused = c.post(
            "/v1/chat/completions",
            json={"model": MODEL, "messages": [{"role": "user", "content": too_long}]},
        )
        answered = c.post(
            "/v1/chat/completions",
            json={
                "model": MODEL,
                "max_tokens": 8,
                "temperature": 0,
                "messages": [{"role": "user", "content": f"Summarise this: {fits}"}],
            },
        )
    assert refused.status_code == 400
    error = refused.json()["error"]
    assert (error["type"], error["code"]) == ("invalid_request_error", "invalid_input")
    assert f"context of {n_ctx(pool):,} tokens" in error["message"]
    assert answered.status_code == 200, answered.text
    assert answered.json()["usage"]["prompt_tokens"] > 2048
