"""Judgements back: what each instance holds now, stored by one reconcile for the webhook and the pull.

Nothing an instance *sends* is stored as it is: an annotator can post any body to the
receiver with their own instance's secret. A webhook names tasks (``AnnotationEvent``); the
receiver re-reads those tasks from the instance the secret belongs to, with that instance's
admin token, and ``store_instance_annotations`` makes the stored judgements of exactly those
tasks what the instance holds — the same reconcile the pull runs over whole projects. So a
forged body puts no value in, a replayed or late event cannot roll a judgement back (what
is stored is what Label Studio holds at the moment of reading, and a version older than the
stored one is never written over it), and no instance can touch another's tasks (tasks are
looked up within the sending instance). Annotations made by anyone but the instance's own
annotator are refused too. Every change lands in ``annotation_history``.
"""

from __future__ import annotations

import enum
from collections import defaultdict
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from functools import lru_cache
from typing import Any

from sqlalchemy import Connection, bindparam, insert, select, update
from sqlalchemy.orm import Session

from annotation_configs.labelstudio import instances as ls
from annotation_configs.labelstudio import AnnotationEvent, LsAnnotation
from annotation_configs.labelstudio.results import values_from_result
from annotation_configs.registry import SchemeRegistry, shipped_registry
from backend.db.models import Annotation, AnnotationBatch, AnnotationHistory, LabelStudioInstanceRow, Task
from backend.domain import (
    AnnotationOrigin,
    HistoryAction,
    InstanceRole,
    MmcurateError,
    Progress,
    ServiceUnavailableError,
    TaskKind,
    ValidationError,
)
from backend.repositories import projects as project_repo
from backend.services.annotation.adjudication import finish_adjudications
from backend.services.annotation.home import LabelStudioHome, admin_client, resolve_home, utcnow
from backend.services.annotation.lifecycle import in_use, record_synced, synced_projects
from backend.settings import Settings


class SyncOutcome(enum.StrEnum):
    """What reconciling one annotation did; each is a count of :class:`SyncResult`."""

    CREATED = "created"
    UPDATED = "updated"
    DELETED = "deleted"
    UNCHANGED = "unchanged"
    SKIPPED = "skipped"


@dataclass
class SyncResult:
    """What one sync did; ``unreachable`` names each instance that could not be read (pseudonym and URL)."""

    created: int = 0
    updated: int = 0
    deleted: int = 0
    unchanged: int = 0
    skipped: int = 0
    errors: list[str] = field(default_factory=list)
    unreachable: list[str] = field(default_factory=list)

    def count(self, outcome: SyncOutcome, n: int = 1) -> None:
        setattr(self, outcome, getattr(self, outcome) + n)

    def add(self, other: "SyncResult") -> None:
        for outcome in SyncOutcome:
            self.count(outcome, getattr(other, outcome))
        self.errors.extend(other.errors)
        self.unreachable.extend(other.unreachable)

    def counts(self) -> dict[str, int]:
        return {outcome.value: getattr(self, outcome) for outcome in SyncOutcome}


@dataclass(frozen=True)
class TaskTarget:
    """What an annotation of one task needs from its task row and batch (these never change once written)."""

    id: int
    item_id: int
    annotator_id: int | None
    instance_id: int
    is_adjudication: bool
    scheme: str
    ls_project_id: int
    ls_task_id: int


@dataclass
class WebhookLookups:
    """Instance ids by name and tasks by (instance id, Label Studio task id) that the receiver already found.

    Only rows that exist are remembered (a task pushed later is still found). A row deleted after it
    was remembered makes the next insert fail its foreign key; the receiver's refresher then calls
    ``clear`` and the events stay pending for its next round, so a stale entry costs a retry, never a
    wrong row.
    """

    instance_ids: dict[str, int] = field(default_factory=dict)
    tasks: dict[tuple[int, int], TaskTarget] = field(default_factory=dict)

    def clear(self) -> None:
        self.instance_ids.clear()
        self.tasks.clear()


def _aware(value: datetime | None) -> datetime | None:
    return value if value is None or value.tzinfo else value.replace(tzinfo=timezone.utc)


