"""qa.pairwise: the exact pairwise agreement a release publishes per item (``<field>_agreement``)."""

from __future__ import annotations

from itertools import combinations

import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st

from backend.domain import ValueKind
from qa.diagnostics import CodedField, item_agreement
from qa.fields import FieldSpec
from qa.pairwise import exact_pair_agreement


def test_it_is_the_share_of_agreeing_pairs():
    assert exact_pair_agreement(["pos", "pos", "neg"]) == pytest.approx(1 / 3)
    assert exact_pair_agreement(["pos", "pos"]) == 1.0
    assert exact_pair_agreement(["pos", "neg"]) == 0.0
    assert exact_pair_agreement(["pos"]) is None
    assert exact_pair_agreement([]) is None


@given(st.lists(st.sampled_from("abcd"), max_size=12))
def test_it_counts_every_pair_once_and_stays_within_bounds(values):
    pairs = list(combinations(values, 2))
    result = exact_pair_agreement(values)
    if not pairs:
        assert result is None
    else:
        assert result == pytest.approx(sum(a == b for a, b in pairs) / len(pairs))
        assert 0.0 <= result <= 1.0


def test_unlike_the_diagnostic_it_gives_no_credit_for_an_ordinal_near_miss():
    # qa.diagnostics.item_agreement weighs disagreements by the field's distances; the
    # release column counts only identical values, whatever the field's level.
    spec = FieldSpec("stars", ValueKind.ORDINAL, ("1", "2", "3"))
    near = pd.DataFrame([(1, "a", "2"), (1, "b", "3")], columns=["item", "annotator", "value"])
    assert item_agreement(CodedField.build(near, spec))["agreement"][0] == pytest.approx(0.5)
    assert exact_pair_agreement(["2", "3"]) == 0.0


def test_on_nominal_values_both_agree():
    spec = FieldSpec("sentiment", ValueKind.NOMINAL, ("neg", "neu", "pos"))
    votes = ["pos", "pos", "neg", "neu", "pos"]
    frame = pd.DataFrame([(1, f"a{k}", v) for k, v in enumerate(votes)], columns=["item", "annotator", "value"])
    assert item_agreement(CodedField.build(frame, spec))["agreement"][0] == pytest.approx(exact_pair_agreement(votes))
