"""A whole QA assessment of a batch: agreement, diagnostics, gate and aggregation per field.

Input is one long table of judgements (columns item, annotator, field, value,
optional lead_time_s, created_at, language, source, speaker, is_gold,
gold_value, simulated, item_text) and the fields' :class:`~qa.fields.FieldSpec`.
``item_text`` is the item's own text: for a free-text field the ASR pre-fills,
the ASR transcript annotators corrected (see :mod:`qa.error_rates`). The
result is plain data (:meth:`QAAssessment.to_dict` is what ``qa_runs.results``
stores and what the report renders), so a report can be redrawn later from the
database alone.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from backend.domain import GateVerdict, Progress, ValueKind
from qa.agreement import AgreementInputError
from qa.aggregate import aggregate, as_records
from qa.diagnostics import (
    CodedField,
    annotator_drift,
    annotator_table,
    category_agreement,
    coincidence_matrix,
    item_agreement,
    label_distribution,
    label_mentions,
    pair_confusions,
    show,
)
from qa.error_rates import free_text_error_rates
from qa.fields import FieldAgreement, FieldSpec, free_text_agreement, infer_spec, measure_field
from qa.gate import (
    AdjudicationCase,
    AnnotatorFlag,
    FieldDecision,
    GatePolicy,
    adjudication_cases,
    annotator_flags,
    batch_verdict,
    decide_field,
)

if TYPE_CHECKING:
    import pandas as pd

GROUPS = ("language", "source", "speaker")


@dataclass(frozen=True)
class AssessOptions:
    """How to assess: bootstrap draws and seed, tie policy, aggregation method per field, drift windows."""

    n_boot: int = 1000
    confidence: float = 0.95
    seed: int = 0
    tie: str = "abstain"
    methods: Mapping[str, str] = field(default_factory=dict)
    drift_windows: int = 4


@dataclass(frozen=True)
class FieldAssessment:
    """Everything measured and decided for one field."""

    spec: FieldSpec
    agreement: FieldAgreement
    decision: FieldDecision | None
    adjudications: list[AdjudicationCase]
    flags: list[AnnotatorFlag]
    aggregated: list[dict[str, Any]]
    diagnostics: dict[str, Any]


@dataclass(frozen=True)
class QAAssessment:
    verdict: GateVerdict
    fields: list[FieldAssessment]
    n_items: int
    n_annotators: int
    n_judgements: int
    options: AssessOptions

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready, NaN-free; the shape the report and the database read."""
        return _clean(
            {
                "verdict": self.verdict.value,
                "n_items": self.n_items,
                "n_annotators": self.n_annotators,
                "n_judgements": self.n_judgements,
                "options": {
                    "n_boot": self.options.n_boot,
                    "confidence": self.options.confidence,
                    "seed": self.options.seed,
                    "tie": self.options.tie,
                    "methods": dict(self.options.methods),
                    "drift_windows": self.options.drift_windows,
                },
                "fields": [
                    {
                        "spec": f.spec.to_dict(),
                        "agreement": f.agreement.to_dict(),
                        "decision": f.decision.to_dict() if f.decision else None,
                        "adjudications": [a.to_dict() for a in f.adjudications],
                        "flags": [a.to_dict() for a in f.flags],
                        "aggregated": f.aggregated,
                        "diagnostics": f.diagnostics,
                    }
                    for f in self.fields
                ],
            }
        )


