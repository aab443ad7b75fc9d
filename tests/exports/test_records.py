"""Release specs and fields refuse what cannot become a dataset column or tag, saying what to do."""

from __future__ import annotations

import pytest

from backend.domain import ValidationError, ValueKind
from exports.records import LabelField
from tests.exports.builders import SENTIMENT, make_spec


def test_a_version_that_cannot_be_a_tag_is_refused():
    with pytest.raises(ValidationError, match=r"release version 'v 1' is not usable as a tag"):
        make_spec(version="v 1")


def test_fields_must_be_nominal_or_ordinal():
    with pytest.raises(ValidationError, match=r"field 'comment' has kind 'free_text'"):
        LabelField("comment", ValueKind.FREE_TEXT, ("a", "b"))


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
