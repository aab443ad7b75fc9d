"""Releases of items that are not clips (images, chat turns with stickers, texts), with fields of every kind,
opened with the real `datasets.load_dataset`."""

from __future__ import annotations

import csv
import dataclasses
import json
from datetime import UTC, datetime

import pyarrow.parquet as pq
import pytest

from backend.domain import MediaError, ValidationError, ValueKind
from exports.build import build_release, export_brighter, export_jsonl
from exports.card import validate_card
from exports.hf import release_features
from exports.records import RESERVED_COLUMNS, CardContext, LabelField
from tests.exports.builders import (
    EMOTION_INTENSITY,
    EMOTION_SET,
    EMOTIONS,
    SENTIMENT,
    make_context,
    make_item_rows,
    make_item_spec,
    write_image,
)


@pytest.fixture(scope="module")
def item_rows(tmp_path_factory):
    return make_item_rows(tmp_path_factory.mktemp("media"))


@pytest.fixture(scope="module")
def item_release(item_rows, tmp_path_factory):
    return build_release(item_rows, make_item_spec(), make_context(), tmp_path_factory.mktemp("rel") / "memes", code="x")


@pytest.fixture(scope="module")
def loaded(item_release, tmp_path_factory):
    """Every example by item id, as `load_dataset` gives it back (a fresh cache: see hf-datasets notes)."""
    import datasets

    ds = datasets.load_dataset(str(item_release.folder), cache_dir=str(tmp_path_factory.mktemp("cache")))
    return ds, {e["item_id"]: e for split in ds for e in ds[split]}


def test_images_and_stickers_load_as_pil_images_of_their_size(loaded, item_rows):
    _, examples = loaded
    assert {i: examples[i]["kind"] for i in (1, 5, 8)} == {1: "image", 5: "chat_turn", 8: "text"}
    for item in (1, 2, 3, 4):
        image = examples[item]["image"]
        assert image.size == (19 + item, 9 + item) and image.mode == "RGB"
        assert examples[item]["ocr_text"] == f"when the code runs {item}"
    assert examples[8]["image"] is None and examples[8]["attachments"] == []
    stickers = examples[6]["attachments"]
    assert [(s.format, s.size) for s in stickers] == [("PNG", (16, 16)), ("WEBP", (8, 12))]


def test_chat_turns_keep_their_conversation_author_time_and_reply(loaded):
    _, examples = loaded
    turn = examples[6]
    assert (turn["dialogue_id"], turn["utterance_index"], turn["reply_to_item_id"]) == ("chat-1", 1, 5)
    assert (turn["author"], turn["external_id"]) == ("author-002", "4001")
    assert turn["posted_at"] == datetime(2024, 3, 1, 12, 1, 5, tzinfo=UTC)
    assert examples[5]["reply_to_item_id"] is None
    assert examples[3]["duplicate_group"] == examples[4]["duplicate_group"] == "dup-1"


def test_fields_of_every_kind_come_back_typed(loaded):
    import datasets

    ds, examples = loaded
    features = ds["train"].features
    assert features["emotions"] == datasets.List(datasets.ClassLabel(names=list(EMOTIONS)))
    assert features["emotion_intensity"] == {e: datasets.Value("int32") for e in EMOTIONS}
    assert features["valence"] == datasets.Value("float64") and features["offensive"] == datasets.Value("int32")
    assert features["valence_distribution"] == {"mean": datasets.Value("float64"), "std": datasets.Value("float64")}
    text = examples[7]  # 7 % 3 == 1: anger 3, disgust 1
    assert [features["emotions"].feature.int2str(i) for i in text["emotions"]] == ["anger", "disgust"]
    assert text["emotions_distribution"] == pytest.approx([2 / 3, 2 / 3, 0, 0, 0, 0])
    assert text["emotion_intensity"] == {"anger": 3, "disgust": 1, "fear": 0, "joy": 0, "sadness": 0, "surprise": 0}
    assert text["emotion_intensity_distribution"] == pytest.approx([3.0, 1.0, 0, 0, 0, 0])
    assert (text["valence"], text["valence_distribution"]) == (5.5, {"mean": 5.5, "std": 0.5})
    assert text["offensive"] == 1 and features["sentiment"].int2str(text["sentiment"]) == "neutral"
    assert examples[8]["emotions"] == [] and examples[8]["emotion_intensity"]["joy"] == 0  # labelled: no emotion
    judgements = {j["annotator"]: j["value"] for j in text["emotion_intensity_judgements"]}
    assert judgements["ann-003"] == {"anger": 0, "disgust": 0, "fear": 1, "joy": 0, "sadness": 0, "surprise": 0}
    assert [j["value"] for j in text["emotions_judgements"]] == [[0, 1], [0, 1], [2]]
    assert [j["value"] for j in text["valence_judgements"]] == [5.0, 5.5, 6.0]


