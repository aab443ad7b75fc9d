"""Read endpoints for sources and utterances of a project, with pagination and filters."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from backend.api.deps import CurrentToken, Limit, Offset, ProjectId, SessionDep, optional_id
from backend.api.schemas import Page, SourcePublic, UtterancePublic
from backend.domain import FilterStatus, SourceKind, SourceStatus
from backend.services import speech as speech_service

router = APIRouter(prefix="/projects/{project_id}", tags=["sources"])


@router.get("/sources", response_model=Page[SourcePublic])
def list_sources(
    project_id: ProjectId,
    session: SessionDep,
    _token: CurrentToken,
    status: Annotated[str | None, Query(description=", ".join(SourceStatus))] = None,
    kind: Annotated[str | None, Query(description=", ".join(SourceKind))] = None,
    offset: Offset = 0,
    limit: Limit = 100,
) -> Page[SourcePublic]:
    rows, total = speech_service.source_page(session, project_id, status=status, kind=kind, offset=offset, limit=limit)
    items = [SourcePublic.model_validate({**speech_service.source_as_dict(s), "project_id": s.project_id}) for s in rows]
    return Page(items=items, total=total, offset=offset, limit=limit)


@router.get("/utterances", response_model=Page[UtterancePublic])
def list_utterances(
    project_id: ProjectId,
    session: SessionDep,
    _token: CurrentToken,
    source_id: Annotated[int | None, optional_id("Only utterances of this source.")] = None,
    language: str | None = None,
    script: Annotated[str | None, Query(description="Dominant script of the text (Unicode script name, e.g. Tamil, Latin, Han).")] = None,
    cmi_min: Annotated[float | None, Query(ge=0, le=100, description="Least Code-Mixing Index (0-100).")] = None,
    speaker: str | None = None,
    filter_status: Annotated[str | None, Query(description=" or ".join(FilterStatus))] = None,
    offset: Offset = 0,
    limit: Limit = 100,
) -> Page[UtterancePublic]:
    records, total = speech_service.utterance_page(
        session, project_id, source_id=source_id, language=language, script=script, cmi_min=cmi_min,
        speaker=speaker,
        filter_status=filter_status, offset=offset, limit=limit,
    )
    return Page(items=[UtterancePublic(**record) for record in records], total=total, offset=offset, limit=limit)
