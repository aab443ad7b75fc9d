"""The six stages of the speech pipeline over one source, as the runners drive them.

prepare works on the source; vad, asr, diarize, utterances and clips on the asset it prepares.
Each stage is two top-level functions of a :class:`SourceJob`: its *work*, what it computes (an
``ingest.engine`` work record of pure inputs, or ``None`` when the driver computes it itself, as
for aligning utterances), and its *record*, which writes what it must to the database from the
computed result (uncommitted: the ledger commits it together with the stage's ``done`` row) and
returns a :class:`StageOutcome`: the details the ledger keeps and the model and version that
produced them. The in-process engine computes the work here; the Ray engine on a cluster; both
record alike on the driver. Later stages read earlier ones only through those recorded details
(``SourceJob.regions``, ``.transcript``, ``.diarization``), so a stage found done and a stage
just run feed the next one alike.

Beside each pair, in :data:`PIPELINE`: its configuration hash, of only what changes its
output (``ingest.stages.config_hash`` leaves out batch size, device and compute type), and
when a done run still stands. The utterances and clips stages write the asset's items, so a
done run of theirs stands only while it is the last that wrote them: switching back to an
earlier configuration re-makes its utterances (from the cached ASR and diarization) and clips.
"""

from __future__ import annotations

import subprocess
from dataclasses import asdict, dataclass, field, replace
from functools import cached_property
from pathlib import Path
from typing import Any, Callable

from sqlalchemy import select
from sqlalchemy.orm import Session

from backend.db.models import Item, MediaAsset, Project, Source, StageRun, UtteranceRow
from backend.domain import (Diarization, FilterStatus, MediaInfo, Progress, Span, SpeakerCountHint, SubjectType,
                            Transcript, from_ms, to_ms)
from backend.services.projects import speaker_hint
from backend.services.speech.config import PipelineConfig
from backend.services.speech.ledger import StageLedger, aware
from backend.services.speech.sources import source_media_path
from backend.services.speech.utterance_items import replace_utterances
from backend.settings import Settings
from ingest import align, media
from ingest.asr import AsrOptions
from ingest.diarize import DiarizeOptions
from ingest.engine import CutClips, DetectSpeech, Diarize, ModelOutput, PrepareMedia, Transcribe, Work
from ingest.stages import ClipFiles, PreparedMedia, config_hash, language_filter_key, make_utterances


@dataclass
class SourceJob:
    """One source on its way through the stages: what every stage reads.

    The fixed inputs come first. The runner records each stage's configuration hash in
    ``hashes`` before the stage runs and its details in ``details`` once it is done (run now,
    or found done in the ledger); the properties decode what later stages read.
    """

    session: Session
    project: Project
    source: Source
    settings: Settings
    config: PipelineConfig
    ledger: StageLedger
    on_progress: Progress | None = None
    hashes: dict[str, str] = field(default_factory=dict)
    details: dict[str, dict[str, Any]] = field(default_factory=dict)

    def find_asset(self) -> MediaAsset | None:
        """The project's asset of this source's content (shared by identical sources), if prepared."""
        return self.session.scalar(select(MediaAsset).where(MediaAsset.project_id == self.project.id,
                                                            MediaAsset.content_hash == self.source.content_hash))

    @property
    def asset(self) -> MediaAsset:
        """The source's prepared asset: what every stage after prepare works on."""
        asset = self.find_asset()
        if asset is None:
            raise RuntimeError(f"source {self.source.id} has no asset; the prepare stage runs first")
        return asset

    def subject_id(self, subject: SubjectType) -> int:
        """The id of the source, or of its asset."""
        return self.source.id if subject == SubjectType.SOURCE else self.asset.id

    @cached_property
    def prepared(self) -> PreparedMedia:
        """The source file, its prepared 16 kHz mono WAV and what ffprobe said, as the asset records them."""
        asset = self.asset
        return PreparedMedia(source_media_path(self.source), Path(asset.audio_path or ""), media_info(asset),
                             asset.content_hash)

    @cached_property
    def audio(self) -> Any:
        """The prepared samples, read on first need (a source whose stages are all done reads none)."""
        return media.load_audio(self.prepared.audio_path)

    @cached_property
    def regions(self) -> tuple[Span, ...]:
        """The vad stage's speech regions."""
        return tuple(Span(start, end) for start, end in self.details["vad"]["regions"])

    @cached_property
    def transcript(self) -> Transcript:
        """The asr stage's transcript."""
        return Transcript.from_json(self.details["asr"]["transcript"])

    @cached_property
    def diarization(self) -> Diarization:
        """The diarize stage's speaker turns."""
        return Diarization.from_json(self.details["diarize"], model=self.config.diarizer)


