"""One label per (item, field) from several judgements, with a confidence and the soft distribution.

Methods by value kind:

* nominal: ``majority`` (default) with an explicit tie policy, or ``dawid_skene``
  (Dawid & Skene 1979, via crowd-kit) which weighs annotators by their
  estimated confusion matrices;
* ordinal: ``median`` (default; the lower median on the declared order), or
  ``majority`` / ``dawid_skene``;
* interval: ``mean`` (default) or ``median``;
* multi_label: per-label majority (a label is in when more than half chose it);
* multi_label_intensity: per-label median intensity;
* free text is not aggregated.

Every result row keeps ``distribution`` (label -> probability, or per-label
shares) so exports can ship soft labels.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Literal

import numpy as np

from backend.domain import ValueKind
from qa.agreement import AgreementInputError
from qa.ratings import as_label
from qa.diagnostics import CodedField

if TYPE_CHECKING:
    import pandas as pd

Method = Literal["majority", "median", "mean", "dawid_skene"]
TiePolicy = Literal["abstain", "first", "random"]
TIE_POLICIES = ("abstain", "first", "random")
COLUMNS = ["item", "value", "confidence", "method", "distribution", "n_judgements", "tied"]

DEFAULT_METHODS: dict[ValueKind, str] = {
    ValueKind.NOMINAL: "majority",
    ValueKind.ORDINAL: "median",
    ValueKind.INTERVAL: "mean",
    ValueKind.MULTI_LABEL: "majority",
    ValueKind.MULTI_LABEL_INTENSITY: "median",
}
ALLOWED: dict[ValueKind, tuple[str, ...]] = {
    ValueKind.NOMINAL: ("majority", "dawid_skene"),
    ValueKind.ORDINAL: ("median", "majority", "dawid_skene"),
    ValueKind.INTERVAL: ("mean", "median"),
    ValueKind.MULTI_LABEL: ("majority",),
    ValueKind.MULTI_LABEL_INTENSITY: ("median",),
}


def aggregate(
    field: CodedField,
    method: Method | None = None,
    *,
    tie: TiePolicy = "abstain",
    seed: int = 0,
    n_iter: int = 100,
) -> "pd.DataFrame":
    """Aggregate a field's judgements; one row per item (columns ``COLUMNS``).

    Tie policy for majority votes: ``abstain`` leaves the value None and marks
    the row tied (the gate sends it to adjudication), ``first`` takes the first
    tied category in declared order, ``random`` a seeded random one.
    """
    kind = field.spec.kind
    if kind is ValueKind.FREE_TEXT:
        raise AgreementInputError(f"field {field.spec.name!r} is free text; it has no aggregate label")
    method = method or DEFAULT_METHODS[kind]
    if method not in ALLOWED[kind]:
        raise AgreementInputError(
            f"method {method!r} does not apply to {kind.value} field {field.spec.name!r}; "
            f"use one of {', '.join(ALLOWED[kind])}"
        )
    if tie not in TIE_POLICIES:
        raise AgreementInputError(f"tie={tie!r} is not one of {', '.join(TIE_POLICIES)}")
    if kind is ValueKind.MULTI_LABEL:
        return _multi_label(field, tie)
    if kind is ValueKind.MULTI_LABEL_INTENSITY:
        return _intensity(field)
    if method == "majority":
        return _majority(field, tie, seed)
    if method == "median":
        return _median(field)
    if method == "mean":
        return _mean(field)
    return _dawid_skene(field, n_iter)


def _frame(field: CodedField, values: list[Any], confidence: np.ndarray, method: str, dist: list[Any], tied: np.ndarray) -> "pd.DataFrame":
    import pandas as pd

    return pd.DataFrame(
        {
            "item": field.coded.items,
            "value": pd.Series(values, dtype=object),  # labels of any type; None stays None (pandas 3 would infer str/NaN)
            "confidence": confidence.astype(float),
            "method": method,
            "distribution": dist,
            "n_judgements": field.counts.sum(axis=1).astype(np.int64),
            "tied": tied.astype(bool),
        }
    )[COLUMNS]


def _distributions(field: CodedField, probs: np.ndarray) -> list[dict[str, float]]:
    labels = [str(as_label(c)) for c in field.coded.categories]
    return [{labels[c]: round(float(row[c]), 6) for c in np.flatnonzero(row > 0)} for row in probs]


def _majority(field: CodedField, tie: TiePolicy, seed: int) -> "pd.DataFrame":
    counts = field.counts
    m = counts.sum(axis=1)
    probs = counts / m[:, None]
    top = counts.max(axis=1)
    is_top = counts == top[:, None]
    tied = is_top.sum(axis=1) > 1
    choice = is_top.argmax(axis=1)  # first in declared order
    if tie == "random" and tied.any():
        rng = np.random.default_rng(seed)
        noise = rng.random(counts.shape) * is_top
        choice = np.where(tied, noise.argmax(axis=1), choice)
    cats = field.coded.categories
    values = [None if (t and tie == "abstain") else as_label(cats[c]) for c, t in zip(choice, tied)]
    confidence = np.where(tied & (tie == "abstain"), top / m, probs[np.arange(len(m)), choice])
    return _frame(field, values, confidence, f"majority/{tie}", _distributions(field, probs), tied)


def _median(field: CodedField) -> "pd.DataFrame":
    counts = field.counts
    m = counts.sum(axis=1)
    cum = np.cumsum(counts, axis=1)
    choice = (cum >= (m / 2)[:, None]).argmax(axis=1)  # lower median on the declared order
    probs = counts / m[:, None]
    cats = field.coded.categories
    values = [as_label(cats[c]) for c in choice]
    confidence = probs[np.arange(len(m)), choice]
    return _frame(field, values, confidence, "median", _distributions(field, probs), np.zeros(len(m), bool))


def _mean(field: CodedField) -> "pd.DataFrame":
    from qa.diagnostics import _span

    counts, x = field.counts, field.coded.scores
    m = counts.sum(axis=1)
    mean = counts @ x / m
    spread = (counts * np.abs(x[None, :] - mean[:, None])).sum(axis=1) / m
    confidence = 1.0 - np.minimum(spread / _span(field), 1.0)
    std = np.sqrt((counts * (x[None, :] - mean[:, None]) ** 2).sum(axis=1) / m)
    dist = [{"mean": float(a), "std": float(s)} for a, s in zip(mean, std)]
    return _frame(field, [float(v) for v in mean], confidence, "mean", dist, np.zeros(len(m), bool))


def _member_shares(field: CodedField) -> tuple[list[str], np.ndarray, np.ndarray]:
    """(labels, per-item per-label share of judgements containing it, judgements per item)."""
    cats = field.coded.categories
    labels = list(field.spec.categories) or sorted({str(x) for c in cats for x in c})
    member = np.array([[1.0 if lab in c else 0.0 for lab in labels] for c in cats]).reshape(len(cats), len(labels))
    counts = field.counts
    m = counts.sum(axis=1)
    return labels, (counts @ member) / m[:, None], m


def _multi_label(field: CodedField, tie: TiePolicy) -> "pd.DataFrame":
    labels, share, m = _member_shares(field)
    half = np.isclose(share, 0.5)
    chosen = (share > 0.5) | (half & (tie == "first"))
    tied = half.any(axis=1) & (tie == "abstain")
    values = [[lab for lab, on in zip(labels, row) if on] for row in chosen]
    confidence = np.maximum(share, 1.0 - share).mean(axis=1)
    dist = [{lab: round(float(s), 6) for lab, s in zip(labels, row)} for row in share]
    return _frame(field, values, confidence, f"majority/{tie}", dist, tied)


def _intensity(field: CodedField) -> "pd.DataFrame":
    cats = field.coded.categories  # frozensets of (label, intensity)
    labels = list(field.spec.categories) or sorted({str(k) for c in cats for k, _ in c})
    levels = np.array([[float(dict(c).get(lab, 0)) for lab in labels] for c in cats]).reshape(len(cats), len(labels))
    values, confidence, dist = [], [], []
    for row in field.counts:
        used = np.flatnonzero(row)
        weights = row[used]
        per_label = {}
        agree = []
        means = {}
        for j, lab in enumerate(labels):
            v = levels[used, j]
            order = np.argsort(v, kind="stable")
            cum = np.cumsum(weights[order])
            med = v[order][np.searchsorted(cum, weights.sum() / 2)]
            per_label[lab] = int(med)
            agree.append(weights[v == med].sum() / weights.sum())
            means[lab] = round(float((v * weights).sum() / weights.sum()), 6)
        values.append(per_label)
        confidence.append(float(np.mean(agree)) if agree else 1.0)
        dist.append(means)
    n = len(values)
    return _frame(field, values, np.array(confidence), "median", dist, np.zeros(n, bool))


def _dawid_skene(field: CodedField, n_iter: int) -> "pd.DataFrame":
    import pandas as pd
    from crowdkit.aggregation import DawidSkene

    coded = field.coded
    frame = pd.DataFrame({"task": coded.item, "worker": coded.annotator, "label": coded.value})
    model = DawidSkene(n_iter=n_iter)
    probas = model.fit_predict_proba(frame)
    q = coded.n_categories
    probs = np.zeros((coded.n_items, q))
    cols = [int(c) for c in probas.columns]
    probs[np.ix_(probas.index.to_numpy(dtype=np.int64), cols)] = probas.to_numpy()
    probs[probs < 1e-9] = 0.0
    probs /= probs.sum(axis=1, keepdims=True)
    choice = probs.argmax(axis=1)
    top = probs.max(axis=1)
    tied = (np.isclose(probs, top[:, None])).sum(axis=1) > 1
    values = [as_label(coded.categories[c]) for c in choice]
    return _frame(field, values, top, "dawid_skene", _distributions(field, probs), tied)


def as_records(table: "pd.DataFrame", field_name: str) -> list[dict[str, Any]]:
    """JSON-ready aggregated labels: item, field, value, confidence, method, distribution, n_judgements, tied."""
    out = []
    for row in table.itertuples(index=False):
        out.append(
            {
                "item": as_label(row.item),
                "field": field_name,
                "value": row.value,
                "confidence": round(float(row.confidence), 6),
                "method": row.method,
                "distribution": row.distribution if isinstance(row.distribution, Mapping) else None,
                "n_judgements": int(row.n_judgements),
                "tied": bool(row.tied),
            }
        )
    return out
