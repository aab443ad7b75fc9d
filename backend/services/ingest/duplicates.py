"""Near-duplicate groups over a project's items: one representative annotated per group.

Each live item of the kinds asked for gets a fingerprint once (``items.fingerprint``, from
``ingest.dedup``): an image item its image and text (caption or OCR text), a text item its
text, a chat turn its text and the first sticker or photo attached to it — the whole item, so
the same text with another sticker, or the same sticker with another text, is another item.
Short chat turns without an image (a text key under ``MIN_CHAT_TEXT`` characters: "ok",
"哈哈") are left out: they repeat by nature and are labelled in their conversation.

Groups are formed per kind. The representative is a member people already worked on (the
lowest id of those), else the lowest id; ``items.duplicate_group`` is ``dup-<representative
id>`` on every member and ``items.duplicate_of_id`` points the others at it. Push sends only
representatives; a release keeps a group inside one split. Re-running regroups everything, so
an item added later joins the group it belongs to.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from backend.db.models import Item, Project
from backend.domain import ItemKind, ValidationError
from backend.repositories import items as item_repo
from ingest import dedup

MIN_CHAT_TEXT = 12


@dataclass(frozen=True)
class Grouped:
    groups: int
    members: int  # items that are not their group's representative


def regroup_duplicates(session: Session, project: Project, *, kinds: Sequence[ItemKind]) -> Grouped:
    """Fingerprint what is missing and set the near-duplicate groups of ``kinds`` afresh (not committed)."""
    groups = members = 0
    for kind in kinds:
        items = list(session.scalars(select(Item).where(Item.project_id == project.id, Item.kind == kind,
                                                         Item.parent_id.is_(None), Item.superseded_at.is_(None))
                                     .order_by(Item.id)))
        attachments = _first_attachments(session, project) if kind is ItemKind.CHAT_TURN else {}
        prints = []
        for item in items:
            stored = _fingerprint(item, attachments.get(item.id))
            if stored is not None:
                prints.append(stored)
        found = dedup.group_duplicates(prints)
        worked_on = item_repo.with_human_work(session, [key for group in found for key in group.members])
        by_id = {item.id: item for item in items}
        placed: set[int] = set()
        for group in found:
            ids = sorted(group.members)
            representative = next((i for i in ids if i in worked_on), ids[0])
            for item_id in ids:
                item = by_id[item_id]
                item.duplicate_group = f"dup-{representative}"
                item.duplicate_of_id = None if item_id == representative else representative
                placed.add(item_id)
            groups += 1
            members += len(ids) - 1
        for item in items:
            if item.id not in placed and (item.duplicate_group is not None or item.duplicate_of_id is not None):
                item.duplicate_group = item.duplicate_of_id = None
    session.flush()
    return Grouped(groups, members)


def _first_attachments(session: Session, project: Project) -> dict[int, str]:
    """The first image attached to each chat turn (by turn order, then id): turn id → image path."""
    first: dict[int, str] = {}
    for parent_id, path in session.execute(
        select(Item.parent_id, Item.media_path).where(Item.project_id == project.id, Item.parent_id.is_not(None),
                                                      Item.kind == ItemKind.IMAGE, Item.media_path.is_not(None))
        .order_by(Item.parent_id, Item.turn_index, Item.id)
    ):
        first.setdefault(parent_id, path)
    return first


def _fingerprint(item: Item, attachment: str | None) -> dedup.ItemFingerprint | None:
    """The item's fingerprint, computed and stored when missing or made by another method; None when
    the item has nothing to compare (no text and no image, or a short chat turn)."""
    stored = item.fingerprint or {}
    if stored.get("method") == dedup.FINGERPRINT_METHOD:
        if stored.get("none"):
            return None
        return dedup.ItemFingerprint(item.id, stored["text_key"], tuple(stored["minhash"]) if stored["minhash"] else None,
                                     stored["image_phash"], stored["image_phash_inner"])
    text = item.text_normalized or item.text or None
    image = item.media_path if item.kind == ItemKind.IMAGE else attachment
    try:
        key = dedup.text_key(text) if text is not None else ""
    except ValidationError:
        key = ""
    text = text if key else None
    reason = None
    if item.kind == ItemKind.CHAT_TURN and image is None and len(key) < MIN_CHAT_TEXT:
        reason = "short chat turn without an image"
    elif text is None and image is None:
        reason = "no text and no image"
    elif image is not None and not Path(image).is_file():
        reason = f"image {image} is missing"
    if reason is not None:
        item.fingerprint = {"method": dedup.FINGERPRINT_METHOD, "none": reason}
        return None
    try:
        made = dedup.fingerprint(item.id, text=text, image=image)
    except ValidationError as exc:
        item.fingerprint = {"method": dedup.FINGERPRINT_METHOD, "none": str(exc)}
        return None
    item.fingerprint = _as_json(made)
    return made


def _as_json(made: dedup.ItemFingerprint) -> dict[str, Any]:
    return {"method": made.method, "text_key": made.text_key, "minhash": list(made.minhash) if made.minhash else None,
            "image_phash": made.image_phash, "image_phash_inner": made.image_phash_inner}

