"""Chat export parsers: hand-written exports in tests/ingest/data/chat, turns worked out by hand.

The Telegram files follow the layout Telegram Desktop writes (export_output_json.cpp in
telegramdesktop/tdesktop): 1-space indentation, ``date`` in local time plus ``date_unixtime``,
media paths relative to the export folder. The WhatsApp files follow real Android (U+202F
before PM, ``(file attached)``) and iOS exports (CRLF, U+200E, the chat name as author of
system lines).
"""

from __future__ import annotations

import dataclasses
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from backend.domain import ValidationError
from ingest.sources.chat import (
    ChatAttachment,
    ChatExport,
    ChatTurn,
    parse_chat_export,
    pseudonymise,
    read_chat_export,
)
from ingest.sources.chat_whatsapp import attachment_kind

DATA = Path(__file__).parent / "data" / "chat"
SALT = "project-secret-salt"
UTC = timezone.utc
CST = timezone(timedelta(hours=8))

REAL_NAMES = {
    "telegram_single/result.json": ["Priya", "Raman", "李伟", "5550001", "5550002"],
    "telegram_full/result.json": ["Arun", "Kumar", "Kavya", "Suresh", "Tamil movie gang", "cricket", "7770001",
                                  "5550002", "5550003", "98765"],
    "WhatsApp Chat with Priya Raman.txt": ["Priya", "Raman", "Arun", "Kumar"],
    "android_24h.txt": ["李伟", "张敏", "138 0013"],
    "_chat.txt": ["李伟", "张敏", "家人群"],
    "dialogues.jsonl": ["王芳", "陈杰", "Meena"],
}


def read(name: str, **options) -> ChatExport:
    return read_chat_export(DATA / name, salt=SALT, **options)


def turn(conversation: str, index: int, message_id: str, author: str, time: datetime, text: str, line: int,
         reply_to: str | None = None, attachments: tuple[ChatAttachment, ...] = ()) -> ChatTurn:
    return ChatTurn(conversation, index, message_id, author, time, text, reply_to, attachments, line)


def strings(value) -> list[str]:
    """Every string inside a record, except turn texts (mentions there are out of scope)."""
    if isinstance(value, str):
        return [value]
    if isinstance(value, ChatTurn):
        return [s for f in dataclasses.fields(value) if f.name != "text" for s in strings(getattr(value, f.name))]
    if dataclasses.is_dataclass(value):
        return [s for f in dataclasses.fields(value) for s in strings(getattr(value, f.name))]
    if isinstance(value, dict):
        return [s for k, v in value.items() for s in strings(k) + strings(v)]
    if isinstance(value, (list, tuple)):
        return [s for item in value for s in strings(item)]
    return [str(value)]


# --- Telegram -------------------------------------------------------------------------------


def test_telegram_single_chat_export_becomes_turns_with_stickers_photos_and_replies():
    export = read("telegram_single/result.json")
    chat = export.conversations[0]
    assert export.format == "telegram"
    assert export.conversations == (chat,) and chat.startswith("telegram-")
    t0 = datetime(2024, 1, 1, 2, 0, tzinfo=UTC)  # 10:00 local (UTC+8) = date_unixtime 1704074400
    assert export.turns == (
        turn(chat, 0, "101", "author-001", t0, "新年快乐！今天好开心", 6),
        turn(chat, 1, "103", "author-002", t0 + timedelta(minutes=2), "", 34,
             attachments=(ChatAttachment("sticker", "stickers/sticker.webp", "😂", None),)),
        turn(chat, 2, "104", "author-001", t0 + timedelta(minutes=3), "哈哈，这个表情包太好笑了 Priya", 50,
             reply_to="103"),
        turn(chat, 3, "105", "author-002", t0 + timedelta(minutes=4), "看烟花 🎆", 86,
             attachments=(ChatAttachment("photo", "photos/photo_1@01-01-2024_10-04-00.jpg"),)),
        turn(chat, 4, "106", "author-002", t0 + timedelta(minutes=5), "", 104,
             attachments=(ChatAttachment("sticker", None, "❤️", None),)),
        turn(chat, 5, "107", "author-001", t0 + timedelta(minutes=6), "", 119,
             attachments=(ChatAttachment("voice", "voice_messages/audio_1@01-01-2024_10-06-00.ogg", None,
                                         "audio/ogg"),)),
        turn(chat, 6, "108", "author-002", t0 + timedelta(minutes=7), "还记得这个吗？", 133),
    )
    assert export.skipped == {"service": 1, "reply_outside_export": 1, "empty": 1}
    assert export.authors == {"author-001": pseudonymise("user5550002", SALT),
                              "author-002": pseudonymise("user5550001", SALT)}


