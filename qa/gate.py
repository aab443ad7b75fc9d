"""The quality gate: turn measured agreement into decisions a curator can audit.

Per field, the primary coefficient decides the batch: at or above ``accept`` ->
accept, at or above ``tentative`` -> tentative, else reject (defaults follow
Krippendorff 2004: alpha >= .800 to rely on the data, >= .667 for tentative
conclusions). ``decide_on="ci_low"`` judges the lower confidence bound
instead of the estimate. Items whose agreement falls below ``item`` (or that
tie under the aggregation's tie policy) go to adjudication; annotators below
``annotator`` against the leave-one-out consensus or gold are flagged. Every
decision keeps the numbers and thresholds it was made from.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from backend.domain import GateVerdict, ValidationError
from qa.fields import FieldAgreement

if TYPE_CHECKING:
    import pandas as pd

_ORDER = {GateVerdict.ACCEPT: 0, GateVerdict.TENTATIVE: 1, GateVerdict.REJECT: 2}


@dataclass(frozen=True)
class GateThresholds:
    """Thresholds for one field. ``min_items`` is the least number of pairable items to accept at all."""

    accept: float = 0.800
    tentative: float = 0.667
    item: float = 0.5
    annotator: float = 0.5
    min_annotator_items: int = 5
    min_items: int = 1
    decide_on: Literal["value", "ci_low"] = "value"

    def __post_init__(self) -> None:
        if not -1.0 <= self.tentative <= self.accept <= 1.0:
            raise ValidationError(
                f"gate thresholds need -1 <= tentative <= accept <= 1, got tentative={self.tentative} "
                f"accept={self.accept}"
            )
        for name in ("item", "annotator"):
            value = getattr(self, name)
            if not 0.0 <= value <= 1.0:
                raise ValidationError(f"{name} threshold {value} must lie in 0..1")
        if self.decide_on not in ("value", "ci_low"):
            raise ValidationError(f"decide_on={self.decide_on!r} must be 'value' or 'ci_low'")

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class GatePolicy:
    """Default thresholds and per-field overrides (keyed by field name)."""

    default: GateThresholds = field(default_factory=GateThresholds)
    fields: Mapping[str, GateThresholds] = field(default_factory=dict)

    def for_field(self, name: str) -> GateThresholds:
        return self.fields.get(name, self.default)

    @classmethod
    def from_dict(cls, raw: Mapping[str, Any]) -> "GatePolicy":
        """From ``{"default": {...}, "fields": {"sentiment": {...}}}``; unknown keys are refused."""
        allowed = set(GateThresholds.__dataclass_fields__)

        def one(where: str, values: Mapping[str, Any]) -> GateThresholds:
            unknown = sorted(set(values) - allowed)
            if unknown:
                raise ValidationError(
                    f"gate policy {where}: unknown setting(s) {', '.join(unknown)}; use {', '.join(sorted(allowed))}"
                )
            return GateThresholds(**values)

        extra = sorted(set(raw) - {"default", "fields"})
        if extra:
            raise ValidationError(f"gate policy: unknown key(s) {', '.join(extra)}; use 'default' and 'fields'")
        default = one("default", raw.get("default", {}))
        fields = {name: one(f"field {name!r}", {**asdict(default), **v}) for name, v in raw.get("fields", {}).items()}
        return cls(default, fields)


@dataclass(frozen=True)
class FieldDecision:
    """The gate's verdict on one field, with the numbers it came from (one ``gate_decisions`` row)."""

    field: str
    metric: str
    verdict: GateVerdict
    value: float | None
    ci_low: float | None
    ci_high: float | None
    n_items: int
    n_annotators: int
    thresholds: GateThresholds
    reason: str

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["verdict"] = self.verdict.value
        out["thresholds"] = self.thresholds.to_dict()
        return out


