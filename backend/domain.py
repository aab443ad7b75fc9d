"""Typed records for the mmcurate data flow; no I/O, imports nothing of ours.

Times are seconds (floats) in these records; the database stores integer
milliseconds so that keys and equality are exact (see ``to_ms``/``from_ms``).
"""

from __future__ import annotations

import enum
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, replace
from datetime import datetime
from typing import Any


class MmcurateError(Exception):
    """Base of every error mmcurate reports to a user (CLI exit code 1, HTTP 4xx)."""


class NotFoundError(MmcurateError):
    """A named record does not exist."""


class ConflictError(MmcurateError):
    """The request would duplicate or contradict an existing record."""


class ValidationError(MmcurateError):
    """Input that cannot be accepted, with the reason in the message."""


class MediaError(MmcurateError):
    """Media that cannot be prepared (corrupt, empty, no audio, over a limit)."""


class ServiceUnavailableError(MmcurateError):
    """An outside service (Label Studio, database, Hub) cannot be reached."""


Progress = Callable[[str, int, int], None]
"""A progress callback, ``on_progress(step, done, total)``: the CLI draws a bar from it, the API updates a job."""


def to_ms(seconds: float) -> int:
    """Seconds to the integer milliseconds the database stores."""
    return int(round(seconds * 1000))


def from_ms(milliseconds: int) -> float:
    """Integer milliseconds back to seconds."""
    return milliseconds / 1000.0


class SourceKind(enum.StrEnum):
    """How a source came in (``sources.kind``)."""

    FILE = "file"
    URL = "url"
    YTDLP = "ytdlp"
    CHAT = "chat"
    IMAGE = "image"
    TEXT = "text"


class SourceStatus(enum.StrEnum):
    """Where a source is in the pipeline (``sources.status``); ``TAKEN_DOWN`` keeps it out of releases;
    ``SKIPPED``: left out by the project's licence policy at ingest (recorded, never downloaded or processed)."""

    REGISTERED = "registered"
    PROCESSING = "processing"
    DONE = "done"
    FAILED = "failed"
    TAKEN_DOWN = "taken_down"
    SKIPPED = "skipped"


class ItemKind(enum.StrEnum):
    """What an annotator looks at: a speech clip, an image, a chat turn or a text."""

    CLIP = "clip"
    IMAGE = "image"
    CHAT_TURN = "chat_turn"
    TEXT = "text"


class FilterStatus(enum.StrEnum):
    """Whether an item passed the pipeline's filters (``items.filter_status``); only kept items are annotated."""

    KEPT = "kept"
    FILTERED = "filtered"


class StageStatus(enum.StrEnum):
    """What one stage run did (``stage_runs.status``)."""

    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"
    SKIPPED = "skipped"


class SubjectType(enum.StrEnum):
    """What a stage run worked on (``stage_runs.subject_type``)."""

    SOURCE = "source"
    ASSET = "asset"
    ITEM = "item"


class InstanceRole(enum.StrEnum):
    """Whom a Label Studio instance serves: one annotator, the adjudicators, or everyone (shared mode)."""

    ANNOTATOR = "annotator"
    ADJUDICATION = "adjudication"
    SHARED = "shared"


class InstanceRunStatus(enum.StrEnum):
    """Whether a local Label Studio instance was running when last checked (``labelstudio_instances.status``)."""

    RUNNING = "running"
    STOPPED = "stopped"


class TaskKind(enum.StrEnum):
    """Why an item was shown: to annotate it, or to adjudicate a disagreement (``tasks.kind``)."""

    ANNOTATION = "annotation"
    ADJUDICATION = "adjudication"


class AnnotationOrigin(enum.StrEnum):
    """Where an annotation came from: a Label Studio instance or a labels file (``annotations.origin``)."""

    LABELSTUDIO = "labelstudio"
    IMPORT = "import"


class HistoryAction(enum.StrEnum):
    """What happened to an annotation, one ``annotation_history`` row each."""

    CREATED = "created"
    UPDATED = "updated"
    DELETED = "deleted"
    RESTORED = "restored"


class AdjudicationStatus(enum.StrEnum):
    """An adjudication queue entry: waiting, sent to the adjudication instance, or answered."""

    OPEN = "open"
    SENT = "sent"
    DONE = "done"


class Split(enum.StrEnum):
    """A release split, in the order releases list them."""

    TRAIN = "train"
    VALIDATION = "validation"
    TEST = "test"


class ValueKind(enum.StrEnum):
    """How a scheme field's values are measured; decides the agreement metric."""

    NOMINAL = "nominal"
    ORDINAL = "ordinal"
    INTERVAL = "interval"
    MULTI_LABEL = "multi_label"
    MULTI_LABEL_INTENSITY = "multi_label_intensity"
    FREE_TEXT = "free_text"