def test_telegram_full_export_reads_every_chat_and_left_chats():
    export = read("telegram_full/result.json")
    group, saved = export.conversations
    t0 = datetime(2023, 11, 12, 13, 31, tzinfo=UTC)  # 19:01 in India (UTC+5:30)
    assert export.turns == (
        turn(group, 0, "2", "author-001", t0, "Semma movie da! படம் சூப்பர்", 31),
        turn(group, 1, "3", "author-002", t0 + timedelta(minutes=1), "Aama, climax vera level 🔥", 41, reply_to="2"),
        turn(group, 2, "4", "author-002", t0 + timedelta(minutes=2), "", 52,
             attachments=(ChatAttachment("animation", "chats/chat_001/video_files/tenor.gif.mp4", None,
                                         "video/mp4"),)),
        # an old export without date_unixtime: the naive local time it gives
        turn(saved, 0, "9", "author-001", datetime(2019, 5, 1, 8, 30), "note to self: buy tickets", 74),
    )
    # the left supergroup holds only a service and an unsupported message: no conversation
    assert export.skipped == {"service": 2, "unsupported": 1}


# --- WhatsApp -------------------------------------------------------------------------------


def test_whatsapp_android_12h_month_first_with_multiline_sticker_photo_and_omitted_media():
    export = read("WhatsApp Chat with Priya Raman.txt")
    chat = export.conversations[0]
    assert export.format == "whatsapp" and chat.startswith("whatsapp-")
    assert export.turns == (
        turn(chat, 0, "0", "author-001", datetime(2023, 12, 31, 21, 41), "வணக்கம்! Happy new year eve 🎉", 2),
        turn(chat, 1, "1", "author-002", datetime(2023, 12, 31, 21, 42),
             "நன்றி, same to you\nthat party was semma fun\n\nsee you tomorrow", 3),
        turn(chat, 2, "2", "author-002", datetime(2023, 12, 31, 21, 43), "", 7,
             attachments=(ChatAttachment("sticker", "STK-20231231-WA0003.webp"),)),
        turn(chat, 3, "3", "author-001", datetime(2023, 12, 31, 21, 44), "இது நம்ம photo 😍", 8,
             attachments=(ChatAttachment("photo", "IMG-20231231-WA0001.jpg"),)),
        turn(chat, 4, "4", "author-001", datetime(2023, 12, 31, 21, 45), "", 10,
             attachments=(ChatAttachment("omitted"),)),
        turn(chat, 5, "5", "author-002", datetime(2024, 1, 1, 0, 5), "Time: 12:05, midnight 🎆", 12),
    )
    assert export.skipped == {"system": 2}


def test_whatsapp_android_24h_day_first_with_voice_note_and_phone_number_author():
    export = read("android_24h.txt")
    chat = export.conversations[0]
    assert export.turns == (
        turn(chat, 0, "0", "author-001", datetime(2023, 12, 31, 21, 41), "新年快乐！", 1),
        turn(chat, 1, "1", "author-002", datetime(2023, 12, 31, 21, 42), "谢谢 你也是\n明年见", 2),
        turn(chat, 2, "2", "author-002", datetime(2024, 1, 1, 0, 5), "", 4,
             attachments=(ChatAttachment("voice", "PTT-20240101-WA0002.opus"),)),
        turn(chat, 3, "3", "author-003", datetime(2024, 1, 1, 0, 6), "我是新号码", 5),
    )
    # the bidi marks Android puts around a phone number do not change its hash
    assert export.authors["author-003"] == pseudonymise("+86 138 0013 8000", SALT)
    assert export.skipped == {}


