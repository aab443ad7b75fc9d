"""The speech pipeline over the database: ingest a folder, process sources into utterance clips.

Every stage of every asset leaves a ``stage_runs`` row keyed by (stage, subject, config hash):
a re-run skips what is done under the same configuration, a changed model configuration re-runs
that stage and the stages that consume it, and a crash leaves at most one ``running`` row,
which the next run redoes. Only what changes a stage's output is hashed (see
``ingest.stages.config_hash``): batch size, device and compute type re-run nothing. A stage's
results are committed together with its ``done`` row, so a kill at any point never leaves half
a result behind. One bad file fails its own source with a readable reason and the batch goes on.

Re-running the utterances stage never deletes human work: items with annotations, tasks,
adjudications, aggregated labels or release items are kept and marked superseded (see
:func:`replace_utterances`); only items nobody worked on are replaced.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from backend.db.models import Item, MediaAsset, Project, Source, StageRun
from backend.db.models import Utterance as UtteranceRow
from backend.domain import (AsrSegment, Diarization, MmcurateError, Span, SpeakerTurn, Transcript, Utterance,
                            ValidationError, Word, from_ms, to_ms)
from backend.repositories import projects as project_repo
from backend.repositories import sources as source_repo
from backend.repositories import utterances as utterance_repo
from backend.services.utterance_items import replace_utterances
from backend.settings import Settings
from ingest import align, media, stages
from ingest.asr import AsrOptions, ModelSpec
from ingest.diarize import DiarizeOptions
from ingest.sources.folder import scan_folder
from ingest.vad import VadOptions

Progress = Callable[[str, int, int], None]
STAGES = ("prepare", "vad", "asr", "diarize", "utterances", "clips")


# --------------------------------------------------------------------------- ingest


@dataclass(frozen=True)
class IngestReport:
    added: tuple[int, ...]
    duplicates: tuple[int, ...]
    failed: tuple[tuple[str, str], ...]  # (path, reason) of files that could not be registered


def ingest_folder(session: Session, project_name: str, folder: Path | str,
                  on_progress: Progress | None = None) -> IngestReport:
    """Register every audio/video file under ``folder`` as a source; the same content twice is one source."""
    project = project_repo.get(session, project_name)
    added: list[int] = []
    duplicates: list[int] = []
    failed: list[tuple[str, str]] = []
    found_media = scan_folder(folder, on_progress)
    found_media.sort(key=lambda f: (f.sidecar is None, str(f.path)))  # of identical copies, keep the documented one
    for found in found_media:
        if found.provenance is None:
            failed.append((str(found.path), found.error or "unreadable"))
            continue
        prov = found.provenance
        existing = session.scalar(select(Source).where(Source.project_id == project.id,
                                                       Source.content_hash == prov.content_hash))
        if existing is not None:
            duplicates.append(existing.id)
            continue
        extra = dict(prov.extra)
        if found.sidecar and isinstance(found.sidecar.get("lines"), list):
            extra["reference_lines"] = found.sidecar["lines"]
        source = Source(project_id=project.id, kind="file", uri=prov.uri, title=prov.title, author=prov.author,
                        licence=prov.licence, fetched_at=prov.fetched_at, content_hash=prov.content_hash,
                        size_bytes=found.size_bytes, status="registered", error=found.error, extra=extra)
        session.add(source)
        session.flush()
        added.append(source.id)
    session.commit()
    return IngestReport(tuple(added), tuple(duplicates), tuple(failed))


def source_as_dict(source: Source) -> dict[str, Any]:
    """The public JSON shape of a source (CLI --json and API agree)."""
    return {
        "id": source.id, "kind": source.kind, "uri": source.uri, "title": source.title, "author": source.author,
        "licence": source.licence, "fetched_at": source.fetched_at, "content_hash": source.content_hash,
        "size_bytes": source.size_bytes, "status": source.status, "error": source.error,
        "taken_down_at": source.taken_down_at,
    }


def source_runs(session: Session, source: Source) -> list[dict[str, Any]]:
    """The stage-run records of a source and its prepared asset, oldest first."""
    asset_ids = list(session.scalars(select(MediaAsset.id).where(MediaAsset.source_id == source.id)))
    runs = session.scalars(select(StageRun).where(
        ((StageRun.subject_type == "source") & (StageRun.subject_id == source.id))
        | ((StageRun.subject_type == "asset") & (StageRun.subject_id.in_(asset_ids)))).order_by(StageRun.id))
    return [{"stage": r.stage, "status": r.status, "error": r.error, "model": r.model,
             "model_version": r.model_version, "config_hash": r.config_hash, "started_at": r.started_at,
             "duration_ms": r.duration_ms} for r in runs]


def list_sources(session: Session, project_name: str) -> list[Source]:
    project = project_repo.get(session, project_name)
    rows, _ = source_repo.list_page(session, project_id=project.id, limit=1_000_000)
    return rows


# --------------------------------------------------------------------------- configuration and models


@dataclass(frozen=True)
class PipelineConfig:
    """Everything that decides a stage's output, hashed per stage for the resume ledger, and how
    the stages run (device, compute type, batch size), which the hashes leave out."""

    asr_model: ModelSpec
    asr: AsrOptions = AsrOptions()
    vad: VadOptions = VadOptions()
    diarizer: str = "embedding"
    diarization_model: str | None = None
    diarize: DiarizeOptions = DiarizeOptions()
    utterances: align.UtteranceOptions = align.UtteranceOptions()
    limits: media.MediaLimits = media.MediaLimits()
    use_source_language: bool = True


def config_from_settings(settings: Settings, project: Project, **overrides: Any) -> PipelineConfig:
    """The pipeline configuration from settings and the project's languages (bundled base model by default)."""
    from ingest import whisper_weights

    if settings.asr_backend not in ("faster-whisper", "transformers"):
        raise ValidationError(f"MMCURATE_ASR_BACKEND={settings.asr_backend!r}; use faster-whisper or transformers")
    model = settings.asr_model
    if model is None:
        settings.models_dir.mkdir(parents=True, exist_ok=True)
        ensure = (whisper_weights.ensure_ct2_base if settings.asr_backend == "faster-whisper"
                  else whisper_weights.ensure_hf_base)
        model = str(ensure(settings.models_dir))
    spec = ModelSpec(backend=settings.asr_backend, model=model, device=settings.asr_device,  # type: ignore[arg-type]
                     compute_type=settings.asr_compute_type)
    asr = AsrOptions(beam_size=settings.asr_beam_size, batch_size=1 if settings.asr_device == "cpu" else
                     settings.asr_batch_size)
    if settings.diarization_backend not in ("embedding", "pyannote"):
        raise ValidationError(f"MMCURATE_DIARIZATION_BACKEND={settings.diarization_backend!r}; use embedding or pyannote")
    config = PipelineConfig(
        asr_model=spec, asr=asr, diarizer=settings.diarization_backend,
        diarization_model=settings.diarization_model,
        utterances=align.UtteranceOptions(languages=tuple(project.languages or ())),
        limits=media.MediaLimits(max_duration_s=settings.max_media_seconds),
    )
    from dataclasses import replace

    return replace(config, **overrides) if overrides else config


