"""qa.importer: every malformed line is reported by number and nothing is returned unless all are valid."""

from __future__ import annotations

import json
from datetime import datetime, timezone

import pytest

from backend.domain import NotFoundError, ValidationError, ValueKind
from qa.fields import FieldSpec
from qa.importer import ImportFileError, imported_pseudonym, parse_csv, parse_json, read_judgements, to_frame

SPECS = {
    "sentiment": FieldSpec("sentiment", ValueKind.NOMINAL, ("negative", "neutral", "positive")),
    "valence": FieldSpec("valence", ValueKind.INTERVAL, minimum=1, maximum=9),
    "emotions": FieldSpec("emotions", ValueKind.MULTI_LABEL, ("joy", "fear", "anger")),
    "intensity": FieldSpec("intensity", ValueKind.MULTI_LABEL_INTENSITY, ("joy", "fear"), max_intensity=3),
}

GOOD_CSV = """item,annotator,field,value,lead_time_s,created_at
1,ann-001,sentiment,positive,3.5,2026-01-02T10:00:00Z
1,ann-002,sentiment,neutral,,
1,ann-001,valence,7.5,,
1,ann-001,emotions,"[""joy"",""fear""]",,
1,ann-002,emotions,joy;anger,,
1,ann-001,intensity,"{""joy"": 2}",,
"""


def test_good_csv_is_parsed_and_normalised():
    rows = parse_csv(GOOD_CSV, SPECS)
    assert [r.line for r in rows] == [2, 3, 4, 5, 6, 7]
    assert rows[0].value == "positive" and rows[0].lead_time_s == 3.5
    assert rows[0].created_at == datetime(2026, 1, 2, 10, tzinfo=timezone.utc)
    assert rows[2].value == 7.5
    assert rows[3].value == ["fear", "joy"] and rows[4].value == ["anger", "joy"]
    assert rows[5].value == {"joy": 2, "fear": 0}
    frame = to_frame(rows)
    assert list(frame.columns) == ["item", "annotator", "field", "value", "lead_time_s", "created_at"]


def test_without_a_scheme_numeric_fields_become_numbers():
    rows = parse_csv("item,annotator,field,value\n1,a,score,3\n1,b,score,4.5\n1,a,label,x\n")
    assert [r.value for r in rows] == [3.0, 4.5, "x"]


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("1,ann-003,sentiment,postive,,", "line 8: value 'postive' is not a label of field 'sentiment'"),
        ("1,ann-003,valence,12,,", "line 8: value 12 is outside the range 1..9 of field 'valence'"),
        ("1,ann-003,valence,high,,", "line 8: value 'high' is not a number"),
        ("1,ann-003,emotions,joy;hope,,", "line 8: label 'hope' is not a label of field 'emotions'"),
        ("1,ann-003,intensity,\"{\"\"joy\"\": 5}\",,", "line 8: intensity 5 for 'joy' must be a whole number 0..3"),
        ("1,ann-003,arousal,3,,", "line 8: field 'arousal' is not in the scheme"),
        ("1,,sentiment,positive,,", "line 8: empty annotator"),
        ("1,ann-003,sentiment,,,", "line 8: empty value"),
        ("1,ann-003,sentiment,positive,-2,", "line 8: lead_time_s '-2' must be a number of seconds >= 0"),
        ("1,ann-003,sentiment,positive,,yesterday", "line 8: created_at 'yesterday' is not an ISO 8601 time"),
        ("1,ann-003,sentiment,positive", "line 8: 4 columns, the header has 6"),
        ("1,ann-001,sentiment,negative,,", "line 8: annotator 'ann-001' already judged field 'sentiment' of item '1' on line 2"),
        ("1,ann-003,emotions,\"[joy]\",,", "line 8: value '[joy]' looks like JSON but is not valid"),
    ],
)
def test_each_kind_of_bad_line_is_reported_with_its_number(line, message):
    with pytest.raises(ImportFileError) as error:
        parse_csv(GOOD_CSV + line + "\n", SPECS, source="labels.csv")
    text = str(error.value)
    assert message in text
    assert text.startswith("labels.csv: 1 problem(s), nothing imported")


