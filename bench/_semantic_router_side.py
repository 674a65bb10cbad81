"""The semantic-router side of bench/routing.py; runs in semantic-router's own virtual env.

    <venv>/bin/python bench/_semantic_router_side.py

A line protocol on stdin/stdout, so the benchmark can interleave timing passes of both routers
(the machine's load then falls on both alike):

1. The first stdin line is the job, one JSON object: {"encoder_path", "routes": {name:
   [utterances]}, "validation": [[text, label or null], ...], "test": [...], "seed", "threads"}. The
   router is built over a local HuggingFace encoder (the same all-MiniLM-L6-v2 files lamina
   uses), fitted on the validation split with semantic-router's own `fit`, warmed up with one
   call, and one JSON line is printed: {"version", "api", "predictions", ...}.
2. Each further line "pass GAP_MS" routes every test request once, sleeping GAP_MS before each
   call (outside the timing: requests arrive one at a time), timing each call in wall time and in
   the process's CPU time (all its threads), and prints {"latencies_ms": [...], "cpu_ms":
   [...]}. A line "quit" (or the end of stdin) ends the process.

semantic-router 0.x: `SemanticRouter` (default top_k=5, mean aggregation) and `fit`, which
searches per-route score thresholds on labelled data (None = no route). semantic-router 1.x
renamed it `IndexedRouter` and made `fit` a Platt calibration of the score into P(correct); a
route is then taken when that probability reaches 0.5.

Standard library and semantic-router only: this file never imports lamina.
"""

from __future__ import annotations

import json
import os
import random
import sys
import time
from typing import Any

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
os.environ.setdefault("GOMP_SPINCOUNT", "10000")


def _quiet() -> None:
    # semantic-router logs and shows tqdm bars on stderr; keep stderr for real errors.
    import logging

    logging.getLogger("semantic_router").setLevel(logging.ERROR)
    os.environ.setdefault("TQDM_DISABLE", "1")


def _classic(job: dict[str, Any]) -> tuple[Any, dict[str, Any]]:
    from semantic_router import Route
    from semantic_router.encoders import HuggingFaceEncoder
    from semantic_router.routers import SemanticRouter

    encoder = HuggingFaceEncoder(name=job["encoder_path"], device="cpu")
    routes = [Route(name=n, utterances=u) for n, u in job["routes"].items()]
    router = SemanticRouter(encoder=encoder, routes=routes, auto_sync="local")
    before = router.get_thresholds()
    texts = [t for t, _ in job["validation"]]
    labels = [lab for _, lab in job["validation"]]
    started = time.perf_counter()
    router.fit(X=texts, y=labels)
    fit_s = time.perf_counter() - started

    def decide(text: str) -> str | None:
        choice = router(text)
        name = choice[0].name if isinstance(choice, list) else choice.name
        return str(name) if name is not None else None

    return decide, {
        "api": "SemanticRouter",
        "thresholds_before": before,
        "thresholds": router.get_thresholds(),
        "fit_seconds": round(fit_s, 3),
        "top_k": router.top_k,
        "aggregation": router.aggregation,
    }


def _indexed(job: dict[str, Any]) -> tuple[Any, dict[str, Any]]:
    from semantic_router import IndexedRouter, Route
    from semantic_router.encoders import HuggingFaceEncoder

    encoder = HuggingFaceEncoder(name=job["encoder_path"], device="cpu")
    routes = [Route(name=n, utterances=u) for n, u in job["routes"].items()]
    router = IndexedRouter(encoder=encoder, routes=routes, confidence_threshold=0.5)
    texts = [t for t, _ in job["validation"]]
    labels = [lab for _, lab in job["validation"]]
    started = time.perf_counter()
    report = router.fit(texts, labels)
    fit_s = time.perf_counter() - started

    def decide(text: str) -> str | None:
        choice = router(text)
        name = choice[0].name if isinstance(choice, list) else choice.name
        return str(name) if name is not None else None

    return decide, {
        "api": "IndexedRouter",
        "calibration": {"method": report.method, "ece": report.ece},
        "confidence_threshold": 0.5,
        "fit_seconds": round(fit_s, 3),
        "top_k": router.top_k,
    }


def _reply(data: dict[str, Any]) -> None:
    sys.stdout.write(json.dumps(data) + "\n")
    sys.stdout.flush()


def main() -> int:
    _quiet()
    job = json.loads(sys.stdin.readline())
    random.seed(job.get("seed", 0))  # SemanticRouter.fit is a random search
    try:
        import numpy as np

        np.random.seed(job.get("seed", 0))
    except ImportError:
        pass
    import torch

    if job.get("threads"):
        torch.set_num_threads(int(job["threads"]))
    import semantic_router
    import semantic_router.routers

    version = getattr(semantic_router, "__version__", "unknown")
    started = time.perf_counter()
    has_classic = hasattr(semantic_router.routers, "SemanticRouter")
    decide, info = _classic(job) if has_classic else _indexed(job)
    build_s = time.perf_counter() - started
    test = [text for text, _ in job["test"]]
    decide(test[0])  # warm-up: the first call pays for lazy set-up, as on lamina's side
    predictions = [decide(text) for text in test]
    _reply(
        {
            "version": version,
            "build_and_fit_seconds": round(build_s, 3),
            "predictions": predictions,
            "torch_threads": torch.get_num_threads(),
            **info,
        }
    )
    for line in sys.stdin:
        command = line.strip()
        if command == "quit":
            break
        word, _, gap = command.partition(" ")
        if word != "pass":
            _reply({"error": f"unknown command {command!r}; expected 'pass GAP_MS' or 'quit'"})
            continue
        gap_s = float(gap or 0) / 1000.0
        latencies: list[float] = []
        cpu: list[float] = []
        for text in test:
            if gap_s:
                time.sleep(gap_s)
            t0, c0 = time.perf_counter(), time.process_time()
            decide(text)
            latencies.append((time.perf_counter() - t0) * 1000.0)
            cpu.append((time.process_time() - c0) * 1000.0)
        _reply({"latencies_ms": latencies, "cpu_ms": cpu})
    return 0


if __name__ == "__main__":
    sys.exit(main())
