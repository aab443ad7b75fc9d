"""``mmcurate ingest text FILE``: a text corpus in (CSV, TSV, JSONL), one ``text`` item per row,
and the labels it already has stored as annotations of a named, imported annotator set.

Which columns are labels is read against a labelling scheme (``--scheme``, else the one of the
project's schemes whose fields the columns match):

- a multi-label-with-intensity field: one column per label, named as the label (any case, so
  BRIGHTER's ``Anger`` matches ``anger``), integers ``0..max`` (track B);
- a multi-label field: one column per label, ``0``/``1`` (track A);
- any other field: a column named as the field, holding a label key, a number or text.

A row whose label cells are all empty is an unlabelled text (a test split). Every label is
checked against the scheme; any bad row refuses the whole file, listing each by line, before
anything is stored. The labels become annotations of the annotator ``imported:<labels_as>``
(default ``corpus``) in one imported batch, so QA can set them beside Label Studio annotators
and a release can carry them — never mixed with a person's judgements.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from sqlalchemy.orm import Session

from annotation_configs.registry import Scheme, SchemeField, shipped_registry
from backend.db.models import Project, Source
from backend.domain import ItemKind, NotFoundError, Progress, SourceKind, SourceStatus, ValidationError, ValueKind
from backend.repositories import projects as project_repo
from backend.services.imported_labels import ImportedAnnotation
from backend.services.ingest.common import (
    DEFAULT_LABEL_SET,
    IngestSummary,
    add_item,
    existing_external_ids,
    item_language,
    source_by_hash,
    store_corpus_labels,
)
from backend.services.ingest.duplicates import regroup_duplicates
from backend.settings import Settings
from ingest.sources.texts import TextCorpus, TextRow, corpus_error, read_text_corpus

_PER_LABEL = (ValueKind.MULTI_LABEL, ValueKind.MULTI_LABEL_INTENSITY)


def label_columns(scheme: Scheme, columns: tuple[str, ...]) -> dict[str, dict[str, str]]:
    """Field → {label key or field name: column} for the fields of ``scheme`` the columns hold."""
    by_lower = {c.lower(): c for c in columns}
    found: dict[str, dict[str, str]] = {}
    for field in scheme.fields:
        if field.kind in _PER_LABEL:
            if all(key.lower() in by_lower for key in field.keys):
                found[field.name] = {key: by_lower[key.lower()] for key in field.keys}
        elif field.name.lower() in by_lower:
            found[field.name] = {field.name: by_lower[field.name.lower()]}
    return found


def pick_scheme(project: Project, corpus: TextCorpus, scheme: str | None) -> tuple[Scheme | None, dict[str, dict[str, str]]]:
    """The scheme the file's label columns answer, and which columns; (None, {}) when it has none."""
    registry = shipped_registry()
    if scheme is not None:
        chosen = registry[scheme]
        mapping = label_columns(chosen, corpus.other_columns)
        if not mapping and corpus.other_columns:
            raise ValidationError(f"no column of the file matches a field of scheme {scheme!r} "
                                  f"(columns: {', '.join(corpus.other_columns)}; fields: {', '.join(chosen.field_names)})")
        return (chosen, mapping) if mapping else (None, {})
    for name in project.schemes or []:
        if name in registry:
            mapping = label_columns(registry[name], corpus.other_columns)
            if mapping:
                return registry[name], mapping
    return None, {}


def row_values(field: SchemeField, columns: Mapping[str, str], row: TextRow) -> Any:
    """The normalised value of ``field`` in ``row`` (None when its cells are empty); raises ValidationError."""
    cells = {key: row.columns.get(column) for key, column in columns.items()}
    empty = [key for key, cell in cells.items() if cell is None or (isinstance(cell, str) and not cell.strip())]
    if len(empty) == len(cells):
        return None
    if empty:
        raise ValidationError(f"{field.name}: {', '.join(columns[k] for k in empty)} empty while other labels are given")
    if field.kind in _PER_LABEL:
        levels = {key: _integer(cell, columns[key]) for key, cell in cells.items()}
        if field.kind is ValueKind.MULTI_LABEL:
            bad = [columns[k] for k, level in levels.items() if level not in (0, 1)]
            if bad:
                raise ValidationError(f"{', '.join(bad)} must be 0 or 1 for multi-label field {field.name!r}")
            return field.check([key for key, level in levels.items() if level == 1])
        return field.check(levels)
    (cell,) = cells.values()
    if field.kind is ValueKind.INTERVAL:
        try:
            number = float(cell) if isinstance(cell, str) else cell
        except ValueError:
            raise ValidationError(f"{field.name}: {cell!r} is not a number") from None
        return field.check(number)
    return field.check(cell.strip() if isinstance(cell, str) else cell)


