"""`mmcurate items list`: every annotatable item of any kind."""

from __future__ import annotations

from typing import Annotated

import typer

from backend.cli.context import db_session
from backend.cli.output import emit_json_lines, emit_table
from backend.services import items as item_service

items_app = typer.Typer(help="Annotatable items (clips, images, chat turns, texts).\n\nExample: mmcurate items list --project demo", no_args_is_help=True)


@items_app.command("list")
def items_list(
    project: Annotated[str, typer.Option("--project", help="Project name or id.")],
    kind: Annotated[str | None, typer.Option(help="clip, image, chat_turn or text.")] = None,
    language: Annotated[str | None, typer.Option(help="ISO 639 code.")] = None,
    script: Annotated[str | None, typer.Option("--script", help="Only texts whose dominant script is this (Tamil, Latin, Han, ...).")] = None,
    cmi_min: Annotated[float | None, typer.Option("--cmi-min", min=0, max=100, help="Only texts with at least this Code-Mixing Index (0-100).")] = None,
    limit: Annotated[int, typer.Option(help="At most this many.")] = 100_000,
    as_json: Annotated[bool, typer.Option("--json", help="One JSON object per line.")] = False,
) -> None:
    """List the items of a project in dialogue order.

    Example: mmcurate items list --project demo --kind clip --json
    """
    with db_session() as session:
        records = item_service.list_items(session, project, kind=kind, language=language, script=script,
                                             cmi_min=cmi_min, limit=limit)
    if as_json:
        emit_json_lines(records)
    else:
        emit_table(records, ["id", "kind", "source_id", "dialogue_id", "turn_index", "author", "parent_id", "language", "dominant_script", "cmi", "text", "ocr_text", "duplicate_of_id", "filter_status"])


def register(app: typer.Typer) -> None:
    app.add_typer(items_app, name="items")
