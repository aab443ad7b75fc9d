"""`mmcurate ingest folder`, `sources list`, `process`, `utterances list`: the speech pipeline."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from backend.cli.context import MaxSpeakersOpt, MinSpeakersOpt, NumSpeakersOpt, db_session, settings, speaker_hint
from backend.cli.output import emit_json_lines, emit_table, progress_bar
from backend.services import speech

ingest_app = typer.Typer(help="Bring sources in, with provenance.\n\nExample: mmcurate ingest folder samples/ --project demo",
                         no_args_is_help=True)
sources_app = typer.Typer(help="Registered sources.\n\nExample: mmcurate sources list --project demo --json",
                          no_args_is_help=True)
utterances_app = typer.Typer(help="What the speech pipeline produced.\n\nExample: mmcurate utterances list --project demo",
                             no_args_is_help=True)

ProjectOpt = Annotated[str, typer.Option("--project", help="Project name or id.")]
JsonOpt = Annotated[bool, typer.Option("--json", help="One JSON object per line.")]
LanguageFilter = Annotated[str | None, typer.Option("--language", help="Only items in this language (ISO 639-1).")]
ScriptFilter = Annotated[str | None, typer.Option("--script", help="Only texts whose dominant script is this (Tamil, Latin, Han, ...).")]
CmiFilter = Annotated[float | None, typer.Option("--cmi-min", min=0, max=100, help="Only texts with at least this Code-Mixing Index (0-100).")]


@ingest_app.command("folder")
def ingest_folder(
    folder: Annotated[Path, typer.Argument(help="Folder searched recursively for audio and video files.")],
    project: ProjectOpt,
) -> None:
    """Register every audio/video file under FOLDER as a source (same content twice = one source).

    A NAME.json sidecar beside NAME.wav/.mp4 supplies title, author, licence, language and reference lines.

    Example: mmcurate ingest folder var/samples --project demo
    """
    with db_session() as session, progress_bar("ingest") as on_progress:
        report = speech.ingest_folder(session, project, folder, on_progress)
    typer.echo(f"{len(report.added)} new sources, {len(report.duplicates)} already registered, "
               f"{len(report.failed)} refused")
    for path, reason in report.failed:
        typer.echo(f"refused {path}: {reason}", err=True)


@sources_app.command("list")
def sources_list(project: ProjectOpt, as_json: JsonOpt = False) -> None:
    """List a project's sources with provenance, licence decision, status, the reason for a failure or skip,
    and (--json) each stage run.

    Example: mmcurate sources list --project demo --json
    """
    with db_session() as session:
        records = [{**speech.source_as_dict(s), "stages": speech.source_runs(session, s)}
                   for s in speech.list_sources(session, project)]
    if as_json:
        emit_json_lines(records)
    else:
        emit_table(records, ["id", "kind", "title", "licence", "size_bytes", "status", "error"])


def process(
    project: ProjectOpt,
    engine: Annotated[str, typer.Option(help="local (in-process, the default) or ray (a Ray cluster).")] = "local",
    ray_address: Annotated[str | None, typer.Option(
        "--ray-address", help="With --engine ray: the cluster's head (HOST:PORT); default MMCURATE_RAY_ADDRESS, "
        "else a local Ray on this machine.")] = None,
    ray_workers: Annotated[int | None, typer.Option(
        "--ray-workers", min=1, help="With --engine ray: model actors (default: cluster CPUs / "
        "MMCURATE_RAY_CPUS_PER_WORKER).")] = None,
    num_speakers: NumSpeakersOpt = None,
    min_speakers: MinSpeakersOpt = None,
    max_speakers: MaxSpeakersOpt = None,
) -> None:
    """Run prepare → VAD → ASR → diarize → utterances → clips on every source; resumable and idempotent.

    Models come from the settings (MMCURATE_ASR_BACKEND, MMCURATE_ASR_MODEL, MMCURATE_ASR_DEVICE,
    MMCURATE_DIARIZATION_BACKEND, MMCURATE_DIARIZATION_MODEL); by default the bundled Whisper base.

    --num-speakers/--min-speakers/--max-speakers hint the speaker count for sources that give
    none of their own (a sidecar's `num_speakers` ...) and override the project's setting; a
    changed hint re-runs diarization and what follows it, never VAD or ASR.

    --engine ray runs the same stages on a Ray cluster (preparation and clips as tasks, the models
    in actors, GPUs per actor from MMCURATE_RAY_NUM_GPUS); this machine keeps the database, and
    media reach the workers through Ray's object store (no shared disk).

    Example: mmcurate process --project demo

    Example: mmcurate process --project demo --engine ray --ray-address 10.0.0.5:6379
    """
    from backend.domain import ValidationError
    from ingest.engine import RayOptions

    if engine not in speech.ENGINES:
        raise ValidationError(f"engine {engine!r} is not available; use --engine local or --engine ray")
    if engine != "ray" and (ray_address or ray_workers):
        raise ValidationError("--ray-address and --ray-workers go with --engine ray")
    hint = speaker_hint(num_speakers, min_speakers, max_speakers)
    config = settings()
    ray = RayOptions(address=ray_address or config.ray_address, workers=ray_workers,
                     cpus_per_worker=config.ray_cpus_per_worker, gpus_per_worker=config.ray_num_gpus,
                     models_dir=config.ray_models_dir) if engine == "ray" else None
    with db_session() as session, progress_bar("process") as on_progress:
        report = speech.process_project(session, project, config, on_progress=on_progress, speakers=hint,
                                        engine=engine, ray=ray)  # type: ignore[arg-type]
    typer.echo(f"{len(report.processed)} sources processed, {len(report.failed)} failed; "
               f"{report.stages_run} stages run, {report.stages_skipped} skipped; {report.utterances} utterances")
    for source_id, reason in report.failed:
        typer.echo(f"source {source_id} failed: {reason}", err=True)


@utterances_app.command("list")
def utterances_list(
    project: ProjectOpt,
    language: LanguageFilter = None,
    script: ScriptFilter = None,
    cmi_min: CmiFilter = None,
    as_json: JsonOpt = False,
) -> None:
    """List utterances in dialogue order with speaker, text, language, scripts, confidences, clips and filter.

    Example: mmcurate utterances list --project demo --script Devanagari --json
    """
    with db_session() as session:
        records = speech.list_utterances(session, project, language=language, script=script, cmi_min=cmi_min)
    if as_json:
        emit_json_lines(records)
    else:
        emit_table(records, ["id", "source_id", "index", "start", "end", "speaker", "language", "text",
                             "filter_status"])


def register(app: typer.Typer) -> None:
    from backend.cli import corpora, sources

    corpora.register(ingest_app)
    sources.register(ingest_app)
    app.add_typer(ingest_app, name="ingest")
    app.add_typer(sources_app, name="sources")
    app.command("process")(process)
    app.add_typer(utterances_app, name="utterances")
