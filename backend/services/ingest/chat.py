"""``mmcurate ingest chat FILE``: a chat export in, one ``chat_turn`` item per message.

The export is parsed by ``ingest.sources.chat`` (Telegram Desktop JSON, WhatsApp text, generic
JSONL), authors pseudonymised there with a secret salt per project (kept in the data dir's
secrets), so the same person gets the same pseudonym in every export of the project and the
real name is never stored. Each turn keeps its conversation (``dialogue_id``), position
(``turn_index``), author, time and reply-to. Stickers and photos that are in the export folder
become ``image`` items attached to their turn (``parent_id``), copied into the data dir; other
attachments (voice, video, files, animated ``.tgs`` stickers) are counted, not shown.

A file registered before is not read again. A later export of the same chat (its conversation
ids are stable under the salt) adds only the messages not already in: turns are known by
``<conversation>:<message id>``. Times without a zone (WhatsApp, JSONL without an offset)
are stored as if UTC; the export does not say more.
"""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from sqlalchemy.orm import Session

from backend.db.models import Item, Project, Source
from annotation_configs.registry import Scheme, shipped_registry
from backend.domain import ItemKind, MmcurateError, Progress, SourceKind, SourceStatus, ValidationError
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
    stored_image,
)
from backend.services.ingest.duplicates import regroup_duplicates
from backend.services.secrets import stored_secret
from backend.settings import Settings
from ingest.media import file_sha256
from ingest.sources.chat import ChatAttachment, ChatTurn, read_chat_export
from ingest.sources.images import IMAGE_SUFFIXES, describe_image
from ingest.sources.texts import corpus_error

SHOWN_ATTACHMENTS = frozenset({"sticker", "photo", "animation"})
"""Attachment kinds shown to annotators as images (when the file is an image Pillow reads)."""


def pseudonym_salt(settings: Settings, project: Project) -> str:
    """The project's secret salt for author pseudonyms (created on first use, kept in the data dir)."""
    return stored_secret(settings, f"chat_author_salt_project_{project.id}")


def ingest_chat(session: Session, settings: Settings, project: str | int, path: Path | str, *,
                format: str | None = None, dayfirst: bool | None = None, language: str | None = None,
                licence: str | None = None, scheme: str | None = None, labels_as: str = DEFAULT_LABEL_SET,
                on_progress: Progress | None = None) -> IngestSummary:
    """Register one chat export (see the module docstring); committed at the end, nothing on an error.

    Labels a JSONL export carries per turn (``labels``) are checked against ``scheme`` (else the
    project's first scheme that has every field they name) before anything is stored, and stored as
    annotations of ``imported:<labels_as>``, as ``ingest text`` does.
    """
    project = project_repo.get(session, project)
    path = Path(path)
    if not path.is_file():
        raise ValidationError(f"{path} is not a file; give a chat export (Telegram result.json, WhatsApp .txt, JSONL)")
    summary = IngestSummary(kind=ItemKind.CHAT_TURN.value)
    digest = file_sha256(path)
    earlier = source_by_hash(session, project, digest)
    if earlier is not None:
        summary.already_registered = 1
        summary.source_ids.append(earlier.id)
        return summary
    export = read_chat_export(path, salt=pseudonym_salt(settings, project), format=format, dayfirst=dayfirst)
    label_scheme, checked = _checked_labels(project, export.turns, scheme, path.name)
    source = Source(project_id=project.id, kind=SourceKind.CHAT, uri=path.resolve().as_uri(), title=path.name,
                    licence=licence, fetched_at=datetime.now(timezone.utc), content_hash=digest,
                    size_bytes=path.stat().st_size, status=SourceStatus.DONE,
                    extra={"format": export.format, "conversations": len(export.conversations),
                           "turns": len(export.turns), "skipped": export.skipped,
                           "author_keys": export.authors})
    session.add(source)
    session.flush()
    summary.source_ids.append(source.id)
    for reason, n in export.skipped.items():
        summary.skip(reason, n)
    known = existing_external_ids(session, project, ItemKind.CHAT_TURN,
                                  [turn_key(turn) for turn in export.turns])
    items: dict[str, int] = dict(known)
    created: list[tuple[ChatTurn, Item]] = []
    shown_in = item_language(language, project)
    for done, turn in enumerate(export.turns, start=1):
        key = turn_key(turn)
        if key in known:
            summary.items_existing += 1
            continue
        item = add_item(session, project, source, kind=ItemKind.CHAT_TURN, dialogue_id=turn.conversation_id,
                        turn_index=turn.index, external_id=key, author=turn.author, posted_at=_aware(turn.time),
                        text=turn.text or None, language=shown_in)
        items[key] = item.id
        created.append((turn, item))
        summary.items_created += 1
        for number, attachment in enumerate(turn.attachments):
            _attach(session, settings, project, source, path, turn, item, number, attachment, summary)
        if on_progress:
            on_progress("turns", done, len(export.turns))
    for turn, item in created:
        if turn.reply_to is not None:
            item.reply_to_id = items.get(f"{turn.conversation_id}:{turn.reply_to}")
    session.flush()
    annotations = [ImportedAnnotation(item.id, labels_as.strip() or DEFAULT_LABEL_SET, checked[turn_key(turn)], (turn.line,))
                   for turn, item in created if turn_key(turn) in checked]
    if annotations and label_scheme is not None:
        summary.labels = store_corpus_labels(session, project, label_scheme.name, annotations, path=path, digest=digest)
    grouped = regroup_duplicates(session, project, kinds=(ItemKind.CHAT_TURN,))
    summary.duplicate_groups, summary.duplicate_members = grouped.groups, grouped.members
    session.commit()
    return summary


