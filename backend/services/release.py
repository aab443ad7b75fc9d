"""Releases from the database: gather items, clips, judgements, gold labels and QA gate
decisions into ``exports`` records, build the folder, and record what went into it.

Governance lives here: only kept items of sources that are not taken down and whose licence
the project's policy allows are exported; judgements of simulated annotators are refused
unless asked for; every release remembers its items and sources, so a takedown can name the
past releases that contained a source.
"""

from __future__ import annotations

import json
import re
import shutil
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from itertools import combinations
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from backend.db.models import (
    AggregatedLabel as AggregatedLabelRow,
)
from backend.db.models import (
    Annotation,
    Annotator,
    GateDecision,
    Item,
    Project,
    QARun,
    Release,
    ReleaseItem,
    Source,
    StageRun,
    Utterance,
)
from backend.domain import (
    ConflictError,
    NotFoundError,
    ValidationError,
    ValueKind,
    from_ms,
)
from backend.repositories import projects as project_repo
from backend.services.takedown import is_taken_down, taken_down_sources_in
from exports.records import (
    AggregatedLabel,
    AgreementRecord,
    AnnotatorJudgement,
    CardContext,
    LabelField,
    ReleaseRow,
    ReleaseSpec,
    SourceRecord,
)

Progress = Callable[[str, int, int], None]
_VERSION = re.compile(r"^(\d+)\.(\d+)\.(\d+)$")


@dataclass(frozen=True)
class ReleaseOptions:
    """What a user asks of a release (CLI flags and API fields share these names)."""

    project: str
    out_dir: Path | None = None
    version: str | None = None
    allow_simulated: bool = False
    licence: str | None = None
    seed: int = 0
    shard_max_bytes: int = 256 * 1024 * 1024
    fields: tuple[str, ...] = ()


@dataclass(frozen=True)
class ReleaseInputs:
    """Rows and card facts gathered from the database, plus what was left out and why."""

    project: Project
    rows: list[ReleaseRow]
    fields: tuple[LabelField, ...]
    context: CardContext
    excluded: dict[str, int] = field(default_factory=dict)


@dataclass(frozen=True)
class ReleaseSummary:
    """A recorded release: where it is and what it holds."""

    release_id: int
    project: str
    version: str
    path: Path
    items: int
    splits: dict[str, int]
    unbalanced: tuple[str, ...]
    excluded: dict[str, int]
    created: bool

    def to_dict(self) -> dict[str, Any]:
        return {
            "release_id": self.release_id, "project": self.project, "version": self.version, "path": str(self.path),
            "items": self.items, "splits": self.splits, "unbalanced": list(self.unbalanced),
            "excluded": self.excluded, "created": self.created,
        }


def item_agreement(values: Sequence[Any]) -> float | None:
    """Observed pairwise agreement of one item's judgements: the share of annotator pairs that
    gave the same value (``None`` with fewer than two judgements).

    >>> item_agreement(["pos", "pos", "neg"])
    0.3333333333333333
    """
    if len(values) < 2:
        return None
    pairs = list(combinations(values, 2))
    return sum(a == b for a, b in pairs) / len(pairs)


def licence_allowed(licence: str | None, allowed: Iterable[str]) -> bool:
    """Whether a source licence passes the project's policy (an empty policy allows any)."""
    policy = {a.strip().lower() for a in allowed if a and a.strip()}
    if not policy:
        return True
    return licence is not None and licence.strip().lower() in policy


