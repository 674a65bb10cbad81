"""The `lamina` command. Sub-commands import their heavy modules only when they run."""

from __future__ import annotations

import typer

from lamina.cli.cache import app as cache_app
from lamina.cli.doctor import doctor_command
from lamina.cli.memory import app as memory_app
from lamina.cli.models import app as models_app
from lamina.cli.route import app as route_app
from lamina.cli.run import resume_command, run_command
from lamina.cli.serve import serve_command
from lamina.cli.threads import app as threads_app

app = typer.Typer(
    name="lamina",
    help="Agents on local GGUF models through llama.cpp.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
app.add_typer(models_app, name="models", help="List, pull and inspect GGUF models.")
app.command("run")(run_command)
app.command("resume")(resume_command)
app.add_typer(route_app, name="route", help="Explain, evaluate and fit the router.")
app.add_typer(memory_app, name="memory", help="Add, search, forget and count long-term memories.")
app.command("serve")(serve_command)
app.add_typer(cache_app, name="cache", help="Show or clear the reasoning layer's step cache.")
app.add_typer(
    threads_app, name="threads", help="List, show and prune conversation threads (checkpoints)."
)
app.command("doctor")(doctor_command)


def main() -> None:
    """Console-script entry point."""
    app()


if __name__ == "__main__":  # pragma: no cover
    main()
