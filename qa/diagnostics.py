"""Where disagreement comes from: items, annotators, categories, groups and time.

Every function takes one field's judgements (a DataFrame with columns item,
annotator, value and, where present, lead_time_s, created_at, language, source,
speaker, is_gold, gold_value, simulated) plus its :class:`~qa.fields.FieldSpec`,
and returns a DataFrame or plain records. Distances are the field's normalised
0..1 distances (:func:`qa.fields.normalised_distance`), so an ordinal near miss
counts as a partial disagreement and a nominal one as a full one.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from backend.domain import ValueKind
from qa.ratings import CodedRatings, as_hashable, as_label
from qa.fields import FieldSpec, coded_field, normalised_distance

if TYPE_CHECKING:
    import pandas as pd

_CHUNK = 200_000


@dataclass(frozen=True)
class CodedField:
    """A field's judgements coded once and shared by every diagnostic."""

    ratings: "pd.DataFrame"
    spec: FieldSpec
    coded: CodedRatings
    counts: np.ndarray  # (items, categories)
    distance: np.ndarray  # (categories, categories), 0..1

    @classmethod
    def build(cls, ratings: "pd.DataFrame", spec: FieldSpec) -> "CodedField":
        ratings = ratings.reset_index(drop=True)
        coded = coded_field(ratings, spec)
        return cls(ratings, spec, coded, coded.counts(), normalised_distance(spec, coded))


def show(value: Any) -> str:
    """A category as a curator reads it: label sets joined by '+', intensities as label:level."""
    if isinstance(value, frozenset):
        parts = sorted(f"{k}:{v}" if isinstance(x, tuple) else str(x) for x in value for k, v in [x if isinstance(x, tuple) else (x, None)])
        return "+".join(parts) if parts else "∅"
    return str(as_label(value))


def _span(field: CodedField) -> float:
    """Width of an interval field's scale: declared range, else the observed one (1.0 if flat)."""
    x = field.coded.scores
    low = field.spec.minimum if field.spec.minimum is not None else float(x.min())
    high = field.spec.maximum if field.spec.maximum is not None else float(x.max())
    return float(high - low) or 1.0


def item_agreement(field: CodedField) -> "pd.DataFrame":
    """Per item: judgements, 1 - mean pairwise distance (None below two judgements), the values given.

    Columns: item, n_judgements, agreement, values (label -> count).
    """
    import pandas as pd

    counts, dist = field.counts, field.distance
    m = counts.sum(axis=1)
    pair_dist = np.einsum("uc,ck,uk->u", counts, dist, counts)
    with np.errstate(divide="ignore", invalid="ignore"):
        agreement = np.where(m >= 2, 1.0 - pair_dist / (m * (m - 1.0)), np.nan)
    labels = [show(c) for c in field.coded.categories]
    values = [{labels[c]: int(row[c]) for c in np.flatnonzero(row)} for row in counts]
    return pd.DataFrame(
        {
            "item": field.coded.items,
            "n_judgements": m.astype(np.int64),
            "agreement": pd.Series([None if np.isnan(a) else float(a) for a in agreement], dtype=object),
            "values": values,
        }
    )


def loo_majority(field: CodedField) -> np.ndarray:
    """Per judgement: the category index the item's other judgements agree on most (-1 if they tie or none)."""
    coded, counts = field.coded, field.counts
    n = len(coded.value)
    majority = np.full(n, -1, dtype=np.int64)
    for start in range(0, n, _CHUNK):
        stop = min(n, start + _CHUNK)
        rows = counts[coded.item[start:stop]].copy()
        rows[np.arange(stop - start), coded.value[start:stop]] -= 1.0
        top = rows.max(axis=1)
        unique = ((rows == top[:, None]).sum(axis=1) == 1) & (top > 0)
        majority[start:stop] = np.where(unique, rows.argmax(axis=1), -1)
    return majority


