"""Create, list, change and remove projects (corpora)."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from backend.db.models import (Adjudication, AggregatedLabelRow, Annotation, Item, Project, Release, ReleaseItem,
                               Task)
from backend.domain import ConflictError, SpeakerCountHint, ValidationError
from backend.repositories import projects as project_repo
from backend.services.text import apply_text_profile

_LANGUAGE_CODE = re.compile(r"^[a-z]{2,3}(-[A-Za-z0-9]{2,8})*$")
_PROJECT_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\- ]{0,199}$")


@dataclass(frozen=True)
class ProjectSpec:
    """What a user gives to create or change a project."""

    name: str
    languages: tuple[str, ...] = ()
    schemes: tuple[str, ...] = ()
    allowed_licences: tuple[str, ...] = ()
    description: str | None = None
    han_target: str | None = None  # Chinese normalised to "simplified" or "traditional"; None keeps it as written
    allow_romanized: bool = False  # keep transcripts in Latin script for a language with its own script
    speakers: SpeakerCountHint = SpeakerCountHint()  # how many people speak in its recordings, when known


@dataclass(frozen=True)
class ProjectChanges:
    name: str | None = None
    languages: tuple[str, ...] | None = None
    schemes: tuple[str, ...] | None = None
    allowed_licences: tuple[str, ...] | None = None
    description: str | None = None
    han_target: str | None = None
    allow_romanized: bool | None = None
    speakers: SpeakerCountHint | None = None  # replaces the project's hint as a whole (empty clears it)
    fields_set: frozenset[str] = field(default_factory=frozenset)


def validate_name(name: str) -> str:
    name = name.strip()
    if not _PROJECT_NAME.match(name):
        raise ValidationError(
            f"project name {name!r} is not allowed: use 1-200 letters, digits, spaces, '.', '_' or '-', "
            "starting with a letter or digit"
        )
    return name


def validate_languages(languages: tuple[str, ...] | list[str]) -> tuple[str, ...]:
    """ISO 639 codes (e.g. ta, ml, bn, zh, en), lower-case, no duplicates."""
    cleaned: list[str] = []
    for raw in languages:
        code = raw.strip()
        if not code:
            continue
        if not _LANGUAGE_CODE.match(code):
            raise ValidationError(
                f"language {raw!r} is not an ISO 639 code; use codes such as ta, ml, bn, zh, en"
            )
        if code not in cleaned:
            cleaned.append(code)
    return tuple(cleaned)


def validate_han_target(value: str | None) -> str | None:
    """``simplified``, ``traditional`` or None (Chinese kept as written)."""
    if value is None or not value.strip() or value.strip().lower() in ("none", "as-written"):
        return None
    cleaned = value.strip().lower()
    if cleaned not in ("simplified", "traditional"):
        raise ValidationError(f"Chinese normalisation {value!r} is not known; use simplified, traditional or none")
    return cleaned


def _clean_list(values: tuple[str, ...] | list[str]) -> tuple[str, ...]:
    cleaned: list[str] = []
    for value in values:
        value = value.strip()
        if value and value not in cleaned:
            cleaned.append(value)
    return tuple(cleaned)


def create_project(session: Session, spec: ProjectSpec) -> Project:
    name = validate_name(spec.name)
    if session.scalar(select(Project.id).where(Project.name == name)) is not None:
        raise ConflictError(f"a project named {name!r} already exists")
    project = Project(
        name=name,
        description=spec.description,
        languages=list(validate_languages(spec.languages)),
        schemes=list(_clean_list(spec.schemes)),
        allowed_licences=list(_clean_list(spec.allowed_licences)),
        han_target=validate_han_target(spec.han_target),
        allow_romanized=spec.allow_romanized,
    )
    set_speaker_hint(project, spec.speakers)
    session.add(project)
    session.flush()
    return project


def ensure_project(session: Session, spec: ProjectSpec) -> tuple[Project, bool]:
    """The project named in ``spec``, created if missing; the bool says whether it was created."""
    existing = session.scalar(select(Project).where(Project.name == spec.name.strip()))
    if existing is not None:
        return existing, False
    return create_project(session, spec), True


def get_project(session: Session, project: str | int) -> Project:
    """A project by name, or by id (an int, or a string of digits that names no project)."""
    return project_repo.get(session, project)


def update_project(session: Session, project: str | int, changes: ProjectChanges) -> Project:
    """Apply the fields of ``changes`` that were given (``fields_set``) to the project named or numbered ``project``."""
    project = get_project(session, project)
    if "name" in changes.fields_set and changes.name is not None:
        name = validate_name(changes.name)
        clash = session.scalar(select(Project.id).where(Project.name == name, Project.id != project.id))
        if clash is not None:
            raise ConflictError(f"a project named {name!r} already exists")
        project.name = name
    if "languages" in changes.fields_set and changes.languages is not None:
        project.languages = list(validate_languages(changes.languages))
    if "schemes" in changes.fields_set and changes.schemes is not None:
        project.schemes = list(_clean_list(changes.schemes))
    if "allowed_licences" in changes.fields_set and changes.allowed_licences is not None:
        project.allowed_licences = list(_clean_list(changes.allowed_licences))
    if "description" in changes.fields_set:
        project.description = changes.description
    if "allow_romanized" in changes.fields_set and changes.allow_romanized is not None:
        project.allow_romanized = changes.allow_romanized  # takes effect on the next `process` (filter stage)
    if "speakers" in changes.fields_set and changes.speakers is not None:
        set_speaker_hint(project, changes.speakers)  # takes effect on the next `process` (diarize stage)
    if "han_target" in changes.fields_set:
        target = validate_han_target(changes.han_target)
        if target != project.han_target:
            project.han_target = target
            reprofile_items(session, project)
    session.flush()
    return project


def speaker_hint(project: Project) -> SpeakerCountHint:
    """The project's speaker-count settings as a hint (empty when none are set)."""
    return SpeakerCountHint(project.num_speakers, project.min_speakers, project.max_speakers)