def _integer(cell: Any, column: str) -> int:
    if isinstance(cell, bool):
        raise ValidationError(f"{column}: {cell!r} is not an integer")
    if isinstance(cell, int):
        return cell
    text = str(cell).strip()
    try:
        number = float(text)
    except ValueError:
        raise ValidationError(f"{column}: {text!r} is not an integer") from None
    if not number.is_integer():
        raise ValidationError(f"{column}: {text!r} is not an integer")
    return int(number)


def ingest_text(session: Session, settings: Settings, project: str | int, path: Path | str, *,
                format: str | None = None, id_column: str | None = None, text_column: str | None = None,
                language: str | None = None, scheme: str | None = None, labels_as: str = DEFAULT_LABEL_SET,
                licence: str | None = None, on_progress: Progress | None = None) -> IngestSummary:
    """Register one text corpus file and its labels (see the module docstring); committed at the end."""
    project = project_repo.get(session, project)
    path = Path(path)
    if not path.is_file():
        raise NotFoundError(f"{path} is not a file; give a CSV, TSV or JSONL text corpus")
    data = path.read_bytes()
    digest = hashlib.sha256(data).hexdigest()
    summary = IngestSummary(kind=ItemKind.TEXT.value)
    earlier = source_by_hash(session, project, digest)
    if earlier is not None:
        summary.already_registered = 1
        summary.source_ids.append(earlier.id)
        return summary
    corpus = read_text_corpus(path, format=format, id_column=id_column, text_column=text_column, data=data)
    chosen, mapping = pick_scheme(project, corpus, scheme)
    labels: dict[int, dict[str, Any]] = {}
    if chosen is not None:
        problems = []
        for index, row in enumerate(corpus.rows):
            values = {}
            for field_name, columns in mapping.items():
                try:
                    value = row_values(chosen.field(field_name), columns, row)
                except ValidationError as exc:
                    problems.append(f"line {row.line}: {exc}")
                    continue
                if value is not None:
                    values[field_name] = value
            if values:
                labels[index] = values
        if problems:
            raise corpus_error(path.name, problems)
    if labels and not labels_as.strip():
        raise ValidationError("--labels-as needs a name for the annotator set the file's labels belong to")

    source = Source(project_id=project.id, kind=SourceKind.TEXT, uri=path.resolve().as_uri(), title=path.name,
                    licence=licence, fetched_at=datetime.now(timezone.utc), content_hash=digest,
                    size_bytes=len(data), status=SourceStatus.DONE,
                    extra={"format": corpus.format, "rows": len(corpus.rows), "columns": list(corpus.other_columns),
                           "scheme": chosen.name if chosen else None})
    session.add(source)
    session.flush()
    summary.source_ids.append(source.id)
    known = existing_external_ids(session, project, ItemKind.TEXT, [row.external_id for row in corpus.rows])
    annotations = []
    for index, row in enumerate(corpus.rows):
        if row.external_id in known:  # the same text id from another file of the corpus: labels go to it
            item_id = known[row.external_id]
            summary.items_existing += 1
        else:
            item = add_item(session, project, source, kind=ItemKind.TEXT, external_id=row.external_id, text=row.text,
                            language=item_language(row.language or language, project))
            item_id = item.id
            summary.items_created += 1
        if index in labels:
            annotations.append(ImportedAnnotation(item_id, labels_as.strip(), labels[index], (row.line,)))
        if on_progress:
            on_progress("texts", index + 1, len(corpus.rows))
    if annotations:
        summary.labels = store_corpus_labels(session, project, chosen.name, annotations, path=path, digest=digest)
    session.flush()
    grouped = regroup_duplicates(session, project, kinds=(ItemKind.TEXT,))
    summary.duplicate_groups, summary.duplicate_members = grouped.groups, grouped.members
    session.commit()
    return summary