def judgement_scores(field: CodedField) -> tuple[np.ndarray, np.ndarray]:
    """Per judgement: agreement with the leave-one-out consensus of the item's other judgements.

    Nominal and ordinal judgements score 1 when they equal the others'
    majority, else 0 (NaN when the others tie or there are none); multi-label
    ones 1 - MASI distance to it; interval ones 1 - |x - mean of the others| /
    scale width. Returns (score, others) arrays aligned with the ratings rows.
    """
    coded, counts, dist = field.coded, field.counts, field.distance
    others_n = counts.sum(axis=1)[coded.item] - 1.0
    if field.spec.kind is ValueKind.INTERVAL:
        x = coded.scores
        own = x[coded.value]
        with np.errstate(divide="ignore", invalid="ignore"):
            mean_others = ((counts @ x)[coded.item] - own) / others_n
        score = np.where(others_n > 0, 1.0 - np.minimum(np.abs(own - mean_others) / _span(field), 1.0), np.nan)
        return score, others_n
    majority = loo_majority(field)
    exact = field.spec.kind in (ValueKind.NOMINAL, ValueKind.ORDINAL)
    safe = np.maximum(majority, 0)
    part = (coded.value == safe).astype(np.float64) if exact else 1.0 - dist[coded.value, safe]
    return np.where(majority >= 0, part, np.nan), others_n


def loo_kappa(field: CodedField) -> dict[Any, float | None]:
    """Per annotator: Cohen's kappa between their labels and the others' leave-one-out majority.

    Chance-corrected, so a careless annotator on a skewed label set does not
    look reliable. None where undefined (no comparable items, one category).
    Nominal and ordinal fields only; an empty dict otherwise.
    """
    if field.spec.kind not in (ValueKind.NOMINAL, ValueKind.ORDINAL):
        return {}
    coded = field.coded
    q, n_ann = coded.n_categories, len(coded.annotators)
    majority = loo_majority(field)
    ok = majority >= 0
    cells = np.bincount(
        (coded.annotator[ok] * q + coded.value[ok]) * q + majority[ok], minlength=n_ann * q * q
    ).reshape(n_ann, q, q).astype(np.float64)
    out: dict[Any, float | None] = {}
    for a in range(n_ann):
        table = cells[a]
        n = table.sum()
        p_e = (table.sum(axis=1) @ table.sum(axis=0)) / n**2 if n else 1.0
        out[coded.annotators[a]] = None if n == 0 or p_e >= 1.0 else float((np.trace(table) / n - p_e) / (1 - p_e))
    return out


def gold_scores(field: CodedField) -> np.ndarray:
    """Per judgement: agreement with the gold value (NaN where the item is not gold)."""
    ratings = field.ratings
    out = np.full(len(ratings), np.nan)
    if "gold_value" not in ratings.columns:
        return out
    gold = ratings["gold_value"]
    is_gold = gold.notna().to_numpy().copy()  # writable: pandas 3 hands out read-only views
    if "is_gold" in ratings.columns:
        is_gold &= ratings["is_gold"].eq(True).to_numpy()
    if not is_gold.any():
        return out
    index = {c: i for i, c in enumerate(field.coded.categories)}
    for row in np.flatnonzero(is_gold):
        g = as_hashable(gold.iloc[row])
        if field.spec.kind is ValueKind.INTERVAL:
            g = float(g)
        j = index.get(g)
        if j is None:
            out[row] = 0.0 if field.spec.kind is not ValueKind.INTERVAL else np.nan
            if field.spec.kind is ValueKind.INTERVAL:
                x = field.coded.scores
                out[row] = 1.0 - min(abs(x[field.coded.value[row]] - g) / _span(field), 1.0)
            continue
        if field.spec.kind in (ValueKind.NOMINAL, ValueKind.ORDINAL):
            out[row] = float(field.coded.value[row] == j)
        else:
            out[row] = 1.0 - field.distance[field.coded.value[row], j]
    return out


