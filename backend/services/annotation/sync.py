"""Judgements back: one upsert for the webhook receiver and the reconciling pull."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from functools import lru_cache
from typing import Any

from sqlalchemy import Connection, Row, bindparam, insert, select, update
from sqlalchemy.orm import Session

from annotation_configs.labelstudio import LsAnnotation
from annotation_configs.normalise import values_from_result
from annotation_configs.registry import Scheme, SchemeRegistry, shipped_registry
from backend.db.models import (
    Annotation,
    AnnotationBatch,
    AnnotationHistory,
    Task,
)
from backend.db.models import LabelStudioInstance as InstanceRow
from backend.domain import (
    NotFoundError,
    ServiceUnavailableError,
    ValidationError,
)
from backend.repositories import projects as project_repo
from backend.services.annotation.adjudication import finish_adjudications
from backend.services.annotation.home import (
    LabelStudioHome,
    Progress,
    admin_client,
    resolve_home,
    utcnow,
)
from backend.settings import Settings


@dataclass
class SyncResult:
    created: int = 0
    updated: int = 0
    deleted: int = 0
    unchanged: int = 0
    skipped: int = 0
    errors: list[str] = field(default_factory=list)

    def count(self, outcome: str) -> None:
        setattr(self, outcome, getattr(self, outcome) + 1)


def _parse_time(value: str | None) -> datetime | None:
    if not value:
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=timezone.utc)


def _schemes_by_batch(session: Session, registry: SchemeRegistry, batch_ids: Iterable[int]) -> dict[int, Scheme]:
    out = {}
    for batch in session.scalars(select(AnnotationBatch).where(AnnotationBatch.id.in_(set(batch_ids)))):
        out[batch.id] = registry[batch.scheme]
    return out


def pull(
    session: Session,
    settings: Settings,
    project: str,
    *,
    home: LabelStudioHome | None = None,
    registry: SchemeRegistry | None = None,
    on_progress: Progress | None = None,
) -> SyncResult:
    """Reconcile mmcurate with every Label Studio project of ``project``: create, update, delete to match."""
    home = resolve_home(settings, home)
    registry = registry or shipped_registry()
    project_row = project_repo.get(session, project)
    records = home.state().load()
    rows = {r.id: r for r in session.scalars(select(InstanceRow))}
    tasks = list(session.scalars(
        select(Task).join(AnnotationBatch, AnnotationBatch.id == Task.batch_id)
        .where(AnnotationBatch.project_id == project_row.id)))
    schemes = _schemes_by_batch(session, registry, {t.batch_id for t in tasks})
    by_target: dict[tuple[int, int], dict[int, Task]] = defaultdict(dict)
    for task in tasks:
        by_target[(task.instance_id, task.ls_project_id)][task.ls_task_id] = task
    result = SyncResult()
    for done, ((instance_id, ls_project), project_tasks) in enumerate(sorted(by_target.items()), start=1):
        row = rows[instance_id]
        instance = records.get(row.name)
        if instance is None:
            raise NotFoundError(f"instance {row.name!r} has no record in {home.state_file}; was the data dir moved?")
        scheme_name = {task.id: schemes[task.batch_id] for task in project_tasks.values()}
        stored_ids = set(session.scalars(
            select(Annotation.ls_annotation_id)
            .where(Annotation.instance_id == instance_id, Annotation.task_id.in_(scheme_name), Annotation.deleted_at.is_(None))))
        session.flush()
        connection = session.connection()
        seen: set[int] = set()
        for ls_annotation in admin_client(instance).annotations(ls_project):
            task = project_tasks.get(ls_annotation.task_id)
            if task is None:
                result.count("skipped")
                continue
            seen.add(ls_annotation.id)
            scheme = scheme_name[task.id]
            target = TaskTarget(task.id, task.item_id, task.annotator_id, task.instance_id,
                                task.kind == "adjudication", scheme.name)
            try:
                result.count(_upsert_event(connection, target, ls_annotation, scheme))
            except ValidationError as exc:
                result.count("skipped")
                result.errors.append(f"{row.name} annotation {ls_annotation.id}: {exc}")
        for ls_id in sorted(stored_ids - seen):
            if _delete_event(connection, instance_id, ls_id) == "deleted":
                result.count("deleted")
        if on_progress:
            on_progress("pull", done, len(by_target))
    finish_adjudications(session)
    return result


@dataclass(frozen=True)
class TaskTarget:
    """What an annotation of one task needs from its task row and batch (these never change once written)."""

    id: int
    item_id: int
    annotator_id: int | None
    instance_id: int
    is_adjudication: bool
    scheme: str


@dataclass
class WebhookLookups:
    """Instance ids by name and tasks by (instance id, Label Studio task id) that the receiver already found.

    Only rows that exist are remembered (a task pushed later is still found). A row deleted after it
    was remembered makes the next insert fail its foreign key; the receiver then calls ``clear`` and
    stores the event again, so a stale entry costs a retry, never a wrong row.
    """

    instance_ids: dict[str, int] = field(default_factory=dict)
    tasks: dict[tuple[int, int], TaskTarget] = field(default_factory=dict)

    def clear(self) -> None:
        self.instance_ids.clear()
        self.tasks.clear()


@dataclass(frozen=True)
class _WebhookStatements:
    """The receiver's statements, built once per dialect: executing a prebuilt statement skips building and hashing it."""

    instance_id: Any
    task_target: Any
    annotation: Any
    insert_new_annotation: Any
    update_annotation: Any
    insert_history: Any