def release_fields(project: Project, session: Session, names: Sequence[str] = ()) -> tuple[LabelField, ...]:
    """The nominal/ordinal fields of the project's schemes (or of the labels seen, for imported ones)."""
    from annotation_configs.registry import load_registry

    registry = load_registry()
    found: dict[str, LabelField] = {}
    registered: set[str] = set()
    for scheme_name in project.schemes or []:
        if scheme_name not in registry:
            continue
        for f in registry[scheme_name].fields:
            registered.add(f.name)
            if f.kind in (ValueKind.NOMINAL, ValueKind.ORDINAL) and f.name not in found:
                found[f.name] = LabelField(f.name, f.kind, f.keys, f.description or f.title)
    observed: dict[str, set[str]] = defaultdict(set)
    for name, value in session.execute(
        select(AggregatedLabelRow.field, AggregatedLabelRow.value).where(AggregatedLabelRow.project_id == project.id)
    ):
        if isinstance(value, str):
            observed[name].add(value)
    for values in session.scalars(
        select(Annotation.values).join(Item, Item.id == Annotation.item_id).where(Item.project_id == project.id)
    ):
        for name, value in (values or {}).items():
            if isinstance(value, str):
                observed[name].add(value)
    for name, labels in sorted(observed.items()):
        if name not in registered and len(labels) >= 2 and re.match(r"^[a-z][a-z0-9_]*$", name):
            found[name] = LabelField(name, ValueKind.NOMINAL, tuple(sorted(labels)), "labels as imported")
    if names:
        missing = [n for n in names if n not in found]
        if missing:
            raise ValidationError(
                f"field(s) {', '.join(missing)} are not nominal/ordinal fields of project {project.name!r}; "
                f"choose from {', '.join(found) or 'none'}"
            )
        return tuple(found[n] for n in names)
    used = set(observed)
    chosen = tuple(f for f in found.values() if f.name in used)
    if not chosen:
        raise ValidationError(
            f"project {project.name!r} has no labelled nominal or ordinal field to release; "
            "annotate items (mmcurate annotate pull / qa import) and run `mmcurate qa run` first"
        )
    return chosen


def gather(session: Session, project_name: str, *, data_dir: Path, field_names: Sequence[str] = ()) -> ReleaseInputs:
    """Read every releasable item of a project into ``ReleaseRow`` records.

    Kept items only, of sources not taken down and with a licence the project allows, that
    have at least one judgement or gold label for a release field. Clip paths stored
    relative are taken relative to ``data_dir``.
    """
    project = project_repo.get(session, project_name)
    fields = release_fields(project, session, field_names)
    names = {f.name for f in fields}
    sources = {s.id: s for s in session.scalars(select(Source).where(Source.project_id == project.id))}
    excluded: dict[str, int] = defaultdict(int)
    items = list(session.scalars(select(Item).where(Item.project_id == project.id).order_by(Item.id)))
    utterances = {
        u.item_id: u
        for u in session.scalars(
            select(Utterance).join(Item, Item.id == Utterance.item_id).where(Item.project_id == project.id)
        )
    }
    gold: dict[int, dict[str, AggregatedLabelRow]] = defaultdict(dict)
    for row in session.scalars(select(AggregatedLabelRow).where(AggregatedLabelRow.project_id == project.id)):
        if row.field in names:
            gold[row.item_id][row.field] = row
    judgements: dict[int, dict[str, list[AnnotatorJudgement]]] = defaultdict(lambda: defaultdict(list))
    annotators_seen: dict[str, bool] = {}
    query = (
        select(Annotation, Annotator)
        .join(Annotator, Annotator.id == Annotation.annotator_id)
        .join(Item, Item.id == Annotation.item_id)
        .where(Item.project_id == project.id, Annotation.deleted_at.is_(None), Annotation.is_adjudication.is_(False))
        .order_by(Annotation.id)
    )
    for annotation, annotator in session.execute(query):
        for name, value in (annotation.values or {}).items():
            if name in names and isinstance(value, str):
                judgements[annotation.item_id][name].append(AnnotatorJudgement(annotator.pseudonym, value, annotator.simulated))
                annotators_seen[annotator.pseudonym] = annotator.simulated

    rows: list[ReleaseRow] = []
    for item in items:
        source = sources[item.source_id]
        if item.filter_status != "kept":
            excluded["filtered"] += 1
            continue
        if is_taken_down(source):
            excluded["taken_down"] += 1
            continue
        if not licence_allowed(source.licence, project.allowed_licences or []):
            excluded["licence_not_allowed"] += 1
            continue
        if not gold.get(item.id) and not judgements.get(item.id):
            excluded["unlabelled"] += 1
            continue
        utt = utterances.get(item.id)
        rows.append(_row(item, utt, source, gold.get(item.id, {}), judgements.get(item.id, {}), data_dir))

    used_sources = sorted({r.source_id for r in rows})
    context = CardContext(
        collection=_collection_text(session, project, [sources[s] for s in used_sources], rows),
        scheme_name=", ".join(project.schemes or []) or "imported labels",
        guidelines=_guidelines(project),
        n_annotators=len({j.annotator for r in rows for js in r.judgements.values() for j in js}),
        n_simulated_annotators=len({j.annotator for r in rows for js in r.judgements.values() for j in js if j.simulated}),
        agreement=_agreement(session, project, names),
        sources=tuple(
            SourceRecord(s, sources[s].uri, sources[s].licence or "unknown", sources[s].title, sources[s].author)
            for s in used_sources
        ),
        limitations=_limitations(project, session, fields),
        model_versions=_model_versions(session, project),
    )
    return ReleaseInputs(project, rows, fields, context, dict(excluded))


