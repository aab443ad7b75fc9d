"""The webhook upsert on both databases (SQLite and PostgreSQL): keyed by (instance, Label Studio id), history kept.

These events are what Label Studio 1.23.2 sends (``send_payload=True``); no server is needed here,
the end-to-end path with real servers is in test_annotation.py.
"""

from __future__ import annotations

import pytest
from sqlalchemy import select

from annotation_configs.normalise import result_from_values
from annotation_configs.registry import load_registry
from backend.db.models import Annotation, AnnotationBatch, AnnotationHistory, Annotator, Item, Project, Source, Task
from backend.db.models import LabelStudioInstance as InstanceRow
from backend.domain import ValidationError
from backend.services.annotation import ingest_webhook

SCHEME = load_registry()["sentiment3"]


def _event(action: str, annotation_id: int, task_id: int, sentiment: str) -> dict:
    return {"action": action, "project": {"id": 1},
            "annotation": {"id": annotation_id, "task": task_id, "completed_by": 2, "lead_time": 4.5,
                           "result": result_from_values(SCHEME, {"sentiment": sentiment}, "audio"),
                           "created_at": "2026-11-27T10:00:00.123456Z", "updated_at": "2026-11-27T10:00:00.123456Z"}}


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
        row = InstanceRow(name=f"ann-00{n}", role="annotator", url=f"http://127.0.0.1:{8000 + n}", annotator_id=annotator.id)
        any_session.add(row)
        any_session.flush()
        any_session.add(Task(batch_id=batch.id, item_id=item.id, annotator_id=annotator.id, instance_id=row.id,
                             ls_project_id=1, ls_task_id=1))
    any_session.flush()
    return any_session


def test_created_updated_deleted_restored_each_leave_history(two_instances) -> None:
    session = two_instances
    assert ingest_webhook(session, "ann-001", _event("ANNOTATION_CREATED", 7, 1, "positive")).created == 1
    assert ingest_webhook(session, "ann-001", _event("ANNOTATION_CREATED", 7, 1, "positive")).unchanged == 1
    assert ingest_webhook(session, "ann-001", _event("ANNOTATION_UPDATED", 7, 1, "negative")).updated == 1
    assert ingest_webhook(session, "ann-001", {"action": "ANNOTATIONS_DELETED", "annotations": [{"id": 7}]}).deleted == 1
    assert ingest_webhook(session, "ann-001", _event("ANNOTATION_UPDATED", 7, 1, "neutral")).updated == 1
    (annotation,) = session.scalars(select(Annotation)).all()
    assert annotation.values == {"sentiment": "neutral"} and annotation.deleted_at is None
    assert annotation.lead_time_s == 4.5 and annotation.created_at.year == 2026
    history = session.scalars(select(AnnotationHistory).order_by(AnnotationHistory.id)).all()
    assert [(h.action, h.values["sentiment"]) for h in history] == [
        ("created", "positive"), ("updated", "negative"), ("deleted", "negative"), ("restored", "neutral")]


def test_the_same_label_studio_ids_on_two_instances_are_two_judgements(two_instances) -> None:
    session = two_instances
    ingest_webhook(session, "ann-001", _event("ANNOTATION_CREATED", 1, 1, "positive"))
    ingest_webhook(session, "ann-002", _event("ANNOTATION_CREATED", 1, 1, "negative"))
    rows = session.execute(select(Annotator.pseudonym, Annotation.values).join(Annotator)
                           .order_by(Annotator.pseudonym)).all()
    assert [(p, v["sentiment"]) for p, v in rows] == [("ann-001", "positive"), ("ann-002", "negative")]


def test_events_that_cannot_be_stored_are_refused_and_store_nothing(two_instances) -> None:
    session = two_instances
    with pytest.raises(ValidationError, match="'nobody', which mmcurate does not know"):
        ingest_webhook(session, "nobody", _event("ANNOTATION_CREATED", 1, 1, "positive"))
    with pytest.raises(ValidationError, match="must be a JSON object with an 'action'"):
        ingest_webhook(session, "ann-001", ["ANNOTATION_CREATED"])
    with pytest.raises(ValidationError, match="has no annotation with 'id' and 'task'"):
        ingest_webhook(session, "ann-001", {"action": "ANNOTATION_CREATED", "annotation": {"id": 3}})
    with pytest.raises(ValidationError, match="'glad' is not a label"):
        ingest_webhook(session, "ann-001", {"action": "ANNOTATION_CREATED", "annotation": {
            "id": 3, "task": 1, "result": [{"from_name": "sentiment", "value": {"choices": ["glad"]}}]}})
    assert ingest_webhook(session, "ann-001", _event("ANNOTATION_CREATED", 4, 999, "positive")).skipped == 1  # not our task
    assert ingest_webhook(session, "ann-001", {"action": "PROJECT_UPDATED"}).skipped == 1
    assert session.scalars(select(Annotation)).all() == []
