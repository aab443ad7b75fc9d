"""QA over the annotation table: import judgements, run and store assessments, write and serve reports.

Used by both ``mmcurate qa ...`` and the API. The statistics live in ``qa/``;
this module only moves rows between the database and those pure functions.
"""

from __future__ import annotations

import hashlib
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import delete, func, insert, select
from sqlalchemy.orm import Session

from backend.db.models import (
    Adjudication,
    AggregatedLabelRow,
    Annotation,
    Annotator,
    GateDecision,
    Item,
    LabelImport,
    Project,
    QARun,
    Task,
    UtteranceRow,
)
from backend.domain import (
    AdjudicationStatus,
    ConflictError,
    NotFoundError,
    Progress,
    ValidationError,
)
from backend.repositories import projects as project_repo
from backend.services.imported_labels import ImportedAnnotation, ImportSummary, store_imported_annotations  # noqa: F401 (re-exported)

if TYPE_CHECKING:
    import pandas as pd

    from qa.assess import QAAssessment
    from qa.fields import FieldSpec
    from qa.gate import GatePolicy

UNREGISTERED_SCHEME = "imported"


# ---------------------------------------------------------------------------------------------
# schemes -> field specs


def field_specs(scheme: str) -> list["FieldSpec"] | None:
    """The QA field specs of a registered scheme, or None when the registry has no such scheme."""
    from annotation_configs.registry import load_registry
    from qa.fields import FieldSpec

    registry = load_registry()
    if scheme not in registry:
        return None
    return [FieldSpec.from_scheme_field(f) for f in registry[scheme].fields]


# ---------------------------------------------------------------------------------------------
# import


def _pick_scheme(project: Project, scheme: str | None) -> str:
    if scheme:
        return scheme
    schemes = list(project.schemes or [])
    if len(schemes) == 1:
        return str(schemes[0])
    if not schemes:
        return UNREGISTERED_SCHEME
    raise ValidationError(
        f"project {project.name!r} has schemes {', '.join(schemes)}; say which one the file answers with --scheme"
    )


def _item_ids(
    raw_items: set[str], project: Project, session: Session, lines: Mapping[str, int], source: str
) -> dict[str, int]:
    """Map the file's item column (item ids) to project items; every unknown one is reported by line."""
    problems, wanted = [], {}
    for raw in sorted(raw_items, key=lambda r: lines[r]):
        if not raw.isdigit():
            problems.append(f"line {lines[raw]}: item {raw!r} is not an item id; use the ids `mmcurate items list` shows")
        else:
            wanted[raw] = int(raw)
    found = set()
    ids = list(wanted.values())
    for start in range(0, len(ids), 900):
        chunk = ids[start : start + 900]
        found.update(
            session.scalars(select(Item.id).where(Item.project_id == project.id, Item.id.in_(chunk)))
        )
    for raw, item_id in wanted.items():
        if item_id not in found:
            problems.append(f"line {lines[raw]}: item {item_id} is not an item of project {project.name!r}")
    if problems:
        from qa.importer import ImportFileError

        raise ImportFileError(source, problems)
    return wanted


def import_judgements(session: Session, project: str | int, path: Path, scheme: str | None = None) -> ImportSummary:
    """Store a CSV/JSON file of per-annotator labels as annotations of a new imported batch.

    Items are project item ids. Annotators are the file's names in their own namespace:
    ``rater1`` becomes the pseudonym ``imported:rater1`` (created, not simulated, when new),
    so imported labels never join a Label Studio annotator's. Values are checked against the
    scheme when it is registered. Any bad line rejects the whole file; nothing is written then.

    A file is known by the SHA-256 of its bytes (recorded in ``label_imports``): the same file
    imported into the same project again raises :class:`ConflictError` and changes nothing,
    so a repeated command never doubles the judgements.
    """
    from qa.importer import read_judgements

    project = project_repo.get(session, project)
    if not path.is_file():
        raise NotFoundError(f"import file {str(path)!r} does not exist")
    data = path.read_bytes()
    digest = hashlib.sha256(data).hexdigest()
    earlier = session.scalar(select(LabelImport).where(LabelImport.project_id == project.id,
                                                       LabelImport.sha256 == digest))
    if earlier is not None:
        raise ConflictError(
            f"{path.name} (sha256 {digest[:12]}…) was already imported into project {project.name!r} "
            f"as batch {earlier.batch_id} ({earlier.n_judgements} judgements from {earlier.file_name!r}, "
            f"{earlier.imported_at:%Y-%m-%d %H:%M} UTC); nothing imported again. To add labels, import a file "
            "with only the new rows"
        )
    scheme_name = _pick_scheme(project, scheme)
    specs = field_specs(scheme_name)
    if specs is None and scheme_name != UNREGISTERED_SCHEME:
        from annotation_configs.registry import load_registry

        known = ", ".join(load_registry())
        raise NotFoundError(f"no labeling scheme named {scheme_name!r}; known schemes: {known}")
    rows = read_judgements(path, {s.name: s for s in specs} if specs else None, data=data)
    first_line: dict[str, int] = {}
    for row in rows:
        first_line.setdefault(row.item, row.line)
    item_ids = _item_ids(set(first_line), project, session, first_line, str(path))

    per_annotation: dict[tuple[int, str], list[Any]] = defaultdict(list)
    for row in rows:
        per_annotation[(item_ids[row.item], row.annotator)].append(row)
    annotations = [
        ImportedAnnotation(item_id, name, {p.field: p.value for p in parts}, tuple(sorted(p.line for p in parts)),
                           max((p.lead_time_s for p in parts if p.lead_time_s is not None), default=None),
                           min((p.created_at for p in parts if p.created_at is not None), default=None))
        for (item_id, name), parts in per_annotation.items()
    ]
    return store_imported_annotations(session, project, scheme_name, annotations, file_name=path.name,
                                      digest=digest, n_judgements=len(rows), file=str(path))



