"""`lamina route`: explain the router's decision for a request, evaluate it, or fit it.

    lamina route "What is 12 times 7?"            # same as: lamina route explain "..."
    lamina route explain "..." --json
    lamina route eval --data routes.csv [--json]
    lamina route fit --data routes.csv --out router.json [--json]
    lamina route eval --data test.csv --router router.json --llm smollm2-135m-instruct

The router comes from `--router` (a file written by `lamina route fit`), else `--config` (the
`[[routes]]` of a lamina.toml), else `./lamina.toml`, else lamina's default routes. No chat
model is loaded unless `--llm` names one for the LLM fallback: routing only needs the encoder.
"""

from __future__ import annotations

import csv
import json
import sys
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from typer.core import TyperGroup

if TYPE_CHECKING:
    from collections.abc import Iterator

    from lamina.layers.router import IntentRouter, RouteDecision
    from lamina.layers.router.fit import RouterReport
    from lamina.layers.router.llm_fallback import LLMFallback

__all__ = ["app", "build_router", "read_labelled_csv"]


class _ExplainByDefault(TyperGroup):
    """A group where `lamina route TEXT` means `lamina route explain TEXT`."""

    # `ctx` is Any because typer vendors its own click, whose Context type is private.
    def parse_args(self, ctx: Any, args: list[str]) -> list[str]:
        if args and args[0] not in self.commands and args[0] not in ctx.help_option_names:
            args = ["explain", *args]
        return super().parse_args(ctx, args)