def set_speaker_hint(project: Project, hint: SpeakerCountHint) -> None:
    project.num_speakers, project.min_speakers, project.max_speakers = (
        hint.num_speakers, hint.min_speakers, hint.max_speakers)


def reprofile_items(session: Session, project: Project) -> int:
    """Re-derive every item's normalised text and profile (the raw text is untouched); how many."""
    count = 0
    for item in session.scalars(select(Item).where(Item.project_id == project.id, Item.text.is_not(None))):
        apply_text_profile(item, project)
        count += 1
    session.flush()
    return count


@dataclass(frozen=True)
class HumanWork:
    """What people made in a project, counted: the rows a project delete would lose."""

    annotations: int  # judgements, deleted ones included
    tasks: int
    adjudications: int
    aggregated_labels: int
    release_items: int

    @property
    def total(self) -> int:
        return self.annotations + self.tasks + self.adjudications + self.aggregated_labels + self.release_items

    def describe(self) -> str:
        parts = [(self.annotations, "judgement"), (self.adjudications, "adjudication"),
                 (self.aggregated_labels, "aggregated label"), (self.tasks, "annotation task"),
                 (self.release_items, "released item")]
        return ", ".join(f"{n} {what}{'' if n == 1 else 's'}" for n, what in parts if n)


def human_work(session: Session, project: Project) -> HumanWork:
    """Count the judgements and everything built on them that refer to the project's items."""
    items = select(Item.id).where(Item.project_id == project.id).scalar_subquery()

    def count(model: type) -> int:
        return session.scalar(select(func.count()).select_from(model).where(model.item_id.in_(items))) or 0

    return HumanWork(count(Annotation), count(Task), count(Adjudication), count(AggregatedLabelRow), count(ReleaseItem))


def delete_project(session: Session, project: str | int, *, delete_annotations: bool = False) -> HumanWork:
    """Delete the project named or numbered ``project`` and every record of it; returns what people had made in it.

    The database refuses to delete an item that carries judgements (ON DELETE RESTRICT), so
    a project with any is refused with :class:`ConflictError` saying how many, unless
    ``delete_annotations``: then the judgements (with their history), tasks, adjudications,
    aggregated labels and release records are deleted explicitly first.
    """
    project = get_project(session, project)
    work = human_work(session, project)
    if work.total and not delete_annotations:
        raise ConflictError(
            f"project {project.name!r} holds {work.describe()}; nothing deleted. Export what you want to keep "
            f"(`mmcurate annotations list --project {project.name} --json --deleted > judgements.jsonl`), then run "
            f"`mmcurate project delete {project.name} --delete-annotations` to delete them with the project"
        )
    if work.total:
        items = select(Item.id).where(Item.project_id == project.id).scalar_subquery()
        releases = select(Release.id).where(Release.project_id == project.id).scalar_subquery()
        session.execute(delete(ReleaseItem).where(ReleaseItem.item_id.in_(items) | ReleaseItem.release_id.in_(releases)))
        for model in (AggregatedLabelRow, Adjudication, Annotation, Task):  # history goes with its annotation
            session.execute(delete(model).where(model.item_id.in_(items)))
    session.delete(project)
    session.flush()
    return work


def list_projects(session: Session, *, offset: int = 0, limit: int = 100) -> tuple[list[Project], int]:
    return project_repo.list_page(session, offset=offset, limit=limit)


def project_as_dict(project: Project) -> dict[str, object]:
    """The public JSON shape of a project (CLI --json and API agree)."""
    return {
        "id": project.id,
        "name": project.name,
        "description": project.description,
        "languages": list(project.languages or []),
        "schemes": list(project.schemes or []),
        "allowed_licences": list(project.allowed_licences or []),
        "han_target": project.han_target,
        "allow_romanized": bool(project.allow_romanized),
        "speakers": speaker_hint(project).as_dict(),
        "created_at": project.created_at.isoformat() if project.created_at else None,
    }
