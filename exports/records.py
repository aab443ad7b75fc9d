"""Typed records a release is built from: one ``ReleaseRow`` per item and one ``ReleaseSpec``.

The rows are gathered by ``backend.services.release.inputs`` from the database; everything in
``exports/`` works on these records only, so a release can be built (and tested) without a
database. Times are seconds, as everywhere a user reads them.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import lru_cache
from pathlib import Path
from urllib.parse import unquote, urlsplit, urlunsplit

from backend.domain import GateVerdict, ItemKind, Split, ValidationError, ValueKind

SPLITS: tuple[str, ...] = tuple(split.value for split in Split)
"""Split names in the order they are written and reported (the domain's ``Split``)."""

SUPPORTED_KINDS: tuple[ValueKind, ...] = tuple(ValueKind)
"""Field kinds a release column can hold: every ``ValueKind`` (see ``LabelField``)."""

LABELLED_KINDS: tuple[ValueKind, ...] = (
    ValueKind.NOMINAL, ValueKind.ORDINAL, ValueKind.MULTI_LABEL, ValueKind.MULTI_LABEL_INTENSITY,
)
"""Kinds whose values are drawn from the field's ``labels``."""

ITEM_KINDS: tuple[str, ...] = tuple(kind.value for kind in ItemKind)
"""Values of ``ReleaseRow.kind`` (the domain's ``ItemKind``)."""

RESERVED_COLUMNS: tuple[str, ...] = (
    "item_id", "kind", "audio", "video", "image", "attachments", "text", "text_normalized", "ocr_text",
    "speaker", "author", "language", "text_language", "scripts", "dominant_script", "han_variant", "cmi",
    "dialogue_id", "utterance_index", "reply_to_item_id", "posted_at", "start_s", "end_s", "external_id",
    "duplicate_group", "source_id", "source_url", "source_title", "source_author", "licence", "asr_model",
    "asr_confidence", "simulated",
)
"""Every column a release has besides its fields', in the order ``exports.hf.release_features``
writes them; a field's columns may not take one of these names."""

LabelValue = str | float | tuple[str, ...] | Mapping[str, int]
"""A field value by kind: a label (nominal, ordinal), a number (interval), labels in the field's
order (multi_label), ``{label: intensity}`` over every label (multi_label_intensity), a text
(free_text)."""

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

    By kind: nominal → ``ClassLabel``; ordinal → the int32 rank of the label in ``labels``
    (listed low → high); interval → a float64 in ``[minimum, maximum]``; multi_label → a list
    of ``ClassLabel``; multi_label_intensity → ``{label: int32}`` over ``labels`` in order, each
    0 (absent) … ``max_intensity``; free_text → a string. Interval and free-text fields have no
    labels. ``column`` is the name of the field's columns (default ``name``; another when the
    name is one of ``RESERVED_COLUMNS``, e.g. a free-text field ``ocr_text``).
    """

    name: str
    kind: ValueKind
    labels: tuple[str, ...] = ()
    description: str = ""
    minimum: float | None = None
    maximum: float | None = None
    max_intensity: int | None = None
    column: str = ""

    def __post_init__(self) -> None:
        object.__setattr__(self, "labels", tuple(self.labels))
        object.__setattr__(self, "column", self.column or self.name)
        where = f"field {self.name!r} ({self.kind.value})"
        for name in (self.name, self.column):
            if not _NAME.match(name):
                raise ValidationError(
                    f"field name {name!r} is not usable as a column name; use lower-case letters, digits and '_'"
                )
        taken = sorted(set(self.columns) & set(RESERVED_COLUMNS))
        if taken:
            raise ValidationError(
                f"{where} would write column {taken[0]!r}, which every release already has; "
                f"give the field another column name (e.g. column={self.name + '_annotated'!r})"
            )
        if self.kind in LABELLED_KINDS:
            least = 1 if self.kind is ValueKind.MULTI_LABEL else 2
            if len(self.labels) < least or len(set(self.labels)) != len(self.labels):
                raise ValidationError(
                    f"field {self.name!r} needs at least {('one', 'two')[least - 1]} distinct labels, got {list(self.labels)!r}"
                )
        elif self.labels:
            raise ValidationError(f"{where} takes no labels, got {list(self.labels)!r}")
        if self.kind is ValueKind.INTERVAL and not (
            self.minimum is not None and self.maximum is not None and self.minimum < self.maximum
        ):
            raise ValidationError(f"{where} needs minimum < maximum, got {self.minimum!r} and {self.maximum!r}")
        if self.kind is ValueKind.MULTI_LABEL_INTENSITY and not (
            isinstance(self.max_intensity, int) and self.max_intensity >= 1
        ):
            raise ValidationError(f"{where} needs max_intensity >= 1, got {self.max_intensity!r}")

    @property
    def columns(self) -> tuple[str, ...]:
        """The field's columns: value, confidence, distribution, agreement, judgements."""
        c = self.column
        return (c, f"{c}_confidence", f"{c}_distribution", f"{c}_agreement", f"{c}_judgements")

    @property
    def scale(self) -> str:
        """The field's labels or scale in words, as the card's field table shows them."""
        if self.kind is ValueKind.ORDINAL:
            return " < ".join(self.labels)
        if self.kind is ValueKind.INTERVAL:
            return f"{self.minimum:g} … {self.maximum:g}"
        if self.kind is ValueKind.MULTI_LABEL_INTENSITY:
            return f"{', '.join(self.labels)}; each 0 … {self.max_intensity}"
        return "text" if self.kind is ValueKind.FREE_TEXT else ", ".join(self.labels)

    def index(self, label: str) -> int:
        """Position of ``label`` in ``labels``; a clear error for a label the scheme does not have."""
        try:
            return self.labels.index(label)
        except ValueError:
            raise ValidationError(
                f"field {self.name!r} has no label {label!r} (labels: {', '.join(self.labels)}); "
                "fix the annotation or add the label to the scheme"
            ) from None

    def normalise(self, value: object) -> LabelValue:
        """``value`` in the one form of its kind (``LabelValue``), or a ``ValidationError`` that
        quotes it: labels checked, label lists put in label order, intensities filled with 0 for
        missing labels, numbers checked against the interval's range.

        >>> LabelField("emotions", ValueKind.MULTI_LABEL, ("anger", "joy")).normalise(["joy", "anger"])
        ('anger', 'joy')
        >>> LabelField("e", ValueKind.MULTI_LABEL_INTENSITY, ("anger", "joy"), max_intensity=3).normalise({"joy": 2})
        {'anger': 0, 'joy': 2}
        """
        where = f"field {self.name!r} ({self.kind.value})"
        kind = self.kind
        if kind in (ValueKind.NOMINAL, ValueKind.ORDINAL):
            if not isinstance(value, str):
                raise ValidationError(f"{value!r} is not a label of {where}; use one of {', '.join(self.labels)}")
            self.index(value)
            return value
        if kind is ValueKind.INTERVAL:
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
                raise ValidationError(f"{value!r} is not a number for {where}")
            if not self.minimum <= value <= self.maximum:  # type: ignore[operator]
                raise ValidationError(f"{value!r} is outside {where}'s range {self.minimum:g}..{self.maximum:g}")
            return float(value)
        if kind is ValueKind.MULTI_LABEL:
            if isinstance(value, (str, Mapping)) or not isinstance(value, (list, tuple, set, frozenset)):
                raise ValidationError(f"{value!r} is not a list of labels for {where}")
            positions = sorted({self.index(label) for label in value})
            return tuple(self.labels[i] for i in positions)
        if kind is ValueKind.MULTI_LABEL_INTENSITY:
            if not isinstance(value, Mapping):
                raise ValidationError(f"{value!r} is not a mapping label -> intensity for {where}")
            for label in value:
                self.index(label)
            out: dict[str, int] = {}
            for label in self.labels:
                level = value.get(label, 0)
                if isinstance(level, bool) or not isinstance(level, int) or not 0 <= level <= self.max_intensity:  # type: ignore[operator]
                    raise ValidationError(f"intensity {level!r} of {label!r} in {where} must be an integer 0..{self.max_intensity}")
                out[label] = level
            return out
        if not isinstance(value, str):
            raise ValidationError(f"{value!r} is not text for {where}")
        return value


