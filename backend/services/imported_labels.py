"""Labels that arrive in files, stored as annotations of imported annotators: ``qa import`` and the labels a
corpus brings (``ingest text``, a labelled chat export). One path, so every imported label is recorded alike:
its own batch, the file's SHA-256 in ``label_imports``, history rows, and annotators in the ``imported:``
namespace that never mix with a Label Studio annotator."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

from sqlalchemy import insert, literal, select
from sqlalchemy.orm import Session

from backend.db.models import (
    Annotation,
    AnnotationBatch,
    AnnotationHistory,
    Annotator,
    LabelImport,
    Project,
)
from backend.domain import AnnotationOrigin, HistoryAction, ValidationError


@dataclass(frozen=True)
class ImportSummary:
    """What ``qa import`` stored."""

    batch_id: int
    scheme: str
    file: str
    n_judgements: int
    n_annotations: int
    n_items: int
    n_annotators: int
    new_annotators: tuple[str, ...]

    def to_dict(self) -> dict[str, Any]:
        return {
            "batch_id": self.batch_id,
            "scheme": self.scheme,
            "file": self.file,
            "n_judgements": self.n_judgements,
            "n_annotations": self.n_annotations,
            "n_items": self.n_items,
            "n_annotators": self.n_annotators,
            "new_annotators": list(self.new_annotators),
        }


@dataclass(frozen=True)
class ImportedAnnotation:
    """One annotator's values for one item, read from a file (``lines``: where they came from)."""

    item_id: int
    annotator: str
    values: dict[str, Any]
    lines: tuple[int, ...]
    lead_time_s: float | None = None
    created_at: datetime | None = None


def store_imported_annotations(session: Session, project: Project, scheme_name: str,
                               annotations: Sequence[ImportedAnnotation], *, file_name: str, digest: str,
                               n_judgements: int, file: str | None = None) -> ImportSummary:
    """Store annotations read from a file as a new imported batch (``qa import``, labels that come with a corpus).

    Annotators are the file's names in their own namespace (``imported:NAME``, created when new, not
    simulated); the file is recorded in ``label_imports`` by its SHA-256 (``digest``). The caller has
    validated the values and checked that the file was not imported before. Not committed.
    """
    from qa.importer import IMPORTED_PREFIX, imported_pseudonym

    if not annotations:
        raise ValidationError(f"{file_name} holds no labels to import")
    pseudonyms = {a.annotator: imported_pseudonym(a.annotator) for a in annotations}
    names = sorted(set(pseudonyms.values()))
    existing = {a.pseudonym: a for a in session.scalars(select(Annotator).where(Annotator.pseudonym.in_(names)))}
    new = [n for n in names if n not in existing]
    for name in new:
        email = f"{name.removeprefix(IMPORTED_PREFIX)}@imported.invalid"
        annotator = Annotator(pseudonym=name, email=email, languages=[], simulated=False)
        session.add(annotator)
        existing[name] = annotator
    session.flush()

    batch = AnnotationBatch(
        project_id=project.id,
        scheme=scheme_name,
        overlap_k=max(Counter(a.item_id for a in annotations).values()),
        gold_rate=0.0,
        selection={"import": {"file": file_name, "sha256": digest, "judgements": n_judgements}},
    )
    session.add(batch)
    session.flush()
    now = datetime.now(timezone.utc)
    rows_out = [
        {
            "item_id": a.item_id,
            "annotator_id": existing[pseudonyms[a.annotator]].id,
            "scheme": scheme_name,
            "values": dict(a.values),
            "raw_result": [{"import": {"batch_id": batch.id, "file": file_name, "lines": list(a.lines)}}],
            "lead_time_s": a.lead_time_s,
            "origin": AnnotationOrigin.IMPORT,
            "is_adjudication": False,
            "created_at": a.created_at or now,
            "updated_at": now,
        }
        for a in annotations
    ]
    for start in range(0, len(rows_out), 5000):
        session.execute(insert(Annotation), rows_out[start : start + 5000])
    imported = select(
        Annotation.id,
        literal(HistoryAction.CREATED.value),
        Annotation.values,
        Annotation.raw_result,
        literal(now, type_=AnnotationHistory.__table__.c.recorded_at.type),
    ).where(Annotation.raw_result[0]["import"]["batch_id"].as_integer() == batch.id)
    session.execute(
        insert(AnnotationHistory).from_select(
            ["annotation_id", "action", "values", "raw_result", "recorded_at"], imported
        )
    )
    n_items = len({a.item_id for a in annotations})
    session.add(LabelImport(project_id=project.id, batch_id=batch.id, sha256=digest, file_name=file_name,
                            scheme=scheme_name, n_judgements=n_judgements, n_annotations=len(annotations),
                            n_items=n_items, n_annotators=len(names), imported_at=now))
    session.flush()
    return ImportSummary(
        batch_id=batch.id,
        scheme=scheme_name,
        file=file or file_name,
        n_judgements=n_judgements,
        n_annotations=len(annotations),
        n_items=n_items,
        n_annotators=len(names),
        new_annotators=tuple(new),
    )
