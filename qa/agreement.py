"""Inter-annotator agreement coefficients over one long table of judgements.

Every coefficient takes the platform's natural shape: a pandas DataFrame with
columns ``item``, ``annotator`` and ``value``, one row per judgement, a missing
judgement simply absent. An optional ``categories`` list declares the label
set (in order, for ordinal data). Every coefficient returns an
:class:`AgreementResult` whose ``.value`` is a float; ``n_boot > 0`` adds a
seeded percentile bootstrap confidence interval, resampling items with
replacement.

The computation is vectorised: the ratings become an items x categories count
matrix (``np.bincount``), and every coefficient is a function of column sums of
a per-item statistics matrix, so the point estimate and each bootstrap draw are
one matrix product.

Edge cases, the same for every coefficient:

* all raters agree on every item and more than one category occurs: 1.0;
* one category in the data (no variation): the coefficient is 0/0 and
  :class:`UndefinedAgreementError` says so (percent agreement is still 1.0);
* items with a single rating carry no pair; they are left out of the observed
  agreement (Fleiss and Gwet still count them in the category prevalence, as
  Gwet 2014 does);
* no item rated twice, or two annotators with no shared item: a clear
  :class:`AgreementInputError`.

Krippendorff (2011), "Computing Krippendorff's Alpha-Reliability", reliability
data of section C (4 observers, 12 units, values 1-5, missing data):

>>> data = ratings_from_matrix([
...     [1, 2, 3, 3, 2, 1, 4, 1, 2, None, None, None],
...     [1, 2, 3, 3, 2, 2, 4, 1, 2, 5, None, 3],
...     [None, 3, 3, 3, 2, 3, 4, 2, 2, 5, 1, None],
...     [1, 2, 3, 3, 2, 4, 4, 1, 2, 5, 1, None]])
>>> round(krippendorff_alpha(data, level="nominal").value, 3)
0.743
>>> round(krippendorff_alpha(data, level="ordinal").value, 3)
0.815
>>> round(krippendorff_alpha(data, level="interval").value, 3)
0.849
>>> round(krippendorff_alpha(data, level="ratio").value, 3)
0.797
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, Literal

import numpy as np


if TYPE_CHECKING:
    import pandas as pd

from qa.distances import distance_matrix, jaccard_distance, masi_distance, ordinal_delta
from qa.ratings import (
    _BOOT_CELLS,
    LEVELS,
    WEIGHTS,
    AgreementInputError,
    AgreementResult,
    CodedRatings,
    Distance,
    Level,
    UndefinedAgreementError,
    Weights,
    code_ratings,
    ratings_from_matrix,
)

__all__ = [
    "LEVELS", "WEIGHTS", "AgreementInputError", "AgreementResult", "CodedRatings", "Distance", "Level",
    "UndefinedAgreementError", "Weights", "code_ratings", "cohen_kappa", "cohen_kappa_matrix", "fleiss_kappa",
    "gwet_ac1", "gwet_ac2", "jaccard_distance", "krippendorff_alpha", "masi_distance", "percent_agreement",
    "ratings_from_matrix",
]


# ---------------------------------------------------------------------------------------------
# the engine: a coefficient is f(column sums of a per-item statistics matrix)


def _check_boot(n_boot: int, confidence: float) -> None:
    if not isinstance(n_boot, (int, np.integer)) or n_boot < 0:
        raise AgreementInputError(f"n_boot={n_boot!r} must be a whole number >= 0 (0 = no interval)")
    if not 0 < confidence < 1:
        raise AgreementInputError(f"confidence={confidence!r} must lie strictly between 0 and 1, e.g. 0.95")


def _estimate(
    metric: str,
    stats: np.ndarray,
    statistic: Callable[[np.ndarray], np.ndarray],
    *,
    coded: CodedRatings,
    n_items: int,
    n_annotators: int,
    n_judgements: int,
    n_boot: int,
    confidence: float,
    seed: int,
    undefined: str,
) -> AgreementResult:
    """Evaluate ``statistic`` on the column sums of ``stats`` (units x p), then bootstrap units."""
    with np.errstate(divide="ignore", invalid="ignore"):
        value = float(statistic(stats.sum(axis=0)[None, :])[0])
    if not np.isfinite(value):
        raise UndefinedAgreementError(f"{metric} is undefined on these ratings: {undefined}")
    result = dict(
        metric=metric,
        value=value,
        n_items=n_items,
        n_annotators=n_annotators,
        n_judgements=n_judgements,
        categories=coded.categories,
    )
    if n_boot == 0:
        return AgreementResult(**result)
    rng = np.random.default_rng(seed)
    units = stats.shape[0]
    chunk = max(1, _BOOT_CELLS // max(units, 1))
    draws: list[np.ndarray] = []
    done = 0
    while done < n_boot:
        b = min(chunk, n_boot - done)
        picks = rng.integers(0, units, size=(b, units))
        picks += (np.arange(b) * units)[:, None]
        weights = np.bincount(picks.ravel(), minlength=b * units).reshape(b, units).astype(np.float64)
        with np.errstate(divide="ignore", invalid="ignore"):
            draws.append(statistic(weights @ stats))
        done += b
    values = np.concatenate(draws)
    values = values[np.isfinite(values)]
    if len(values) == 0:
        raise UndefinedAgreementError(f"{metric}: every bootstrap draw was undefined ({undefined})")
    tail = (1 - confidence) / 2
    low, high = np.quantile(values, [tail, 1 - tail])
    return AgreementResult(
        **result, ci_low=float(low), ci_high=float(high), confidence=confidence, n_draws=len(values), seed=seed
    )


def _pairable(counts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    m = counts.sum(axis=1)
    keep = m >= 2
    return counts[keep], m[keep]


def _require_pairs(coded: CodedRatings, n_pairable: int) -> None:
    if n_pairable == 0:
        raise AgreementInputError(
            f"no item was judged by two or more annotators ({coded.n_items} items, "
            f"{len(coded.annotators)} annotators); agreement needs overlapping judgements"
        )


# ---------------------------------------------------------------------------------------------
# coefficients


def krippendorff_alpha(
    ratings: "pd.DataFrame",
    level: Level | Distance = "nominal",
    categories: Sequence[Any] | None = None,
    *,
    n_boot: int = 0,
    confidence: float = 0.95,
    seed: int = 0,
) -> AgreementResult:
    """Krippendorff's alpha = 1 - D_o / D_e from the coincidence matrix (Krippendorff 2011).

    ``level`` is "nominal", "ordinal" (order from ``categories`` or the sorted
    values), "interval", "ratio", or a distance ``f(a, b) -> float`` on the
    values themselves, e.g. :func:`masi_distance` or :func:`jaccard_distance`
    for multi-label values given as lists or sets. Items with one rating are
    not pairable and are left out. Raises :class:`UndefinedAgreementError`
    when the pairable values show no variation (D_e = 0).

    >>> data = ratings_from_matrix([["a", "a", "b"], ["a", "b", "b"]])
    >>> round(krippendorff_alpha(data).value, 4)
    0.4444
    """
    if not callable(level) and level not in LEVELS:
        raise AgreementInputError(f"level={level!r} is not one of {', '.join(LEVELS)} (or a distance function)")
    _check_boot(n_boot, confidence)
    coded = code_ratings(
        ratings, categories, numeric=level in ("interval", "ratio"), ordered=level == "ordinal"
    )
    counts, m = _pairable(coded.counts())
    _require_pairs(coded, len(m))
    q = coded.n_categories
    inv = 1.0 / (m - 1.0)
    if level == "ordinal":
        # the metric depends on the (resampled) marginals, so resampling needs per-item coincidences
        if n_boot:
            coinc = counts[:, :, None] * counts[:, None, :] * inv[:, None, None]
            coinc[:, np.arange(q), np.arange(q)] -= counts * inv[:, None]
            stats = coinc.reshape(len(m), q * q)
        else:
            weighted = counts * inv[:, None]
            coinc = weighted.T @ counts
            coinc[np.arange(q), np.arange(q)] -= weighted.sum(axis=0)
            stats = coinc.reshape(1, q * q)

        def statistic(sums: np.ndarray) -> np.ndarray:
            o = sums.reshape(-1, q, q)
            nc = o.sum(axis=2)
            n = nc.sum(axis=1)
            delta = ordinal_delta(nc)
            d_o = (o * delta).sum(axis=(1, 2))
            d_e = np.einsum("bc,bck,bk->b", nc, delta, nc)
            return 1.0 - (n - 1.0) * d_o / d_e

    else:
        delta = distance_matrix(level, coded, None)
        if level == "nominal":  # sum over c != k of n_uc n_uk = m^2 - sum_c n_uc^2
            disagreement = (m * m - np.einsum("uc,uc->u", counts, counts)) * inv
        else:
            disagreement = ((counts @ delta) * counts).sum(axis=1) * inv
        stats = np.column_stack([disagreement, counts])

        def statistic(sums: np.ndarray) -> np.ndarray:
            d_o = sums[:, 0]
            nc = sums[:, 1:]
            n = nc.sum(axis=1)
            d_e = np.einsum("bc,ck,bk->b", nc, delta, nc)
            return 1.0 - (n - 1.0) * d_o / d_e

    name = f"krippendorff_alpha_{level if isinstance(level, str) else getattr(level, '__name__', 'custom')}"
    return _estimate(
        name,
        stats,
        statistic,
        coded=coded,
        n_items=len(m),
        n_annotators=len(coded.annotators),
        n_judgements=int(m.sum()),
        n_boot=n_boot,
        confidence=confidence,
        seed=seed,
        undefined="the pairable values show no variation (one value only), so expected disagreement is 0",
    )


def _weight_matrix(weights: Weights | None, coded: CodedRatings) -> np.ndarray:
    """Agreement weights on category positions: 1 on the diagonal, falling to 0 at the extremes."""
    q = coded.n_categories
    if weights is None:
        return np.eye(q)
    if weights not in WEIGHTS:
        raise AgreementInputError(f"weights={weights!r} is not one of None, 'linear', 'quadratic'")
    if q == 1:
        return np.ones((1, 1))
    rank = np.arange(q, dtype=np.float64)
    gap = np.abs(rank[:, None] - rank[None, :]) / (q - 1)
    return 1.0 - (gap if weights == "linear" else gap**2)


def _chance_corrected(
    metric: str,
    ratings: "pd.DataFrame",
    categories: Sequence[Any] | None,
    weights: Weights | None,
    chance: Literal["fleiss", "gwet"],
    n_boot: int,
    confidence: float,
    seed: int,
) -> AgreementResult:
    """Fleiss' kappa and Gwet's AC1/AC2 in Gwet's (2014) form for any number of raters per item."""
    _check_boot(n_boot, confidence)
    coded = code_ratings(ratings, categories, ordered=weights is not None)
    w = _weight_matrix(weights, coded)
    counts = coded.counts()
    r = counts.sum(axis=1)
    pair = r >= 2
    _require_pairs(coded, int(pair.sum()))
    q = coded.n_categories
    weighted = counts @ w.T
    with np.errstate(divide="ignore", invalid="ignore"):
        agree = np.where(pair, (counts * (weighted - 1.0)).sum(axis=1) / (r * (r - 1.0)), 0.0)
    stats = np.column_stack([agree, pair.astype(np.float64), counts / r[:, None], np.ones(len(r))])
    t_w = w.sum()

    def statistic(sums: np.ndarray) -> np.ndarray:
        p_a = sums[:, 0] / sums[:, 1]
        pi = sums[:, 2 : 2 + q] / sums[:, -1:]
        if chance == "fleiss":
            p_e = np.einsum("bk,kl,bl->b", pi, w, pi)
        else:
            p_e = t_w / (q * (q - 1.0)) * (pi * (1.0 - pi)).sum(axis=1) if q > 1 else np.full(len(pi), np.nan)
        return (p_a - p_e) / (1.0 - p_e)

    return _estimate(
        metric,
        stats,
        statistic,
        coded=coded,
        n_items=int(pair.sum()),
        n_annotators=len(coded.annotators),
        n_judgements=int(r[pair].sum()),
        n_boot=n_boot,
        confidence=confidence,
        seed=seed,
        undefined="chance agreement is 1 (a single category in the data)",
    )


