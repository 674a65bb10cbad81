"""Start and stop the distributed parts on this host: a llama.cpp model server, a Chroma server,
a throwaway PostgreSQL.

Tests, `bench/scale_out.py` and `examples/scale_out/` use these to stand the scale-out layout up
on loopback ports; in production each part runs on its own host under its own supervisor, and
lamina only needs their URLs (see `examples/scale_out/lamina.toml`).
"""

from __future__ import annotations

import logging
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType

from lamina.errors import ConfigError

__all__ = [
    "ManagedProcess",
    "free_port",
    "postgres_available",
    "start_chroma_server",
    "start_llama_cpp_server",
    "start_postgres",
]

logger = logging.getLogger(__name__)


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


def _listening(host: str, port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.settimeout(0.5)
        return s.connect_ex((host, port)) == 0


@dataclass
class ManagedProcess:
    """A server process this one started; `stop()` (or leaving the `with` block) ends it."""

    name: str
    process: subprocess.Popen[bytes]
    host: str
    port: int
    log_path: Path
    url: str
    cleanup: list[Path] = field(default_factory=list)
    stop_command: list[str] | None = None

    def wait_ready(self, timeout: float) -> None:
        """Block until the port accepts connections.

        Raises:
            ConfigError: the process exited or did not listen within `timeout` seconds.
        """
        deadline = time.monotonic() + timeout
        while not _listening(self.host, self.port):
            if self.process.poll() is not None or time.monotonic() > deadline:
                tail = self.log_tail()
                what = "exited" if self.process.poll() is not None else "did not"
                self.stop()
                raise ConfigError(
                    f"Expected {self.name} to listen on {self.host}:{self.port} within "
                    f"{timeout:.0f} s; it {what}. Its log ends with:\n{tail}\nFix: check the "
                    f"command and the log at {self.log_path}."
                )
            time.sleep(0.1)

    def log_tail(self, lines: int = 15) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"

    def kill(self) -> None:
        """SIGKILL the server (tests of a crashed endpoint)."""
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=10)

    def stop(self) -> None:
        """Stop the server gracefully (then forcefully) and remove its temporary files."""
        if self.stop_command is not None and self.process.poll() is None:
            subprocess.run(self.stop_command, capture_output=True, timeout=60, check=False)
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)
        for path in self.cleanup:
            shutil.rmtree(path, ignore_errors=True)

    def __enter__(self) -> ManagedProcess:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


def _spawn(
    name: str,
    command: list[str],
    host: str,
    port: int,
    url: str,
    log_dir: Path,
    env: dict[str, str] | None = None,
) -> ManagedProcess:
    log_dir.mkdir(parents=True, exist_ok=True)
    log_path = log_dir / f"{name}-{port}.log"
    log = log_path.open("wb")
    process = subprocess.Popen(
        command,
        stdout=log,
        stderr=subprocess.STDOUT,
        env={**os.environ, **(env or {})},
        start_new_session=True,
    )
    log.close()
    return ManagedProcess(name, process, host, port, log_path, url)


def start_llama_cpp_server(
    model_path: str | Path,
    *,
    alias: str,
    host: str = "127.0.0.1",
    port: int | None = None,
    n_threads: int = 1,
    n_ctx: int = 2048,
    log_dir: Path | None = None,
    timeout: float = 120.0,
    chat_format: str | None = None,
) -> ManagedProcess:
    """`python -m llama_cpp.server` serving one GGUF as `alias`; returns once it listens.

    The URL is the OpenAI base (`http://HOST:PORT/v1`) to put in `ModelSpec(endpoint=...)`.
    `chat_format` picks one of llama-cpp-python's chat handlers (e.g.
    ``"chatml-function-calling"``, its tool calling); None keeps the GGUF's own template.
    """
    port = port or free_port(host)
    command = [
        sys.executable,
        "-m",
        "llama_cpp.server",
        "--model",
        str(model_path),
        "--model_alias",
        alias,
        "--host",
        host,
        "--port",
        str(port),
        "--n_threads",
        str(n_threads),
        "--n_ctx",
        str(n_ctx),
        "--seed",
        "0",
    ]
    if chat_format is not None:
        command += ["--chat_format", chat_format]
    proc = _spawn(
        "llama-cpp-server",
        command,
        host,
        port,
        f"http://{host}:{port}/v1",
        log_dir or Path(tempfile.gettempdir()),
        env={"GOMP_SPINCOUNT": os.environ.get("GOMP_SPINCOUNT", "10000")},
    )
    proc.wait_ready(timeout)
    return proc