def _parse_time(value: str | None) -> datetime | None:
    if not value:
        return None
    try:
        return _aware(datetime.fromisoformat(value.replace("Z", "+00:00")))
    except ValueError:
        return None


# -- prebuilt Core statements (the receiver runs them per event) ----------------------------


@dataclass(frozen=True)
class _Statements:
    instance_id: Any
    task_targets: Any
    tasks_of_annotations: Any
    annotation: Any
    stored_of_tasks: Any
    insert_new_annotation: Any
    update_annotation: Any
    insert_history: Any


@lru_cache(maxsize=4)
def _dialect_statements(dialect: str) -> _Statements:
    """``insert_new_annotation`` inserts unless (instance, Label Studio id) is stored, returning the new id or
    no row, so a new annotation (the common event) costs no SELECT first; SQLite and PostgreSQL only."""
    if dialect == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as insert_or_ignore
    elif dialect == "sqlite":
        from sqlalchemy.dialects.sqlite import insert as insert_or_ignore
    else:
        raise ValidationError(f"the webhook receiver supports SQLite and PostgreSQL, not {dialect!r}")
    annotations, history = Annotation.__table__, AnnotationHistory.__table__
    tasks, batches, instances = Task.__table__, AnnotationBatch.__table__, LabelStudioInstanceRow.__table__
    return _Statements(
        instance_id=select(instances.c.id).where(instances.c.name == bindparam("name")),
        task_targets=select(tasks.c.id, tasks.c.item_id, tasks.c.annotator_id, tasks.c.kind, tasks.c.ls_project_id,
                            tasks.c.ls_task_id, batches.c.scheme)
        .join(batches, batches.c.id == tasks.c.batch_id)
        .where(tasks.c.instance_id == bindparam("instance_id"),
               tasks.c.ls_task_id.in_(bindparam("ls_task_ids", expanding=True))),
        tasks_of_annotations=select(tasks.c.ls_task_id).join(annotations, annotations.c.task_id == tasks.c.id)
        .where(annotations.c.instance_id == bindparam("instance_id"),
               annotations.c.ls_annotation_id.in_(bindparam("ls_annotation_ids", expanding=True))),
        annotation=select(annotations.c.id, annotations.c["values"], annotations.c.raw_result, annotations.c.deleted_at,
                          annotations.c.updated_at)
        .where(annotations.c.instance_id == bindparam("instance_id"),
               annotations.c.ls_annotation_id == bindparam("ls_annotation_id")),
        stored_of_tasks=select(annotations.c.ls_annotation_id)
        .where(annotations.c.instance_id == bindparam("instance_id"), annotations.c.deleted_at.is_(None),
               annotations.c.task_id.in_(bindparam("task_ids", expanding=True))),
        insert_new_annotation=insert_or_ignore(annotations)
        .on_conflict_do_nothing(index_elements=[annotations.c.instance_id, annotations.c.ls_annotation_id])
        .returning(annotations.c.id),
        update_annotation=update(annotations).where(annotations.c.id == bindparam("annotation_id")),  # SET: the keys given
        insert_history=insert(history),
    )


def _statements(connection: Connection) -> _Statements:
    return _dialect_statements(connection.dialect.name)


def instance_id(connection: Connection, name: str, lookups: WebhookLookups) -> int:
    found = lookups.instance_ids.get(name)
    if found is None:
        found = connection.execute(_statements(connection).instance_id, {"name": name}).scalar()
        if found is None:
            raise ValidationError(f"instance {name!r} is not known to mmcurate's database")
        lookups.instance_ids[name] = found
    return found


def task_targets(connection: Connection, instance: int, ls_task_ids: Iterable[int],
                 lookups: WebhookLookups) -> dict[int, TaskTarget]:
    """mmcurate's tasks among ``ls_task_ids`` of one instance, by Label Studio task id (unknown ids are left out)."""
    wanted = set(ls_task_ids)
    missing = [t for t in wanted if (instance, t) not in lookups.tasks]
    if missing:
        for row in connection.execute(_statements(connection).task_targets,
                                      {"instance_id": instance, "ls_task_ids": missing}):
            lookups.tasks[(instance, row.ls_task_id)] = TaskTarget(
                row.id, row.item_id, row.annotator_id, instance, row.kind == TaskKind.ADJUDICATION, row.scheme,
                row.ls_project_id, row.ls_task_id)
    return {t: lookups.tasks[(instance, t)] for t in wanted if (instance, t) in lookups.tasks}


