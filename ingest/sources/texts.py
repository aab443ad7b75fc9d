"""Text corpora in: CSV, TSV or JSON Lines, one text per row, with whatever label columns it has.

The layout of BRIGHTER / SemEval-2025 Task 11 (``id,text,anger,disgust,...``) and of most
sentiment corpora: an id column, a text column, more columns. :func:`read_text_corpus` reads
the whole file or refuses it with every problem's line (nothing is half imported):

- the id column is ``id`` unless told (also found as ``ID``, ``Id``); without one the row's
  position (1, 2, ...) is its id; ids must not repeat;
- the text column is ``text`` unless told (also ``Text``, ``sentence``, ``tweet``); an empty
  text is an error (say which line);
- a ``language`` / ``lang`` column gives each row's language;
- every other column is kept as it is in ``TextRow.columns`` (strings for CSV/TSV, JSON values
  for JSONL); which of them are labels is the caller's to decide, against a scheme.

The format follows the suffix (``.csv``, ``.tsv``/``.tab``, ``.jsonl``/``.ndjson``) unless given.
"""

from __future__ import annotations

import csv
import io
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from backend.domain import ValidationError

TEXT_FORMATS = ("csv", "tsv", "jsonl")
ID_COLUMNS = ("id", "ID", "Id")
TEXT_COLUMNS = ("text", "Text", "sentence", "tweet")
LANGUAGE_COLUMNS = ("language", "lang")
MAX_REPORTED = 20


@dataclass(frozen=True)
class TextRow:
    """One text of the corpus: ``line`` where it starts, its id, text, language and other columns."""

    line: int
    external_id: str
    text: str
    language: str | None = None
    columns: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class TextCorpus:
    """Every row of one file, the columns besides id/text/language, and the format read."""

    format: str
    rows: tuple[TextRow, ...]
    other_columns: tuple[str, ...]


def corpus_format(path: Path, format: str | None = None) -> str:
    if format is not None:
        if format not in TEXT_FORMATS:
            raise ValidationError(f"format {format!r} is not one of {', '.join(TEXT_FORMATS)}")
        return format
    suffix = path.suffix.lower()
    found = {".csv": "csv", ".tsv": "tsv", ".tab": "tsv", ".jsonl": "jsonl", ".ndjson": "jsonl"}.get(suffix)
    if found is None:
        raise ValidationError(f"{path.name}: cannot tell the format from {suffix or 'no suffix'!r}; "
                              f"give --format {'|'.join(TEXT_FORMATS)}")
    return found


def read_text_corpus(path: Path | str, *, format: str | None = None, id_column: str | None = None,
                     text_column: str | None = None, data: bytes | None = None) -> TextCorpus:
    """Read a text corpus file (see the module docstring); a ``ValidationError`` lists bad lines."""
    path = Path(path)
    fmt = corpus_format(path, format)
    if data is None:
        try:
            data = path.read_bytes()
        except OSError as exc:
            raise ValidationError(f"{path.name} cannot be read ({exc.strerror})") from None
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise ValidationError(f"{path.name} line {line}: not UTF-8 text (byte 0x{data[exc.start]:02x}); "
                              "save the file as UTF-8") from None
    records = table_records(path.name, text, fmt)
    if not records:
        raise ValidationError(f"{path.name} holds no rows")
    keys: dict[str, None] = {}
    for _, record in records:
        keys.update(dict.fromkeys(record))
    id_key = _pick(path.name, keys, id_column, ID_COLUMNS, "id", required=False)
    text_key = _pick(path.name, keys, text_column, TEXT_COLUMNS, "text", required=True)
    language_key = next((k for k in LANGUAGE_COLUMNS if k in keys), None)
    problems: list[str] = []
    rows: list[TextRow] = []
    seen: dict[str, int] = {}
    for position, (line, record) in enumerate(records, start=1):
        raw_text = record.get(text_key)
        if not isinstance(raw_text, str) or not raw_text.strip():
            problems.append(f"line {line}: the text ({text_key!r}) is empty or not a string")
            continue
        raw_id = record.get(id_key) if id_key else position
        if raw_id is None or isinstance(raw_id, bool) or not isinstance(raw_id, (str, int)) or str(raw_id).strip() == "":
            problems.append(f"line {line}: the id ({id_key!r}) is empty or not a string/integer")
            continue
        external_id = str(raw_id).strip()
        if external_id in seen:
            problems.append(f"line {line}: id {external_id!r} repeats line {seen[external_id]}")
            continue
        seen[external_id] = line
        language = record.get(language_key) if language_key else None
        others = {k: v for k, v in record.items() if k not in (id_key, text_key, language_key)}
        rows.append(TextRow(line, external_id, raw_text, str(language).strip() or None if language else None, others))
    if problems:
        raise corpus_error(path.name, problems)
    other = tuple(k for k in keys if k not in (id_key, text_key, language_key))
    return TextCorpus(fmt, tuple(rows), other)