class PipelineModels:
    """Models loaded once, on first use, so a run with nothing left to do loads none."""

    def __init__(self, config: PipelineConfig) -> None:
        self.config = config
        self._vad: Any = None
        self._asr: Any = None
        self._diarizer: Any = None

    @property
    def vad(self) -> Any:
        if self._vad is None:
            from ingest.vad import SileroVad

            self._vad = SileroVad()
        return self._vad

    @property
    def asr(self) -> Any:
        if self._asr is None:
            from ingest.asr import load_recognizer

            self._asr = load_recognizer(self.config.asr_model)
        return self._asr

    @property
    def diarizer(self) -> Any:
        if self._diarizer is None:
            from ingest.diarize import EmbeddingDiarizer, PyannoteDiarizer

            if self.config.diarizer == "pyannote":
                if not self.config.diarization_model:
                    raise ValidationError("the pyannote diarizer needs MMCURATE_DIARIZATION_MODEL (a local folder)")
                self._diarizer = PyannoteDiarizer(self.config.diarization_model)
            else:
                self._diarizer = EmbeddingDiarizer()
        return self._diarizer


# --------------------------------------------------------------------------- the ledger


@dataclass
class _Ledger:
    session: Session
    project_id: int

    def find(self, stage: str, subject_type: str, subject_id: int, chash: str) -> StageRun | None:
        return self.session.scalar(select(StageRun).where(
            StageRun.stage == stage, StageRun.subject_type == subject_type, StageRun.subject_id == subject_id,
            StageRun.config_hash == chash))

    def done(self, stage: str, subject_type: str, subject_id: int, chash: str) -> StageRun | None:
        run = self.find(stage, subject_type, subject_id, chash)
        return run if run is not None and run.status == "done" else None

    def newest_done(self, stage: str, subject_type: str, subject_id: int) -> StageRun | None:
        """The done run of ``stage`` on the subject that finished last, whatever its configuration."""
        return self.session.scalars(select(StageRun).where(
            StageRun.stage == stage, StageRun.subject_type == subject_type, StageRun.subject_id == subject_id,
            StageRun.status == "done").order_by(StageRun.finished_at.desc(), StageRun.id.desc()).limit(1)).first()

    def start(self, stage: str, subject_type: str, subject_id: int, chash: str) -> StageRun:
        run = self.find(stage, subject_type, subject_id, chash)
        if run is None:
            run = StageRun(project_id=self.project_id, stage=stage, subject_type=subject_type,
                           subject_id=subject_id, config_hash=chash, status="running")
            self.session.add(run)
        run.status, run.error, run.started_at, run.finished_at = "running", None, _now(), None
        self.session.commit()
        return run

    def finish(self, run: StageRun, *, model: str | None, version: str | None, details: dict[str, Any]) -> None:
        run.status, run.model, run.model_version, run.details = "done", model, version, details
        run.finished_at = _now()
        run.duration_ms = int((run.finished_at - _aware(run.started_at)).total_seconds() * 1000)
        self.session.commit()

    def fail(self, run: StageRun, error: str) -> None:
        self.session.rollback()
        run = self.session.merge(run)
        run.status, run.error, run.finished_at = "failed", error, _now()
        run.duration_ms = int((run.finished_at - _aware(run.started_at)).total_seconds() * 1000)
        self.session.commit()


