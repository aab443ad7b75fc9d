"""Media from the web through yt-dlp's Python API: video and audio sites, playlists, feeds, direct files.

The one adapter that fetches media over the network (``ingest urls``, ``ingest manifest`` and
``ingest ytdlp`` all come through it). A :class:`MediaFetcher` works in two steps so that a
source's licence is checked *before* anything is downloaded:

1. :meth:`MediaFetcher.discover` asks yt-dlp what a URL holds (``extract_info`` without
   downloading): one video, or the entries of a playlist, channel, search (``ytsearch5:...``),
   RSS feed or a page with several ``<audio>``/``<video>`` tags. Each entry comes back as a
   :class:`RemoteMedia` (provenance: title, channel, licence, upload date, duration, language)
   or, when it cannot be read, a :class:`FetchFailure` with a readable reason; one bad entry
   never stops the others.
2. :meth:`MediaFetcher.download` fetches one entry (best audio, or video and audio with
   ``video=True``) and checks the bytes: yt-dlp's own length checks, then ffprobe must find an
   audio stream (``ingest.media.probe``); an HTML page or text is refused as
   ``not media: text/html``. Problems raise ``MediaError`` with a readable reason.

yt-dlp's download archive (a file of ``extractor id`` lines) makes re-runs skip what was
fetched: :class:`DownloadArchive` is the set yt-dlp consults, written only for entries the
caller confirms (registered), so an entry whose download failed is tried again next time.

yt-dlp's messages are turned into readable reasons by :func:`readable_reason` (``not found
(HTTP 404)``, ``unsupported site or no media found at this URL``, ``geo-blocked: ...``,
``private or needs login: ...``, ``download incomplete: ...``, ``unreachable: ...``).
"""

from __future__ import annotations

import hashlib
import re
import shutil
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from backend.domain import MediaError, MediaInfo, ServiceUnavailableError, ValidationError
from ingest import media

AUDIO_FORMAT = "bestaudio/best"
VIDEO_FORMAT = "bestvideo*+bestaudio/best"
MAX_PLAYLIST_DEPTH = 3  # a channel's tabs hold playlists, which hold videos
NOT_INSTALLED = "yt-dlp is not installed; install mmcurate with its sources extra (pip install 'mmcurate[sources]')"


@dataclass(frozen=True)
class FetchOptions:
    """How media is fetched. ``rate_limit_bytes``: at most this many bytes per second per download;
    ``retries``: yt-dlp's retries of a download and of each HLS/DASH fragment; ``cookies``: a
    Netscape cookies file (for media that needs a login); ``archive``: the download archive
    file, None for none; ``max_entries``: at most this many entries of each playlist."""

    video: bool = False
    rate_limit_bytes: int | None = None
    retries: int = 3
    cookies: Path | None = None
    archive: Path | None = None
    max_entries: int | None = None
    socket_timeout_s: float = 30.0

    def __post_init__(self) -> None:
        if self.retries < 0:
            raise ValidationError(f"retries must be 0 or more, got {self.retries}")
        if self.rate_limit_bytes is not None and self.rate_limit_bytes <= 0:
            raise ValidationError(f"the rate limit must be positive, got {self.rate_limit_bytes} bytes/s")
        if self.max_entries is not None and self.max_entries < 1:
            raise ValidationError(f"the entry limit must be 1 or more, got {self.max_entries}")
        if self.cookies is not None and not Path(self.cookies).is_file():
            raise ValidationError(f"cookies file {self.cookies} does not exist; export one in Netscape format "
                                  "(see yt-dlp's FAQ on passing cookies)")


_RATE = re.compile(r"(\d+(?:\.\d+)?)\s*([kmgt]?)(?:i?b)?(?:/s)?", re.I)


def parse_rate_limit(text: str) -> int:
    """Bytes per second from a rate such as ``500K``, ``1M`` or ``1.5MiB`` (binary multiples, as yt-dlp's ``-r``).

    >>> parse_rate_limit("1M"), parse_rate_limit("500k")
    (1048576, 512000)
    """
    found = _RATE.fullmatch(text.strip())
    value = float(found.group(1)) * 1024 ** "_kmgt".index(found.group(2).lower() or "_") if found else 0
    if value < 1:
        raise ValidationError(f"rate limit {text!r} is not a size per second such as 500K or 1M")
    return int(value)


