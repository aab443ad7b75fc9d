"""What QA needs to know about one annotated field, and the agreement measured on it.

A :class:`FieldSpec` is the small typed input QA works from (name, value kind,
declared categories, range); :meth:`FieldSpec.from_scheme_field` reads one from
the annotation scheme registry without depending on it. :func:`measure_field`
computes the field's primary metric (the one its gate uses) with a bootstrap
CI, plus chance-corrected companions without one.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from dataclasses import field as dataclass_field
from typing import TYPE_CHECKING, Any

import numpy as np

from backend.domain import DEFAULT_METRICS, ValueKind
from qa.agreement import (
    AgreementInputError,
    AgreementResult,
    CodedRatings,
    code_ratings,
    fleiss_kappa,
    gwet_ac1,
    gwet_ac2,
    krippendorff_alpha,
    masi_distance,
    percent_agreement,
)
from qa.error_rates import LanguageErrorRates, free_text_error_rates

if TYPE_CHECKING:
    import pandas as pd


GATED_METRICS = frozenset(
    {
        "krippendorff_alpha_nominal",
        "krippendorff_alpha_ordinal",
        "krippendorff_alpha_interval",
        "krippendorff_alpha_ratio",
        "krippendorff_alpha_masi",
        "krippendorff_alpha_ordinal_per_label",
        "fleiss_kappa",
        "gwet_ac1",
        "gwet_ac2",
        "percent_agreement",
    }
)


@dataclass(frozen=True)
class FieldSpec:
    """One scheme field as QA sees it.

    ``categories`` are label keys in order (low to high for ordinal);
    ``minimum``/``maximum`` bound an interval field; ``max_intensity`` bounds
    the per-label intensities of a multi_label_intensity field; ``predictor``
    names the model that pre-fills a free-text field (``"asr"``: annotators
    correct the ASR transcript, which QA then scores against their corrections).
    """

    name: str
    kind: ValueKind
    categories: tuple[Any, ...] = ()
    metric: str | None = None
    minimum: float | None = None
    maximum: float | None = None
    max_intensity: int | None = None
    predictor: str | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "kind", ValueKind(self.kind))
        metric = self.primary_metric
        if metric not in GATED_METRICS and metric != "mean_pairwise_wer":
            raise AgreementInputError(
                f"field {self.name!r}: metric {metric!r} is not one QA computes; "
                f"use one of {', '.join(sorted(GATED_METRICS | {'mean_pairwise_wer'}))}"
            )

    @property
    def primary_metric(self) -> str:
        return self.metric or DEFAULT_METRICS[self.kind]

    @property
    def gated(self) -> bool:
        """Free text has no chance-corrected coefficient; it is reported, not gated."""
        return self.primary_metric in GATED_METRICS

    @classmethod
    def from_scheme_field(cls, scheme_field: Any) -> "FieldSpec":
        """From an ``annotation_configs.registry.SchemeField`` (read by attribute, not imported)."""
        intensity = getattr(scheme_field, "intensity", ())
        return cls(
            name=scheme_field.name,
            kind=ValueKind(scheme_field.kind),
            categories=tuple(getattr(scheme_field, "keys", ())),
            metric=_known_metric(getattr(scheme_field, "metric", None), ValueKind(scheme_field.kind)),
            minimum=getattr(scheme_field, "minimum", None),
            maximum=getattr(scheme_field, "maximum", None),
            max_intensity=len(intensity) - 1 if intensity else None,
            predictor=getattr(scheme_field, "predictor", None),
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "kind": self.kind.value,
            "categories": list(self.categories),
            "metric": self.primary_metric,
            "minimum": self.minimum,
            "maximum": self.maximum,
            "max_intensity": self.max_intensity,
            "predictor": self.predictor,
        }


def _known_metric(metric: str | None, kind: ValueKind) -> str | None:
    if metric is None or metric in GATED_METRICS or metric == "mean_pairwise_wer":
        return metric
    if metric == "cohen_kappa":  # two-annotator kappa generalises to Fleiss over k annotators
        return "fleiss_kappa"
    return DEFAULT_METRICS[kind]


def infer_spec(name: str, values: Sequence[Any]) -> FieldSpec:
    """Guess a field's kind from its values when no scheme declares it (``qa import`` without --scheme).

    Mappings -> multi_label_intensity, lists -> multi_label, numbers -> interval,
    short strings -> nominal, long strings -> free text.
    """
    sample = [v for v in values if v is not None][:1000]
    if not sample:
        raise AgreementInputError(f"field {name!r} has no values to infer its kind from")
    if all(isinstance(v, Mapping) for v in sample):
        labels = sorted({k for v in sample for k in v})
        top = max((int(x) for v in sample for x in v.values()), default=1)
        return FieldSpec(name, ValueKind.MULTI_LABEL_INTENSITY, tuple(labels), max_intensity=max(top, 1))
    if all(isinstance(v, (list, tuple, set, frozenset)) for v in sample):
        return FieldSpec(name, ValueKind.MULTI_LABEL, tuple(sorted({x for v in sample for x in v})))
    if all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in sample):
        return FieldSpec(name, ValueKind.INTERVAL, minimum=float(min(sample)), maximum=float(max(sample)))
    texts = [str(v) for v in sample]
    if len(set(texts)) > 50 or max(len(t) for t in texts) > 60:
        return FieldSpec(name, ValueKind.FREE_TEXT)
    return FieldSpec(name, ValueKind.NOMINAL, tuple(sorted(set(texts))))


# ---------------------------------------------------------------------------------------------
# values and distances per kind


def intensity_frame(ratings: "pd.DataFrame", spec: FieldSpec) -> "pd.DataFrame":
    """multi_label_intensity judgements exploded to one row per (item x label) unit, value = intensity."""
    import pandas as pd

    labels = list(spec.categories) or sorted({k for v in ratings["value"] for k in v})
    rows = []
    for item, annotator, value in zip(ratings["item"], ratings["annotator"], ratings["value"]):
        if not isinstance(value, Mapping):
            raise AgreementInputError(
                f"field {spec.name!r}: {value!r} (item {item!r}, annotator {annotator!r}) is not a mapping "
                "label -> intensity"
            )
        for label in labels:
            rows.append(((item, label), annotator, int(value.get(label, 0)), label))
    return pd.DataFrame(rows, columns=["item", "annotator", "value", "label"])


def _intensity_distance(max_intensity: int) -> Any:
    def intensity_distance(a: Any, b: Any) -> float:
        da, db = dict(a), dict(b)
        labels = set(da) | set(db)
        if not labels:
            return 0.0
        return float(np.mean([abs(da.get(k, 0) - db.get(k, 0)) for k in labels])) / max(max_intensity, 1)

    return intensity_distance


def coded_field(ratings: "pd.DataFrame", spec: FieldSpec) -> CodedRatings:
    """The field's judgements coded, categories declared where the spec has them."""
    if spec.kind in (ValueKind.NOMINAL, ValueKind.ORDINAL):
        return code_ratings(ratings, spec.categories or None, ordered=spec.kind is ValueKind.ORDINAL)
    if spec.kind is ValueKind.INTERVAL:
        return code_ratings(ratings, None, numeric=True)
    return code_ratings(ratings, None)


