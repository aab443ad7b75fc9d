"""Sources from the web: ``ingest ytdlp URL...``, ``ingest urls FILE`` and ``ingest manifest FILE``.

Every URL goes through one adapter, yt-dlp (``ingest.sources.ytdlp``): what a URL holds is
read first, each entry's licence is decided against the project's policy, and only the entries
that pass are downloaded. Each entry becomes one source (kind ``ytdlp`` for ``ingest ytdlp``,
``url`` for URL lists and manifest URLs, ``file`` for manifest paths) with its provenance in
``extra`` (``webpage_url``, ``extractor``, ``channel``, ``channel_url``, ``upload_date``,
``duration``, ``language``, speaker-count hints, ``labels``, ``licence_decision``,
``local_path``), so the pipeline's stages find the hints where they look (``source.extra``).

- A download is stored by content hash (``<data dir>/media/downloads/ab/abcd….ext``); the
  same content twice is one source.
- An entry skipped by the licence policy is recorded with status ``skipped`` and the reason;
  nothing is downloaded.
- An entry that cannot be fetched (404, unsupported site, not media, truncated, private,
  geo-blocked, unreachable) is recorded with status ``failed`` and a readable reason; the batch
  goes on.

A source without content (failed or skipped) is known by ``url:<sha256 of its key>`` (see
``RemoteMedia.key``), so a re-run updates the same row: a failed fetch is retried, a skipped one
decided again under the policy of the day. What was fetched is in the project's download
archive (``<data dir>/media/downloads/archives/project-<id>.txt``, yt-dlp's format), so a
re-run skips it without extracting it again; without the archive, a known key is still not
downloaded twice.
"""

from __future__ import annotations

import shutil
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from backend.db.models import Project, Source
from backend.domain import MediaError, Progress, SourceKind, SourceStatus
from backend.repositories import projects as project_repo
from backend.services.release.licences import licence_allowed
from backend.settings import Settings
from ingest import media
from ingest.sources.manifest import ManifestRow, read_manifest
from ingest.sources.urls import read_url_list
from ingest.sources.ytdlp import (
    DownloadedMedia,
    FetchFailure,
    FetchOptions,
    MediaFetcher,
    RemoteMedia,
    fetch_key_hash,
)

DOWNLOADS_FOLDER = "downloads"
NO_CONTENT_PREFIX = "url:"


@dataclass
class RemoteIngestReport:
    """What one ``ingest urls|manifest|ytdlp`` did: sources added, already there, skipped by licence, failed.

    ``skipped`` and ``failed`` hold (URL or path, reason); ``from_archive`` counts entries the
    download archive skipped without extracting them again (among ``already_registered``
    when their source is found).
    """

    kind: str
    added: list[int] = field(default_factory=list)
    already_registered: list[int] = field(default_factory=list)
    skipped: list[tuple[str, str]] = field(default_factory=list)
    failed: list[tuple[str, str]] = field(default_factory=list)
    from_archive: int = 0

    def as_json(self) -> dict[str, Any]:
        return {"kind": self.kind, "added": self.added, "already_registered": self.already_registered,
                "from_archive": self.from_archive,
                "skipped": [{"input": where, "reason": why} for where, why in self.skipped],
                "failed": [{"input": where, "reason": why} for where, why in self.failed]}


def licence_decision(licence: str | None, policy: Sequence[str], origin: str | None = None) -> dict[str, Any]:
    """Whether a source's licence passes the project's policy, and why, as ``extra["licence_decision"]`` keeps it.

    ``origin`` says where the licence came from (``metadata`` from the site, ``manifest``).

    >>> licence_decision(None, ["CC-BY-4.0"])["reason"]
    'no licence given; the project allows only CC-BY-4.0'
    """
    allowed_list = [p.strip() for p in policy if p and p.strip()]
    allowed = licence_allowed(licence, allowed_list)
    if not allowed_list:
        reason = "the project has no licence policy: every licence is allowed"
    elif allowed:
        reason = f"{licence} is one of the project's allowed licences"
    elif licence is None:
        reason = f"no licence given; the project allows only {', '.join(allowed_list)}"
    else:
        reason = f"licence {licence!r} is not among the project's allowed licences ({', '.join(allowed_list)})"
    return {"allowed": allowed, "reason": reason, "policy": allowed_list, "licence": licence, "from": origin}


def archive_path(settings: Settings, project: Project) -> Path:
    """The project's yt-dlp download archive."""
    return settings.media_dir / DOWNLOADS_FOLDER / "archives" / f"project-{project.id}.txt"


def ingest_ytdlp(session: Session, settings: Settings, project: str | int, urls: Sequence[str], *,
                 options: FetchOptions = FetchOptions(), archive: bool = True,
                 on_progress: Progress | None = None) -> RemoteIngestReport:
    """Fetch what each of ``urls`` holds through yt-dlp (videos, playlists, channels, ``ytsearchN:`` queries)."""
    run = _Run(session, settings, project, SourceKind.YTDLP)
    with run.fetcher(options, archive) as fetcher:
        for done, url in enumerate(urls, start=1):
            run.fetch(fetcher, url.strip(), None)
            if on_progress:
                on_progress("urls", done, len(urls))
    return run.report


