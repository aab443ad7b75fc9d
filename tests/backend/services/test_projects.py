"""backend.services.projects: deleting a project never deletes judgements by accident."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from backend.db.models import Annotation, AnnotationHistory, Item, Project, ReleaseItem
from backend.domain import ConflictError
from backend.services import projects as project_service
from tests.backend.human_work import item_with_human_work


def _count(session: Session, model: type) -> int:
    return session.scalar(select(func.count()).select_from(model)) or 0


def test_a_project_with_judgements_is_deleted_only_when_asked_explicitly(any_session: Session) -> None:
    project, _item = item_with_human_work(any_session)
    with pytest.raises(ConflictError) as refused:
        project_service.delete_project(any_session, project.name)
    assert str(refused.value) == (
        "project 'p' holds 1 judgement, 1 adjudication, 1 aggregated label, 1 annotation task, 1 released item; "
        "nothing deleted. Export what you want to keep (`mmcurate annotations list --project p --json --deleted > "
        "judgements.jsonl`), then run `mmcurate project delete p --delete-annotations` to delete them with the project"
    )
    any_session.rollback()
    assert _count(any_session, Annotation) == 1 and _count(any_session, Project) == 1

    work = project_service.delete_project(any_session, project.id, delete_annotations=True)
    any_session.commit()
    assert work.annotations == 1 and work.total == 5
    for model in (Project, Item, Annotation, AnnotationHistory, ReleaseItem):
        assert _count(any_session, model) == 0


def test_a_project_nobody_worked_on_is_deleted_without_the_flag(any_session: Session) -> None:
    project = project_service.create_project(any_session, project_service.ProjectSpec(name="empty"))
    any_session.commit()
    assert project_service.delete_project(any_session, project.name).total == 0
    any_session.commit()
    assert _count(any_session, Project) == 0


def test_cli_project_delete_refuses_then_deletes_with_delete_annotations(cli, session: Session) -> None:
    item_with_human_work(session)
    code, _out, err = cli("project", "delete", "p", "--yes")
    assert code != 0 and "project 'p' holds 1 judgement," in err and "--delete-annotations" in err
    session.expire_all()
    assert _count(session, Annotation) == 1
    code, out, _err = cli("project", "delete", "p", "--yes", "--delete-annotations")
    assert code == 0 and out.startswith("project p deleted, with 1 judgement, 1 adjudication")
    session.expire_all()
    assert _count(session, Annotation) == 0 and _count(session, Project) == 0