def normalised_distance(spec: FieldSpec, coded: CodedRatings) -> np.ndarray:
    """(q, q) disagreement between coded categories, scaled to 0..1 so items compare across kinds."""
    q = coded.n_categories
    cats = coded.categories
    if spec.kind is ValueKind.NOMINAL or q == 1:
        return 1.0 - np.eye(q)
    if spec.kind is ValueKind.ORDINAL:
        rank = np.arange(q, dtype=np.float64)
        return np.abs(rank[:, None] - rank[None, :]) / (q - 1)
    if spec.kind is ValueKind.INTERVAL:
        x = coded.scores
        low = spec.minimum if spec.minimum is not None else x.min()
        high = spec.maximum if spec.maximum is not None else x.max()
        span = (high - low) or 1.0
        return np.minimum(np.abs(x[:, None] - x[None, :]) / span, 1.0)
    if spec.kind is ValueKind.MULTI_LABEL:
        fn = masi_distance
    elif spec.kind is ValueKind.MULTI_LABEL_INTENSITY:
        fn = _intensity_distance(spec.max_intensity or 1)
    else:
        return 1.0 - np.eye(q)
    return np.array([[fn(a, b) for b in cats] for a in cats], dtype=np.float64).reshape(q, q)


# ---------------------------------------------------------------------------------------------
# measuring


@dataclass(frozen=True)
class FieldAgreement:
    """A field's primary coefficient (gated, with CI) and its companions (keyed by metric name).

    ``primary`` is None when the coefficient is undefined; ``reason`` then says
    why. ``companions`` map to a result or to the reason it has none.
    """

    field: str
    metric: str
    primary: AgreementResult | None
    reason: str | None = None
    companions: Mapping[str, AgreementResult | str] = dataclass_field(default_factory=dict)
    per_label: Mapping[str, AgreementResult | str] = dataclass_field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        def one(r: AgreementResult | str) -> dict[str, Any]:
            return r.to_dict() if isinstance(r, AgreementResult) else {"value": None, "reason": r}

        return {
            "field": self.field,
            "metric": self.metric,
            "primary": self.primary.to_dict() if self.primary else None,
            "reason": self.reason,
            "companions": {k: one(v) for k, v in self.companions.items()},
            "per_label": {k: one(v) for k, v in self.per_label.items()},
        }