def _row(item, utt, source, gold, judged, data_dir: Path) -> ReleaseRow:  # type: ignore[no-untyped-def]
    def resolve(path: str | None) -> Path | None:
        if not path:
            return None
        p = Path(path)
        return p if p.is_absolute() else data_dir / p

    labels = {}
    for name, g in gold.items():
        if isinstance(g.value, str) or g.value is None:
            values = [j.value for j in judged.get(name, [])]
            labels[name] = AggregatedLabel(
                g.value, g.confidence, {str(k): float(v) for k, v in (g.distribution or {}).items()},
                item_agreement(values), g.n_judgements,
            )
    for name, js in judged.items():
        if name not in labels:
            labels[name] = AggregatedLabel(None, None, {}, item_agreement([j.value for j in js]), len(js))
    audio = resolve(utt.clip_audio_path) if utt is not None else None
    return ReleaseRow(
        item_id=item.id,
        source_id=source.id,
        source_uri=source.uri,
        licence=source.licence or "unknown",
        text=item.text or "",
        audio_path=audio,
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
        labels=labels,
        judgements={name: tuple(js) for name, js in judged.items()},
        simulated=any(j.simulated for js in judged.values() for j in js),
    )


def _collection_text(session: Session, project: Project, sources: Sequence[Source], rows: Sequence[ReleaseRow]) -> str:
    kinds: dict[str, int] = defaultdict(int)
    for s in sources:
        kinds[s.kind] += 1
    n_clips = sum(r.audio_path is not None for r in rows)
    parts = [
        f"{len(rows)} items from {len(sources)} sources ("
        + ", ".join(f"{n} {k}" for k, n in sorted(kinds.items()))
        + f") of the mmcurate project `{project.name}`."
    ]
    if project.description:
        parts.append(project.description)
    if n_clips:
        parts.append(
            "Audio was extracted at 16 kHz mono, split into speech regions (VAD), transcribed (ASR) and "
            "diarized; utterances were cut into clips, one per row."
        )
    return " ".join(parts)


def _guidelines(project: Project) -> str:
    from annotation_configs.registry import load_registry

    registry = load_registry()
    parts = []
    for name in project.schemes or []:
        if name in registry:
            scheme = registry[name]
            text = f"**{scheme.title}** (`{name}`): {scheme.instruction('en')}"
            if scheme.source:
                text += f" Source: {scheme.source}."
            parts.append(text)
    return "\n\n".join(parts)


def _agreement(session: Session, project: Project, names: set[str]) -> tuple[AgreementRecord, ...]:
    run = session.scalar(select(QARun).where(QARun.project_id == project.id).order_by(QARun.id.desc()).limit(1))
    if run is None:
        return ()
    decisions = session.scalars(select(GateDecision).where(GateDecision.qa_run_id == run.id).order_by(GateDecision.id))
    return tuple(
        AgreementRecord(d.field, d.metric, d.value, d.ci_low, d.ci_high, d.n_items, d.n_annotators, d.verdict)
        for d in decisions
        if d.field in names
    )


def _limitations(project: Project, session: Session, fields: Sequence[LabelField]) -> tuple[str, ...]:
    from annotation_configs.registry import load_registry

    registry = load_registry()
    left_out = sorted({
        f"{f.name} ({f.kind.value})"
        for s in project.schemes or [] if s in registry
        for f in registry[s].fields
        if f.kind not in (ValueKind.NOMINAL, ValueKind.ORDINAL)
    })
    notes = []
    if left_out:
        notes.append("Fields not exported as columns (kind not yet supported by the release format): " + ", ".join(left_out) + ".")
    return tuple(notes)


def _model_versions(session: Session, project: Project) -> dict[str, str]:
    out: dict[str, str] = {}
    for stage, model, version in session.execute(
        select(StageRun.stage, StageRun.model, StageRun.model_version)
        .where(StageRun.project_id == project.id, StageRun.status == "done", StageRun.model.is_not(None))
        .distinct()
    ):
        out[stage] = f"{model} {version}".strip() if version else str(model)
    return dict(sorted(out.items()))