def _checked_labels(project: Project, turns: tuple[ChatTurn, ...], scheme: str | None,
                    file_name: str) -> tuple[Scheme | None, dict[str, dict[str, Any]]]:
    """The scheme the turns' labels answer and each labelled turn's values, normalised; every bad label
    is reported with its line in one error."""
    labelled = [turn for turn in turns if turn.labels]
    if not labelled:
        return None, {}
    registry = shipped_registry()
    names = {name for turn in labelled for name in turn.labels}
    if scheme is not None:
        chosen = registry[scheme]
    else:
        chosen = next((registry[s] for s in project.schemes or [] if s in registry
                       and names <= set(registry[s].field_names)), None)
        if chosen is None:
            raise ValidationError(f"{file_name}: the turns carry labels for {', '.join(sorted(names))}, which no scheme "
                                  f"of project {project.name!r} has all of; name one with --scheme")
    checked, problems = {}, []
    for turn in labelled:
        try:
            checked[turn_key(turn)] = chosen.check_values(turn.labels)
        except MmcurateError as exc:
            problems.append(f"line {turn.line}: {exc}")
    if problems:
        raise corpus_error(file_name, problems)
    return chosen, checked


def turn_key(turn: ChatTurn) -> str:
    """How a turn is known across exports of its chat: ``<conversation>:<message id>``."""
    return f"{turn.conversation_id}:{turn.message_id}"


def _attach(session: Session, settings: Settings, project: Project, source: Source, export_path: Path,
            turn: ChatTurn, turn_item: Item, number: int, attachment: ChatAttachment, summary: IngestSummary) -> None:
    """A sticker or photo of ``turn`` as an image item attached to it; anything else counted."""
    where = f"{export_path.name} line {turn.line}"
    if attachment.kind not in SHOWN_ATTACHMENTS:
        summary.skip(f"{attachment.kind}_attachment")
        return
    if attachment.path is None:
        summary.skip("attachment_not_exported")
        return
    file = export_path.parent / attachment.path
    if not file.is_file():
        summary.failed.append((where, f"{attachment.kind} {attachment.path} is not in the export folder; "
                                      "export the chat with media, or ingest without it"))
        return
    if file.suffix.lower() not in IMAGE_SUFFIXES:
        summary.skip(f"{attachment.kind}_not_an_image")  # animated .tgs / video .webm stickers
        return
    found = describe_image(file, export_path.parent)
    if found.error is not None or found.content_hash is None:
        summary.failed.append((where, found.error or f"{attachment.path} cannot be read"))
        return
    stored = stored_image(settings, file, found.content_hash)
    add_item(session, project, source, kind=ItemKind.IMAGE, parent_id=turn_item.id, dialogue_id=turn.conversation_id,
             turn_index=turn.index, external_id=f"{turn_key(turn)}:{number}", author=turn.author,
             posted_at=turn_item.posted_at, media_path=str(stored), text=attachment.emoji or None,
             language=turn_item.language)
    summary.attachments += 1


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=timezone.utc)
