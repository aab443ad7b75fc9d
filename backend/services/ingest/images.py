"""``mmcurate ingest images DIR``: a folder of memes (or other images) in, one source and one item each.

Each image becomes an ``image`` item: the file copied into the data dir by content hash, the
caption (or the OCR text when there is none) as its text, OCR words with boxes and
confidences in ``items.ocr``, provenance (source URL, author, licence) on its source. The
same image content registered before is counted, not added again; an unreadable image is
recorded as a failed source with its reason and the rest go on. Near-duplicates are grouped
after the folder is in (``backend.services.ingest.duplicates``).
"""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path

from sqlalchemy.orm import Session

from backend.db.models import Project, Source
from backend.domain import ItemKind, MediaError, Progress, SourceKind, SourceStatus, ValidationError
from backend.repositories import projects as project_repo
from backend.services.ingest.common import IngestSummary, add_item, item_language, source_by_hash, stored_image
from backend.services.ingest.duplicates import regroup_duplicates
from backend.settings import Settings
from ingest.sources.images import FoundImage, scan_images


def ocr_languages(project: Project, image_language: str | None) -> list[str]:
    """The languages OCR reads an image with: the project's, and the image's own if it is not among them
    (``ingest.ocr`` adds English to every reading)."""
    languages = list(project.languages or [])
    if image_language and image_language not in languages:
        languages.append(image_language)
    return languages


def ingest_images(session: Session, settings: Settings, project: str | int, folder: Path | str, *,
                  ocr: bool = True, psm: int = 3, on_progress: Progress | None = None) -> IngestSummary:
    """Register every image under ``folder`` (see the module docstring); committed at the end.

    With ``ocr`` the text in each image is read with the project's languages together; a
    missing tesseract or language pack stops the command before anything is stored
    (``ServiceUnavailableError`` naming the Debian package).
    """
    from ingest import ocr as ocr_engine

    project = project_repo.get(session, project)
    found = scan_images(folder, on_progress)
    if ocr:
        for languages in {tuple(ocr_languages(project, image.language)) for image in found}:
            ocr_engine.tesseract_languages(languages)
    summary = IngestSummary(kind=ItemKind.IMAGE.value)
    for done, image in enumerate(found, start=1):
        earlier = source_by_hash(session, project, _input_key(image))
        if earlier is not None and earlier.status != SourceStatus.FAILED:
            summary.already_registered += 1
        else:
            if earlier is not None:  # failed before (no items): tried again
                session.delete(earlier)
                session.flush()
            if image.error is not None:
                summary.failed.append((image.relative, image.error))
                _failed_source(session, project, image)
            else:
                _register(session, settings, project, image, summary, ocr=ocr, psm=psm)
        if on_progress:
            on_progress("images", done, len(found))
    session.flush()
    grouped = regroup_duplicates(session, project, kinds=(ItemKind.IMAGE,))
    summary.duplicate_groups, summary.duplicate_members = grouped.groups, grouped.members
    session.commit()
    return summary


def _register(session: Session, settings: Settings, project: Project, image: FoundImage, summary: IngestSummary,
              *, ocr: bool, psm: int) -> None:
    from ingest import ocr as ocr_engine

    assert image.content_hash is not None
    source = Source(project_id=project.id, kind=SourceKind.IMAGE, uri=image.source_url or image.path.resolve().as_uri(),
                    title=image.title or image.path.stem, author=image.author, licence=image.licence,
                    fetched_at=datetime.now(timezone.utc), content_hash=image.content_hash,
                    size_bytes=image.size_bytes, status=SourceStatus.DONE,
                    extra={"relative_path": image.relative, "width": image.width, "height": image.height,
                           **({"metadata": image.extra} if image.extra else {})})
    session.add(source)
    session.flush()
    stored = stored_image(settings, image.path, image.content_hash)
    language = item_language(image.language, project)
    reading = None
    if ocr:
        try:
            reading = ocr_engine.recognise(stored, ocr_languages(project, language), psm=psm)
        except (MediaError, ValidationError) as exc:  # the image is kept, without OCR text; the reason recorded
            source.error = f"OCR failed: {exc}"
            summary.failed.append((image.relative, source.error))
    ocr_json = None
    if reading is not None:
        ocr_json = reading.as_json()
        ocr_json.pop("text")
    add_item(session, project, source, kind=ItemKind.IMAGE, external_id=image.relative, media_path=str(stored),
             text=image.caption or (reading.text if reading is not None and reading.text else None),
             ocr_text=reading.text if reading is not None else None, ocr=ocr_json, language=language)
    summary.source_ids.append(source.id)
    summary.items_created += 1


def _input_key(image: FoundImage) -> str:
    """The content hash a source of this image is known by (an unreadable file: by its path)."""
    if image.content_hash is not None:
        return image.content_hash
    import hashlib

    return "unreadable:" + hashlib.sha256(str(image.path.resolve()).encode()).hexdigest()


def _failed_source(session: Session, project: Project, image: FoundImage) -> None:
    """An image that cannot be read is kept on record as a failed source (``sources list`` shows why)."""
    session.add(Source(project_id=project.id, kind=SourceKind.IMAGE, uri=image.path.resolve().as_uri(),
                       title=image.path.stem, fetched_at=datetime.now(timezone.utc), content_hash=_input_key(image),
                       size_bytes=image.size_bytes, status=SourceStatus.FAILED, error=image.error,
                       extra={"relative_path": image.relative}))