@dataclass(frozen=True)
class RemoteMedia:
    """One media entry found at a URL, described before it is downloaded.

    ``key`` is what the entry is known by across runs: the URL given (a single video), an
    entry's own URL (a playlist's videos, a feed's episodes), or the page's URL and the
    entry's id (``page#id``, for media embedded in a page). ``info`` is yt-dlp's record of the
    entry, handed back to :meth:`MediaFetcher.download`.
    """

    key: str
    title: str | None = None
    author: str | None = None
    channel: str | None = None
    channel_url: str | None = None
    licence: str | None = None
    upload_date: str | None = None  # ISO date
    duration_s: float | None = None
    language: str | None = None
    extractor: str | None = None
    webpage_url: str | None = None
    archive_id: str | None = None
    playlist: str | None = None
    playlist_url: str | None = None
    info: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)

    def provenance(self) -> dict[str, Any]:
        """The provenance a source keeps in ``extra`` (keys with no value left out)."""
        values = {"webpage_url": self.webpage_url, "extractor": self.extractor, "channel": self.channel,
                  "channel_url": self.channel_url, "upload_date": self.upload_date, "duration": self.duration_s,
                  "language": self.language, "archive_id": self.archive_id, "playlist": self.playlist,
                  "playlist_url": self.playlist_url}
        return {k: v for k, v in values.items() if v is not None}


@dataclass(frozen=True)
class FetchFailure:
    """An entry (or a whole URL) that could not be read, with the reason in words."""

    key: str
    reason: str
    title: str | None = None


@dataclass(frozen=True)
class DownloadedMedia:
    """A downloaded file that passed the checks: where it is (until stored), its hash, size and streams."""

    path: Path
    sha256: str
    size_bytes: int
    suffix: str
    info: MediaInfo


class DownloadArchive:
    """yt-dlp's download archive: a text file of ``extractor id`` lines, as yt-dlp's ``--download-archive``.

    Passed to yt-dlp as its archive set: yt-dlp skips an entry whose id is in it (here it is
    also remembered in :attr:`skipped`) and adds the id of every entry it downloads; those are
    written to the file only when :meth:`confirm` is called (the entry was registered), so a
    download that fails its checks is tried again by the next run.
    """

    def __init__(self, path: Path | None) -> None:
        self.path = path
        self._ids: set[str] = set()
        self.skipped: dict[str, None] = {}
        if path is not None and path.is_file():
            self._ids.update(line.strip() for line in path.read_text(encoding="utf-8").splitlines() if line.strip())

    def __contains__(self, archive_id: object) -> bool:
        found = archive_id in self._ids
        if found:
            self.skipped[archive_id] = None  # type: ignore[index]
        return found

    def __len__(self) -> int:
        return len(self._ids)

    def __iter__(self) -> Iterator[str]:
        return iter(self._ids)

    def add(self, archive_id: str) -> None:
        """Called by yt-dlp after a download; nothing is recorded until :meth:`confirm`."""

    def confirm(self, archive_id: str | None) -> None:
        """Record ``archive_id`` in the file: the entry is registered, later runs skip it."""
        if archive_id is None or archive_id in self._ids:
            return
        self._ids.add(archive_id)
        if self.path is not None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            with open(self.path, "a", encoding="utf-8") as handle:
                handle.write(archive_id + "\n")

    def take_skipped(self) -> list[str]:
        """The ids yt-dlp skipped because they are in the archive, since the last call."""
        skipped, self.skipped = list(self.skipped), {}
        return skipped


class _QuietLog:
    """yt-dlp's logger: nothing printed; warnings kept for a look when something goes wrong."""

    def __init__(self) -> None:
        self.warnings: list[str] = []

    def debug(self, message: str) -> None:
        pass

    def info(self, message: str) -> None:
        pass

    def warning(self, message: str) -> None:
        self.warnings.append(message)

    def error(self, message: str) -> None:
        pass  # the same text comes back as the DownloadError it raises


def ytdlp_params(options: FetchOptions, work_dir: Path, archive: DownloadArchive | None,
                 logger: Any = None) -> dict[str, Any]:
    """The YoutubeDL options for ``options``, downloading into ``work_dir``."""
    params: dict[str, Any] = {
        "format": VIDEO_FORMAT if options.video else AUDIO_FORMAT,
        "outtmpl": {"default": str(work_dir / "%(autonumber)s.%(ext)s")},
        "retries": options.retries,
        "fragment_retries": options.retries,
        "extractor_retries": options.retries,
        "socket_timeout": options.socket_timeout_s,
        "noplaylist": True,  # a video URL that also names a playlist (&list=) is that video only
        "extract_flat": "in_playlist",  # a playlist's entries are resolved one by one, each failing on its own
        "playlistend": options.max_entries,
        "quiet": True,
        "noprogress": True,
        "color": {"stdout": "no_color", "stderr": "no_color"},
        "cachedir": False,
        "logger": logger or _QuietLog(),
    }
    if options.rate_limit_bytes:
        params["ratelimit"] = options.rate_limit_bytes
    if options.cookies is not None:
        params["cookiefile"] = str(options.cookies)
    if archive is not None:
        params["download_archive"] = archive
    return params


