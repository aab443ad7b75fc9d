"""What each instance may serve: a document root per instance holding only its annotator's task media.

Label Studio serves local files under its ``LOCAL_FILES_DOCUMENT_ROOT`` to any logged-in user
who adds a storage over them, so an instance's root must hold nothing but the media of the
tasks it was given: each file is hard-linked (copied across file systems) into
``<serve root>/<instance>/`` at the same relative path it has under the data dir, when a task
that shows it is pushed. Nothing secret and nothing of another annotator is ever there.
"""

from __future__ import annotations

import errno
import html
import os
import re
import shutil
from pathlib import Path
from urllib.parse import quote, unquote, urlsplit

from sqlalchemy import select
from sqlalchemy.orm import Session

from annotation_configs.labelstudio import LabelStudioClient
from annotation_configs.labelstudio import instances as ls
from annotation_configs.xml import ChatLine, MediaKind, dialogue_html
from backend.db.models import Item, Task
from backend.domain import ItemKind, ValidationError

LOCAL_FILES_PREFIX = "/data/local-files/?d="
# an image source in dialogue HTML whose URL path before the local-files prefix is not the wanted one
_IMAGE_SRC = re.compile(r'src="([^"]*)"')
_DIALOGUE_SRC = re.compile(r'(src=")[^"]*?' + re.escape(LOCAL_FILES_PREFIX))


CHAT_CONTEXT_TURNS = 5
"""Turns of the conversation shown before a chat turn (with their stickers and photos)."""


def media_file(item: Item) -> tuple[MediaKind, Path | None]:
    """How ``item`` is shown and the media file it shows (None for text and chat turns)."""
    kind = ItemKind(item.kind)
    if kind is ItemKind.CHAT_TURN:
        return MediaKind.DIALOGUE, None
    if kind is ItemKind.TEXT:
        if not item.text:
            raise ValidationError(f"item {item.id} ({item.kind}) has no text to show")
        return MediaKind.TEXT, None
    utterance = item.utterance
    video = utterance.clip_video_path if utterance else None
    path = video or (utterance.clip_audio_path if utterance else None) or item.media_path
    if not path:
        raise ValidationError(f"item {item.id} ({item.kind}) has no media file; run `mmcurate process` first")
    return (MediaKind.VIDEO if video else MediaKind.for_item(kind)), Path(path)


def relative_media_path(data_dir: Path, path: Path) -> Path:
    """``path`` relative to the data dir (media outside it, or at its top, cannot be served)."""
    absolute = path if path.is_absolute() else data_dir / path
    try:
        relative = absolute.resolve().relative_to(data_dir)
    except ValueError:
        raise ValidationError(
            f"media file {str(absolute)!r} is outside the data dir {data_dir}; Label Studio serves only "
            "files under it (to logged-in users). Move it there or re-run `mmcurate process`"
        ) from None
    if len(relative.parts) < 2:
        raise ValidationError(f"media file {str(absolute)!r} must sit in a folder under the data dir, not at its top")
    return relative


def serve_file(document_root: Path, data_dir: Path, path: Path) -> Path:
    """Make ``path`` (under the data dir) available in ``document_root``; the relative path it has there."""
    relative = relative_media_path(data_dir, path)
    source = data_dir / relative
    if not source.is_file():
        raise ValidationError(f"media file {str(source)!r} is missing; re-run `mmcurate process`")
    target = document_root / relative
    if target.exists() and os.path.samefile(source, target):
        return relative
    target.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    staging = target.with_name(f".{target.name}.linking")
    staging.unlink(missing_ok=True)
    try:
        os.link(source, staging)
    except OSError as exc:
        if exc.errno not in (errno.EXDEV, errno.EPERM, errno.EMLINK):
            raise
        shutil.copy2(source, staging)
    staging.replace(target)
    return relative


def task_content(data_dir: Path, instance: ls.LabelStudioInstance, item: Item,
                 session: Session | None = None) -> tuple[MediaKind, str]:
    """What a task of ``item`` shows in ``instance``: its text, a local-files URL of its media, or (a chat
    turn) the conversation up to it as HTML with its stickers and photos — every file served there.
    A chat turn needs the ``session`` to read its conversation."""
    media, path = media_file(item)
    if media is MediaKind.DIALOGUE:
        if session is None:
            raise ValidationError(f"item {item.id} is a chat turn; its conversation is read with a session")
        return media, dialogue_html(chat_lines(session, data_dir, instance, item))
    if path is None:
        return media, item.text_normalized or item.text or ""
    return media, served_url(data_dir, instance, path)


def served_url(data_dir: Path, instance: ls.LabelStudioInstance, path: Path) -> str:
    """The URL ``instance`` shows ``path`` (under the data dir) at, the file served there first."""
    if instance.managed:
        relative = serve_file(instance.media_root, data_dir, path)
    else:  # a shared server: its document root is the deployment's own choice
        relative = relative_media_path(data_dir, path)
    return media_url_prefix(instance) + quote(relative.as_posix())


