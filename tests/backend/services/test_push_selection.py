"""What `annotate push` may send out (issue 11): never items of a taken-down source, never superseded items."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest
from sqlalchemy import func, select

from backend.db.models import Item, Source, Task
from backend.domain import NotFoundError
from backend.services import annotation as service
from backend.services.takedown import takedown
from tests.backend.services.annotation_world import annotation_world, clip_project

pytestmark = pytest.mark.labelstudio


@pytest.fixture(scope="module")
def world(tmp_path_factory, sqlite_template, ls_install, ls_template):
    built = annotation_world(tmp_path_factory.mktemp("push-selection"), sqlite_template, ls_install, ls_template)
    with built.factory() as session:
        kept = clip_project(session, built.settings.data_dir, "sel", 2)
        other = clip_project(session, built.settings.data_dir, "sel-other", 2)
        for item in session.scalars(select(Item).where(Item.project_id == other.id)):  # a second source of "sel"
            item.project_id = kept.id
        session.scalars(select(Source).where(Source.project_id == other.id)).one().project_id = kept.id
        service.add_annotator(session, built.settings, "sel@example.org", ["ta"], home=built.home)
        session.commit()
    yield built
    built.close()


def _pushed_sources(world) -> dict[int, int]:
    with world.factory() as session:
        rows = session.execute(select(Item.source_id, func.count()).join(Task, Task.item_id == Item.id)
                               .group_by(Item.source_id)).all()
    return dict(rows)


def test_items_of_a_taken_down_source_are_never_pushed(world) -> None:
    with world.factory() as session:
        sources = session.scalars(select(Source.id).order_by(Source.id)).all()
        takedown(session, sources[1], reason="the uploader withdrew consent")
        session.commit()
    with world.factory() as session:
        service.push(session, world.settings, service.PushOptions("sel", "sentiment3", k=1), home=world.home)
        session.commit()
    assert _pushed_sources(world) == {sources[0]: 2}
    with world.factory() as session:
        with pytest.raises(NotFoundError, match="has no kept items"):
            service.push(session, world.settings, service.PushOptions("sel", "emotion7", k=1, source_id=sources[1]),
                         home=world.home)


def test_superseded_items_are_never_pushed(world) -> None:
    with world.factory() as session:
        first = session.scalars(select(Item).order_by(Item.id)).first()
        first.superseded_at = datetime.now(timezone.utc)  # a re-run of the pipeline replaced it
        session.commit()
        superseded_id = first.id
    with world.factory() as session:
        result = service.push(session, world.settings, service.PushOptions("sel", "emotion7", k=1), home=world.home)
        session.commit()
        pushed = set(session.scalars(select(Task.item_id).where(Task.batch_id == result.batch_id)))
    assert result.items == 1 and superseded_id not in pushed
