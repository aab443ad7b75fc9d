"""Constraints hold on both databases: uniques, checks and cascades."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest
from sqlalchemy import delete, func, select, text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from backend.db.models import (Adjudication, AggregatedLabelRow, Annotation, AnnotationHistory, Item, MediaAsset, Project,
                               ReleaseItem, Source, Task, UtteranceRow)
from tests.backend.human_work import item_with_human_work


def _project_with_source(session: Session) -> tuple[Project, Source]:
    project = Project(name="p", languages=["ta"], schemes=[], allowed_licences=[])
    session.add(project)
    session.flush()
    source = Source(project_id=project.id, kind="file", uri="/x.wav", content_hash="h1", status="registered")
    session.add(source)
    session.flush()
    return project, source


def test_same_content_twice_in_a_project_is_refused(any_session: Session) -> None:
    project, _ = _project_with_source(any_session)
    any_session.add(Source(project_id=project.id, kind="file", uri="/copy.wav", content_hash="h1"))
    with pytest.raises(IntegrityError):
        any_session.flush()


def test_unknown_item_kind_is_refused(any_session: Session) -> None:
    project, source = _project_with_source(any_session)
    any_session.add(Item(project_id=project.id, source_id=source.id, kind="video-game"))
    with pytest.raises(IntegrityError):
        any_session.flush()


def test_utterance_needs_end_after_start(any_session: Session) -> None:
    project, source = _project_with_source(any_session)
    asset = MediaAsset(project_id=project.id, source_id=source.id, content_hash="h1", path="/x.wav")
    item = Item(project_id=project.id, source_id=source.id, kind="clip")
    any_session.add_all([asset, item])
    any_session.flush()
    any_session.add(UtteranceRow(item_id=item.id, asset_id=asset.id, start_ms=2000, end_ms=1000))
    with pytest.raises(IntegrityError):
        any_session.flush()


def test_deleting_a_project_removes_its_sources_and_items(any_session: Session) -> None:
    project, source = _project_with_source(any_session)
    any_session.add(Item(project_id=project.id, source_id=source.id, kind="text", text="வணக்கம்"))
    any_session.commit()
    any_session.delete(project)
    any_session.commit()
    assert any_session.scalars(select(Source)).all() == []
    assert any_session.scalars(select(Item)).all() == []


HUMAN_WORK = (Annotation, Task, Adjudication, AggregatedLabelRow, ReleaseItem)


@pytest.mark.parametrize("kept", HUMAN_WORK, ids=lambda m: m.__tablename__)
def test_the_database_refuses_to_delete_an_item_people_worked_on(any_session: Session, kept: type) -> None:
    """Regression: deleting an item cascaded to its annotations, their history, tasks,
    adjudications, aggregated labels and release items; now each of them holds the item (RESTRICT)."""
    _project, item = item_with_human_work(any_session)
    for model in HUMAN_WORK:
        if model is not kept:
            any_session.execute(delete(model).where(model.item_id == item.id))
    any_session.commit()
    with pytest.raises(IntegrityError):
        any_session.execute(text("DELETE FROM items WHERE id = :id"), {"id": item.id})
        any_session.flush()
    any_session.rollback()
    assert any_session.scalar(select(func.count()).select_from(kept).where(kept.item_id == item.id)) == 1
    if kept is Annotation:
        assert any_session.scalar(select(func.count()).select_from(AnnotationHistory)) == 1


def test_the_database_refuses_to_delete_a_project_whose_items_carry_judgements(any_session: Session) -> None:
    project, _item = item_with_human_work(any_session)
    with pytest.raises(IntegrityError):
        any_session.execute(text("DELETE FROM projects WHERE id = :id"), {"id": project.id})
        any_session.flush()
    any_session.rollback()
    assert any_session.scalar(select(func.count()).select_from(Annotation)) == 1


def test_a_superseded_utterance_may_share_span_and_speaker_with_a_live_one(any_session: Session) -> None:
    project, source = _project_with_source(any_session)
    asset = MediaAsset(project_id=project.id, source_id=source.id, content_hash="h1", path="/x.wav")
    old = Item(project_id=project.id, source_id=source.id, kind="clip", text="vanakkam",
               superseded_at=datetime.now(timezone.utc))
    new = Item(project_id=project.id, source_id=source.id, kind="clip", text="vanakkam!")
    any_session.add_all([asset, old, new])
    any_session.flush()
    for item in (old, new):
        any_session.add(UtteranceRow(item_id=item.id, asset_id=asset.id, start_ms=0, end_ms=1500, speaker_label="S0"))
    any_session.commit()
    assert any_session.get(Item, old.id).superseded_at is not None and any_session.get(Item, new.id).superseded_at is None
