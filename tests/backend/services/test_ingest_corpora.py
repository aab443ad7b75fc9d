"""Memes, chat exports and text corpora in (issue 13), on real files, tesseract and both databases:
provenance, OCR text, attachments, pseudonyms, imported labels, near-duplicate groups, bad input."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import func, select

from backend.db.models import Annotation, Annotator, Item, LabelImport, Project, Source
from backend.domain import ItemKind, NotFoundError, SourceStatus, ValidationError
from backend.services import ingest as corpora
from backend.services import items as item_service
from tests.backend.services.corpora_world import brighter_csv, meme_folder, telegram_export


def _project(session, name: str, languages: list[str], schemes: list[str]) -> Project:
    project = Project(name=name, languages=languages, schemes=schemes, allowed_licences=[])
    session.add(project)
    session.commit()
    return project


def _items(session, project: str, kind: str | None = None) -> list[dict]:
    return item_service.list_items(session, project, kind=kind)


def test_a_meme_folder_comes_in_with_ocr_text_provenance_and_duplicates_grouped(any_session, any_settings, tmp_path) -> None:
    _project(any_session, "memes", ["bn"], ["sentiment3"])
    folder = meme_folder(tmp_path / "memes")

    summary = corpora.ingest_images(any_session, any_settings, "memes", folder)

    assert (summary.items_created, summary.already_registered) == (4, 0)
    assert [where for where, _ in summary.failed] == ["broken.png"]
    items = {r["external_id"]: r for r in _items(any_session, "memes")}
    assert set(items) == {"bangla_joy.png", "bangla_sad.png", "english_joke.png", "reposts/bangla_joy_again.jpg"}
    assert all(r["kind"] == "image" and r["language"] == "bn" for r in items.values())
    # the OCR text is what is written in the image, read with ben+eng together; it is the item's text without a caption
    assert items["bangla_joy.png"]["ocr_text"] == "আমি খুব খুশি" == items["bangla_joy.png"]["text"]
    assert items["bangla_joy.png"]["dominant_script"] == "Bengali"
    assert items["english_joke.png"]["ocr_text"] == "when the code works"
    assert 0.5 < items["bangla_sad.png"]["ocr_confidence"] <= 1.0
    stored = any_session.get(Item, items["bangla_joy.png"]["id"])
    assert {w["text"] for w in stored.ocr["words"]} == {"আমি", "খুব", "খুশি"} and all(w["width"] > 0 for w in stored.ocr["words"])
    # the file is copied into the data dir by content hash, where Label Studio can serve it
    assert items["bangla_joy.png"]["media_path"].startswith(str(any_settings.data_dir / "media" / "images"))
    # provenance from metadata.csv
    joke = any_session.get(Source, items["english_joke.png"]["source_id"])
    assert (joke.uri, joke.licence, joke.author, joke.kind) == ("https://example.org/memes/42", "CC-BY-4.0", "meme-page", "image")
    # the recompressed repost groups with its original; the original is the representative
    original, repost = items["bangla_joy.png"], items["reposts/bangla_joy_again.jpg"]
    assert original["duplicate_group"] == repost["duplicate_group"] == f"dup-{original['id']}"
    assert (original["duplicate_of_id"], repost["duplicate_of_id"]) == (None, original["id"])
    assert items["bangla_sad.png"]["duplicate_group"] is None
    # the corrupt file is on record as a failed source with its reason
    failed = any_session.scalars(select(Source).where(Source.status == SourceStatus.FAILED)).all()
    assert len(failed) == 1 and "broken.png" in failed[0].error

    again = corpora.ingest_images(any_session, any_settings, "memes", folder)
    assert (again.items_created, again.already_registered) == (0, 4)
    assert any_session.scalar(select(func.count()).select_from(Item)) == 4
    assert any_session.scalar(select(func.count()).select_from(Source).where(Source.status == SourceStatus.FAILED)) == 1


def test_a_broken_metadata_file_refuses_the_folder_with_its_line_and_stores_nothing(session, settings, tmp_path) -> None:
    _project(session, "memes", ["bn"], [])
    folder = meme_folder(tmp_path / "memes")
    (folder / "metadata.csv").write_text("file_name,caption\nbangla_joy.png,a,b\n", encoding="utf-8")
    with pytest.raises(ValidationError, match="metadata.csv line 2: 3 fields, but the header has 2"):
        corpora.ingest_images(session, settings, "memes", folder)
    (folder / "metadata.csv").write_text("file_name,caption\nnot_there.png,a\n", encoding="utf-8")
    with pytest.raises(ValidationError, match="metadata.csv line 2: file_name 'not_there.png' is not an image"):
        corpora.ingest_images(session, settings, "memes", folder)
    assert session.scalar(select(func.count()).select_from(Source)) == 0


def test_a_telegram_export_becomes_turns_with_stickers_attached_and_authors_pseudonymised(any_session, any_settings, tmp_path) -> None:
    _project(any_session, "chats", ["zh"], ["sentiment3"])
    export = telegram_export(tmp_path / "export")

    summary = corpora.ingest_chat(any_session, any_settings, "chats", export)

    turns = _items(any_session, "chats", ItemKind.CHAT_TURN)
    images = _items(any_session, "chats", ItemKind.IMAGE)
    assert summary.items_created == len(turns) == 7 and summary.attachments == len(images) == 2
    assert summary.skipped["service"] == 1 and summary.skipped["attachment_not_exported"] == 1
    assert [t["turn_index"] for t in turns] == list(range(7)) and len({t["dialogue_id"] for t in turns}) == 1
    assert {t["author"] for t in turns} == {"author-001", "author-002"}
    raw = json.dumps([*turns, *images], default=str, ensure_ascii=False)
    assert "Priya Raman" not in raw.replace("好笑了 Priya", "") and "李伟" not in raw  # names only where typed in text
    by_id = {t["id"]: t for t in turns}
    sticker = next(i for i in images if i["text"] == "😂")
    assert by_id[sticker["parent_id"]]["turn_index"] == sticker["turn_index"]
    replying = next(t for t in turns if t["reply_to_id"] is not None)
    assert by_id[replying["reply_to_id"]]["turn_index"] < replying["turn_index"]
    assert all(t["posted_at"] is not None for t in turns)

    again = corpora.ingest_chat(any_session, any_settings, "chats", export)
    assert (again.items_created, again.already_registered) == (0, 1)


def test_a_later_export_of_the_same_chat_adds_only_new_messages_with_the_same_pseudonyms(session, settings, tmp_path) -> None:
    _project(session, "chats", ["zh"], [])
    export = telegram_export(tmp_path / "export")
    data = json.loads(export.read_text(encoding="utf-8"))
    newer = tmp_path / "export" / "result-later.json"
    data["messages"].append({"id": 999, "type": "message", "date": "2024-01-02T09:00:00", "date_unixtime": "1704186000",
                             "from": "李伟", "from_id": "user5550002", "text": "明天见", "text_entities": []})
    newer.write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
    corpora.ingest_chat(session, settings, "chats", export)
    later = corpora.ingest_chat(session, settings, "chats", newer)
    assert (later.items_created, later.items_existing) == (1, 7)
    turns = _items(session, "chats", ItemKind.CHAT_TURN)
    assert turns[-1]["text"] == "明天见" and turns[-1]["author"] == turns[0]["author"]


def test_a_chat_export_that_is_not_one_is_refused_with_file_and_line(session, settings, tmp_path) -> None:
    _project(session, "chats", ["zh"], [])
    bad = tmp_path / "chat.jsonl"
    bad.write_text('{"conversation": "c1", "author": "a", "time": "2024-01-01T10:00:00", "text": "hi"}\n{"conversation": \n',
                   encoding="utf-8")
    with pytest.raises(ValidationError, match="chat.jsonl line 2: not valid JSON"):
        corpora.ingest_chat(session, settings, "chats", bad)
    assert session.scalar(select(func.count()).select_from(Source)) == 0


def _msairs_jsonl(path, second_intent: str = "joke"):
    lines = [
        {"conversation": "c1", "turn": 0, "id": "m1", "author": "王芳", "time": "2024-03-01T20:00:00+08:00",
         "text": "今天考试终于结束了", "labels": {"sentiment": "positive", "intent": "inform"}},
        {"conversation": "c1", "turn": 1, "id": "m2", "author": "李雷", "time": "2024-03-01T20:01:00+08:00",
         "text": "", "reply_to": "m1", "attachments": [{"kind": "sticker", "path": "stickers/cat.png", "emoji": "😹"}],
         "labels": {"sentiment": "positive", "intent": second_intent}},
        {"conversation": "c1", "turn": 2, "id": "m3", "author": "王芳", "time": "2024-03-01T20:02:00+08:00",
         "text": "哈哈哈"},
    ]
    (path.parent / "stickers").mkdir(parents=True, exist_ok=True)
    from PIL import Image

    Image.new("RGBA", (96, 96), (255, 120, 0, 255)).save(path.parent / "stickers" / "cat.png")
    path.write_text("\n".join(json.dumps(line, ensure_ascii=False) for line in lines) + "\n", encoding="utf-8")
    return path


def test_a_labelled_chat_jsonl_brings_its_labels_as_an_imported_annotator_set(session, settings, tmp_path) -> None:
    _project(session, "msairs", ["zh"], ["msairs_chat"])
    summary = corpora.ingest_chat(session, settings, "msairs", _msairs_jsonl(tmp_path / "export" / "chat.jsonl"),
                                  labels_as="msairs")
    assert summary.items_created == 3 and summary.attachments == 1
    assert summary.labels["annotator"] == "imported:msairs" and summary.labels["items"] == 2
    values = [a.values for a in session.scalars(select(Annotation).order_by(Annotation.id))]
    assert values == [{"sentiment": "positive", "intent": "inform"}, {"sentiment": "positive", "intent": "joke"}]


def test_a_chat_label_outside_the_scheme_refuses_the_export_by_line(session, settings, tmp_path) -> None:
    _project(session, "msairs", ["zh"], ["msairs_chat"])
    path = _msairs_jsonl(tmp_path / "export" / "chat.jsonl", second_intent="gossip")
    with pytest.raises(ValidationError, match=r"(?s)chat.jsonl: 1 problem\(s\).*line 2: 'gossip' is not a label"):
        corpora.ingest_chat(session, settings, "msairs", path)
    assert session.scalar(select(func.count()).select_from(Item)) == 0


def test_a_semeval_csv_comes_in_with_its_labels_as_an_imported_annotator_set(any_session, any_settings, tmp_path) -> None:
    _project(any_session, "brighter", ["en"], ["emotion_intensity"])
    path = brighter_csv(tmp_path / "eng_train.csv", [
        ("eng_1", "I can't believe it, wow!", (0, 0, 0, 2, 0, 3)),
        ("eng_2", "This is so sad", (0, 0, 0, 0, 3, 0)),
        ("eng_3", "This is so sad!!", (0, 0, 1, 0, 2, 0)),
        ("eng_4", "Not labelled yet", None),
    ])

    summary = corpora.ingest_text(any_session, any_settings, "brighter", path, labels_as="semeval")

    assert summary.items_created == 4 and summary.labels["annotator"] == "imported:semeval"
    texts = {r["external_id"]: r for r in _items(any_session, "brighter", ItemKind.TEXT)}
    assert texts["eng_1"]["text"] == "I can't believe it, wow!" and texts["eng_1"]["language"] == "en"
    annotations = any_session.scalars(select(Annotation).order_by(Annotation.id)).all()
    assert [a.values for a in annotations][:2] == [
        {"emotion_intensity": {"anger": 0, "disgust": 0, "fear": 0, "joy": 2, "sadness": 0, "surprise": 3}},
        {"emotion_intensity": {"anger": 0, "disgust": 0, "fear": 0, "joy": 0, "sadness": 3, "surprise": 0}},
    ]
    assert len(annotations) == 3 and {a.origin for a in annotations} == {"import"}
    annotator = any_session.scalar(select(Annotator).where(Annotator.pseudonym == "imported:semeval"))
    assert annotator is not None and not annotator.simulated
    assert any_session.scalar(select(func.count()).select_from(LabelImport)) == 1
    # punctuation-only differences make a near-duplicate pair; both keep their own labels
    assert texts["eng_2"]["duplicate_group"] == texts["eng_3"]["duplicate_group"] is not None

    again = corpora.ingest_text(any_session, any_settings, "brighter", path, labels_as="semeval")
    assert again.already_registered == 1
    assert any_session.scalar(select(func.count()).select_from(Annotation)) == 3


@pytest.mark.parametrize("body, message", [
    ("id,text,Anger,Disgust,Fear,Joy,Sadness,Surprise\nx1,ok,0,0,0,5,0,0\n", r"line 2: intensity 5 for 'joy'"),
    ("id,text,Anger,Disgust,Fear,Joy,Sadness,Surprise\nx1,ok,0,0,,0,0,0\n", r"line 2: emotion_intensity: Fear empty"),
    ("id,text,Anger,Disgust,Fear,Joy,Sadness,Surprise\nx1,ok,0,0,0,low,0,0\n", r"line 2: Joy: 'low' is not an integer"),
    ("id,text,Anger,Disgust,Fear,Joy,Sadness,Surprise\nx1,,0,0,0,0,0,0\n", r"line 2: the text \('text'\) is empty"),
    ("id,text,Anger,Disgust,Fear,Joy,Sadness,Surprise\nx1,a,0,0,0,0,0,0\nx1,b,0,0,0,0,0,0\n", r"line 3: id 'x1' repeats line 2"),
    ("id,text,Anger,Disgust,Fear,Joy,Sadness,Surprise\nx1,a,b,0,0,0,0,0,0\n", r"line 2: 9 fields, but the header has 8"),
    ("id,body\nx1,hello\n", r"no text column"),
])
def test_a_malformed_text_corpus_is_refused_by_line_and_nothing_is_stored(session, settings, tmp_path, body, message) -> None:
    _project(session, "brighter", ["en"], ["emotion_intensity"])
    path = tmp_path / "bad.csv"
    path.write_text(body, encoding="utf-8")
    with pytest.raises(ValidationError, match=message):
        corpora.ingest_text(session, settings, "brighter", path)
    assert session.scalar(select(func.count()).select_from(Item)) == 0
    assert session.scalar(select(func.count()).select_from(Source)) == 0


def test_text_corpora_in_tsv_and_jsonl_and_bad_utf8(session, settings, tmp_path) -> None:
    _project(session, "posts", ["ta"], ["sentiment3"])
    tsv = tmp_path / "posts.tsv"
    tsv.write_text("id\ttext\tsentiment\np1\tபடம் சூப்பர்\tpositive\np2\tமோசம்\tnegative\n", encoding="utf-8")
    jsonl = tmp_path / "posts.jsonl"
    jsonl.write_text('{"id": 7, "text": "semma padam", "language": "ta"}\n', encoding="utf-8")
    assert corpora.ingest_text(session, settings, "posts", tsv).labels["fields"] == ["sentiment"]
    assert corpora.ingest_text(session, settings, "posts", jsonl).items_created == 1
    values = sorted(a.values["sentiment"] for a in session.scalars(select(Annotation)))
    assert values == ["negative", "positive"]
    latin1 = tmp_path / "latin1.csv"
    latin1.write_bytes("id,text\n1,ok\n2,caf\xe9\n".encode("latin-1"))
    with pytest.raises(ValidationError, match="latin1.csv line 3: not UTF-8 text"):
        corpora.ingest_text(session, settings, "posts", latin1)
    with pytest.raises(NotFoundError):
        corpora.ingest_text(session, settings, "posts", tmp_path / "missing.csv")


def test_push_selection_skips_attachments_and_near_duplicate_members(session, settings, tmp_path) -> None:
    from backend.services.annotation.push import PushOptions, _select_items
    from annotation_configs.registry import shipped_registry
    import random

    project = _project(session, "mixed", ["bn"], ["sentiment3"])
    corpora.ingest_images(session, settings, "mixed", meme_folder(tmp_path / "memes"), ocr=False)
    corpora.ingest_chat(session, settings, "mixed", telegram_export(tmp_path / "export"))
    regular, _ = _select_items(session, project, PushOptions(project="mixed", scheme="sentiment3"), random.Random(0),
                               shipped_registry()["sentiment3"])
    chosen = {(i.kind, i.external_id) for i in regular}
    assert ("image", "reposts/bangla_joy_again.jpg") not in chosen and ("image", "bangla_joy.png") in chosen
    assert not any(i.parent_id for i in regular)  # stickers go with their turn
    assert sum(1 for kind, _ in chosen if kind == "chat_turn") == 7
