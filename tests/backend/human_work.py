"""A project whose one item carries every kind of human work: the world for "nothing people made is lost"."""

from __future__ import annotations

from sqlalchemy.orm import Session

from backend.db.models import (Adjudication, AggregatedLabelRow, Annotation, AnnotationBatch, AnnotationHistory, Annotator,
                               Item, LabelStudioInstanceRow, Project, QARun, Release, ReleaseItem, Source, Task)


def item_with_human_work(session: Session, name: str = "p") -> tuple[Project, Item]:
    """Project ``name`` with one text item and one of each kind of human work on it: an annotation
    (with its history row), a task, an adjudication, an aggregated label and a release item. Committed."""
    project = Project(name=name, languages=["ta"], schemes=["sentiment3"], allowed_licences=[])
    session.add(project)
    session.flush()
    source = Source(project_id=project.id, kind="text", uri="/comments.txt", content_hash=f"h-{name}")
    session.add(source)
    session.flush()
    item = Item(project_id=project.id, source_id=source.id, kind="text", text="வணக்கம்")
    annotator = Annotator(pseudonym=f"ann-001-{name}", email=f"a-{name}@example.org")
    instance = LabelStudioInstanceRow(name=f"ann-001-{name}", role="annotator", url="http://127.0.0.1:8081")
    batch = AnnotationBatch(project_id=project.id, scheme="sentiment3", overlap_k=1)
    run = QARun(project_id=project.id, scheme="sentiment3")
    release = Release(project_id=project.id, version="v1")
    session.add_all([item, annotator, instance, batch, run, release])
    session.flush()
    task = Task(batch_id=batch.id, item_id=item.id, annotator_id=annotator.id, instance_id=instance.id,
                ls_project_id=1, ls_task_id=1)
    session.add(task)
    session.flush()
    annotation = Annotation(task_id=task.id, item_id=item.id, annotator_id=annotator.id, scheme="sentiment3",
                            values={"sentiment": "positive"})
    session.add(annotation)
    session.flush()
    session.add_all([
        AnnotationHistory(annotation_id=annotation.id, action="created", values=annotation.values),
        Adjudication(qa_run_id=run.id, item_id=item.id, field="sentiment"),
        AggregatedLabelRow(project_id=project.id, item_id=item.id, scheme="sentiment3", field="sentiment", value="positive", method="majority"),
        ReleaseItem(release_id=release.id, item_id=item.id, source_id=source.id, split="train"),
    ])
    session.commit()
    return project, item