def value_text(value: object) -> str:
    """A field value as one CSV cell: a label or text as it is, anything else as compact JSON.

    >>> value_text("joy"), value_text(3.5), value_text(("anger", "joy")), value_text({"anger": 1, "joy": 0})
    ('joy', '3.5', '["anger","joy"]', '{"anger":1,"joy":0}')
    """
    if isinstance(value, str):
        return value
    if isinstance(value, Mapping):
        value = dict(value)
    elif isinstance(value, tuple):
        value = list(value)
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def free_text_medoid(judgements: Sequence[AnnotatorJudgement], language: str | None) -> AnnotatorJudgement | None:
    """The judgement whose text is closest to all others: the least summed error rate, each other
    text as reference and this one as hypothesis (``backend.language.metrics``: WER, or CER for
    languages whose primary rate is CER, e.g. ta, ml, bn, zh); ties → smallest annotator pseudonym.
    An empty reference counts 0 against an empty text and 1 per hypothesis word otherwise.
    ``None`` without judgements.

    >>> js = [AnnotatorJudgement("b", "the cat sat"), AnnotatorJudgement("a", "the cat sat down"),
    ...       AnnotatorJudgement("c", "a dog")]
    >>> free_text_medoid(js, "en").annotator
    'b'
    """
    texts = [j for j in judgements if isinstance(j.value, str)]
    if not texts:
        return None
    return texts[_medoid_position(tuple((j.annotator, j.value) for j in texts), language)]  # type: ignore[misc]