def test_whatsapp_ios_with_crlf_marks_attachments_and_system_lines_under_the_chat_name():
    export = read("_chat.txt")
    chat = export.conversations[0]
    assert export.turns == (
        turn(chat, 0, "0", "author-001", datetime(2023, 12, 31, 21, 41, 5), "", 3,
             attachments=(ChatAttachment("photo", "00000012-PHOTO-2023-12-31-21-41-05.jpg"),)),
        turn(chat, 1, "1", "author-002", datetime(2023, 12, 31, 21, 41, 30), "好漂亮的烟花\n我也想去", 4),
        turn(chat, 2, "2", "author-002", datetime(2023, 12, 31, 21, 42), "", 6,
             attachments=(ChatAttachment("sticker"),)),
        turn(chat, 3, "3", "author-001", datetime(2023, 12, 31, 21, 42, 10), "", 7,
             attachments=(ChatAttachment("sticker", "00000015-STICKER-2023-12-31-21-42-10.webp"),)),
        turn(chat, 4, "4", "author-002", datetime(2024, 1, 1, 0, 0, 1), "新年快乐 🧨", 9),
    )
    # encryption notice, "added", and a deleted message: the group's own name is never an author
    assert export.skipped == {"system": 3}
    assert len(export.authors) == 2


def test_whatsapp_day_month_order_falls_back_to_day_first_unless_told():
    assert read("ambiguous_dates.txt").turns[0].time == datetime(2024, 2, 1, 10, 0)
    assert read("ambiguous_dates.txt", dayfirst=False).turns[0].time == datetime(2024, 1, 2, 10, 0)


@pytest.mark.parametrize(("header", "expected"), [
    ("12/31/23, 9:41 PM - A: x", datetime(2023, 12, 31, 21, 41)),
    ("12/31/23, 12:01 am - A: x", datetime(2023, 12, 31, 0, 1)),
    ("31/12/2023, 12:30 p.m. - A: x", datetime(2023, 12, 31, 12, 30)),
    ("31.12.23, 21:41 - A: x", datetime(2023, 12, 31, 21, 41)),
    ("2023-12-31, 21:41 - A: x", datetime(2023, 12, 31, 21, 41)),
    ("[12/31/23, 9:41:05\u202fPM] A: x", datetime(2023, 12, 31, 21, 41, 5)),
    ("\u200e[31/12/2023, 21:41:05] A: x", datetime(2023, 12, 31, 21, 41, 5)),
])
def test_whatsapp_header_layouts(header, expected):
    export = parse_chat_export(header + "\n", source_name="chat.txt", salt=SALT)
    assert (export.format, export.turns[0].time, export.turns[0].text) == ("whatsapp", expected, "x")


@pytest.mark.parametrize(("name", "kind"), [
    ("STK-20231231-WA0003.webp", "sticker"), ("00000015-STICKER-2023-12-31-21-42-10.webp", "sticker"),
    ("IMG-20231231-WA0001.jpg", "photo"), ("00000012-PHOTO-2023-12-31-21-41-05.jpg", "photo"),
    ("VID-20231231-WA0004.mp4", "video"), ("00000020-GIF-2023-12-31-21-50-00.mp4", "animation"),
    ("PTT-20240101-WA0002.opus", "voice"), ("00000021-AUDIO-2023-12-31-21-51-00.opus", "voice"),
    ("AUD-20240101-WA0007.mp3", "audio"), ("DOC-20240101-WA0008.pdf", "file"),
])
def test_whatsapp_attachment_kind_follows_the_file_name(name, kind):
    assert attachment_kind(name) == kind


@given(st.lists(st.tuples(st.sampled_from(["Asha", "Bala", "陈杰"]),
                          st.lists(st.text(alphabet="ab yz你好வணக்கம்😂!?.,:-\t\u200e", max_size=12),
                                   min_size=1, max_size=3)),
                min_size=1, max_size=6))
