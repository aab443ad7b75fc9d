"""Read per-annotator labels from CSV or JSON for ``mmcurate qa import``: all valid or nothing.

Accepted layouts, one judgement per row/record, keys ``item``, ``annotator``,
``field``, ``value`` and optionally ``lead_time_s`` (seconds) and
``created_at`` (ISO 8601):

* CSV with a header row (``.csv``); multi-label values as a JSON list
  (``["joy","fear"]``) or ``joy;fear``, intensities as a JSON object;
* JSON (``.json``): an array of objects, or JSON Lines (``.jsonl``) with one object a line.

Every problem is collected with its line (or record) number and reported in
one :class:`~backend.domain.ValidationError`; nothing is returned unless the
whole file is valid.

Imported annotators are their own namespace: the name in the file becomes the
pseudonym ``imported:NAME`` (:func:`imported_pseudonym`), so a file's ``ann-001``
can never be taken for the Label Studio annotator mmcurate calls ``ann-001``.
"""

from __future__ import annotations

import csv
import io
import json
import math
from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from backend.domain import NotFoundError, ValidationError, ValueKind
from qa.fields import FieldSpec

REQUIRED = ("item", "annotator", "field", "value")
OPTIONAL = ("lead_time_s", "created_at")
MAX_REPORTED = 20
IMPORTED_PREFIX = "imported:"
MAX_PSEUDONYM = 50  # annotators.pseudonym


def imported_pseudonym(name: str) -> str:
    """The pseudonym of an annotator named ``name`` in an import file (a name already in the
    imported namespace stays as it is, so a re-imported export keeps its annotators).

    >>> imported_pseudonym("ann-001"), imported_pseudonym("imported:rater 7")
    ('imported:ann-001', 'imported:rater 7')
    """
    return name if name.startswith(IMPORTED_PREFIX) else IMPORTED_PREFIX + name


@dataclass(frozen=True)
class ImportedJudgement:
    """One row of an import file, validated; ``line`` is where it came from."""

    item: str
    annotator: str
    field: str
    value: Any
    lead_time_s: float | None
    created_at: datetime | None
    line: int


class ImportFileError(ValidationError):
    """An import file with malformed lines; the message lists each with its number."""

    def __init__(self, path: str, problems: list[str]) -> None:
        shown = problems[:MAX_REPORTED]
        more = f"\n  ... and {len(problems) - MAX_REPORTED} more" if len(problems) > MAX_REPORTED else ""
        super().__init__(
            f"{path}: {len(problems)} problem(s), nothing imported; fix them and import again:\n  "
            + "\n  ".join(shown)
            + more
        )
        self.problems = problems


def read_judgements(path: Path, specs: Mapping[str, FieldSpec] | None = None,
                    data: bytes | None = None) -> list[ImportedJudgement]:
    """Parse and validate ``path`` (.csv, .json or .jsonl); values checked against ``specs`` when given.

    ``data`` is the file's content when the caller has read it already (so what is parsed is
    exactly what it hashed); the suffix of ``path`` still says how to read it.
    """
    if data is None:
        if not path.is_file():
            raise NotFoundError(f"import file {str(path)!r} does not exist")
        data = path.read_bytes()
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ValidationError(f"{path}: not UTF-8 text (byte {exc.start}); save it as UTF-8 and import again") from None
    suffix = path.suffix.lower()
    if suffix == ".csv":
        return parse_csv(text, specs, source=str(path))
    if suffix in (".json", ".jsonl", ".ndjson"):
        return parse_json(text, specs, source=str(path))
    raise ValidationError(f"{path}: unknown file type {suffix or '(none)'!r}; use .csv, .json or .jsonl")


def parse_csv(text: str, specs: Mapping[str, FieldSpec] | None = None, *, source: str = "<csv>") -> list[ImportedJudgement]:
    """Judgements from CSV text with a header row."""
    reader = csv.reader(io.StringIO(text))
    try:
        header = next(reader)
    except StopIteration:
        raise ImportFileError(source, ["line 1: the file is empty; the first line must be the header"]) from None
    except csv.Error as exc:
        raise ImportFileError(source, [f"line 1: {exc}"]) from None
    header = [h.strip() for h in header]
    problems = _check_header(header)
    if problems:
        raise ImportFileError(source, problems)
    records: list[tuple[int, dict[str, Any]]] = []
    try:
        for row in reader:
            line = reader.line_num
            if not any(cell.strip() for cell in row):
                continue
            if len(row) != len(header):
                problems.append(f"line {line}: {len(row)} columns, the header has {len(header)}")
                continue
            record: dict[str, Any] = dict(zip(header, (cell.strip() for cell in row)))
            records.append((line, record))
    except csv.Error as exc:
        problems.append(f"line {reader.line_num}: {exc}")
    return _validate(records, specs, source, problems, from_text=True, unit="line")