def next_version(session: Session, project: Project) -> str:
    """``1.0.0`` for a first release, then the latest semantic version with its minor bumped."""
    versions = [v for v in session.scalars(select(Release.version).where(Release.project_id == project.id))]
    parsed = sorted(tuple(int(x) for x in m.groups()) for v in versions if (m := _VERSION.match(v)))
    if not parsed:
        return "1.0.0"
    major, minor, _ = parsed[-1]
    return f"{major}.{minor + 1}.0"


def _dataset_licence(project: Project, requested: str | None) -> str:
    from exports.card import HUB_LICENSES

    if requested:
        return requested
    allowed = [a.strip().lower() for a in project.allowed_licences or [] if a.strip()]
    if len(allowed) == 1 and allowed[0] in HUB_LICENSES:
        return allowed[0]
    return "other"


def build(session: Session, options: ReleaseOptions, *, data_dir: Path, on_progress: Progress | None = None) -> ReleaseSummary:
    """Build a release folder for ``options.project`` and record it with its items.

    Without ``options.version``, the next version is used — unless nothing changed since the
    latest release, which is then rebuilt as it was (so re-running is idempotent). Rebuilding
    a given version is allowed when it yields the same files; a version whose content would
    differ is a ``ConflictError``.
    """
    from exports.build import build_release

    inputs = gather(session, options.project, data_dir=data_dir, field_names=options.fields)
    project = inputs.project
    def spec_for(version: str) -> ReleaseSpec:
        return ReleaseSpec(
            project=project.name,
            version=version,
            licence=_dataset_licence(project, options.licence),
            fields=inputs.fields,
            languages=tuple(project.languages or ()),
            pretty_name=f"{project.name} {version}",
            seed=options.seed,
            shard_max_bytes=options.shard_max_bytes,
        )

    def unchanged(release: Release) -> bool:
        check_dir = data_dir / "releases" / f".check-{project.id}-{release.version}"
        check = build_release(inputs.rows, spec_for(release.version), inputs.context, check_dir, allow_simulated=options.allow_simulated)
        shutil.rmtree(check_dir, ignore_errors=True)
        return release.manifest.get("files") == check.manifest["files"]

    if options.version:
        version = options.version
        existing = session.scalar(select(Release).where(Release.project_id == project.id, Release.version == version))
        if existing is not None and not unchanged(existing):
            raise ConflictError(
                f"release {version} of {project.name!r} already exists with different content "
                f"(built at {existing.path}); give a new --version (next: {next_version(session, project)})"
            )
    else:
        latest = session.scalar(select(Release).where(Release.project_id == project.id).order_by(Release.id.desc()).limit(1))
        if latest is not None and unchanged(latest):
            version, existing = latest.version, latest
        else:
            version, existing = next_version(session, project), None
    out_dir = Path(options.out_dir) if options.out_dir else data_dir / "releases" / project.name / version
    spec = spec_for(version)
    build_result = build_release(
        inputs.rows, spec, inputs.context, out_dir, allow_simulated=options.allow_simulated, on_progress=on_progress
    )
    if existing is not None:
        release, created = existing, False
        release.path = str(build_result.folder)
    else:
        release = Release(project_id=project.id, version=version, path=str(build_result.folder), manifest=build_result.manifest)
        session.add(release)
        session.flush()
        session.add_all(
            ReleaseItem(release_id=release.id, item_id=r.item_id, source_id=r.source_id, split=build_result.assignment.split_of[r.item_id])
            for r in inputs.rows
        )
        session.flush()
        created = True
    return ReleaseSummary(
        release_id=release.id, project=project.name, version=version, path=build_result.folder,
        items=len(inputs.rows), splits={s: w.num_rows for s, w in build_result.written.items()},
        unbalanced=build_result.assignment.unbalanced, excluded=inputs.excluded, created=created,
    )


def export_meld_csv(session: Session, options: ReleaseOptions, *, data_dir: Path) -> dict[str, Path]:
    """MELD-style CSVs and clips of the releasable items into ``options.out_dir``."""
    from exports.build import export_meld

    if options.out_dir is None:
        raise ValidationError("give --out DIR for the MELD-style CSV export")
    inputs = gather(session, options.project, data_dir=data_dir, field_names=options.fields)
    spec = ReleaseSpec(project=inputs.project.name, version=options.version or "0.0.0", licence="other", fields=inputs.fields, seed=options.seed)
    return export_meld(inputs.rows, spec, Path(options.out_dir), allow_simulated=options.allow_simulated)


