"""Chat exports in, as typed turns: Telegram Desktop JSON, WhatsApp text, generic JSONL.

Pure parsers, no database: ``read_chat_export(path, salt=...)`` reads one file and returns a
``ChatExport`` (or raises ``ValidationError`` naming the file and line; nothing is half-returned).
``parse_chat_export(text, source_name=..., salt=...)`` does the same for text already read.
The format is detected from the content unless ``format=`` is given (``CHAT_FORMATS``):

``telegram``
    Telegram Desktop's ``result.json``, a single chat (``{"name", "type", "id", "messages"}``)
    or a full export (``{"chats": {"list": [...]}, "left_chats": {...}}``); see
    ``ingest.sources.chat_telegram``.
``whatsapp``
    WhatsApp's exported text (``_chat.txt``, ``WhatsApp Chat with X.txt``), Android or iOS
    layout; see ``ingest.sources.chat_whatsapp``.
``jsonl``
    The format for everything else: one JSON object per line (blank lines allowed)::

        {"conversation": "c1", "turn": 0, "id": "m1", "author": "Li Wei",
         "time": "2024-01-01T10:00:00+08:00", "text": "你好",
         "reply_to": null, "attachments": [{"kind": "sticker", "path": "stickers/1.webp"}]}

    Required: ``conversation`` (string or integer), ``author`` (string), ``time`` (ISO 8601;
    aware when it carries an offset, else naive), ``text`` (string, may be empty). Optional:
    ``turn`` (integer >= 0; turns of a conversation are ordered by it, and then every line of
    that conversation must have one, else file order is kept), ``id`` (string or integer;
    default the ``turn``, else the position), ``reply_to`` (the ``id`` of a turn in the same
    conversation), ``attachments`` (objects with ``kind`` from ``ATTACHMENT_KINDS`` and
    optional ``path``, ``emoji``, ``mime``), ``labels`` (an object of field name → value the corpus
    already has for the turn, e.g. ``{"sentiment": "positive", "intent": "joke"}``). Any other key
    is an error, so typos are caught.

Pseudonymisation happens on the way in: each author becomes ``author-001``, ``author-002``, ...
in order of first appearance in the file, and the real name never leaves the parser.
``ChatExport.authors`` maps each pseudonym to ``pseudonymise(name, salt)``, an HMAC-SHA256, so
a later import of the same export with the same (secret, per-project) salt can be matched to
the earlier one. Conversation ids of Telegram and WhatsApp exports are salted hashes too (a
chat's id or title can be a person). Names *mentioned inside message text* are left as they
are: scrubbing text is not in scope here.

Left out, and counted in ``ChatExport.skipped`` by reason: Telegram service messages
(``service``) and ``unsupported`` ones, messages with neither text nor media (``empty``: polls,
locations, contacts), WhatsApp system lines (``system``), and replies whose target is not in the
export (``reply_outside_export``; the turn is kept, its ``reply_to`` becomes None).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import unicodedata
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path, PurePosixPath
from typing import Any

from backend.domain import ValidationError

CHAT_FORMATS = ("telegram", "whatsapp", "jsonl")
"""The formats ``format=`` accepts."""

ATTACHMENT_KINDS = frozenset({
    "sticker", "photo", "video", "animation", "voice", "audio", "file", "omitted",
})
"""What an attachment is; ``omitted``: the export says media was left out, not which kind."""


@dataclass(frozen=True)
class ChatAttachment:
    """Media sent with a turn: ``path`` is relative to the export folder, None when not exported."""

    kind: str
    path: str | None = None
    emoji: str | None = None
    mime: str | None = None

    def __post_init__(self) -> None:
        if self.kind not in ATTACHMENT_KINDS:
            raise ValidationError(f"attachment kind {self.kind!r} is not one of {', '.join(sorted(ATTACHMENT_KINDS))}")


@dataclass(frozen=True)
class ChatTurn:
    """One message of a conversation, author pseudonymised, text raw.

    ``index`` is the 0-based position in its conversation; ``line`` the 1-based line of the
    file where the message starts; ``time`` is timezone-aware only when the export says the
    zone (Telegram: UTC from ``date_unixtime``; JSONL with an offset), else naive local time.
    """

    conversation_id: str
    index: int
    message_id: str
    author: str
    time: datetime
    text: str
    reply_to: str | None
    attachments: tuple[ChatAttachment, ...]
    line: int
    labels: dict[str, Any] = field(default_factory=dict)
    """Labels the export already carries for the turn (JSONL ``labels``), field → value, unchecked here."""


@dataclass(frozen=True)
class ChatExport:
    """Every turn of one export file, grouped by conversation (in order of first appearance)."""

    format: str
    conversations: tuple[str, ...]
    turns: tuple[ChatTurn, ...]
    authors: dict[str, str]
    """Pseudonym → ``pseudonymise(name, salt)``; the real names are not kept."""
    skipped: dict[str, int] = field(default_factory=dict)


def pseudonymise(name: str, salt: str | bytes) -> str:
    """HMAC-SHA256 (hex) of ``name`` keyed by ``salt``: stable across imports, not reversible.

    The name is normalised first (format characters such as U+200E removed, NFC, runs of
    whitespace made one space), so the marks exports add around names do not change it.
    Names are guessable, so the salt must stay secret; it must not be empty.
    """
    return hmac.new(_salt_key(salt), normalise_name(name).encode("utf-8"), hashlib.sha256).hexdigest()


def _salt_key(salt: str | bytes) -> bytes:
    key = salt.encode("utf-8") if isinstance(salt, str) else bytes(salt)
    if not key:
        raise ValidationError("the pseudonymisation salt is empty; give the project's secret salt")
    return key


def normalise_name(name: str) -> str:
    """``name`` without format characters (bidi marks, zero-width), NFC, whitespace collapsed."""
    visible = "".join(ch for ch in name if unicodedata.category(ch) != "Cf")
    return " ".join(unicodedata.normalize("NFC", visible).split())


def read_chat_export(path: Path | str, *, salt: str | bytes, format: str | None = None,
                     dayfirst: bool | None = None) -> ChatExport:
    """Parse the chat export at ``path`` (UTF-8, BOM allowed); see the module docstring."""
    path = Path(path)
    try:
        text = path.read_bytes().decode("utf-8-sig")
    except OSError as exc:
        raise ValidationError(f"{path.name} cannot be read ({exc.strerror}); give a chat export file") from exc
    except UnicodeDecodeError as exc:
        raise ValidationError(f"{path.name} is not UTF-8 text (byte {exc.start}); export the chat again") from exc
    return parse_chat_export(text, source_name=path.name, salt=salt, format=format, dayfirst=dayfirst)


def parse_chat_export(text: str, *, source_name: str, salt: str | bytes, format: str | None = None,
                      dayfirst: bool | None = None) -> ChatExport:
    """Parse export ``text``; ``source_name`` names the file in errors. ``dayfirst``: WhatsApp only."""
    from ingest.sources import chat_telegram, chat_whatsapp  # they import the records above

    _salt_key(salt)
    text = text.removeprefix("\ufeff")
    if format is None:
        format = detect_format(text, source_name)
    if format not in CHAT_FORMATS:
        raise ValidationError(f"unknown chat format {format!r}; use one of {', '.join(CHAT_FORMATS)}")
    if dayfirst is not None and format != "whatsapp":
        raise ValidationError(f"dayfirst applies to WhatsApp exports only, not {format}")
    collector = ChatCollector(format, source_name, salt)
    if format == "telegram":
        chat_telegram.parse_telegram(text, collector)
    elif format == "whatsapp":
        chat_whatsapp.parse_whatsapp(text, collector, dayfirst=dayfirst)
    else:
        _parse_jsonl(text, collector)
    return collector.build(strict_replies=format == "jsonl")


def detect_format(text: str, source_name: str) -> str:
    """``telegram``, ``jsonl`` or ``whatsapp`` from the first non-blank line of ``text``."""
    from ingest.sources.chat_whatsapp import looks_like_whatsapp

    first = next((line.strip() for line in text.split("\n") if line.strip()), None)
    if first is None:
        raise ValidationError(f"{source_name} is empty; export the chat again")
    if first.startswith("{"):
        try:
            obj = json.loads(first)
        except json.JSONDecodeError:
            return "telegram"  # pretty-printed JSON: the first line is only "{"
        return "telegram" if isinstance(obj, dict) and ({"messages", "chats"} & obj.keys()) else "jsonl"
    if looks_like_whatsapp(first):
        return "whatsapp"
    raise ValidationError(
        f"{source_name}: cannot tell the chat format from its first line {first[:60]!r}; "
        f"give format= one of {', '.join(CHAT_FORMATS)}")


class ChatCollector:
    """Shared by the format parsers: numbers authors, gathers turns, builds the ``ChatExport``."""

    def __init__(self, format: str, source: str, salt: str | bytes) -> None:
        self.format, self.source, self.salt = format, source, salt
        self._pseudonyms: dict[str, str] = {}
        self._seen_names: dict[str, str] = {}
        self._authors: dict[str, str] = {}
        self._turns: dict[str, list[dict[str, Any]]] = {}
        self.skipped: dict[str, int] = {}

    def error(self, line: int | None, message: str) -> ValidationError:
        """A ``ValidationError`` that names the file and, when known, the line."""
        where = self.source if line is None else f"{self.source} line {line}"
        return ValidationError(f"{where}: {message}")

    def author(self, name: str, line: int) -> str:
        """The pseudonym of ``name``, numbered in order of first appearance."""
        if name in self._seen_names:
            return self._seen_names[name]
        if not normalise_name(name):
            raise self.error(line, "the author name is empty")
        digest = pseudonymise(name, self.salt)
        if digest not in self._pseudonyms:
            pseudonym = f"author-{len(self._pseudonyms) + 1:03d}"
            self._pseudonyms[digest] = pseudonym
            self._authors[pseudonym] = digest
        self._seen_names[name] = self._pseudonyms[digest]
        return self._seen_names[name]

    def conversation(self, prefix: str, raw_key: str) -> str:
        """A conversation id that does not show ``raw_key`` (a chat id or title)."""
        return f"{prefix}-{pseudonymise(raw_key, self.salt)[:12]}"

    def attachment(self, kind: str, path: str | None, line: int, emoji: str | None = None,
                   mime: str | None = None) -> ChatAttachment:
        """An attachment, its ``path`` checked to stay inside the export folder."""
        if kind not in ATTACHMENT_KINDS:
            raise self.error(line, f"attachment kind {kind!r} is not one of {', '.join(sorted(ATTACHMENT_KINDS))}")
        if path is not None:
            posix = path.replace("\\", "/")
            escapes = posix.startswith("/") or re.match(r"[A-Za-z]:", posix) or ".." in PurePosixPath(posix).parts
            if not posix or escapes:
                raise self.error(line, f"attachment path {path!r} must be relative, inside the export folder")
        return ChatAttachment(kind, path, emoji, mime)

    def skip(self, reason: str) -> None:
        """Count a message or line left out."""
        self.skipped[reason] = self.skipped.get(reason, 0) + 1

    def add(self, *, conversation_id: str, message_id: str, author: str, time: datetime, text: str,
            reply_to: str | None, attachments: tuple[ChatAttachment, ...], line: int,
            labels: dict[str, Any] | None = None) -> None:
        """Append a turn to its conversation (indexes follow the order of ``add``)."""
        self._turns.setdefault(conversation_id, []).append(dict(
            conversation_id=conversation_id, message_id=message_id, author=author, time=time,
            text=text, reply_to=reply_to, attachments=attachments, line=line, labels=dict(labels or {})))

    def build(self, *, strict_replies: bool = False) -> ChatExport:
        """The export; raises when it holds no turn, a message id repeats or (strict) a reply dangles."""
        turns: list[ChatTurn] = []
        for drafts in self._turns.values():
            seen: dict[str, int] = {}
            for draft in drafts:
                if draft["message_id"] in seen:
                    raise self.error(draft["line"], f"message id {draft['message_id']!r} repeats "
                                                    f"line {seen[draft['message_id']]} in the same conversation")
                seen[draft["message_id"]] = draft["line"]
            for index, draft in enumerate(drafts):
                if draft["reply_to"] is not None and draft["reply_to"] not in seen:
                    if strict_replies:
                        raise self.error(draft["line"], f"reply_to {draft['reply_to']!r} is not the id "
                                                        "of a turn in this conversation")
                    self.skip("reply_outside_export")
                    draft = {**draft, "reply_to": None}
                turns.append(ChatTurn(index=index, **draft))
        if not turns:
            left = ", ".join(f"{n} {reason}" for reason, n in sorted(self.skipped.items()))
            raise self.error(None, "the export holds no messages" + (f" (skipped: {left})" if left else ""))
        return ChatExport(self.format, tuple(self._turns), tuple(turns), dict(self._authors), dict(self.skipped))


_JSONL_KEYS = frozenset({"conversation", "turn", "id", "author", "time", "text", "reply_to", "attachments", "labels"})
_ATTACHMENT_KEYS = frozenset({"kind", "path", "emoji", "mime"})


def _parse_jsonl(text: str, collector: ChatCollector) -> None:
    rows: dict[str, list[dict[str, Any]]] = {}
    for number, raw in enumerate(text.split("\n"), start=1):
        if not raw.strip():
            continue
        err = _line_error(collector, number)
        try:
            obj = json.loads(raw)
        except json.JSONDecodeError as exc:
            raise err(f"not valid JSON ({exc.msg} at column {exc.colno})") from exc
        if not isinstance(obj, dict):
            raise err(f"expected a JSON object, not {type(obj).__name__}")
        unknown = sorted(obj.keys() - _JSONL_KEYS)
        if unknown:
            raise err(f"unknown key {unknown[0]!r}; allowed: {', '.join(sorted(_JSONL_KEYS))}")
        for key in ("conversation", "author", "time", "text"):
            if key not in obj:
                raise err(f"missing {key!r}")
        conversation = _identifier(obj["conversation"], "conversation", err)
        if not isinstance(obj["author"], str):
            raise err(f"'author' must be a string, not {obj['author']!r}")
        if not isinstance(obj["text"], str):
            raise err(f"'text' must be a string, not {obj['text']!r}")
        try:
            time = datetime.fromisoformat(obj["time"])
        except (TypeError, ValueError) as exc:
            raise err(f"'time' is not an ISO 8601 date: {obj['time']!r}") from exc
        labels = obj.get("labels")
        if labels is not None and (not isinstance(labels, dict) or not all(isinstance(k, str) for k in labels)):
            raise err(f"'labels' must be an object of field names to values, not {labels!r}")
        turn = obj.get("turn")
        if turn is not None and (not isinstance(turn, int) or isinstance(turn, bool) or turn < 0):
            raise err(f"'turn' must be an integer >= 0, not {turn!r}")
        rows.setdefault(conversation, []).append(dict(
            line=number, turn=turn, author=collector.author(obj["author"], number), time=time, text=obj["text"],
            id=None if obj.get("id") is None else _identifier(obj["id"], "id", err),
            reply_to=None if obj.get("reply_to") is None else _identifier(obj["reply_to"], "reply_to", err),
            labels=labels or {},
            attachments=_jsonl_attachments(obj.get("attachments"), collector, number)))
    for conversation, items in rows.items():
        with_turn = [item for item in items if item["turn"] is not None]
        if with_turn and len(with_turn) != len(items):
            missing = next(item for item in items if item["turn"] is None)
            raise collector.error(missing["line"], f"'turn' is missing, but other lines of conversation "
                                                   f"{conversation!r} have one; give all or none")
        if with_turn:
            items.sort(key=lambda item: item["turn"])
            for before, after in zip(items, items[1:]):
                if before["turn"] == after["turn"]:
                    raise collector.error(after["line"], f"turn {after['turn']} repeats line {before['line']} "
                                                         f"in conversation {conversation!r}")
        for position, item in enumerate(items):
            default_id = item["turn"] if item["turn"] is not None else position
            collector.add(conversation_id=conversation, message_id=item["id"] or str(default_id),
                          author=item["author"], time=item["time"], text=item["text"],
                          reply_to=item["reply_to"], attachments=item["attachments"], line=item["line"],
                          labels=item["labels"])


def _line_error(collector: ChatCollector, line: int):
    return lambda message: collector.error(line, message)


def _identifier(value: Any, key: str, err) -> str:
    if isinstance(value, bool) or not isinstance(value, (str, int)) or value == "":
        raise err(f"{key!r} must be a non-empty string or an integer, not {value!r}")
    return str(value)


def _jsonl_attachments(value: Any, collector: ChatCollector, line: int) -> tuple[ChatAttachment, ...]:
    if value is None:
        return ()
    if not isinstance(value, list):
        raise collector.error(line, f"'attachments' must be a list, not {value!r}")
    found = []
    for item in value:
        if not isinstance(item, dict) or "kind" not in item:
            raise collector.error(line, f"each attachment must be an object with a 'kind', not {item!r}")
        unknown = sorted(item.keys() - _ATTACHMENT_KEYS)
        if unknown:
            raise collector.error(line, f"unknown attachment key {unknown[0]!r}; allowed: "
                                        f"{', '.join(sorted(_ATTACHMENT_KEYS))}")
        for key in _ATTACHMENT_KEYS:
            if item.get(key) is not None and not isinstance(item[key], str):
                raise collector.error(line, f"attachment {key!r} must be a string, not {item[key]!r}")
        found.append(collector.attachment(item["kind"], item.get("path"), line, item.get("emoji"), item.get("mime")))
    return tuple(found)
