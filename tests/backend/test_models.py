"""Constraints hold on both databases: uniques, checks and cascades."""

from __future__ import annotations

import pytest
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from backend.db.models import Item, MediaAsset, Project, Source, Utterance


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
    any_session.add(Utterance(item_id=item.id, asset_id=asset.id, start_ms=2000, end_ms=1000))
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