@dataclass(frozen=True)
class StageOutcome:
    """What a stage that ran reports: the details the ledger keeps, and the model that produced them."""

    details: dict[str, Any]
    model: str | None
    model_version: str | None


# --------------------------------------------------------------------------- the stages: work, then record


def prepare_work(job: SourceJob) -> PrepareMedia:
    """Probe the source and extract its 16 kHz mono audio into the data dir's media folder."""
    return PrepareMedia(source_media_path(job.source), job.settings.media_dir, job.config.limits,
                        job.source.content_hash)


def record_prepared(job: SourceJob, prepared: PreparedMedia) -> StageOutcome:
    """Make (or update) the source's asset from what ffprobe said and where the audio lies."""
    asset = job.find_asset()
    if asset is None:
        asset = MediaAsset(project_id=job.project.id, source_id=job.source.id, content_hash=job.source.content_hash,
                           path=str(prepared.source_path))
        job.session.add(asset)
    asset.audio_path = str(prepared.audio_path)
    asset.duration_ms = to_ms(prepared.info.duration)
    asset.has_audio, asset.has_video = prepared.info.has_audio, prepared.info.has_video
    asset.probe = asdict(prepared.info)
    job.session.flush()
    return StageOutcome({"asset_id": asset.id}, "ffmpeg", ffmpeg_version())


def vad_work(job: SourceJob) -> DetectSpeech:
    return DetectSpeech(job.audio, job.config.vad)


def record_regions(job: SourceJob, found: ModelOutput) -> StageOutcome:
    """Speech regions of the prepared audio (``details["regions"]``: ``[start, end]`` pairs in seconds)."""
    return StageOutcome({"regions": [[r.start, r.end] for r in found.value.regions]}, found.model, found.version)


def asr_work(job: SourceJob) -> Transcribe:
    return Transcribe(job.audio, job.regions, asr_options(job.config, job.source))


def record_transcript(job: SourceJob, found: ModelOutput) -> StageOutcome:
    """Whisper over the speech regions (``details["transcript"]``: ``Transcript.to_json()``)."""
    return StageOutcome({"transcript": found.value.to_json()}, found.model, found.version)


def diarize_work(job: SourceJob) -> Diarize:
    return Diarize(job.audio, job.regions, diarize_options(job.config, job.project, job.source))


def record_speakers(job: SourceJob, found: ModelOutput) -> StageOutcome:
    """Speaker turns within the speech regions (details: ``Diarization.to_json()``)."""
    return StageOutcome(found.value.to_json(), found.model, found.version)


def no_work(job: SourceJob) -> None:
    """Nothing to compute away from the database: the record function does it all."""
    return None