def _now() -> datetime:
    return datetime.now(timezone.utc)


def _aware(value: datetime) -> datetime:
    return value if value.tzinfo else value.replace(tzinfo=timezone.utc)


# --------------------------------------------------------------------------- processing


@dataclass
class ProcessReport:
    processed: list[int] = field(default_factory=list)
    failed: list[tuple[int, str]] = field(default_factory=list)
    stages_run: int = 0
    stages_skipped: int = 0
    utterances: int = 0


def process_project(session: Session, project_name: str, settings: Settings, config: PipelineConfig | None = None,
                    models: PipelineModels | None = None, on_progress: Progress | None = None) -> ProcessReport:
    """Run prepare → VAD → ASR → diarize → utterances → clips over every live source of the project."""
    project = project_repo.get(session, project_name)
    config = config or config_from_settings(settings, project)
    models = models or PipelineModels(config)
    sources = [s for s in list_sources(session, project_name) if s.kind == "file" and s.taken_down_at is None]
    report = ProcessReport()
    for done, source in enumerate(sources, start=1):
        try:
            _process_source(session, project, source, settings, config, models, report, on_progress)
            report.processed.append(source.id)
        except MmcurateError as exc:
            _fail_source(session, source, str(exc))
            report.failed.append((source.id, str(exc)))
        except Exception as exc:  # noqa: BLE001 - one bad file never stops the batch; the reason is kept
            reason = f"{type(exc).__name__}: {exc}"
            _fail_source(session, source, reason)
            report.failed.append((source.id, reason))
        if on_progress:
            on_progress("sources", done, len(sources))
    return report


def _fail_source(session: Session, source: Source, reason: str) -> None:
    session.rollback()
    source = session.merge(source)
    source.status, source.error = "failed", reason
    session.commit()


def _source_path(source: Source) -> Path:
    from urllib.parse import unquote, urlparse

    if source.uri.startswith("file:"):
        return Path(unquote(urlparse(source.uri).path))
    return Path(source.uri)


