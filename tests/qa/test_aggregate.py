"""qa.aggregate: one label per item with an explicit tie policy and a soft distribution."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from backend.domain import ValueKind
from qa.agreement import AgreementInputError
from qa.aggregate import aggregate, as_records
from qa.diagnostics import CodedField
from qa.fields import FieldSpec

NOMINAL = FieldSpec("sentiment", ValueKind.NOMINAL, ("neg", "neu", "pos"))


def field(rows, spec=NOMINAL):
    return CodedField.build(pd.DataFrame(rows, columns=["item", "annotator", "value"]), spec)


TIED = [(1, "a", "pos"), (1, "b", "pos"), (1, "c", "neg"), (2, "a", "neg"), (2, "b", "pos")]


def test_majority_with_confidence_and_distribution():
    labels = aggregate(field(TIED)).set_index("item")
    assert labels.loc[1, "value"] == "pos"
    assert labels.loc[1, "confidence"] == pytest.approx(2 / 3)
    assert labels.loc[1, "distribution"] == {"neg": pytest.approx(1 / 3, abs=1e-6), "pos": pytest.approx(2 / 3, abs=1e-6)}


@pytest.mark.parametrize(("tie", "value"), [("abstain", None), ("first", "neg")])
def test_tie_policy(tie, value):
    labels = aggregate(field(TIED), tie=tie).set_index("item")
    assert labels.loc[2, "value"] == value
    assert bool(labels.loc[2, "tied"]) and not bool(labels.loc[1, "tied"])


def test_random_ties_are_seeded():
    rows = [(i, a, v) for i in range(40) for a, v in (("a", "neg"), ("b", "pos"))]
    one = aggregate(field(rows), tie="random", seed=1)["value"].tolist()
    assert one == aggregate(field(rows), tie="random", seed=1)["value"].tolist()
    assert set(one) == {"neg", "pos"}


def test_ordinal_median_is_the_lower_median_on_the_declared_order():
    spec = FieldSpec("s", ValueKind.ORDINAL, ("neg", "neu", "pos"))
    rows = [(1, "a", "neg"), (1, "b", "pos"), (1, "c", "pos"), (2, "a", "neg"), (2, "b", "pos")]
    labels = aggregate(field(rows, spec)).set_index("item")
    assert labels.loc[1, "value"] == "pos" and labels.loc[2, "value"] == "neg"
    assert labels.loc[1, "method"] == "median"


def test_interval_mean_with_spread_confidence():
    spec = FieldSpec("valence", ValueKind.INTERVAL, minimum=1, maximum=9)
    labels = aggregate(field([(1, "a", 3.0), (1, "b", 5.0), (2, "a", 7.0), (2, "b", 7.0)], spec)).set_index("item")
    assert labels.loc[1, "value"] == 4.0 and labels.loc[1, "confidence"] == pytest.approx(1 - 1 / 8)
    assert labels.loc[2, "confidence"] == 1.0
    assert labels.loc[1, "distribution"] == {"mean": 4.0, "std": 1.0}


def test_multi_label_keeps_labels_most_annotators_chose():
    spec = FieldSpec("emotions", ValueKind.MULTI_LABEL, ("joy", "fear", "anger"))
    rows = [(1, "a", ["joy", "fear"]), (1, "b", ["joy"]), (1, "c", ["joy", "anger"])]
    labels = aggregate(field(rows, spec))
    assert labels.loc[0, "value"] == ["joy"]
    assert labels.loc[0, "distribution"]["joy"] == 1.0 and labels.loc[0, "distribution"]["fear"] == pytest.approx(1 / 3, abs=1e-6)


def test_intensity_takes_the_median_per_label():
    spec = FieldSpec("ei", ValueKind.MULTI_LABEL_INTENSITY, ("joy", "fear"), max_intensity=3)
    rows = [(1, "a", {"joy": 3, "fear": 0}), (1, "b", {"joy": 2, "fear": 1}), (1, "c", {"joy": 3, "fear": 0})]
    labels = aggregate(field(rows, spec))
    assert labels.loc[0, "value"] == {"joy": 3, "fear": 0}


def test_dawid_skene_discounts_an_unreliable_annotator():
    # Dawid & Skene (1979) via crowd-kit: two careful annotators and one who always says "pos".
    rng = np.random.default_rng(5)
    truth = rng.integers(3, size=60)
    names = np.array(["neg", "neu", "pos"])
    rows = []
    for i, t in enumerate(truth):
        rows.append((i, "careful1", names[t]))
        rows.append((i, "careful2", names[t] if rng.random() < 0.85 else names[rng.integers(3)]))
        rows.append((i, "spammer", "pos"))
    labels = aggregate(field(rows), "dawid_skene")
    accuracy = np.mean(labels["value"].to_numpy() == names[truth])
    assert accuracy >= 0.95
    assert all(abs(sum(d.values()) - 1) < 1e-6 for d in labels["distribution"])
    assert as_records(labels, "sentiment")[0]["method"] == "dawid_skene"


def test_method_must_fit_the_kind():
    with pytest.raises(AgreementInputError, match="method 'mean' does not apply to nominal"):
        aggregate(field(TIED), "mean")
    with pytest.raises(AgreementInputError, match="tie='coin'"):
        aggregate(field(TIED), tie="coin")
    with pytest.raises(AgreementInputError, match="free text"):
        aggregate(field([(1, "a", "x"), (1, "b", "y")], FieldSpec("t", ValueKind.FREE_TEXT)))
