"""The speech pipeline's stages as plain functions over typed records.

Each stage takes its inputs and an already loaded model, and returns a record that says
which model, version and options produced it, so the caller (in-process service or Ray)
can store it, skip it when done, and re-run only what a changed configuration touches.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field, fields, is_dataclass
from pathlib import Path
from typing import Any, Sequence

from backend.domain import Diarization, MediaInfo, Progress, Span, Transcript, Utterance
from ingest import align, media
from ingest.asr import AsrOptions, SpeechRecognizer
from ingest.diarize import DiarizeOptions, Diarizer
from ingest.vad import SpeechDetector, VadOptions


def config_hash(*parts: Any) -> str:
    """A stable short hash of what decides a stage's output (dataclasses, dicts, strings).

    A dataclass field whose metadata says ``{"hashed": False}`` (``ingest.asr.NOT_HASHED``:
    batch size, device, compute type, CPU threads) is left out, at any depth: it changes how
    fast a stage runs, not what it produces, so changing it re-runs nothing. Every other field
    counts, so the hash of a dataclass without such fields is the hash of its ``asdict``.
    """
    text = json.dumps([hashed_fields(p) for p in parts], sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def hashed_fields(value: Any) -> Any:
    """``value`` as plain data for :func:`config_hash`, without the fields marked not hashed.

    >>> from ingest.asr import ModelSpec
    >>> hashed_fields(ModelSpec(model="base", device="cuda", compute_type="float16"))
    {'backend': 'faster-whisper', 'model': 'base'}
    """
    if is_dataclass(value) and not isinstance(value, type):
        return {f.name: hashed_fields(getattr(value, f.name)) for f in fields(value)
                if f.metadata.get("hashed", True) is not False}
    if isinstance(value, (list, tuple)):
        return [hashed_fields(v) for v in value]
    if isinstance(value, dict):
        return {k: hashed_fields(v) for k, v in value.items()}
    return value


def language_filter_key(languages: Sequence[str], transcript: Transcript) -> list[str] | None:
    """What a project's language list changes in the utterances stage's output, for its hash.

    The utterances stage uses the list only to filter: an utterance whose language (the one
    its words' ASR segments carry most) is not in the list is kept but marked filtered. So
    the output depends on the list only through which of the transcript's languages it
    names: ``None`` when the list is empty (nothing filtered), else the sorted languages both
    in the list and in the transcript. Adding a language nobody speaks in the recording, or
    reordering the list, re-runs nothing (a filtered utterance's reason then still quotes the
    list as it was when the stage ran). ASR never reads the list.

    >>> from backend.domain import AsrSegment
    >>> t = Transcript((AsrSegment(0.0, 1.0, "hi", (), language="en"),), "en", 1.0, "m", {})
    >>> language_filter_key(("ta", "en", "hi"), t), language_filter_key((), t)
    (['en'], None)
    """
    if not languages:
        return None
    spoken = {segment.language for segment in transcript.segments if segment.language}
    return sorted(spoken & set(languages))


@dataclass(frozen=True)
class PreparedMedia:
    source_path: Path
    audio_path: Path
    info: MediaInfo
    content_hash: str


@dataclass(frozen=True)
class SpeechRegions:
    regions: tuple[Span, ...]
    model: str
    model_version: str
    options: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class ClipFiles:
    audio_path: Path
    video_path: Path | None


def prepare(source: Path, media_dir: Path, limits: media.MediaLimits = media.MediaLimits(),
            content_hash: str | None = None) -> PreparedMedia:
    """Probe ``source`` and extract its 16 kHz mono audio to ``media_dir/<hash>.wav``."""
    info = media.probe(source, limits)
    digest = content_hash or media.file_sha256(source)
    audio = media_dir / digest[:2] / f"{digest}.wav"
    if not audio.is_file():
        media.extract_audio(source, audio)
    return PreparedMedia(Path(source), audio, info, digest)


def detect_speech(audio: Any, detector: SpeechDetector, options: VadOptions = VadOptions()) -> SpeechRegions:
    return SpeechRegions(tuple(detector.detect(audio, options)), detector.name, detector.version, asdict(options))


def transcribe(audio: Any, regions: Sequence[Span], recognizer: SpeechRecognizer, options: AsrOptions,
               on_progress: Progress | None = None) -> Transcript:
    return recognizer.transcribe(audio, regions, options, on_progress)


def diarize(audio: Any, regions: Sequence[Span], diarizer: Diarizer, options: DiarizeOptions,
            on_progress: Progress | None = None) -> Diarization:
    return diarizer.diarize(audio, regions, options, on_progress)


def make_utterances(transcript: Transcript, diarization: Diarization, options: align.UtteranceOptions,
                    dialogue_id: str | None = None) -> list[Utterance]:
    return align.build_utterances(transcript.segments, diarization.turns, options, dialogue_id)


def cut_clips(prepared: PreparedMedia, spans: Sequence[Span], clips_dir: Path, audio: Any = None,
              on_progress: Progress | None = None, workers: int = 4) -> list[ClipFiles]:
    """A WAV per span (sliced from the prepared audio) and an MP4 where the source has video.

    WAVs are written from memory; MP4s are cut by ffmpeg processes running ``workers`` at a time.
    """
    from concurrent.futures import ThreadPoolExecutor

    samples = media.load_audio(prepared.audio_path) if audio is None else audio
    wavs = [media.write_wav_clip(samples, span, clips_dir) for span in spans]
    mp4s: list[Path | None] = [None] * len(spans)
    if prepared.info.has_video:
        with ThreadPoolExecutor(max_workers=workers) as pool:
            mp4s = list(pool.map(lambda s: media.cut_clip(prepared.source_path, s, clips_dir, video=True), spans))
    if on_progress:
        on_progress("clips", len(spans), len(spans))
    return [ClipFiles(w, m) for w, m in zip(wavs, mp4s)]
