"""Telegram Desktop's JSON export (``result.json``) into chat turns; use ``chat.read_chat_export``.

The layout, as Telegram Desktop writes it (``Telegram/SourceFiles/export/output/
export_output_json.cpp`` in telegramdesktop/tdesktop): a single-chat export is
``{"name", "type", "id", "messages": [...]}``; a full export is ``{"about", ...,
"chats": {"about", "list": [chat, ...]}, "left_chats": {...}}``. A message is ``{"id", "type":
"message" | "service" | "unsupported", "date" (ISO, local time of the exporting machine, no
zone), "date_unixtime" (a string), "from" (null for a deleted account), "from_id" ("user123",
"channel456"), "reply_to_message_id", "reply_to_peer_id" (when the reply is in another chat),
"text", ...}``. ``text`` is a string, or a list of strings and entity objects such as
``{"type": "bold", "text": "..."}``; they are joined. Media: ``"photo": PATH`` for a photo;
``"file": PATH`` with ``media_type`` (``sticker`` with ``sticker_emoji``, ``animation``,
``voice_message``, ``video_message``, ``video_file``, ``audio_file``, none for a document) and
``mime_type``. PATH is relative to the export folder (``stickers/sticker.webp``,
``photos/photo_1@01-01-2024_10-00-00.jpg``) or a note in parentheses, such as
``(File not included. Change data exporting settings to download.)``, read as "no path".

Decisions: the author is keyed on ``from_id``, which survives a change of display name
(``from`` only in old exports without ids); ``time`` is UTC from ``date_unixtime`` (the naive
``date`` only where an export lacks it); a reply into another chat or to a message outside the
export keeps the turn and drops ``reply_to``; an unknown ``media_type`` is read as ``file``;
``line`` is the line of the message's opening brace.
"""

from __future__ import annotations

import bisect
import json
import json.decoder
import json.scanner
import re
from datetime import datetime, timezone
from typing import Any

from ingest.sources.chat import ChatAttachment, ChatCollector

MEDIA_KINDS = {
    "sticker": "sticker", "animation": "animation", "voice_message": "voice",
    "video_message": "video", "video_file": "video", "audio_file": "audio",
}
"""Telegram's ``media_type`` → attachment kind; a ``file`` without one is a document (``file``)."""


def parse_telegram(text: str, collector: ChatCollector) -> None:
    """Add every message of every chat in ``text`` to ``collector``."""
    try:
        data = _load_located(text)
    except json.JSONDecodeError as exc:
        raise collector.error(exc.lineno, f"not valid JSON ({exc.msg} at column {exc.colno})") from exc
    lines = _Lines(text)
    for chat in _chats(data, collector, lines):
        conversation = collector.conversation("telegram", str(chat["id"]))
        for message in chat["messages"]:
            if not isinstance(message, _Located):
                raise collector.error(lines.at(chat), f"a message must be a JSON object, not {message!r}")
            _message(message, conversation, collector, lines.line_of(message))


class _Located(dict):
    """A JSON object that remembers where its opening brace is in the text."""

    __slots__ = ("offset",)


def _load_located(text: str) -> Any:
    """``json.loads`` through the pure-Python scanner, every object a ``_Located``."""
    def parse_object(s_and_end, strict, scan_once, object_hook, object_pairs_hook, memo=None):
        obj, end = json.decoder.JSONObject(s_and_end, strict, scan_once, object_hook, object_pairs_hook, memo)
        located = _Located(obj)
        located.offset = s_and_end[1] - 1
        return located, end

    decoder = json.JSONDecoder()
    decoder.parse_object = parse_object
    decoder.scan_once = json.scanner.py_make_scanner(decoder)
    return decoder.decode(text)


class _Lines:
    """Offset in the text → 1-based line number."""

    def __init__(self, text: str) -> None:
        self._newlines = [match.start() for match in re.finditer("\n", text)]

    def line_of(self, value: _Located) -> int:
        return bisect.bisect_left(self._newlines, value.offset) + 1

    def at(self, value: Any) -> int | None:
        return self.line_of(value) if isinstance(value, _Located) else None


