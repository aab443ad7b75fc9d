"""Everything a release is made of, read from the database in one place: ``gather`` returns
the typed ``ReleaseInputs`` (rows, fields, card facts, what was left out and why) that the
builders in ``exports`` take; nothing after it reads the database for the release's content.

Governance is applied here: only kept items of sources that are not taken down and whose
licence the project's policy allows are released (``licences``).
"""

from __future__ import annotations

import re
from collections import defaultdict
from datetime import UTC
from itertools import combinations
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from backend.db.models import (
    AggregatedLabelRow,
    Annotation,
    Annotator,
    GateDecision,
    Item,
    Project,
    QARun,
    Source,
    StageRun,
    UtteranceRow,
)
from backend.domain import FilterStatus, ItemKind, StageStatus, ValidationError, ValueKind, from_ms
from backend.repositories import projects as project_repo
from backend.services.release.licences import licence_allowed
from backend.services.takedown import is_taken_down
from exports.records import (
    RESERVED_COLUMNS,
    AggregatedLabel,
    AgreementRecord,
    AnnotatorJudgement,
    CardContext,
    LabelField,
    LabelValue,
    ReleaseRow,
    SchemeRecord,
    SourceRecord,
)
from qa.distances import masi_distance
from qa.pairwise import exact_pair_agreement

if TYPE_CHECKING:
    from annotation_configs.registry import SchemeField, SchemeRegistry

_FIELD_NAME = re.compile(r"^[a-z][a-z0-9_]*$")
GUIDELINES_LANGUAGE = "en"
"""The language of the scheme instructions quoted in the card."""


@dataclass(frozen=True)
class ReleaseInputs:
    """Rows and card facts gathered from the database, plus what was left out and why
    (``excluded``: reason → items; reasons ``attachment`` (a sticker or photo, released with its
    chat turn), ``filtered``, ``taken_down``, ``licence_not_allowed``, ``near_duplicate`` (a
    member of a near-duplicate group without labels of its own), ``unlabelled``)."""

    project: Project
    rows: list[ReleaseRow]
    fields: tuple[LabelField, ...]
    context: CardContext
    excluded: dict[str, int] = field(default_factory=dict)


def _column(name: str) -> str:
    """A field's column name: its own, or ``<name>_annotated`` when one of its columns would take
    a name every release has (``RESERVED_COLUMNS``, e.g. a free-text field ``ocr_text``)."""
    suffixes = ("", "_confidence", "_distribution", "_agreement", "_judgements")
    return f"{name}_annotated" if any(name + x in RESERVED_COLUMNS for x in suffixes) else name


def label_field(f: SchemeField) -> LabelField:
    """The release field of a scheme field, of its kind, with its range or intensity scale."""
    labelled = f.kind in (ValueKind.NOMINAL, ValueKind.ORDINAL, ValueKind.MULTI_LABEL, ValueKind.MULTI_LABEL_INTENSITY)
    column = _column(f.name)
    return LabelField(
        f.name, f.kind, f.keys if labelled else (), f.description or f.title,
        minimum=f.minimum if f.kind is ValueKind.INTERVAL else None,
        maximum=f.maximum if f.kind is ValueKind.INTERVAL else None,
        max_intensity=f.max_intensity if f.kind is ValueKind.MULTI_LABEL_INTENSITY else None,
        column=column,
    )


def release_fields(project: Project, session: Session, names: Sequence[str] = ()) -> tuple[LabelField, ...]:
    """The fields of the project's schemes, of every kind (or of the labels seen, for imported ones).

    A field no registered scheme of the project defines is taken as nominal, with the string
    values seen as its labels. ``names`` picks fields by name (an unknown one is a
    ``ValidationError`` listing the choices); without it, every field that has at least one value.
    """
    registry = _registry()
    found: dict[str, LabelField] = {}
    registered: set[str] = set()
    for scheme_name in project.schemes or []:
        if scheme_name not in registry:
            continue
        for f in registry[scheme_name].fields:
            registered.add(f.name)
            if f.name not in found:
                found[f.name] = label_field(f)
    observed: dict[str, set[str]] = defaultdict(set)
    valued: set[str] = set()

    def see(name: str, value: Any) -> None:
        if value is not None:
            valued.add(name)
        if isinstance(value, str):
            observed[name].add(value)

    for name, value in session.execute(
        select(AggregatedLabelRow.field, AggregatedLabelRow.value).where(AggregatedLabelRow.project_id == project.id)
    ):
        see(name, value)
    for values in session.scalars(
        select(Annotation.values).join(Item, Item.id == Annotation.item_id).where(Item.project_id == project.id)
    ):
        for name, value in (values or {}).items():
            see(name, value)
    for name, labels in sorted(observed.items()):
        if name not in registered and len(labels) >= 2 and _FIELD_NAME.match(name):
            found[name] = LabelField(name, ValueKind.NOMINAL, tuple(sorted(labels)), "labels as imported", column=_column(name))
    if names:
        missing = [n for n in names if n not in found]
        if missing:
            raise ValidationError(
                f"field(s) {', '.join(missing)} are not fields of project {project.name!r}; "
                f"choose from {', '.join(found) or 'none'}"
            )
        return tuple(found[n] for n in names)
    chosen = tuple(f for f in found.values() if f.name in valued)
    if not chosen:
        raise ValidationError(
            f"project {project.name!r} has no labelled field to release; "
            "annotate items (mmcurate annotate pull / qa import) and run `mmcurate qa run` first"
        )
    return chosen


