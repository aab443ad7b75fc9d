"""Listings of stored judgements and their history."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from backend.db.models import Annotation, AnnotationHistory, Annotator, Item, LabelStudioInstanceRow
from backend.domain import (
    NotFoundError,
)
from backend.repositories import projects as project_repo


def list_annotations(session: Session, project: str, *, include_deleted: bool = False) -> list[dict[str, Any]]:
    """Every judgement of ``project``, normalised, oldest first."""
    project_row = project_repo.get(session, project)
    query = (select(Annotation, Annotator, LabelStudioInstanceRow)
             .join(Item, Item.id == Annotation.item_id)
             .join(Annotator, Annotator.id == Annotation.annotator_id)
             .outerjoin(LabelStudioInstanceRow, LabelStudioInstanceRow.id == Annotation.instance_id)
             .where(Item.project_id == project_row.id).order_by(Annotation.id))
    if not include_deleted:
        query = query.where(Annotation.deleted_at.is_(None))
    out = []
    for annotation, annotator, instance in session.execute(query):
        out.append({
            "id": annotation.id, "item_id": annotation.item_id, "annotator": annotator.pseudonym,
            "simulated": annotator.simulated, "scheme": annotation.scheme, "values": annotation.values,
            "lead_time_s": annotation.lead_time_s, "is_adjudication": annotation.is_adjudication,
            "instance": instance.name if instance else None, "ls_annotation_id": annotation.ls_annotation_id,
            "created_at": annotation.created_at, "updated_at": annotation.updated_at,
            "deleted_at": annotation.deleted_at,
        })
    return out


def annotation_history(session: Session, annotation_id: int) -> list[dict[str, Any]]:
    """Every version of one annotation, oldest first."""
    if session.get(Annotation, annotation_id) is None:
        raise NotFoundError(f"no annotation with id {annotation_id}")
    return [{"action": h.action, "values": h.values, "recorded_at": h.recorded_at}
            for h in session.scalars(select(AnnotationHistory).where(AnnotationHistory.annotation_id == annotation_id)
                                     .order_by(AnnotationHistory.id))]
