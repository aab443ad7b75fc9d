"""qa.gate: verdicts follow the thresholds and carry the numbers they came from."""

from __future__ import annotations

import pandas as pd
import pytest

from backend.domain import GateVerdict, ValidationError
from qa.agreement import AgreementResult
from qa.fields import FieldAgreement
from qa.gate import (
    GatePolicy,
    GateThresholds,
    adjudication_cases,
    annotator_flags,
    batch_verdict,
    decide_field,
)


def measured(value, ci=(None, None), n_items=50):
    result = AgreementResult("krippendorff_alpha_nominal", value, n_items, 3, 3 * n_items, ci_low=ci[0], ci_high=ci[1])
    return FieldAgreement("sentiment", "krippendorff_alpha_nominal", result)


@pytest.mark.parametrize(
    ("value", "verdict"),
    [(0.85, GateVerdict.ACCEPT), (0.800, GateVerdict.ACCEPT), (0.70, GateVerdict.TENTATIVE),
     (0.667, GateVerdict.TENTATIVE), (0.5, GateVerdict.REJECT)],
)
def test_krippendorff_default_thresholds(value, verdict):
    decision = decide_field(measured(value), GateThresholds())
    assert decision.verdict is verdict
    assert decision.value == value and decision.n_items == 50 and decision.n_annotators == 3
    assert decision.thresholds.accept == 0.8


def test_decision_on_lower_confidence_bound_is_stricter():
    thresholds = GateThresholds(decide_on="ci_low")
    decision = decide_field(measured(0.85, ci=(0.75, 0.9)), thresholds)
    assert decision.verdict is GateVerdict.TENTATIVE
    assert "lower CI bound 0.750" in decision.reason
    with pytest.raises(ValidationError, match="needs a bootstrap interval"):
        decide_field(measured(0.85), thresholds)


def test_too_few_items_is_rejected():
    decision = decide_field(measured(0.95, n_items=3), GateThresholds(min_items=10))
    assert decision.verdict is GateVerdict.REJECT and "only 3 pairable item(s)" in decision.reason


def test_undefined_coefficient_is_tentative_with_reason():
    agreement = FieldAgreement("sarcasm", "krippendorff_alpha_nominal", None, reason="one value only")
    decision = decide_field(agreement, GateThresholds())
    assert decision.verdict is GateVerdict.TENTATIVE and decision.value is None
    assert "one value only" in decision.reason


def test_batch_takes_the_worst_field():
    a = decide_field(measured(0.9), GateThresholds())
    b = decide_field(measured(0.7), GateThresholds())
    assert batch_verdict([a, b]) is GateVerdict.TENTATIVE
    assert batch_verdict([]) is GateVerdict.TENTATIVE


def test_policy_per_field_and_from_json_shape():
    policy = GatePolicy.from_dict({"default": {"accept": 0.9, "tentative": 0.7}, "fields": {"sarcasm": {"item": 0.8}}})
    assert policy.for_field("sentiment").accept == 0.9
    assert policy.for_field("sarcasm").accept == 0.9 and policy.for_field("sarcasm").item == 0.8


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ({"default": {"acept": 0.9}}, "unknown setting\\(s\\) acept"),
        ({"defaults": {}}, "unknown key\\(s\\) defaults"),
        ({"default": {"accept": 0.5, "tentative": 0.6}}, "tentative <= accept"),
        ({"default": {"item": 1.5}}, "item threshold 1.5"),
    ],
)
def test_bad_policy_is_refused(raw, message):
    with pytest.raises(ValidationError, match=message):
        GatePolicy.from_dict(raw)


def test_adjudication_takes_low_items_and_ties_lowest_first():
    items = pd.DataFrame(
        {
            "item": [1, 2, 3, 4],
            "n_judgements": [3, 3, 2, 1],
            "agreement": pd.Series([1.0, 0.0, 1 / 3, None], dtype=object),
            "values": [{"pos": 3}, {"pos": 1, "neg": 1, "neu": 1}, {"pos": 2, "neg": 1}, {"pos": 1}],
        }
    )
    cases = adjudication_cases(items, "sentiment", GateThresholds(item=0.5), tied={2: True, 1: False})
    assert [c.item for c in cases] == [2, 3]
    assert cases[0].reason == "item agreement 0.000 < 0.500" and cases[0].values == {"pos": 1, "neg": 1, "neu": 1}


def test_annotator_flags_need_enough_items():
    annotators = pd.DataFrame(
        {
            "annotator": ["a", "b", "c"],
            "n_judgements": [50, 50, 3],
            "n_compared": [40, 40, 3],
            "loo_agreement": [0.9, 0.4, 0.0],
            "loo_kappa": [0.85, 0.2, -0.5],
            "n_gold": [10, 10, 0],
            "gold_accuracy": [0.9, 0.3, float("nan")],
            "simulated": [False, True, False],
        }
    )
    flags = annotator_flags(annotators, "sentiment", GateThresholds(annotator=0.5, min_annotator_items=5))
    assert [f.annotator for f in flags] == ["b"]
    assert "kappa with the others' majority 0.200 < 0.500" in flags[0].reason
    assert "gold accuracy 0.300" in flags[0].reason and flags[0].simulated