def fleiss_kappa(
    ratings: "pd.DataFrame",
    categories: Sequence[Any] | None = None,
    *,
    unequal_raters: Literal["generalised", "error"] = "generalised",
    n_boot: int = 0,
    confidence: float = 0.95,
    seed: int = 0,
) -> AgreementResult:
    """Fleiss' kappa; with unequal raters per item, Gwet's (2014) generalised form.

    Observed agreement averages the pair agreement of items rated at least
    twice; category prevalence averages each rated item's proportions. With the
    same number of raters on every item this is exactly Fleiss (1971);
    ``unequal_raters="error"`` refuses anything else with a ValueError.
    Fleiss (1971) data (30 patients, 6 psychiatrists, 5 diagnoses): 0.430.

    >>> data = ratings_from_matrix([["a", "a", "b"], ["a", "b", "b"]])
    >>> round(fleiss_kappa(data).value, 4)
    0.3333
    """
    if unequal_raters not in ("generalised", "error"):
        raise AgreementInputError(f"unequal_raters={unequal_raters!r} must be 'generalised' or 'error'")
    if unequal_raters == "error":
        coded = code_ratings(ratings, categories)
        per_item = np.bincount(coded.item, minlength=coded.n_items)
        if per_item.min() != per_item.max():
            worst = int(np.argmin(per_item))
            raise AgreementInputError(
                f"item {coded.items[worst]!r} has {per_item.min()} rating(s) but others have {per_item.max()}; "
                "Fleiss (1971) needs equal raters per item (use unequal_raters='generalised')"
            )
    return _chance_corrected("fleiss_kappa", ratings, categories, None, "fleiss", n_boot, confidence, seed)