class MediaFetcher:
    """yt-dlp for one ingest run: :meth:`discover` what URLs hold, :meth:`download` the entries wanted.

    Use as a context manager; downloads go into a private folder under ``work_root`` that is
    removed on exit (the caller moves each file it keeps to its place first).
    """

    def __init__(self, options: FetchOptions, work_root: Path) -> None:
        try:
            import yt_dlp
        except ImportError as exc:  # the sources extra is not installed
            raise ServiceUnavailableError(NOT_INSTALLED) from exc
        self.options = options
        work_root.mkdir(parents=True, exist_ok=True)
        self.work_dir = Path(tempfile.mkdtemp(prefix="fetch-", dir=work_root))
        self.archive = DownloadArchive(options.archive) if options.archive is not None else None
        self.log = _QuietLog()
        self.ydl = yt_dlp.YoutubeDL(ytdlp_params(options, self.work_dir, self.archive, self.log))

    def __enter__(self) -> MediaFetcher:
        return self

    def __exit__(self, *exc: object) -> None:
        self.ydl.close()
        shutil.rmtree(self.work_dir, ignore_errors=True)

    def discover(self, url: str) -> Iterator[RemoteMedia | FetchFailure]:
        """Every entry ``url`` holds (one for a video), none for what the archive already has."""
        from yt_dlp.utils import YoutubeDLError

        try:
            result = self.ydl.extract_info(url, download=False)
        except YoutubeDLError as exc:
            yield FetchFailure(url, failure_reason(exc))
            return
        if result is not None:  # None: in the download archive, skipped before extraction
            yield from self._walk(result, url, None, 0)

    def _walk(self, result: dict[str, Any], key: str, playlist: dict[str, Any] | None,
              depth: int) -> Iterator[RemoteMedia | FetchFailure]:
        kind = result.get("_type", "video")
        if kind in ("playlist", "multi_video"):
            if depth >= MAX_PLAYLIST_DEPTH:
                yield FetchFailure(key, f"playlists nested more than {MAX_PLAYLIST_DEPTH} deep; give the inner "
                                        "playlist's URL", result.get("title"))
                return
            page = result.get("webpage_url") or key
            for entry in result.get("entries") or []:
                if entry:
                    yield from self._entry(entry, result, page, depth + 1)
        elif kind == "video":
            if self.archive is not None and archive_id(result) in self.archive:
                return  # yt-dlp stopped at the archive (the id is now in archive.skipped)
            yield describe(result, key, playlist)
        else:  # a reference yt-dlp left to resolve (url, url_transparent)
            yield from self._resolve(result, key, playlist, depth + 1)

    def _entry(self, entry: dict[str, Any], playlist: dict[str, Any] | None, page: str,
               depth: int) -> Iterator[RemoteMedia | FetchFailure]:
        """One entry of a playlist whose page is ``page``, known by :func:`entry_key`."""
        yield from self._resolve(entry, entry_key(entry, page), playlist, depth)

    def _resolve(self, entry: dict[str, Any], key: str, playlist: dict[str, Any] | None,
                 depth: int) -> Iterator[RemoteMedia | FetchFailure]:
        from yt_dlp.utils import YoutubeDLError

        if depth > MAX_PLAYLIST_DEPTH + 1:
            yield FetchFailure(key, "yt-dlp kept pointing to further references; give the media's own URL")
            return
        if entry.get("_type") not in ("url", "url_transparent"):
            yield from self._walk(entry, key, playlist, depth)
            return
        try:
            resolved = self.ydl.process_ie_result(dict(entry), download=False)
        except YoutubeDLError as exc:
            yield FetchFailure(key, failure_reason(exc), entry.get("title"))
            return
        if resolved is not None:
            yield from self._walk(resolved, key, playlist, depth)

    def download(self, found: RemoteMedia) -> DownloadedMedia:
        """Fetch one entry into the work folder and check it; ``MediaError`` with a readable reason if not."""
        from yt_dlp.utils import YoutubeDLError

        try:
            done = self.ydl.process_ie_result(dict(found.info), download=True)
        except YoutubeDLError as exc:
            raise MediaError(failure_reason(exc)) from None
        paths = [Path(d["filepath"]) for d in (done or {}).get("requested_downloads") or [] if d.get("filepath")]
        if not paths or not paths[0].is_file():
            raise MediaError("download incomplete: yt-dlp wrote no file")
        path = paths[0]  # yt-dlp has compared the bytes it got with the Content-Length (and retried)
        info = check_media(path)
        return DownloadedMedia(path, media.file_sha256(path), path.stat().st_size, media_suffix(path), info)