def _process_source(session: Session, project: Project, source: Source, settings: Settings, config: PipelineConfig,
                    models: PipelineModels, report: ProcessReport, on_progress: Progress | None) -> None:
    ledger = _Ledger(session, project.id)
    if source.error and source.status == "registered":
        raise ValidationError(source.error)
    if source.status != "done":
        source.status = "processing"
        session.commit()

    # prepare -------------------------------------------------------------
    prep_hash = stages.config_hash("prepare", config.limits)
    asset = session.scalar(select(MediaAsset).where(MediaAsset.project_id == project.id,
                                                    MediaAsset.content_hash == source.content_hash))
    if ledger.done("prepare", "source", source.id, prep_hash) and asset and Path(asset.audio_path or "").is_file():
        report.stages_skipped += 1
        info_path = _source_path(source)
        prepared = stages.PreparedMedia(info_path, Path(asset.audio_path or ""), _media_info(asset), asset.content_hash)
    else:
        run = ledger.start("prepare", "source", source.id, prep_hash)
        try:
            prepared = stages.prepare(_source_path(source), settings.media_dir, config.limits, source.content_hash)
        except MmcurateError as exc:
            ledger.fail(run, str(exc))
            raise
        if asset is None:
            asset = MediaAsset(project_id=project.id, source_id=source.id, content_hash=source.content_hash,
                               path=str(prepared.source_path))
            session.add(asset)
        asset.audio_path = str(prepared.audio_path)
        asset.duration_ms = to_ms(prepared.info.duration)
        asset.has_audio, asset.has_video = prepared.info.has_audio, prepared.info.has_video
        asset.probe = asdict(prepared.info)
        session.flush()
        ledger.finish(run, model="ffmpeg", version=_ffmpeg_version(), details={"asset_id": asset.id})
        report.stages_run += 1
    assert asset is not None
    audio: Any = None

    def load() -> Any:
        nonlocal audio
        if audio is None:
            audio = media.load_audio(prepared.audio_path)
        return audio

    def step(stage: str, chash: str, compute: Callable[[], tuple[dict[str, Any], str | None, str | None]],
             after: Callable[[], None] | None = None, not_before: datetime | None = None) -> dict[str, Any]:
        existing = ledger.done(stage, "asset", asset.id, chash)
        if existing is not None and (not_before is None or _aware(existing.finished_at) >= not_before):
            report.stages_skipped += 1
            return existing.details
        run = ledger.start(stage, "asset", asset.id, chash)
        try:
            details, model, version = compute()
            if after:
                after()
        except MmcurateError as exc:
            ledger.fail(run, str(exc))
            raise
        except Exception as exc:
            ledger.fail(run, f"{type(exc).__name__}: {exc}")
            raise
        ledger.finish(run, model=model, version=version, details=details)
        report.stages_run += 1
        if on_progress:
            on_progress(f"source {source.id}: {stage}", STAGES.index(stage) + 1, len(STAGES))
        return details

    # vad -----------------------------------------------------------------
    vad_hash = stages.config_hash("vad", config.vad)

    def run_vad() -> tuple[dict[str, Any], str | None, str | None]:
        found = stages.detect_speech(load(), models.vad, config.vad)
        return {"regions": [[r.start, r.end] for r in found.regions]}, found.model, found.model_version

    regions = [Span(a, b) for a, b in step("vad", vad_hash, run_vad)["regions"]]

    # asr -----------------------------------------------------------------
    asr_options = config.asr
    language_hint = (source.extra or {}).get("language") if config.use_source_language else None
    if language_hint and not asr_options.language:
        from dataclasses import replace

        asr_options = replace(asr_options, language=str(language_hint))
    asr_hash = stages.config_hash("asr", config.asr_model, asr_options, vad_hash)

    def run_asr() -> tuple[dict[str, Any], str | None, str | None]:
        transcript = stages.transcribe(load(), regions, models.asr, asr_options)
        return {"transcript": _transcript_to_json(transcript)}, models.asr.name, models.asr.version

    transcript = _transcript_from_json(step("asr", asr_hash, run_asr)["transcript"])

    # diarize -------------------------------------------------------------
    dia_hash = stages.config_hash("diarize", config.diarizer, config.diarization_model, config.diarize, vad_hash)

    def run_diarize() -> tuple[dict[str, Any], str | None, str | None]:
        result = stages.diarize(load(), regions, models.diarizer, config.diarize)
        return ({"num_speakers": result.num_speakers, "turns": [asdict(t) for t in result.turns]},
                models.diarizer.name, models.diarizer.version)

    dia = step("diarize", dia_hash, run_diarize)
    diarization = Diarization(tuple(SpeakerTurn(**t) for t in dia["turns"]), dia["num_speakers"], config.diarizer)

    # utterances ----------------------------------------------------------
    # They and their clips are written into the items table, so a done run counts only while it
    # is the last one that wrote this asset's items (switching back to an earlier configuration
    # re-makes its utterances from the cached ASR and diarization).
    utt_hash = utterances_hash(config.utterances, transcript, asr_hash, dia_hash)
    made: list[Utterance] = []

    def run_utterances() -> tuple[dict[str, Any], str | None, str | None]:
        made.extend(stages.make_utterances(transcript, diarization, config.utterances, f"source-{source.id}"))
        run = ledger.find("utterances", "asset", asset.id, utt_hash)
        outcome = replace_utterances(session, project, source, asset, made, transcript, run)
        kept = sum(1 for u in made if u.filter_status == "kept")
        return ({"utterances": len(made), "kept": kept, **outcome.as_details()}, "ingest.align", None)

    newest = ledger.newest_done("utterances", "asset", asset.id)
    step("utterances", utt_hash, run_utterances, not_before=_aware(newest.finished_at) if newest else None)
    written = ledger.done("utterances", "asset", asset.id, utt_hash)

    # clips ---------------------------------------------------------------
    clip_hash = stages.config_hash("clips", utt_hash, prepared.info.has_video)

    def run_clips() -> tuple[dict[str, Any], str | None, str | None]:
        rows = session.scalars(select(UtteranceRow).join(Item, Item.id == UtteranceRow.item_id)
                               .where(UtteranceRow.asset_id == asset.id, Item.superseded_at.is_(None))
                               .order_by(UtteranceRow.start_ms)).all()
        spans = [Span(from_ms(row.start_ms), from_ms(row.end_ms)) for row in rows]
        files = stages.cut_clips(prepared, spans, settings.clips_dir, load())
        for row, clip in zip(rows, files):
            row.clip_audio_path = str(clip.audio_path)
            row.clip_video_path = str(clip.video_path) if clip.video_path else None
            row.item.media_path = str(clip.video_path or clip.audio_path)
        if on_progress:
            on_progress(f"source {source.id}: clips", len(rows), len(rows))
        return {"clips": len(rows)}, "ffmpeg", _ffmpeg_version()

    step("clips", clip_hash, run_clips,
         not_before=_aware(written.finished_at) if written is not None and written.finished_at else None)
    report.utterances += session.scalar(
        select(func.count()).select_from(UtteranceRow).join(Item, Item.id == UtteranceRow.item_id)
        .where(UtteranceRow.asset_id == asset.id, Item.superseded_at.is_(None))) or 0
    source.status, source.error = "done", None
    session.commit()


