"""`mmcurate qa ...`: import judgements, run the agreement gate, write reports (thin over backend.services.qa)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from backend.cli.context import db_session
from backend.cli.output import emit_json_lines, emit_table, json_line, progress_bar
from backend.domain import ValidationError

qa_app = typer.Typer(
    help="Agreement as a quality gate: import judgements, run QA, write reports.\n\n"
    "Example: mmcurate qa run --project demo && mmcurate qa report --project demo --out reports/",
    no_args_is_help=True,
)


@qa_app.command("import")
def qa_import(
    file: Annotated[Path, typer.Argument(help="CSV or JSON/JSONL with item, annotator, field, value[, lead_time_s, created_at].")],
    project: Annotated[str, typer.Option("--project", help="Project name or id.")],
    scheme: Annotated[str | None, typer.Option(help="Scheme the labels answer (default: the project's only scheme).")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the summary as one JSON object.")] = False,
) -> None:
    """Import per-annotator labels as a new batch; a malformed line rejects the whole file.

    Example: mmcurate qa import labels.csv --project demo --scheme sentiment3
    """
    from backend.services import qa as qa_service

    with db_session() as session:
        summary = qa_service.import_judgements(session, project, file, scheme)
    if as_json:
        typer.echo(json_line(summary.to_dict()))
    else:
        typer.echo(
            f"imported {summary.n_judgements} judgements ({summary.n_annotations} annotations of {summary.n_items} items "
            f"by {summary.n_annotators} annotators) as batch {summary.batch_id}, scheme {summary.scheme}"
            + (f"; new annotators: {', '.join(summary.new_annotators)}" if summary.new_annotators else "")
        )


def _policy(path: Path | None):  # type: ignore[no-untyped-def]
    if path is None:
        return None
    from qa.gate import GatePolicy

    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ValidationError(f"gate policy file {str(path)!r} does not exist") from None
    except json.JSONDecodeError as exc:
        raise ValidationError(f"gate policy file {str(path)!r} is not valid JSON ({exc.msg}, line {exc.lineno})") from None
    if not isinstance(raw, dict):
        raise ValidationError(f"gate policy file {str(path)!r} must hold an object with 'default' and/or 'fields'")
    return GatePolicy.from_dict(raw)


@qa_app.command("run")
def qa_run(
    project: Annotated[str, typer.Option("--project", help="Project name or id.")],
    scheme: Annotated[str | None, typer.Option(help="Only this scheme (default: every scheme with annotations).")] = None,
    batch: Annotated[int | None, typer.Option(help="Only this batch id.")] = None,
    per_batch: Annotated[bool, typer.Option("--per-batch/--no-per-batch", help="Also assess each batch separately.")] = True,
    n_boot: Annotated[int, typer.Option("--n-boot", help="Bootstrap draws for the confidence intervals (0 = none).")] = 1000,
    seed: Annotated[int, typer.Option(help="Bootstrap seed.")] = 0,
    confidence: Annotated[float, typer.Option(help="Confidence level of the intervals.")] = 0.95,
    tie: Annotated[str, typer.Option(help="Majority-vote ties: abstain (send to adjudication), first or random.")] = "abstain",
    policy: Annotated[Path | None, typer.Option(help='Gate thresholds as JSON: {"default": {"accept": 0.8}, "fields": {...}}.')] = None,
    as_json: Annotated[bool, typer.Option("--json", help="One JSON object per run.")] = False,
) -> None:
    """Compute agreement with CIs, diagnostics, gate verdicts, adjudication list and aggregated labels.

    Example: mmcurate qa run --project demo --n-boot 1000 --json
    """
    from backend.services import qa as qa_service

    options = qa_service.RunOptions(
        scheme=scheme, batch_id=batch, per_batch=per_batch, n_boot=n_boot, seed=seed, confidence=confidence,
        tie=tie, policy=_policy(policy),
    )
    with db_session() as session, progress_bar("qa") as on_progress:
        runs = qa_service.run_qa(session, project, options, on_progress if not as_json else None)
        records = [qa_service.run_as_dict(r) for r in runs]
    if as_json:
        emit_json_lines(records)
        return
    for record in records:
        scope = f"batch {record['batch_id']}" if record["batch_id"] is not None else "project"
        typer.echo(f"run {record['id']} · {record['scheme']} · {scope}: {record['verdict']}")
        emit_table(record["fields"], ["field", "metric", "value", "ci_low", "ci_high", "verdict", "adjudications", "flagged_annotators"])


@qa_app.command("list")
def qa_list(
    project: Annotated[str, typer.Option("--project", help="Project name or id.")],
    as_json: Annotated[bool, typer.Option("--json", help="One JSON object per line.")] = False,
) -> None:
    """List the project's QA runs with their verdicts.

    Example: mmcurate qa list --project demo --json
    """
    from backend.services import qa as qa_service

    with db_session() as session:
        records = [qa_service.run_as_dict(r) for r in qa_service.list_runs(session, project)]
    if as_json:
        emit_json_lines(records)
    else:
        emit_table(records, ["id", "scheme", "batch_id", "verdict", "created_at"])


@qa_app.command("report")
def qa_report(
    project: Annotated[str, typer.Option("--project", help="Project name or id.")],
    out: Annotated[Path, typer.Option("--out", help="Folder for the HTML and JSON reports (created).")],
    scheme: Annotated[str | None, typer.Option(help="Only this scheme.")] = None,
) -> None:
    """Write the newest run of every scheme and batch as self-contained HTML + JSON, with an index.html.

    Example: mmcurate qa report --project demo --out var/reports/demo
    """
    from backend.services import qa as qa_service

    with db_session() as session:
        paths = qa_service.write_reports(session, project, out, scheme)
    for path in paths:
        typer.echo(str(path))


def register(app: typer.Typer) -> None:
    app.add_typer(qa_app, name="qa")