@dataclass(frozen=True)
class AdjudicationCase:
    """An item whose judgements need a second look, and why."""

    item: Any
    field: str
    reason: str
    agreement: float | None
    values: Mapping[str, int]

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class AnnotatorFlag:
    """An annotator below the reliability threshold on one field."""

    annotator: Any
    field: str
    reason: str
    loo_agreement: float | None
    loo_kappa: float | None
    gold_accuracy: float | None
    n_compared: int
    n_gold: int
    simulated: bool

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def decide_field(agreement: FieldAgreement, thresholds: GateThresholds) -> FieldDecision:
    """Accept / tentative / reject for one field; an undefined coefficient is tentative, with the reason."""
    result = agreement.primary
    if result is None:
        return FieldDecision(
            agreement.field,
            agreement.metric,
            GateVerdict.TENTATIVE,
            None,
            None,
            None,
            0,
            0,
            thresholds,
            f"no {agreement.metric} value: {agreement.reason}; a curator must look",
        )
    basis = result.value
    basis_name = "value"
    if thresholds.decide_on == "ci_low":
        if result.ci_low is None:
            raise ValidationError(
                f"field {agreement.field!r}: decide_on='ci_low' needs a bootstrap interval; run with n_boot > 0"
            )
        basis, basis_name = result.ci_low, "lower CI bound"
    shown = f"{agreement.metric} {basis_name} {basis:.3f}"
    if result.n_items < thresholds.min_items:
        verdict = GateVerdict.REJECT
        reason = f"only {result.n_items} pairable item(s), below min_items={thresholds.min_items}"
    elif basis >= thresholds.accept:
        verdict, reason = GateVerdict.ACCEPT, f"{shown} >= accept {thresholds.accept:.3f}"
    elif basis >= thresholds.tentative:
        verdict = GateVerdict.TENTATIVE
        reason = f"{shown} in [tentative {thresholds.tentative:.3f}, accept {thresholds.accept:.3f})"
    else:
        verdict, reason = GateVerdict.REJECT, f"{shown} < tentative {thresholds.tentative:.3f}"
    return FieldDecision(
        agreement.field,
        agreement.metric,
        verdict,
        result.value,
        result.ci_low,
        result.ci_high,
        result.n_items,
        result.n_annotators,
        thresholds,
        reason,
    )


def batch_verdict(decisions: list[FieldDecision]) -> GateVerdict:
    """The worst field verdict decides the batch (no fields: tentative)."""
    if not decisions:
        return GateVerdict.TENTATIVE
    return max((d.verdict for d in decisions), key=_ORDER.__getitem__)


def adjudication_cases(
    items: "pd.DataFrame", field_name: str, thresholds: GateThresholds, tied: Mapping[Any, bool] | None = None
) -> list[AdjudicationCase]:
    """Items below the item threshold, and items whose aggregate tied, lowest agreement first.

    ``items`` is :func:`qa.diagnostics.item_agreement` output. Items with a
    single judgement carry no agreement and are not sent.
    """
    cases = []
    tied = tied or {}
    for row in items.itertuples(index=False):
        if row.agreement is not None and row.agreement < thresholds.item:
            reason = f"item agreement {row.agreement:.3f} < {thresholds.item:.3f}"
        elif tied.get(row.item, False):
            reason = "tied vote"
        else:
            continue
        cases.append(AdjudicationCase(row.item, field_name, reason, row.agreement, dict(row.values)))
    cases.sort(key=lambda c: (c.agreement if c.agreement is not None else 1.0, str(c.item)))
    return cases


def annotator_flags(annotators: "pd.DataFrame", field_name: str, thresholds: GateThresholds) -> list[AnnotatorFlag]:
    """Annotators below the threshold on enough items: kappa with the others' majority
    (nominal/ordinal; raw leave-one-out agreement for other kinds) or gold accuracy."""
    flags = []
    for row in annotators.itertuples(index=False):
        reasons = []
        loo = None if row.loo_agreement != row.loo_agreement else float(row.loo_agreement)
        gold = None if row.gold_accuracy != row.gold_accuracy else float(row.gold_accuracy)
        kappa = getattr(row, "loo_kappa", None)
        kappa = None if kappa is None or kappa != kappa else float(kappa)
        enough = row.n_compared >= thresholds.min_annotator_items
        if kappa is not None and enough and kappa < thresholds.annotator:
            reasons.append(f"kappa with the others' majority {kappa:.3f} < {thresholds.annotator:.3f}")
        elif kappa is None and loo is not None and enough and loo < thresholds.annotator:
            reasons.append(f"agrees with the others' majority on {loo:.3f} < {thresholds.annotator:.3f}")
        if gold is not None and row.n_gold >= thresholds.min_annotator_items and gold < thresholds.annotator:
            reasons.append(f"gold accuracy {gold:.3f} < {thresholds.annotator:.3f}")
        if reasons:
            flags.append(
                AnnotatorFlag(
                    row.annotator,
                    field_name,
                    "; ".join(reasons),
                    loo,
                    kappa,
                    gold,
                    int(row.n_compared),
                    int(row.n_gold),
                    bool(row.simulated),
                )
            )
    return flags
