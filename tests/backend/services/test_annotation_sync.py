"""The one reconcile behind the webhook and the pull, on both databases (SQLite and PostgreSQL).

``store_instance_annotations`` is given what an instance holds on some tasks (as Label Studio
1.23.2 exports it) and makes the stored judgements of those tasks exactly that, keyed by
(instance, Label Studio id), with history. No server is needed here; the receiver re-reading
real instances, and an annotator forging webhooks, are in test_annotation.py and
test_isolation.py.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import select

from annotation_configs.labelstudio import instances as ls
from annotation_configs.labelstudio import AnnotationEvent, LsAnnotation, parse_webhook
from annotation_configs.labelstudio.results import result_from_values
from annotation_configs.registry import load_registry
from backend.db.models import (
    Annotation,
    AnnotationBatch,
    AnnotationHistory,
    Annotator,
    Item,
    LabelStudioInstanceRow,
    Project,
    Source,
    Task,
)
from backend.domain import ValidationError
from backend.services.annotation import WebhookLookups, store_instance_annotations, tasks_to_refresh

SCHEME = load_registry()["sentiment3"]
USER = 2  # the annotator's Label Studio user in their own instance


def _instance(name: str, user_id: int | None = USER) -> ls.LabelStudioInstance:
    return ls.LabelStudioInstance(name=name, role="annotator", port=1, data_dir=Path("/nonexistent"),
                                  media_root=Path("/nonexistent"), secret_key="", admin_email="", admin_password="",
                                  admin_token="", user_id=user_id)


def _held(annotation_id: int, task_id: int, sentiment: str, *, updated: str = "2026-11-27T10:00:00.123456Z",
          by: int = USER) -> LsAnnotation:
    return LsAnnotation.from_json({
        "id": annotation_id, "task": task_id, "completed_by": by, "lead_time": 4.5,
        "result": result_from_values(SCHEME, {"sentiment": sentiment}, "audio"),
        "created_at": "2026-11-27T10:00:00.123456Z", "updated_at": updated}, 1)


def _store(session, name: str, held: list[LsAnnotation], tasks=(1,)):
    return store_instance_annotations(session, _instance(name), tasks, held)


@pytest.fixture
def two_instances(any_session):
    """Two annotators, each with an instance holding a task with Label Studio id 1 (ids repeat across instances)."""
    project = Project(name="p")
    any_session.add(project)
    any_session.flush()
    source = Source(project_id=project.id, kind="text", uri="u", content_hash="h")
    any_session.add(source)
    any_session.flush()
    item = Item(project_id=project.id, source_id=source.id, kind="text", text="நன்றி")
    batch = AnnotationBatch(project_id=project.id, scheme="sentiment3", overlap_k=2)
    any_session.add_all([item, batch])
    any_session.flush()
    for n in (1, 2):
        annotator = Annotator(pseudonym=f"ann-00{n}", email=f"a{n}@example.org")
        any_session.add(annotator)
        any_session.flush()
        row = LabelStudioInstanceRow(name=f"ann-00{n}", role="annotator", url=f"http://127.0.0.1:{8000 + n}", annotator_id=annotator.id)
        any_session.add(row)
        any_session.flush()
        any_session.add(Task(batch_id=batch.id, item_id=item.id, annotator_id=annotator.id, instance_id=row.id,
                             ls_project_id=1, ls_task_id=1))
    any_session.flush()
    return any_session


def test_created_updated_deleted_restored_each_leave_history(two_instances) -> None:
    session = two_instances
    assert _store(session, "ann-001", [_held(7, 1, "positive")]).created == 1
    assert _store(session, "ann-001", [_held(7, 1, "positive")]).unchanged == 1
    assert _store(session, "ann-001", [_held(7, 1, "negative", updated="2026-11-27T10:05:00Z")]).updated == 1
    assert _store(session, "ann-001", []).deleted == 1  # the instance holds nothing on task 1 any more
    assert _store(session, "ann-001", [_held(7, 1, "neutral", updated="2026-11-27T10:09:00Z")]).updated == 1
    (annotation,) = session.scalars(select(Annotation)).all()
    assert annotation.values == {"sentiment": "neutral"} and annotation.deleted_at is None
    assert annotation.lead_time_s == 4.5 and annotation.created_at.year == 2026
    history = session.scalars(select(AnnotationHistory).order_by(AnnotationHistory.id)).all()
    assert [(h.action, h.values["sentiment"]) for h in history] == [
        ("created", "positive"), ("updated", "negative"), ("deleted", "negative"), ("restored", "neutral")]


def test_the_same_label_studio_ids_on_two_instances_are_two_judgements(two_instances) -> None:
    session = two_instances
    _store(session, "ann-001", [_held(1, 1, "positive")])
    _store(session, "ann-002", [_held(1, 1, "negative")])
    rows = session.execute(select(Annotator.pseudonym, Annotation.values).join(Annotator)
                           .order_by(Annotator.pseudonym)).all()
    assert [(p, v["sentiment"]) for p, v in rows] == [("ann-001", "positive"), ("ann-002", "negative")]


def test_an_older_version_read_late_never_overwrites_a_newer_one(two_instances) -> None:
    session = two_instances
    _store(session, "ann-001", [_held(7, 1, "negative", updated="2026-11-27T11:00:00Z")])
    late = _store(session, "ann-001", [_held(7, 1, "positive", updated="2026-11-27T10:00:00Z")])
    assert late.unchanged == 1
    assert session.scalars(select(Annotation.values)).one() == {"sentiment": "negative"}


def test_what_the_instance_may_not_deliver_is_not_stored(two_instances) -> None:
    session = two_instances
    foreign = _store(session, "ann-001", [_held(3, 1, "positive", by=99)])  # someone the annotator invited
    assert foreign.skipped == 1 and "made by Label Studio user 99" in foreign.errors[0]
    bad = _store(session, "ann-001", [LsAnnotation.from_json({
        "id": 3, "task": 1, "completed_by": USER,
        "result": [{"from_name": "sentiment", "value": {"choices": ["glad"]}}]}, 1)])
    assert bad.skipped == 1 and "'glad' is not a label" in bad.errors[0]
    assert _store(session, "ann-001", [_held(4, 999, "positive")], tasks=(999,)).skipped == 1  # not our task
    with pytest.raises(ValidationError, match="instance 'nobody' is not known"):
        _store(session, "nobody", [_held(1, 1, "positive")])
    assert session.scalars(select(Annotation)).all() == []


def test_an_instance_can_only_name_its_own_tasks(two_instances) -> None:
    session = two_instances
    _store(session, "ann-002", [_held(5, 1, "negative")])
    lookups = WebhookLookups()
    events = [AnnotationEvent("ANNOTATION_UPDATED", (5,), (1, 77)), AnnotationEvent("ANNOTATIONS_DELETED", (5,))]
    assert tasks_to_refresh(session, "ann-001", events, lookups) == {1: {1}}  # ann-001's own task 1; 77 is nobody's
    assert tasks_to_refresh(session, "ann-001", [AnnotationEvent("ANNOTATIONS_DELETED", (5,))], lookups) == {}


@pytest.mark.parametrize("body, message", [
    (["ANNOTATION_CREATED"], "must be a JSON object with an 'action'"),
    ({"no": "action"}, "must be a JSON object with an 'action'"),
    ({"action": "ANNOTATION_CREATED", "annotation": {"id": 3}}, "malformed 'task': None"),
    ({"action": "ANNOTATIONS_DELETED", "annotations": "all"}, "no list of annotations with 'id'"),
    ({"action": "ANNOTATIONS_CREATED", "annotations": [{"id": "1; drop", "task": 1}]}, "malformed 'id'"),
])
def test_a_body_that_is_not_an_annotation_event_is_refused(body, message) -> None:
    with pytest.raises(ValidationError, match=message):
        parse_webhook(body)


def test_a_webhook_names_ids_only() -> None:
    event = parse_webhook({"action": "ANNOTATION_UPDATED", "project": {"id": 3},
                           "annotation": {"id": 7, "task": 12, "result": [{"anything": "at all"}]}})
    assert event == AnnotationEvent("ANNOTATION_UPDATED", (7,), (12,))
    assert parse_webhook({"action": "ANNOTATIONS_DELETED", "annotations": [{"id": 7}, {"id": 8}]}).annotation_ids == (7, 8)
    assert parse_webhook({"action": "PROJECT_UPDATED"}) == AnnotationEvent("PROJECT_UPDATED")