def export_jsonl(session: Session, options: ReleaseOptions, *, data_dir: Path) -> tuple[Path, int]:
    """All releasable items as JSONL at ``options.out_dir`` (a file path, or a folder → ``items.jsonl``)."""
    from exports.build import export_jsonl as write

    if options.out_dir is None:
        raise ValidationError("give --out FILE.jsonl (or a folder) for the JSONL export")
    inputs = gather(session, options.project, data_dir=data_dir, field_names=options.fields)
    spec = ReleaseSpec(project=inputs.project.name, version=options.version or "0.0.0", licence="other", fields=inputs.fields, seed=options.seed)
    path = Path(options.out_dir)
    if path.suffix != ".jsonl":
        path = path / "items.jsonl"
    return path, write(inputs.rows, spec, path, allow_simulated=options.allow_simulated)


def get_release(session: Session, project_name: str, version: str | None = None) -> Release:
    """A recorded release (the latest when ``version`` is not given)."""
    project = project_repo.get(session, project_name)
    query = select(Release).where(Release.project_id == project.id)
    if version is not None:
        release = session.scalar(query.where(Release.version == version))
    else:
        release = session.scalar(query.order_by(Release.id.desc()).limit(1))
    if release is None:
        known = ", ".join(session.scalars(select(Release.version).where(Release.project_id == project.id))) or "none yet"
        wanted = f"release {version!r}" if version else "release"
        raise NotFoundError(f"project {project.name!r} has no {wanted} (releases: {known}); build one with `mmcurate export hf --project {project.name}`")
    return release


def refuse_taken_down(session: Session, release: Release, project_name: str) -> None:
    """A ``ConflictError`` naming every taken-down source with items in ``release``."""
    sources = taken_down_sources_in(session, release.id)
    if sources:
        named = "; ".join(f"source {s.id} {s.title!r} ({s.uri})" if s.title else f"source {s.id} ({s.uri})" for s in sources)
        raise ConflictError(
            f"release {release.version} of {project_name!r} holds items of taken-down sources: {named}; it will not be "
            f"published — build a new release without them (`mmcurate export hf --project {project_name}`) and publish that"
        )


def list_releases(session: Session, project_name: str) -> list[dict[str, Any]]:
    """Every recorded release of a project, oldest first, with where it was published and the
    ids of taken-down sources it still holds (such a release is not published again)."""
    project = project_repo.get(session, project_name)
    releases = list(session.scalars(select(Release).where(Release.project_id == project.id).order_by(Release.id)))
    return [
        {"id": r.id, "version": r.version, "path": r.path, "items": (r.manifest or {}).get("inputs", {}).get("items"),
         "published_repo": r.published_repo, "published_revision": r.published_revision, "created_at": r.created_at,
         "taken_down_sources": [s.id for s in taken_down_sources_in(session, r.id)]}
        for r in releases
    ]


def publish(session: Session, project_name: str, repo_id: str, *, version: str | None = None, private: bool = True,
            on_progress: Progress | None = None) -> dict[str, Any]:
    """Push a recorded release to a Hub repository and remember where it went.

    Refused before any network call when the release holds items of a source taken down
    since it was built (``refuse_taken_down``).
    """
    from exports.hub import publish_release

    release = get_release(session, project_name, version)
    refuse_taken_down(session, release, project_name)
    if not release.path or not Path(release.path).is_dir():
        raise NotFoundError(
            f"release {release.version} was built at {release.path!r}, which no longer exists; rebuild it with "
            f"`mmcurate export hf --project {project_name} --version {release.version}`"
        )
    manifest_path = Path(release.path) / "manifest.json"
    on_disk = json.loads(manifest_path.read_text(encoding="utf-8")).get("version") if manifest_path.is_file() else None
    if on_disk != release.version:
        raise ConflictError(
            f"{release.path} now holds release {on_disk!r}, not {release.version}; rebuild it with "
            f"`mmcurate export hf --project {project_name} --version {release.version} --out DIR` or publish {on_disk}"
        )
    result = publish_release(Path(release.path), repo_id, private=private, on_progress=on_progress)
    release.published_repo = repo_id
    release.published_revision = result.commit_oid
    session.flush()
    return {"project": project_name, "version": release.version, "repo": repo_id, "tag": result.tag,
            "commit": result.commit_oid, "created": result.created, "url": result.url}
