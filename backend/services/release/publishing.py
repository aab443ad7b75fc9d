"""`mmcurate release publish | list`: recorded releases, and pushing one to a Hub.

A release holding items of a source taken down since it was built is never published
(``refuse_taken_down``, checked before any network call).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from backend.db.models import Release
from backend.domain import ConflictError, NotFoundError, Progress
from backend.repositories import projects as project_repo
from backend.services.release.versions import get_release
from backend.services.takedown import taken_down_sources_in
from exports.manifest import MANIFEST_NAME


def refuse_taken_down(session: Session, release: Release, project_name: str) -> None:
    """A ``ConflictError`` naming every taken-down source with items in ``release``."""
    sources = taken_down_sources_in(session, release.id)
    if sources:
        named = "; ".join(f"source {s.id} {s.title!r} ({s.uri})" if s.title else f"source {s.id} ({s.uri})" for s in sources)
        raise ConflictError(
            f"release {release.version} of {project_name!r} holds items of taken-down sources: {named}; it will not be "
            f"published — build a new release without them (`mmcurate export hf --project {project_name}`) and publish that"
        )


def list_releases(session: Session, project: str | int) -> list[dict[str, Any]]:
    """Every recorded release of a project, oldest first, with where it was published and the
    ids of taken-down sources it still holds (such a release is not published again)."""
    project = project_repo.get(session, project)
    releases = list(session.scalars(select(Release).where(Release.project_id == project.id).order_by(Release.id)))
    return [
        {"id": r.id, "version": r.version, "path": r.path, "items": (r.manifest or {}).get("inputs", {}).get("items"),
         "published_repo": r.published_repo, "published_revision": r.published_revision, "created_at": r.created_at,
         "taken_down_sources": [s.id for s in taken_down_sources_in(session, r.id)]}
        for r in releases
    ]


def publish(session: Session, project: str | int, repo_id: str, *, version: str | None = None, private: bool = True,
            on_progress: Progress | None = None) -> dict[str, Any]:
    """Push a recorded release to a Hub repository and remember where it went.

    Refused before any network call when the release holds items of a source taken down
    since it was built (``refuse_taken_down``), or when its folder is gone or now holds
    another version.
    """
    from exports.hub import publish_release

    project_name = project_repo.get(session, project).name
    release = get_release(session, project_name, version)
    refuse_taken_down(session, release, project_name)
    if not release.path or not Path(release.path).is_dir():
        raise NotFoundError(
            f"release {release.version} was built at {release.path!r}, which no longer exists; rebuild it with "
            f"`mmcurate export hf --project {project_name} --version {release.version}`"
        )
    manifest_path = Path(release.path) / MANIFEST_NAME
    on_disk = json.loads(manifest_path.read_text(encoding="utf-8")).get("version") if manifest_path.is_file() else None
    if on_disk != release.version:
        raise ConflictError(
            f"{release.path} now holds release {on_disk!r}, not {release.version}; rebuild it with "
            f"`mmcurate export hf --project {project_name} --version {release.version} --out DIR` or publish {on_disk}"
        )
    result = publish_release(Path(release.path), repo_id, private=private, on_progress=on_progress)
    release.published_repo = repo_id
    release.published_revision = result.commit_oid
    session.flush()
    return {"project": project_name, "version": release.version, "repo": repo_id, "tag": result.tag,
            "commit": result.commit_oid, "created": result.created, "url": result.url}
