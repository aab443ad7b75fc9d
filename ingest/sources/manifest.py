"""Manifests in: a CSV, TSV or JSON Lines file naming media by URL or path, with their metadata.

One row per media, for ``mmcurate ingest manifest FILE``. Columns (a JSONL object's keys):

- ``url`` (an http(s) address, fetched like ``ingest urls``) or ``path`` (a local file; a
  relative path is read from the manifest's folder) — exactly one of them per row;
- ``title``; ``author`` (also found as ``channel``, ``uploader``); ``licence`` (or ``license``);
- ``language`` (or ``lang``): the language spoken, an ISO 639 code, the ASR stage's hint;
- ``num_speakers`` / ``min_speakers`` / ``max_speakers``: the speaker-count hint the diarize
  stage takes (``backend.domain.SpeakerCountHint``);
- ``labels``: labels the media already has, kept as given (a JSON value in JSONL, the cell's
  text in CSV);
- any other column is kept, as given, in ``ManifestRow.metadata``.

What the manifest states wins over what a site reports (a row's licence over yt-dlp's).
:func:`read_manifest` reads the whole file or refuses it listing every problem by line
(nothing is half ingested): a malformed line, a row with neither or both of url/path, a URL
that is not http(s), a path that is not a file, a bad language code or speaker count, a URL or
path given twice. The format follows the suffix (``.csv``, ``.tsv``, ``.jsonl``) unless given.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from backend.domain import SPEAKER_HINT_KEYS, SpeakerCountHint, ValidationError
from ingest.sources.texts import corpus_error, corpus_format, table_records
from ingest.sources.urls import url_problem

AUTHOR_COLUMNS = ("author", "channel", "uploader")
LICENCE_COLUMNS = ("licence", "license")
LANGUAGE_COLUMNS = ("language", "lang")
KNOWN_COLUMNS = frozenset({"url", "path", "title", "labels", *AUTHOR_COLUMNS, *LICENCE_COLUMNS, *LANGUAGE_COLUMNS,
                           *SPEAKER_HINT_KEYS})
LANGUAGE_CODE = re.compile(r"[a-z]{2,3}(?:-[a-z0-9]{2,8})*")


@dataclass(frozen=True)
class ManifestRow:
    """One media of a manifest: where it is (``url`` or resolved ``path``), what the row says of it,
    and the line it is on."""

    line: int
    url: str | None = None
    path: Path | None = None
    title: str | None = None
    author: str | None = None
    licence: str | None = None
    language: str | None = None
    speakers: SpeakerCountHint = field(default_factory=SpeakerCountHint)
    labels: Any = None
    metadata: dict[str, Any] = field(default_factory=dict)

    def hints(self) -> dict[str, Any]:
        """What the pipeline stages read from a source's ``extra``: ``language`` and the speaker counts."""
        return {**({"language": self.language} if self.language else {}), **self.speakers.as_dict()}


def read_manifest(path: Path | str, *, format: str | None = None) -> tuple[ManifestRow, ...]:
    """Every row of a manifest file (see the module docstring); a ``ValidationError`` lists bad lines."""
    path = Path(path)
    fmt = corpus_format(path, format)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ValidationError(f"{path} cannot be read ({exc.strerror}); give a CSV, TSV or JSONL manifest") from None
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise ValidationError(f"{path.name} line {line}: not UTF-8 text; save the manifest as UTF-8") from None
    records = table_records(path.name, text, fmt)
    if not records:
        raise ValidationError(f"{path.name} holds no rows; give one row per media with a url or path column")
    rows: list[ManifestRow] = []
    problems: list[str] = []
    seen: dict[str, int] = {}
    for line, record in records:
        row_problems: list[str] = []
        row = _row(line, record, path.parent, row_problems)
        named = row.url or (str(row.path) if row.path else None)
        if named is not None and named in seen:
            row_problems.append(f"line {line}: {'url' if row.url else 'path'} {named!r} repeats line {seen[named]}")
        problems.extend(row_problems)
        if not row_problems:
            seen[named] = line  # type: ignore[index]
            rows.append(row)
    if problems:
        raise corpus_error(path.name, problems)
    return tuple(rows)


def _row(line: int, record: dict[str, Any], folder: Path, problems: list[str]) -> ManifestRow:
    """The row on ``line``; each problem with it is appended to ``problems`` as ``line N: ...``."""
    where = f"line {line}"
    values: dict[str, str | None] = {}
    for key in ("url", "path", "title", *AUTHOR_COLUMNS, *LICENCE_COLUMNS, *LANGUAGE_COLUMNS):
        try:
            values[key] = _text(record.get(key))
        except ValueError:
            problems.append(f"{where}: {key} must be text, got {record.get(key)!r}")
            values[key] = None
    url, given_path = values["url"], values["path"]
    media_path: Path | None = None
    if url and given_path:
        problems.append(f"{where}: give either url or path, not both")
    elif not url and not given_path:
        problems.append(f"{where}: no url or path; every row names its media by one of them")
    elif url:
        if (problem := url_problem(url)) is not None:
            problems.append(f"{where}: {problem}")
    else:
        media_path = (folder / given_path).resolve()  # type: ignore[operator]
        if not media_path.is_file():
            problems.append(f"{where}: no such file {given_path!r} (a relative path is read from the manifest's folder)")
    language = _first(values, LANGUAGE_COLUMNS)
    if language is not None:
        language = language.lower().replace("_", "-")
        if not LANGUAGE_CODE.fullmatch(language):
            problems.append(f"{where}: language {language!r} is not an ISO 639 code such as 'ta' or 'zh'")
    try:
        speakers = SpeakerCountHint.from_mapping(record, where=where)
    except ValidationError as exc:
        problems.append(str(exc))
        speakers = SpeakerCountHint()
    labels = record.get("labels")
    if isinstance(labels, str) and not labels.strip():
        labels = None
    return ManifestRow(
        line=line, url=url, path=media_path, title=values["title"], author=_first(values, AUTHOR_COLUMNS),
        licence=_first(values, LICENCE_COLUMNS), language=language, speakers=speakers, labels=labels,
        metadata={k: v for k, v in record.items() if k not in KNOWN_COLUMNS and v not in (None, "")},
    )


def _text(value: Any) -> str | None:
    """A cell as text: None or blank is no value; numbers are written out; anything else is refused."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (str, int, float)):
        raise ValueError(value)
    text = str(value).strip()
    return text or None


def _first(values: dict[str, str | None], keys: tuple[str, ...]) -> str | None:
    return next((values[k] for k in keys if values.get(k)), None)
