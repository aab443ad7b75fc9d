"""Typed records a release is built from: one ``ReleaseRow`` per item and one ``ReleaseSpec``.

The rows are gathered by ``backend.services.release.inputs`` from the database; everything in
``exports/`` works on these records only, so a release can be built (and tested) without a
database. Times are seconds, as everywhere a user reads them.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import unquote, urlsplit, urlunsplit

from backend.domain import GateVerdict, Split, ValidationError, ValueKind

SPLITS: tuple[str, ...] = tuple(split.value for split in Split)
"""Split names in the order they are written and reported (the domain's ``Split``)."""

SUPPORTED_KINDS: tuple[ValueKind, ...] = (ValueKind.NOMINAL, ValueKind.ORDINAL)
"""Field kinds a release column can hold (a class index in both cases)."""

HAN_VARIANTS: tuple[str, ...] = ("simplified", "traditional", "mixed")
"""Values of ``ReleaseRow.han_variant`` besides ``None`` (no Han, or Han common to both forms),
as ``backend.language.scripts.han_variant`` returns them."""

_NAME = re.compile(r"^[a-z][a-z0-9_]*$")
_VERSION = re.compile(r"^[0-9A-Za-z][0-9A-Za-z._-]*$")
_WEB_SCHEMES = ("http", "https")


def scoped_speaker_id(source_id: int, speaker_label: str) -> str:
    """The release-wide id of a diarized speaker: ``src<source_id>/<label>``.

    Diarization labels (``SPEAKER_00``) are local to their source, so the same label in two
    sources names two speakers as far as a release knows (linking them is not done).

    >>> scoped_speaker_id(12, "SPEAKER_00")
    'src12/SPEAKER_00'
    """
    return f"src{source_id}/{speaker_label}"


def public_source_url(uri: str) -> str:
    r"""What a release publishes about where a source came from.

    An ``http``/``https`` URL is published as it is, less any ``user:password@``; anything
    else (a local path, a ``file://`` URI, another scheme) only by its file name, so the
    curator's folders never leave their machine.

    >>> public_source_url("https://ana:secret@example.org/watch?v=3")
    'https://example.org/watch?v=3'
    >>> public_source_url("file:///home/ana/corpus/clip%201.mp4")
    'clip 1.mp4'
    >>> public_source_url("/home/ana/corpus/clip.mp4")
    'clip.mp4'
    >>> public_source_url("C:\\Users\\ana\\clip.mp4")
    'clip.mp4'
    """
    parts = urlsplit(uri.strip())
    if parts.scheme.lower() in _WEB_SCHEMES and parts.netloc:
        host = parts.netloc.rpartition("@")[2]
        return urlunsplit((parts.scheme, host, parts.path, parts.query, parts.fragment))
    path = unquote(parts.path) if len(parts.scheme) > 1 else uri.strip()
    return re.split(r"[/\\]", path.rstrip("/\\"))[-1]


@dataclass(frozen=True)
class LabelField:
    """One annotated field of the scheme, e.g. ``sentiment`` with its label names in order.

    Nominal fields become ``ClassLabel`` columns; ordinal fields are stored as the integer
    rank of the label in ``labels`` (so ``labels`` must be listed low → high).
    """

    name: str
    kind: ValueKind
    labels: tuple[str, ...]
    description: str = ""

    def __post_init__(self) -> None:
        if not _NAME.match(self.name):
            raise ValidationError(
                f"field name {self.name!r} is not usable as a column name; use lower-case letters, digits and '_'"
            )
        if self.kind not in SUPPORTED_KINDS:
            raise ValidationError(
                f"field {self.name!r} has kind {self.kind.value!r}; a release can export only "
                f"{', '.join(k.value for k in SUPPORTED_KINDS)} fields — leave it out of the release spec"
            )
        if len(self.labels) < 2 or len(set(self.labels)) != len(self.labels):
            raise ValidationError(f"field {self.name!r} needs at least two distinct labels, got {list(self.labels)!r}")

    def index(self, label: str) -> int:
        """Position of ``label`` in ``labels``; a clear error for a label the scheme does not have."""
        try:
            return self.labels.index(label)
        except ValueError:
            raise ValidationError(
                f"field {self.name!r} has no label {label!r} (labels: {', '.join(self.labels)}); "
                "fix the annotation or add the label to the scheme"
            ) from None


@dataclass(frozen=True)
class AggregatedLabel:
    """The aggregated value of one field for one item, with its confidence and soft distribution.

    (Not to be confused with *gold* items, the gold-check items with a known answer mixed into
    batches.) ``distribution`` maps label → probability (missing labels are 0); ``value`` is
    ``None`` when no aggregated value exists yet (the row is still exported, the column is empty).
    """

    value: str | None
    confidence: float | None = None
    distribution: Mapping[str, float] = field(default_factory=dict)
    agreement: float | None = None
    n_judgements: int = 0


@dataclass(frozen=True)
class AnnotatorJudgement:
    """One annotator's raw label for one field, under their pseudonym."""

    annotator: str
    value: str
    simulated: bool = False


@dataclass(frozen=True)
class ReleaseRow:
    """One exported item: media, text, provenance, aggregated labels and every raw judgement.

    The fields hold what the curator's database holds; the properties ``speaker`` and
    ``source_url`` are what every export format publishes: the speaker scoped to its source
    (``src12/SPEAKER_00``, see ``scoped_speaker_id``) and the source's web URL or bare file
    name (``public_source_url``). Splits keep every source, speaker and dialogue inside one split.

    The text's profile (``backend.language.profile_text``): ``text_normalized``; ``scripts``,
    share per Unicode script name (``{"Tamil": 0.8, "Latin": 0.2}``, shares in [0, 1]; empty
    when the text has no letters or was not profiled); ``dominant_script``; ``han_variant``
    (one of ``HAN_VARIANTS`` or ``None``); ``text_language``, the ISO 639-1 code identified from
    the text (``language`` is the item's own, e.g. its ASR or source language); ``cmi``, the
    Code-Mixing Index in [0, 100] (Das & Gambäck, 2014), ``None`` when not profiled.
    """

    item_id: int
    source_id: int
    source_uri: str
    licence: str
    text: str = ""
    audio_path: Path | None = None
    video_path: Path | None = None
    speaker_label: str | None = None
    language: str | None = None
    dialogue_id: str | None = None
    utterance_index: int = 0
    start_s: float | None = None
    end_s: float | None = None
    source_title: str | None = None
    source_author: str | None = None
    asr_model: str | None = None
    asr_confidence: float | None = None
    labels: Mapping[str, AggregatedLabel] = field(default_factory=dict)
    judgements: Mapping[str, tuple[AnnotatorJudgement, ...]] = field(default_factory=dict)
    simulated: bool = False
    text_normalized: str = ""
    scripts: Mapping[str, float] = field(default_factory=dict)
    dominant_script: str | None = None
    han_variant: str | None = None
    text_language: str | None = None
    cmi: float | None = None

    def __post_init__(self) -> None:
        if self.han_variant is not None and self.han_variant not in HAN_VARIANTS:
            raise ValidationError(
                f"item {self.item_id} has Han variant {self.han_variant!r}; use one of {', '.join(HAN_VARIANTS)} or None"
            )
        if self.cmi is not None and not 0 <= self.cmi <= 100:
            raise ValidationError(f"item {self.item_id} has CMI {self.cmi!r}; the Code-Mixing Index lies in [0, 100]")
        bad = {name: share for name, share in self.scripts.items() if not 0 <= share <= 1}
        if bad:
            raise ValidationError(f"item {self.item_id} has script shares outside [0, 1]: {bad!r}; profile the text again")

    @property
    def speaker(self) -> str | None:
        """The published speaker id, unique in the release (``None`` without a speaker)."""
        return scoped_speaker_id(self.source_id, self.speaker_label) if self.speaker_label is not None else None

    @property
    def source_url(self) -> str:
        """The published origin: the web URL, or only the file name of a local source."""
        return public_source_url(self.source_uri)

    def script_shares(self) -> list[dict[str, object]]:
        """``scripts`` as every export format writes it: ``[{"script", "share"}]``, largest share
        first (ties by name), so the column has one type whatever scripts a release holds.

        >>> ReleaseRow(1, 1, "u", "x", scripts={"Latin": 0.2, "Tamil": 0.8}).script_shares()
        [{'script': 'Tamil', 'share': 0.8}, {'script': 'Latin', 'share': 0.2}]
        """
        return [
            {"script": name, "share": float(share)}
            for name, share in sorted(self.scripts.items(), key=lambda item: (-item[1], item[0]))
        ]

    def descriptive_columns(self) -> dict[str, object]:
        """Text, text profile, position and provenance columns, in the order every export
        format writes them."""
        return {
            "text": self.text,
            "text_normalized": self.text_normalized,
            "speaker": self.speaker,
            "language": self.language,
            "text_language": self.text_language,
            "scripts": self.script_shares(),
            "dominant_script": self.dominant_script,
            "han_variant": self.han_variant,
            "cmi": self.cmi,
            "dialogue_id": self.dialogue_id,
            "utterance_index": self.utterance_index,
            "start_s": self.start_s,
            "end_s": self.end_s,
            "source_id": self.source_id,
            "source_url": self.source_url,
            "source_title": self.source_title,
            "source_author": self.source_author,
            "licence": self.licence,
            "asr_model": self.asr_model,
            "asr_confidence": self.asr_confidence,
            "simulated": self.simulated,
        }

    @property
    def group_keys(self) -> tuple[str, ...]:
        """Keys that must not be shared across splits (source, speaker, dialogue)."""
        keys = [f"source:{self.source_id}"]
        if self.speaker is not None:
            keys.append(f"speaker:{self.speaker}")
        if self.dialogue_id is not None:
            keys.append(f"dialogue:{self.dialogue_id}")
        return tuple(keys)


@dataclass(frozen=True)
class ReleaseSpec:
    """What to build: name, version, licence, fields, seed and size limits.

    ``shard_max_bytes`` bounds each parquet shard (a shard closes once it passes the bound,
    so one row group may overshoot it); ``row_group_rows`` bounds memory while writing.
    """

    project: str
    version: str
    licence: str
    fields: tuple[LabelField, ...]
    languages: tuple[str, ...] = ()
    pretty_name: str | None = None
    config_name: str = "default"
    seed: int = 0
    split_fractions: tuple[float, float, float] = (0.8, 0.1, 0.1)
    sampling_rate: int = 16_000
    shard_max_bytes: int = 256 * 1024 * 1024
    row_group_rows: int = 64

    def __post_init__(self) -> None:
        if not _VERSION.match(self.version):
            raise ValidationError(
                f"release version {self.version!r} is not usable as a tag; use letters, digits, '.', '_' or '-' (e.g. 1.0.0)"
            )
        if not self.fields:
            raise ValidationError("a release needs at least one labelled field in its spec")
        names = [f.name for f in self.fields]
        if len(set(names)) != len(names):
            raise ValidationError(f"field names repeat in the release spec: {names!r}")
        if not _NAME.match(self.config_name):
            raise ValidationError(f"config name {self.config_name!r} must be lower-case letters, digits and '_'")
        if len(self.split_fractions) != 3 or any(f < 0 for f in self.split_fractions) or abs(sum(self.split_fractions) - 1) > 1e-9:
            raise ValidationError(
                f"split fractions {self.split_fractions!r} must be three non-negative numbers summing to 1 (train, validation, test)"
            )
        if self.shard_max_bytes < 1024:
            raise ValidationError(f"shard_max_bytes={self.shard_max_bytes} is too small; use at least 1024 bytes")
        if self.row_group_rows < 1:
            raise ValidationError(f"row_group_rows={self.row_group_rows} must be at least 1")
        if self.sampling_rate <= 0:
            raise ValidationError(f"sampling_rate={self.sampling_rate} must be positive")

    @property
    def display_name(self) -> str:
        """The name the card and manifest show: ``pretty_name``, else ``<project> <version>``."""
        return self.pretty_name or f"{self.project} {self.version}"

    def field(self, name: str) -> LabelField:
        for f in self.fields:
            if f.name == name:
                return f
        raise ValidationError(f"the release spec has no field {name!r} (fields: {', '.join(f.name for f in self.fields)})")


@dataclass(frozen=True)
class AgreementRecord:
    """One line of the card's agreement table, taken from a QA run's gate decision."""

    field: str
    metric: str
    value: float | None
    ci_low: float | None
    ci_high: float | None
    n_items: int
    n_annotators: int
    verdict: GateVerdict | str


@dataclass(frozen=True)
class SourceRecord:
    """A source as the card lists it (provenance, licence and kind, e.g. ``file`` or ``url``);
    ``url`` is what is published."""

    source_id: int
    uri: str
    licence: str
    title: str | None = None
    author: str | None = None
    kind: str | None = None

    @property
    def url(self) -> str:
        return public_source_url(self.uri)


@dataclass(frozen=True)
class SchemeRecord:
    """A labelling scheme as the card describes it: title, the instruction annotators read,
    where the scheme comes from, and the kind of each of its fields (``field_kinds`` in the
    scheme's order; fields of a kind a release cannot hold are named among the limitations)."""

    name: str
    title: str
    instruction: str = ""
    source: str | None = None
    field_kinds: tuple[tuple[str, ValueKind], ...] = ()


@dataclass(frozen=True)
class CardContext:
    """Facts about the release that do not live in the rows: the project, its schemes, QA, people.

    Values only; ``exports.card`` writes the card's prose from them. ``description`` is the
    curators' own text about the project; ``scheme_names`` are the schemes the project names
    (empty: labels were imported without one) and ``schemes`` those of them the registry
    knows, with their instructions.
    """

    description: str = ""
    scheme_names: tuple[str, ...] = ()
    schemes: tuple[SchemeRecord, ...] = ()
    n_annotators: int = 0
    n_simulated_annotators: int = 0
    agreement: tuple[AgreementRecord, ...] = ()
    sources: tuple[SourceRecord, ...] = ()
    model_versions: Mapping[str, str] = field(default_factory=dict)
