"""Exact pairwise agreement of one item's raw values: the number a release publishes per item.

Not the same number as :func:`qa.diagnostics.item_agreement`, which works on a coded field
and credits near misses through the field's distances (an ordinal ``positive`` against
``very positive`` counts as partial agreement there); here two values agree only when they
are identical, whatever the field's level, so the number means the same for every column.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Hashable, Sequence


def exact_pair_agreement(values: Sequence[Hashable]) -> float | None:
    """The share of annotator pairs of one item that gave the identical value.

    ``values`` holds one value per judgement (any hashable labels, in any order). With
    ``n_c`` judgements of value ``c`` among ``n``, this is ``Σ n_c (n_c − 1) / (n (n − 1))``,
    Fleiss' (1971) per-subject agreement ``P_i``; 1.0 when all agree, 0.0 when no two do,
    and ``None`` below two judgements (no pair to compare).

    The worked example of Wikipedia's *Fleiss' kappa* article (14 raters per subject):
    subject 2 has category counts 0, 2, 6, 4, 2 and ``P_2 = 0.253``; subject 1, all 14 in
    one category, ``P_1 = 1``.

    >>> round(exact_pair_agreement(["b"] * 2 + ["c"] * 6 + ["d"] * 4 + ["e"] * 2), 3)
    0.253
    >>> exact_pair_agreement(["e"] * 14)
    1.0
    >>> exact_pair_agreement(["pos", "pos", "neg"])  # one agreeing pair of three
    0.3333333333333333
    >>> exact_pair_agreement(["pos"]) is None
    True
    """
    n = len(values)
    if n < 2:
        return None
    agreeing = sum(c * (c - 1) for c in Counter(values).values())
    return agreeing / (n * (n - 1))