def test_whatsapp_multiline_texts_come_back_as_written(messages):
    lines = [f"31/12/2023, 21:{minute:02d} - {author}: " + "\n".join(parts)
             for minute, (author, parts) in enumerate(messages)]
    export = parse_chat_export("\n".join(lines) + "\n", source_name="chat.txt", salt=SALT, format="whatsapp")
    assert [t.text for t in export.turns] == ["\n".join(parts) for _, parts in messages]
    assert [t.line for t in export.turns] == [1 + sum(len(p) for _, p in messages[:i]) for i in range(len(messages))]
    assert len(export.authors) == len({author for author, _ in messages})


# --- JSONL ----------------------------------------------------------------------------------


def test_jsonl_orders_by_turn_groups_conversations_and_checks_replies():
    export = read("dialogues.jsonl")
    assert export.format == "jsonl" and export.conversations == ("d001", "d002")
    assert export.turns == (
        turn("d001", 0, "d001-1", "author-002", datetime(2024, 3, 1, 20, 0, tzinfo=CST), "今天太累了 😭", 2),
        turn("d001", 1, "d001-2", "author-001", datetime(2024, 3, 1, 20, 0, 5, tzinfo=CST),
             "我也是，考试终于结束了", 1, reply_to="d001-1"),
        turn("d001", 2, "d001-3", "author-002", datetime(2024, 3, 1, 20, 0, 9, tzinfo=CST), "", 5,
             attachments=(ChatAttachment("sticker", "stickers/cat_hug.webp", "🤗", "image/webp"),)),
        turn("d002", 0, "0", "author-003", datetime(2024, 3, 2, 9, 15), "Exam result வந்துடுச்சு!", 4),
        turn("d002", 1, "1", "author-001", datetime(2024, 3, 2, 9, 16, tzinfo=UTC), "Congrats!", 6, reply_to="0",
             attachments=(ChatAttachment("photo", "img/cake.jpg"), ChatAttachment("omitted"))),
    )


# --- detection and pseudonymisation ---------------------------------------------------------


@pytest.mark.parametrize(("name", "fmt"), [
    ("telegram_single/result.json", "telegram"), ("telegram_full/result.json", "telegram"),
    ("WhatsApp Chat with Priya Raman.txt", "whatsapp"), ("android_24h.txt", "whatsapp"),
    ("_chat.txt", "whatsapp"), ("dialogues.jsonl", "jsonl"),
])
def test_format_is_detected_and_can_be_given(name, fmt):
    assert read(name).format == fmt
    assert read(name, format=fmt) == read(name)


def test_one_line_telegram_json_is_not_taken_for_jsonl():
    text = '{"name": "x", "type": "personal_chat", "id": 1, "messages": [{"id": 1, "type": "message", ' \
           '"date": "2024-01-01T10:00:00", "from": "A", "from_id": "user1", "text": "hi"}]}'
    assert parse_chat_export(text, source_name="result.json", salt=SALT).format == "telegram"


@pytest.mark.parametrize("name", sorted(REAL_NAMES))
def test_pseudonyms_are_stable_for_a_salt_and_change_with_another(name):
    first, again, other = read(name), read(name), read_chat_export(DATA / name, salt="another-salt")
    assert first == again
    assert list(other.authors) == list(first.authors)  # numbering follows first appearance
    assert set(other.authors.values()).isdisjoint(first.authors.values())
    assert [t.author for t in other.turns] == [t.author for t in first.turns]


@pytest.mark.parametrize("name", sorted(REAL_NAMES))
def test_real_names_and_ids_appear_in_no_returned_field(name):
    found = [(real, s) for s in strings(read(name)) for real in REAL_NAMES[name] if real in s]
    assert found == []


def test_names_mentioned_inside_text_are_left_as_written():
    assert read("telegram_single/result.json").turns[2].text.endswith("Priya")


def test_pseudonymise_ignores_marks_and_spacing_and_needs_a_salt():
    assert pseudonymise("\u202a+91 98765\u00a0 43210\u202c", "s") == pseudonymise("+91 98765 43210", "s")
    assert pseudonymise("Asha", "s") != pseudonymise("Asha", "t")
    assert pseudonymise("Asha", b"s") == pseudonymise("Asha", "s")
    with pytest.raises(ValidationError, match="salt is empty"):
        pseudonymise("Asha", "")