def annotator_table(field: CodedField) -> "pd.DataFrame":
    """Per annotator: judgements, leave-one-out agreement, gold accuracy, time, simulated flag.

    Columns: annotator, n_judgements, n_compared, loo_agreement, loo_kappa, n_gold,
    gold_accuracy, mean_lead_time_s, median_lead_time_s, simulated.
    """
    import pandas as pd

    ratings = field.ratings
    loo, _ = judgement_scores(field)
    gold = gold_scores(field)
    frame = pd.DataFrame({"annotator": ratings["annotator"].to_numpy(), "loo": loo, "gold": gold})
    frame["lead"] = (
        pd.to_numeric(ratings["lead_time_s"], errors="coerce").to_numpy() if "lead_time_s" in ratings else np.nan
    )
    frame["simulated"] = (
        ratings["simulated"].eq(True).to_numpy() if "simulated" in ratings else False
    )
    grouped = frame.groupby("annotator", sort=True)
    table = pd.DataFrame(
        {
            "n_judgements": grouped.size(),
            "n_compared": grouped["loo"].count(),
            "loo_agreement": grouped["loo"].mean(),
            "n_gold": grouped["gold"].count(),
            "gold_accuracy": grouped["gold"].mean(),
            "mean_lead_time_s": grouped["lead"].mean(),
            "median_lead_time_s": grouped["lead"].median(),
            "simulated": grouped["simulated"].any(),
        }
    ).reset_index()
    kappas = loo_kappa(field)
    table.insert(4, "loo_kappa", [kappas.get(a) for a in table["annotator"]])
    return table


def category_agreement(field: CodedField) -> "pd.DataFrame":
    """Per category: judgements using it and its specific agreement (Uebersax 1982; Fleiss 1971 p_j).

    Specific agreement = sum_u n_uc (n_uc - 1) / sum_u n_uc (m_u - 1): the
    chance that, given one judgement of c, another judgement of the same item
    is c too. None when the category never shares an item.
    """
    import pandas as pd

    counts = field.counts
    m = counts.sum(axis=1, keepdims=True)
    pair = (m >= 2).ravel()
    num = (counts[pair] * (counts[pair] - 1)).sum(axis=0)
    den = (counts[pair] * (m[pair] - 1)).sum(axis=0)
    specific = [float(a / b) if b > 0 else None for a, b in zip(num, den)]
    return pd.DataFrame(
        {
            "category": [show(c) for c in field.coded.categories],
            "n_judgements": counts.sum(axis=0).astype(np.int64),
            "share": counts.sum(axis=0) / max(counts.sum(), 1),
            "specific_agreement": specific,
        }
    )


def coincidence_matrix(field: CodedField) -> np.ndarray:
    """Krippendorff's (q, q) coincidence matrix of pairable judgements (sums to their number)."""
    counts = field.counts
    m = counts.sum(axis=1)
    keep = m >= 2
    c, w = counts[keep], 1.0 / (m[keep] - 1.0)
    o = (c * w[:, None]).T @ c
    o[np.diag_indices_from(o)] -= (c * w[:, None]).sum(axis=0)
    return o


def pair_confusions(field: CodedField, max_pairs: int = 45) -> list[dict[str, Any]]:
    """Confusion matrices between annotator pairs on shared items, most overlapping pairs first.

    Each record: annotator_a, annotator_b, n_items, matrix (q x q counts, rows = a).
    """
    coded = field.coded
    q, n_items, n_ann = coded.n_categories, coded.n_items, len(coded.annotators)
    grid = np.full((n_ann, n_items), -1, dtype=np.int64)
    grid[coded.annotator, coded.item] = coded.value
    present = (grid >= 0).astype(np.float64)
    overlap = present @ present.T
    pairs = [(int(overlap[i, j]), i, j) for i in range(n_ann) for j in range(i + 1, n_ann) if overlap[i, j] > 0]
    pairs.sort(key=lambda p: (-p[0], p[1], p[2]))
    out = []
    for shared, i, j in pairs[:max_pairs]:
        both = (grid[i] >= 0) & (grid[j] >= 0)
        matrix = np.bincount(grid[i, both] * q + grid[j, both], minlength=q * q).reshape(q, q)
        out.append(
            {
                "annotator_a": show(coded.annotators[i]),
                "annotator_b": show(coded.annotators[j]),
                "n_items": shared,
                "matrix": matrix.tolist(),
            }
        )
    return out