def table_records(name: str, text: str, fmt: str) -> list[tuple[int, dict[str, Any]]]:
    """The rows of CSV/TSV (header row) or JSONL ``text`` as dicts, each with the line it starts on;
    blank lines skipped; a ``ValidationError`` lists every malformed line of file ``name``."""
    return _jsonl_records(name, text) if fmt == "jsonl" else _delimited_records(name, text, fmt)


def corpus_error(name: str, problems: list[str]) -> ValidationError:
    """One error listing the problems by line (at most ``MAX_REPORTED``), nothing imported."""
    shown = problems[:MAX_REPORTED]
    more = f"\n  ... and {len(problems) - MAX_REPORTED} more" if len(problems) > MAX_REPORTED else ""
    return ValidationError(f"{name}: {len(problems)} problem(s), nothing imported; fix them and ingest again:\n  "
                           + "\n  ".join(shown) + more)


def _pick(name: str, keys: dict[str, None], given: str | None, defaults: tuple[str, ...], what: str,
          *, required: bool) -> str | None:
    if given is not None:
        if given not in keys:
            raise ValidationError(f"{name}: no column {given!r} for the {what}; columns: {', '.join(keys)}")
        return given
    found = next((k for k in defaults if k in keys), None)
    if found is None and required:
        raise ValidationError(f"{name}: no {what} column (looked for {', '.join(defaults)}); columns: "
                              f"{', '.join(keys)}; name it with --{what}-column")
    return found


def _delimited_records(name: str, text: str, fmt: str) -> list[tuple[int, dict[str, Any]]]:
    reader = csv.reader(io.StringIO(text, newline=""), delimiter="\t" if fmt == "tsv" else ",")
    try:
        header = [h.strip() for h in next(reader)]
    except StopIteration:
        raise ValidationError(f"{name} is empty; give a header row (e.g. id,text,...)") from None
    except csv.Error as exc:
        raise ValidationError(f"{name} line 1: {exc}") from None
    if len(set(header)) != len(header) or "" in header:
        raise ValidationError(f"{name} line 1: column names must be non-empty and distinct, got {header!r}")
    records, problems = [], []
    start = reader.line_num + 1
    while True:
        try:
            row = next(reader)
        except StopIteration:
            break
        except csv.Error as exc:
            problems.append(f"line {start}: {exc}")
            break
        line, start = start, reader.line_num + 1
        if not any(cell.strip() for cell in row):
            continue
        if len(row) != len(header):
            problems.append(f"line {line}: {len(row)} fields, but the header has {len(header)}"
                            + ("; quote values that hold the delimiter" if len(row) > len(header) else ""))
            continue
        records.append((line, dict(zip(header, row))))
    if problems:
        raise corpus_error(name, problems)
    return records


def _jsonl_records(name: str, text: str) -> list[tuple[int, dict[str, Any]]]:
    records, problems = [], []
    for number, raw in enumerate(text.split("\n"), start=1):
        if not raw.strip():
            continue
        try:
            obj = json.loads(raw)
        except json.JSONDecodeError as exc:
            problems.append(f"line {number}: not valid JSON ({exc.msg} at column {exc.colno})")
            continue
        if not isinstance(obj, dict):
            problems.append(f"line {number}: expected a JSON object, not {type(obj).__name__}")
            continue
        records.append((number, obj))
    if problems:
        raise corpus_error(name, problems)
    return records