def _defining_schemes(project: Project) -> dict[str, str]:
    """Field name → the first of the project's schemes that defines it (the one its release column follows)."""
    registry = _registry()
    defining: dict[str, str] = {}
    for scheme_name in project.schemes or []:
        if scheme_name in registry:
            for f in registry[scheme_name].fields:
                defining.setdefault(f.name, scheme_name)
    return defining


def gather(session: Session, project: str | int, *, data_dir: Path, field_names: Sequence[str] = ()) -> ReleaseInputs:
    """Read every releasable item of a project into ``ReleaseRow`` records, with the card's facts.

    Kept items only, of sources not taken down and with a licence the project allows, that
    have at least one judgement or aggregated label for a release field. An attachment (an item
    with a ``parent_id``: a chat turn's sticker or photo) is never a row of its own: its image
    goes with its turn (``attachment_paths``, kept attachments in (turn_index, id) order). A
    near-duplicate that is not its group's representative is released only with labels of its
    own. Media paths stored relative are taken relative to ``data_dir``. Rows come in item id order.
    """
    project = project_repo.get(session, project)
    fields = release_fields(project, session, field_names)
    names = {f.name for f in fields}
    by_name = {f.name: f for f in fields}
    sources = {s.id: s for s in session.scalars(select(Source).where(Source.project_id == project.id))}
    items = list(session.scalars(select(Item).where(Item.project_id == project.id).order_by(Item.id)))
    utterances = {
        u.item_id: u
        for u in session.scalars(
            select(UtteranceRow).join(Item, Item.id == UtteranceRow.item_id).where(Item.project_id == project.id)
        )
    }
    aggregated: dict[int, dict[str, AggregatedLabelRow]] = defaultdict(dict)
    defining = _defining_schemes(project)
    for row in session.scalars(select(AggregatedLabelRow).where(AggregatedLabelRow.project_id == project.id)
                               .order_by(AggregatedLabelRow.id)):
        if row.field in names:
            held = aggregated[row.item_id].get(row.field)
            # two schemes may name a field alike: the column is the first scheme's that defines it
            if held is None or (held.scheme != defining.get(row.field) and row.scheme == defining.get(row.field)):
                aggregated[row.item_id][row.field] = row
    judgements = _judgements(session, project, by_name)
    attachments: dict[int, list[Item]] = defaultdict(list)
    for item in items:
        if item.parent_id is not None and item.filter_status == FilterStatus.KEPT:
            attachments[item.parent_id].append(item)

    excluded: dict[str, int] = defaultdict(int)
    rows: list[ReleaseRow] = []
    for item in items:
        source = sources[item.source_id]
        if item.parent_id is not None:
            excluded["attachment"] += 1
        elif item.filter_status != FilterStatus.KEPT:
            excluded["filtered"] += 1
        elif is_taken_down(source):
            excluded["taken_down"] += 1
        elif not licence_allowed(source.licence, project.allowed_licences or []):
            excluded["licence_not_allowed"] += 1
        elif not aggregated.get(item.id) and not judgements.get(item.id):
            excluded["near_duplicate" if item.duplicate_of_id is not None else "unlabelled"] += 1
        else:
            attached = sorted(attachments.get(item.id, []), key=lambda a: (a.turn_index or 0, a.id))
            rows.append(_row(item, utterances.get(item.id), source, by_name, aggregated.get(item.id, {}),
                             judgements.get(item.id, {}), attached, data_dir))

    judged = [j for r in rows for js in r.judgements.values() for j in js]
    used_sources = [sources[s] for s in sorted({r.source_id for r in rows})]
    context = CardContext(
        description=project.description or "",
        scheme_names=tuple(project.schemes or ()),
        schemes=_schemes(project),
        n_annotators=len({j.annotator for j in judged}),
        n_simulated_annotators=len({j.annotator for j in judged if j.simulated}),
        agreement=_agreement(session, project, names),
        sources=tuple(
            SourceRecord(s.id, s.uri, s.licence or "unknown", s.title, s.author, s.kind) for s in used_sources
        ),
        model_versions=_model_versions(session, project),
    )
    return ReleaseInputs(project, rows, fields, context, dict(excluded))


