"""qa.agreement reproduces published worked examples and defines every edge case."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from backend.domain import ValidationError
from qa.agreement import (
    AgreementInputError,
    UndefinedAgreementError,
    cohen_kappa,
    cohen_kappa_matrix,
    fleiss_kappa,
    gwet_ac1,
    gwet_ac2,
    jaccard_distance,
    krippendorff_alpha,
    masi_distance,
    percent_agreement,
    ratings_from_matrix,
)

# Krippendorff, K. (2011). Computing Krippendorff's Alpha-Reliability. Annenberg School for
# Communication, University of Pennsylvania, section C: 4 observers x 12 units, values 1..5.
KRIPPENDORFF_2011 = [
    [1, 2, 3, 3, 2, 1, 4, 1, 2, None, None, None],
    [1, 2, 3, 3, 2, 2, 4, 1, 2, 5, None, 3],
    [None, 3, 3, 3, 2, 3, 4, 2, 2, 5, 1, None],
    [1, 2, 3, 3, 2, 4, 4, 1, 2, 5, 1, None],
]

# Fleiss, J. L. (1971). Measuring nominal scale agreement among many raters. Psychological
# Bulletin 76(5), 378-382: 30 patients, 6 psychiatrists, 5 diagnoses (raw form as in the R
# package irr, dataset `diagnoses`; also statsmodels' test_inter_rater.py). Rows are patients.
FLEISS_1971 = np.array(
    [
        [4, 4, 4, 4, 4, 4], [2, 2, 2, 5, 5, 5], [2, 3, 3, 3, 3, 5], [5, 5, 5, 5, 5, 5],
        [2, 2, 2, 4, 4, 4], [1, 1, 3, 3, 3, 3], [3, 3, 3, 3, 5, 5], [1, 1, 3, 3, 3, 4],
        [1, 1, 4, 4, 4, 4], [5, 5, 5, 5, 5, 5], [1, 4, 4, 4, 4, 4], [1, 2, 4, 4, 4, 4],
        [2, 2, 2, 3, 3, 3], [1, 4, 4, 4, 4, 4], [2, 2, 4, 4, 4, 5], [3, 3, 3, 3, 3, 5],
        [1, 1, 1, 4, 5, 5], [1, 1, 1, 1, 1, 2], [2, 2, 4, 4, 4, 4], [1, 3, 3, 5, 5, 5],
        [5, 5, 5, 5, 5, 5], [2, 4, 4, 4, 4, 4], [2, 2, 4, 5, 5, 5], [1, 1, 4, 4, 4, 4],
        [1, 4, 4, 4, 4, 5], [2, 2, 2, 2, 2, 4], [1, 1, 1, 1, 5, 5], [2, 2, 4, 4, 4, 4],
        [1, 3, 3, 3, 3, 3], [5, 5, 5, 5, 5, 5],
    ]
)

# Gwet, K. L. (2014). Handbook of Inter-Rater Reliability, 4th ed.: 4 raters x 12 subjects,
# 5 categories, missing ratings; shipped as irrCAC.datasets.raw_4raters with AC1 = 0.77544 and
# Fleiss' kappa (Gwet's generalised form) = 0.76117 in the irrCAC documentation.
GWET_2014 = [
    [1, 2, 3, 3, 2, 1, 4, 1, 2, None, None, None],
    [1, 2, 3, 3, 2, 2, 4, 1, 2, 5, None, None],
    [None, 3, 3, 3, 2, 3, 4, 2, 2, 5, 1, 3],
    [1, 2, 3, 3, 2, 4, 4, 1, 2, 5, 1, None],
]


@pytest.fixture(scope="module")
def krippendorff_2011() -> pd.DataFrame:
    return ratings_from_matrix(KRIPPENDORFF_2011, annotators=["A", "B", "C", "D"])


@pytest.mark.parametrize(
    ("level", "published"), [("nominal", 0.743), ("ordinal", 0.815), ("interval", 0.849), ("ratio", 0.797)]
)
def test_alpha_reproduces_krippendorff_2011(krippendorff_2011, level, published):
    result = krippendorff_alpha(krippendorff_2011, level=level)
    assert round(result.value, 3) == published
    assert result.n_items == 11  # unit 12 has a single value and is not pairable
    assert result.n_judgements == 40


def test_fleiss_kappa_reproduces_fleiss_1971():
    data = ratings_from_matrix(FLEISS_1971.T.tolist())
    result = fleiss_kappa(data, unequal_raters="error")
    assert round(result.value, 3) == 0.430
    assert (result.n_items, result.n_annotators) == (30, 6)


def test_gwet_examples_reproduce_irrcac_documentation():
    data = ratings_from_matrix(GWET_2014)
    assert round(gwet_ac1(data).value, 5) == 0.77544
    assert round(fleiss_kappa(data).value, 5) == 0.76117


def test_cohen_kappa_reproduces_the_textbook_two_by_two_example():
    # Wikipedia, "Cohen's kappa", worked example: 50 proposals, 20 yes/yes, 5 yes/no, 10 no/yes,
    # 15 no/no -> p_o = 0.7, p_e = 0.5, kappa = 0.4.
    a = ["yes"] * 25 + ["no"] * 25
    b = ["yes"] * 20 + ["no"] * 5 + ["yes"] * 10 + ["no"] * 15
    assert cohen_kappa(ratings_from_matrix([a, b])).value == pytest.approx(0.4)


def test_result_is_usable_as_a_float_and_serialises(krippendorff_2011):
    result = krippendorff_alpha(krippendorff_2011)
    assert float(result) == result.value
    payload = result.to_dict()
    assert payload["metric"] == "krippendorff_alpha_nominal"
    assert payload["categories"] == [1, 2, 3, 4, 5]
    assert payload["ci_low"] is None


class TestBootstrap:
    def test_interval_brackets_the_estimate_and_is_reproducible(self, krippendorff_2011):
        first = krippendorff_alpha(krippendorff_2011, level="interval", n_boot=500, seed=7)
        again = krippendorff_alpha(krippendorff_2011, level="interval", n_boot=500, seed=7)
        assert first == again
        assert first.ci_low <= first.value <= first.ci_high
        assert first.confidence == 0.95 and first.seed == 7
        assert 0 < first.n_draws <= 500

    def test_other_seed_gives_other_draws(self, krippendorff_2011):
        one = fleiss_kappa(krippendorff_2011, n_boot=300, seed=1)
        two = fleiss_kappa(krippendorff_2011, n_boot=300, seed=2)
        assert (one.ci_low, one.ci_high) != (two.ci_low, two.ci_high)

    def test_wider_confidence_gives_a_wider_interval(self):
        data = ratings_from_matrix(FLEISS_1971.T.tolist())
        narrow = cohen_kappa(data[data.annotator.isin(["r1", "r4"])], n_boot=400, confidence=0.5)
        wide = cohen_kappa(data[data.annotator.isin(["r1", "r4"])], n_boot=400, confidence=0.99)
        assert wide.ci_high - wide.ci_low > narrow.ci_high - narrow.ci_low

    @pytest.mark.parametrize("metric", [krippendorff_alpha, fleiss_kappa, gwet_ac1, percent_agreement])
    def test_every_coefficient_bootstraps(self, metric, krippendorff_2011):
        result = metric(krippendorff_2011, n_boot=200)
        assert result.ci_low <= result.value <= result.ci_high

    def test_ordinal_bootstrap_resamples_the_metric_too(self, krippendorff_2011):
        result = krippendorff_alpha(krippendorff_2011, level="ordinal", n_boot=300)
        assert result.ci_low < 0.815 < result.ci_high

    @pytest.mark.parametrize(("kwargs", "hint"), [({"n_boot": -1}, "n_boot=-1"), ({"confidence": 1.5}, "1.5")])
    def test_bad_bootstrap_options_are_refused(self, kwargs, hint, krippendorff_2011):
        with pytest.raises(AgreementInputError, match=hint):
            krippendorff_alpha(krippendorff_2011, **kwargs)


class TestEdgeCases:
    def test_all_raters_agree_gives_one(self):
        data = ratings_from_matrix([["a", "b", "c"], ["a", "b", "c"], ["a", "b", None]])
        for metric in (krippendorff_alpha, fleiss_kappa, gwet_ac1, percent_agreement):
            assert metric(data).value == pytest.approx(1.0)
        assert cohen_kappa(data[data.annotator != "r3"]).value == pytest.approx(1.0)

    def test_single_category_is_undefined_not_nan(self):
        data = ratings_from_matrix([["a", "a"], ["a", "a"]])
        for metric in (krippendorff_alpha, fleiss_kappa, gwet_ac1, cohen_kappa):
            with pytest.raises(UndefinedAgreementError, match="undefined"):
                metric(data)
        assert percent_agreement(data).value == 1.0

    def test_single_category_observed_but_more_declared_still_has_no_variation(self):
        data = ratings_from_matrix([["a", "a"], ["a", "a"]])
        with pytest.raises(UndefinedAgreementError):
            krippendorff_alpha(data, categories=["a", "b"])
        # AC1 chance agreement uses the declared q, so it is defined (and perfect) here
        assert gwet_ac1(data, categories=["a", "b"]).value == 1.0

    def test_items_with_one_rating_are_left_out(self, krippendorff_2011):
        extra = pd.concat(
            [krippendorff_2011, pd.DataFrame({"item": [99, 100], "annotator": ["A", "B"], "value": [1, 5]})]
        )
        assert krippendorff_alpha(extra).value == krippendorff_alpha(krippendorff_2011).value

    def test_no_item_rated_twice_is_a_clear_error(self):
        data = ratings_from_matrix([["a", None], [None, "b"]])
        for metric in (krippendorff_alpha, fleiss_kappa, gwet_ac1, percent_agreement):
            with pytest.raises(AgreementInputError, match="no item was judged by two or more"):
                metric(data)

    def test_annotators_without_overlap_have_no_cohen_kappa(self):
        data = ratings_from_matrix([["a", "b", None, None], [None, None, "a", "b"]])
        with pytest.raises(AgreementInputError, match="'r1' and 'r2' share no item"):
            cohen_kappa(data)

    def test_kappa_matrix_reports_why_a_pair_has_no_value(self):
        data = ratings_from_matrix([["a", "b", "a", None], ["a", "b", "b", None], [None, None, None, "a"]])
        table = cohen_kappa_matrix(data)
        assert list(zip(table.annotator_a, table.annotator_b)) == [("r1", "r2"), ("r1", "r3"), ("r2", "r3")]
        assert table.loc[0, "kappa"] == pytest.approx(cohen_kappa(data[data.annotator != "r3"]).value)
        assert table.loc[1, "kappa"] is None and "share no item" in table.loc[1, "reason"]
        assert table.loc[1, "n_items"] == 0


class TestBadInput:
    def test_errors_are_validation_and_value_errors(self):
        assert issubclass(AgreementInputError, ValidationError)
        assert issubclass(AgreementInputError, ValueError)

    def test_missing_column_is_named(self):
        with pytest.raises(AgreementInputError, match="lack column.*annotator"):
            krippendorff_alpha(pd.DataFrame({"item": [1], "rater": ["a"], "value": ["x"]}))

    def test_not_a_dataframe(self):
        with pytest.raises(AgreementInputError, match="got list"):
            fleiss_kappa([[1, 2], [1, 2]])

    def test_empty_ratings(self):
        with pytest.raises(AgreementInputError, match="empty"):
            krippendorff_alpha(pd.DataFrame(columns=["item", "annotator", "value"]))

    def test_duplicate_judgement_is_quoted(self):
        data = pd.DataFrame({"item": [1, 1, 1], "annotator": ["x", "y", "x"], "value": ["a", "a", "b"]})
        with pytest.raises(AgreementInputError, match="annotator 'x' judged item 1 more than once"):
            krippendorff_alpha(data)

    def test_empty_value_is_refused_not_dropped(self):
        data = pd.DataFrame({"item": [1, 1], "annotator": ["x", "y"], "value": ["a", None]})
        with pytest.raises(AgreementInputError, match="empty value.*annotator='y'"):
            fleiss_kappa(data)

    def test_value_outside_categories_is_quoted(self, krippendorff_2011):
        with pytest.raises(AgreementInputError, match=r"value\(s\) 5 are not among the categories \[1, 2, 3, 4\]"):
            krippendorff_alpha(krippendorff_2011, level="ordinal", categories=[1, 2, 3, 4])

    def test_unknown_level_is_refused(self, krippendorff_2011):
        with pytest.raises(AgreementInputError, match="level='nomimal' is not one of"):
            krippendorff_alpha(krippendorff_2011, level="nomimal")

    def test_interval_needs_numbers_or_categories(self):
        data = ratings_from_matrix([["low", "high"], ["low", "mid"]])
        with pytest.raises(AgreementInputError, match="value 'low' is not a number"):
            krippendorff_alpha(data, level="interval")
        scored = krippendorff_alpha(data, level="interval", categories=["low", "mid", "high"])
        numbers = krippendorff_alpha(ratings_from_matrix([[1, 3], [1, 2]]), level="interval")
        assert scored.value == pytest.approx(numbers.value)

    def test_unordered_values_need_declared_order(self):
        data = ratings_from_matrix([[{"a"}, 1], [2, "b"]])
        with pytest.raises(AgreementInputError, match="no natural order"):
            krippendorff_alpha(data, level="ordinal")

    def test_ratio_refuses_negative_values(self):
        with pytest.raises(AgreementInputError, match="ratio level needs values >= 0"):
            krippendorff_alpha(ratings_from_matrix([[-1, 2], [1, 2]]), level="ratio")

    def test_cohen_needs_exactly_two(self, krippendorff_2011):
        with pytest.raises(AgreementInputError, match="exactly two annotators, got 4"):
            cohen_kappa(krippendorff_2011)

    def test_unknown_weights(self, krippendorff_2011):
        with pytest.raises(AgreementInputError, match="weights='cubic'"):
            gwet_ac2(krippendorff_2011, weights="cubic")

    def test_fleiss_can_refuse_unequal_raters(self, krippendorff_2011):
        with pytest.raises(ValueError, match="Fleiss \\(1971\\) needs equal raters"):
            fleiss_kappa(krippendorff_2011, unequal_raters="error")

    def test_bad_custom_distance(self, krippendorff_2011):
        with pytest.raises(AgreementInputError, match="custom distance"):
            krippendorff_alpha(krippendorff_2011, level=lambda a, b: 1.0)


class TestMultiLabel:
    def test_masi_follows_passonneau_2006(self):
        # Passonneau (2006), "Measuring agreement on set-valued items (MASI)", LREC: monotonicity
        # 1 (equal), 2/3 (subset), 1/3 (overlap), 0 (disjoint), times Jaccard.
        assert masi_distance({"a", "b"}, {"b", "a"}) == 0.0
        assert masi_distance({"a"}, {"a", "b"}) == pytest.approx(1 - 0.5 * 2 / 3)
        assert masi_distance({"a", "b"}, {"b", "c"}) == pytest.approx(1 - (1 / 3) * (1 / 3))
        assert masi_distance({"a"}, {"b"}) == 1.0
        assert masi_distance([], []) == 0.0

    def test_jaccard(self):
        assert jaccard_distance(["a", "b", "c"], ["b", "c", "d"]) == pytest.approx(0.5)
        assert jaccard_distance([], ["a"]) == 1.0

    def test_lists_and_sets_are_the_same_value(self):
        as_lists = ratings_from_matrix([[["joy", "fear"], ["anger"]], [["fear", "joy"], ["anger", "joy"]]])
        as_sets = ratings_from_matrix([[{"joy", "fear"}, {"anger"}], [{"fear", "joy"}, {"anger", "joy"}]])
        one = krippendorff_alpha(as_lists, level=masi_distance)
        two = krippendorff_alpha(as_sets, level=masi_distance)
        assert one.value == two.value
        assert one.metric == "krippendorff_alpha_masi_distance"

    def test_masi_alpha_is_more_lenient_than_nominal_on_partial_overlap(self):
        data = ratings_from_matrix(
            [[["joy"], ["anger"], ["fear", "joy"]], [["joy", "surprise"], ["anger"], ["fear"]]]
        )
        assert krippendorff_alpha(data, level=masi_distance).value > krippendorff_alpha(data).value


def test_weighted_kappa_credits_near_misses():
    data = ratings_from_matrix([[1, 2, 3, 4, 5, 3], [1, 3, 3, 5, 4, 2]])
    plain = cohen_kappa(data).value
    linear = cohen_kappa(data, weights="linear").value
    quadratic = cohen_kappa(data, weights="quadratic").value
    assert plain < linear < quadratic


def test_declared_categories_fix_the_order_for_ordinal_data():
    data = ratings_from_matrix([["neg", "neu", "pos", "neu"], ["neu", "neu", "pos", "pos"]])
    ordered = krippendorff_alpha(data, level="ordinal", categories=["neg", "neu", "pos"]).value
    scrambled = krippendorff_alpha(data, level="ordinal", categories=["neu", "neg", "pos"]).value
    assert ordered != scrambled