def describe(info: dict[str, Any], key: str, playlist: dict[str, Any] | None = None) -> RemoteMedia:
    """The provenance of one yt-dlp video record (``info``), known by ``key``."""
    channel = _text(info.get("channel")) or _text(info.get("uploader"))
    return RemoteMedia(
        key=key,
        title=_text(info.get("title")),
        author=channel or _text(info.get("creator")) or _text(info.get("artist")),
        channel=channel,
        channel_url=_text(info.get("channel_url")) or _text(info.get("uploader_url")),
        licence=_text(info.get("license")),
        upload_date=iso_date(info.get("upload_date")),
        duration_s=float(info["duration"]) if isinstance(info.get("duration"), (int, float)) else None,
        language=_text(info.get("language")),
        extractor=_text(info.get("extractor_key")) or _text(info.get("extractor")),
        webpage_url=_unsmuggled(info.get("webpage_url")) or _unsmuggled((playlist or {}).get("webpage_url")),
        archive_id=archive_id(info),
        playlist=_text((playlist or {}).get("title")) or _text((playlist or {}).get("id")),
        playlist_url=_unsmuggled((playlist or {}).get("webpage_url")),
        info=info,
    )


def entry_key(entry: dict[str, Any], page: str) -> str:
    """What a playlist entry is known by: its own URL when it is a reference, else ``page#id``."""
    from yt_dlp.utils import unsmuggle_url

    if entry.get("_type") in ("url", "url_transparent") and entry.get("url"):
        return unsmuggle_url(entry["url"])[0]
    return f"{page}#{entry.get('id')}" if entry.get("id") else page


def archive_id(info: dict[str, Any]) -> str | None:
    """The line yt-dlp's download archive holds for this record (``extractor id``), if it can tell."""
    from yt_dlp.utils import make_archive_id

    extractor = info.get("extractor_key") or info.get("ie_key")
    if not extractor or not info.get("id"):
        return None
    return make_archive_id(extractor, info["id"])


def iso_date(value: Any) -> str | None:
    """yt-dlp's ``YYYYMMDD`` as ``YYYY-MM-DD``."""
    text = _text(value)
    if text and re.fullmatch(r"\d{8}", text):
        return f"{text[:4]}-{text[4:6]}-{text[6:]}"
    return text


def media_suffix(path: Path) -> str:
    """The suffix a stored download keeps: yt-dlp's extension when it names a format, else ``.bin``."""
    suffix = path.suffix.lower()
    return suffix if re.fullmatch(r"\.[a-z0-9]{2,5}", suffix) else ".bin"


def check_media(path: Path) -> MediaInfo:
    """ffprobe's view of a download; ``MediaError("not media: text/html")`` and the like when it is not media."""
    try:
        return media.probe(path)
    except MediaError as exc:
        with open(path, "rb") as handle:
            head = handle.read(4096)
        kind = text_content_type(head)
        if kind is not None:
            raise MediaError(f"not media: {kind}") from None
        raise MediaError("not media: " + str(exc).replace(path.name, "the download")) from None


def text_content_type(head: bytes) -> str | None:
    """The content type of the first bytes of a file when they are text (HTML, XML, JSON, plain), else None.

    >>> text_content_type(b"<!DOCTYPE html><html>"), text_content_type(b"RIFF\\x24\\x00\\x00\\x00WAVE")
    ('text/html', None)
    """
    if b"\x00" in head:
        return None
    for cut in range(4):  # the first bytes may end inside a character
        try:
            text = head[: len(head) - cut].decode("utf-8")
            break
        except UnicodeDecodeError:
            continue
    else:
        return None
    if any(ord(c) < 32 and c not in "\t\r\n\f" for c in text):
        return None
    start = text.lstrip("\ufeff \t\r\n").lower()
    if start.startswith(("<!doctype html", "<html")) or "<body" in start or "<head" in start:
        return "text/html"
    if start.startswith("<"):
        return "application/xml"
    if start.startswith(("{", "[")):
        return "application/json"
    return "text/plain"


def failure_reason(exc: BaseException) -> str:
    """The readable reason for one of yt-dlp's errors (see :func:`readable_reason`)."""
    return readable_reason(str(exc))