def chat_lines(session: Session, data_dir: Path, instance: ls.LabelStudioInstance, item: Item,
               depth: int = CHAT_CONTEXT_TURNS) -> list[ChatLine]:
    """The ``depth`` turns before chat turn ``item`` and the turn itself, each with its attached images
    (served to ``instance``), in conversation order."""
    turns = _shown_turns(session, item, depth)
    attached: dict[int, list[Item]] = {}
    for image in session.scalars(select(Item).where(Item.parent_id.in_([t.id for t in turns]))
                                 .order_by(Item.turn_index, Item.id)):
        attached.setdefault(image.parent_id, []).append(image)  # type: ignore[arg-type]
    lines = []
    for turn in turns:
        urls = tuple(served_url(data_dir, instance, Path(image.media_path))
                     for image in attached.get(turn.id, []) if image.media_path)
        time = turn.posted_at.strftime("%Y-%m-%d %H:%M") if turn.posted_at else None
        lines.append(ChatLine(author=turn.author or "", text=turn.text_normalized or turn.text or "", time=time,
                              image_urls=urls, current=turn.id == item.id))
    return lines


def media_url_prefix(instance: ls.LabelStudioInstance) -> str:
    """How a task's media URL starts: under the instance's gateway path when it has one.

    The labeling view requests a task's media URL as it is written in the task (Label Studio
    does not put its own path prefix in front of it), so behind the gateway the URL must
    carry ``/a/<name>`` itself.
    """
    base = urlsplit(instance.public_url).path.rstrip("/") if instance.public_url else ""
    return base + LOCAL_FILES_PREFIX


def storage_folder(data_dir: Path, instance: ls.LabelStudioInstance, url: str) -> str | None:
    """The local-files storage folder that covers ``url`` in ``instance`` (None for content that is not a file)."""
    at = url.find(LOCAL_FILES_PREFIX)
    if at < 0 or url[:at] not in ("", media_url_prefix(instance)[: -len(LOCAL_FILES_PREFIX)]):
        return None
    top = unquote(url[at + len(LOCAL_FILES_PREFIX):]).split("/", 1)[0]
    return str((instance.media_root if instance.managed else data_dir) / top)


def storage_folders(data_dir: Path, instance: ls.LabelStudioInstance, content: str) -> set[str]:
    """The local-files storage folders a task's content needs: of its media URL, or of every image in a
    chat turn's HTML (Label Studio serves a local file only under a storage of the task's project)."""
    if content.startswith("<"):
        urls = [html.unescape(m.group(1)) for m in _IMAGE_SRC.finditer(content)]
    else:
        urls = [content]
    return {folder for url in urls if (folder := storage_folder(data_dir, instance, url))}


def serve_instance_tasks(session: Session, data_dir: Path, instance: ls.LabelStudioInstance, instance_id: int) -> int:
    """Serve the media of every task ``instance`` already holds (after a move of its document root); how many files."""
    served = 0
    items = session.scalars(select(Item).join(Task, Task.item_id == Item.id).where(Task.instance_id == instance_id)
                            .distinct())
    for item in items:
        media, path = media_file(item)
        paths = [path] if path is not None else []
        if media is MediaKind.DIALOGUE:  # the stickers and photos of the turn and of the turns shown before it
            for line_item in _shown_turns(session, item):
                paths += [Path(p) for p in session.scalars(select(Item.media_path).where(
                    Item.parent_id == line_item.id, Item.media_path.is_not(None)))]
        for shown in paths:
            if (data_dir / relative_media_path(data_dir, shown)).is_file():
                serve_file(instance.media_root, data_dir, shown)
                served += 1
    return served


def _shown_turns(session: Session, item: Item, depth: int = CHAT_CONTEXT_TURNS) -> list[Item]:
    """Chat turn ``item`` and the ``depth`` turns of its conversation before it, in conversation order."""
    if item.dialogue_id is None or item.turn_index is None:
        return [item]
    earlier = session.scalars(
        # any export of the chat: a later, longer export adds its new turns to the same conversation
        select(Item).where(Item.project_id == item.project_id,
                           Item.dialogue_id == item.dialogue_id, Item.kind == ItemKind.CHAT_TURN,
                           Item.superseded_at.is_(None), Item.turn_index < item.turn_index)
        .order_by(Item.turn_index.desc(), Item.id.desc()).limit(depth))
    return [*reversed(list(earlier)), item]


def repair_media_urls(client: LabelStudioClient, instance: ls.LabelStudioInstance) -> int:
    """Point every task's media URL of a (running) instance at its current address; how many tasks changed.

    Media URLs are written into tasks at push with the gateway path of that moment (or none, before
    the gateway existed). When an instance's address changes, its tasks would ask for their media at
    the old one: each is rewritten to ``media_url_prefix(instance)`` (the file it names is unchanged).
    """
    wanted = media_url_prefix(instance)
    changed = 0
    for project in client.project_ids():
        for task in client.export_tasks(project, all_tasks=True):
            data = dict(task.get("data") or {})
            fixed = False
            for key in (m.value for m in MediaKind):
                value = data.get(key)
                if key == MediaKind.DIALOGUE.value and isinstance(value, str):  # image URLs inside the HTML
                    moved = _DIALOGUE_SRC.sub(lambda m: m.group(1) + wanted, value)
                    if moved != value:
                        data[key], fixed = moved, True
                elif isinstance(value, str) and LOCAL_FILES_PREFIX in value and not value.startswith(wanted):
                    data[key] = wanted + value.split(LOCAL_FILES_PREFIX, 1)[1]
                    fixed = True
            if fixed:
                client.update_task_data(int(task["id"]), data)
                changed += 1
    return changed