def make_utterance_items(job: SourceJob, _: None) -> StageOutcome:
    """Words and speaker turns aligned into utterances, made the asset's live clip items.

    Items people worked on are kept (see ``utterance_items.replace_utterances``); the details
    count the utterances made, those kept by the filters, and what happened to earlier items.
    """
    made = make_utterances(job.transcript, job.diarization, job.config.utterances, f"source-{job.source.id}")
    asset = job.asset
    this_run = job.ledger.find("utterances", SubjectType.ASSET, asset.id, job.hashes["utterances"])
    outcome = replace_utterances(job.session, job.project, job.source, asset, made, job.transcript, this_run)
    kept = sum(1 for u in made if u.filter_status == FilterStatus.KEPT)
    return StageOutcome({"utterances": len(made), "kept": kept, **outcome.as_details()}, "ingest.align", None)


def clips_work(job: SourceJob) -> CutClips:
    """A WAV (and, for video, an MP4) per live utterance of the asset."""
    spans = tuple(Span(from_ms(row.start_ms), from_ms(row.end_ms)) for row in live_utterance_rows(job.session,
                                                                                                   job.asset.id))
    return CutClips(job.prepared, spans, job.settings.clips_dir, job.audio)


def record_clips(job: SourceJob, files: list[ClipFiles]) -> StageOutcome:
    """Each clip's paths recorded on its utterance row and item."""
    rows = live_utterance_rows(job.session, job.asset.id)
    if len(rows) != len(files):
        raise RuntimeError(f"asset {job.asset.id}: {len(files)} clips cut for {len(rows)} live utterances")
    for row, clip in zip(rows, files):
        row.clip_audio_path = str(clip.audio_path)
        row.clip_video_path = str(clip.video_path) if clip.video_path else None
        row.item.media_path = str(clip.video_path or clip.audio_path)
    if job.on_progress:
        job.on_progress(f"source {job.source.id}: clips", len(rows), len(rows))
    return StageOutcome({"clips": len(rows)}, "ffmpeg", ffmpeg_version())


# --------------------------------------------------------------------------- what decides each stage's output


def prepare_hash(job: SourceJob) -> str:
    return config_hash("prepare", job.config.limits)


def vad_hash(job: SourceJob) -> str:
    return config_hash("vad", job.config.vad)


def asr_hash(job: SourceJob) -> str:
    return config_hash("asr", job.config.asr_model, asr_options(job.config, job.source), job.hashes["vad"])


def diarize_hash(job: SourceJob) -> str:
    config = job.config
    return config_hash("diarize", config.diarizer, config.diarization_model,
                       diarize_options(config, job.project, job.source), job.hashes["vad"])


def utterance_items_hash(job: SourceJob) -> str:
    return utterances_hash(job.config.utterances, job.transcript, job.hashes["asr"], job.hashes["diarize"])


def clips_hash(job: SourceJob) -> str:
    return config_hash("clips", job.hashes["utterances"], job.prepared.info.has_video)


def utterances_hash(options: align.UtteranceOptions, transcript: Transcript, asr_hash: str, dia_hash: str) -> str:
    """The utterances stage's configuration hash: its options, its inputs' hashes, and the project's
    languages only as far as they change which utterances are filtered (``ingest.stages.language_filter_key``)."""
    return config_hash("utterances", replace(options, languages=()),
                       language_filter_key(options.languages, transcript), asr_hash, dia_hash)


def asr_options(config: PipelineConfig, source: Source) -> AsrOptions:
    """The configured ASR options, with the source's sidecar language as the language when none is set."""
    hint = (source.extra or {}).get("language") if config.use_source_language else None
    if hint and not config.asr.language:
        return replace(config.asr, language=str(hint))
    return config.asr


def source_speaker_hint(source: Source) -> SpeakerCountHint:
    """The speaker-count hint a source brought (its sidecar's or manifest row's ``num_speakers`` etc.)."""
    return SpeakerCountHint.from_mapping(source.extra or {}, where=f"source {source.id}")