# ---------------------------------------------------------------------------------------------
# loading judgements


def load_judgements(
    session: Session, project: Project, scheme: str, batch_id: int | None = None
) -> "pd.DataFrame":
    """One row per (annotation, field): the long table qa.assess reads, with item context.

    Deleted annotations and adjudications are left out. Gold values come from
    ``items.reference`` of gold items. ``item_text`` is the item's own text, normalised
    where it has been (``items.text_normalized``, else ``items.text``): for a clip, the
    ASR transcript a ``transcript`` correction is scored against. Reads plain columns
    (the imported batch id is extracted in SQL), so half a million judgements load in seconds.
    """
    import pandas as pd

    imported_batch = Annotation.raw_result[0]["import"]["batch_id"].as_integer()
    query = (
        select(
            Annotation.item_id,
            Annotation.values,
            Annotation.lead_time_s,
            Annotation.created_at,
            Annotator.pseudonym,
            Annotator.simulated,
            Item.language,
            Item.source_id,
            Item.is_gold,
            func.coalesce(Task.batch_id, imported_batch),
            UtteranceRow.speaker_label,
            func.coalesce(Item.text_normalized, Item.text),
        )
        .join(Annotator, Annotator.id == Annotation.annotator_id)
        .join(Item, Item.id == Annotation.item_id)
        .outerjoin(Task, Task.id == Annotation.task_id)
        .outerjoin(UtteranceRow, UtteranceRow.item_id == Item.id)
        .where(
            Item.project_id == project.id,
            Annotation.scheme == scheme,
            Annotation.deleted_at.is_(None),
            Annotation.is_adjudication.is_(False),
        )
        .order_by(Annotation.id)
    )
    gold = dict(
        session.execute(select(Item.id, Item.reference).where(Item.project_id == project.id, Item.is_gold.is_(True))).tuples().all()
    )
    records = []
    texts: dict[int, str | None] = {}  # one string per item, however many judgements it has
    for (item_id, values, lead, created, pseudonym, simulated, language, source_id, is_gold, batch,
         speaker, text) in session.connection().execute(query):
        if batch_id is not None and batch != batch_id:
            continue
        text = texts.setdefault(item_id, text)
        reference = (gold.get(item_id) or {}) if is_gold else {}
        for name, value in (values or {}).items():
            if value is None:
                continue
            records.append(
                (item_id, pseudonym, name, value, lead, created, language, str(source_id),
                 f"{source_id}:{speaker}" if speaker else None, bool(is_gold),
                 reference.get(name), bool(simulated), batch, text)
            )
    columns = [
        "item", "annotator", "field", "value", "lead_time_s", "created_at", "language", "source",
        "speaker", "is_gold", "gold_value", "simulated", "batch_id", "item_text",
    ]
    return pd.DataFrame.from_records(records, columns=columns)


# ---------------------------------------------------------------------------------------------
# runs


@dataclass(frozen=True)
class RunOptions:
    """What ``qa run`` computes: which scheme(s), per batch too, bootstrap, tie policy, gate policy."""

    scheme: str | None = None
    batch_id: int | None = None
    per_batch: bool = True
    n_boot: int = 1000
    confidence: float = 0.95
    seed: int = 0
    tie: str = "abstain"
    methods: Mapping[str, str] = field(default_factory=dict)
    policy: "GatePolicy | None" = None


