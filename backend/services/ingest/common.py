"""What every ingest of items that are not clips shares: the report, media copies, new items.

Images (memes, stickers, chat photos) are copied into the data dir under their content hash
(``<data_dir>/media/images/ab/abcdef….png``): Label Studio serves only files under the data
dir, a release reads them from there, and the same picture twice is one file.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from backend.db.models import Item, Project, Source
from backend.services.imported_labels import ImportedAnnotation, store_imported_annotations
from backend.services.text import apply_text_profile
from backend.settings import Settings

IMAGES_FOLDER = "images"
DEFAULT_LABEL_SET = "corpus"
"""The imported annotator set (``imported:corpus``) the labels an input brings are stored under unless named."""


@dataclass
class IngestSummary:
    """What one ``ingest images|chat|text`` did, as the CLI prints it and ``--json`` writes it.

    ``failed``: (where, why) of each input left out (a corrupt image, an attachment that cannot be
    shown); ``skipped``: counts by reason of what was left out on purpose; ``labels``: the
    labels that came with the input and were stored as annotations of an imported annotator set.
    """

    kind: str
    source_ids: list[int] = field(default_factory=list)
    items_created: int = 0
    items_existing: int = 0
    attachments: int = 0
    already_registered: int = 0
    failed: list[tuple[str, str]] = field(default_factory=list)
    skipped: dict[str, int] = field(default_factory=dict)
    duplicate_groups: int = 0
    duplicate_members: int = 0
    labels: dict[str, Any] | None = None

    def skip(self, reason: str, n: int = 1) -> None:
        self.skipped[reason] = self.skipped.get(reason, 0) + n

    def as_json(self) -> dict[str, Any]:
        return {
            "kind": self.kind, "source_ids": self.source_ids, "items_created": self.items_created,
            "items_existing": self.items_existing, "attachments": self.attachments,
            "already_registered": self.already_registered,
            "failed": [{"input": where, "reason": why} for where, why in self.failed],
            "skipped": dict(self.skipped), "duplicate_groups": self.duplicate_groups,
            "duplicate_members": self.duplicate_members, "labels": self.labels,
        }


def stored_image(settings: Settings, path: Path, digest: str) -> Path:
    """The copy of image ``path`` (SHA-256 ``digest``) in the data dir, made when missing."""
    suffix = path.suffix.lower() or ".img"
    target = settings.media_dir / IMAGES_FOLDER / digest[:2] / f"{digest}{suffix}"
    if not target.is_file():
        target.parent.mkdir(parents=True, exist_ok=True)
        staging = target.with_name(f".{target.name}.copying")
        shutil.copyfile(path, staging)
        staging.replace(target)
    return target


def source_by_hash(session: Session, project: Project, digest: str) -> Source | None:
    """The project's source with this content hash (the same input registered before), if any."""
    return session.scalar(select(Source).where(Source.project_id == project.id, Source.content_hash == digest)
                          .order_by(Source.id).limit(1))


def existing_external_ids(session: Session, project: Project, kind: str, ids: list[str]) -> dict[str, int]:
    """Item id by external id, among the project's items of ``kind`` with one of ``ids``."""
    found: dict[str, int] = {}
    for start in range(0, len(ids), 900):
        chunk = ids[start:start + 900]
        found.update((external, item_id) for external, item_id in session.execute(
            select(Item.external_id, Item.id).where(Item.project_id == project.id, Item.kind == kind,
                                                   Item.external_id.in_(chunk))))
    return found


def add_item(session: Session, project: Project, source: Source, **columns: Any) -> Item:
    """A new item of ``project`` from ``source``, its text profiled (``apply_text_profile``); flushed."""
    item = Item(project_id=project.id, source_id=source.id, **columns)
    apply_text_profile(item, project)
    session.add(item)
    session.flush()
    return item


def item_language(explicit: str | None, project: Project) -> str | None:
    """The language an item is in: as given, else the project's when it has exactly one."""
    if explicit:
        return explicit.strip().lower()
    languages = list(project.languages or [])
    return languages[0] if len(languages) == 1 else None


def store_corpus_labels(session: Session, project: Project, scheme_name: str, annotations: list[ImportedAnnotation],
                        *, path: Path, digest: str) -> dict[str, Any]:
    """Store the labels an input file brought as one imported batch; what ``IngestSummary.labels`` reports."""
    from qa.importer import imported_pseudonym

    imported = store_imported_annotations(session, project, scheme_name, annotations, file_name=path.name,
                                          digest=digest, n_judgements=sum(len(a.values) for a in annotations),
                                          file=str(path))
    return {"scheme": scheme_name, "annotator": imported_pseudonym(annotations[0].annotator),
            "batch_id": imported.batch_id, "items": imported.n_items,
            "fields": sorted({name for a in annotations for name in a.values})}