_ANSI = re.compile(r"\x1b\[[0-9;]*m")
_HTTP_STATUS = re.compile(r"HTTP Error (\d{3})(?::\s*([^(\n]*))?")
_ERRNO = re.compile(r"\[Errno -?\d+\] [^\"'()\n]+")
_NOT_FOUND = re.compile(r"video unavailable|has been removed|no longer available|does not exist|not found", re.I)
_GEO = re.compile(r"geo.?restrict|not available (?:from|in) your (?:location|country)|"
                  r"not made this video available in your country|blocked in your country", re.I)
_LOGIN = re.compile(r"private|sign in|log ?in|registered users|members[- ]only|premium|subscribers|"
                    r"requires? (?:a )?password|cookies for the authentication", re.I)
_INCOMPLETE = re.compile(r"bytes read, \d+ more expected|downloaded \d+ bytes, expected \d+|incomplete|"
                         r"content too short|did not get any data blocks", re.I)
_UNREACHABLE = re.compile(r"connection refused|timed out|timeout|name or service not known|name resolution|"
                          r"failed to establish a new connection|network is unreachable|no route to host|"
                          r"nodename nor servname|getaddrinfo|connection reset|remote end closed|"
                          r"connection aborted", re.I)
_HINTS = re.compile(r"\s*(?:Use --cookies|Use --username|See\s+https://|Also see\s+https://|"
                    r"You might want to use a VPN|please report this issue|Confirm you are on the latest).*$",
                    re.I | re.S)


def readable_reason(message: str) -> str:
    """One of yt-dlp's error messages as a short reason a curator can act on.

    >>> readable_reason("ERROR: [generic] talk: Unable to download webpage: HTTP Error 404: Not Found "
    ...                 "(caused by <HTTPError 404: Not Found>)")
    'not found (HTTP 404)'
    >>> readable_reason("ERROR: Unsupported URL: https://example.org/about")
    'unsupported site or no media found at this URL'
    """
    detail = _detail(message)
    status = _HTTP_STATUS.search(message)
    if status:
        code = int(status.group(1))
        if code in (404, 410):
            return f"not found (HTTP {code})"
        if code in (401, 403):
            return (f"private or needs login (HTTP {code}): the site refused access; "
                    "if you can open it in a browser, give --cookies FILE")
        if code == 429:
            return "rate-limited by the site (HTTP 429): try again later or lower --rate-limit"
        return f"HTTP error {code}: {detail}"
    if "Unsupported URL" in message:
        return "unsupported site or no media found at this URL"
    if "is not a valid URL" in message:
        return f"not a valid URL: {detail}"
    if _GEO.search(message):
        return f"geo-blocked: {detail}"
    if _INCOMPLETE.search(message):
        return f"download incomplete: {detail}"
    if _UNREACHABLE.search(message):
        errno = _ERRNO.search(message)
        return f"unreachable: {errno.group(0).strip() if errno else detail}"
    if _LOGIN.search(message):
        return f"private or needs login: {detail}"
    if _NOT_FOUND.search(message):
        return f"not found: {detail}"
    return detail


def _detail(message: str) -> str:
    """The message without yt-dlp's decorations: ``ERROR:``, ``[extractor] id:``, the cause, hints."""
    text = _ANSI.sub("", message).replace("\r", "").strip()
    text = re.sub(r"^ERROR:\s*", "", text)
    text = re.sub(r"^(?:\[[\w:.-]+\]\s*)+", "", text)
    text = re.sub(r"^[^\s:]+: (?=[A-Z])", "", text)  # the video id yt-dlp puts first
    text = re.sub(r"^Got error:\s*", "", text)
    text = re.sub(r"\s*\(caused by .*$", "", text, flags=re.S)
    text = _HINTS.sub("", text)
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    return "; ".join(lines).rstrip(" .;") or "yt-dlp gave no reason"


def _unsmuggled(url: Any) -> str | None:
    """A URL without the data yt-dlp smuggles in its fragment (``#__youtubedl_smuggle=...``)."""
    from yt_dlp.utils import unsmuggle_url

    return unsmuggle_url(url)[0] if isinstance(url, str) and url else None


def _text(value: Any) -> str | None:
    if value is None:
        return None
    text = str(value).strip()
    return text or None


def fetch_key_hash(key: str) -> str:
    """The content hash a source without content (failed, skipped by licence) is known by: ``url:<sha256 of key>``."""
    return "url:" + hashlib.sha256(key.encode("utf-8")).hexdigest()
