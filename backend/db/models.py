"""SQLAlchemy 2 models for the whole flow in ARCHITECTURE.md.

Times inside media are integer milliseconds (``*_ms``) so keys and equality are exact;
wall-clock times are timezone-aware UTC. Allowed string values are the domain's enums
(``backend.domain``, the one vocabulary): each CHECK constraint is generated from its enum, and the
columns stay plain strings rather than native enums, so SQLite and PostgreSQL migrate the same way.
A row compares equal to the enum member (``source.status == SourceStatus.DONE``).

Naming: a row class is named for what it stores (``Source``, ``Item``, ``QARun``). Where the
kernel or a stage package already has a record of that name, the row class takes the suffix
``Row`` (``UtteranceRow`` beside ``backend.domain.Utterance``, ``AggregatedLabelRow`` beside
``exports.records.AggregatedLabel``, ``LabelStudioInstanceRow`` beside
``annotation_configs.labelstudio.instances.LabelStudioInstance``), so no import needs an alias.
"""

from __future__ import annotations

import enum
from datetime import datetime, timezone
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    CheckConstraint,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

from backend.domain import (
    AdjudicationStatus,
    AnnotationOrigin,
    FilterStatus,
    GateVerdict,
    HistoryAction,
    InstanceRole,
    InstanceRunStatus,
    ItemKind,
    SourceKind,
    SourceStatus,
    Split,
    StageStatus,
    SubjectType,
    TaskKind,
)

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


def _one_of(column: str, vocabulary: type[enum.StrEnum]) -> str:
    """The CHECK text that keeps ``column`` inside one of the domain's vocabularies."""
    quoted = ", ".join(f"'{member.value}'" for member in vocabulary)
    return f"{column} IN ({quoted})"


TZDateTime = DateTime(timezone=True)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map = {dict[str, Any]: JSON, list[Any]: JSON, datetime: TZDateTime}


class Project(Base):
    """A corpus under curation: its languages, label schemes and licence policy."""

    __tablename__ = "projects"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    description: Mapped[str | None] = mapped_column(Text)
    languages: Mapped[list[Any]] = mapped_column(JSON, default=list)
    schemes: Mapped[list[Any]] = mapped_column(JSON, default=list)
    allowed_licences: Mapped[list[Any]] = mapped_column(JSON, default=list)
    # Text policy (backend.language): Chinese normalised to one variant (raw text always kept), and
    # whether a transcript in Latin script for a language with its own script is kept.
    han_target: Mapped[str | None] = mapped_column(String(16))
    allow_romanized: Mapped[bool] = mapped_column(Boolean, default=False)
    # Speaker-count hints for diarization (backend.domain.SpeakerCountHint); None: estimated.
    num_speakers: Mapped[int | None] = mapped_column(Integer)
    min_speakers: Mapped[int | None] = mapped_column(Integer)
    max_speakers: Mapped[int | None] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(TZDateTime, default=utcnow)

    sources: Mapped[list[Source]] = relationship(back_populates="project", cascade="all, delete-orphan", passive_deletes=True)

    __table_args__ = (
        CheckConstraint("length(name) > 0", name="name_not_empty"),
        CheckConstraint("han_target IS NULL OR han_target IN ('simplified', 'traditional')", name="han_target"),
    )


class Source(Base):
    """Where media or text came from, with provenance; the unit of takedown."""

    __tablename__ = "sources"

    id: Mapped[int] = mapped_column(primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(16))
    uri: Mapped[str] = mapped_column(Text)
    title: Mapped[str | None] = mapped_column(Text)
    author: Mapped[str | None] = mapped_column(Text)
    licence: Mapped[str | None] = mapped_column(String(200))
    fetched_at: Mapped[datetime | None] = mapped_column(TZDateTime)
    content_hash: Mapped[str] = mapped_column(String(128))
    size_bytes: Mapped[int | None] = mapped_column(BigInteger)
    status: Mapped[str] = mapped_column(String(16), default=SourceStatus.REGISTERED)
    error: Mapped[str | None] = mapped_column(Text)
    extra: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(TZDateTime, default=utcnow)
    taken_down_at: Mapped[datetime | None] = mapped_column(TZDateTime)

    project: Mapped[Project] = relationship(back_populates="sources")

    __table_args__ = (
        UniqueConstraint("project_id", "content_hash"),
        CheckConstraint(_one_of("kind", SourceKind), name="kind"),
        CheckConstraint(_one_of("status", SourceStatus), name="status"),
    )