def start_chroma_server(
    path: str | Path,
    *,
    host: str = "127.0.0.1",
    port: int | None = None,
    log_dir: Path | None = None,
    timeout: float = 60.0,
) -> ManagedProcess:
    """`chroma run --path PATH` on a loopback port (telemetry off); returns once it listens."""
    port = port or free_port(host)
    chroma = Path(sys.executable).with_name("chroma")
    if not chroma.exists():
        raise ConfigError(
            f"Expected the `chroma` command next to {sys.executable}; found none. Fix: install "
            "chromadb in this environment."
        )
    command = [str(chroma), "run", "--path", str(path), "--host", host, "--port", str(port)]
    proc = _spawn(
        "chroma",
        command,
        host,
        port,
        f"http://{host}:{port}",
        log_dir or Path(tempfile.gettempdir()),
        env={"ANONYMIZED_TELEMETRY": "False"},
    )
    proc.wait_ready(timeout)
    return proc


def _pg_bin(tool: str) -> str | None:
    found = shutil.which(tool)
    if found:
        return found
    for root in sorted(Path("/usr/lib/postgresql").glob("*/bin"), reverse=True):
        if (root / tool).exists():
            return str(root / tool)
    return None


def postgres_available() -> str | None:
    """None when a throwaway PostgreSQL can be started here, else why not."""
    if _pg_bin("initdb") is None or _pg_bin("pg_ctl") is None:
        return (
            "PostgreSQL's initdb/pg_ctl are not installed (Debian: apt-get install postgresql; "
            "`make test` does this when it runs as root)"
        )
    if os.geteuid() == 0:
        try:
            import pwd

            pwd.getpwnam("postgres")
        except KeyError:
            return "running as root and there is no `postgres` user to run initdb as"
    return None


def start_postgres(
    *, host: str = "127.0.0.1", port: int | None = None, timeout: float = 60.0
) -> ManagedProcess:
    """A throwaway PostgreSQL cluster in a temporary directory; `stop()` removes it.

    initdb refuses to run as root, so as root the cluster is created and run by the `postgres`
    user. The URL is `postgresql://postgres@HOST:PORT/postgres` (trust authentication, loopback
    only).

    Raises:
        ConfigError: PostgreSQL is not installed, or the server did not start.
    """
    why_not = postgres_available()
    if why_not is not None:
        raise ConfigError(f"Cannot start PostgreSQL: {why_not}.")
    initdb, pg_ctl = _pg_bin("initdb") or "initdb", _pg_bin("pg_ctl") or "pg_ctl"
    port = port or free_port(host)
    root = Path(tempfile.mkdtemp(prefix="lamina-pg-"))
    data = root / "data"
    as_user: list[str] = []
    if os.geteuid() == 0:
        shutil.chown(root, user="postgres", group="postgres")
        as_user = ["runuser", "-u", "postgres", "--"]
    init = subprocess.run(
        [*as_user, initdb, "-D", str(data), "-A", "trust", "-U", "postgres", "-E", "UTF8"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    if init.returncode != 0:
        shutil.rmtree(root, ignore_errors=True)
        raise ConfigError(
            f"initdb failed ({init.returncode}): {init.stderr[-500:]}. Fix: check PostgreSQL "
            "is installed and the temporary directory is writable."
        )
    command = [
        *as_user,
        _pg_bin("postgres") or str(Path(initdb).with_name("postgres")),
        "-D",
        str(data),
        "-p",
        str(port),
        "-k",
        str(root),
        "-c",
        f"listen_addresses={host}",
        "-c",
        "fsync=off",
    ]
    proc = _spawn(
        "postgres",
        command,
        host,
        port,
        f"postgresql://postgres@{host}:{port}/postgres",
        root,
    )
    proc.cleanup.append(root)
    proc.stop_command = [*as_user, pg_ctl, "-D", str(data), "-m", "fast", "-w", "stop"]
    proc.wait_ready(timeout)
    return proc
