"""Annotatable items of every kind (clip, image, chat turn, text), as the CLI and the API show them."""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from backend.repositories import items as item_repo
from backend.repositories import projects as project_repo


def list_items(session: Session, project: str | int, *, kind: str | None = None, language: str | None = None,
               script: str | None = None, cmi_min: float | None = None, limit: int = 100_000) -> list[dict[str, Any]]:
    """The project's items in dialogue order (as ``item_as_dict``), optionally of one kind, language,
    dominant script, and at least a Code-Mixing Index."""
    project_id = project_repo.get(session, project).id
    rows, _total = item_repo.list_page(session, project_id=project_id, kind=kind, language=language, script=script,
                                       cmi_min=cmi_min, limit=limit)
    return [item_repo.item_as_dict(item, utt) for item, utt in rows]
