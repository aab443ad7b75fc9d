"""The field's formats: MELD-style CSV with dia{D}_utt{U} clips, JSONL, and the per-annotator long table."""

from __future__ import annotations

import csv
import dataclasses
import json

import pytest

from backend.domain import ConflictError
from exports.build import build_release, export_jsonl, export_meld
from exports.formats import MELD_COLUMNS, csv_cell, meld_time, write_long_table
from exports.records import SourceRecord
from tests.exports.builders import make_context, make_rows, make_spec


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


def read_csv(path):
    with path.open(newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


def meld_lines(paths):
    return [line for path in paths.values() for line in read_csv(path)]


@pytest.mark.parametrize(("cell", "written"), [
    ("=1+1", "'=1+1"),
    ('=HYPERLINK("http://evil.example","x")', '\'=HYPERLINK("http://evil.example","x")'),
    ("+cmd|' /C calc'!A0", "'+cmd|' /C calc'!A0"),
    ("-2+3", "'-2+3"),
    ("@SUM(A1:A9)", "'@SUM(A1:A9)"),
    ("\t=1+1", "'\t=1+1"),
    ("\r=1+1", "'\r=1+1"),
    ("-", "'-"),
    ("-1", "-1"),
    ("+0.5", "+0.5"),
    ("-1.5e3", "-1.5e3"),
    ("plain text", "plain text"),
    (-1.5, -1.5),
    (-3, -3),
    (True, True),
])
def test_csv_cells_starting_a_formula_are_escaped_and_numbers_stay_numbers(cell, written):
    assert csv_cell(cell) == written


@pytest.fixture()
def hostile_rows(tmp_path):
    """Rows whose text, dialogue and judgements start formulas; ASR confidence is negative."""
    rows = make_rows(tmp_path / "clips", n_sources=3, per_source=1)
    texts = ['=HYPERLINK("http://evil.example","click")', "-1", "@SUM(A1)"]
    hostile = []
    for row, text in zip(rows, texts, strict=True):
        judged = {"sentiment": tuple(dataclasses.replace(j, annotator="+" + j.annotator) for j in row.judgements["sentiment"])}
        hostile.append(dataclasses.replace(row, text=text, dialogue_id="=" + row.dialogue_id, asr_confidence=-0.25,
                                           judgements=judged))
    return hostile


def test_meld_csv_cells_never_start_a_formula_and_numbers_stay_numbers(hostile_rows, tmp_path):
    # Regression: MELD-style CSV wrote `=HYPERLINK(...)` text as it was, run by spreadsheets.
    lines = {int(x["item_id"]): x for x in meld_lines(export_meld(hostile_rows, make_spec(), tmp_path / "meld"))}
    by_text = {x["Utterance"]: x for x in lines.values()}
    assert set(by_text) == {'\'=HYPERLINK("http://evil.example","click")', "-1", "'@SUM(A1)"}
    assert {x["dialogue_key"] for x in lines.values()} == {"'=src0", "'=src1", "'=src2"}
    assert {x["asr_confidence"] for x in lines.values()} == {"-0.25"}


def test_the_long_table_escapes_formula_cells_too(hostile_rows, tmp_path):
    write_long_table(hostile_rows, tmp_path / "annotations.csv")
    lines = read_csv(tmp_path / "annotations.csv")
    assert {x["annotator"] for x in lines} == {"'+ann-001", "'+ann-002", "'+ann-003"}
    assert all(int(x["item_id"]) > 0 for x in lines)


def test_a_folder_with_other_files_is_not_a_meld_target(release_inputs, tmp_path):
    rows, spec = release_inputs
    meld = tmp_path / "MELD.Raw"
    meld.mkdir()
    (meld / "train_sent_emo.csv").write_text("Sr No.,Utterance\n1,the original MELD\n")
    (meld / "manifest.json").write_text('{"project": "MELD"}')
    with pytest.raises(ConflictError, match=r"MELD\.Raw' is not empty and holds no release manifest .*nothing was deleted"):
        export_meld(rows, spec, meld)
    assert (meld / "train_sent_emo.csv").read_text() == "Sr No.,Utterance\n1,the original MELD\n"
    assert sorted(p.name for p in meld.iterdir()) == ["manifest.json", "train_sent_emo.csv"]


def test_a_previous_meld_export_of_the_same_project_is_replaced_without_stale_clips(release_inputs, tmp_path):
    rows, spec = release_inputs
    export_meld(rows, spec, tmp_path / "meld")
    paths = export_meld(rows[:8], spec, tmp_path / "meld")
    assert len(meld_lines(paths)) == 8
    clips = sorted(p for p in (tmp_path / "meld").rglob("*.wav"))
    assert len(clips) == 8
    with pytest.raises(ConflictError, match=r"holds a meld-csv export of project 'demo', not a meld-csv export of 'other'"):
        export_meld(rows, dataclasses.replace(spec, project="other"), tmp_path / "meld")


def test_a_jsonl_file_that_is_not_this_projects_export_is_not_overwritten(release_inputs, tmp_path):
    rows, spec = release_inputs
    mine = tmp_path / "mine.jsonl"
    mine.write_text('{"id": 1, "text": "my own data"}\n')
    with pytest.raises(ConflictError, match=(
        r"mine\.jsonl' exists and is not a JSONL export of project 'demo' \(line 1 is not an item of project 'demo'\); "
        r"nothing was deleted — give a new file with --out"
    )):
        export_jsonl(rows, spec, mine)
    assert mine.read_text() == '{"id": 1, "text": "my own data"}\n'
    export_jsonl(rows, spec, tmp_path / "demo.jsonl")
    assert export_jsonl(rows[:5], spec, tmp_path / "demo.jsonl") == 5
    with pytest.raises(ConflictError, match=r"demo\.jsonl' exists and is not a JSONL export of project 'other'"):
        export_jsonl(rows, dataclasses.replace(spec, project="other"), tmp_path / "demo.jsonl")
    assert sorted(p.name for p in tmp_path.iterdir() if p.is_file()) == ["demo.jsonl", "mine.jsonl"]


def test_every_format_publishes_speakers_scoped_to_their_source_and_no_local_path(tmp_path):
    # Regressions: SPEAKER_00 of several sources read as one speaker in every split;
    # `source_url` held the curator's absolute paths.
    import pyarrow.parquet as pq

    rows = [
        dataclasses.replace(r, source_uri=f"file:///home/ana/private corpus/video{r.source_id}.mp4" if r.source_id % 2 else
                            f"/home/ana/private corpus/video{r.source_id}.mp4")
        for r in make_rows(tmp_path / "clips")
    ]
    spec = make_spec()
    context = dataclasses.replace(make_context(), sources=tuple(SourceRecord(r.source_id, r.source_uri, r.licence) for r in rows))
    release = build_release(rows, spec, context, tmp_path / "hf", code="x")
    export_meld(rows, spec, tmp_path / "meld")
    export_jsonl(rows, spec, tmp_path / "items.jsonl")
    expected = {r.item_id: (f"src{r.source_id}/{r.speaker_label}", f"video{r.source_id}.mp4") for r in rows}
    hf = [x for p in (release.folder / "data").rglob("*.parquet") for x in pq.read_table(p).to_pylist()]
    meld = meld_lines({s: tmp_path / "meld" / f"{n}_sent_emo.csv" for s, n in (("a", "train"), ("b", "dev"), ("c", "test"))})
    jsonl = [json.loads(x) for x in (tmp_path / "items.jsonl").read_text(encoding="utf-8").splitlines()]
    assert {x["item_id"]: (x["speaker"], x["source_url"]) for x in hf} == expected
    assert {int(x["item_id"]): (x["Speaker"], x["source_url"]) for x in meld} == expected
    assert {x["item_id"]: (x["speaker"], x["source_url"]) for x in jsonl} == expected
    texts = [p for p in [*release.folder.rglob("*"), *(tmp_path / "meld").rglob("*.csv"), tmp_path / "items.jsonl"]
             if p.suffix in (".md", ".csv", ".json", ".jsonl")]
    assert all("/home/ana" not in p.read_text(encoding="utf-8") for p in texts)
    card = (release.folder / "README.md").read_text(encoding="utf-8")
    assert "`src<source_id>/<label>` (e.g. `src12/SPEAKER_00`)" in card and "| video101.mp4 |" in card