# --- errors ---------------------------------------------------------------------------------

TG_HEAD = '{\n "name": "x",\n "type": "personal_chat",\n "id": 1,\n "messages": [\n'
TG_OK = '  {"id": 1, "type": "message", "date_unixtime": "1704074400", "from": "A", "from_id": "user1", "text": "hi"}'

ERRORS = [
    ("chat.jsonl", '{"conversation": "c", "author": "A", "time": "2024-01-01T10:00:00", "text": "a"}\n' * 6
     + '{"conversation": "c", "author": "A", "time": "yesterday", "text": "b"}\n', None,
     "chat.jsonl line 7: 'time' is not an ISO 8601 date: 'yesterday'"),
    ("chat.jsonl", '{"conversation": "c", "author": "A", "time": "2024-01-01T10:00:00", "text": "a"}\n\n'
     '{"conversation": "c", "author": "A", "time": "2024-01-01T10:00:00", "text": "a",}\n', None,
     "chat.jsonl line 3: not valid JSON (Expecting property name enclosed in double quotes at column 81)"),
    ("chat.jsonl", '{"conversation": "c", "time": "2024-01-01T10:00:00", "text": "a"}\n', None,
     "chat.jsonl line 1: missing 'author'"),
    ("chat.jsonl", '{"conversation": "c", "author": "A", "time": "2024-01-01T10:00:00", "txt": "a"}\n', None,
     "chat.jsonl line 1: unknown key 'txt'; allowed: attachments, author, conversation, id, labels, reply_to, text, time, "
     "turn"),
    ("chat.jsonl", '["c", "A"]\n', "jsonl", "chat.jsonl line 1: expected a JSON object, not list"),
    ("chat.jsonl", '{"conversation": "c", "author": "A", "time": "2024-01-01T10:00:00", "text": "a"}\n'
     '{"conversation": "c", "author": "B", "time": "2024-01-01T10:00:00", "text": "b", "reply_to": "7"}\n', None,
     "chat.jsonl line 2: reply_to '7' is not the id of a turn in this conversation"),
    ("chat.jsonl", '{"conversation": "c", "id": "m", "author": "A", "time": "2024-01-01T10:00:00", "text": "a"}\n'
     '{"conversation": "c", "id": "m", "author": "B", "time": "2024-01-01T10:00:00", "text": "b"}\n', None,
     "chat.jsonl line 2: message id 'm' repeats line 1 in the same conversation"),
    ("chat.jsonl", '{"conversation": "c", "turn": 0, "author": "A", "time": "2024-01-01T10:00:00", "text": "a"}\n'
     '{"conversation": "c", "author": "B", "time": "2024-01-01T10:00:00", "text": "b"}\n', None,
     "chat.jsonl line 2: 'turn' is missing, but other lines of conversation 'c' have one; give all or none"),
    ("chat.jsonl", '{"conversation": "c", "author": "A", "time": "2024-01-01T10:00:00", "text": "",'
     ' "attachments": [{"kind": "gif", "path": "a.gif"}]}\n', None,
     "chat.jsonl line 1: attachment kind 'gif' is not one of animation, audio, file, omitted, photo, sticker, "
     "video, voice"),
    ("chat.jsonl", '{"conversation": "c", "author": "A", "time": "2024-01-01T10:00:00", "text": "",'
     ' "attachments": [{"kind": "photo", "path": "../../etc/passwd"}]}\n', None,
     "chat.jsonl line 1: attachment path '../../etc/passwd' must be relative, inside the export folder"),
    ("result.json", TG_HEAD + '  {"id": 1, "type": "message", "date_unixtime": "1704074400", "from_id": "user1",\n'
     '   "photo": "/home/me/photos/photo_1.jpg", "text": ""}\n ]\n}\n', None,
     "result.json line 6: attachment path '/home/me/photos/photo_1.jpg' must be relative, inside the export "
     "folder"),
    ("chat.txt", "31/12/2023, 21:41 - A: C:\\Users\\me\\IMG-1.jpg (file attached)\n", None,
     "chat.txt line 1: attachment path 'C:\\\\Users\\\\me\\\\IMG-1.jpg' must be relative, inside the export folder"),
    ("result.json", TG_HEAD + TG_OK + ",\n  {\"id\": 2 \"type\": \"message\"}\n ]\n}\n", None,
     "result.json line 7: not valid JSON (Expecting ',' delimiter at column 12)"),
    ("result.json", TG_HEAD + TG_OK + ',\n  {"id": 2, "type": "message", "date_unixtime": "1704074400",\n'
     '   "text": "who?"}\n ]\n}\n', None, "result.json line 7: message 2 has no 'from_id' or 'from'"),
    ("result.json", TG_HEAD + '  {"id": 1, "type": "message", "date_unixtime": "soon", "from_id": "user1",'
     ' "text": "hi"}\n ]\n}\n', None, "result.json line 6: 'date_unixtime' is not a count of seconds: 'soon'"),
    ("result.json", TG_HEAD + '  {"id": 1, "type": "service", "date_unixtime": "1704074400", "actor": "A"}\n'
     ' ]\n}\n', None, "result.json: the export holds no messages (skipped: 1 service)"),
    ("result.json", '{\n "personal_information": {}\n}\n', "telegram",
     "result.json: not a Telegram Desktop export: no 'messages' (one chat) or 'chats' (full export) at the top "
     "level"),
    ("chat.txt", "\n\nhello there\n31/12/2023, 21:41 - A: hi\n", "whatsapp",
     "chat.txt line 3: does not start like a WhatsApp message ('12/31/23, 9:41 PM - Name: text' or "
     "'[31/12/2023, 21:41:05] Name: text'): 'hello there'"),
    ("chat.txt", "31/12/2023, 21:41 - A: hi\n12/31/2023, 21:42 - B: hi\n", None,
     "chat.txt line 2: dates put the day first on line 1 but the month first on line 2"),
    ("chat.txt", "31/12/2023, 21:41 - A: hi\n", "whatsapp:month-first",
     "chat.txt line 1: '31/12/2023 21:41' is not a valid date and time when the month comes first "
     "(month must be in 1..12); pass dayfirst= to say the order"),
    ("chat.txt", "12/31/23, 13:41 PM - A: hi\n", None, "chat.txt line 1: '12/31/23 13:41 PM' has an hour above 12 "
     "with AM/PM"),
    ("chat.txt", "12/31/23, 9:40 PM - Messages and calls are end-to-end encrypted.\n", None,
     "chat.txt: the export holds no messages (skipped: 1 system)"),
    ("chat.txt", " \n\n", None, "chat.txt is empty; export the chat again"),
    ("chat.txt", "Dear diary,\n", None, "chat.txt: cannot tell the chat format from its first line 'Dear diary,'; "
     "give format= one of telegram, whatsapp, jsonl"),
    ("chat.txt", "hi\n", "signal", "unknown chat format 'signal'; use one of telegram, whatsapp, jsonl"),
]


@pytest.mark.parametrize(("name", "content", "fmt", "message"), ERRORS)
def test_bad_input_is_refused_with_file_and_line(tmp_path, name, content, fmt, message):
    path = tmp_path / name
    path.write_text(content, encoding="utf-8")
    options = {"format": "whatsapp", "dayfirst": False} if fmt == "whatsapp:month-first" else {"format": fmt}
    with pytest.raises(ValidationError) as caught:
        read_chat_export(path, salt=SALT, **options)
    assert str(caught.value) == message


def test_unreadable_input_and_misused_options_are_refused(tmp_path):
    latin = tmp_path / "chat.txt"
    latin.write_bytes("31/12/2023, 21:41 - José: olá\n".encode("latin-1"))
    with pytest.raises(ValidationError, match=r"^chat.txt is not UTF-8 text \(byte 23\); export the chat again$"):
        read_chat_export(latin, salt=SALT)
    with pytest.raises(ValidationError, match="salt is empty"):
        read_chat_export(DATA / "dialogues.jsonl", salt=b"")
    with pytest.raises(ValidationError, match="^dayfirst applies to WhatsApp exports only, not jsonl$"):
        read("dialogues.jsonl", dayfirst=True)
