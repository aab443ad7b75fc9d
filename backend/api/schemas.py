"""Request and response bodies: a schema family per resource."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Generic, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field

T = TypeVar("T")


class Page(BaseModel, Generic[T]):
    items: list[T]
    total: int
    offset: int
    limit: int


class SpeakerHintBody(BaseModel):
    """How many people speak in the project's recordings: a fixed count, or bounds for the estimate."""

    model_config = ConfigDict(extra="forbid")
    num_speakers: int | None = Field(default=None, ge=1, le=50)
    min_speakers: int | None = Field(default=None, ge=1, le=50)
    max_speakers: int | None = Field(default=None, ge=1, le=50)


class ProjectCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(min_length=1, max_length=200, examples=["dravidian-reviews"])
    description: str | None = None
    languages: list[str] = Field(default_factory=list, examples=[["ta", "ml"]])
    schemes: list[str] = Field(default_factory=list, examples=[["sentiment3", "emotion7"]])
    allowed_licences: list[str] = Field(default_factory=list, examples=[["cc-by-4.0"]])
    han_target: Literal["simplified", "traditional"] | None = None
    allow_romanized: bool = False
    speakers: SpeakerHintBody = Field(default_factory=SpeakerHintBody)


class ProjectUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str | None = Field(default=None, min_length=1, max_length=200)
    description: str | None = None
    languages: list[str] | None = None
    schemes: list[str] | None = None
    allowed_licences: list[str] | None = None
    han_target: Literal["simplified", "traditional"] | None = None
    allow_romanized: bool | None = None
    speakers: SpeakerHintBody | None = None  # replaces the hint as a whole; {} clears it


class ProjectPublic(BaseModel):
    id: int
    name: str
    description: str | None
    languages: list[str]
    schemes: list[str]
    allowed_licences: list[str]
    han_target: str | None = None
    allow_romanized: bool = False
    speakers: dict[str, int] = Field(default_factory=dict)
    created_at: datetime | None


class SourcePublic(BaseModel):
    id: int
    project_id: int
    kind: str
    uri: str
    title: str | None
    author: str | None
    licence: str | None
    fetched_at: datetime | None
    content_hash: str
    size_bytes: int | None
    status: str
    error: str | None
    taken_down_at: datetime | None
    webpage_url: str | None = None
    extractor: str | None = None
    channel: str | None = None
    channel_url: str | None = None
    upload_date: str | None = None
    duration: float | None = None
    language: str | None = None
    licence_decision: dict[str, Any] | None = None


class UtterancePublic(BaseModel):
    id: int
    source_id: int
    dialogue_id: str | None
    index: int | None
    start: float
    end: float
    speaker: str | None
    text: str | None
    language: str | None
    language_probability: float | None
    text_normalized: str | None = None
    scripts: dict[str, float] | None = None
    dominant_script: str | None = None
    han_variant: str | None = None
    text_language: str | None = None
    text_language_confidence: float | None = None
    cmi: float | None = None
    asr_confidence: float | None
    diarization_confidence: float | None
    clip_audio_path: str | None
    clip_video_path: str | None
    filter_status: str
    filter_reason: str | None


class Health(BaseModel):
    status: str
    database: str
    version: str
