"""What the speech pipeline runs with: its configuration (``PipelineConfig``, from the settings
and the project) and its models (``PipelineModels``), each loaded on first use."""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

from backend.db.models import Project
from backend.domain import SpeakerCountHint, ValidationError
from backend.settings import Settings
from ingest import align, media
from ingest.asr import AsrOptions, ModelSpec
from ingest.diarize import DiarizeOptions
from ingest.engine import StageModels
from ingest.vad import VadOptions


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
    # A `process` run's speaker-count hint; with the source's and the project's it decides the
    # diarize stage's options (see backend.services.speech.stages.diarize_options).
    speakers: SpeakerCountHint = SpeakerCountHint()


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
    asr = AsrOptions(beam_size=settings.asr_beam_size, batch_size=settings.asr_batch_size)  # batched on CPU too
    if settings.diarization_backend not in ("embedding", "pyannote"):
        raise ValidationError(f"MMCURATE_DIARIZATION_BACKEND={settings.diarization_backend!r}; use embedding or pyannote")
    config = PipelineConfig(
        asr_model=spec, asr=asr, diarizer=settings.diarization_backend,
        diarization_model=settings.diarization_model,
        utterances=align.UtteranceOptions(languages=tuple(project.languages or ()),
                                          allow_romanized=bool(project.allow_romanized)),
        limits=media.MediaLimits(max_duration_s=settings.max_media_seconds),
    )
    return replace(config, **overrides) if overrides else config


class PipelineModels(StageModels):
    """Models loaded once, on first use, so a run with nothing left to do loads none (``config`` is read
    when a model is first needed)."""

    def __init__(self, config: PipelineConfig) -> None:
        super().__init__(config)
