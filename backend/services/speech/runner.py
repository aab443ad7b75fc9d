"""``process_project``: every live source with a media file (a file, a download) through the stages, resumably.

Per source, :func:`walk_source` walks :data:`~backend.services.speech.stages.PIPELINE`: a stage
whose run under the same configuration hash is done (and still stands) is skipped and its
recorded details passed on; any other is started in the ledger, its work computed by the engine,
and its result recorded and finished (committed with its ``done`` row) or failed (its results
rolled back, the reason recorded). One bad file fails its own source with a readable reason and
the batch goes on.

The walk is a generator that yields each stage's work and is sent back its result, so the ledger
logic is written once and two engines drive it: ``engine="local"`` computes each work here, one
source after another (:func:`drive_here`); ``engine="ray"`` keeps several sources' walks open
and computes their work on a Ray cluster (``ray_engine``). Either way only this process writes
the database.
"""

from __future__ import annotations

from collections.abc import Generator
from dataclasses import dataclass, field, replace
from typing import Any, Literal

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from backend.db.models import Item, Project, Source, UtteranceRow
from backend.domain import MmcurateError, Progress, SourceStatus, SpeakerCountHint, ValidationError
from backend.repositories import projects as project_repo
from backend.services.speech.config import PipelineConfig, PipelineModels, config_from_settings
from backend.services.speech.ledger import StageLedger
from backend.services.speech.sources import has_media_file, list_sources
from backend.services.speech.stages import PIPELINE, SourceJob
from backend.settings import Settings
from ingest.engine import RayOptions, StageModels, Work, run_locally

Walk = Generator[Work, Any, None]
"""A source's walk through the stages: yields each stage's work, is sent its result (or thrown its error)."""

ENGINES = ("local", "ray")


@dataclass
class ProcessReport:
    processed: list[int] = field(default_factory=list)
    failed: list[tuple[int, str]] = field(default_factory=list)  # (source id, reason)
    stages_run: int = 0
    stages_skipped: int = 0
    utterances: int = 0  # live utterances of the processed sources


@dataclass(frozen=True)
class RunPlan:
    """One ``process`` run: the project, its pipeline configuration, and the sources to walk, in id order."""

    session: Session
    project: Project
    settings: Settings
    config: PipelineConfig
    sources: list[Source]
    on_progress: Progress | None = None

    def job(self, source: Source) -> SourceJob:
        return SourceJob(self.session, self.project, source, self.settings, self.config,
                         StageLedger(self.session, self.project.id), self.on_progress)


def process_project(session: Session, project: str | int, settings: Settings, config: PipelineConfig | None = None,
                    models: PipelineModels | None = None, on_progress: Progress | None = None,
                    speakers: SpeakerCountHint | None = None, *, engine: Literal["local", "ray"] = "local",
                    ray: RayOptions | None = None) -> ProcessReport:
    """Run prepare → VAD → ASR → diarize → utterances → clips over every live source of the project.

    ``speakers`` is this run's speaker-count hint (``process --num-speakers`` ...): it applies to
    sources without their own hint and takes precedence over the project's settings.
    ``engine="ray"`` computes the stages on a Ray cluster (``ray``: where and how wide; ``models`` is
    not used there, each worker loads its own); the records, and what a re-run skips, are the same.

    Progress: ``on_progress("source N: STAGE", k, 6)`` after the k-th stage of source N ran,
    the clips stage's own count, and ``on_progress("sources", done, total)`` after each source.
    """
    if engine not in ENGINES:
        raise ValidationError(f"engine {engine!r} is not available; use --engine local or --engine ray")
    plan = plan_run(session, project, settings, config, speakers, on_progress)
    if engine == "ray":
        from backend.services.speech.ray_engine import process_on_ray

        return process_on_ray(plan, ray or RayOptions())
    models = models or PipelineModels(plan.config)
    report = ProcessReport()
    for done, source in enumerate(plan.sources, start=1):
        job = plan.job(source)
        try:
            drive_here(walk_source(job, report), models)
        except Exception as exc:  # noqa: BLE001 - one bad file never stops the batch; the reason is kept
            fail_source(session, source, report, exc)
        else:
            report.processed.append(source.id)
        if on_progress:
            on_progress("sources", done, len(plan.sources))
    return report