def _schemes_with_annotations(session: Session, project: Project) -> list[str]:
    rows = session.scalars(
        select(Annotation.scheme)
        .join(Item, Item.id == Annotation.item_id)
        .where(Item.project_id == project.id, Annotation.deleted_at.is_(None))
        .distinct()
    )
    return sorted(rows)


def run_qa(
    session: Session, project: str | int, options: RunOptions | None = None, on_progress: Progress | None = None
) -> list[QARun]:
    """Assess the project's annotations per scheme (and per batch) and store each run.

    The project-level run of a scheme also replaces that scheme's aggregated
    labels. Returns the stored runs, project-level first.
    """
    from qa.assess import AssessOptions, assess

    options = options or RunOptions()
    project = project_repo.get(session, project)
    schemes = [options.scheme] if options.scheme else _schemes_with_annotations(session, project)
    if not schemes:
        raise NotFoundError(
            f"project {project.name!r} has no annotations yet; `mmcurate annotate pull` or `mmcurate qa import FILE` first"
        )
    assess_options = AssessOptions(
        n_boot=options.n_boot, confidence=options.confidence, seed=options.seed, tie=options.tie, methods=options.methods
    )
    runs: list[QARun] = []
    for scheme in schemes:
        table = load_judgements(session, project, scheme)
        if table.empty:
            raise NotFoundError(f"project {project.name!r} has no annotations under scheme {scheme!r}")
        specs = field_specs(scheme)
        scopes: list[int | None]
        if options.batch_id is not None:
            if options.batch_id not in set(table["batch_id"].dropna().astype(int)):
                raise NotFoundError(f"batch {options.batch_id} has no {scheme!r} annotations in project {project.name!r}")
            scopes = [options.batch_id]
        else:
            batches = sorted(int(b) for b in table["batch_id"].dropna().unique())
            scopes = [None] + (batches if options.per_batch and len(batches) > 1 else [])
        for scope in scopes:
            part = table if scope is None else table[table["batch_id"] == scope]
            label = f"{scheme}" + (f" batch {scope}" if scope is not None else "")

            def progress(step: str, done: int, total: int, label: str = label) -> None:
                if on_progress:
                    on_progress(f"{label}: {step}", done, total)

            assessment = assess(part.drop(columns=["batch_id"]), specs, options.policy, assess_options, progress)
            runs.append(_store(session, project, scheme, scope, assessment, aggregate=scope is None))
    return runs


def _store(
    session: Session, project: Project, scheme: str, batch_id: int | None, assessment: "QAAssessment", *, aggregate: bool
) -> QARun:
    result = assessment.to_dict()
    labels_by_field = {f["spec"]["name"]: f.pop("aggregated") for f in result["fields"]}
    for f in result["fields"]:
        f["n_aggregated"] = len(labels_by_field[f["spec"]["name"]])
    run = QARun(project_id=project.id, batch_id=batch_id, scheme=scheme, verdict=result["verdict"], results=result)
    session.add(run)
    session.flush()
    for f in assessment.fields:
        if f.decision is not None:
            d = f.decision
            session.add(
                GateDecision(
                    qa_run_id=run.id,
                    field=d.field,
                    metric=d.metric,
                    value=d.value,
                    ci_low=d.ci_low,
                    ci_high=d.ci_high,
                    n_items=d.n_items,
                    n_annotators=d.n_annotators,
                    verdict=d.verdict.value,
                    thresholds={**d.thresholds.to_dict(), "reason": d.reason},
                )
            )
        cases = [
            {"qa_run_id": run.id, "item_id": int(c.item), "field": c.field, "reason": c.reason, "status": AdjudicationStatus.OPEN}
            for c in f.adjudications
        ]
        for start in range(0, len(cases), 5000):
            session.execute(insert(Adjudication), cases[start : start + 5000])
    if aggregate:
        _replace_aggregates(session, project, run, labels_by_field)
    session.flush()
    return run


def _replace_aggregates(
    session: Session, project: Project, run: QARun, labels_by_field: Mapping[str, Sequence[Mapping[str, Any]]]
) -> None:
    """The run's labels replace the project's aggregated labels of the same scheme and fields (bulk, not
    row by row); another scheme's labels of a field with the same name stay."""
    now = datetime.now(timezone.utc)
    scheme = run.scheme or ""
    for name, labels in labels_by_field.items():
        if not labels:
            continue
        session.execute(
            delete(AggregatedLabelRow).where(AggregatedLabelRow.project_id == project.id,
                                             AggregatedLabelRow.scheme == scheme, AggregatedLabelRow.field == name)
        )
        rows = [
            {
                "project_id": project.id,
                "item_id": int(label["item"]),
                "scheme": scheme,
                "field": name,
                "value": label["value"],
                "confidence": label["confidence"],
                "method": label["method"],
                "distribution": label["distribution"] or {},
                "n_judgements": label["n_judgements"],
                "qa_run_id": run.id,
                "updated_at": now,
            }
            for label in labels
        ]
        for start in range(0, len(rows), 5000):
            session.execute(insert(AggregatedLabelRow), rows[start : start + 5000])


