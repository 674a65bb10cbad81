"""The tool-call runner: each valid, approved call in its own daemon thread with its own timeout,
finished calls written to the tool-call ledger, and calls found in the ledger replayed instead of
run again."""

from __future__ import annotations

import asyncio
import contextvars
import logging
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from langchain_core.tools import BaseTool, StructuredTool
from pydantic import ValidationError

from lamina.core.records import new_error_id
from lamina.core.serialise import json_safe, serialise, truncate
from lamina.errors import ToolError
from lamina.layers.execution.calls import CallError, signature, summarise_validation
from lamina.layers.execution.hung import HUNG, max_hung_calls

__all__ = ["ToolJob", "execution_tools", "tool_failure"]

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class ToolJob:
    """One valid, approved call to run (with the ledger that records it when it finishes)."""

    tool: BaseTool
    args: dict[str, Any]
    timeout: float
    call_id: str = ""
    thread_id: str = ""
    ledger: Any = None


def execution_tools(
    jobs: Sequence[ToolJob], max_chars: int, concurrent: bool
) -> list[dict[str, Any]]:
    """Run valid, approved calls (a durable step); one outcome dict per job, in order.

    Each call runs in its own daemon thread with its own timeout; with `concurrent` they all
    start at once, so the batch takes about as long as its slowest call. Daemon threads rather
    than a `ThreadPoolExecutor`: a hung tool is abandoned, and an executor would wait for it at
    exit. Abandoned calls are counted until they end, and a tool with too many of them gets no
    new thread (:mod:`lamina.layers.execution.hung`).
    """
    replayed = [_replayed(job, max_chars) for job in jobs]
    if not concurrent:
        return [
            done or _finish(job, _start(job), max_chars)
            for job, done in zip(jobs, replayed, strict=True)
        ]
    started = [None if done else _start(job) for job, done in zip(jobs, replayed, strict=True)]
    return [
        done or _finish(job, run, max_chars)  # type: ignore[arg-type]
        for job, run, done in zip(jobs, started, replayed, strict=True)
    ]


def _replayed(job: ToolJob, max_chars: int) -> dict[str, Any] | None:
    """The outcome the ledger holds for this call (it finished before a crash), or None."""
    if job.ledger is None or not job.call_id:
        return None
    entry = job.ledger.get(job.call_id)
    if entry is None:
        return None
    logger.info(
        "tool call %s (%s) finished before; replaying its result", job.call_id, job.tool.name
    )
    return {
        "ok": True,
        "seconds": 0.0,
        "text": truncate(entry.result, max_chars),
        "replayed": True,
    }


def _record(job: ToolJob, value: Any) -> None:
    """Write a finished call to the ledger, durably, before the next call can start."""
    if job.ledger is None or not job.call_id:
        return
    try:
        job.ledger.record(
            job.call_id,
            thread_id=job.thread_id,
            name=job.tool.name,
            args=json_safe(job.args),
            result=serialise(value),
        )
    except Exception as exc:  # the call itself succeeded; a resumed run may repeat it
        logger.warning("could not record tool call %s in the ledger: %s", job.call_id, exc)


@dataclass
class _Running:
    done: threading.Event
    box: dict[str, Any]
    started: float


def _start(job: ToolJob) -> _Running:
    box: dict[str, Any] = {}
    done = threading.Event()
    running = _Running(done, box, time.perf_counter())
    hung = HUNG.admit(job.tool.name, max_hung_calls(job.tool))
    if hung is not None:  # its earlier calls hang: do not start another thread that would
        box["not_answering"] = hung
        done.set()
        return running
    # Callbacks and tracing live in context variables; carry them into the worker.
    ctx = contextvars.copy_context()

    def target() -> None:
        try:
            box["value"] = ctx.run(_invoke_tool, job.tool, job.args)
            _record(job, box["value"])
        except Exception as exc:
            box["error"] = exc
        finally:
            done.set()
            HUNG.ended(job.tool.name, id(running))

    worker = threading.Thread(target=target, name=f"lamina-tool-{job.tool.name}", daemon=True)
    worker.start()
    return running


def _finish(job: ToolJob, run: _Running, max_chars: int) -> dict[str, Any]:
    """Wait for one call until its own deadline; its outcome as a serialisable dict."""
    if "not_answering" in run.box:
        return {
            "ok": False,
            "seconds": 0.0,
            **_not_answering(job, run.box["not_answering"]).to_dict(),
        }
    remaining = job.timeout - (time.perf_counter() - run.started)
    finished = run.done.wait(max(remaining, 0.0))
    seconds = time.perf_counter() - run.started
    try:
        if not finished:
            HUNG.abandon(job.tool.name, id(run), run.done)  # counted until it ends
            raise TimeoutError
        if "error" in run.box:
            raise run.box["error"]
        if "value" not in run.box:
            raise ToolError(f"Tool {job.tool.name!r} stopped without a result or an exception.")
        text = truncate(serialise(run.box["value"]), max_chars)
    except Exception as exc:
        failure = tool_failure(job, exc)
        return {"ok": False, "seconds": seconds, **failure.to_dict()}
    return {"ok": True, "seconds": seconds, "text": text}


def _not_answering(job: ToolJob, hung: int) -> CallError:
    name = job.tool.name
    return CallError(
        "unavailable",
        f"{name!r} is not answering",
        f"{hung} earlier call(s) of {name!r} are still running past their timeout, so it was "
        "not called again",
        "answer without this tool, or tell the user it is not responding",
    )


def tool_failure(job: ToolJob, exc: Exception) -> CallError:
    """A tool's exception or timeout phrased for the model."""
    name = job.tool.name
    if isinstance(exc, TimeoutError):
        return CallError(
            "timeout",
            f"{name!r} did not finish",
            f"timed out after {job.timeout:g} s",
            "try simpler arguments, another tool, or answer without this tool",
        )
    if isinstance(exc, ValidationError):
        return CallError(
            "invalid_arguments",
            f"invalid arguments for {name!r}",
            summarise_validation(exc),
            f"call {signature(job.tool)} again with arguments that match",
        )
    detail = str(exc) if isinstance(exc, ToolError) else f"{type(exc).__name__}: {exc}"
    # The model sees the text (it may fix its arguments from it); a server sends its clients
    # only the id, since the text may hold anything the tool knew (paths, hosts, credentials).
    error_id = new_error_id()
    logger.info("tool %s raised (error id %s): %s", name, error_id, detail, exc_info=exc)
    return CallError(
        "exception",
        f"{name!r} raised an error",
        detail,
        "read the error, correct the arguments and call again, or answer without it",
        error_id,
    )


def _invoke_tool(t: BaseTool, args: dict[str, Any]) -> Any:
    if isinstance(t, StructuredTool) and t.func is None and t.coroutine is not None:
        # An async-only tool: this worker thread has no running loop, so it may start one.
        return asyncio.run(t.ainvoke(args))
    return t.invoke(args)