@lru_cache(maxsize=4)
def _webhook_statements(dialect: str) -> _WebhookStatements:
    """``insert_new_annotation`` inserts unless (instance, Label Studio id) is stored, returning the new id or
    no row, so a new annotation (the common event) costs no SELECT first; SQLite and PostgreSQL only."""
    if dialect == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as insert_or_ignore
    elif dialect == "sqlite":
        from sqlalchemy.dialects.sqlite import insert as insert_or_ignore
    else:
        raise ValidationError(f"the webhook receiver supports SQLite and PostgreSQL, not {dialect!r}")
    annotations, history = Annotation.__table__, AnnotationHistory.__table__
    tasks, batches, instances = Task.__table__, AnnotationBatch.__table__, InstanceRow.__table__
    return _WebhookStatements(
        instance_id=select(instances.c.id).where(instances.c.name == bindparam("name")),
        task_target=select(tasks.c.id, tasks.c.item_id, tasks.c.annotator_id, tasks.c.kind, batches.c.scheme)
        .join(batches, batches.c.id == tasks.c.batch_id)
        .where(tasks.c.instance_id == bindparam("instance_id"), tasks.c.ls_task_id == bindparam("ls_task_id")),
        annotation=select(annotations.c.id, annotations.c["values"], annotations.c.raw_result, annotations.c.deleted_at)
        .where(annotations.c.instance_id == bindparam("instance_id"),
               annotations.c.ls_annotation_id == bindparam("ls_annotation_id")),
        insert_new_annotation=insert_or_ignore(annotations)
        .on_conflict_do_nothing(index_elements=[annotations.c.instance_id, annotations.c.ls_annotation_id])
        .returning(annotations.c.id),
        update_annotation=update(annotations).where(annotations.c.id == bindparam("annotation_id")),  # SET: the keys given
        insert_history=insert(history),
    )


def _statements(connection: Connection) -> _WebhookStatements:
    return _webhook_statements(connection.dialect.name)


def _instance_id(connection: Connection, name: str, lookups: WebhookLookups) -> int:
    found = lookups.instance_ids.get(name)
    if found is None:
        found = connection.execute(_statements(connection).instance_id, {"name": name}).scalar()
        if found is None:
            raise ValidationError(f"webhook names instance {name!r}, which mmcurate does not know")
        lookups.instance_ids[name] = found
    return found


def _task_target(connection: Connection, instance_id: int, ls_task_id: int, lookups: WebhookLookups) -> TaskTarget | None:
    key = (instance_id, ls_task_id)
    found = lookups.tasks.get(key)
    if found is None:
        row = connection.execute(_statements(connection).task_target,
                                 {"instance_id": instance_id, "ls_task_id": ls_task_id}).first()
        if row is None:
            return None
        found = TaskTarget(row.id, row.item_id, row.annotator_id, instance_id, row.kind == "adjudication", row.scheme)
        lookups.tasks[key] = found
    return found