@lru_cache(maxsize=4096)
def _medoid_position(judged: tuple[tuple[str, str], ...], language: str | None) -> int:
    """Position in ``judged`` ((annotator, text) pairs) of ``free_text_medoid``'s choice; cached,
    because the card and every format ask for the same items' values again."""
    from backend.language.metrics import error_rates, primary_rate

    rate = primary_rate(language)

    def distance(reference: str, hypothesis: str) -> float:
        if not reference.split():
            return float(len(hypothesis.split()))
        try:
            rates = error_rates(reference, hypothesis, language)
        except ValidationError:  # nothing left of the reference after normalisation
            return float(len(hypothesis.split()))
        return rates.cer if rate == "cer" else rates.wer

    def cost(k: int) -> tuple[float, str]:
        return (sum(distance(text, judged[k][1]) for i, (_, text) in enumerate(judged) if i != k), judged[k][0])

    return min(range(len(judged)), key=cost)


@dataclass(frozen=True)
class AggregatedLabel:
    """The aggregated value of one field for one item, with its confidence and soft distribution.

    (Not to be confused with *gold* items, the gold-check items with a known answer mixed into
    batches.) ``value`` is a ``LabelValue`` of the field's kind, ``None`` when no aggregated
    value exists yet (the row is still exported; a free-text column then holds the medoid
    judgement, see ``free_text_medoid``). ``distribution`` as QA stores it: label → probability
    (nominal, ordinal), label → share of judgements holding it (multi_label), label → mean
    intensity (multi_label_intensity), ``{"mean", "std"}`` of the judgements (interval); empty
    for free text. Missing labels count 0. ``agreement`` is item-level, in [0, 1].
    """

    value: LabelValue | None
    confidence: float | None = None
    distribution: Mapping[str, float] = field(default_factory=dict)
    agreement: float | None = None
    n_judgements: int = 0


@dataclass(frozen=True)
class AnnotatorJudgement:
    """One annotator's raw value for one field (a ``LabelValue`` of its kind), under their pseudonym."""

    annotator: str
    value: LabelValue
    simulated: bool = False


