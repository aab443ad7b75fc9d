"""qa.agreement agrees with independent implementations on random matrices with missing data.

Peers (none written here):
- ``krippendorff`` (Santiago Castro, fast-krippendorff, PyPI ``krippendorff``): alpha at all levels;
- NLTK ``nltk.metrics.agreement.AnnotationTask`` (Bird, Klein & Loper): alpha with a custom distance
  (its own MASI and Jaccard distances) and its binary-distance alpha;
- irrCAC (Gwet's R package ported to Python, PyPI ``irrCAC``): Fleiss' kappa, AC1 and AC2 with
  missing ratings;
- statsmodels ``stats.inter_rater``: Fleiss' kappa (complete data) and Cohen's kappa (weighted);
- scikit-learn ``metrics.cohen_kappa_score``: Cohen's kappa, unweighted/linear/quadratic.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from qa.agreement import (
    AgreementInputError,
    cohen_kappa,
    fleiss_kappa,
    gwet_ac1,
    gwet_ac2,
    krippendorff_alpha,
    ratings_from_matrix,
)

# derandomize: the same examples on every CI run, so a peer's quirk cannot make CI flaky
PEER_SETTINGS = settings(
    max_examples=30, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow]
)


@st.composite
def reliability_matrices(draw, min_annotators=2, max_annotators=5, missing=True):
    """(annotators x items) float matrix with NaN for missing, values 1..q; q categories."""
    n_annotators = draw(st.integers(min_annotators, max_annotators))
    n_items = draw(st.integers(3, 25))
    q = draw(st.integers(2, 5))
    cells = draw(
        st.lists(
            st.integers(1, q).map(float) | (st.just(np.nan) if missing else st.nothing()),
            min_size=n_annotators * n_items,
            max_size=n_annotators * n_items,
        )
    )
    matrix = np.array(cells).reshape(n_annotators, n_items)
    present = ~np.isnan(matrix)
    pairable = present.sum(axis=0) >= 2
    values = matrix[:, pairable][present[:, pairable]]
    assume(len(np.unique(values)) >= 2)  # otherwise every coefficient is 0/0
    return matrix, q


def to_ratings(matrix: np.ndarray) -> pd.DataFrame:
    return ratings_from_matrix([[None if np.isnan(v) else int(v) for v in row] for row in matrix])


@pytest.mark.parametrize("level", ["nominal", "ordinal", "interval", "ratio"])
@PEER_SETTINGS
@given(data=reliability_matrices())
def test_alpha_matches_the_krippendorff_package(level, data):
    import krippendorff

    matrix, q = data
    categories = list(range(1, q + 1))
    ours = krippendorff_alpha(to_ratings(matrix), level=level, categories=categories).value
    theirs = krippendorff.alpha(reliability_data=matrix, level_of_measurement=level, value_domain=categories)
    assert ours == pytest.approx(theirs, abs=1e-9)


@PEER_SETTINGS
@given(data=reliability_matrices())
def test_nominal_alpha_matches_nltk(data):
    from nltk.metrics.agreement import AnnotationTask

    matrix, _ = data
    triples = [(f"r{a}", i, int(v)) for a, row in enumerate(matrix) for i, v in enumerate(row) if not np.isnan(v)]
    assert krippendorff_alpha(to_ratings(matrix)).value == pytest.approx(AnnotationTask(triples).alpha(), abs=1e-9)


@st.composite
def label_set_matrices(draw):
    """Multi-label judgements: (annotators x items) of frozensets (None = missing)."""
    labels = ["joy", "anger", "fear", "sadness"]
    n_annotators = draw(st.integers(2, 4))
    n_items = draw(st.integers(3, 12))
    cell = st.frozensets(st.sampled_from(labels), min_size=1, max_size=3) | st.none()
    rows = [draw(st.lists(cell, min_size=n_items, max_size=n_items)) for _ in range(n_annotators)]
    pairable = [i for i in range(n_items) if sum(r[i] is not None for r in rows) >= 2]
    assume(len({r[i] for r in rows for i in pairable if r[i] is not None}) >= 2)
    return rows


@pytest.mark.parametrize("distance", ["masi_distance", "jaccard_distance"])
@PEER_SETTINGS
@given(rows=label_set_matrices())
def test_alpha_with_a_custom_set_distance_matches_nltk(distance, rows):
    from nltk.metrics import distance as nltk_distance
    from nltk.metrics.agreement import AnnotationTask

    fn = getattr(nltk_distance, distance)  # NLTK's own MASI (0.67/0.33 monotonicity) and Jaccard
    triples = [(f"r{a}", i, v) for a, row in enumerate(rows) for i, v in enumerate(row) if v is not None]
    theirs = AnnotationTask(triples, distance=fn).alpha()
    ours = krippendorff_alpha(ratings_from_matrix(rows), level=fn).value
    assert ours == pytest.approx(theirs, abs=1e-9)


def _irrcac(matrix: np.ndarray, q: int, weights: str = "identity"):
    # irrCAC 0.4.4 pins scipy==1.12.0, which clashes with the project's numpy 2 stack; it is pure
    # Python and works with newer scipy when installed with `pip install --no-deps irrCAC==0.4.4`.
    from irrCAC.raw import CAC

    # irrCAC's variance step divides by zero with a single pairable item; that case is its limit, not ours
    assume(((~np.isnan(matrix)).sum(axis=0) >= 2).sum() >= 2)
    frame = pd.DataFrame(matrix.T, columns=[f"r{a}" for a in range(len(matrix))])
    frame = frame[frame.notna().any(axis=1)]  # irrCAC counts empty rows as subjects; ours has none
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return CAC(frame, weights=weights, categories=[float(c) for c in range(1, q + 1)], digits=12)


@PEER_SETTINGS
@given(data=reliability_matrices())
def test_fleiss_kappa_and_ac1_match_irrcac_with_missing_ratings(data):
    matrix, q = data
    ratings = to_ratings(matrix)
    cac = _irrcac(matrix, q)
    categories = list(range(1, q + 1))
    assert fleiss_kappa(ratings, categories=categories).value == pytest.approx(
        cac.fleiss()["est"]["coefficient_value"], abs=1e-9
    )
    assert gwet_ac1(ratings, categories=categories).value == pytest.approx(
        cac.gwet()["est"]["coefficient_value"], abs=1e-9
    )


@pytest.mark.parametrize("weights", ["linear", "quadratic"])
@PEER_SETTINGS
@given(data=reliability_matrices())
def test_ac2_matches_irrcac(weights, data):
    matrix, q = data
    ours = gwet_ac2(to_ratings(matrix), weights=weights, categories=list(range(1, q + 1))).value
    assert ours == pytest.approx(_irrcac(matrix, q, weights).gwet()["est"]["coefficient_value"], abs=1e-9)


@PEER_SETTINGS
@given(data=reliability_matrices(min_annotators=2, max_annotators=6, missing=False))
def test_fleiss_kappa_matches_statsmodels_on_complete_data(data):
    from statsmodels.stats.inter_rater import aggregate_raters
    from statsmodels.stats.inter_rater import fleiss_kappa as sm_fleiss

    matrix, q = data
    table, _ = aggregate_raters(matrix.T.astype(int), n_cat=None)
    ours = fleiss_kappa(to_ratings(matrix), unequal_raters="error").value
    assert ours == pytest.approx(sm_fleiss(table), abs=1e-9)


@pytest.mark.filterwarnings("ignore::RuntimeWarning")
@pytest.mark.parametrize("weights", [None, "linear", "quadratic"])
@PEER_SETTINGS
@given(data=reliability_matrices(min_annotators=2, max_annotators=2))
def test_cohen_kappa_matches_sklearn_and_statsmodels(weights, data):
    from sklearn.metrics import cohen_kappa_score
    from statsmodels.stats.inter_rater import cohens_kappa, to_table

    matrix, q = data
    both = ~np.isnan(matrix).any(axis=0)
    a, b = matrix[0, both].astype(int), matrix[1, both].astype(int)
    assume(len(a) >= 1 and len(set(a) | set(b)) >= 2)
    categories = list(range(1, q + 1))
    try:
        ours = cohen_kappa(to_ratings(matrix), weights=weights, categories=categories).value
    except AgreementInputError:
        assume(False)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        theirs = cohen_kappa_score(a, b, labels=categories, weights=weights)
    assume(np.isfinite(theirs))
    assert ours == pytest.approx(theirs, abs=1e-9)
    table, _ = to_table(np.column_stack([a, b]), bins=np.arange(0.5, q + 1.5))
    sm = cohens_kappa(table, wt={None: None, "linear": "linear", "quadratic": "quadratic"}[weights])
    assert ours == pytest.approx(sm.kappa, abs=1e-9)


@PEER_SETTINGS
@given(data=reliability_matrices())
def test_bootstrap_interval_always_brackets_the_estimate(data):
    matrix, q = data
    result = krippendorff_alpha(to_ratings(matrix), level="ordinal", n_boot=50, seed=3)
    assert result.ci_low <= result.ci_high <= 1.0 + 1e-12
    assert result.value <= 1.0 + 1e-12