def tasks_to_refresh(session: Session, instance_name: str, events: Sequence[AnnotationEvent],
                     lookups: WebhookLookups) -> dict[int, set[int]]:
    """The tasks ``events`` from one instance name, by Label Studio project: only tasks mmcurate gave that instance.

    A deletion names annotations only; their tasks are found among what is stored for the instance.
    """
    connection = session.connection()
    own = instance_id(connection, instance_name, lookups)
    named = {t for e in events for t in e.task_ids}
    deleted = sorted({a for e in events if e.is_deletion for a in e.annotation_ids})
    if deleted:
        named |= set(connection.execute(_statements(connection).tasks_of_annotations,
                                        {"instance_id": own, "ls_annotation_ids": deleted}).scalars())
    out: dict[int, set[int]] = defaultdict(set)
    for target in task_targets(connection, own, named, lookups).values():
        out[target.ls_project_id].add(target.ls_task_id)
    return dict(out)


# -- the one reconcile ------------------------------------------------------------------------


def _write_history(connection: Connection, annotation_id: int, action: HistoryAction, values: Any, raw_result: Any,
                   recorded_at: datetime) -> None:
    connection.execute(_statements(connection).insert_history, {
        "annotation_id": annotation_id, "action": action, "values": values, "raw_result": raw_result,
        "recorded_at": recorded_at})


def _upsert(connection: Connection, task: TaskTarget, ls_annotation: LsAnnotation, registry: SchemeRegistry) -> SyncOutcome:
    """Store one annotation as its instance holds it: a new one is one INSERT plus its 'created' history row; a
    known one is updated (plus an 'updated' or 'restored' row) only when its result changed or it had been
    deleted, and never by a version older than the stored one; cancelled ones are skipped."""
    if ls_annotation.was_cancelled:
        return SyncOutcome.SKIPPED
    scheme = registry[task.scheme]
    values = values_from_result(scheme, ls_annotation.result)
    now = utcnow()
    updated_at = _parse_time(ls_annotation.updated_at) or now
    statements = _statements(connection)
    annotation_id = connection.execute(statements.insert_new_annotation, {
        "task_id": task.id, "item_id": task.item_id, "annotator_id": task.annotator_id,
        "instance_id": task.instance_id, "ls_annotation_id": ls_annotation.id, "scheme": scheme.name,
        "values": values, "raw_result": ls_annotation.result, "lead_time_s": ls_annotation.lead_time_s,
        "is_adjudication": task.is_adjudication, "origin": AnnotationOrigin.LABELSTUDIO,
        "created_at": _parse_time(ls_annotation.created_at) or now, "updated_at": updated_at,
    }).scalar()
    if annotation_id is not None:
        _write_history(connection, annotation_id, HistoryAction.CREATED, values, ls_annotation.result, now)
        return SyncOutcome.CREATED
    existing = connection.execute(statements.annotation, {"instance_id": task.instance_id,
                                                          "ls_annotation_id": ls_annotation.id}).first()
    if existing is None:  # deleted between the two statements by another writer: store it on the retry
        raise ServiceUnavailableError(f"annotation {ls_annotation.id} of instance {task.instance_id} vanished while stored")
    if existing.raw_result == ls_annotation.result and existing.deleted_at is None:
        return SyncOutcome.UNCHANGED
    stored_at = _aware(existing.updated_at)
    if existing.deleted_at is None and stored_at is not None and ls_annotation.updated_at and updated_at < stored_at:
        return SyncOutcome.UNCHANGED  # an older version read late: the stored one is newer
    action = HistoryAction.RESTORED if existing.deleted_at is not None else HistoryAction.UPDATED
    connection.execute(statements.update_annotation, {
        "annotation_id": existing.id, "values": values, "raw_result": ls_annotation.result,
        "lead_time_s": ls_annotation.lead_time_s, "updated_at": updated_at, "deleted_at": None})
    _write_history(connection, existing.id, action, values, ls_annotation.result, now)
    return SyncOutcome.UPDATED


