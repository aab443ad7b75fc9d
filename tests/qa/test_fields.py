"""qa.fields: specs from the scheme registry, and the right metric for each value kind."""

from __future__ import annotations

import pytest

from backend.domain import ValueKind
from qa.agreement import AgreementInputError, krippendorff_alpha, masi_distance, ratings_from_matrix
from qa.fields import FieldSpec, infer_spec, measure_field


def test_every_registered_scheme_field_becomes_a_spec():
    from annotation_configs.registry import load_registry

    for scheme in load_registry().values():
        for field in scheme.fields:
            spec = FieldSpec.from_scheme_field(field)
            assert spec.kind is field.kind
            assert spec.primary_metric == field.metric
            assert spec.categories == field.keys


def test_intensity_scheme_keeps_its_scale():
    from annotation_configs.registry import load_scheme

    spec = FieldSpec.from_scheme_field(load_scheme("emotion_intensity").fields[0])
    assert spec.max_intensity == 3


def test_unknown_metric_is_refused():
    with pytest.raises(AgreementInputError, match="metric 'cronbach' is not one QA computes"):
        FieldSpec("x", ValueKind.NOMINAL, metric="cronbach")


def test_nominal_field_reports_primary_with_ci_and_companions():
    spec = FieldSpec("sentiment", ValueKind.NOMINAL, ("negative", "neutral", "positive"))
    data = ratings_from_matrix(
        [["negative", "neutral", "positive", "neutral"], ["negative", "neutral", "neutral", "neutral"]]
    )
    measured = measure_field(data, spec, n_boot=100)
    assert measured.metric == "krippendorff_alpha_nominal"
    assert measured.primary.value == pytest.approx(krippendorff_alpha(data).value)
    assert measured.primary.ci_low is not None
    assert set(measured.companions) == {"fleiss_kappa", "gwet_ac1", "percent_agreement"}
    kappa = measured.companions["fleiss_kappa"]
    assert kappa.ci_low is not None and kappa.ci_low <= kappa.value <= kappa.ci_high  # kappa is reported with a CI too


def test_multi_label_field_uses_masi():
    spec = FieldSpec("emotions", ValueKind.MULTI_LABEL, ("joy", "fear", "anger"))
    data = ratings_from_matrix([[["joy"], ["fear", "joy"], ["anger"]], [["joy"], ["fear"], ["anger", "joy"]]])
    measured = measure_field(data, spec, n_boot=0)
    assert measured.primary.value == pytest.approx(krippendorff_alpha(data, level=masi_distance).value)


def test_intensity_field_pools_labels_and_reports_each():
    spec = FieldSpec("emotion_intensity", ValueKind.MULTI_LABEL_INTENSITY, ("joy", "fear"), max_intensity=3)
    data = ratings_from_matrix(
        [[{"joy": 3, "fear": 0}, {"joy": 0, "fear": 2}, {"joy": 1, "fear": 1}],
         [{"joy": 2, "fear": 0}, {"joy": 0, "fear": 3}, {"joy": 1, "fear": 0}]]
    )
    measured = measure_field(data, spec, n_boot=0)
    assert set(measured.per_label) == {"joy", "fear"}
    assert -1 <= measured.primary.value <= 1


def test_undefined_primary_is_kept_with_its_reason():
    spec = FieldSpec("sarcasm", ValueKind.NOMINAL, ("sarcastic", "not_sarcastic"))
    data = ratings_from_matrix([["not_sarcastic"] * 3, ["not_sarcastic"] * 3])
    measured = measure_field(data, spec, n_boot=0)
    assert measured.primary is None
    assert "undefined" in measured.reason
    assert measured.companions["percent_agreement"].value == 1.0


def test_free_text_is_reported_with_pairwise_error_rates():
    spec = FieldSpec("transcript", ValueKind.FREE_TEXT)
    data = ratings_from_matrix([["the cat sat", "hello"], ["the cat sat down", "hello"]])
    measured = measure_field(data, spec)
    assert measured.primary is None and not spec.gated
    # summed edits over summed lengths, each pair both ways: (1 + 1) / (3 + 4 + 1 + 1) words = 0.222
    # (the mean of per-pair rates, 0.146, is what this reported before backend.language.metrics)
    assert "language unknown: pairwise WER 0.222 (CER " in measured.reason
    assert measured.reason.endswith(" over 2 pairs")


def test_an_asr_prefilled_field_keeps_its_predictor():
    from annotation_configs.registry import load_scheme

    spec = FieldSpec.from_scheme_field(load_scheme("transcript").fields[0])
    assert (spec.kind, spec.predictor, spec.to_dict()["predictor"]) == (ValueKind.FREE_TEXT, "asr", "asr")


@pytest.mark.parametrize(
    ("values", "kind"),
    [
        (["pos", "neg"], ValueKind.NOMINAL),
        ([1.5, 3.0], ValueKind.INTERVAL),
        ([["a"], ["a", "b"]], ValueKind.MULTI_LABEL),
        ([{"a": 1}, {"b": 2}], ValueKind.MULTI_LABEL_INTENSITY),
        (["a long free text answer that nobody would use as a label, surely"], ValueKind.FREE_TEXT),
    ],
)
def test_infer_spec_from_values(values, kind):
    assert infer_spec("f", values).kind is kind


def test_infer_spec_needs_values():
    with pytest.raises(AgreementInputError, match="no values"):
        infer_spec("f", [])
