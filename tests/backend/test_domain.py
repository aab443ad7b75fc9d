"""backend.domain: the speaker-count hint a user gives at three levels, and how they combine."""

from __future__ import annotations

import pytest

from backend.domain import SpeakerCountHint, ValidationError


def test_hints_read_from_metadata_accept_text_numbers_and_ignore_blanks():
    assert SpeakerCountHint.from_mapping({"num_speakers": "2", "title": "x"}) == SpeakerCountHint(num_speakers=2)
    assert SpeakerCountHint.from_mapping({"min_speakers": 2.0, "max_speakers": ""}) == SpeakerCountHint(min_speakers=2)
    assert SpeakerCountHint.from_mapping(None).empty and SpeakerCountHint.from_mapping({}).empty


@pytest.mark.parametrize("row, message", [
    ({"num_speakers": "two"}, "row 3: num_speakers must be a whole number from 1 to 50, got 'two'"),
    ({"num_speakers": 0}, "row 3: num_speakers must be a whole number from 1 to 50, got 0"),
    ({"max_speakers": 2.5}, "row 3: max_speakers must be a whole number from 1 to 50, got 2.5"),
    ({"min_speakers": True}, "row 3: min_speakers must be a whole number from 1 to 50, got True"),
    ({"min_speakers": 5, "max_speakers": 3}, "row 3: min_speakers (5) is more than max_speakers (3)"),
    ({"num_speakers": 51}, "row 3: num_speakers must be a whole number from 1 to 50, got 51"),
])
def test_bad_hints_say_what_is_wrong_and_where(row, message):
    with pytest.raises(ValidationError) as caught:
        SpeakerCountHint.from_mapping(row, where="row 3")
    assert str(caught.value) == message


def test_levels_resolve_field_by_field_most_specific_first():
    source, run, project = SpeakerCountHint(max_speakers=3), SpeakerCountHint(), SpeakerCountHint(2, 1, 8)
    assert SpeakerCountHint.resolve(source, run, project) == SpeakerCountHint(num_speakers=2)
    assert SpeakerCountHint.resolve(source, None, SpeakerCountHint(min_speakers=2, max_speakers=8)) == \
        SpeakerCountHint(min_speakers=2, max_speakers=3)
    assert SpeakerCountHint.resolve(SpeakerCountHint(num_speakers=4), SpeakerCountHint(num_speakers=2)).num_speakers == 4
    assert SpeakerCountHint.resolve(None, None).empty
    with pytest.raises(ValidationError, match=r"min_speakers \(5\) is more than max_speakers \(3\)"):
        SpeakerCountHint.resolve(source, SpeakerCountHint(min_speakers=5))
    assert SpeakerCountHint(min_speakers=2, max_speakers=4).as_dict() == {"min_speakers": 2, "max_speakers": 4}