def prefetch_tasks(session: Session, events: Sequence[tuple[str, Any]], lookups: WebhookLookups) -> None:
    """Look up the tasks that ``events`` (instance name, payload) annotate with one SELECT per instance.

    For a receiver storing a burst of events in one transaction: each ``ingest_webhook`` then finds its
    task in ``lookups``. Events that are malformed or name an unknown instance are passed over here;
    ``ingest_webhook`` refuses them with its usual message.
    """
    wanted: dict[str, set[int]] = defaultdict(set)
    for name, payload in events:
        if not isinstance(payload, dict):
            continue
        raw = payload.get("annotations") if payload.get("action") == "ANNOTATIONS_CREATED" else [payload.get("annotation")]
        for entry in raw if isinstance(raw, list) else ():
            task = entry.get("task") if isinstance(entry, dict) else None
            if isinstance(task, int) and not isinstance(task, bool):
                wanted[name].add(task)
    connection = session.connection()
    for name, ls_task_ids in wanted.items():
        try:
            instance_id = _instance_id(connection, name, lookups)
        except ValidationError:
            continue
        missing = [t for t in ls_task_ids if (instance_id, t) not in lookups.tasks]
        if not missing:
            continue
        tasks, batches = Task.__table__, AnnotationBatch.__table__
        rows = connection.execute(
            select(tasks.c.id, tasks.c.item_id, tasks.c.annotator_id, tasks.c.kind, tasks.c.ls_task_id, batches.c.scheme)
            .join(batches, batches.c.id == tasks.c.batch_id)
            .where(tasks.c.instance_id == instance_id, tasks.c.ls_task_id.in_(bindparam("ids", expanding=True))),
            {"ids": missing})
        for row in rows:
            lookups.tasks[(instance_id, row.ls_task_id)] = TaskTarget(
                row.id, row.item_id, row.annotator_id, instance_id, row.kind == "adjudication", row.scheme)


def _stored(connection: Connection, instance_id: int, ls_annotation_id: int) -> Row[Any] | None:
    return connection.execute(_statements(connection).annotation,
                              {"instance_id": instance_id, "ls_annotation_id": ls_annotation_id}).first()


def _write_history(connection: Connection, annotation_id: int, action: str, values: Any, raw_result: Any,
                   recorded_at: datetime) -> None:
    connection.execute(_statements(connection).insert_history, {
        "annotation_id": annotation_id, "action": action, "values": values, "raw_result": raw_result,
        "recorded_at": recorded_at})


def _upsert_event(connection: Connection, task: TaskTarget, ls_annotation: LsAnnotation, scheme: Scheme) -> str:
    """Store one Label Studio annotation (from a webhook or a pull) in Core statements: a new one is one
    INSERT plus its 'created' history row; a known one is updated (plus an 'updated' or 'restored' history
    row) only when its result changed or it had been deleted; cancelled ones are skipped."""
    if ls_annotation.was_cancelled:
        return "skipped"
    values = values_from_result(scheme, ls_annotation.result)
    now = utcnow()
    statements = _statements(connection)
    annotation_id = connection.execute(statements.insert_new_annotation, {
        "task_id": task.id, "item_id": task.item_id, "annotator_id": task.annotator_id,
        "instance_id": task.instance_id, "ls_annotation_id": ls_annotation.id, "scheme": scheme.name,
        "values": values, "raw_result": ls_annotation.result, "lead_time_s": ls_annotation.lead_time_s,
        "is_adjudication": task.is_adjudication, "origin": "labelstudio",
        "created_at": _parse_time(ls_annotation.created_at) or now,
        "updated_at": _parse_time(ls_annotation.updated_at) or now,
    }).scalar()
    if annotation_id is not None:
        _write_history(connection, annotation_id, "created", values, ls_annotation.result, now)
        return "created"
    existing = _stored(connection, task.instance_id, ls_annotation.id)
    if existing is None:  # deleted between the two statements by another writer: store it on the retry
        raise ServiceUnavailableError(f"annotation {ls_annotation.id} of instance {task.instance_id} vanished while stored")
    if existing.raw_result == ls_annotation.result and existing.deleted_at is None:
        return "unchanged"
    action = "restored" if existing.deleted_at is not None else "updated"
    connection.execute(statements.update_annotation, {
        "annotation_id": existing.id, "values": values, "raw_result": ls_annotation.result,
        "lead_time_s": ls_annotation.lead_time_s, "updated_at": _parse_time(ls_annotation.updated_at) or now,
        "deleted_at": None})
    _write_history(connection, existing.id, action, values, ls_annotation.result, now)
    return "updated"


