"""Release specs and fields refuse what cannot become a dataset column or tag, saying what to do."""

from __future__ import annotations

import pytest

from backend.domain import ValidationError, ValueKind
from exports.records import LabelField, ReleaseRow, public_source_url, scoped_speaker_id
from tests.exports.builders import SENTIMENT, make_spec


def test_a_version_that_cannot_be_a_tag_is_refused():
    with pytest.raises(ValidationError, match=r"release version 'v 1' is not usable as a tag"):
        make_spec(version="v 1")


def test_free_text_and_interval_fields_take_no_labels_and_interval_needs_a_range():
    with pytest.raises(ValidationError, match=r"field 'comment' \(free_text\) takes no labels, got \['a', 'b'\]"):
        LabelField("comment", ValueKind.FREE_TEXT, ("a", "b"))
    with pytest.raises(ValidationError, match=r"field 'valence' \(interval\) needs minimum < maximum, got 9 and 1"):
        LabelField("valence", ValueKind.INTERVAL, minimum=9, maximum=1)
    with pytest.raises(ValidationError, match=r"needs max_intensity >= 1, got None"):
        LabelField("emotion", ValueKind.MULTI_LABEL_INTENSITY, ("anger", "joy"))


def test_field_names_must_be_column_names():
    with pytest.raises(ValidationError, match=r"field name 'Sentiment Score'"):
        LabelField("Sentiment Score", ValueKind.NOMINAL, ("a", "b"))


def test_fields_need_two_distinct_labels():
    with pytest.raises(ValidationError, match=r"at least two distinct labels, got \['x', 'x'\]"):
        LabelField("x", ValueKind.NOMINAL, ("x", "x"))


def test_split_fractions_must_sum_to_one():
    with pytest.raises(ValidationError, match=r"split fractions \(0\.7, 0\.1, 0\.1\)"):
        make_spec(split_fractions=(0.7, 0.1, 0.1))


def test_repeated_fields_are_refused():
    with pytest.raises(ValidationError, match="field names repeat"):
        make_spec(fields=(SENTIMENT, SENTIMENT))


@pytest.mark.parametrize(("uri", "published"), [
    ("https://example.org/watch?v=3", "https://example.org/watch?v=3"),
    ("https://ana:secret@example.org/v.mp4", "https://example.org/v.mp4"),
    ("http://[::1]:8080/v.mp4", "http://[::1]:8080/v.mp4"),
    ("file:///home/ana/corpus/clip%201.mp4", "clip 1.mp4"),
    ("/home/ana/corpus/clip.mp4", "clip.mp4"),
    ("corpus/clip.mp4", "clip.mp4"),
    ("C:\\Users\\ana\\clip.mp4", "clip.mp4"),
    ("s3://bucket/private/clip.wav", "clip.wav"),
])
def test_a_source_is_published_by_its_web_url_or_only_its_file_name(uri, published):
    # Regression: `source_url` published the curator's absolute local file paths.
    assert public_source_url(uri) == published
    assert ReleaseRow(item_id=1, source_id=1, source_uri=uri, licence="x").source_url == published


def test_speaker_ids_are_scoped_to_their_source():
    row = ReleaseRow(item_id=1, source_id=12, source_uri="u", licence="x", speaker_label="SPEAKER_00")
    assert row.speaker == scoped_speaker_id(12, "SPEAKER_00") == "src12/SPEAKER_00"
    assert ReleaseRow(item_id=2, source_id=12, source_uri="u", licence="x").speaker is None