@dataclass(frozen=True)
class ReleaseRow:
    """One exported item: media, text, provenance, aggregated labels and every raw judgement.

    The fields hold what the curator's database holds; the properties ``speaker`` and
    ``source_url`` are what every export format publishes: the speaker scoped to its source
    (``src12/SPEAKER_00``, see ``scoped_speaker_id``) and the source's web URL or bare file
    name (``public_source_url``). Splits keep every source, speaker, dialogue and near-duplicate
    group inside one split.

    ``kind`` is one of ``ITEM_KINDS``: a ``clip`` has ``audio_path`` (and maybe ``video_path``);
    an ``image`` has ``image_path`` and the ``ocr_text`` read from it (``text`` holds a caption,
    if any); a ``chat_turn`` has its conversation in ``dialogue_id``, its position in
    ``utterance_index``, ``author`` (pseudonymised), ``posted_at`` (timezone-aware, UTC),
    ``reply_to_item_id`` (the turn it answers) and ``attachment_paths`` (its stickers and photos,
    in order); a ``text`` has ``text`` only. ``external_id`` is the item's id in its own corpus;
    ``duplicate_group`` names the near-duplicate group it belongs to.

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
    kind: str = "clip"
    image_path: Path | None = None
    ocr_text: str = ""
    external_id: str | None = None
    reply_to_item_id: int | None = None
    author: str | None = None
    posted_at: datetime | None = None
    attachment_paths: tuple[Path, ...] = ()
    duplicate_group: str | None = None

    def __post_init__(self) -> None:
        if self.kind not in ITEM_KINDS:
            raise ValidationError(f"item {self.item_id} has kind {self.kind!r}; use one of {', '.join(ITEM_KINDS)}")
        if self.posted_at is not None and self.posted_at.utcoffset() is None:
            raise ValidationError(
                f"item {self.item_id} has posted_at {self.posted_at.isoformat()} without a timezone; give it in UTC"
            )
        object.__setattr__(self, "attachment_paths", tuple(self.attachment_paths))
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

    @property
    def posted_at_utc(self) -> datetime | None:
        """``posted_at`` moved to UTC (``None`` when unknown)."""
        return None if self.posted_at is None else self.posted_at.astimezone(UTC)

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
        """Kind, text, text profile, position and provenance columns, in the order every export
        format writes them (``posted_at`` as ISO 8601 in UTC, ``2024-03-01T12:00:05Z``)."""
        posted = self.posted_at_utc
        return {
            "kind": self.kind,
            "text": self.text,
            "text_normalized": self.text_normalized,
            "ocr_text": self.ocr_text,
            "speaker": self.speaker,
            "author": self.author,
            "language": self.language,
            "text_language": self.text_language,
            "scripts": self.script_shares(),
            "dominant_script": self.dominant_script,
            "han_variant": self.han_variant,
            "cmi": self.cmi,
            "dialogue_id": self.dialogue_id,
            "utterance_index": self.utterance_index,
            "reply_to_item_id": self.reply_to_item_id,
            "posted_at": None if posted is None else posted.isoformat().replace("+00:00", "Z"),
            "start_s": self.start_s,
            "end_s": self.end_s,
            "external_id": self.external_id,
            "duplicate_group": self.duplicate_group,
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
        """Keys that must not be shared across splits: the source of a clip (one recording), speaker,
        dialogue (a chat conversation), near-duplicate group. Texts and chat turns are not kept together
        by source: a whole corpus file or chat export is one source, and would make one split."""
        keys = [f"source:{self.source_id}"] if self.kind == "clip" else []
        if self.speaker is not None:
            keys.append(f"speaker:{self.speaker}")
        if self.dialogue_id is not None:
            keys.append(f"dialogue:{self.dialogue_id}")
        if self.duplicate_group is not None:
            keys.append(f"duplicate:{self.duplicate_group}")
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
        columns = [c for f in self.fields for c in f.columns]
        if len(set(columns)) != len(columns):
            twice = sorted({c for c in columns if columns.count(c) > 1})
            raise ValidationError(f"two fields of the release spec would write the same column(s) {twice!r}; rename one")
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
    scheme's order; fields with no column in the release are named among the limitations)."""

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