def _chats(data: Any, collector: ChatCollector, lines: _Lines) -> list[dict[str, Any]]:
    if not isinstance(data, dict) or not ({"messages", "chats"} & data.keys()):
        raise collector.error(None, "not a Telegram Desktop export: no 'messages' (one chat) or "
                                    "'chats' (full export) at the top level")
    if "messages" in data:
        chats = [data]
    else:
        chats = []
        for key in ("chats", "left_chats"):
            if key not in data:
                continue
            section = data[key]
            if not isinstance(section, dict) or not isinstance(section.get("list"), list):
                raise collector.error(lines.at(section), f"{key!r} must be an object with a 'list' of chats")
            chats.extend(section["list"])
    for chat in chats:
        if not isinstance(chat, dict) or not isinstance(chat.get("messages"), list):
            raise collector.error(lines.at(chat), "a chat must be an object with a 'messages' list")
        if isinstance(chat.get("id"), bool) or not isinstance(chat.get("id"), int):
            raise collector.error(lines.at(chat), f"the chat's 'id' must be an integer, not {chat.get('id')!r}")
    return chats


def _message(msg: dict[str, Any], conversation: str, collector: ChatCollector, line: int) -> None:
    def fail(message: str):
        return collector.error(line, message)

    kind = msg.get("type")
    if kind in ("service", "unsupported"):
        collector.skip(kind)
        return
    if kind != "message":
        raise fail(f"message 'type' {kind!r} is not 'message', 'service' or 'unsupported'")
    message_id = msg.get("id")
    if isinstance(message_id, bool) or not isinstance(message_id, int):
        raise fail(f"message 'id' must be an integer, not {message_id!r}")
    who = msg["from_id"] if msg.get("from_id") is not None else msg.get("from")
    if isinstance(who, bool) or not isinstance(who, (str, int)):
        raise fail(f"message {message_id} has no 'from_id' or 'from'")
    author = collector.author(str(who), line)
    time = _time(msg, fail)
    text = _text(msg.get("text", ""), fail)
    attachments = _attachments(msg, collector, line, fail)
    reply_to = msg.get("reply_to_message_id")
    if reply_to is not None and (isinstance(reply_to, bool) or not isinstance(reply_to, int)):
        raise fail(f"'reply_to_message_id' must be an integer, not {reply_to!r}")
    if reply_to is not None and msg.get("reply_to_peer_id") is not None:
        collector.skip("reply_outside_export")
        reply_to = None
    if not text and not attachments:
        collector.skip("empty")
        return
    collector.add(conversation_id=conversation, message_id=str(message_id), author=author, time=time,
                  text=text, reply_to=None if reply_to is None else str(reply_to),
                  attachments=attachments, line=line)


def _time(msg: dict[str, Any], fail) -> datetime:
    if "date_unixtime" in msg:
        raw = msg["date_unixtime"]
        if isinstance(raw, bool) or not (isinstance(raw, int) or (isinstance(raw, str) and raw.isdigit())):
            raise fail(f"'date_unixtime' is not a count of seconds: {raw!r}")
        return datetime.fromtimestamp(int(raw), tz=timezone.utc)
    try:
        return datetime.fromisoformat(msg["date"])
    except (KeyError, TypeError, ValueError) as exc:
        raise fail(f"'date' is not an ISO 8601 date: {msg.get('date')!r}") from exc


def _text(value: Any, fail) -> str:
    if isinstance(value, str):
        return value
    if not isinstance(value, list):
        raise fail(f"'text' must be a string or a list, not {type(value).__name__}")
    parts = []
    for part in value:
        if isinstance(part, dict) and isinstance(part.get("text"), str):
            parts.append(part["text"])
        elif isinstance(part, str):
            parts.append(part)
        else:
            raise fail(f"a 'text' part must be a string or an object with a 'text', not {part!r}")
    return "".join(parts)


def _attachments(msg: dict[str, Any], collector: ChatCollector, line: int, fail) -> tuple[ChatAttachment, ...]:
    for key in ("photo", "file", "media_type", "sticker_emoji", "mime_type"):
        if msg.get(key) is not None and not isinstance(msg[key], str):
            raise fail(f"{key!r} must be a string, not {msg[key]!r}")
    found = []
    if msg.get("photo") is not None:
        found.append(collector.attachment("photo", _path(msg["photo"]), line))
    if msg.get("file") is not None:
        kind = MEDIA_KINDS.get(msg.get("media_type") or "", "file")
        found.append(collector.attachment(kind, _path(msg["file"]), line,
                                          emoji=msg.get("sticker_emoji"), mime=msg.get("mime_type")))
    return tuple(found)


def _path(value: str) -> str | None:
    """The relative path, or None for Telegram's "(File not included. ...)" notes."""
    return None if value.startswith("(") and value.endswith(")") else value