class MediaAsset(Base):
    """A prepared media file of a source: probe info and the extracted 16 kHz audio."""

    __tablename__ = "media_assets"

    id: Mapped[int] = mapped_column(primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"), index=True)
    source_id: Mapped[int] = mapped_column(ForeignKey("sources.id", ondelete="CASCADE"), index=True)
    content_hash: Mapped[str] = mapped_column(String(128))
    path: Mapped[str] = mapped_column(Text)
    audio_path: Mapped[str | None] = mapped_column(Text)
    duration_ms: Mapped[int | None] = mapped_column(Integer)
    has_audio: Mapped[bool] = mapped_column(Boolean, default=False)
    has_video: Mapped[bool] = mapped_column(Boolean, default=False)
    probe: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(TZDateTime, default=utcnow)

    __table_args__ = (
        UniqueConstraint("project_id", "content_hash"),
        CheckConstraint("duration_ms IS NULL OR duration_ms >= 0", name="duration_nonnegative"),
    )


class Speaker(Base):
    """A diarized speaker within one source (labels are local to the source)."""

    __tablename__ = "speakers"

    id: Mapped[int] = mapped_column(primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"), index=True)
    source_id: Mapped[int] = mapped_column(ForeignKey("sources.id", ondelete="CASCADE"), index=True)
    label: Mapped[str] = mapped_column(String(100))
    name: Mapped[str | None] = mapped_column(String(200))

    __table_args__ = (UniqueConstraint("source_id", "label"),)


class Item(Base):
    """Anything an annotator labels: a clip, an image, a chat turn or a text.

    An item with ``superseded_at`` set was replaced by a later pipeline run and kept because
    people worked on it: it stays listable and exportable, but is no new annotation candidate.
    """

    __tablename__ = "items"

    id: Mapped[int] = mapped_column(primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"), index=True)
    source_id: Mapped[int] = mapped_column(ForeignKey("sources.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(16))
    dialogue_id: Mapped[str | None] = mapped_column(String(200))
    turn_index: Mapped[int | None] = mapped_column(Integer)
    reply_to_id: Mapped[int | None] = mapped_column(ForeignKey("items.id", ondelete="SET NULL"))
    text: Mapped[str | None] = mapped_column(Text)
    # What backend.language made of ``text`` (the raw text stays in ``text``): the normalised form
    # shown to annotators and released, the dominant script, the Code-Mixing Index, and the rest of
    # the profile (script shares, Han variant, language identified from the text, word tags).
    text_normalized: Mapped[str | None] = mapped_column(Text)
    dominant_script: Mapped[str | None] = mapped_column(String(32))
    cmi: Mapped[float | None] = mapped_column(Float)
    text_profile: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    language: Mapped[str | None] = mapped_column(String(16))
    language_probability: Mapped[float | None] = mapped_column(Float)
    media_path: Mapped[str | None] = mapped_column(Text)
    # Items that are not clips (0007): the id the item has in its own corpus (a Telegram message id,
    # a SemEval row id, an image's path in its folder), so a re-import finds it again; the chat turn
    # a sticker or photo belongs to (an attachment is shown with its turn, never annotated alone);
    # a chat turn's pseudonymised author and time; what OCR read in an image (text, and the words
    # with boxes and confidences in ``ocr``); the near-duplicate group and the member annotated for it.
    external_id: Mapped[str | None] = mapped_column(String(200))
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("items.id", ondelete="SET NULL"), index=True)
    author: Mapped[str | None] = mapped_column(String(100))
    posted_at: Mapped[datetime | None] = mapped_column(TZDateTime)
    ocr_text: Mapped[str | None] = mapped_column(Text)
    ocr: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    duplicate_group: Mapped[str | None] = mapped_column(String(64))
    duplicate_of_id: Mapped[int | None] = mapped_column(ForeignKey("items.id", ondelete="SET NULL"))
    fingerprint: Mapped[dict[str, Any] | None] = mapped_column(JSON)  # ingest.dedup.ItemFingerprint, kept so it is computed once
    reference: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    is_gold: Mapped[bool] = mapped_column(Boolean, default=False)
    filter_status: Mapped[str] = mapped_column(String(16), default=FilterStatus.KEPT)
    filter_reason: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(TZDateTime, default=utcnow)
    # Set when a pipeline re-run replaced this item but it carries human work (annotations, tasks,
    # adjudications, aggregated labels, release items), so it is kept instead of deleted.
    superseded_at: Mapped[datetime | None] = mapped_column(TZDateTime)
    superseded_by_run_id: Mapped[int | None] = mapped_column(ForeignKey("stage_runs.id", ondelete="SET NULL"))

    utterance: Mapped[UtteranceRow | None] = relationship(back_populates="item", uselist=False, cascade="all, delete-orphan", passive_deletes=True)

    __table_args__ = (
        CheckConstraint(_one_of("kind", ItemKind), name="kind"),
        CheckConstraint(_one_of("filter_status", FilterStatus), name="filter_status"),
        Index("ix_items_dialogue", "project_id", "dialogue_id", "turn_index"),
        Index("ix_items_script", "project_id", "dominant_script"),
        Index("ix_items_external", "project_id", "source_id", "external_id"),
        Index("ix_items_duplicates", "project_id", "duplicate_group"),
        # Item ids are quoted outside the database (label files, Label Studio tasks, releases): SQLite
        # must never hand a deleted item's id to a new one (PostgreSQL sequences never do).
        {"sqlite_autoincrement": True},
    )


class UtteranceRow(Base):
    """Speech details of a clip item: where it sits in its media, who speaks, how sure we are."""

    __tablename__ = "utterances"

    item_id: Mapped[int] = mapped_column(ForeignKey("items.id", ondelete="CASCADE"), primary_key=True)
    asset_id: Mapped[int] = mapped_column(ForeignKey("media_assets.id", ondelete="CASCADE"), index=True)
    start_ms: Mapped[int] = mapped_column(Integer)
    end_ms: Mapped[int] = mapped_column(Integer)
    speaker_id: Mapped[int | None] = mapped_column(ForeignKey("speakers.id", ondelete="SET NULL"), index=True)
    speaker_label: Mapped[str | None] = mapped_column(String(100))
    asr_confidence: Mapped[float | None] = mapped_column(Float)
    no_speech_prob: Mapped[float | None] = mapped_column(Float)
    diarization_confidence: Mapped[float | None] = mapped_column(Float)
    asr_model: Mapped[str | None] = mapped_column(String(300))
    words: Mapped[list[Any]] = mapped_column(JSON, default=list)
    context: Mapped[list[Any]] = mapped_column(JSON, default=list)
    clip_audio_path: Mapped[str | None] = mapped_column(Text)
    clip_video_path: Mapped[str | None] = mapped_column(Text)

    item: Mapped[Item] = relationship(back_populates="utterance")

    # No unique (asset, span, speaker): a superseded item may share its span and speaker with a live
    # one whose text differs. backend.services.speech.utterance_items.replace_utterances keeps live ones unique.
    __table_args__ = (CheckConstraint("start_ms >= 0 AND end_ms > start_ms", name="span"),)


class StageRun(Base):
    """What a stage did to one subject under one configuration: the resume ledger."""

    __tablename__ = "stage_runs"

    id: Mapped[int] = mapped_column(primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"), index=True)
    stage: Mapped[str] = mapped_column(String(50))
    subject_type: Mapped[str] = mapped_column(String(16))
    subject_id: Mapped[int] = mapped_column(Integer)
    config_hash: Mapped[str] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(16))
    error: Mapped[str | None] = mapped_column(Text)
    model: Mapped[str | None] = mapped_column(String(300))
    model_version: Mapped[str | None] = mapped_column(String(100))
    started_at: Mapped[datetime] = mapped_column(TZDateTime, default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(TZDateTime)
    duration_ms: Mapped[int | None] = mapped_column(Integer)
    details: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)

    __table_args__ = (
        UniqueConstraint("stage", "subject_type", "subject_id", "config_hash"),
        CheckConstraint(_one_of("status", StageStatus), name="status"),
        CheckConstraint(_one_of("subject_type", SubjectType), name="subject_type"),
    )


class Annotator(Base):
    """A person (or a simulated annotator), known by a pseudonym in every report and release.

    Annotators created by ``qa import`` live in their own namespace: their pseudonym is the
    file's name prefixed with ``imported:`` (see ``qa.importer.imported_pseudonym``), so they
    can never merge with the ``ann-NNN`` annotators mmcurate creates.
    """

    __tablename__ = "annotators"

    id: Mapped[int] = mapped_column(primary_key=True)
    pseudonym: Mapped[str] = mapped_column(String(50), unique=True)
    email: Mapped[str] = mapped_column(String(320), unique=True)
    languages: Mapped[list[Any]] = mapped_column(JSON, default=list)
    simulated: Mapped[bool] = mapped_column(Boolean, default=False)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(TZDateTime, default=utcnow)


class LabelStudioInstanceRow(Base):
    """A Label Studio server mmcurate runs or uses: one per annotator, plus adjudication."""

    __tablename__ = "labelstudio_instances"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    role: Mapped[str] = mapped_column(String(16))
    annotator_id: Mapped[int | None] = mapped_column(ForeignKey("annotators.id", ondelete="SET NULL"), index=True)
    url: Mapped[str] = mapped_column(String(500))
    port: Mapped[int | None] = mapped_column(Integer)
    pid: Mapped[int | None] = mapped_column(Integer)
    data_dir: Mapped[str | None] = mapped_column(Text)
    admin_email: Mapped[str | None] = mapped_column(String(320))
    status: Mapped[str] = mapped_column(String(16), default=InstanceRunStatus.STOPPED)
    started_at: Mapped[datetime | None] = mapped_column(TZDateTime)

    __table_args__ = (CheckConstraint(_one_of("role", InstanceRole), name="role"),)


class AnnotationBatch(Base):
    """One push of items to annotators under one scheme with overlap k."""

    __tablename__ = "annotation_batches"

    id: Mapped[int] = mapped_column(primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"), index=True)
    scheme: Mapped[str] = mapped_column(String(100))
    overlap_k: Mapped[int] = mapped_column(Integer)
    gold_rate: Mapped[float] = mapped_column(Float, default=0.0)
    selection: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(TZDateTime, default=utcnow)

    __table_args__ = (
        CheckConstraint("overlap_k >= 1", name="overlap_positive"),
        CheckConstraint("gold_rate >= 0 AND gold_rate <= 1", name="gold_rate_fraction"),
    )


class Task(Base):
    """One item shown to one annotator in one Label Studio instance."""

    __tablename__ = "tasks"

    id: Mapped[int] = mapped_column(primary_key=True)
    batch_id: Mapped[int] = mapped_column(ForeignKey("annotation_batches.id", ondelete="CASCADE"), index=True)
    item_id: Mapped[int] = mapped_column(ForeignKey("items.id", ondelete="RESTRICT"), index=True)
    annotator_id: Mapped[int | None] = mapped_column(ForeignKey("annotators.id", ondelete="SET NULL"), index=True)
    instance_id: Mapped[int] = mapped_column(ForeignKey("labelstudio_instances.id", ondelete="CASCADE"), index=True)
    ls_project_id: Mapped[int] = mapped_column(Integer)
    ls_task_id: Mapped[int] = mapped_column(Integer)
    kind: Mapped[str] = mapped_column(String(16), default=TaskKind.ANNOTATION)
    created_at: Mapped[datetime] = mapped_column(TZDateTime, default=utcnow)

    __table_args__ = (
        UniqueConstraint("instance_id", "ls_task_id"),
        CheckConstraint(_one_of("kind", TaskKind), name="kind"),
    )


class Annotation(Base):
    """One judgement: normalised values per scheme field plus Label Studio's raw result."""

    __tablename__ = "annotations"

    id: Mapped[int] = mapped_column(primary_key=True)
    task_id: Mapped[int | None] = mapped_column(ForeignKey("tasks.id", ondelete="SET NULL"), index=True)
    item_id: Mapped[int] = mapped_column(ForeignKey("items.id", ondelete="RESTRICT"), index=True)
    annotator_id: Mapped[int] = mapped_column(ForeignKey("annotators.id", ondelete="RESTRICT"), index=True)
    instance_id: Mapped[int | None] = mapped_column(ForeignKey("labelstudio_instances.id", ondelete="SET NULL"))
    ls_annotation_id: Mapped[int | None] = mapped_column(Integer)
    scheme: Mapped[str] = mapped_column(String(100))
    values: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    raw_result: Mapped[list[Any]] = mapped_column(JSON, default=list)
    lead_time_s: Mapped[float | None] = mapped_column(Float)
    is_adjudication: Mapped[bool] = mapped_column(Boolean, default=False)
    origin: Mapped[str] = mapped_column(String(16), default=AnnotationOrigin.LABELSTUDIO)
    created_at: Mapped[datetime] = mapped_column(TZDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(TZDateTime, default=utcnow)
    deleted_at: Mapped[datetime | None] = mapped_column(TZDateTime)

    __table_args__ = (UniqueConstraint("instance_id", "ls_annotation_id"),)


class AnnotationHistory(Base):
    """Every version an annotation went through, so updates and deletes lose nothing."""

    __tablename__ = "annotation_history"

    id: Mapped[int] = mapped_column(primary_key=True)
    annotation_id: Mapped[int] = mapped_column(ForeignKey("annotations.id", ondelete="CASCADE"), index=True)
    action: Mapped[str] = mapped_column(String(16))
    values: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    raw_result: Mapped[list[Any]] = mapped_column(JSON, default=list)
    recorded_at: Mapped[datetime] = mapped_column(TZDateTime, default=utcnow)

    __table_args__ = (CheckConstraint(_one_of("action", HistoryAction), name="action"),)


class LabelImport(Base):
    """A labels file imported into a project, known by the SHA-256 of its bytes: importing it again is refused."""

    __tablename__ = "label_imports"

    id: Mapped[int] = mapped_column(primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"), index=True)
    batch_id: Mapped[int] = mapped_column(ForeignKey("annotation_batches.id", ondelete="CASCADE"), index=True)
    sha256: Mapped[str] = mapped_column(String(64))
    file_name: Mapped[str] = mapped_column(Text)
    scheme: Mapped[str] = mapped_column(String(100))
    n_judgements: Mapped[int] = mapped_column(Integer)
    n_annotations: Mapped[int] = mapped_column(Integer)
    n_items: Mapped[int] = mapped_column(Integer)
    n_annotators: Mapped[int] = mapped_column(Integer)
    imported_at: Mapped[datetime] = mapped_column(TZDateTime, default=utcnow)

    __table_args__ = (UniqueConstraint("project_id", "sha256"),)


class QARun(Base):
    """One computation of agreement, diagnostics and gate decisions over a project or batch."""

    __tablename__ = "qa_runs"

    id: Mapped[int] = mapped_column(primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"), index=True)
    batch_id: Mapped[int | None] = mapped_column(ForeignKey("annotation_batches.id", ondelete="SET NULL"))
    scheme: Mapped[str | None] = mapped_column(String(100))
    verdict: Mapped[str | None] = mapped_column(String(16))
    results: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(TZDateTime, default=utcnow)

    __table_args__ = (CheckConstraint("verdict IS NULL OR " + _one_of("verdict", GateVerdict), name="verdict"),)


class GateDecision(Base):
    """A gate verdict for one field, stored with the numbers it was made from."""

    __tablename__ = "gate_decisions"

    id: Mapped[int] = mapped_column(primary_key=True)
    qa_run_id: Mapped[int] = mapped_column(ForeignKey("qa_runs.id", ondelete="CASCADE"), index=True)
    field: Mapped[str] = mapped_column(String(100))
    metric: Mapped[str] = mapped_column(String(100))
    value: Mapped[float | None] = mapped_column(Float)
    ci_low: Mapped[float | None] = mapped_column(Float)
    ci_high: Mapped[float | None] = mapped_column(Float)
    n_items: Mapped[int] = mapped_column(Integer, default=0)
    n_annotators: Mapped[int] = mapped_column(Integer, default=0)
    verdict: Mapped[str] = mapped_column(String(16))
    thresholds: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)

    __table_args__ = (CheckConstraint(_one_of("verdict", GateVerdict), name="verdict"),)


class Adjudication(Base):
    """An item whose agreement fell below the item threshold, and its adjudicated value."""

    __tablename__ = "adjudications"

    id: Mapped[int] = mapped_column(primary_key=True)
    qa_run_id: Mapped[int] = mapped_column(ForeignKey("qa_runs.id", ondelete="CASCADE"), index=True)
    item_id: Mapped[int] = mapped_column(ForeignKey("items.id", ondelete="RESTRICT"), index=True)
    field: Mapped[str] = mapped_column(String(100))
    reason: Mapped[str | None] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(16), default=AdjudicationStatus.OPEN)
    value: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    adjudicator_id: Mapped[int | None] = mapped_column(ForeignKey("annotators.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(TZDateTime, default=utcnow)

    __table_args__ = (
        UniqueConstraint("qa_run_id", "item_id", "field"),
        CheckConstraint(_one_of("status", AdjudicationStatus), name="status"),
    )


class AggregatedLabelRow(Base):
    """The one label per (item, scheme, field) a release carries, with confidence and soft distribution.

    Per scheme: two schemes may name a field alike (``sentiment`` in sentiment3 and a meme
    scheme), and a QA run of one must never replace the other's labels. ``scheme`` is ""
    for labels stored before 0006 whose QA run is gone."""

    __tablename__ = "aggregated_labels"

    id: Mapped[int] = mapped_column(primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"), index=True)
    item_id: Mapped[int] = mapped_column(ForeignKey("items.id", ondelete="RESTRICT"), index=True)
    scheme: Mapped[str] = mapped_column(String(100), default="")
    field: Mapped[str] = mapped_column(String(100))
    value: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    confidence: Mapped[float | None] = mapped_column(Float)
    method: Mapped[str] = mapped_column(String(50))
    distribution: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    n_judgements: Mapped[int] = mapped_column(Integer, default=0)
    qa_run_id: Mapped[int | None] = mapped_column(ForeignKey("qa_runs.id", ondelete="SET NULL"))
    updated_at: Mapped[datetime] = mapped_column(TZDateTime, default=utcnow)

    __table_args__ = (UniqueConstraint("item_id", "scheme", "field"),)


class Release(Base):
    """A versioned dataset built from a project; its manifest makes it reproducible."""

    __tablename__ = "releases"

    id: Mapped[int] = mapped_column(primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"), index=True)
    version: Mapped[str] = mapped_column(String(50))
    path: Mapped[str | None] = mapped_column(Text)
    manifest: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    published_repo: Mapped[str | None] = mapped_column(String(300))
    published_revision: Mapped[str | None] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(TZDateTime, default=utcnow)

    __table_args__ = (UniqueConstraint("project_id", "version"),)


class ReleaseItem(Base):
    """Which item (and source) went into which split of a release: answers takedown queries."""

    __tablename__ = "release_items"

    release_id: Mapped[int] = mapped_column(ForeignKey("releases.id", ondelete="CASCADE"), primary_key=True)
    item_id: Mapped[int] = mapped_column(ForeignKey("items.id", ondelete="RESTRICT"), primary_key=True)
    source_id: Mapped[int] = mapped_column(ForeignKey("sources.id", ondelete="CASCADE"), index=True)
    split: Mapped[str] = mapped_column(String(16))

    __table_args__ = (CheckConstraint(_one_of("split", Split), name="split"),)


class WebhookEvent(Base):
    """An annotation event a Label Studio instance announced, kept until its tasks were re-read and stored.

    The receiver answers once the event is recorded here; a background refresher re-reads the
    tasks it names from the sending instance in batches and marks it processed. Events that
    could not be processed keep their last error (``annotate pull`` repairs what they name).
    """

    __tablename__ = "webhook_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    instance: Mapped[str] = mapped_column(String(100))
    action: Mapped[str] = mapped_column(String(40))
    annotation_ids: Mapped[list[Any]] = mapped_column(JSON, default=list)
    task_ids: Mapped[list[Any]] = mapped_column(JSON, default=list)
    received_at: Mapped[datetime] = mapped_column(TZDateTime, default=utcnow)
    processed_at: Mapped[datetime | None] = mapped_column(TZDateTime)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    error: Mapped[str | None] = mapped_column(Text)

    __table_args__ = (Index("ix_webhook_events_pending", "processed_at", "id"),)


class ApiToken(Base):
    """A bearer token for the API; only its SHA-256 is stored."""

    __tablename__ = "api_tokens"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(TZDateTime, default=utcnow)
    revoked_at: Mapped[datetime | None] = mapped_column(TZDateTime)
