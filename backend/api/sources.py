"""Read endpoints for sources and utterances of a project, with pagination and filters."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from backend.api.deps import CurrentToken, Limit, Offset, ProjectId, SessionDep, optional_id
from backend.api.schemas import Page, SourcePublic, UtterancePublic
from backend.domain import from_ms
from backend.repositories import projects as project_repo
from backend.repositories import sources as source_repo
from backend.repositories import utterances as utterance_repo

router = APIRouter(prefix="/projects/{project_id}", tags=["sources"])

@router.get("/sources", response_model=Page[SourcePublic])
def list_sources(
    project_id: ProjectId,
    session: SessionDep,
    _token: CurrentToken,
    status: Annotated[str | None, Query(description="registered, processing, done, failed, taken_down")] = None,
    kind: Annotated[str | None, Query(description="file, url, ytdlp, chat, image, text")] = None,
    offset: Offset = 0,
    limit: Limit = 100,
) -> Page[SourcePublic]:
    project_repo.get_by_id(session, project_id)
    rows, total = source_repo.list_page(session, project_id=project_id, status=status, kind=kind, offset=offset, limit=limit)
    items = [SourcePublic.model_validate(s, from_attributes=True) for s in rows]
    return Page(items=items, total=total, offset=offset, limit=limit)


@router.get("/utterances", response_model=Page[UtterancePublic])
def list_utterances(
    project_id: ProjectId,
    session: SessionDep,
    _token: CurrentToken,
    source_id: Annotated[int | None, optional_id("Only utterances of this source.")] = None,
    language: str | None = None,
    speaker: str | None = None,
    filter_status: Annotated[str | None, Query(description="kept or filtered")] = None,
    offset: Offset = 0,
    limit: Limit = 100,
) -> Page[UtterancePublic]:
    project_repo.get_by_id(session, project_id)
    rows, total = utterance_repo.list_page(
        session, project_id=project_id, source_id=source_id, language=language, speaker=speaker,
        filter_status=filter_status, offset=offset, limit=limit,
    )
    items = [
        UtterancePublic(
            id=item.id, source_id=item.source_id, dialogue_id=item.dialogue_id, index=item.turn_index,
            start=from_ms(utt.start_ms), end=from_ms(utt.end_ms), speaker=utt.speaker_label, text=item.text,
            language=item.language, language_probability=item.language_probability,
            asr_confidence=utt.asr_confidence, diarization_confidence=utt.diarization_confidence,
            clip_audio_path=utt.clip_audio_path, clip_video_path=utt.clip_video_path,
            filter_status=item.filter_status, filter_reason=item.filter_reason,
        )
        for item, utt in rows
    ]
    return Page(items=items, total=total, offset=offset, limit=limit)