def _attempt(fn: Any, *args: Any, **kwargs: Any) -> AgreementResult | str:
    try:
        return fn(*args, **kwargs)
    except AgreementInputError as exc:
        return str(exc)


def measure_field(
    ratings: "pd.DataFrame", spec: FieldSpec, *, n_boot: int = 1000, confidence: float = 0.95, seed: int = 0
) -> FieldAgreement:
    """Primary metric with a bootstrap CI, and companions, for one field's judgements (item, annotator, value).

    A free-text field is not gated: its reason gives WER and CER per language (:mod:`qa.error_rates`),
    read from optional ``language`` and ``item_text`` columns when ``ratings`` has them.
    """
    metric = spec.primary_metric
    cats = list(spec.categories) or None
    boot = {"n_boot": n_boot, "confidence": confidence, "seed": seed}
    companions: dict[str, AgreementResult | str] = {}
    per_label: dict[str, AgreementResult | str] = {}
    kind = spec.kind
    if metric == "mean_pairwise_wer":
        return free_text_agreement(spec, free_text_error_rates(ratings, against_item_text=spec.predictor == "asr"))
    if kind is ValueKind.MULTI_LABEL_INTENSITY or metric == "krippendorff_alpha_ordinal_per_label":
        exploded = intensity_frame(ratings, spec)
        levels = list(range(0, (spec.max_intensity or int(exploded["value"].max() or 1)) + 1))
        primary = _attempt(krippendorff_alpha, exploded[["item", "annotator", "value"]], "ordinal", levels, **boot)
        for label, part in exploded.groupby("label", sort=False):
            per_label[str(label)] = _attempt(krippendorff_alpha, part[["item", "annotator", "value"]], "ordinal", levels)
    elif metric.startswith("krippendorff_alpha_"):
        level = metric.removeprefix("krippendorff_alpha_")
        if level == "masi":
            primary = _attempt(krippendorff_alpha, ratings, masi_distance, None, **boot)
        else:
            primary = _attempt(krippendorff_alpha, ratings, level, cats if level in ("nominal", "ordinal") else None, **boot)
    elif metric == "fleiss_kappa":
        primary = _attempt(fleiss_kappa, ratings, cats, **boot)
    elif metric == "gwet_ac1":
        primary = _attempt(gwet_ac1, ratings, cats, **boot)
    elif metric == "gwet_ac2":
        primary = _attempt(gwet_ac2, ratings, "quadratic", cats, **boot)
    else:
        primary = _attempt(percent_agreement, ratings, **boot)

    if kind in (ValueKind.NOMINAL, ValueKind.ORDINAL):
        for name, fn, args in (
            ("krippendorff_alpha_nominal", krippendorff_alpha, ("nominal", cats)),
            ("fleiss_kappa", fleiss_kappa, (cats,)),
            ("gwet_ac1", gwet_ac1, (cats,)),
            ("percent_agreement", percent_agreement, (cats,)),
        ):
            if name != metric:
                # the field reports kappa beside alpha (MELD, DravidianMultiModality): both get a CI
                with_ci = boot if name in ("fleiss_kappa", "krippendorff_alpha_nominal") else {}
                companions[name] = _attempt(fn, ratings, *args, **with_ci)
        if kind is ValueKind.ORDINAL:
            companions["gwet_ac2_quadratic"] = _attempt(gwet_ac2, ratings, "quadratic", cats)
            if metric != "krippendorff_alpha_ordinal":
                companions["krippendorff_alpha_ordinal"] = _attempt(krippendorff_alpha, ratings, "ordinal", cats)
    elif kind is ValueKind.MULTI_LABEL:
        companions["krippendorff_alpha_nominal_exact_set"] = _attempt(krippendorff_alpha, ratings, "nominal")
        companions["percent_agreement_exact_set"] = _attempt(percent_agreement, ratings)
    elif kind is ValueKind.INTERVAL:
        companions["krippendorff_alpha_ordinal"] = _attempt(krippendorff_alpha, ratings, "ordinal")
        companions["percent_agreement_exact"] = _attempt(percent_agreement, ratings)

    if isinstance(primary, str):
        return FieldAgreement(spec.name, metric, None, reason=primary, companions=companions, per_label=per_label)
    return FieldAgreement(spec.name, metric, primary, companions=companions, per_label=per_label)


def free_text_agreement(spec: FieldSpec, rates: Sequence[LanguageErrorRates]) -> FieldAgreement:
    """A free-text field's agreement: no coefficient, the per-language error rates as its reason.

    The metric keeps its registered name ``mean_pairwise_wer``; the numbers are corpus WER and
    CER per language (:mod:`qa.error_rates`), the primary one first.
    """
    measured = "; ".join(r.describe() for r in rates) or "no texts to compare"
    return FieldAgreement(spec.name, spec.primary_metric, None, reason=f"free text is reported, not gated: {measured}")
