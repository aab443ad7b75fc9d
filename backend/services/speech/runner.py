"""``process_project``: every live source with a media file (a file, a download) through the stages, resumably.

Per source, :func:`run_stages` walks :data:`~backend.services.speech.stages.PIPELINE`: a stage
whose run under the same configuration hash is done (and still stands) is skipped and its
recorded details passed on; any other is started in the ledger, run, and finished (its results
committed with its ``done`` row) or failed (its results rolled back, the reason recorded). One
bad file fails its own source with a readable reason and the batch goes on.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from backend.db.models import Item, Source, UtteranceRow
from backend.domain import MmcurateError, Progress, SourceStatus, SpeakerCountHint, ValidationError
from backend.repositories import projects as project_repo
from backend.services.speech.config import PipelineConfig, PipelineModels, config_from_settings
from backend.services.speech.ledger import StageLedger
from backend.services.speech.sources import has_media_file, list_sources
from backend.services.speech.stages import PIPELINE, SourceJob, Stage
from backend.settings import Settings


@dataclass
class ProcessReport:
    processed: list[int] = field(default_factory=list)
    failed: list[tuple[int, str]] = field(default_factory=list)  # (source id, reason)
    stages_run: int = 0
    stages_skipped: int = 0
    utterances: int = 0  # live utterances of the processed sources


def process_project(session: Session, project: str | int, settings: Settings, config: PipelineConfig | None = None,
                    models: PipelineModels | None = None, on_progress: Progress | None = None,
                    speakers: SpeakerCountHint | None = None) -> ProcessReport:
    """Run prepare → VAD → ASR → diarize → utterances → clips over every live source of the project.

    ``speakers`` is this run's speaker-count hint (``process --num-speakers`` ...): it applies to
    sources without their own hint and takes precedence over the project's settings.

    Progress: ``on_progress("source N: STAGE", k, 6)`` after the k-th stage of source N ran,
    the clips stage's own count, and ``on_progress("sources", done, total)`` after each source.
    """
    project = project_repo.get(session, project)
    config = config or config_from_settings(settings, project)
    if speakers is not None and not speakers.empty:
        config = replace(config, speakers=speakers)
    models = models or PipelineModels(config)
    sources = [s for s in list_sources(session, project.id)
               if has_media_file(s) and s.status != SourceStatus.SKIPPED and s.taken_down_at is None]
    report = ProcessReport()
    for done, source in enumerate(sources, start=1):
        job = SourceJob(session, project, source, settings, config, models, StageLedger(session, project.id),
                        on_progress)
        try:
            process_source(job, report)
            report.processed.append(source.id)
        except Exception as exc:  # noqa: BLE001 - one bad file never stops the batch; the reason is kept
            reason = failure_reason(exc)
            fail_source(session, source, reason)
            report.failed.append((source.id, reason))
        if on_progress:
            on_progress("sources", done, len(sources))
    return report


def process_source(job: SourceJob, report: ProcessReport) -> None:
    """Every stage of one source, then the source marked done with its live utterances counted."""
    source = job.source
    if source.error and source.status == SourceStatus.REGISTERED:
        raise ValidationError(source.error)
    if source.status != SourceStatus.DONE:
        source.status = SourceStatus.PROCESSING
        job.session.commit()
    run_stages(job, report)
    report.utterances += job.session.scalar(
        select(func.count()).select_from(UtteranceRow).join(Item, Item.id == UtteranceRow.item_id)
        .where(UtteranceRow.asset_id == job.asset.id, Item.superseded_at.is_(None))) or 0
    source.status, source.error = SourceStatus.DONE, None
    job.session.commit()


def run_stages(job: SourceJob, report: ProcessReport) -> None:
    """Each stage in order: skipped when done under its configuration hash, else run and recorded."""
    for number, stage in enumerate(PIPELINE, start=1):
        chash = job.hashes[stage.name] = stage.config_hash(job)
        subject_id = job.subject_id(stage.subject)
        done = job.ledger.done(stage.name, stage.subject, subject_id, chash)
        if done is not None and stage.still_stands(job, done):
            report.stages_skipped += 1
            job.details[stage.name] = done.details
            continue
        job.details[stage.name] = run_stage(job, stage, subject_id, chash)
        report.stages_run += 1
        if job.on_progress:
            job.on_progress(f"source {job.source.id}: {stage.name}", number, len(PIPELINE))


def run_stage(job: SourceJob, stage: Stage, subject_id: int, chash: str) -> dict[str, Any]:
    """Run one stage between its ledger's start and finish; a failure is recorded, then raised."""
    run = job.ledger.start(stage.name, stage.subject, subject_id, chash)
    try:
        outcome = stage.run(job)
    except Exception as exc:
        job.ledger.fail(run, failure_reason(exc))
        raise
    job.ledger.finish(run, model=outcome.model, version=outcome.model_version, details=outcome.details)
    return outcome.details


def failure_reason(exc: Exception) -> str:
    """What a failure records: a user's error's message, or an unexpected error's type and message."""
    return str(exc) if isinstance(exc, MmcurateError) else f"{type(exc).__name__}: {exc}"


def fail_source(session: Session, source: Source, reason: str) -> None:
    """Roll back what the failing stage left, and mark the source failed with ``reason``."""
    session.rollback()
    source = session.merge(source)
    source.status, source.error = SourceStatus.FAILED, reason
    session.commit()
