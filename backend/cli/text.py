"""`mmcurate text profile`: what the platform makes of a corpus's text, before it goes in."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, Any

import typer

from backend.cli.output import emit_json_lines, emit_table
from backend.services import projects as project_service
from backend.services import text as text_service

text_app = typer.Typer(help="Language-aware text: normalisation, scripts, language ID, code-mixing.\n\n"
                            "Example: mmcurate text profile comments.txt --languages ta,en --json",
                       no_args_is_help=True)


@text_app.command("profile")
def text_profile(
    file: Annotated[str, typer.Argument(help="A UTF-8 text file, one text per line ('-' reads standard input).")],
    languages: Annotated[str, typer.Option(help="Languages the texts may be in, comma-separated (e.g. ta,en); "
                                                "romanised words count as the one Indic language given.")] = "",
    chinese: Annotated[str | None, typer.Option("--chinese", help="Normalise Chinese to simplified or traditional.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="One JSON object per line.")] = False,
) -> None:
    """Profile each line: normalised text, script shares, Han variant, language, word languages, CMI.

    Example: mmcurate text profile comments.txt --languages ta,en --json
    """
    wanted = project_service.validate_languages([code for code in languages.split(",")])
    han = project_service.validate_han_target(chinese)
    if file == "-":
        handle = sys.stdin.buffer
    else:
        path = Path(file)
        if not path.is_file():
            typer.echo(f"error: {file} is not a file", err=True)
            raise typer.Exit(3)
        handle = path.open("rb")
    records: list[dict[str, Any]] = []
    failed: list[dict[str, Any]] = []
    with handle:
        for record in text_service.profile_lines(handle, languages=wanted, han=han):
            if "error" in record:
                failed.append(record)
            if as_json:  # streamed: a large corpus is never held in memory
                emit_json_lines([record])
            else:
                records.append(record)
    if not as_json:
        emit_table(records, ["line", "language", "dominant_script", "han_variant", "cmi", "normalized", "error"])
    if failed:
        typer.echo(f"error: {len(failed)} line(s) could not be profiled "
                   f"(first: {failed[0]['error']})", err=True)
        raise typer.Exit(2)


def register(app: typer.Typer) -> None:
    app.add_typer(text_app, name="text")
