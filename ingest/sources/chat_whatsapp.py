"""WhatsApp's exported chat text into chat turns; use ``chat.read_chat_export``.

A message starts with a header line; every other line continues the message above it.

* Android: ``12/31/23, 9:41 PM - Name: text`` or ``31/12/2023, 21:41 - Name: text`` (``.`` or
  ``-`` may separate the date; ``pm``, ``p.m.`` and a U+202F before it occur). A system line
  has no ``Name:`` (``12/31/23, 9:40 PM - Messages and calls are end-to-end encrypted. ...``).
* iOS (``_chat.txt``): ``[31/12/2023, 21:41:05] Name: text``, the line possibly behind a U+200E.
  A system line carries the chat's own name as author and a U+200E before its text
  (``[...] Family: \\u200eAsha added you``), or, in older exports, no ``Name:``.

Attachments: iOS ``\\u200e<attached: 00000012-PHOTO-2023-12-31-21-41-05.jpg>``; Android
``IMG-20231231-WA0001.jpg (file attached)``, a caption on the lines after it. Exported without
media: Android ``<Media omitted>`` (kind ``omitted``), iOS ``\\u200eimage omitted``,
``\\u200esticker omitted``, ... (that kind, no path). The kind of a file follows its name
(``attachment_kind``): ``.webp`` is a sticker. Only the English markers are recognised; in
another language the marker stays in ``text``. Android marks nothing on a system line that
itself holds ``": "``, so such a line reads as a message.

Day and month order is read from the file: a first field above 12 means day first, a second
field above 12 month first, both in one file is an error. Else ``dayfirst`` decides, else
``DAYFIRST_DEFAULT`` (day first, as in most locales and in whatsapp-chat-parser). A four-digit
first field is a year (``2023-12-31``); two-digit years are 20YY. ``time`` is naive: the
exporting phone's local time, its zone is not in the file. WhatsApp exports neither message
ids nor replies: ``message_id`` is the turn's index and ``reply_to`` is None. The conversation
id is a salted hash of the first three lines, so a later export of the same chat matches.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import PurePosixPath

from ingest.sources.chat import ChatAttachment, ChatCollector

DAYFIRST_DEFAULT = True
"""Day/month order when no date in the file decides it and ``dayfirst`` is not given."""

_DATE = r"(?P<date>\d{1,4}[./-] ?\d{1,2}[./-] ?\d{1,4})"
_TIME = r"(?P<time>\d{1,2}[:.]\d{2}(?:[:.]\d{2})?)(?:\s?(?P<ampm>[ap]\.?\s?m\.?))?"
ANDROID_HEADER = re.compile(rf"{_DATE},?\s{_TIME}\s[-\u2013]\s(?P<rest>.*)", re.IGNORECASE | re.DOTALL)
IOS_HEADER = re.compile(rf"[\u200e\u200f]?\[{_DATE},?\s{_TIME}\]\s(?P<rest>.*)", re.IGNORECASE | re.DOTALL)
_AUTHOR = re.compile(r"(?P<author>.+?):(?: (?P<text>.*)|$)", re.DOTALL)
_ATTACHED = re.compile(r"\u200e?<attached: (?P<name>[^>]+)>")
_FILE_ATTACHED = re.compile(r"\u200e?(?P<name>.+?) \(file attached\)")
_IOS_OMITTED = re.compile(r"\u200e(?P<what>image|video|audio|sticker|GIF|document) omitted")
_OMITTED_KINDS = {"image": "photo", "video": "video", "audio": "audio", "sticker": "sticker",
                  "GIF": "animation", "document": "file"}
_IMAGE = frozenset({".jpg", ".jpeg", ".png", ".heic", ".gif"})
_VIDEO = frozenset({".mp4", ".mov", ".3gp", ".mkv", ".webm", ".avi"})
_AUDIO = frozenset({".opus", ".ogg", ".m4a", ".mp3", ".aac", ".amr", ".wav"})


@dataclass
class _Header:
    line: int
    date: str
    time: str
    ampm: str | None
    rest: str
    more: list[str] = field(default_factory=list)


def looks_like_whatsapp(line: str) -> bool:
    """Whether ``line`` is a WhatsApp message header (Android or iOS)."""
    line = line.removesuffix("\r")
    return bool(ANDROID_HEADER.fullmatch(line) or IOS_HEADER.fullmatch(line))


def attachment_kind(name: str) -> str:
    """The attachment kind of an exported file name (``STK-...webp`` → ``sticker``)."""
    upper, suffix = name.upper(), PurePosixPath(name).suffix.lower()
    if suffix == ".webp" or upper.startswith("STK-") or "-STICKER-" in upper:
        return "sticker"
    if "-GIF-" in upper:
        return "animation"
    if suffix in _IMAGE:
        return "photo"
    if suffix in _VIDEO:
        return "video"
    if suffix in _AUDIO:
        return "voice" if upper.startswith("PTT-") or "-AUDIO-" in upper else "audio"
    return "file"


def parse_whatsapp(text: str, collector: ChatCollector, *, dayfirst: bool | None = None) -> None:
    """Add every message of the exported chat ``text`` to ``collector``."""
    lines = [line.removesuffix("\r") for line in text.split("\n")]
    if lines and lines[-1] == "":
        lines.pop()
    headers, ios = _headers(lines, collector)
    day_first = _day_first(headers, dayfirst, collector)
    conversation = collector.conversation("whatsapp", "\n".join(lines[:3]))
    index = 0
    for header in headers:
        time = _datetime(header, day_first, collector)
        match = _AUTHOR.fullmatch(header.rest)
        if match is None:
            collector.skip("system")
            continue
        attachment, first = _media(match["text"] or "", collector, header.line)
        if attachment is None and ios and first.startswith("\u200e"):
            collector.skip("system")
            continue
        author = collector.author(match["author"], header.line)
        body = header.more if attachment is not None and not first else [first, *header.more]
        collector.add(conversation_id=conversation, message_id=str(index), author=author, time=time,
                      text="\n".join(body), reply_to=None,
                      attachments=() if attachment is None else (attachment,), line=header.line)
        index += 1


def _headers(lines: list[str], collector: ChatCollector) -> tuple[list[_Header], bool]:
    """Header lines with their continuation lines, and whether iOS (the first header decides)."""
    pattern: re.Pattern[str] | None = None
    headers: list[_Header] = []
    for number, line in enumerate(lines, start=1):
        candidates = (ANDROID_HEADER, IOS_HEADER) if pattern is None else (pattern,)
        match = next((m for m in (p.fullmatch(line) for p in candidates) if m), None)
        if match is not None:
            pattern = match.re
            headers.append(_Header(number, match["date"], match["time"], match["ampm"], match["rest"]))
        elif headers:
            headers[-1].more.append(line)
        elif line.strip():
            raise collector.error(number, f"does not start like a WhatsApp message "
                                          f"('12/31/23, 9:41 PM - Name: text' or "
                                          f"'[31/12/2023, 21:41:05] Name: text'): {line[:60]!r}")
    return headers, pattern is IOS_HEADER


_DATE_SPLIT = re.compile(r"[./-] ?")
_TIME_SPLIT = re.compile(r"[:.]")


def _day_first(headers: list[_Header], dayfirst: bool | None, collector: ChatCollector) -> bool:
    """Day before month? From the dates in the file, else ``dayfirst``, else the default."""
    day_line = month_line = None
    for header in headers:
        first, second, _ = _DATE_SPLIT.split(header.date)
        if len(first) == 4:
            continue
        if int(first) > 12 and day_line is None:
            day_line = header.line
        if int(second) > 12 and month_line is None:
            month_line = header.line
    if day_line is not None and month_line is not None:
        raise collector.error(max(day_line, month_line), f"dates put the day first on line {day_line} "
                                                         f"but the month first on line {month_line}")
    if dayfirst is not None:
        return dayfirst
    if day_line is not None or month_line is not None:
        return day_line is not None
    return DAYFIRST_DEFAULT


def _datetime(header: _Header, day_first: bool, collector: ChatCollector) -> datetime:
    fields = _DATE_SPLIT.split(header.date)
    first, second, third = (int(part) for part in fields)
    if len(fields[0]) == 4:
        year, month, day = first, second, third
    else:
        day, month = (first, second) if day_first else (second, first)
        year = third + 2000 if third < 100 else third
    hour, minute, *rest = (int(part) for part in _TIME_SPLIT.split(header.time))
    stamp = f"{header.date} {header.time}" + (f" {header.ampm}" if header.ampm else "")
    if header.ampm:
        if not 1 <= hour <= 12:
            raise collector.error(header.line, f"{stamp!r} has an hour above 12 with AM/PM")
        hour = hour % 12 + (12 if header.ampm.lower().startswith("p") else 0)
    try:
        return datetime(year, month, day, hour, minute, rest[0] if rest else 0)
    except ValueError as exc:
        order = "day" if day_first else "month"
        raise collector.error(header.line, f"{stamp!r} is not a valid date and time when the {order} "
                                           f"comes first ({exc}); pass dayfirst= to say the order") from exc


def _media(text: str, collector: ChatCollector, line: int) -> tuple[ChatAttachment | None, str]:
    """The attachment a message's first line announces, and what is left of that line."""
    if match := _ATTACHED.search(text):
        name = match["name"].strip()
        left = (text[:match.start()] + text[match.end():]).replace("\u200e", "").strip()
        return collector.attachment(attachment_kind(name), name, line), left
    if match := _FILE_ATTACHED.fullmatch(text):
        name = match["name"].strip()
        return collector.attachment(attachment_kind(name), name, line), ""
    if text.strip() == "<Media omitted>":
        return collector.attachment("omitted", None, line), ""
    if match := _IOS_OMITTED.fullmatch(text.strip()):
        return collector.attachment(_OMITTED_KINDS[match["what"]], None, line), ""
    return None, text
