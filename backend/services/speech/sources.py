"""Sources of the speech pipeline: a folder of media registered as sources, and sources listed
with their stage runs."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlparse

from sqlalchemy import select
from sqlalchemy.orm import Session

from backend.db.models import MediaAsset, Source, StageRun
from backend.domain import Progress, SourceKind, SourceStatus, SubjectType
from backend.repositories import projects as project_repo
from backend.repositories import sources as source_repo
from ingest.sources.folder import scan_folder


@dataclass(frozen=True)
class IngestReport:
    added: tuple[int, ...]
    duplicates: tuple[int, ...]
    failed: tuple[tuple[str, str], ...]  # (path, reason) of files that could not be registered


def ingest_folder(session: Session, project: str | int, folder: Path | str,
                  on_progress: Progress | None = None) -> IngestReport:
    """Register every audio/video file under ``folder`` as a source; the same content twice is one source."""
    project = project_repo.get(session, project)
    added: list[int] = []
    duplicates: list[int] = []
    failed: list[tuple[str, str]] = []
    found_media = scan_folder(folder, on_progress)
    found_media.sort(key=lambda f: (f.sidecar is None, str(f.path)))  # of identical copies, keep the documented one
    for found in found_media:
        if found.provenance is None:
            failed.append((str(found.path), found.error or "unreadable"))
            continue
        prov = found.provenance
        existing = session.scalar(select(Source).where(Source.project_id == project.id,
                                                       Source.content_hash == prov.content_hash))
        if existing is not None:
            duplicates.append(existing.id)
            continue
        extra = dict(prov.extra)
        if found.sidecar and isinstance(found.sidecar.get("lines"), list):
            extra["reference_lines"] = found.sidecar["lines"]
        source = Source(project_id=project.id, kind=SourceKind.FILE, uri=prov.uri, title=prov.title, author=prov.author,
                        licence=prov.licence, fetched_at=prov.fetched_at, content_hash=prov.content_hash,
                        size_bytes=found.size_bytes, status=SourceStatus.REGISTERED, error=found.error, extra=extra)
        session.add(source)
        session.flush()
        added.append(source.id)
    session.commit()
    return IngestReport(tuple(added), tuple(duplicates), tuple(failed))


PROVENANCE_KEYS = ("webpage_url", "extractor", "channel", "channel_url", "upload_date", "duration", "language")
"""Provenance a source keeps in ``extra`` that its public shape shows (None when the source has none)."""


def source_as_dict(source: Source) -> dict[str, Any]:
    """The public JSON shape of a source (CLI --json and API agree): its columns, the provenance in
    :data:`PROVENANCE_KEYS` and, for a source that met the licence policy at ingest, ``licence_decision``."""
    extra = source.extra or {}
    return {
        "id": source.id, "kind": source.kind, "uri": source.uri, "title": source.title, "author": source.author,
        "licence": source.licence, "fetched_at": source.fetched_at, "content_hash": source.content_hash,
        "size_bytes": source.size_bytes, "status": source.status, "error": source.error,
        "taken_down_at": source.taken_down_at,
        **{key: extra.get(key) for key in PROVENANCE_KEYS},
        "licence_decision": extra.get("licence_decision"),
    }


def source_runs(session: Session, source: Source) -> list[dict[str, Any]]:
    """The stage-run records of a source and its prepared asset, oldest first."""
    asset_ids = list(session.scalars(select(MediaAsset.id).where(MediaAsset.source_id == source.id)))
    runs = session.scalars(select(StageRun).where(
        ((StageRun.subject_type == SubjectType.SOURCE) & (StageRun.subject_id == source.id))
        | ((StageRun.subject_type == SubjectType.ASSET) & (StageRun.subject_id.in_(asset_ids)))).order_by(StageRun.id))
    return [{"stage": r.stage, "status": r.status, "error": r.error, "model": r.model,
             "model_version": r.model_version, "config_hash": r.config_hash, "started_at": r.started_at,
             "duration_ms": r.duration_ms} for r in runs]


def list_sources(session: Session, project: str | int) -> list[Source]:
    project = project_repo.get(session, project)
    rows, _ = source_repo.list_page(session, project_id=project.id, limit=1_000_000)
    return rows


def source_page(session: Session, project: str | int, *, status: str | None = None, kind: str | None = None,
                offset: int = 0, limit: int = 100) -> tuple[list[Source], int]:
    """One page of the project's sources in id order, optionally of one status and kind; also how many match."""
    project_id = project_repo.get(session, project).id
    return source_repo.list_page(session, project_id=project_id, status=status, kind=kind, offset=offset, limit=limit)


DOWNLOADED_KINDS = (SourceKind.URL, SourceKind.YTDLP)


def has_media_file(source: Source) -> bool:
    """Whether the pipeline can read the source's media: a ``file`` source, or a download kept in the data dir."""
    return source.kind == SourceKind.FILE or (source.kind in DOWNLOADED_KINDS and bool(_local_path(source)))


def source_media_path(source: Source) -> Path:
    """The local file of a source: a download's copy in the data dir (``extra["local_path"]`` of a ``url``
    or ``ytdlp`` source), else the file a ``file`` source names (its URI is a ``file:`` URL or a plain path)."""
    if source.kind in DOWNLOADED_KINDS and (local_path := _local_path(source)):
        return Path(local_path)
    if source.uri.startswith("file:"):
        return Path(unquote(urlparse(source.uri).path))
    return Path(source.uri)


def _local_path(source: Source) -> str | None:
    return (source.extra or {}).get("local_path")
