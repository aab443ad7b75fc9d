"""Queries over annotatable items of every kind (clip, image, chat turn, text)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select, union
from sqlalchemy.orm import Session

from backend.db.models import Adjudication, AggregatedLabelRow, Annotation, Item, ReleaseItem, Task, UtteranceRow
from backend.domain import from_ms

# Rows people made about an item; each refers to it ON DELETE RESTRICT, so none vanishes with it.
HUMAN_WORK = (Annotation, Task, Adjudication, AggregatedLabelRow, ReleaseItem)


def with_human_work(session: Session, item_ids: list[int]) -> set[int]:
    """Those of ``item_ids`` that people worked on: an annotation (deleted ones too), task,
    adjudication, aggregated label or release item refers to them."""
    found: set[int] = set()
    for start in range(0, len(item_ids), 900):
        chunk = item_ids[start:start + 900]
        found.update(session.scalars(union(*(select(model.item_id).where(model.item_id.in_(chunk))
                                             for model in HUMAN_WORK))))
    return found


def text_filters(*, language: str | None = None, script: str | None = None, cmi_min: float | None = None) -> list[Any]:
    """WHERE clauses for the text filters every listing shares: the item's language, the dominant script
    of its text (a Unicode script name, any case: ``tamil``, ``Latin``, ``han``) and a least Code-Mixing Index."""
    clauses: list[Any] = []
    if language is not None:
        clauses.append(Item.language == language)
    if script is not None:
        clauses.append(func.lower(Item.dominant_script) == script.strip().lower())
    if cmi_min is not None:
        clauses.append(Item.cmi >= cmi_min)
    return clauses


def list_page(
    session: Session,
    *,
    project_id: int,
    kind: str | None = None,
    language: str | None = None,
    script: str | None = None,
    cmi_min: float | None = None,
    filter_status: str | None = None,
    offset: int = 0,
    limit: int = 100,
) -> tuple[list[tuple[Item, UtteranceRow | None]], int]:
    """Items in (source, dialogue order, id) order with their utterance details where they are clips."""
    query = select(Item, UtteranceRow).outerjoin(UtteranceRow, UtteranceRow.item_id == Item.id).where(Item.project_id == project_id)
    if kind is not None:
        query = query.where(Item.kind == kind)
    query = query.where(*text_filters(language=language, script=script, cmi_min=cmi_min))
    if filter_status is not None:
        query = query.where(Item.filter_status == filter_status)
    total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
    ordered = query.order_by(Item.source_id, Item.dialogue_id, Item.turn_index, Item.id).offset(offset).limit(limit)
    return [(item, utt) for item, utt in session.execute(ordered).all()], total


def item_as_dict(item: Item, utterance: UtteranceRow | None) -> dict[str, Any]:
    """The public JSON shape of an item (CLI --json and API agree); ``superseded`` marks an item a
    later pipeline run replaced, kept because people worked on it. ``parent_id`` is the chat turn an
    attached sticker/photo belongs to; ``duplicate_of_id`` the representative of its near-duplicate group."""
    record: dict[str, Any] = {
        "id": item.id,
        "kind": item.kind,
        "source_id": item.source_id,
        "dialogue_id": item.dialogue_id,
        "turn_index": item.turn_index,
        "reply_to_id": item.reply_to_id,
        "text": item.text,
        "language": item.language,
        **text_profile_fields(item),
        "media_path": item.media_path,
        "ocr_text": item.ocr_text,
        "ocr_confidence": (item.ocr or {}).get("mean_confidence"),
        "external_id": item.external_id,
        "parent_id": item.parent_id,
        "author": item.author,
        "posted_at": item.posted_at,
        "duplicate_group": item.duplicate_group,
        "duplicate_of_id": item.duplicate_of_id,
        "is_gold": item.is_gold,
        "filter_status": item.filter_status,
        "filter_reason": item.filter_reason,
        "superseded": item.superseded_at is not None,
        "superseded_at": item.superseded_at,
    }
    if utterance is not None:
        record.update(
            start=from_ms(utterance.start_ms),
            end=from_ms(utterance.end_ms),
            speaker=utterance.speaker_label,
            clip_audio_path=utterance.clip_audio_path,
            clip_video_path=utterance.clip_video_path,
        )
    return record


def text_profile_fields(item: Item) -> dict[str, Any]:
    """What ``backend.language`` made of the item's text, as listings show it (None before profiling)."""
    stored = item.text_profile or {}
    return {
        "text_normalized": item.text_normalized,
        "scripts": stored.get("scripts"),
        "dominant_script": item.dominant_script,
        "han_variant": stored.get("han_variant"),
        "text_language": stored.get("language"),
        "text_language_confidence": stored.get("language_confidence"),
        "cmi": item.cmi,
    }