def _judgements(session: Session, project: Project, fields: Mapping[str, LabelField]) -> dict[int, dict[str, list[AnnotatorJudgement]]]:
    """Live, non-adjudication judgements per item and field, in the order they were stored
    (values that do not fit their field's kind are left out, see ``stored_value``)."""
    out: dict[int, dict[str, list[AnnotatorJudgement]]] = defaultdict(lambda: defaultdict(list))
    query = (
        select(Annotation, Annotator)
        .join(Annotator, Annotator.id == Annotation.annotator_id)
        .join(Item, Item.id == Annotation.item_id)
        .where(Item.project_id == project.id, Annotation.deleted_at.is_(None), Annotation.is_adjudication.is_(False))
        .order_by(Annotation.id)
    )
    for annotation, annotator in session.execute(query):
        for name, value in (annotation.values or {}).items():
            typed = stored_value(fields[name], value) if name in fields else None
            if typed is not None:
                out[annotation.item_id][name].append(AnnotatorJudgement(annotator.pseudonym, typed, annotator.simulated))
    return out


def stored_value(field: LabelField, value: Any) -> LabelValue | None:
    """A value as stored in JSON (``annotations.values``, ``aggregated_labels.value``) in the
    python form of its field's kind (``exports.records.LabelValue``), or ``None`` when it is not
    of that kind (another scheme's field of the same name, say). Labels are checked at export."""
    kind = field.kind
    if kind in (ValueKind.NOMINAL, ValueKind.ORDINAL, ValueKind.FREE_TEXT):
        return value if isinstance(value, str) else None
    if kind is ValueKind.INTERVAL:
        return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None
    if kind is ValueKind.MULTI_LABEL:
        return tuple(value) if isinstance(value, list) and all(isinstance(v, str) for v in value) else None
    if isinstance(value, dict) and all(isinstance(v, int) and not isinstance(v, bool) for v in value.values()):
        return dict(value)
    return None


def item_agreement(field: LabelField, values: Sequence[LabelValue]) -> float | None:
    """Item-level agreement of one item's judgements of ``field``, in [0, 1], ``None`` below two.

    Nominal, ordinal, free text: the share of annotator pairs with the identical value
    (``qa.pairwise.exact_pair_agreement``). Multi-label: 1 − MASI distance (Passonneau 2006),
    averaged over pairs. Interval: 1 − |a − b| / (maximum − minimum), averaged over pairs.
    Multi-label intensity: 1 − the mean over labels of |a − b| / max intensity, averaged over pairs.

    >>> f = LabelField("e", ValueKind.MULTI_LABEL, ("anger", "joy", "surprise"))
    >>> round(item_agreement(f, [("joy",), ("joy", "surprise"), ("joy",)]), 4)  # pairs: 1/3, 1, 1/3
    0.5556
    """
    if len(values) < 2:
        return None
    kind = field.kind
    if kind in (ValueKind.NOMINAL, ValueKind.ORDINAL, ValueKind.FREE_TEXT):
        return exact_pair_agreement(values)  # type: ignore[arg-type]
    if kind is ValueKind.MULTI_LABEL:
        scores = [1.0 - masi_distance(a, b) for a, b in combinations(values, 2)]
    elif kind is ValueKind.INTERVAL:
        span = float(field.maximum - field.minimum)  # type: ignore[operator]
        scores = [1.0 - min(abs(a - b) / span, 1.0) for a, b in combinations(values, 2)]  # type: ignore[operator]
    else:
        top = field.max_intensity or 1
        scores = [
            1.0 - sum(abs(a.get(lab, 0) - b.get(lab, 0)) for lab in field.labels) / (top * len(field.labels))  # type: ignore[union-attr]
            for a, b in combinations(values, 2)
        ]
    return sum(scores) / len(scores)


