"""Source queries with filters and pagination."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from backend.db.models import Source


def list_page(
    session: Session,
    *,
    project_id: int,
    status: str | None = None,
    kind: str | None = None,
    offset: int = 0,
    limit: int = 100,
) -> tuple[list[Source], int]:
    """Sources of a project in id order, optionally filtered by status and kind; also the total."""
    query = select(Source).where(Source.project_id == project_id)
    if status is not None:
        query = query.where(Source.status == status)
    if kind is not None:
        query = query.where(Source.kind == kind)
    total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
    rows = list(session.scalars(query.order_by(Source.id).offset(offset).limit(limit)))
    return rows, total