app = typer.Typer(
    cls=_ExplainByDefault,
    help="Explain routing decisions and evaluate the router on labelled data.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

ConfigOption = Annotated[
    Path | None,
    typer.Option(
        "--config", help="A lamina.toml whose routes build the router (default: ./lamina.toml)."
    ),
]
JsonOption = Annotated[bool, typer.Option("--json", help="Print one JSON object, nothing else.")]
RouterOption = Annotated[
    Path | None,
    typer.Option("--router", help="A router saved by `lamina route fit` (overrides --config)."),
]
LlmOption = Annotated[
    str | None,
    typer.Option(
        "--llm",
        help="Let this local chat model settle decisions near a threshold (the LLM fallback), "
        "e.g. smollm2-135m-instruct. Off by default.",
    ),
]
BandOption = Annotated[
    float,
    typer.Option("--band", help="The LLM fallback's band around a threshold (with --llm)."),
]


def build_router(config: Path | None, llm_fallback: LLMFallback | None = None) -> IntentRouter:
    """The router of `--config`, `./lamina.toml`, or lamina's default routes (no model loads).

    Args:
        config: a lamina.toml, or None to look for ./lamina.toml.
        llm_fallback: an LLM fallback for the router (None: similarity alone).

    Raises:
        ConfigError: for an invalid config file or invalid routes.
    """
    from lamina.agents.config_file import find_config, load_config
    from lamina.config import get_settings
    from lamina.layers.router import IntentRouter
    from lamina.layers.router.defaults import DEFAULT_MODEL, aggregate_for, default_routes

    routes = default_routes()
    chosen = None
    default_model = DEFAULT_MODEL
    path = find_config(config)
    settings = get_settings(path)
    if path is not None:
        cfg = load_config(path)
        default_model = cfg.default_model or DEFAULT_MODEL
        chosen = cfg.router.aggregate if cfg.router is not None else None
        if cfg.routes is not None:
            routes = cfg.build_routes()
    # The same cache directory and aggregate as the agent's router (Agent(router_aggregate=)).
    return IntentRouter(
        routes,
        aggregate=aggregate_for(chosen),
        default_model=default_model,
        cache_dir=settings.home / "router",
        llm_fallback=llm_fallback,
    )


@contextmanager
def _open_router(
    config: Path | None, router_file: Path | None, llm: str | None, band: float
) -> Iterator[IntentRouter]:
    """The router the options ask for, with its LLM fallback's model pool closed afterwards."""
    from lamina.config import get_settings
    from lamina.layers.router import IntentRouter

    pool = None
    fallback = None
    try:
        if llm is not None:
            from lamina.layers.router.llm_fallback import LLMFallback
            from lamina.models.pool import ModelPool

            pool = ModelPool(get_settings())
            fallback = LLMFallback(pool.chat_model(llm), band=band)
        if router_file is not None:
            router = IntentRouter.load(
                router_file, cache_dir=get_settings().home / "router", llm_fallback=fallback
            )
        else:
            router = build_router(config, llm_fallback=fallback)
        yield router
    finally:
        if pool is not None:
            pool.close()


def read_labelled_csv(path: Path) -> tuple[list[str], list[str | None]]:
    """Texts and labels from a CSV with columns `utterance,expected_route` (extra ones ignored).

    An empty `expected_route` means the router should abstain.

    Raises:
        ConfigError: for a missing file, missing columns or no rows.
    """
    from lamina.errors import ConfigError

    try:
        with path.open(encoding="utf-8", newline="") as fh:
            reader = csv.DictReader(fh)
            columns = list(reader.fieldnames or [])
            missing = [c for c in ("utterance", "expected_route") if c not in columns]
            if missing:
                raise ConfigError(
                    f"{path}: expected CSV columns utterance,expected_route; found "
                    f"{','.join(columns) or 'no header'} (missing {', '.join(missing)}). "
                    "Fix: add a header line 'utterance,expected_route'."
                )
            rows = list(reader)
    except FileNotFoundError:
        raise ConfigError(
            f"Expected a CSV file at {path}; found nothing. Fix: check the --data path."
        ) from None
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise ConfigError(
            f"Could not read {path} as UTF-8 CSV ({exc}). Fix: save it as UTF-8 CSV."
        ) from None
    if not rows:
        raise ConfigError(f"{path}: expected labelled rows, found none. Fix: add some rows.")
    texts = [(row.get("utterance") or "").strip() for row in rows]
    labels = [(row.get("expected_route") or "").strip() or None for row in rows]
    return texts, labels


def _explain_data(text: str, router: IntentRouter, decision: RouteDecision) -> dict[str, Any]:
    by_name = {r.name: r for r in router.routes}
    return {
        "text": text,
        "decision": decision.to_dict(),
        "routes": [
            {
                "route": name,
                "score": round(score, 4),
                "threshold": router.threshold_of(by_name[name]),
                "model": by_name[name].model,
                "chosen": name == decision.route,
            }
            for name, score in decision.candidates
        ],
    }


def _print_explain(data: dict[str, Any]) -> None:
    from rich.console import Console
    from rich.table import Table

    console = Console()
    d = data["decision"]
    table = Table(title=f"route candidates for {data['text'][:60]!r}")
    table.add_column("route")
    table.add_column("score", justify="right")
    table.add_column("threshold", justify="right")
    table.add_column("model")
    for row in data["routes"]:
        mark = "[bold green]✔[/] " if row["chosen"] else "  "
        table.add_row(
            f"{mark}{row['route']}", f"{row['score']:.3f}", f"{row['threshold']:.3f}", row["model"]
        )
    console.print(table)
    chosen = d["route"] or "(abstain)"
    console.print(f"route: [bold]{chosen}[/] → model {d['model'] or '(agent default)'}")
    console.print(f"reason: {d['reason']}; {d['latency_ms']:.1f} ms")


def _print_report(report: RouterReport) -> None:
    from rich.console import Console
    from rich.table import Table

    from lamina.layers.router.fit import ABSTAIN

    console = Console()
    console.print(
        f"[bold]{report.n}[/] requests: accuracy {report.accuracy:.3f}, macro-F1 "
        f"{report.macro_f1:.3f}, latency p50 {report.latency_p50_ms:.1f} ms, "
        f"p95 {report.latency_p95_ms:.1f} ms"
    )
    metrics = Table(title="per class")
    for col in ("class", "precision", "recall", "F1", "support", "predicted"):
        metrics.add_column(col, justify="left" if col == "class" else "right")
    for name, m in [*report.per_route.items(), (ABSTAIN, report.abstention)]:
        metrics.add_row(
            name,
            f"{m.precision:.3f}",
            f"{m.recall:.3f}",
            f"{m.f1:.3f}",
            str(m.support),
            str(m.predicted),
        )
    console.print(metrics)
    confusion = Table(title="confusion (rows: expected, columns: predicted)")
    confusion.add_column("expected")
    classes = list(report.confusion)
    for c in classes:
        confusion.add_column(c, justify="right")
    for e in classes:
        confusion.add_row(e, *(str(report.confusion[e][p]) for p in classes))
    console.print(confusion)


def _fail(exc: Exception) -> typer.Exit:
    from rich.console import Console
    from rich.markup import escape

    # Escaped: messages quote user data such as "positions [1]", which is not markup.
    Console(stderr=True).print(f"[red]error:[/] {escape(str(exc))}", soft_wrap=True)
    return typer.Exit(1)


@app.command("explain")
def explain_command(
    text: Annotated[str, typer.Argument(help="The request to route.")],
    config: ConfigOption = None,
    router_file: RouterOption = None,
    llm: LlmOption = None,
    band: BandOption = 0.05,
    as_json: JsonOption = False,
) -> None:
    """Show how the router scores TEXT: every route, its threshold, and the decision."""
    from lamina.errors import LaminaError

    try:
        with _open_router(config, router_file, llm, band) as router:
            router.warm_up()  # so the decision's latency is routing, not loading the encoder
            decision = router.route(text)
    except LaminaError as exc:
        raise _fail(exc) from None
    data = _explain_data(text, router, decision)
    if as_json:
        sys.stdout.write(json.dumps(data, ensure_ascii=False) + "\n")
        return
    _print_explain(data)


@app.command("eval")
def eval_command(
    data: Annotated[
        Path,
        typer.Option("--data", help="CSV with columns utterance,expected_route (empty: abstain)."),
    ],
    config: ConfigOption = None,
    router_file: RouterOption = None,
    llm: LlmOption = None,
    band: BandOption = 0.05,
    as_json: JsonOption = False,
) -> None:
    """Route every row of a labelled CSV and report accuracy, per-route metrics, confusion."""
    from lamina.errors import LaminaError

    try:
        texts, labels = read_labelled_csv(data)
        with _open_router(config, router_file, llm, band) as router:
            report = router.evaluate(texts, labels)
    except LaminaError as exc:
        raise _fail(exc) from None
    if as_json:
        sys.stdout.write(json.dumps(report.to_dict(), ensure_ascii=False) + "\n")
        return
    _print_report(report)


@app.command("fit")
def fit_command(
    data: Annotated[
        Path,
        typer.Option("--data", help="CSV with columns utterance,expected_route (empty: abstain)."),
    ],
    out: Annotated[Path, typer.Option("--out", help="Where to save the fitted router (JSON).")],
    config: ConfigOption = None,
    as_json: JsonOption = False,
) -> None:
    """Fit per-route thresholds on a labelled CSV and save the router to --out.

    Use the saved router with `lamina route eval --router OUT` (on other data) or
    `IntentRouter.load(OUT)`.
    """
    from lamina.errors import LaminaError

    try:
        texts, labels = read_labelled_csv(data)
        router = build_router(config)
        before = {r.name: router.threshold_of(r) for r in router.routes}
        accuracy_before = router.evaluate(texts, labels).accuracy
        fitted = router.fit(texts, labels)
        accuracy_after = router.evaluate(texts, labels).accuracy
        router.save(out)
    except LaminaError as exc:
        raise _fail(exc) from None
    result = {
        "out": str(out),
        "n": len(texts),
        "accuracy_before": accuracy_before,
        "accuracy_after": accuracy_after,
        "thresholds": [
            {"route": name, "before": before[name], "fitted": fitted[name]} for name in fitted
        ],
    }
    if as_json:
        sys.stdout.write(json.dumps(result, ensure_ascii=False) + "\n")
        return
    _print_fit(result)


def _print_fit(result: dict[str, Any]) -> None:
    from rich.console import Console
    from rich.table import Table

    console = Console()
    table = Table(title=f"thresholds fitted on {result['n']} labelled requests")
    table.add_column("route")
    table.add_column("before", justify="right")
    table.add_column("fitted", justify="right")
    for row in result["thresholds"]:
        table.add_row(row["route"], f"{row['before']:.3f}", f"{row['fitted']:.3f}")
    console.print(table)
    console.print(
        f"accuracy on the same data: {result['accuracy_before']:.3f} → "
        f"{result['accuracy_after']:.3f}; saved to {result['out']}"
    )
