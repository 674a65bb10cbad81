"""lamina's graph under LangGraph's own server: `langgraph dev` (langgraph-cli[inmem]) serving
`langgraph.json`, driven over HTTP by the official `langgraph-sdk` client.

LangGraph's CLI and API server live in a venv of their own under ~/.cache/lamina/bench-venvs/
(created on first use, like the semantic-router venv of bench/routing.py). That venv sees
lamina and its dependencies through a `.pth` file pointing at this checkout's .venv, after its
own packages, so the server runs the very lamina of this checkout.

The script starts the server on a free loopback port, sends tool tasks through
`client.runs.wait` on fresh threads (and a follow-up on the same thread), and checks each answer
and that the calculator was called. Prints a table; `--json` prints the records; `--quick` runs
one task. Never part of `make test` (the server and the models take a minute to start).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import signal
import socket
import subprocess
import sys
import sysconfig
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
VENVS = Path.home() / ".cache" / "lamina" / "bench-venvs"
VENV = VENVS / "langgraph-server"
PACKAGES = ["langgraph-cli[inmem]>=0.4", "langgraph-sdk>=0.4"]
TASKS = [
    ("Compute 12 times 7.", "84"),
    ("What is 25 minus 8?", "17"),
    ("What is 144 divided by 12?", "12"),
]
CONFIG = """\
default_model = "smollm2-135m-instruct"
tools = ["lamina.tools.calculator:calculator"]
"""


def _log(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


def ensure_venv() -> Path:
    """The venv's bin directory (created on first use)."""
    python = VENV / "bin" / "python"
    marker = VENV / ".lamina-bench-ready"
    if not (marker.exists() and python.exists()):
        _log(f"creating {VENV} ({', '.join(PACKAGES)})")
        VENVS.mkdir(parents=True, exist_ok=True)
        subprocess.run([sys.executable, "-m", "venv", "--clear", str(VENV)], check=True)
        pip = [str(python), "-m", "pip", "install", "-q", "--disable-pip-version-check"]
        subprocess.run([*pip, *PACKAGES], check=True, stdout=sys.stderr)
        marker.write_text(" ".join(PACKAGES) + "\n", encoding="utf-8")
    # lamina and its dependencies from this checkout's venv, after the venv's own packages
    site = subprocess.run(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()
    ours = sysconfig.get_paths()["purelib"]
    Path(site, "zz-lamina-checkout.pth").write_text(f"{ROOT}\n{ours}\n", encoding="utf-8")
    return python.parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_server(bin_dir: Path, port: int, config: Path, log: Path) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "LAMINA_CONFIG": str(config),
        "LANGGRAPH_CLI_NO_ANALYTICS": "1",
        "LANGSMITH_TRACING": "false",
        "HF_HUB_OFFLINE": "1",
        "TRANSFORMERS_OFFLINE": "1",
        "ANONYMIZED_TELEMETRY": "False",
    }
    cmd = [
        str(bin_dir / "langgraph"),
        "dev",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--no-browser",
        "--no-reload",
        "--allow-blocking",
        "--config",
        str(ROOT / "langgraph.json"),
    ]
    out = log.open("wb")
    return subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=out, stderr=out, start_new_session=True)


def wait_ready(url: str, proc: subprocess.Popen[bytes], log: Path, timeout: float) -> None:
    import httpx

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(
                f"langgraph dev exited ({proc.returncode}):\n{log.read_text()[-3000:]}"
            )
        try:
            if httpx.get(f"{url}/ok", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    raise SystemExit(f"langgraph dev did not answer in {timeout} s:\n{log.read_text()[-3000:]}")


def run_tasks(url: str, tasks: list[tuple[str, str]]) -> list[dict[str, object]]:
    from langgraph_sdk import get_sync_client

    client = get_sync_client(url=url)
    assistants = client.assistants.search(graph_id="lamina")
    records: list[dict[str, object]] = []
    thread = None
    for i, (question, expected) in enumerate(tasks):
        # the last task is a follow-up on the first task's thread
        if thread is None or i < len(tasks) - 1 or len(tasks) == 1:
            thread = client.threads.create()
        start = time.perf_counter()
        state = client.runs.wait(
            thread["thread_id"],
            assistants[0]["assistant_id"],
            input={"messages": [{"role": "user", "content": question}]},
        )
        seconds = time.perf_counter() - start
        reply = state["messages"][-1] if isinstance(state, dict) else {}
        trace = (reply.get("response_metadata") or {}).get("lamina") or {}
        answer = str(reply.get("content") or "")
        tools = [c.get("name") for c in trace.get("tool_calls") or []]
        records.append(
            {
                "task": question,
                "answer": answer,
                "correct": expected in re.findall(r"-?\d+", answer),
                "tool_called": "calculator" in tools,
                "ok": trace.get("ok"),
                "messages_in_thread": len(state.get("messages", [])),
                "seconds": round(seconds, 2),
            }
        )
    return records


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="one task")
    parser.add_argument("--json", action="store_true", help="print the records as JSON")
    parser.add_argument("--timeout", type=float, default=300.0, help="server start timeout (s)")
    args = parser.parse_args()
    bin_dir = ensure_venv()
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    with tempfile.TemporaryDirectory() as tmp:
        config = Path(tmp, "lamina.toml")
        config.write_text(CONFIG, encoding="utf-8")
        log = Path(tmp, "langgraph-dev.log")
        proc = start_server(bin_dir, port, config, log)
        try:
            wait_ready(url, proc, log, args.timeout)
            records = run_tasks(url, TASKS[:1] if args.quick else TASKS)
        finally:
            os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
    if args.json:
        print(json.dumps(records, indent=2))
    else:
        print(f"{'task':32} {'correct':>7} {'tool':>5} {'ok':>5} {'msgs':>4} {'s':>6}  answer")
        for r in records:
            print(
                f"{r['task']:32} {r['correct']!s:>7} {r['tool_called']!s:>5} {r['ok']!s:>5} "
                f"{r['messages_in_thread']:>4} {r['seconds']:>6}  {str(r['answer'])[:60]!r}"
            )
        print(
            f"{sum(bool(r['correct']) for r in records)} passed, "
            f"{sum(not r['correct'] for r in records)} failed"
        )
    if not all(r["correct"] and r["tool_called"] for r in records):
        raise SystemExit(1)


if __name__ == "__main__":
    main()