def ingest_urls(session: Session, settings: Settings, project: str | int, file: Path | str, *,
                options: FetchOptions = FetchOptions(), archive: bool = True,
                on_progress: Progress | None = None) -> RemoteIngestReport:
    """Fetch every URL of a list file (``ingest.sources.urls``); a bad line refuses the file before any fetch."""
    listed = read_url_list(file)
    run = _Run(session, settings, project, SourceKind.URL)
    with run.fetcher(options, archive) as fetcher:
        for done, entry in enumerate(listed, start=1):
            run.fetch(fetcher, entry.url, None)
            if on_progress:
                on_progress("urls", done, len(listed))
    return run.report


def ingest_manifest(session: Session, settings: Settings, project: str | int, file: Path | str, *,
                    format: str | None = None, options: FetchOptions = FetchOptions(), archive: bool = True,
                    on_progress: Progress | None = None) -> RemoteIngestReport:
    """Register every row of a manifest (``ingest.sources.manifest``): URLs fetched, paths registered in place;
    a malformed row refuses the whole file before anything is fetched."""
    rows = read_manifest(file, format=format)
    run = _Run(session, settings, project, SourceKind.URL, manifest=Path(file).name)
    with run.fetcher(options, archive) as fetcher:
        for done, row in enumerate(rows, start=1):
            if row.url is not None:
                run.fetch(fetcher, row.url, row)
            else:
                run.register_file(row)
            if on_progress:
                on_progress("rows", done, len(rows))
    return run.report