def test_free_text_without_an_adjudicated_value_holds_the_medoid_judgement(loaded):
    ds, examples = loaded
    meme = examples[2]
    # summed WER against the others: ann-001 0.2 + 0.4, ann-002 0.2 + 0.6, ann-003 0.4 + 0.6
    assert meme["ocr_text_annotated"] == "when the code runs 2" and meme["ocr_text_annotated_confidence"] is None
    assert meme["ocr_text_annotated_distribution"] == [  # one judgement each: by text
        {"text": t, "share": pytest.approx(1 / 3)} for t in ("wen teh code runs 2", "when the code run 2", "when the code runs 2")
    ]
    assert examples[8]["ocr_text_annotated"] is None and examples[8]["ocr_text_annotated_distribution"] is None
    assert ds["train"].features["ocr_text_annotated"].dtype == "string"


def test_the_card_describes_every_kind_and_its_features_are_the_shards(item_release):
    card = (item_release.folder / "README.md").read_text(encoding="utf-8")
    names = validate_card(card, item_release.folder)
    for shard in item_release.folder.glob("data/default/*.parquet"):
        assert pq.read_schema(shard).names == names
    assert "| images | 4 |" in card and "| chat turns | 3 |" in card and "| texts | 5 |" in card
    assert "carries the text OCR read in it (`ocr_text`" in card
    assert "stickers and photos in order (2 in all)" in card
    assert "2 items belong to 1 near-duplicate group (`duplicate_group`)" in card
    assert "| emotion_intensity | emotion_intensity | multi_label_intensity | anger, disgust, fear, joy, sadness, surprise; each 0 … 3 |" in card
    assert "| valence | valence | interval | 1 … 9 |" in card
    assert "| ocr_text | ocr_text_annotated | free_text | text |" in card
    assert "the medoid judgement" in card and "0 values are adjudicated, 4 medoids." in card
    assert "1 − MASI distance" in card
    assert "image-classification" in card
    assert "not yet supported" not in card


def test_members_of_a_near_duplicate_group_share_a_split(item_release):
    split_of = item_release.assignment.split_of
    assert split_of[3] == split_of[4]


def test_near_duplicates_from_many_sources_are_never_split():
    """Two members of a group come from different sources; without the group key they would be free to part."""
    from exports.records import AggregatedLabel, ReleaseRow
    from exports.splits import assign_splits, leakage_groups

    rows = [
        ReleaseRow(item_id=i, source_id=i, source_uri=f"u{i}", licence="x", duplicate_group=f"g{i // 2}",
                   labels={"sentiment": AggregatedLabel(SENTIMENT.labels[i % 3])})
        for i in range(40)
    ]
    assert len(leakage_groups(rows)) == 20
    for seed in range(5):
        split_of = assign_splits(rows, seed=seed, stratify_field="sentiment").split_of
        assert all(split_of[i] == split_of[i + 1] for i in range(0, 40, 2))
        assert len(set(split_of.values())) == 3


def read_csv(path):
    with path.open(newline="", encoding="utf-8") as fh:
        return list(csv.reader(fh))


def test_brighter_csv_has_semeval_columns_and_intensities(item_rows, item_release, tmp_path):
    spec = make_item_spec()
    paths = export_brighter(item_rows, spec, tmp_path / "brighter", field="emotion_intensity")
    assert {s: p.name for s, p in paths.items()} == {"train": "train.csv", "validation": "dev.csv", "test": "test.csv"}
    lines = {}
    for split, path in paths.items():
        header, *body = read_csv(path)
        assert header == ["id", "text", "Anger", "Disgust", "Fear", "Joy", "Sadness", "Surprise"]
        lines.update({line[0]: (split, line) for line in body})
    assert lines["eng_train_track_a_00010"][1] == ["eng_train_track_a_00010", "text number 10", "3", "1", "0", "0", "0", "0"]
    assert lines["12"][1] == ["12", "text number 12", "0", "0", "0", "2", "0", "0"]  # no external id: the item id
    assert lines["memes/1.png"][1][1] == "when the code runs 1"  # an image without text: its OCR text
    assert {r.item_id: lines[r.external_id or str(r.item_id)][0] for r in item_rows} == item_release.assignment.split_of
    sets = export_brighter(item_rows, spec, tmp_path / "sets", field="emotions")
    sets_lines = {line[0]: line for p in sets.values() for line in read_csv(p)[1:]}
    assert sets_lines["eng_train_track_a_00010"][2:] == ["1", "1", "0", "0", "0", "0"]
    assert sets_lines["eng_train_track_a_00011"][2:] == ["0"] * 6