def diarize_options(config: PipelineConfig, project: Project, source: Source) -> DiarizeOptions:
    """The configured diarization options with the speaker-count hint applied.

    The hint is resolved field by field, most specific first: the source's own, then the
    ``process`` run's, then the project's settings. It is part of the diarize stage's
    configuration hash, so a changed hint re-runs diarization (and the utterances and clips
    made from it) but never VAD or ASR.
    """
    hint = SpeakerCountHint.resolve(source_speaker_hint(source), config.speakers, speaker_hint(project))
    return config.diarize.with_hint(hint) if not hint.empty else config.diarize


# --------------------------------------------------------------------------- when a done run still stands


def always(job: SourceJob, run: StageRun) -> bool:
    return True


def audio_still_on_disk(job: SourceJob, run: StageRun) -> bool:
    """A done prepare stands while its asset and the prepared WAV exist."""
    asset = job.find_asset()
    return asset is not None and Path(asset.audio_path or "").is_file()


def wrote_utterances_last(job: SourceJob, run: StageRun) -> bool:
    """A done utterances run stands while no other configuration's run rewrote the asset's items after it."""
    newest = job.ledger.newest_done("utterances", SubjectType.ASSET, job.asset.id)
    return newest is None or aware(run.finished_at) >= aware(newest.finished_at)


def cut_after_utterances(job: SourceJob, run: StageRun) -> bool:
    """A done clips run stands while it is newer than the utterances it cut."""
    written = job.ledger.done("utterances", SubjectType.ASSET, job.asset.id, job.hashes["utterances"])
    return written is None or written.finished_at is None or aware(run.finished_at) >= aware(written.finished_at)


# --------------------------------------------------------------------------- the pipeline


@dataclass(frozen=True)
class Stage:
    """A pipeline stage as the runners drive it: what it works on, what decides its output, what it
    computes (``work``: an ``ingest.engine`` work record, or ``None``), how its result is recorded,
    and whether a done run of it still stands."""

    name: str
    subject: SubjectType
    config_hash: Callable[[SourceJob], str]
    work: Callable[[SourceJob], Work | None]
    record: Callable[[SourceJob, Any], StageOutcome]
    still_stands: Callable[[SourceJob, StageRun], bool] = always


PIPELINE: tuple[Stage, ...] = (
    Stage("prepare", SubjectType.SOURCE, prepare_hash, prepare_work, record_prepared, audio_still_on_disk),
    Stage("vad", SubjectType.ASSET, vad_hash, vad_work, record_regions),
    Stage("asr", SubjectType.ASSET, asr_hash, asr_work, record_transcript),
    Stage("diarize", SubjectType.ASSET, diarize_hash, diarize_work, record_speakers),
    Stage("utterances", SubjectType.ASSET, utterance_items_hash, no_work, make_utterance_items, wrote_utterances_last),
    Stage("clips", SubjectType.ASSET, clips_hash, clips_work, record_clips, cut_after_utterances),
)
STAGES = tuple(stage.name for stage in PIPELINE)


# --------------------------------------------------------------------------- helpers


def live_utterance_rows(session: Session, asset_id: int) -> list[UtteranceRow]:
    """The asset's utterance rows whose items no later run superseded, in time order."""
    return list(session.scalars(select(UtteranceRow).join(Item, Item.id == UtteranceRow.item_id)
                                .where(UtteranceRow.asset_id == asset_id, Item.superseded_at.is_(None))
                                .order_by(UtteranceRow.start_ms)).all())


def media_info(asset: MediaAsset) -> MediaInfo:
    """What ffprobe said about the asset's file, as the prepare stage recorded it."""
    if asset.probe:
        return MediaInfo(**asset.probe)
    return MediaInfo(from_ms(asset.duration_ms or 0), asset.has_audio, asset.has_video)


def ffmpeg_version() -> str:
    """The installed ffmpeg's version, or ``"unknown"``."""
    try:
        out = subprocess.run(["ffmpeg", "-version"], capture_output=True, text=True, timeout=10).stdout
        return out.split("\n", 1)[0].split(" ")[2]
    except (OSError, IndexError, subprocess.SubprocessError):
        return "unknown"