def test_all_problems_are_listed_at_once():
    bad = GOOD_CSV + "2,a,sentiment,good,,\n3,b,sentiment,bad,,\n"
    with pytest.raises(ImportFileError) as error:
        parse_csv(bad, SPECS)
    assert error.value.problems[0].startswith("line 8:") and error.value.problems[1].startswith("line 9:")


@pytest.mark.parametrize(
    ("header", "message"),
    [
        ("item,annotator,value\n", "missing column(s) field"),
        ("item,annotator,field,value,lead_time\n", "unknown column(s) 'lead_time'"),
    ],
)
def test_bad_header(header, message):
    with pytest.raises(ImportFileError, match=message.replace("(", "\\(").replace(")", "\\)")):
        parse_csv(header + "1,a,sentiment,positive\n", SPECS)


def test_empty_files():
    with pytest.raises(ImportFileError, match="the file is empty"):
        parse_csv("", SPECS)
    with pytest.raises(ImportFileError, match="no judgements in the file"):
        parse_csv("item,annotator,field,value\n", SPECS)
    with pytest.raises(ImportFileError, match="the file is empty"):
        parse_json("  ", SPECS)


def test_json_array_and_json_lines():
    records = [
        {"item": 1, "annotator": "a", "field": "sentiment", "value": "positive"},
        {"item": 1, "annotator": "b", "field": "emotions", "value": ["joy"]},
    ]
    assert [r.value for r in parse_json(json.dumps(records), SPECS)] == ["positive", ["joy"]]
    lines = "\n".join(json.dumps(r) for r in records)
    assert [r.line for r in parse_json(lines, SPECS)] == [1, 2]


def test_bad_json_is_reported_by_line_or_record():
    with pytest.raises(ImportFileError, match="line 2: not valid JSON"):
        parse_json('{"item": 1, "annotator": "a", "field": "sentiment", "value": "positive"}\n{"item": 2,\n', SPECS)
    with pytest.raises(ImportFileError, match="record 2: 'x' is not an object"):
        parse_json('[{"item": 1, "annotator": "a", "field": "sentiment", "value": "positive"}, "x"]', SPECS)
    with pytest.raises(ImportFileError, match="record 1: missing column\\(s\\) value"):
        parse_json('[{"item": 1, "annotator": "a", "field": "sentiment"}]', SPECS)


def test_read_judgements_checks_the_file(tmp_path):
    with pytest.raises(NotFoundError, match="does not exist"):
        read_judgements(tmp_path / "nope.csv")
    odd = tmp_path / "labels.xlsx"
    odd.write_text("x")
    with pytest.raises(ValidationError, match="unknown file type '.xlsx'"):
        read_judgements(odd)
    latin = tmp_path / "latin.csv"
    latin.write_bytes("item,annotator,field,value\n1,a,sentiment,n\xe9gatif\n".encode("latin-1"))
    with pytest.raises(ValidationError, match="not UTF-8 text"):
        read_judgements(latin)
    good = tmp_path / "labels.csv"
    good.write_text(GOOD_CSV, encoding="utf-8")
    assert len(read_judgements(good, SPECS)) == 6


def test_imported_annotators_get_their_own_namespace():
    assert imported_pseudonym("ann-001") == "imported:ann-001"
    assert imported_pseudonym("imported:ann-001") == "imported:ann-001"  # a re-imported export keeps its names
    with pytest.raises(ImportFileError, match="line 2: annotator name 'r{42}' is longer than 41 characters; use a short pseudonym"):
        parse_csv(f"item,annotator,field,value\n1,{'r' * 42},sentiment,positive\n", SPECS)
    assert parse_csv(f"item,annotator,field,value\n1,{'r' * 41},sentiment,positive\n", SPECS)[0].annotator == "r" * 41
    with pytest.raises(ImportFileError, match="line 3: annotator 'imported:a' already judged field 'sentiment' of item '1' on line 2"):
        parse_csv("item,annotator,field,value\n1,a,sentiment,positive\n1,imported:a,sentiment,negative\n", SPECS)


def test_read_judgements_parses_the_bytes_it_is_given(tmp_path):
    path = tmp_path / "labels.csv"
    path.write_text("item,annotator,field,value\n1,a,sentiment,negative\n", encoding="utf-8")
    rows = read_judgements(path, SPECS, data=GOOD_CSV.encode("utf-8"))  # what the caller hashed, not a re-read
    assert len(rows) == 6