def _delete(connection: Connection, instance: int, ls_annotation_id: int) -> SyncOutcome:
    existing = connection.execute(_statements(connection).annotation,
                                  {"instance_id": instance, "ls_annotation_id": ls_annotation_id}).first()
    if existing is None:
        return SyncOutcome.SKIPPED
    if existing.deleted_at is not None:
        return SyncOutcome.UNCHANGED
    now = utcnow()
    connection.execute(_statements(connection).update_annotation, {"annotation_id": existing.id, "deleted_at": now})
    _write_history(connection, existing.id, HistoryAction.DELETED, existing.values, existing.raw_result, now)
    return SyncOutcome.DELETED


def _reconcile(connection: Connection, instance_name: str, targets: dict[int, TaskTarget],
               held: Sequence[LsAnnotation], expected_user: int | None, registry: SchemeRegistry) -> SyncResult:
    """Make the stored judgements of ``targets`` (by Label Studio task id) exactly ``held``, what the instance holds."""
    result = SyncResult()
    seen: set[int] = set()
    for ls_annotation in held:
        task = targets.get(ls_annotation.task_id)
        if task is None:
            result.count(SyncOutcome.SKIPPED)
            continue
        if expected_user is not None and ls_annotation.completed_by != expected_user:
            result.count(SyncOutcome.SKIPPED)
            result.errors.append(f"{instance_name} annotation {ls_annotation.id} was made by Label Studio user "
                                 f"{ls_annotation.completed_by}, not by the instance's annotator: not stored")
            continue
        seen.add(ls_annotation.id)
        try:
            result.count(_upsert(connection, task, ls_annotation, registry))
        except ValidationError as exc:
            result.count(SyncOutcome.SKIPPED)
            result.errors.append(f"{instance_name} annotation {ls_annotation.id}: {exc}")
    if targets:
        instance = next(iter(targets.values())).instance_id
        stored = set(connection.execute(_statements(connection).stored_of_tasks, {
            "instance_id": instance, "task_ids": [t.id for t in targets.values()]}).scalars())
        for ls_id in sorted(stored - seen):
            result.count(_delete(connection, instance, ls_id))
    return result


def expected_user(instance: ls.LabelStudioInstance) -> int | None:
    """The only Label Studio user whose annotations an instance may deliver (None: a shared server, anyone)."""
    return None if instance.role == InstanceRole.SHARED else instance.user_id


def store_instance_annotations(
    session: Session,
    instance: ls.LabelStudioInstance,
    ls_task_ids: Collection[int],
    held: Sequence[LsAnnotation],
    *,
    registry: SchemeRegistry | None = None,
    lookups: WebhookLookups | None = None,
) -> SyncResult:
    """Make the stored judgements of ``ls_task_ids`` in ``instance`` what it holds now (``held``, read from it).

    Tasks mmcurate did not give this instance are left alone. Nothing is committed here.
    """
    registry = registry or shipped_registry()
    lookups = lookups if lookups is not None else WebhookLookups()
    session.flush()
    connection = session.connection()
    own = instance_id(connection, instance.name, lookups)
    targets = task_targets(connection, own, ls_task_ids, lookups)
    result = _reconcile(connection, instance.name, targets, held, expected_user(instance), registry)
    if any(t.is_adjudication for t in targets.values()):
        finish_adjudications(session)
    return result


def _pull_instance(session: Session, home: LabelStudioHome, instance: ls.LabelStudioInstance, project_id: int,
                   projects: dict[int, dict[int, TaskTarget]], registry: SchemeRegistry) -> SyncResult:
    """Reconcile the tasks of one mmcurate project in one instance, started for it when down (and stopped after).

    Everything is read before anything is stored, so an instance that fails half-way changes nothing.
    When the instance was down, what it holds is recorded as reconciled for this project (see ``lifecycle``).
    """
    held_by_project: dict[int, list[LsAnnotation]] = {}
    was_synced = synced_projects(home, instance)
    with in_use(home, instance) as running:
        client = admin_client(running)
        for ls_project in sorted(projects):
            held_by_project[ls_project] = client.annotations(ls_project)
    stopped = home.state().load().get(instance.name, running)
    used_by_others = ls.is_running(stopped)  # up after the block: it was up before, or someone uses it now
    result = SyncResult()
    session.flush()
    for ls_project, project_targets in sorted(projects.items()):
        result.add(_reconcile(session.connection(), instance.name, project_targets, held_by_project[ls_project],
                              expected_user(instance), registry))
    if instance.managed and not used_by_others:
        record_synced(home, stopped, was_synced | {project_id})
    return result


