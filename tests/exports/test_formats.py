"""The field's formats: MELD-style CSV with dia{D}_utt{U} clips, JSONL, and the per-annotator long table."""

from __future__ import annotations

import csv
import json

from exports.build import export_jsonl, export_meld
from exports.formats import MELD_COLUMNS, meld_time


def test_meld_csv_has_meld_columns_then_ours_and_named_clips(release_inputs, tmp_path):
    rows, spec = release_inputs
    paths = export_meld(rows, spec, tmp_path / "meld")
    assert sorted(p.name for p in paths.values()) == ["dev_sent_emo.csv", "test_sent_emo.csv", "train_sent_emo.csv"]
    by_id = {r.item_id: r for r in rows}
    seen = 0
    for path in paths.values():
        with path.open(newline="", encoding="utf-8") as fh:
            reader = csv.DictReader(fh)
            assert tuple(reader.fieldnames[: len(MELD_COLUMNS)]) == MELD_COLUMNS
            for k, line in enumerate(reader, start=1):
                source = by_id[int(line["item_id"])]
                assert int(line["Sr No."]) == k
                assert line["Utterance"] == source.text and line["Speaker"] == source.speaker
                assert line["Sentiment"] == source.labels["sentiment"].value
                assert line["Emotion"] == source.labels["emotion"].value
                assert line["StartTime"] == meld_time(source.start_s)
                clip = tmp_path / "meld" / line["clip"]
                assert clip.name == f"dia{line['Dialogue_ID']}_utt{line['Utterance_ID']}.wav"
                assert clip.read_bytes() == source.audio_path.read_bytes()
                seen += 1
    assert seen == len(rows)


def test_meld_utterance_ids_count_from_zero_within_each_dialogue(release_inputs, tmp_path):
    rows, spec = release_inputs
    paths = export_meld(rows, spec, tmp_path / "meld")
    per_dialogue: dict[str, list[int]] = {}
    for path in paths.values():
        with path.open(newline="", encoding="utf-8") as fh:
            for line in csv.DictReader(fh):
                per_dialogue.setdefault(line["Dialogue_ID"], []).append(int(line["Utterance_ID"]))
    assert all(sorted(ids) == list(range(len(ids))) for ids in per_dialogue.values())
    assert len(per_dialogue) == len({r.dialogue_id for r in rows})


def test_meld_times_are_hours_minutes_seconds_comma_millis():
    # MELD's train_sent_emo.csv writes e.g. StartTime "00:16:16,059" (Poria et al., 2019).
    assert meld_time(976.059) == "00:16:16,059"
    assert meld_time(3723.5) == "01:02:03,500"
    assert meld_time(None) == ""


def test_jsonl_has_one_object_per_row_with_its_split(release_inputs, built_release, tmp_path):
    rows, spec = release_inputs
    n = export_jsonl(rows, spec, tmp_path / "rows.jsonl")
    lines = [json.loads(x) for x in (tmp_path / "rows.jsonl").read_text(encoding="utf-8").splitlines()]
    assert n == len(lines) == len(rows)
    assert {x["item_id"]: x["split"] for x in lines} == built_release.assignment.split_of
    first = next(x for x in lines if x["item_id"] == 1)
    assert first["labels"]["sentiment"]["value"] == rows[0].labels["sentiment"].value
    assert [j["annotator"] for j in first["judgements"]["sentiment"]] == ["ann-001", "ann-002", "ann-003"]


def test_long_table_has_one_judgement_per_line(built_release, release_inputs):
    rows, _ = release_inputs
    with (built_release.folder / "annotations.csv").open(newline="", encoding="utf-8") as fh:
        lines = list(csv.DictReader(fh))
    assert list(lines[0]) == ["item_id", "annotator", "field", "value", "simulated"]
    assert len(lines) == sum(len(js) for r in rows for js in r.judgements.values())
    assert {(int(x["item_id"]), x["annotator"], x["field"], x["value"]) for x in lines} == {
        (r.item_id, j.annotator, name, j.value) for r in rows for name, js in r.judgements.items() for j in js
    }