def _delete_event(connection: Connection, instance_id: int, ls_annotation_id: int) -> str:
    existing = _stored(connection, instance_id, ls_annotation_id)
    if existing is None:
        return "skipped"
    if existing.deleted_at is not None:
        return "unchanged"
    now = utcnow()
    connection.execute(_statements(connection).update_annotation, {"annotation_id": existing.id, "deleted_at": now})
    _write_history(connection, existing.id, "deleted", existing.values, existing.raw_result, now)
    return "deleted"


def ingest_webhook(
    session: Session,
    instance_name: str,
    payload: Any,
    *,
    registry: SchemeRegistry | None = None,
    lookups: WebhookLookups | None = None,
) -> SyncResult:
    """Apply one Label Studio webhook (ANNOTATION_CREATED / UPDATED, ANNOTATIONS_CREATED / DELETED).

    The same upsert as ``pull`` (``_upsert_event`` / ``_delete_event``): created / updated or
    restored / deleted, each with a history row; unchanged and cancelled annotations write nothing. ``lookups``
    lets a long-lived caller (the receiver) keep instance and task rows between events. Nothing
    is committed here.
    """
    if not isinstance(payload, dict) or not isinstance(payload.get("action"), str):
        raise ValidationError("webhook body must be a JSON object with an 'action'")
    lookups = lookups if lookups is not None else WebhookLookups()
    session.flush()
    connection = session.connection()
    instance_id = _instance_id(connection, instance_name, lookups)
    action = payload["action"]
    result = SyncResult()
    adjudicated = False
    if action in ("ANNOTATION_CREATED", "ANNOTATION_UPDATED", "ANNOTATIONS_CREATED"):
        raw = payload.get("annotations") if action == "ANNOTATIONS_CREATED" else [payload.get("annotation")]
        if not isinstance(raw, list) or not all(isinstance(a, dict) and "id" in a and "task" in a for a in raw):
            raise ValidationError(f"{action} webhook has no annotation with 'id' and 'task'")
        registry = registry or shipped_registry()
        for entry in raw:
            try:
                ls_annotation = LsAnnotation.from_json(entry, int((payload.get("project") or {}).get("id") or 0))
            except (TypeError, ValueError, KeyError) as exc:
                raise ValidationError(f"{action} webhook carries a malformed annotation: {exc}") from None
            task = _task_target(connection, instance_id, ls_annotation.task_id, lookups)
            if task is None:
                result.count("skipped")
                continue
            result.count(_upsert_event(connection, task, ls_annotation, registry[task.scheme]))
            adjudicated = adjudicated or task.is_adjudication
    elif action == "ANNOTATIONS_DELETED":
        raw = payload.get("annotations")
        if not isinstance(raw, list) or not all(isinstance(a, dict) and "id" in a for a in raw):
            raise ValidationError("ANNOTATIONS_DELETED webhook has no list of annotations with 'id'")
        for entry in raw:
            try:
                ls_annotation_id = int(entry["id"])
            except (TypeError, ValueError) as exc:
                raise ValidationError(f"ANNOTATIONS_DELETED webhook carries a malformed id: {exc}") from None
            result.count(_delete_event(connection, instance_id, ls_annotation_id))
    else:
        result.count("skipped")
    if adjudicated:
        finish_adjudications(session)
    return result
