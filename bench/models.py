"""Benchmark: lamina's llama.cpp chat model against raw llama_cpp.Llama.

    python bench/models.py [--quick] [--json]

Each model is loaded twice with the same settings: once in a lamina ModelPool (driven through
LlamaChatModel) and once as a bare llama_cpp.Llama (driven with create_completion on the same
rendered prompt). The same prompts go through both, alternating which goes first, at temperature
0 with a fixed max_tokens, so both decode the same tokens. The overhead ratio is lamina's total
wall time over raw's (goal: <= 1.03). A second table gives the decode speed of grammar-constrained
tool calls (choice + JSON arguments) through lamina for each model.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from langchain_core.messages import HumanMessage, SystemMessage
from langchain_core.tools import tool

from lamina.config import get_settings
from lamina.models.llama.loader import load_llama
from lamina.models.pool import ModelPool

PROMPTS = [
    "What is the capital of France?",
    "Give me three tips for better sleep.",
    "Explain what a prime number is.",
    "Write a short poem about the sea.",
    "Why is the sky blue?",
    "Name some fruits that are red.",
    "How do I boil an egg?",
    "What is photosynthesis?",
    "Describe a cat in two sentences.",
    "What does a compiler do?",
]

TOOL_PROMPTS = [
    "What's the weather in Paris?",
    "What is 17 plus 25?",
    "Send an email to bob@example.com saying hello.",
    "Add 3 and 4.",
    "Is it sunny in Madrid?",
    "Email carol@example.com about lunch.",
]


@tool
def get_weather(city: str) -> str:
    """Get the current weather for a city."""
    return "sunny"


@tool
def add_numbers(a: float, b: float) -> float:
    """Add two numbers and return the sum."""
    return a + b


@tool
def send_email(to: str, subject: str, body: str) -> str:
    """Send an email to an address."""
    return "sent"


MODELS = {"smollm2-135m-instruct": True, "gemma3-270m": False}  # name -> chat (vs base) model


def _messages(name: str, question: str) -> list[Any]:
    if MODELS[name]:
        return [SystemMessage("You are a helpful assistant."), HumanMessage(question)]
    return [HumanMessage(question)]  # base model: plain text completion


def bench_plain(pool: ModelPool, name: str, prompts: list[str], max_tokens: int) -> dict[str, Any]:
    """Same prompts through lamina and raw llama.cpp, alternating; returns timings."""
    settings = pool.settings
    spec = pool.spec(name)
    raw = load_llama(spec, pool.path_of(name), settings)
    llm = pool.chat_model(name, temperature=0.0, max_tokens=max_tokens, seed=settings.seed)
    with pool.use(name) as llama:
        renderer = llm._get_renderer(llama)
    rendered = [renderer.render(_messages(name, q)) for q in prompts]

    def run_raw(i: int) -> tuple[float, int]:
        start = time.perf_counter()
        out = raw.create_completion(
            rendered[i].text,
            max_tokens=max_tokens,
            temperature=0.0,
            top_p=0.95,
            top_k=40,
            repeat_penalty=1.0,
            seed=settings.seed,
            stop=list(rendered[i].stop),
        )
        return time.perf_counter() - start, int(out["usage"]["completion_tokens"])

    def run_lamina(i: int) -> tuple[float, int]:
        start = time.perf_counter()
        msg = llm.invoke(_messages(name, prompts[i]))
        usage = msg.usage_metadata or {"output_tokens": 0}
        return time.perf_counter() - start, int(usage["output_tokens"])

    run_raw(0)  # warm both (first decode allocates buffers)
    run_lamina(0)
    raw_t = lam_t = 0.0
    raw_n = lam_n = 0
    for i in range(len(prompts)):
        order = (run_raw, run_lamina) if i % 2 == 0 else (run_lamina, run_raw)
        for fn in order:
            dt, n = fn(i)
            if fn is run_raw:
                raw_t, raw_n = raw_t + dt, raw_n + n
            else:
                lam_t, lam_n = lam_t + dt, lam_n + n
    raw.close()
    return {
        "model": name,
        "prompts": len(prompts),
        "max_tokens": max_tokens,
        "raw_tokens": raw_n,
        "lamina_tokens": lam_n,
        "raw_seconds": round(raw_t, 3),
        "lamina_seconds": round(lam_t, 3),
        "raw_tokens_per_s": round(raw_n / raw_t, 1) if raw_t else 0.0,
        "lamina_tokens_per_s": round(lam_n / lam_t, 1) if lam_t else 0.0,
        "overhead_ratio": round(lam_t / raw_t, 4) if raw_t else 0.0,
    }


def bench_tools(pool: ModelPool, name: str, prompts: list[str], max_tokens: int) -> dict[str, Any]:
    """Grammar-constrained tool calls through lamina: decode speed and how many parsed."""
    llm = pool.chat_model(name, temperature=0.0, max_tokens=max_tokens)
    bound = llm.bind_tools([get_weather, add_numbers, send_email])
    bound.invoke([HumanMessage(prompts[0])])  # warm
    tokens = calls = errors = 0
    elapsed = 0.0
    for prompt in prompts:
        start = time.perf_counter()
        try:
            msg = bound.invoke([HumanMessage(prompt)])
        except Exception:  # a cut-off counts as an error, the benchmark goes on
            errors += 1
            elapsed += time.perf_counter() - start
            continue
        elapsed += time.perf_counter() - start
        tokens += (msg.usage_metadata or {"output_tokens": 0})["output_tokens"]
        calls += bool(msg.tool_calls)
    return {
        "model": name,
        "prompts": len(prompts),
        "tool_calls": calls,
        "errors": errors,
        "output_tokens": tokens,
        "seconds": round(elapsed, 3),
        "tokens_per_s": round(tokens / elapsed, 1) if elapsed else 0.0,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer prompts, shorter answers")
    parser.add_argument("--json", action="store_true", help="print one JSON object only")
    args = parser.parse_args(argv)

    prompts = PROMPTS[:4] if args.quick else PROMPTS
    tool_prompts = TOOL_PROMPTS[:3] if args.quick else TOOL_PROMPTS
    max_tokens = 32 if args.quick else 64
    settings = get_settings()
    pool = ModelPool(settings)
    plain, tools = [], []
    try:
        for name in MODELS:
            plain.append(bench_plain(pool, name, prompts, max_tokens))
            tools.append(bench_tools(pool, name, tool_prompts, 96))
    finally:
        pool.close()
    result = {
        "n_threads": settings.n_threads,
        "quick": args.quick,
        "plain": plain,
        "tool_calls": tools,
        "goal_overhead_ratio": 1.03,
    }
    if args.json:
        print(json.dumps(result))
        return 0
    _print_tables(result)
    return 0


def _print_tables(result: dict[str, Any]) -> None:
    from rich.console import Console
    from rich.table import Table

    console = Console()
    table = Table(
        title=f"Plain generation, lamina vs raw llama_cpp (n_threads={result['n_threads']})"
    )
    for col in ("model", "prompts", "tokens raw/lamina", "raw tok/s", "lamina tok/s", "ratio"):
        table.add_column(col, justify="right" if col != "model" else "left", no_wrap=True)
    for row in result["plain"]:
        ok = "green" if row["overhead_ratio"] <= result["goal_overhead_ratio"] else "red"
        table.add_row(
            row["model"],
            str(row["prompts"]),
            f"{row['raw_tokens']}/{row['lamina_tokens']}",
            f"{row['raw_tokens_per_s']:.1f}",
            f"{row['lamina_tokens_per_s']:.1f}",
            f"[{ok}]{row['overhead_ratio']:.3f}x[/{ok}]",
        )
    console.print(table)
    tools = Table(title="Grammar-constrained tool calls through lamina (choice + JSON arguments)")
    for col in ("model", "prompts", "tool calls", "errors", "tokens", "tok/s"):
        tools.add_column(col, justify="right" if col != "model" else "left")
    for row in result["tool_calls"]:
        tools.add_row(
            row["model"],
            str(row["prompts"]),
            str(row["tool_calls"]),
            str(row["errors"]),
            str(row["output_tokens"]),
            f"{row['tokens_per_s']:.1f}",
        )
    console.print(tools)


if __name__ == "__main__":
    raise SystemExit(main())
