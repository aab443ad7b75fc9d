"""Taking a source down: it leaves every later release, no release holding it is published
again, and the curator learns which past releases (and Hub revisions) still hold it.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import ColumnElement, or_, select
from sqlalchemy.orm import Session

from backend.db.models import Project, Release, ReleaseItem, Source
from backend.domain import NotFoundError, SourceStatus


def is_taken_down(source: Source) -> bool:
    """Whether a source was taken down (its time is set, or its status says so)."""
    return source.taken_down_at is not None or source.status == SourceStatus.TAKEN_DOWN


def _taken_down_clause() -> ColumnElement[bool]:
    return or_(Source.taken_down_at.is_not(None), Source.status == SourceStatus.TAKEN_DOWN)


def taken_down_sources_in(session: Session, release_id: int) -> list[Source]:
    """The taken-down sources with items in a recorded release, by id."""
    return list(session.scalars(
        select(Source)
        .where(_taken_down_clause(), Source.id.in_(select(ReleaseItem.source_id).where(ReleaseItem.release_id == release_id)))
        .order_by(Source.id)
    ))


@dataclass(frozen=True)
class TakedownResult:
    """A source taken down, and the past releases that contained items of it.

    Each release is ``{release_id, version, items, path, published_repo, published_revision}``;
    a published one stays on the Hub at that revision until its tag or repository is removed.
    """

    source_id: int
    project: str
    uri: str
    taken_down_at: datetime
    already: bool
    releases: tuple[dict[str, Any], ...]

    @property
    def published(self) -> tuple[dict[str, Any], ...]:
        """The past releases that were pushed to a Hub."""
        return tuple(r for r in self.releases if r["published_repo"])

    def to_dict(self) -> dict[str, Any]:
        return {"source_id": self.source_id, "project": self.project, "uri": self.uri,
                "taken_down_at": self.taken_down_at.isoformat(), "already_taken_down": self.already,
                "releases": list(self.releases)}


def releases_holding(session: Session, source_id: int) -> tuple[dict[str, Any], ...]:
    """The recorded releases with items of a source, oldest first, with where they were published."""
    counts: dict[int, int] = defaultdict(int)
    for release_id in session.scalars(select(ReleaseItem.release_id).where(ReleaseItem.source_id == source_id)):
        counts[release_id] += 1
    return tuple(
        {"release_id": r.id, "version": r.version, "items": counts[r.id], "path": r.path,
         "published_repo": r.published_repo, "published_revision": r.published_revision}
        for r in session.scalars(select(Release).where(Release.id.in_(list(counts))).order_by(Release.id))
    )


def takedown(session: Session, source_id: int, *, reason: str | None = None) -> TakedownResult:
    """Exclude a source from every future release; list the past releases that contained it.

    Idempotent: a second takedown changes nothing and reports the first one's time.
    """
    source = session.get(Source, source_id)
    if source is None:
        raise NotFoundError(f"no source with id {source_id}; see `mmcurate sources list --project P`")
    project = session.get(Project, source.project_id)
    already = source.taken_down_at is not None
    if not already:
        source.taken_down_at = datetime.now(UTC)
        source.status = SourceStatus.TAKEN_DOWN
        source.extra = {**(source.extra or {}), "takedown_reason": reason} if reason else source.extra
        session.flush()
    taken = source.taken_down_at
    if taken.tzinfo is None:
        taken = taken.replace(tzinfo=UTC)
    return TakedownResult(source.id, project.name if project else "?", source.uri, taken, already,
                          releases_holding(session, source.id))