class _Run:
    """One ingest: the project, its policy, its remote sources by key and archive id, and the report."""

    def __init__(self, session: Session, settings: Settings, project: str | int, kind: SourceKind,
                 manifest: str | None = None) -> None:
        self.session, self.settings, self.kind, self.manifest = session, settings, kind, manifest
        self.project = project_repo.get(session, project)
        self.policy = list(self.project.allowed_licences or [])
        self.report = RemoteIngestReport(kind=kind.value if manifest is None else "manifest")
        self.by_key: dict[str, Source] = {}
        self.by_archive_id: dict[str, Source] = {}
        for source in session.scalars(select(Source).where(Source.project_id == self.project.id)
                                      .order_by(Source.id)):
            extra = source.extra or {}
            if extra.get("fetch_key"):
                self.by_key.setdefault(extra["fetch_key"], source)
            if extra.get("archive_id"):
                self.by_archive_id.setdefault(extra["archive_id"], source)

    def fetcher(self, options: FetchOptions, archive: bool) -> MediaFetcher:
        downloads = self.settings.media_dir / DOWNLOADS_FOLDER
        return MediaFetcher(replace(options, archive=archive_path(self.settings, self.project) if archive else None),
                            downloads / ".work")

    def fetch(self, fetcher: MediaFetcher, url: str, row: ManifestRow | None) -> None:
        """Everything ``url`` holds: each entry registered, skipped by licence, or recorded as failed."""
        found = list(fetcher.discover(url))
        if fetcher.archive is not None:
            for archive_id in fetcher.archive.take_skipped():
                self.report.from_archive += 1
                source = self.by_archive_id.get(archive_id)
                if source is not None:
                    self._already(source)
        for entry in found:
            title = row.title if row is not None and len(found) == 1 else None  # a row's title names one media
            if isinstance(entry, FetchFailure):
                self._no_content(entry.key, SourceStatus.FAILED, entry.reason, title=title or entry.title, row=row)
                continue
            known = self.by_key.get(entry.key)
            if known is not None and not known.content_hash.startswith(NO_CONTENT_PREFIX):
                self._already(known)
                continue
            self._entry(fetcher, entry, row, title)

    def _already(self, source: Source) -> None:
        if source.id not in self.report.already_registered:
            self.report.already_registered.append(source.id)

    def _entry(self, fetcher: MediaFetcher, entry: RemoteMedia, row: ManifestRow | None, title: str | None) -> None:
        given_licence = row.licence if row is not None else None
        licence = given_licence or entry.licence
        origin = "manifest" if given_licence else "metadata" if entry.licence else None
        decision = licence_decision(licence, self.policy, origin)
        described = {"title": title or entry.title, "author": (row.author if row else None) or entry.author,
                     "licence": licence, "extra": self._extra(entry.provenance(), row, decision, entry.key)}
        if not decision["allowed"]:
            self._no_content(entry.key, SourceStatus.SKIPPED, decision["reason"], described=described)
            return
        try:
            downloaded = fetcher.download(entry)
        except MediaError as exc:
            self._no_content(entry.key, SourceStatus.FAILED, str(exc), described=described)
            return
        self._downloaded(fetcher, entry, downloaded, described)

    def _downloaded(self, fetcher: MediaFetcher, entry: RemoteMedia, downloaded: DownloadedMedia,
                    described: dict[str, Any]) -> None:
        placeholder = self.by_key.get(entry.key)
        same = self.session.scalar(select(Source).where(Source.project_id == self.project.id,
                                                        Source.content_hash == downloaded.sha256))
        if same is not None:  # the same content came from another URL (or file) before
            if placeholder is not None and placeholder is not same:
                self.session.delete(placeholder)
                del self.by_key[entry.key]
            self.session.commit()
            if fetcher.archive is not None:
                fetcher.archive.confirm(entry.archive_id)
            self._already(same)
            return
        stored = store_download(self.settings, downloaded)
        if duration := downloaded.info.duration:
            described["extra"].setdefault("duration", round(duration, 3))
        described["extra"]["local_path"] = str(stored)
        source = self._save(entry.key, content_hash=downloaded.sha256, status=SourceStatus.REGISTERED, error=None,
                            size_bytes=downloaded.size_bytes, **described)
        if fetcher.archive is not None:
            fetcher.archive.confirm(entry.archive_id)
        self.report.added.append(source.id)

    def _no_content(self, key: str, status: SourceStatus, reason: str, *, title: str | None = None,
                    row: ManifestRow | None = None, described: dict[str, Any] | None = None) -> None:
        """A failed or skipped entry, kept on record with its reason (updating its earlier record, if any)."""
        (self.report.skipped if status == SourceStatus.SKIPPED else self.report.failed).append((key, reason))
        known = self.by_key.get(key)
        if known is not None and not known.content_hash.startswith(NO_CONTENT_PREFIX):
            return  # fetched before: that source stands; this run's failure is only reported
        if described is None:
            described = {"title": title or (row.title if row else None), "author": row.author if row else None,
                         "licence": row.licence if row else None,
                         "extra": self._extra({}, row, None, key)}
        self._save(key, content_hash=fetch_key_hash(key), status=status, error=reason, size_bytes=None, **described)

    def _save(self, key: str, **columns: Any) -> Source:
        source = self.by_key.get(key)
        if source is None:
            source = Source(project_id=self.project.id)
            self.session.add(source)
        for name, value in {"kind": self.kind.value, "uri": key, "fetched_at": datetime.now(timezone.utc),
                            **columns}.items():
            setattr(source, name, value)
        self.session.commit()
        self.by_key[key] = source
        if source.extra.get("archive_id"):
            self.by_archive_id[source.extra["archive_id"]] = source
        return source

    def _extra(self, provenance: dict[str, Any], row: ManifestRow | None, decision: dict[str, Any] | None,
               key: str | None) -> dict[str, Any]:
        """What a source keeps beyond its columns; a manifest row's hints win over the site's."""
        extra: dict[str, Any] = {**({"fetch_key": key} if key else {}), **provenance}
        if row is not None:
            extra.update(row.hints())
            extra.update({"manifest": self.manifest, "manifest_line": row.line})
            if row.labels is not None:
                extra["labels"] = row.labels
            if row.metadata:
                extra["metadata"] = row.metadata
        if decision is not None:
            extra["licence_decision"] = decision
        return extra

    def register_file(self, row: ManifestRow) -> None:
        """A manifest row naming a local file: registered in place (kind ``file``), as ``ingest folder`` does."""
        assert row.path is not None
        try:
            digest = media.file_sha256(row.path)
        except OSError as exc:
            self.report.failed.append((str(row.path), f"cannot be read ({exc.strerror})"))
            return
        decision = licence_decision(row.licence, self.policy, "manifest" if row.licence else None)
        status = SourceStatus.REGISTERED if decision["allowed"] else SourceStatus.SKIPPED
        existing = self.session.scalar(select(Source).where(Source.project_id == self.project.id,
                                                            Source.content_hash == digest))
        if existing is not None and existing.status != SourceStatus.SKIPPED:
            self._already(existing)
            return
        source = existing or Source(project_id=self.project.id, content_hash=digest)
        source.kind, source.uri = SourceKind.FILE.value, row.path.as_uri()
        source.title, source.author, source.licence = row.title or row.path.stem, row.author, row.licence
        source.fetched_at, source.size_bytes = datetime.now(timezone.utc), row.path.stat().st_size
        source.status, source.error = status, None if decision["allowed"] else decision["reason"]
        source.extra = {"suffix": row.path.suffix.lower(), **self._extra({}, row, decision, None)}
        if existing is None:
            self.session.add(source)
        self.session.commit()
        if decision["allowed"]:
            self.report.added.append(source.id)
        else:
            self.report.skipped.append((str(row.path), decision["reason"]))


def store_download(settings: Settings, downloaded: DownloadedMedia) -> Path:
    """Move a checked download to its place by content hash (``media/downloads/ab/abcd….ext``); kept if there."""
    target = media.content_path(settings.media_dir / DOWNLOADS_FOLDER, downloaded.sha256, downloaded.suffix)
    if target.is_file():
        downloaded.path.unlink(missing_ok=True)
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.move(str(downloaded.path), target)
    return target
