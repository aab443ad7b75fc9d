"""Utterance (clip item) queries with filters and pagination."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from backend.db.models import Item, UtteranceRow
from backend.repositories import items as item_repo


def list_page(
    session: Session,
    *,
    project_id: int,
    source_id: int | None = None,
    language: str | None = None,
    script: str | None = None,
    cmi_min: float | None = None,
    speaker: str | None = None,
    filter_status: str | None = None,
    offset: int = 0,
    limit: int = 100,
) -> tuple[list[tuple[Item, UtteranceRow]], int]:
    """(item, utterance) pairs in dialogue order, optionally filtered; also the total."""
    query = (
        select(Item, UtteranceRow)
        .join(UtteranceRow, UtteranceRow.item_id == Item.id)
        .where(Item.project_id == project_id)
    )
    if source_id is not None:
        query = query.where(Item.source_id == source_id)
    query = query.where(*item_repo.text_filters(language=language, script=script, cmi_min=cmi_min))
    if speaker is not None:
        query = query.where(UtteranceRow.speaker_label == speaker)
    if filter_status is not None:
        query = query.where(Item.filter_status == filter_status)
    total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
    ordered = query.order_by(Item.source_id, UtteranceRow.start_ms, Item.id).offset(offset).limit(limit)
    rows = [(item, utt) for item, utt in session.execute(ordered).all()]
    return rows, total