def _target(task: Task, scheme: str) -> TaskTarget:
    return TaskTarget(task.id, task.item_id, task.annotator_id, task.instance_id, task.kind == TaskKind.ADJUDICATION,
                      scheme, task.ls_project_id, task.ls_task_id)


def reconcile_running_instance(session: Session, instance: ls.LabelStudioInstance,
                               registry: SchemeRegistry | None = None) -> tuple[SyncResult, set[int]]:
    """Reconcile every task of a running instance, across mmcurate projects (before the gateway stops it).

    Returns what changed and the ids of the mmcurate projects that now hold all it holds.
    """
    registry = registry or shipped_registry()
    targets: dict[int, dict[int, TaskTarget]] = defaultdict(dict)
    projects: set[int] = set()
    for task, scheme, project_id in session.execute(
        select(Task, AnnotationBatch.scheme, AnnotationBatch.project_id)
        .join(AnnotationBatch, AnnotationBatch.id == Task.batch_id)
        .join(LabelStudioInstanceRow, LabelStudioInstanceRow.id == Task.instance_id)
        .where(LabelStudioInstanceRow.name == instance.name)
    ):
        projects.add(project_id)
        targets[task.ls_project_id][task.ls_task_id] = _target(task, scheme)
    client = admin_client(instance)
    held = {ls_project: client.annotations(ls_project) for ls_project in sorted(targets)}
    result = SyncResult()
    session.flush()
    for ls_project, project_targets in sorted(targets.items()):
        result.add(_reconcile(session.connection(), instance.name, project_targets, held[ls_project],
                              expected_user(instance), registry))
    finish_adjudications(session)
    return result, projects


def pull(
    session: Session,
    settings: Settings,
    project: str,
    *,
    home: LabelStudioHome | None = None,
    registry: SchemeRegistry | None = None,
    on_progress: Progress | None = None,
) -> SyncResult:
    """Reconcile mmcurate with every Label Studio project of ``project``: create, update, delete to match.

    An instance that cannot be read is named in ``unreachable`` (pseudonym and URL) and the
    others are pulled all the same; nothing stored for an unreachable instance changes (its
    judgements are never taken as deleted).
    """
    home = resolve_home(settings, home)
    registry = registry or shipped_registry()
    project_row = project_repo.get(session, project)
    records = home.state().load()
    rows = {r.id: r for r in session.scalars(select(LabelStudioInstanceRow))}
    by_instance: dict[int, dict[int, dict[int, TaskTarget]]] = defaultdict(lambda: defaultdict(dict))
    for task, scheme in session.execute(
        select(Task, AnnotationBatch.scheme).join(AnnotationBatch, AnnotationBatch.id == Task.batch_id)
        .where(AnnotationBatch.project_id == project_row.id)
    ):
        by_instance[task.instance_id][task.ls_project_id][task.ls_task_id] = _target(task, scheme)
    total = sum(len(projects) for projects in by_instance.values())
    result = SyncResult()
    done = 0
    for instance_row_id, projects in sorted(by_instance.items()):
        row = rows[instance_row_id]
        instance = records.get(row.name)
        if instance is None:
            result.unreachable.append(f"{row.name} ({row.url}): no record in {home.state_file}; was the data dir moved?")
        elif project_row.id in synced_projects(home, instance) and not ls.is_running(instance):
            pass  # stopped, and its database has not changed since this project was last reconciled with it
        else:
            try:
                result.add(_pull_instance(session, home, instance, project_row.id, projects, registry))
            except MmcurateError as exc:
                result.unreachable.append(f"{row.name} ({instance.url}): {exc}")
        done += len(projects)
        if on_progress:
            on_progress("pull", done, total)
    finish_adjudications(session)
    return result