def test_brighter_csv_leaves_unlabelled_emotions_empty_and_asks_which_field(item_rows, tmp_path):
    spec = make_item_spec()
    rows = [dataclasses.replace(item_rows[8], labels={k: v for k, v in item_rows[8].labels.items() if k != "emotions"}),
            *item_rows[9:]]
    paths = export_brighter(rows, spec, tmp_path / "b", field="emotions")
    line = next(x for p in paths.values() for x in read_csv(p)[1:] if x[0] == "eng_train_track_a_00009")
    assert line[2:] == [""] * 6
    with pytest.raises(ValidationError, match=r"several \(emotions, emotion_intensity\): choose one with --field"):
        export_brighter(rows, spec, tmp_path / "c")
    with pytest.raises(ValidationError, match=r"field 'sentiment' is nominal; a BRIGHTER-style CSV needs"):
        export_brighter(rows, spec, tmp_path / "c", field="sentiment")
    only = make_item_spec(fields=(SENTIMENT, EMOTION_INTENSITY))
    stripped = [dataclasses.replace(r, labels={k: v for k, v in r.labels.items() if k in ("sentiment", "emotion_intensity")})
                for r in rows]
    assert set(export_brighter(stripped, only, tmp_path / "d")) == {"train", "validation", "test"}


def test_a_corrupt_or_missing_image_is_a_media_error_naming_item_and_path(item_rows, tmp_path):
    broken = tmp_path / "broken.png"
    broken.write_bytes(write_image(tmp_path / "ok.png", (30, 30), 1).read_bytes()[:60])  # cut inside the pixel data
    rows = [dataclasses.replace(r, image_path=broken) if r.item_id == 2 else r for r in item_rows]
    with pytest.raises(MediaError, match=r"image '.*broken\.png' of item 2 is not a readable image"):
        build_release(rows, make_item_spec(), CardContext(), tmp_path / "rel", code="x")
    rows = [dataclasses.replace(r, attachment_paths=(r.attachment_paths[0], tmp_path / "gone.webp")) if r.item_id == 6 else r
            for r in item_rows]
    with pytest.raises(MediaError, match=r"attachment 1 '.*gone\.webp' of item 6 does not exist"):
        build_release(rows, make_item_spec(), CardContext(), tmp_path / "rel", code="x")
    assert not (tmp_path / "rel").exists()


def test_values_outside_a_fields_scale_are_refused(item_rows, tmp_path):
    cases = [
        ("valence", 12.0, r"12\.0 is outside field 'valence' \(interval\)'s range 1\.\.9"),
        ("emotion_intensity", {"joy": 4}, r"intensity 4 of 'joy' in field 'emotion_intensity' .* must be an integer 0\.\.3"),
        ("emotions", ["joy", "love"], r"field 'emotions' has no label 'love'"),
    ]
    from exports.records import AggregatedLabel

    for name, value, message in cases:
        rows = [dataclasses.replace(item_rows[0], labels={**item_rows[0].labels, name: AggregatedLabel(value)}), *item_rows[1:]]
        with pytest.raises(ValidationError, match=message):
            build_release(rows, make_item_spec(), CardContext(), tmp_path / "rel", code="x")


def test_a_field_may_not_take_a_column_every_release_has():
    assert "ocr_text" in RESERVED_COLUMNS
    with pytest.raises(ValidationError, match=r"field 'ocr_text' \(free_text\) would write column 'ocr_text'.*column='ocr_text_annotated'"):
        LabelField("ocr_text", ValueKind.FREE_TEXT)
    with pytest.raises(ValidationError, match=r"would write column 'asr_confidence'"):
        LabelField("asr", ValueKind.NOMINAL, ("a", "b"))


def test_reserved_columns_are_the_columns_before_the_fields():
    spec = make_item_spec(fields=(EMOTION_SET,))
    assert list(release_features(spec))[: len(RESERVED_COLUMNS)] == list(RESERVED_COLUMNS)
    assert list(release_features(spec))[len(RESERVED_COLUMNS):] == list(EMOTION_SET.columns)


def test_jsonl_and_the_long_table_carry_values_of_every_kind(item_rows, item_release, tmp_path):
    export_jsonl(item_rows, make_item_spec(), tmp_path / "items.jsonl")
    lines = {x["item_id"]: x for x in map(json.loads, (tmp_path / "items.jsonl").read_text(encoding="utf-8").splitlines())}
    assert lines[7]["labels"]["emotions"]["value"] == ["anger", "disgust"]
    assert lines[7]["labels"]["emotion_intensity"]["value"] == {"anger": 3, "disgust": 1}
    assert lines[6]["posted_at"] == "2024-03-01T12:01:05Z" and lines[6]["kind"] == "chat_turn"
    assert lines[6]["attachment_paths"][1].endswith("sticker-b.webp")
    with (item_release.folder / "annotations.csv").open(newline="", encoding="utf-8") as fh:
        table = [x for x in csv.DictReader(fh) if x["item_id"] == "7"]
    assert {(x["annotator"], x["field"]): x["value"] for x in table}[("ann-003", "emotion_intensity")] == '{"fear":1}'
    assert {(x["annotator"], x["field"]): x["value"] for x in table}[("ann-001", "valence")] == "5.0"


def test_an_item_release_rebuilds_byte_identical(item_rows, item_release, tmp_path):
    again = build_release(item_rows, make_item_spec(), make_context(), tmp_path / "again", code="x")
    assert again.manifest["files"] == item_release.manifest["files"]
    assert again.manifest["inputs_digest"] == item_release.manifest["inputs_digest"]
