"""Distances between two judgements for Krippendorff's alpha: label sets (MASI, Jaccard) and the metric of each level."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np


if TYPE_CHECKING:
    pass

from qa.ratings import AgreementInputError, CodedRatings, Distance, Level, as_hashable


def masi_distance(a: Any, b: Any) -> float:
    """MASI distance between two label sets (Passonneau 2006): 1 - Jaccard x monotonicity.

    Monotonicity is 1 for equal sets, 2/3 when one contains the other, 1/3 when
    they overlap otherwise, 0 when disjoint. Two empty sets are equal (0.0).

    >>> round(masi_distance({"joy"}, {"joy", "surprise"}), 4)
    0.6667
    """
    a, b = frozenset(as_hashable(a)), frozenset(as_hashable(b))
    if a == b:
        return 0.0
    union = len(a | b)
    common = len(a & b)
    if common == 0:
        return 1.0
    monotonicity = 2 / 3 if (a <= b or b <= a) else 1 / 3
    return 1.0 - (common / union) * monotonicity


def jaccard_distance(a: Any, b: Any) -> float:
    """1 - |a & b| / |a | b| for two label sets; two empty sets are equal (0.0).

    >>> jaccard_distance(["joy", "anger"], ["joy"])
    0.5
    """
    a, b = frozenset(as_hashable(a)), frozenset(as_hashable(b))
    if not a and not b:
        return 0.0
    return 1.0 - len(a & b) / len(a | b)


def distance_matrix(level: Level | Distance, coded: CodedRatings, marginals: np.ndarray | None) -> np.ndarray:
    q = coded.n_categories
    x = coded.scores
    if callable(level):
        delta = np.array(
            [[float(level(a, b)) for b in coded.categories] for a in coded.categories], dtype=np.float64
        ).reshape(q, q)
        if not np.all(np.isfinite(delta)) or (delta < 0).any() or np.any(np.diag(delta) != 0):
            raise AgreementInputError(
                "a custom distance must be finite, >= 0 and 0 between a value and itself; "
                f"got diagonal {np.diag(delta).tolist()[:5]}"
            )
        return delta
    if level == "nominal":
        return 1.0 - np.eye(q)
    if level == "interval":
        return (x[:, None] - x[None, :]) ** 2
    if level == "ratio":
        if (x < 0).any():
            raise AgreementInputError(
                f"ratio level needs values >= 0, got {x[x < 0][0]:g}; use level='interval' for signed scales"
            )
        total = x[:, None] + x[None, :]
        with np.errstate(divide="ignore", invalid="ignore"):
            delta = ((x[:, None] - x[None, :]) / total) ** 2
        return np.where(total == 0, 0.0, delta)
    assert marginals is not None
    return ordinal_delta(marginals)


def ordinal_delta(marginals: np.ndarray) -> np.ndarray:
    """Krippendorff's ordinal metric from category frequencies; (..., q) -> (..., q, q)."""
    cum = np.cumsum(marginals, axis=-1)
    before = cum - marginals
    span = cum[..., None, :] - before[..., :, None]  # sum of n_g for g in [c, k] when c <= k
    span = np.where(np.triu(np.ones(span.shape[-2:], dtype=bool)), span, np.swapaxes(span, -1, -2))
    half = (marginals[..., :, None] + marginals[..., None, :]) / 2
    delta = (span - half) ** 2
    q = marginals.shape[-1]
    delta[..., np.arange(q), np.arange(q)] = 0.0
    return delta