def parse_json(text: str, specs: Mapping[str, FieldSpec] | None = None, *, source: str = "<json>") -> list[ImportedJudgement]:
    """Judgements from a JSON array of objects or from JSON Lines."""
    problems: list[str] = []
    records: list[tuple[int, dict[str, Any]]] = []
    stripped = text.lstrip()
    if not stripped:
        raise ImportFileError(source, ["the file is empty; give a JSON array of judgements or JSON Lines"])
    if stripped.startswith("["):
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise ImportFileError(source, [f"line {exc.lineno}: not valid JSON ({exc.msg})"]) from None
        unit = "record"
        for n, record in enumerate(data, start=1):
            if not isinstance(record, dict):
                problems.append(f"record {n}: {record!r} is not an object with keys {', '.join(REQUIRED)}")
            else:
                records.append((n, record))
    else:
        unit = "line"
        for n, raw in enumerate(text.splitlines(), start=1):
            if not raw.strip():
                continue
            try:
                record = json.loads(raw)
            except json.JSONDecodeError as exc:
                problems.append(f"line {n}: not valid JSON ({exc.msg})")
                continue
            if not isinstance(record, dict):
                problems.append(f"line {n}: {raw.strip()[:60]!r} is not an object")
                continue
            records.append((n, record))
    for n, record in records:
        header_problems = [p for p in _check_header(list(record)) if "missing" in p or "unknown" in p]
        problems.extend(f"{unit} {n}: {p}" for p in header_problems)
    if problems:
        raise ImportFileError(source, problems)
    return _validate(records, specs, source, problems, from_text=False, unit=unit)


def _check_header(columns: list[str]) -> list[str]:
    problems = []
    missing = [c for c in REQUIRED if c not in columns]
    if missing:
        problems.append(f"missing column(s) {', '.join(missing)}; need {', '.join(REQUIRED)}")
    unknown = [c for c in columns if c not in REQUIRED + OPTIONAL]
    if unknown:
        problems.append(
            f"unknown column(s) {', '.join(repr(c) for c in unknown)}; allowed: {', '.join(REQUIRED + OPTIONAL)}"
        )
    return problems


def _validate(
    records: list[tuple[int, dict[str, Any]]],
    specs: Mapping[str, FieldSpec] | None,
    source: str,
    problems: list[str],
    *,
    from_text: bool,
    unit: str,
) -> list[ImportedJudgement]:
    out: list[ImportedJudgement] = []
    seen: dict[tuple[str, str, str], int] = {}
    for n, record in records:
        where = f"{unit} {n}"
        try:
            names = {}
            for key in ("item", "annotator", "field"):
                value = record.get(key)
                if value is None or (isinstance(value, str) and not value.strip()):
                    raise ValidationError(f"empty {key}")
                if not isinstance(value, (str, int)) or isinstance(value, bool):
                    raise ValidationError(f"{key} {value!r} must be text or a whole number")
                names[key] = str(value).strip()
            if len(imported_pseudonym(names["annotator"])) > MAX_PSEUDONYM:
                limit = MAX_PSEUDONYM - len(IMPORTED_PREFIX)
                raise ValidationError(f"annotator name {names['annotator'][:60]!r} is longer than {limit} "
                                      "characters; use a short pseudonym")
            spec = specs.get(names["field"]) if specs is not None else None
            if specs is not None and spec is None:
                raise ValidationError(
                    f"field {names['field']!r} is not in the scheme; use one of {', '.join(sorted(specs))}"
                )
            value = _value(record.get("value"), spec, from_text)
            lead = _lead_time(record.get("lead_time_s"))
            created = _created_at(record.get("created_at"))
        except ValidationError as exc:
            problems.append(f"{where}: {exc}")
            continue
        key = (names["item"], imported_pseudonym(names["annotator"]), names["field"])
        if key in seen:
            problems.append(
                f"{where}: annotator {names['annotator']!r} already judged field {key[2]!r} of item {key[0]!r} "
                f"on {unit} {seen[key]}"
            )
            continue
        seen[key] = n
        out.append(ImportedJudgement(names["item"], names["annotator"], names["field"], value, lead, created, n))
    if problems:
        raise ImportFileError(source, problems)
    if not out:
        raise ImportFileError(source, ["no judgements in the file; one row per (item, annotator, field) is needed"])
    if specs is None:
        out = _numbers_where_all_numeric(out)
    return out


