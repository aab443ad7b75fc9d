"""Simulated annotators: real Label Studio users answering through its API, marked simulated."""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from annotation_configs.labelstudio import instances as ls
from annotation_configs.labelstudio.results import result_from_values
from annotation_configs.registry import SchemeRegistry, shipped_registry
from annotation_configs.simulate import answers as simulated_answers
from annotation_configs.simulate import lead_time_s as simulated_lead_time
from annotation_configs.xml import MediaKind
from backend.db.models import (
    AnnotationBatch,
    Annotator,
    Item,
    Task,
)
from backend.domain import (
    NotFoundError,
    Progress,
    TaskKind,
    ValidationError,
    ValueKind,
)
from backend.repositories import projects as project_repo
from backend.services.annotation.annotators import add_annotator
from backend.services.annotation.home import (
    LabelStudioHome,
    admin_client,
    resolve_home,
)
from backend.services.annotation.lifecycle import in_use
from backend.services.annotation.push import PushOptions, PushResult, push
from backend.services.annotation.serving import media_file
from backend.settings import Settings


@dataclass(frozen=True)
class SimulateOptions:
    project: str
    scheme: str
    accuracies: tuple[float, ...]
    k: int | None = None
    size: int | None = None
    language: str | None = None
    seed: int = 0
    median_seconds_per_field: float = 6.0


@dataclass(frozen=True)
class SimulateResult:
    annotators: tuple[str, ...]
    push: PushResult
    submitted: int
    already_done: int


def simulate(
    session: Session,
    settings: Settings,
    options: SimulateOptions,
    *,
    home: LabelStudioHome | None = None,
    registry: SchemeRegistry | None = None,
    on_progress: Progress | None = None,
) -> SimulateResult:
    """N simulated annotators (real Label Studio users, marked simulated) label a batch through Label Studio's API.

    Each answers ``items.reference`` (the transcript field: the item text) with its accuracy, a
    plausible slip otherwise, with log-normal lead times. Re-runs reuse the annotators and skip
    tasks they already answered.
    """
    if not options.accuracies:
        raise ValidationError("give one accuracy per simulated annotator, e.g. --accuracy 0.9,0.8,0.4")
    for accuracy in options.accuracies:
        if not 0.0 <= accuracy <= 1.0:
            raise ValidationError(f"accuracy {accuracy!r} must be between 0 and 1")
    home = resolve_home(settings, home)
    registry = registry or shipped_registry()
    scheme = registry[options.scheme]
    project = project_repo.get(session, options.project)
    simulated = list(session.scalars(select(Annotator).where(Annotator.simulated.is_(True)).order_by(Annotator.id)))
    while len(simulated) < len(options.accuracies):
        n = len(simulated) + 1
        login = add_annotator(session, settings, f"simulated-{n:02d}@example.org", project.languages or [],
                              simulated=True, home=home)
        simulated.append(session.scalar(select(Annotator).where(Annotator.pseudonym == login.pseudonym)))  # type: ignore[arg-type]
    chosen = simulated[: len(options.accuracies)]
    for annotator in chosen:  # simulated annotators answer in whatever language a project they simulate is in
        wanted = list(dict.fromkeys([*(annotator.languages or []), *(project.languages or [])]))
        if annotator.languages and wanted != list(annotator.languages):
            annotator.languages = wanted
    pushed = push(session, settings, PushOptions(
        project=project.name, scheme=scheme.name, k=options.k or len(chosen), size=options.size,
        language=options.language, annotators=tuple(a.pseudonym for a in chosen), seed=options.seed,
    ), home=home, registry=registry, on_progress=on_progress)
    records = home.state().load()
    submitted = already = 0
    for index, (annotator, accuracy) in enumerate(zip(chosen, options.accuracies)):
        rng = random.Random(f"{options.seed}:{annotator.pseudonym}")
        instance = records[annotator.pseudonym]
        if not instance.user_token:
            raise NotFoundError(f"simulated annotator {annotator.pseudonym} has no API token on record")
        with in_use(home, instance) as running:
            counts = _answer(session, options, scheme, project, annotator, accuracy, rng, running, on_progress)
        submitted += counts[0]
        already += counts[1]
    return SimulateResult(tuple(a.pseudonym for a in chosen), pushed, submitted, already)


def _answer(session: Session, options: SimulateOptions, scheme: Any, project: Any, annotator: Annotator,
            accuracy: float, rng: random.Random, instance: ls.LabelStudioInstance,
            on_progress: Progress | None) -> tuple[int, int]:
    """One simulated annotator answers their open tasks in their (running) instance; (submitted, already done)."""
    submitted = already = 0
    admin = admin_client(instance)
    user = admin.as_user(instance.user_token)
    tasks = list(session.scalars(select(Task).join(AnnotationBatch, AnnotationBatch.id == Task.batch_id).where(
        Task.annotator_id == annotator.id, Task.kind == TaskKind.ANNOTATION,
        AnnotationBatch.project_id == project.id, AnnotationBatch.scheme == scheme.name).order_by(Task.id)))
    answered: set[int] = set()
    for ls_project in sorted({t.ls_project_id for t in tasks}):
        answered |= {a.task_id for a in admin.annotations(ls_project)}
    for done, task in enumerate(tasks, start=1):
        if task.ls_task_id in answered:
            already += 1
            continue
        item = session.get(Item, task.item_id)
        fallback = {f.name: text for f in scheme.fields if f.kind is ValueKind.FREE_TEXT and item
                    and (text := item.ocr_text if f.predictor == "ocr" else item.text)}
        values = simulated_answers(scheme, dict(item.reference or {}) if item else {}, accuracy, rng, fallback)
        values = {k: v for k, v in values.items() if v != "" or scheme.field(k).kind is not ValueKind.FREE_TEXT}
        media = media_file(item)[0] if item else MediaKind.AUDIO
        user.create_annotation(task.ls_task_id, result_from_values(scheme, values, media.value),
                               lead_time_s=simulated_lead_time(scheme, rng, options.median_seconds_per_field))
        submitted += 1
        if on_progress:
            on_progress(f"simulate {annotator.pseudonym}", done, len(tasks))
    return submitted, already
