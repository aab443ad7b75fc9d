"""Release versions: finding recorded releases and choosing the next version."""

from __future__ import annotations

import re

from sqlalchemy import select
from sqlalchemy.orm import Session

from backend.db.models import Project, Release
from backend.domain import NotFoundError
from backend.repositories import projects as project_repo

_SEMVER = re.compile(r"^(\d+)\.(\d+)\.(\d+)$")
FIRST_VERSION = "1.0.0"


def next_version(session: Session, project: Project) -> str:
    """``1.0.0`` for a first release, then the latest semantic version with its minor bumped
    (versions that are not ``MAJOR.MINOR.PATCH`` are ignored)."""
    versions = session.scalars(select(Release.version).where(Release.project_id == project.id))
    parsed = sorted(tuple(int(x) for x in m.groups()) for v in versions if (m := _SEMVER.match(v)))
    if not parsed:
        return FIRST_VERSION
    major, minor, _ = parsed[-1]
    return f"{major}.{minor + 1}.0"


def find_release(session: Session, project: Project, version: str) -> Release | None:
    """The recorded release ``version`` of a project, if any."""
    return session.scalar(select(Release).where(Release.project_id == project.id, Release.version == version))


def latest_release(session: Session, project: Project) -> Release | None:
    """The project's most recently recorded release, if any."""
    return session.scalar(select(Release).where(Release.project_id == project.id).order_by(Release.id.desc()).limit(1))


def get_release(session: Session, project: str | int, version: str | None = None) -> Release:
    """A recorded release (the latest when ``version`` is not given); ``NotFoundError`` naming
    the releases there are and how to build one."""
    project = project_repo.get(session, project)
    release = find_release(session, project, version) if version is not None else latest_release(session, project)
    if release is None:
        known = ", ".join(session.scalars(select(Release.version).where(Release.project_id == project.id))) or "none yet"
        wanted = f"release {version!r}" if version else "release"
        raise NotFoundError(f"project {project.name!r} has no {wanted} (releases: {known}); build one with `mmcurate export hf --project {project.name}`")
    return release