def _value(raw: Any, spec: FieldSpec | None, from_text: bool) -> Any:
    if raw is None or (isinstance(raw, str) and not raw.strip()):
        raise ValidationError("empty value; leave out judgements that were not given")
    if from_text and isinstance(raw, str) and raw[:1] in "[{":
        try:
            raw = json.loads(raw)
        except json.JSONDecodeError as exc:
            raise ValidationError(f"value {raw!r} looks like JSON but is not valid ({exc.msg})") from None
    if spec is None:
        return raw
    kind = spec.kind
    if kind in (ValueKind.NOMINAL, ValueKind.ORDINAL, ValueKind.FREE_TEXT):
        if not isinstance(raw, (str, int)) or isinstance(raw, bool):
            raise ValidationError(f"value {raw!r} is not a label of {kind.value} field {spec.name!r}")
        value = str(raw)
        if kind is not ValueKind.FREE_TEXT and spec.categories and value not in spec.categories:
            raise ValidationError(
                f"value {value!r} is not a label of field {spec.name!r}; use one of {', '.join(map(str, spec.categories))}"
            )
        return value
    if kind is ValueKind.INTERVAL:
        try:
            number = float(raw)
        except (TypeError, ValueError):
            raise ValidationError(f"value {raw!r} is not a number for interval field {spec.name!r}") from None
        if not math.isfinite(number):
            raise ValidationError(f"value {raw!r} is not a finite number for field {spec.name!r}")
        low, high = spec.minimum, spec.maximum
        if (low is not None and number < low) or (high is not None and number > high):
            shown = f"{'' if low is None else f'{low:g}'}..{'' if high is None else f'{high:g}'}"
            raise ValidationError(f"value {number:g} is outside the range {shown} of field {spec.name!r}")
        return number
    if kind is ValueKind.MULTI_LABEL:
        labels = raw if isinstance(raw, list) else [p.strip() for p in str(raw).split(";") if p.strip()]
        bad = [x for x in labels if not isinstance(x, str) or (spec.categories and x not in spec.categories)]
        if bad:
            raise ValidationError(
                f"label {bad[0]!r} is not a label of field {spec.name!r}; use one of {', '.join(map(str, spec.categories))}"
            )
        return sorted(set(labels))
    if not isinstance(raw, dict):
        raise ValidationError(f"value {raw!r} is not a JSON object label -> intensity for field {spec.name!r}")
    top = spec.max_intensity
    for label, level in raw.items():
        if spec.categories and label not in spec.categories:
            raise ValidationError(f"label {label!r} is not a label of field {spec.name!r}")
        if isinstance(level, bool) or not isinstance(level, int) or level < 0 or (top is not None and level > top):
            raise ValidationError(f"intensity {level!r} for {label!r} must be a whole number 0..{top}")
    return {label: int(raw.get(label, 0)) for label in (spec.categories or sorted(raw))}


def _lead_time(raw: Any) -> float | None:
    if raw is None or (isinstance(raw, str) and not raw.strip()):
        return None
    try:
        value = float(raw)
    except (TypeError, ValueError):
        raise ValidationError(f"lead_time_s {raw!r} is not a number of seconds") from None
    if not math.isfinite(value) or value < 0:
        raise ValidationError(f"lead_time_s {raw!r} must be a number of seconds >= 0")
    return value


def _created_at(raw: Any) -> datetime | None:
    if raw is None or (isinstance(raw, str) and not raw.strip()):
        return None
    try:
        value = datetime.fromisoformat(str(raw).strip().replace("Z", "+00:00"))
    except ValueError:
        raise ValidationError(f"created_at {raw!r} is not an ISO 8601 time such as 2026-01-31T12:00:00Z") from None
    return value if value.tzinfo else value.replace(tzinfo=timezone.utc)


def _reads_as_number(value: Any) -> bool:
    if isinstance(value, bool):
        return False
    if isinstance(value, (int, float)):
        return True
    if isinstance(value, str):
        try:
            return math.isfinite(float(value))
        except ValueError:
            return False
    return False


def _numbers_where_all_numeric(rows: list[ImportedJudgement]) -> list[ImportedJudgement]:
    """Without a scheme, a field whose every value reads as a number is numeric (CSV gives only text)."""
    numeric: dict[str, bool] = {}
    for row in rows:
        numeric[row.field] = numeric.get(row.field, True) and _reads_as_number(row.value)
    return [replace(r, value=float(r.value)) if numeric[r.field] else r for r in rows]


def to_frame(rows: list[ImportedJudgement]) -> Any:
    """The long judgements table QA reads (item, annotator, field, value, lead_time_s, created_at)."""
    import pandas as pd

    return pd.DataFrame(
        {
            "item": [r.item for r in rows],
            "annotator": [r.annotator for r in rows],
            "field": [r.field for r in rows],
            "value": [r.value for r in rows],
            "lead_time_s": [r.lead_time_s for r in rows],
            "created_at": [r.created_at for r in rows],
        }
    )
