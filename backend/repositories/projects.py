"""Project queries."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from backend.db.models import Project
from backend.domain import NotFoundError


def get_by_name(session: Session, name: str) -> Project:
    project = session.scalar(select(Project).where(Project.name == name))
    if project is None:
        known = ", ".join(session.scalars(select(Project.name).order_by(Project.name).limit(10))) or "none yet"
        raise NotFoundError(f"no project named {name!r} (known: {known}); create it with `mmcurate project create {name}`")
    return project


def get_by_id(session: Session, project_id: int) -> Project:
    project = session.get(Project, project_id)
    if project is None:
        raise NotFoundError(f"no project with id {project_id}")
    return project


def get(session: Session, name_or_id: str | int) -> Project:
    """A project by name, or by id when given an int or a string of digits that names no project."""
    if isinstance(name_or_id, int):
        return get_by_id(session, name_or_id)
    found = session.scalar(select(Project).where(Project.name == name_or_id))
    if found is not None:
        return found
    if name_or_id.isdigit():
        return get_by_id(session, int(name_or_id))
    return get_by_name(session, name_or_id)


def list_page(session: Session, *, offset: int = 0, limit: int = 100) -> tuple[list[Project], int]:
    total = session.scalar(select(func.count()).select_from(Project)) or 0
    rows = list(session.scalars(select(Project).order_by(Project.id).offset(offset).limit(limit)))
    return rows, total