def label_distribution(field: CodedField, by: str) -> "pd.DataFrame":
    """Judgement counts per group of ``by`` (language, source, speaker, annotator) and category.

    Rows are groups, columns the categories; missing group values show as "unknown".
    Empty when the ratings have no ``by`` column.
    """
    import pandas as pd

    ratings = field.ratings
    labels = [show(c) for c in field.coded.categories]
    if by not in ratings.columns:
        return pd.DataFrame(columns=labels)
    groups = ratings[by].astype(object).where(ratings[by].notna(), "unknown").astype(str).to_numpy()
    codes, names = pd.factorize(groups, sort=True)
    q = field.coded.n_categories
    table = np.bincount(codes * q + field.coded.value, minlength=len(names) * q).reshape(len(names), q)
    return pd.DataFrame(table, index=pd.Index(names, name=by), columns=labels)


def annotator_drift(field: CodedField, windows: int = 4) -> "pd.DataFrame":
    """Leave-one-out agreement per annotator over time: their judgements in ``windows`` equal runs by created_at.

    Columns: annotator, window, start, end, n, loo_agreement. Empty without created_at.
    """
    import pandas as pd

    ratings = field.ratings
    columns = ["annotator", "window", "start", "end", "n", "loo_agreement"]
    if "created_at" not in ratings.columns or ratings["created_at"].isna().all():
        return pd.DataFrame(columns=columns)
    loo, _ = judgement_scores(field)
    frame = pd.DataFrame(
        {
            "annotator": ratings["annotator"].to_numpy(),
            "at": pd.to_datetime(ratings["created_at"], utc=True, errors="coerce").to_numpy(),
            "loo": loo,
        }
    ).dropna(subset=["at"])
    frame = frame.sort_values(["annotator", "at"], kind="stable")
    rank = frame.groupby("annotator").cumcount().to_numpy()
    size = frame.groupby("annotator")["at"].transform("size").to_numpy()
    frame["window"] = np.minimum((rank * windows) // np.maximum(size, 1), windows - 1)
    grouped = frame.groupby(["annotator", "window"], sort=True)
    out = pd.DataFrame(
        {
            "start": grouped["at"].min(),
            "end": grouped["at"].max(),
            "n": grouped.size(),
            "loo_agreement": grouped["loo"].mean(),
        }
    ).reset_index()
    return out[columns]


def label_mentions(field: CodedField, by: str | None = None) -> "pd.DataFrame":
    """Multi-label fields: judgements naming each label (intensity > 0), per group of ``by`` if given.

    Rows are groups ("all" without ``by``), columns the labels.
    """
    import pandas as pd

    cats = field.coded.categories
    labels = list(field.spec.categories) or sorted(
        {str(x[0] if isinstance(x, tuple) else x) for c in cats for x in c}
    )
    member = np.zeros((len(cats), len(labels)))
    for i, c in enumerate(cats):
        for x in c:
            key, level = (x if isinstance(x, tuple) else (x, 1))
            if key in labels and level:
                member[i, labels.index(key)] = 1.0
    per_judgement = member[field.coded.value]
    if by is None:
        return pd.DataFrame(per_judgement.sum(axis=0)[None, :], index=pd.Index(["all"]), columns=labels)
    if by not in field.ratings.columns:
        return pd.DataFrame(columns=labels)
    groups = field.ratings[by].astype(object).where(field.ratings[by].notna(), "unknown").astype(str)
    return pd.DataFrame(per_judgement, columns=labels).groupby(groups.to_numpy(), sort=True).sum()
