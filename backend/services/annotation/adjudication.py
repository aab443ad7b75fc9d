"""Adjudication: items the QA gate sent back become review tasks showing all k answers."""

from __future__ import annotations

import secrets
from collections import defaultdict
from dataclasses import dataclass, replace
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from annotation_configs.labelstudio import instances as ls
from annotation_configs.registry import Scheme, SchemeRegistry, shipped_registry
from annotation_configs.xml import ContextLine, MediaKind, label_config, task_data
from backend.db.models import (
    Annotation,
    AnnotationBatch,
    Annotator,
    Item,
    Task,
)
from backend.domain import (
    AdjudicationStatus,
    InstanceRole,
    NotFoundError,
    TaskKind,
)
from backend.repositories import projects as project_repo
from backend.services.annotation.annotators import AnnotatorLogin
from backend.services.annotation.home import (
    ADJUDICATION_INSTANCE,
    LabelStudioHome,
    admin_client,
    mirror_instance,
    receiver_url,
    resolve_home,
)
from backend.services.annotation.instances import new_instance
from backend.services.annotation.lifecycle import in_use, stop_instance
from backend.services.annotation.push import display_language, ensure_webhooks
from backend.services.annotation.serving import storage_folders, task_content
from backend.settings import Settings


def finish_adjudications(session: Session) -> None:
    """Copy adjudicated values from adjudication annotations onto the adjudication records."""
    from backend.db.models import Adjudication

    rows = session.execute(
        select(Adjudication, Annotation).join(Annotation, (Annotation.item_id == Adjudication.item_id)
                                              & Annotation.is_adjudication.is_(True)
                                              & Annotation.deleted_at.is_(None))
        .where(Adjudication.status == AdjudicationStatus.SENT)
        .execution_options(populate_existing=True)  # the webhook writes annotations with Core statements
    ).all()
    for adjudication, annotation in rows:
        if adjudication.field in (annotation.values or {}):
            adjudication.value = {"value": annotation.values[adjudication.field]}
            adjudication.adjudicator_id = annotation.annotator_id
            adjudication.status = AdjudicationStatus.DONE
    session.flush()


@dataclass(frozen=True)
class AdjudicationPush:
    sent: int
    url: str
    login: AnnotatorLogin | None


def push_adjudications(
    session: Session,
    settings: Settings,
    project: str,
    *,
    adjudicator_email: str = "adjudicator@example.org",
    home: LabelStudioHome | None = None,
    registry: SchemeRegistry | None = None,
) -> AdjudicationPush:
    """Open adjudications of ``project`` become review tasks in the adjudication instance, showing all k answers."""
    from backend.db.models import Adjudication, QARun

    home = resolve_home(settings, home)
    registry = registry or shipped_registry()
    project_row = project_repo.get(session, project)
    open_rows = list(session.scalars(
        select(Adjudication).join(QARun, QARun.id == Adjudication.qa_run_id)
        .where(QARun.project_id == project_row.id, Adjudication.status == AdjudicationStatus.OPEN).order_by(Adjudication.id)))
    records = home.state().load()
    login = None
    adjudicator = session.scalar(select(Annotator).where(Annotator.email == adjudicator_email))
    if ADJUDICATION_INSTANCE not in records:
        if adjudicator is None:
            adjudicator = Annotator(pseudonym="adjudicator", email=adjudicator_email, languages=[], simulated=False)
            session.add(adjudicator)
            session.flush()
        instance = new_instance(home, ADJUDICATION_INSTANCE, InstanceRole.ADJUDICATION, adjudicator.pseudonym,
                                webhook_url=receiver_url(settings))
        password = secrets.token_urlsafe(12)
        made = admin_client(instance).create_login(adjudicator_email, password)
        instance = replace(instance, user_email=adjudicator_email, user_id=made.user_id, user_token=made.token)
        home.save(instance)
        instance = stop_instance(home, instance)  # up only while used, like every instance
        login = AnnotatorLogin(adjudicator.pseudonym, adjudicator_email, password, home.address(instance), (), False)
        records[ADJUDICATION_INSTANCE] = instance
    instance = records[ADJUDICATION_INSTANCE]
    if adjudicator is None:
        raise NotFoundError(f"no adjudicator with email {adjudicator_email!r}")
    with in_use(home, instance) as running:
        sent = _send_reviews(session, settings, registry, project_row, open_rows, adjudicator, running)
    return AdjudicationPush(sent, home.address(instance), login)


def _send_reviews(session: Session, settings: Settings, registry: SchemeRegistry, project_row: Any,
                  open_rows: list[Any], adjudicator: Annotator, instance: ls.LabelStudioInstance) -> int:
    from backend.db.models import Adjudication

    row = mirror_instance(session, instance, annotator_id=adjudicator.id)
    client = admin_client(instance)
    sent = 0
    by_scheme: dict[tuple[str, MediaKind], list[tuple[Adjudication, dict[str, Any]]]] = defaultdict(list)
    for adjudication in open_rows:
        answers_ = list(session.scalars(select(Annotation).join(Annotator, Annotator.id == Annotation.annotator_id).where(
            Annotation.item_id == adjudication.item_id, Annotation.deleted_at.is_(None),
            Annotation.is_adjudication.is_(False))))
        schemes = [a.scheme for a in answers_ if adjudication.field in (a.values or {})]
        if not schemes:
            continue
        item = session.get(Item, adjudication.item_id)
        media, content = task_content(settings.data_dir, instance, item, session)  # type: ignore[arg-type]
        lines = [ContextLine(session.get(Annotator, a.annotator_id).pseudonym,  # type: ignore[union-attr]
                             str(a.values[adjudication.field])) for a in answers_ if adjudication.field in (a.values or {})]
        data = task_data(media, content, item_id=item.id,  # type: ignore[union-attr]
                         speaker=item.utterance.speaker_label if item.utterance else None,  # type: ignore[union-attr]
                         transcript=item.text or "", context=lines,  # type: ignore[union-attr]
                         meta={"adjudication_id": adjudication.id, "field": adjudication.field,
                               "reason": adjudication.reason or ""})
        by_scheme[(schemes[0], media)].append((adjudication, data))
    for (scheme_name, media), entries in by_scheme.items():
        scheme = registry[scheme_name]
        fields = {a.field for a, _ in entries}
        review = Scheme(name=scheme.name, title=f"Adjudication: {scheme.title} (answers shown above)",
                        fields=tuple(f for f in scheme.fields if f.name in fields), instructions=scheme.instructions)
        ls_project = client.ensure_project(f"{project_row.name} / adjudication / {scheme.name} / {media.value}",
                                           label_config(review, media, display_language(project_row), answers=True))
        for folder in sorted(set().union(*(storage_folders(settings.data_dir, instance, d[media.value]) for _, d in entries))):
            client.ensure_local_storage(ls_project, folder)
        ensure_webhooks(settings, instance, client, {ls_project})
        batch = AnnotationBatch(project_id=project_row.id, scheme=scheme.name, overlap_k=1, gold_rate=0.0,
                                selection={"adjudication": True})
        session.add(batch)
        session.flush()
        ids = client.import_tasks(ls_project, [{"data": d} for _, d in entries])
        for (adjudication, data), ls_task_id in zip(entries, ids):
            session.add(Task(batch_id=batch.id, item_id=data["item_id"], annotator_id=adjudicator.id,
                             instance_id=row.id, ls_project_id=ls_project, ls_task_id=ls_task_id, kind=TaskKind.ADJUDICATION))
            adjudication.status = AdjudicationStatus.SENT
            sent += 1
    session.flush()
    return sent
