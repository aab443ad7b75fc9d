"""URL lists in: one media URL per line, for ``mmcurate ingest urls FILE``.

The file is UTF-8 text; a line is one ``http://`` or ``https://`` URL (surrounding spaces
ignored). Blank lines and lines starting with ``#`` are skipped; a ``#`` inside a URL is its
fragment, not a comment. A URL given twice is read once. Any other line refuses the whole
file, every bad line named (nothing is half ingested); :func:`read_url_list` returns the URLs
with the line each came from.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from backend.domain import ValidationError
from ingest.sources.texts import corpus_error

URL_SCHEMES = ("http", "https")


@dataclass(frozen=True)
class ListedUrl:
    """One URL of a list and the line (1-based) it is on."""

    line: int
    url: str


def url_problem(url: str) -> str | None:
    """Why ``url`` is not a web address that can be fetched, or None when it is.

    >>> url_problem("https://example.org/talk.mp4") is None
    True
    >>> url_problem("example.org/talk.mp4")
    "'example.org/talk.mp4' is not an http(s) URL"
    """
    if any(c.isspace() for c in url):
        return f"{url!r} holds spaces; give one URL per line (encode spaces as %20)"
    parts = urlsplit(url)
    if parts.scheme.lower() not in URL_SCHEMES or not parts.netloc:
        return f"{url!r} is not an http(s) URL"
    return None


def read_url_list(path: Path | str) -> tuple[ListedUrl, ...]:
    """The URLs of a list file (see the module docstring); a ``ValidationError`` names each bad line."""
    path = Path(path)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ValidationError(f"{path} cannot be read ({exc.strerror}); give a text file with one URL per line") from None
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise ValidationError(f"{path.name} line {line}: not UTF-8 text; save the list as UTF-8") from None
    urls: list[ListedUrl] = []
    seen: set[str] = set()
    problems: list[str] = []
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        problem = url_problem(line)
        if problem is not None:
            problems.append(f"line {number}: {problem}")
        elif line not in seen:
            seen.add(line)
            urls.append(ListedUrl(number, line))
    if problems:
        raise corpus_error(path.name, problems)
    if not urls:
        raise ValidationError(f"{path.name} lists no URLs; write one http(s) URL per line")
    return tuple(urls)
