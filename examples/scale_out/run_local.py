"""Stand the scale-out layout up on this host and run a task through it.

    python examples/scale_out/run_local.py

Starts two `llama_cpp.server` model servers (ports 8001, 8002), a Chroma server (8000) and a
throwaway PostgreSQL (5433) — the ports in lamina.toml — runs a tool task and a summary through
an agent built from lamina.toml, prints which model answered each, and stops everything.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from lamina import Agent
from lamina.models.pool import default_pool
from lamina.scaleout.servers import start_chroma_server, start_llama_cpp_server, start_postgres

HERE = Path(__file__).resolve().parent


def main() -> None:
    pool = default_pool()
    tmp = Path(tempfile.mkdtemp(prefix="lamina-scale-out-"))
    with (
        start_llama_cpp_server(
            pool.path_of("smollm2-135m-instruct"), alias="smollm2-remote", port=8001
        ),
        start_llama_cpp_server(pool.path_of("gemma3-270m"), alias="gemma-remote", port=8002),
        start_chroma_server(tmp / "chroma", port=8000),
        start_postgres(port=5433),
        Agent.from_config(HERE / "lamina.toml") as agent,
    ):
        for task in (
            "Compute 12 times 7.",
            "Summarise this text: the launch moved to May because the parts arrived late.",
        ):
            result = agent.run(task, user_id="demo")
            print(f"{task}\n  route={result.route} model={result.model}")
            print(f"  models used={result.models_used} answer={result.answer!r}")


if __name__ == "__main__":
    main()