def gwet_ac1(
    ratings: "pd.DataFrame",
    categories: Sequence[Any] | None = None,
    *,
    n_boot: int = 0,
    confidence: float = 0.95,
    seed: int = 0,
) -> AgreementResult:
    """Gwet's AC1 (Gwet 2008, 2014) for nominal data with any number of raters per item.

    Chance agreement is sum(pi_k (1 - pi_k)) / (q - 1), so the number of
    categories q matters: pass the declared label set as ``categories``,
    otherwise q counts the observed values.
    """
    return _chance_corrected("gwet_ac1", ratings, categories, None, "gwet", n_boot, confidence, seed)


def gwet_ac2(
    ratings: "pd.DataFrame",
    weights: Weights = "quadratic",
    categories: Sequence[Any] | None = None,
    *,
    n_boot: int = 0,
    confidence: float = 0.95,
    seed: int = 0,
) -> AgreementResult:
    """Gwet's AC2: AC1 with linear or quadratic agreement weights on ordered categories.

    Weights use category positions in ``categories`` order (or sorted values).
    """
    if weights not in WEIGHTS:
        raise AgreementInputError(f"weights={weights!r} is not one of 'linear', 'quadratic'")
    return _chance_corrected(f"gwet_ac2_{weights}", ratings, categories, weights, "gwet", n_boot, confidence, seed)


