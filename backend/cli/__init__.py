"""The `mmcurate` command: the same services as the API, with domain errors → exit codes here."""

from __future__ import annotations

import sys

import typer

from backend.cli import core, items
from backend.cli.output import CommandGroup

app = typer.Typer(
    name="mmcurate",
    cls=CommandGroup,
    help="Curate and annotate low-resource multimodal sentiment/emotion corpora.\n\n"
    "Example: mmcurate init && mmcurate project create demo --languages ta,ml,bn,zh,en",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
core.register(app)
items.register(app)
# -- sub-app registration (one line each, e.g. `from backend.cli import speech; speech.register(app)`) --
from backend.cli import qa as _qa; _qa.register(app)  # noqa: E402,E702
from backend.cli import export as _export; _export.register(app)  # noqa: E402,E702
from backend.cli import speech as _speech; _speech.register(app)  # noqa: E402,E702
from backend.cli import annotation as _annotation; _annotation.register(app)  # noqa: E402,E702
from backend.cli import text as _text; _text.register(app)  # noqa: E402,E702
# -- end sub-app registration --


def main() -> None:
    """Console-script entry: run the app, turning mmcurate errors into one-line messages."""
    from backend.cli.output import run_cli

    sys.exit(run_cli(app))