DEFAULT_METRICS: dict[ValueKind, str] = {
    ValueKind.NOMINAL: "krippendorff_alpha_nominal",
    ValueKind.ORDINAL: "krippendorff_alpha_ordinal",
    ValueKind.INTERVAL: "krippendorff_alpha_interval",
    ValueKind.MULTI_LABEL: "krippendorff_alpha_masi",
    ValueKind.MULTI_LABEL_INTENSITY: "krippendorff_alpha_ordinal_per_label",
    ValueKind.FREE_TEXT: "mean_pairwise_wer",
}
"""The agreement metric that fits each value kind unless a scheme names another."""


class GateVerdict(enum.StrEnum):
    """A quality gate's decision for a field or a batch (``gate_decisions.verdict``, ``qa_runs.verdict``)."""

    ACCEPT = "accept"
    TENTATIVE = "tentative"
    REJECT = "reject"


@dataclass(frozen=True, order=True)
class Span:
    """A time span in seconds with ``end > start``."""

    start: float
    end: float

    def __post_init__(self) -> None:
        if self.start < 0 or self.end <= self.start:
            raise ValidationError(f"span needs 0 <= start < end, got start={self.start} end={self.end}")

    @property
    def duration(self) -> float:
        return self.end - self.start

    def overlap(self, other: "Span") -> float:
        """Seconds shared with ``other`` (0.0 when disjoint)."""
        return max(0.0, min(self.end, other.end) - max(self.start, other.start))


@dataclass(frozen=True)
class Provenance:
    """Where a source came from; kept with every item derived from it."""

    uri: str
    title: str | None = None
    author: str | None = None
    licence: str | None = None
    fetched_at: datetime | None = None
    content_hash: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class MediaInfo:
    """What ffprobe says about a file."""

    duration: float
    has_audio: bool
    has_video: bool
    audio_codec: str | None = None
    video_codec: str | None = None
    sample_rate: int | None = None
    channels: int | None = None
    width: int | None = None
    height: int | None = None
    format_name: str | None = None
    size_bytes: int = 0


@dataclass(frozen=True)
class Word:
    start: float
    end: float
    text: str
    probability: float = 1.0


@dataclass(frozen=True)
class AsrSegment:
    """One decoded ASR segment with its confidences."""

    start: float
    end: float
    text: str
    words: tuple[Word, ...] = ()
    language: str | None = None
    language_probability: float | None = None
    avg_logprob: float | None = None
    no_speech_prob: float | None = None


@dataclass(frozen=True)
class Transcript:
    """An ASR result, carrying the model and options that produced it."""

    segments: tuple[AsrSegment, ...]
    language: str | None
    language_probability: float | None
    model: str
    options: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        """The whole transcript as JSON-ready data (segments and their words as dicts);
        :meth:`from_json` reads it back, also after a trip through ``json.dumps``/``json.loads``."""
        return {"language": self.language, "language_probability": self.language_probability, "model": self.model,
                "options": dict(self.options), "segments": [asdict(segment) for segment in self.segments]}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> "Transcript":
        """The transcript :meth:`to_json` wrote; a missing key raises ``KeyError``."""
        segments = tuple(AsrSegment(**{**segment, "words": tuple(Word(**word) for word in segment["words"])})
                         for segment in data["segments"])
        return cls(segments, data["language"], data["language_probability"], data["model"], data["options"])


@dataclass(frozen=True)
class SpeakerTurn:
    start: float
    end: float
    speaker: str
    confidence: float | None = None


MAX_SPEAKERS_HINT = 50
SPEAKER_HINT_KEYS = ("num_speakers", "min_speakers", "max_speakers")