def percent_agreement(
    ratings: "pd.DataFrame",
    categories: Sequence[Any] | None = None,
    *,
    n_boot: int = 0,
    confidence: float = 0.95,
    seed: int = 0,
) -> AgreementResult:
    """Share of agreeing judgement pairs, averaged over items rated at least twice (no chance correction).

    >>> data = ratings_from_matrix([["a", "a", "b"], ["a", "b", "b"]])
    >>> round(percent_agreement(data).value, 4)
    0.6667
    """
    _check_boot(n_boot, confidence)
    coded = code_ratings(ratings, categories)
    counts, m = _pairable(coded.counts())
    _require_pairs(coded, len(m))
    agree = (counts * (counts - 1.0)).sum(axis=1) / (m * (m - 1.0))
    stats = np.column_stack([agree, np.ones(len(m))])
    return _estimate(
        "percent_agreement",
        stats,
        lambda s: s[:, 0] / s[:, 1],
        coded=coded,
        n_items=len(m),
        n_annotators=len(coded.annotators),
        n_judgements=int(m.sum()),
        n_boot=n_boot,
        confidence=confidence,
        seed=seed,
        undefined="no pairs",
    )


def cohen_kappa(
    ratings: "pd.DataFrame",
    weights: Weights | None = None,
    categories: Sequence[Any] | None = None,
    *,
    n_boot: int = 0,
    confidence: float = 0.95,
    seed: int = 0,
) -> AgreementResult:
    """Cohen's kappa for exactly two annotators over the items both judged (Cohen 1960, 1968).

    ``weights`` None (unweighted), "linear" or "quadratic" on category
    positions. Two annotators with no shared item, or a third annotator, raise
    :class:`AgreementInputError` (use :func:`cohen_kappa_matrix` for more).

    Wikipedia's worked example (50 grant proposals: 20 yes/yes, 5 yes/no,
    10 no/yes, 15 no/no) gives 0.4:

    >>> a = ["yes"] * 25 + ["no"] * 25
    >>> b = ["yes"] * 20 + ["no"] * 5 + ["yes"] * 10 + ["no"] * 15
    >>> round(cohen_kappa(ratings_from_matrix([a, b])).value, 3)
    0.4
    """
    _check_boot(n_boot, confidence)
    if weights is not None and weights not in WEIGHTS:
        raise AgreementInputError(f"weights={weights!r} is not one of None, 'linear', 'quadratic'")
    coded = code_ratings(ratings, categories, ordered=weights is not None)
    if len(coded.annotators) != 2:
        raise AgreementInputError(
            f"Cohen's kappa needs exactly two annotators, got {len(coded.annotators)} "
            f"({', '.join(map(str, coded.annotators[:5]))}); use cohen_kappa_matrix for every pair"
        )
    return _cohen(coded, weights, n_boot, confidence, seed)