def _row(
    item: Item,
    utt: UtteranceRow | None,
    source: Source,
    fields: Mapping[str, LabelField],
    aggregated: Mapping[str, AggregatedLabelRow],
    judged: Mapping[str, list[AnnotatorJudgement]],
    attachments: Sequence[Item],
    data_dir: Path,
) -> ReleaseRow:
    def resolve(path: str | None) -> Path | None:
        if not path:
            return None
        p = Path(path)
        return p if p.is_absolute() else data_dir / p

    labels = {}
    for name, stored in aggregated.items():
        value = stored_value(fields[name], stored.value) if stored.value is not None else None
        if value is not None or stored.value is None:
            labels[name] = AggregatedLabel(
                value, stored.confidence, {str(k): float(v) for k, v in (stored.distribution or {}).items()},
                item_agreement(fields[name], [j.value for j in judged.get(name, [])]), stored.n_judgements,
            )
    for name, js in judged.items():
        if name not in labels:
            labels[name] = AggregatedLabel(None, None, {}, item_agreement(fields[name], [j.value for j in js]), len(js))
    posted = item.posted_at
    if posted is not None and posted.utcoffset() is None:  # SQLite hands back naive times (stored as UTC)
        posted = posted.replace(tzinfo=UTC)
    return ReleaseRow(
        item_id=item.id,
        source_id=source.id,
        source_uri=source.uri,
        licence=source.licence or "unknown",
        text=item.text or "",
        audio_path=resolve(utt.clip_audio_path) if utt is not None else None,
        video_path=resolve(utt.clip_video_path) if utt is not None else None,
        speaker_label=utt.speaker_label if utt is not None else None,
        language=item.language,
        dialogue_id=item.dialogue_id,
        utterance_index=item.turn_index or 0,
        start_s=from_ms(utt.start_ms) if utt is not None else None,
        end_s=from_ms(utt.end_ms) if utt is not None else None,
        source_title=source.title,
        source_author=source.author,
        asr_model=utt.asr_model if utt is not None else None,
        asr_confidence=utt.asr_confidence if utt is not None else None,
        text_normalized=item.text_normalized or "",
        scripts=dict((item.text_profile or {}).get("scripts") or {}),
        dominant_script=item.dominant_script,
        han_variant=(item.text_profile or {}).get("han_variant"),
        text_language=(item.text_profile or {}).get("language"),
        cmi=item.cmi,
        labels=labels,
        judgements={name: tuple(js) for name, js in judged.items()},
        simulated=any(j.simulated for js in judged.values() for j in js),
        kind=item.kind,
        image_path=resolve(item.media_path) if item.kind == ItemKind.IMAGE else None,
        ocr_text=item.ocr_text or "",
        external_id=item.external_id,
        reply_to_item_id=item.reply_to_id,
        author=item.author,
        posted_at=posted,
        attachment_paths=tuple(p for a in attachments if (p := resolve(a.media_path)) is not None),
        duplicate_group=item.duplicate_group,
    )


def _registry() -> SchemeRegistry:
    from annotation_configs.registry import load_registry

    return load_registry()


def _schemes(project: Project) -> tuple[SchemeRecord, ...]:
    """The project's schemes the registry knows, in the project's order."""
    registry = _registry()
    return tuple(
        SchemeRecord(
            name=name,
            title=registry[name].title,
            instruction=registry[name].instruction(GUIDELINES_LANGUAGE),
            source=registry[name].source,
            field_kinds=tuple((f.name, f.kind) for f in registry[name].fields),
        )
        for name in project.schemes or []
        if name in registry
    )


def _agreement(session: Session, project: Project, names: set[str]) -> tuple[AgreementRecord, ...]:
    """The gate decisions for the released fields, from the latest project-level QA run of the scheme each
    field's column follows (a per-batch run measures one batch only, and is stored after the project's)."""
    defining = _defining_schemes(project)
    newest: dict[str | None, QARun] = {}
    for run in session.scalars(select(QARun).where(QARun.project_id == project.id, QARun.batch_id.is_(None))
                               .order_by(QARun.id.desc())):
        newest.setdefault(run.scheme, run)
    if not newest:
        return ()
    chosen: dict[str, GateDecision] = {}
    runs = {run.id: run for run in newest.values()}
    for d in session.scalars(select(GateDecision).where(GateDecision.qa_run_id.in_(list(runs))).order_by(GateDecision.id)):
        if d.field not in names:
            continue
        held = chosen.get(d.field)
        if held is None or (runs[held.qa_run_id].scheme != defining.get(d.field)
                            and runs[d.qa_run_id].scheme == defining.get(d.field)):
            chosen[d.field] = d
    return tuple(
        AgreementRecord(d.field, d.metric, d.value, d.ci_low, d.ci_high, d.n_items, d.n_annotators, d.verdict)
        for d in sorted(chosen.values(), key=lambda d: d.id)
    )


def _model_versions(session: Session, project: Project) -> dict[str, str]:
    """``{stage: "model version"}`` of the project's finished stage runs."""
    out: dict[str, str] = {}
    for stage, model, version in session.execute(
        select(StageRun.stage, StageRun.model, StageRun.model_version)
        .where(StageRun.project_id == project.id, StageRun.status == StageStatus.DONE, StageRun.model.is_not(None))
        .distinct()
    ):
        out[stage] = f"{model} {version}".strip() if version else str(model)
    return dict(sorted(out.items()))