def utterances_hash(options: align.UtteranceOptions, transcript: Transcript, asr_hash: str, dia_hash: str) -> str:
    """The utterances stage's configuration hash: its options, its inputs' hashes, and the project's
    languages only as far as they change which utterances are filtered (``stages.language_filter_key``)."""
    from dataclasses import replace

    return stages.config_hash("utterances", replace(options, languages=()),
                              stages.language_filter_key(options.languages, transcript), asr_hash, dia_hash)


def _media_info(asset: MediaAsset) -> Any:
    from backend.domain import MediaInfo

    return MediaInfo(**asset.probe) if asset.probe else MediaInfo(from_ms(asset.duration_ms or 0), asset.has_audio,
                                                                 asset.has_video)


def _ffmpeg_version() -> str:
    import subprocess

    try:
        out = subprocess.run(["ffmpeg", "-version"], capture_output=True, text=True, timeout=10).stdout
        return out.split("\n", 1)[0].split(" ")[2]
    except (OSError, IndexError, subprocess.SubprocessError):
        return "unknown"


def _transcript_to_json(t: Transcript) -> dict[str, Any]:
    return {"language": t.language, "language_probability": t.language_probability, "model": t.model,
            "options": t.options, "segments": [asdict(s) for s in t.segments]}


def _transcript_from_json(data: dict[str, Any]) -> Transcript:
    segments = tuple(
        AsrSegment(**{**s, "words": tuple(Word(**w) for w in s["words"])}) for s in data["segments"]
    )
    return Transcript(segments, data["language"], data["language_probability"], data["model"], data["options"])


# --------------------------------------------------------------------------- listing


def utterance_as_dict(item: Item, utt: UtteranceRow) -> dict[str, Any]:
    """The public JSON shape of an utterance (CLI --json and API agree); times in seconds.

    ``superseded`` is true for an item a later pipeline run replaced, kept for its judgements.
    """
    return {
        "id": item.id, "source_id": item.source_id, "dialogue_id": item.dialogue_id, "index": item.turn_index,
        "start": from_ms(utt.start_ms), "end": from_ms(utt.end_ms), "speaker": utt.speaker_label,
        "text": item.text, "language": item.language, "language_probability": item.language_probability,
        "asr_confidence": utt.asr_confidence, "diarization_confidence": utt.diarization_confidence,
        "clip_audio_path": utt.clip_audio_path, "clip_video_path": utt.clip_video_path,
        "filter_status": item.filter_status, "filter_reason": item.filter_reason, "reference": item.reference,
        "superseded": item.superseded_at is not None, "superseded_at": item.superseded_at,
    }


def list_utterances(session: Session, project_name: str) -> list[dict[str, Any]]:
    project = project_repo.get(session, project_name)
    rows, _ = utterance_repo.list_page(session, project_id=project.id, limit=10_000_000)
    return [utterance_as_dict(item, utt) for item, utt in rows]


def stage_runs(session: Session, project_name: str) -> list[StageRun]:
    project = project_repo.get(session, project_name)
    return list(session.scalars(select(StageRun).where(StageRun.project_id == project.id).order_by(StageRun.id)))
