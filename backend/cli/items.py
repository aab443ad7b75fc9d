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
    limit: Annotated[int, typer.Option(help="At most this many.")] = 100_000,
    as_json: Annotated[bool, typer.Option("--json", help="One JSON object per line.")] = False,
) -> None:
    """List the items of a project in dialogue order.

    Example: mmcurate items list --project demo --kind clip --json
    """
    with db_session() as session:
        records = item_service.list_items(session, project, kind=kind, language=language, limit=limit)
    if as_json:
        emit_json_lines(records)
    else:
        emit_table(records, ["id", "kind", "source_id", "dialogue_id", "turn_index", "language", "text", "filter_status"])


def register(app: typer.Typer) -> None:
    app.add_typer(items_app, name="items")