def plan_run(session: Session, project: str | int, settings: Settings, config: PipelineConfig | None,
             speakers: SpeakerCountHint | None, on_progress: Progress | None) -> RunPlan:
    """The project, its configuration (from the settings unless given, with the run's speaker hint), and
    its live, unskipped sources that have a media file."""
    project = project_repo.get(session, project)
    config = config or config_from_settings(settings, project)
    if speakers is not None and not speakers.empty:
        config = replace(config, speakers=speakers)
    sources = [s for s in list_sources(session, project.id)
               if has_media_file(s) and s.status != SourceStatus.SKIPPED and s.taken_down_at is None]
    return RunPlan(session, project, settings, config, sources, on_progress)


def drive_here(walk: Walk, models: StageModels) -> None:
    """Drive a walk in this process: each work it yields computed here, its result (or error) sent back.
    A source's failure propagates from the walk once it is recorded."""
    try:
        work = next(walk)
        while True:
            try:
                result = run_locally(work, models)
            except Exception as exc:  # noqa: BLE001 - the walk records it on its stage run, then raises it
                work = walk.throw(exc)
            else:
                work = walk.send(result)
    except StopIteration:
        return


def walk_source(job: SourceJob, report: ProcessReport) -> Walk:
    """Every stage of one source, then the source marked done with its live utterances counted.

    Each stage in order: skipped when done under its configuration hash (and still standing), else
    started in the ledger, its work yielded to the engine, and its result recorded and finished —
    or, when computing or recording fails, the failure recorded on the stage run and raised.
    """
    source = job.source
    if source.error and source.status == SourceStatus.REGISTERED:
        raise ValidationError(source.error)
    if source.status != SourceStatus.DONE:
        source.status = SourceStatus.PROCESSING
        job.session.commit()
    for number, stage in enumerate(PIPELINE, start=1):
        chash = job.hashes[stage.name] = stage.config_hash(job)
        subject_id = job.subject_id(stage.subject)
        done = job.ledger.done(stage.name, stage.subject, subject_id, chash)
        if done is not None and stage.still_stands(job, done):
            report.stages_skipped += 1
            job.details[stage.name] = done.details
            continue
        run = job.ledger.start(stage.name, stage.subject, subject_id, chash)
        try:
            work = stage.work(job)
            result = (yield work) if work is not None else None
            outcome = stage.record(job, result)
        except Exception as exc:
            job.ledger.fail(run, failure_reason(exc))
            raise
        job.ledger.finish(run, model=outcome.model, version=outcome.model_version, details=outcome.details)
        job.details[stage.name] = outcome.details
        report.stages_run += 1
        if job.on_progress:
            job.on_progress(f"source {source.id}: {stage.name}", number, len(PIPELINE))
    report.utterances += job.session.scalar(
        select(func.count()).select_from(UtteranceRow).join(Item, Item.id == UtteranceRow.item_id)
        .where(UtteranceRow.asset_id == job.asset.id, Item.superseded_at.is_(None))) or 0
    source.status, source.error = SourceStatus.DONE, None
    job.session.commit()


def failure_reason(exc: Exception) -> str:
    """What a failure records: a user's error's message, or an unexpected error's type and message."""
    return str(exc) if isinstance(exc, MmcurateError) else f"{type(exc).__name__}: {exc}"


def fail_source(session: Session, source: Source, report: ProcessReport, exc: Exception) -> None:
    """Roll back what the failing stage left, mark the source failed with the reason, and report it."""
    reason = failure_reason(exc)
    session.rollback()
    source = session.merge(source)
    source.status, source.error = SourceStatus.FAILED, reason
    session.commit()
    report.failed.append((source.id, reason))
