"""`mmcurate ingest ytdlp|urls|manifest`: media from the web (and manifests of files), with provenance."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from backend.cli.context import db_session, settings
from backend.cli.output import progress_bar
from backend.services.speech import remote
from backend.services.speech.remote import RemoteIngestReport
from ingest.sources.ytdlp import FetchOptions, parse_rate_limit

ProjectOpt = Annotated[str, typer.Option("--project", help="Project name or id.")]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print the summary as one JSON object.")]
VideoOpt = Annotated[bool, typer.Option("--video", help="Keep the video track too (best video + best audio); default: best audio only.")]
RateLimitOpt = Annotated[str | None, typer.Option("--rate-limit", help="At most this many bytes per second per download, e.g. 500K or 1M.")]
RetriesOpt = Annotated[int, typer.Option("--retries", min=0, max=100, help="Retries of each download and of each HLS/DASH fragment.")]
CookiesOpt = Annotated[Path | None, typer.Option("--cookies", help="Netscape cookies file for media that needs a login (as yt-dlp --cookies).")]
ArchiveOpt = Annotated[bool, typer.Option("--archive/--no-archive", help="Use the project's yt-dlp download archive, so a re-run skips what was fetched.")]


def _options(video: bool, rate_limit: str | None, retries: int, cookies: Path | None,
             limit: int | None = None) -> FetchOptions:
    return FetchOptions(video=video, rate_limit_bytes=parse_rate_limit(rate_limit) if rate_limit else None,
                        retries=retries, cookies=cookies, max_entries=limit)


def _report(report: RemoteIngestReport, as_json: bool) -> None:
    if as_json:
        typer.echo(json.dumps(report.as_json(), ensure_ascii=False))
    else:
        archived = f" ({report.from_archive} skipped by the download archive)" if report.from_archive else ""
        typer.echo(f"{len(report.added)} new sources, {len(report.already_registered)} already registered{archived}, "
                   f"{len(report.skipped)} skipped by the licence policy, {len(report.failed)} failed")
    for where, reason in report.skipped:
        typer.echo(f"skipped {where}: {reason}", err=True)
    for where, reason in report.failed:
        typer.echo(f"failed {where}: {reason}", err=True)


def register(ingest_app: typer.Typer) -> None:
    @ingest_app.command("ytdlp")
    def ingest_ytdlp(
        urls: Annotated[list[str], typer.Argument(help="Video or audio page URLs, playlists, channels, feeds, or ytsearchN:QUERY.")],
        project: ProjectOpt,
        video: VideoOpt = False,
        cookies: CookiesOpt = None,
        rate_limit: RateLimitOpt = None,
        retries: RetriesOpt = 3,
        limit: Annotated[int | None, typer.Option("--limit", min=1, help="At most this many entries of each playlist, channel or search.")] = None,
        archive: ArchiveOpt = True,
        as_json: JsonOpt = False,
    ) -> None:
        """Fetch media through yt-dlp: one source per video, its licence checked against the project's policy first.

        Entries whose licence the policy does not allow are recorded as skipped (not downloaded);
        entries that cannot be fetched are recorded as failed with the reason; `sources list` shows both.

        Example: mmcurate ingest ytdlp "https://www.youtube.com/@channel/videos" "ytsearch5:tamil movie review" --project demo --limit 20
        """
        with db_session() as session, progress_bar("ytdlp") as on_progress:
            report = remote.ingest_ytdlp(session, settings(), project, urls,
                                         options=_options(video, rate_limit, retries, cookies, limit),
                                         archive=archive, on_progress=on_progress)
        _report(report, as_json)

    @ingest_app.command("urls")
    def ingest_urls(
        file: Annotated[Path, typer.Argument(help="Text file: one http(s) media URL per line; # comments and blank lines skipped.")],
        project: ProjectOpt,
        video: VideoOpt = False,
        cookies: CookiesOpt = None,
        rate_limit: RateLimitOpt = None,
        retries: RetriesOpt = 3,
        archive: ArchiveOpt = True,
        as_json: JsonOpt = False,
    ) -> None:
        """Fetch every media URL of a list (direct files, HLS playlists, pages with audio/video): one source each.

        A dead URL, a page without media or a truncated download is recorded as a failed source with the
        reason and the others go on; a line that is not a URL refuses the file, naming the line.

        Example: mmcurate ingest urls talks.txt --project demo
        """
        with db_session() as session, progress_bar("urls") as on_progress:
            report = remote.ingest_urls(session, settings(), project, file,
                                        options=_options(video, rate_limit, retries, cookies),
                                        archive=archive, on_progress=on_progress)
        _report(report, as_json)

    @ingest_app.command("manifest")
    def ingest_manifest(
        file: Annotated[Path, typer.Argument(help="CSV, TSV or JSONL: url or path, title, author, licence, language, num_speakers, labels, ...")],
        project: ProjectOpt,
        format: Annotated[str | None, typer.Option("--format", help="csv, tsv or jsonl (default: from the suffix).")] = None,
        video: VideoOpt = False,
        cookies: CookiesOpt = None,
        rate_limit: RateLimitOpt = None,
        retries: RetriesOpt = 3,
        archive: ArchiveOpt = True,
        as_json: JsonOpt = False,
    ) -> None:
        """Register the media a manifest lists, with the metadata of each row (licence, language, speaker counts, labels).

        URLs are fetched as `ingest urls` does, paths registered in place; a row's language and speaker
        counts reach the ASR and diarize stages. A malformed row refuses the file, every bad line named.

        Example: mmcurate ingest manifest sources.csv --project demo
        """
        with db_session() as session, progress_bar("manifest") as on_progress:
            report = remote.ingest_manifest(session, settings(), project, file, format=format,
                                            options=_options(video, rate_limit, retries, cookies),
                                            archive=archive, on_progress=on_progress)
        _report(report, as_json)