@dataclass(frozen=True)
class SpeakerCountHint:
    """What a user knows about how many people speak in a recording (all optional).

    ``num_speakers`` fixes the count; ``min_speakers``/``max_speakers`` bound the estimate.
    Hints come at three levels (a source's sidecar or manifest row, a ``process`` run, the
    project's settings); :meth:`resolve` merges them field by field, the most specific first.
    """

    num_speakers: int | None = None
    min_speakers: int | None = None
    max_speakers: int | None = None

    def __post_init__(self) -> None:
        for name in SPEAKER_HINT_KEYS:
            value = getattr(self, name)
            if value is not None and (isinstance(value, bool) or not isinstance(value, int)
                                      or not 1 <= value <= MAX_SPEAKERS_HINT):
                raise ValidationError(f"{name} must be a whole number from 1 to {MAX_SPEAKERS_HINT}, got {value!r}")
        low, high = self.min_speakers, self.max_speakers
        if low is not None and high is not None and low > high:
            raise ValidationError(f"min_speakers ({low}) is more than max_speakers ({high})")

    @property
    def empty(self) -> bool:
        return all(getattr(self, name) is None for name in SPEAKER_HINT_KEYS)

    def as_dict(self) -> dict[str, int]:
        """The hints that are set, by name."""
        return {name: getattr(self, name) for name in SPEAKER_HINT_KEYS if getattr(self, name) is not None}

    @classmethod
    def from_mapping(cls, data: Any, where: str = "metadata") -> "SpeakerCountHint":
        """The hints in a sidecar, manifest row or settings mapping; absent or empty keys are no hint.

        Whole numbers written as text ("2") are accepted, as a CSV gives them.

        >>> SpeakerCountHint.from_mapping({"num_speakers": "2", "title": "x"})
        SpeakerCountHint(num_speakers=2, min_speakers=None, max_speakers=None)
        """
        if not isinstance(data, dict):
            return cls()
        values: dict[str, int | None] = {}
        for name in SPEAKER_HINT_KEYS:
            raw = data.get(name)
            if raw is None or (isinstance(raw, str) and not raw.strip()):
                values[name] = None
                continue
            if isinstance(raw, str) and raw.strip().isdigit():
                raw = int(raw.strip())
            if isinstance(raw, float) and raw.is_integer():
                raw = int(raw)
            if isinstance(raw, bool) or not isinstance(raw, int):
                raise ValidationError(f"{where}: {name} must be a whole number from 1 to {MAX_SPEAKERS_HINT}, "
                                      f"got {raw!r}")
            values[name] = raw
        try:
            return cls(**values)
        except ValidationError as exc:
            raise ValidationError(f"{where}: {exc}") from exc

    @classmethod
    def resolve(cls, *levels: "SpeakerCountHint | None") -> "SpeakerCountHint":
        """One hint from several, most specific first: each field from the first level that sets it.

        A fixed count ends the search for bounds (they no longer matter); bounds gathered from
        different levels must still agree (min <= max), else the error names the conflict.

        >>> SpeakerCountHint.resolve(SpeakerCountHint(max_speakers=3), SpeakerCountHint(min_speakers=2, max_speakers=8))
        SpeakerCountHint(num_speakers=None, min_speakers=2, max_speakers=3)
        """
        found: dict[str, int | None] = dict.fromkeys(SPEAKER_HINT_KEYS)
        for level in levels:
            if level is None:
                continue
            for name in SPEAKER_HINT_KEYS:
                if found[name] is None:
                    found[name] = getattr(level, name)
        if found["num_speakers"] is not None:
            return cls(num_speakers=found["num_speakers"])
        return cls(**found)


@dataclass(frozen=True)
class Diarization:
    """Who spoke when: speaker turns, the number of speakers, and the model and options that found them."""

    turns: tuple[SpeakerTurn, ...]
    num_speakers: int
    model: str
    options: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        """The speaker count and turns as JSON-ready data (what the diarize stage records).

        The model and options are not included: whoever stores this records them beside it
        (the stage ledger's model column, the configuration hash) and gives them back to
        :meth:`from_json`.
        """
        return {"num_speakers": self.num_speakers, "turns": [asdict(turn) for turn in self.turns]}

    @classmethod
    def from_json(cls, data: dict[str, Any], model: str, options: dict[str, Any] | None = None) -> "Diarization":
        """The diarization :meth:`to_json` wrote, with the ``model`` (and ``options``) recorded beside it."""
        turns = tuple(SpeakerTurn(**turn) for turn in data["turns"])
        return cls(turns, data["num_speakers"], model, dict(options or {}))


@dataclass(frozen=True)
class Utterance:
    """One speaker's stretch of speech, the unit annotators label.

    ``turn_index`` is its position in its dialogue (0, 1, ... in time order), the name the
    database (``items.turn_index``) and ``mmcurate items list`` use for it.
    """

    start: float
    end: float
    speaker: str | None
    text: str
    turn_index: int = 0
    dialogue_id: str | None = None
    language: str | None = None
    language_probability: float | None = None
    asr_confidence: float | None = None
    diarization_confidence: float | None = None
    words: tuple[Word, ...] = ()
    context: tuple[str, ...] = ()
    filter_status: FilterStatus = FilterStatus.KEPT
    filter_reason: str | None = None

    @property
    def duration(self) -> float:
        return self.end - self.start

    def with_filter(self, status: FilterStatus, reason: str | None) -> "Utterance":
        return replace(self, filter_status=status, filter_reason=reason)


@dataclass(frozen=True)
class Judgement:
    """One annotator's normalised value for one field of one item."""

    item_id: int
    annotator: str
    field_name: str
    value: Any
    lead_time_s: float | None = None
    created_at: datetime | None = None