def _clean(value: Any) -> Any:
    """NaN -> None, numpy scalars -> Python, tuples -> lists, recursively."""
    if isinstance(value, dict):
        return {str(k): _clean(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_clean(v) for v in value]
    if isinstance(value, frozenset):
        return sorted(str(v) for v in value)
    if isinstance(value, (np.integer,)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        return None if math.isnan(value) else float(value)
    if isinstance(value, np.bool_):
        return bool(value)
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return value


def _records(frame: "pd.DataFrame") -> list[dict[str, Any]]:
    return _clean(frame.to_dict(orient="records"))


REQUIRED = ("item", "annotator", "field", "value")


def assess(
    judgements: "pd.DataFrame",
    specs: Sequence[FieldSpec] | None = None,
    policy: GatePolicy | None = None,
    options: AssessOptions | None = None,
    on_progress: Progress | None = None,
) -> QAAssessment:
    """Assess every field in ``judgements``; fields without a spec get one inferred from their values.

    Raises :class:`AgreementInputError` for missing columns or a spec'd field
    with no judgements.
    """
    policy = policy or GatePolicy()
    options = options or AssessOptions()
    missing = [c for c in REQUIRED if c not in judgements.columns]
    if missing:
        raise AgreementInputError(
            f"judgements lack column(s) {', '.join(missing)}; need {', '.join(REQUIRED)}"
        )
    if len(judgements) == 0:
        raise AgreementInputError("no judgements to assess; import or pull annotations first")
    by_name = {s.name: s for s in specs or ()}
    names = list(dict.fromkeys(judgements["field"].tolist()))
    order = [n for n in by_name if n in names] + [n for n in names if n not in by_name]
    empty = [n for n in by_name if n not in names]
    total = len(order) + len(empty)
    results: list[FieldAssessment] = []
    groups = judgements.groupby("field", sort=False)
    for done, name in enumerate(order):
        part = groups.get_group(name).drop(columns=["field"])
        spec = by_name.get(name) or infer_spec(name, part["value"].tolist())
        if on_progress:
            on_progress(f"field {name}", done, total)
        results.append(_assess_field(part, spec, policy, options))
    for name in empty:
        spec = by_name[name]
        agreement = FieldAgreement(name, spec.primary_metric, None, reason="no judgements for this field")
        decision = decide_field(agreement, policy.for_field(name)) if spec.gated else None
        results.append(FieldAssessment(spec, agreement, decision, [], [], [], {}))
    if on_progress:
        on_progress("done", total, total)
    decisions = [f.decision for f in results if f.decision is not None]
    return QAAssessment(
        verdict=batch_verdict(decisions),
        fields=results,
        n_items=int(judgements["item"].nunique()),
        n_annotators=int(judgements["annotator"].nunique()),
        n_judgements=len(judgements),
        options=options,
    )


def _assess_field(part: "pd.DataFrame", spec: FieldSpec, policy: GatePolicy, options: AssessOptions) -> FieldAssessment:
    thresholds = policy.for_field(spec.name)
    if spec.kind is ValueKind.FREE_TEXT and not spec.gated:
        rates = free_text_error_rates(part, against_item_text=spec.predictor == "asr")
        diagnostics = {"kind": "free_text", "by_language": [r.to_dict() for r in rates]}
        return FieldAssessment(spec, free_text_agreement(spec, rates), None, [], [], [], diagnostics)
    agreement = measure_field(
        part[["item", "annotator", "value"]], spec, n_boot=options.n_boot, confidence=options.confidence, seed=options.seed
    )
    decision = decide_field(agreement, thresholds) if spec.gated else None
    if spec.kind is ValueKind.FREE_TEXT:
        return FieldAssessment(spec, agreement, decision, [], [], [], {"kind": "free_text"})
    coded = CodedField.build(part, spec)
    items = item_agreement(coded)
    annotators = annotator_table(coded)
    labels = aggregate(coded, options.methods.get(spec.name), tie=options.tie, seed=options.seed)  # type: ignore[arg-type]
    tied = dict(zip(labels["item"], labels["tied"]))
    cases = adjudication_cases(items, spec.name, thresholds, tied)
    flags = annotator_flags(annotators, spec.name, thresholds)
    categorical = spec.kind in (ValueKind.NOMINAL, ValueKind.ORDINAL)
    sets = spec.kind in (ValueKind.MULTI_LABEL, ValueKind.MULTI_LABEL_INTENSITY)
    if categorical:
        categories = [show(c) for c in coded.coded.categories]
        overall = coded.counts.sum(axis=0).astype(int).tolist()
    elif sets:
        mentions = label_mentions(coded)
        categories, overall = [str(c) for c in mentions.columns], mentions.iloc[0].astype(int).tolist()
    else:
        categories, overall = [], []
    distributions = {}
    for by in GROUPS if (categorical or sets) else ():
        table = label_distribution(coded, by) if categorical else label_mentions(coded, by)
        if len(table):
            distributions[by] = {"groups": [str(g) for g in table.index], "counts": table.to_numpy().tolist()}
    scored = items["agreement"].dropna().astype(float)
    hist = np.histogram(scored, bins=10, range=(0, 1))[0].tolist() if len(scored) else []
    diagnostics = {
        "categories": categories,
        "coincidence": coincidence_matrix(coded).round(6).tolist() if categorical else [],
        "pairs": pair_confusions(coded) if categorical else [],
        "category_agreement": _records(category_agreement(coded)) if categorical else [],
        "overall_counts": overall,
        "distributions": distributions,
        "annotators": _records(annotators),
        "drift": _records(annotator_drift(coded, options.drift_windows)),
        "item_agreement_histogram": hist,
        "n_items": coded.coded.n_items,
    }
    return FieldAssessment(spec, agreement, decision, cases, flags, as_records(labels, spec.name), diagnostics)
