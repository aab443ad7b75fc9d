"""qa.diagnostics: where disagreement comes from, checked on hand-countable tables."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from backend.domain import ValueKind
from qa.diagnostics import (
    CodedField,
    annotator_drift,
    annotator_table,
    category_agreement,
    coincidence_matrix,
    item_agreement,
    judgement_scores,
    label_distribution,
    label_mentions,
    pair_confusions,
)
from qa.fields import FieldSpec

SENTIMENT = FieldSpec("sentiment", ValueKind.NOMINAL, ("neg", "neu", "pos"))


def table(rows, **extra):
    frame = pd.DataFrame(rows, columns=["item", "annotator", "value"])
    for key, values in extra.items():
        frame[key] = values
    return frame


@pytest.fixture
def three_items():
    # item 1: all agree; item 2: two vs one; item 3: all differ
    return table(
        [(1, "a", "pos"), (1, "b", "pos"), (1, "c", "pos"),
         (2, "a", "neg"), (2, "b", "neg"), (2, "c", "neu"),
         (3, "a", "neg"), (3, "b", "neu"), (3, "c", "pos")],
        language=["ta", "ta", "ta", "ml", "ml", "ml", "bn", "bn", "bn"],
    )


def test_item_agreement_is_the_share_of_agreeing_pairs(three_items):
    items = item_agreement(CodedField.build(three_items, SENTIMENT))
    assert items["agreement"].tolist() == pytest.approx([1.0, 1 / 3, 0.0])
    assert items.loc[1, "values"] == {"neg": 2, "neu": 1}


def test_ordinal_item_agreement_credits_near_misses():
    spec = FieldSpec("s", ValueKind.ORDINAL, ("neg", "neu", "pos"))
    near = table([(1, "a", "neg"), (1, "b", "neu")])
    far = table([(1, "a", "neg"), (1, "b", "pos")])
    assert item_agreement(CodedField.build(near, spec))["agreement"][0] == pytest.approx(0.5)
    assert item_agreement(CodedField.build(far, spec))["agreement"][0] == pytest.approx(0.0)


def test_single_judgement_has_no_item_agreement():
    items = item_agreement(CodedField.build(table([(1, "a", "neg"), (2, "a", "pos"), (2, "b", "pos")]), SENTIMENT))
    assert items["agreement"].tolist() == [None, 1.0]


def test_leave_one_out_compares_with_the_others_majority(three_items):
    scores, others = judgement_scores(CodedField.build(three_items, SENTIMENT))
    # item 2: a and b each see {neg, neu} -> tie -> undefined; c sees {neg, neg} -> majority neg, c said neu -> 0
    assert np.isnan(scores[3]) and np.isnan(scores[4]) and scores[5] == 0.0
    assert scores[:3].tolist() == [1.0, 1.0, 1.0]
    assert others.tolist() == [2.0] * 9


def test_annotator_table_with_gold_time_and_simulated_flag():
    frame = table(
        [(1, "a", "pos"), (1, "b", "pos"), (1, "c", "neg"), (1, "d", "pos"),
         (2, "a", "neg"), (2, "b", "neg"), (2, "c", "pos"), (2, "d", "neg")],
        is_gold=[True] * 4 + [False] * 4,
        gold_value=["pos"] * 4 + [None] * 4,
        lead_time_s=[2.0, 4.0, 1.0, 3.0, 6.0, 8.0, 1.0, 3.0],
        simulated=[False, False, True, False] * 2,
    )
    annotators = annotator_table(CodedField.build(frame, SENTIMENT)).set_index("annotator")
    assert annotators.loc["c", "loo_agreement"] == 0.0 and annotators.loc["a", "loo_agreement"] == 1.0
    assert annotators.loc["c", "gold_accuracy"] == 0.0 and annotators.loc["a", "gold_accuracy"] == 1.0
    assert annotators.loc["a", "n_gold"] == 1
    assert annotators.loc["a", "median_lead_time_s"] == 4.0
    assert bool(annotators.loc["c", "simulated"]) and not bool(annotators.loc["a", "simulated"])


def test_loo_kappa_separates_a_careless_annotator():
    rng = np.random.default_rng(3)
    truth = rng.integers(3, size=200)
    labels = np.array(["neg", "neu", "pos"])
    rows = []
    for name, accuracy in (("good1", 0.95), ("good2", 0.95), ("good3", 0.95), ("careless", 0.1)):
        given = np.where(rng.random(200) < accuracy, truth, rng.integers(3, size=200))
        rows += [(i, name, labels[v]) for i, v in enumerate(given)]
    annotators = annotator_table(CodedField.build(table(rows), SENTIMENT)).set_index("annotator")
    assert annotators.loc["careless", "loo_kappa"] < 0.2
    assert annotators.loc[["good1", "good2", "good3"], "loo_kappa"].min() > 0.8


def test_category_specific_agreement(three_items):
    cats = category_agreement(CodedField.build(three_items, SENTIMENT)).set_index("category")
    # pos: item 1 gives 3*2 agreeing ordered pairs; item 3 gives 0; den = 3*2 + 1*2 = 8
    assert cats.loc["pos", "specific_agreement"] == pytest.approx(6 / 8)
    assert cats.loc["neg", "n_judgements"] == 3


def test_coincidence_matrix_sums_to_pairable_judgements(three_items):
    o = coincidence_matrix(CodedField.build(three_items, SENTIMENT))
    assert o.sum() == pytest.approx(9)
    assert np.allclose(o, o.T)


def test_pair_confusions_count_shared_items(three_items):
    pairs = pair_confusions(CodedField.build(three_items, SENTIMENT))
    assert [(p["annotator_a"], p["annotator_b"]) for p in pairs] == [("a", "b"), ("a", "c"), ("b", "c")]
    ab = np.array(pairs[0]["matrix"])
    assert ab.tolist() == [[1, 1, 0], [0, 0, 0], [0, 0, 1]]  # rows a, columns b: neg/neg, neg/neu, pos/pos


def test_label_distribution_by_language(three_items):
    dist = label_distribution(CodedField.build(three_items, SENTIMENT), "language")
    assert dist.loc["ta"].tolist() == [0, 0, 3]
    assert dist.loc["ml"].tolist() == [2, 1, 0]
    assert label_distribution(CodedField.build(three_items, SENTIMENT), "speaker").empty


def test_label_mentions_for_multi_label():
    spec = FieldSpec("emotions", ValueKind.MULTI_LABEL, ("joy", "fear"))
    frame = table([(1, "a", ["joy"]), (1, "b", ["joy", "fear"]), (2, "a", ["fear"])], language=["ta", "ta", "ml"])
    field = CodedField.build(frame, spec)
    assert label_mentions(field).iloc[0].tolist() == [2, 2]
    assert label_mentions(field, "language").loc["ml"].tolist() == [0, 1]


def test_drift_splits_each_annotators_judgements_into_time_windows():
    rows, times = [], []
    for i in range(8):
        for name in ("a", "b", "c"):
            late_and_wrong = name == "c" and i >= 4
            rows.append((i, name, "neg" if late_and_wrong else "pos"))
            times.append(pd.Timestamp("2026-01-01", tz="UTC") + pd.Timedelta(hours=i))
    drift = annotator_drift(CodedField.build(table(rows, created_at=times), SENTIMENT), windows=2)
    c = drift[drift.annotator == "c"]
    assert c["loo_agreement"].tolist() == [1.0, 0.0]
    assert c["n"].tolist() == [4, 4]


def test_drift_needs_times(three_items):
    assert annotator_drift(CodedField.build(three_items, SENTIMENT)).empty