def run_as_dict(run: QARun) -> dict[str, Any]:
    """The public summary of a run (CLI --json and API agree)."""
    fields = []
    for f in (run.results or {}).get("fields", []):
        d = f.get("decision") or {}
        fields.append(
            {
                "field": f["spec"]["name"],
                "metric": f["agreement"]["metric"],
                "value": d.get("value"),
                "ci_low": d.get("ci_low"),
                "ci_high": d.get("ci_high"),
                "verdict": d.get("verdict"),
                "adjudications": len(f.get("adjudications", [])),
                "flagged_annotators": [x["annotator"] for x in f.get("flags", [])],
            }
        )
    return {
        "id": run.id,
        "project_id": run.project_id,
        "scheme": run.scheme,
        "batch_id": run.batch_id,
        "verdict": run.verdict,
        "created_at": run.created_at.isoformat() if run.created_at else None,
        "fields": fields,
    }


def list_runs(session: Session, project: str | int) -> list[QARun]:
    project = project_repo.get(session, project)
    return list(session.scalars(select(QARun).where(QARun.project_id == project.id).order_by(QARun.id)))


def latest_runs(session: Session, project: Project, scheme: str | None = None) -> list[QARun]:
    """The newest run per (scheme, batch) of a project, project-level runs first."""
    query = select(QARun).where(QARun.project_id == project.id).order_by(QARun.id.desc())
    if scheme:
        query = query.where(QARun.scheme == scheme)
    newest: dict[tuple[str | None, int | None], QARun] = {}
    for run in session.scalars(query):
        newest.setdefault((run.scheme, run.batch_id), run)
    return sorted(newest.values(), key=lambda r: (r.scheme or "", r.batch_id is not None, r.batch_id or 0))


def _title(project: Project, run: QARun) -> str:
    scope = f"batch {run.batch_id}" if run.batch_id is not None else "whole project"
    return f"QA report — {project.name} · {run.scheme} · {scope} (run {run.id})"


def write_reports(session: Session, project: str | int, out_dir: Path, scheme: str | None = None) -> list[Path]:
    """HTML + JSON for the newest run of every scheme and batch, and an index.html linking them."""
    from html import escape

    from qa.report import write_report

    project = project_repo.get(session, project)
    runs = latest_runs(session, project, scheme)
    if not runs:
        raise NotFoundError(f"project {project.name!r} has no QA run yet; run `mmcurate qa run --project {project.name}`")
    written: list[Path] = []
    links = []
    for run in runs:
        name = f"{run.scheme}-" + (f"batch-{run.batch_id}" if run.batch_id is not None else "project")
        html_path, json_path = write_report(run.results, out_dir, name=name, title=_title(project, run))
        written += [html_path, json_path]
        links.append(
            f'<li><a href="{escape(html_path.name)}">{escape(_title(project, run))}</a> — verdict '
            f"<b>{escape(run.verdict or 'none')}</b> (<a href=\"{escape(json_path.name)}\">JSON</a>)</li>"
        )
    index = out_dir / "index.html"
    index.write_text(
        f"<!doctype html><html lang=en><head><meta charset=utf-8><title>QA reports — {escape(project.name)}</title>"
        f"</head><body><h1>QA reports — {escape(project.name)}</h1><ul>{''.join(links)}</ul></body></html>",
        encoding="utf-8",
    )
    return [index, *written]


def report_html(session: Session, project: str | int, scheme: str | None = None, batch_id: int | None = None) -> str:
    """The newest run's report for a project (project-level unless ``batch_id``), as served by the API."""
    from qa.report import render_html

    project = project_repo.get(session, project)
    query = select(QARun).where(QARun.project_id == project.id)
    query = query.where(QARun.batch_id == batch_id) if batch_id is not None else query.where(QARun.batch_id.is_(None))
    if scheme:
        query = query.where(QARun.scheme == scheme)
    run = session.scalars(query.order_by(QARun.id.desc()).limit(1)).first()
    if run is None:
        what = f" for scheme {scheme!r}" if scheme else ""
        what += f" and batch {batch_id}" if batch_id is not None else ""
        raise NotFoundError(
            f"project {project.name!r} has no QA run{what}; run `mmcurate qa run --project {project.name}` first"
        )
    return render_html(run.results, title=_title(project, run))