def _cohen(
    coded: CodedRatings, weights: Weights | None, n_boot: int, confidence: float, seed: int
) -> AgreementResult:
    q = coded.n_categories
    first = np.full(coded.n_items, -1)
    second = np.full(coded.n_items, -1)
    is_first = coded.annotator == 0
    first[coded.item[is_first]] = coded.value[is_first]
    second[coded.item[~is_first]] = coded.value[~is_first]
    both = (first >= 0) & (second >= 0)
    if not both.any():
        raise AgreementInputError(
            f"annotators {coded.annotators[0]!r} and {coded.annotators[1]!r} share no item; "
            "kappa needs items both judged"
        )
    a, b = first[both], second[both]
    w = _weight_matrix(weights, coded)
    eye = np.eye(q)
    stats = np.column_stack([w[a, b], eye[a], eye[b]])

    def statistic(sums: np.ndarray) -> np.ndarray:
        pa, pb = sums[:, 1 : 1 + q], sums[:, 1 + q :]
        n = pa.sum(axis=1)
        p_o = sums[:, 0] / n
        p_e = np.einsum("bk,kl,bl->b", pa, w, pb) / n**2
        return (p_o - p_e) / (1.0 - p_e)

    return _estimate(
        "cohen_kappa" + (f"_{weights}" if weights else ""),
        stats,
        statistic,
        coded=coded,
        n_items=int(both.sum()),
        n_annotators=2,
        n_judgements=int(2 * both.sum()),
        n_boot=n_boot,
        confidence=confidence,
        seed=seed,
        undefined="chance agreement is 1 (both annotators used a single category)",
    )


def cohen_kappa_matrix(
    ratings: "pd.DataFrame",
    weights: Weights | None = None,
    categories: Sequence[Any] | None = None,
) -> "pd.DataFrame":
    """Cohen's kappa for every pair of annotators, one row per pair.

    Columns: annotator_a, annotator_b, n_items (shared), kappa, reason. A pair
    without a value (no shared item, a single category) has kappa None and the
    reason says why, so nothing is silently NaN.
    """
    import pandas as pd

    coded = code_ratings(ratings, categories, ordered=weights is not None)
    rows = []
    names = coded.annotators
    for i in range(len(names)):
        for j in range(i + 1, len(names)):
            keep = (coded.annotator == i) | (coded.annotator == j)
            pair = CodedRatings(
                item=coded.item[keep],
                annotator=(coded.annotator[keep] == j).astype(np.int64),
                value=coded.value[keep],
                items=coded.items,
                annotators=np.array([names[i], names[j]], dtype=object),
                categories=coded.categories,
                scores=coded.scores,
            )
            try:
                res = _cohen(pair, weights, 0, 0.95, 0)
                rows.append((names[i], names[j], res.n_items, res.value, None))
            except AgreementInputError as exc:
                shared = len(
                    np.intersect1d(coded.item[coded.annotator == i], coded.item[coded.annotator == j])
                )
                rows.append((names[i], names[j], shared, None, str(exc)))
    table = pd.DataFrame(rows, columns=["annotator_a", "annotator_b", "n_items", "kappa", "reason"], dtype=object)
    table["n_items"] = table["n_items"].astype(np.int64)
    return table
