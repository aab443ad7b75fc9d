"""Projects: CRUD."""

from __future__ import annotations

from fastapi import APIRouter, Response, status

from backend.api.deps import CurrentToken, Limit, Offset, ProjectId, SessionDep
from backend.api.schemas import Page, ProjectCreate, ProjectPublic, ProjectUpdate
from backend.domain import SpeakerCountHint
from backend.services import projects as project_service

router = APIRouter(prefix="/projects", tags=["projects"])


def _public(project) -> ProjectPublic:  # type: ignore[no-untyped-def]
    return ProjectPublic(**project_service.project_as_dict(project))


@router.get("", response_model=Page[ProjectPublic])
def list_projects(
    session: SessionDep,
    _token: CurrentToken,
    offset: Offset = 0,
    limit: Limit = 100,
) -> Page[ProjectPublic]:
    rows, total = project_service.list_projects(session, offset=offset, limit=limit)
    return Page(items=[_public(p) for p in rows], total=total, offset=offset, limit=limit)


@router.post("", response_model=ProjectPublic, status_code=status.HTTP_201_CREATED)
def create_project(body: ProjectCreate, session: SessionDep, _token: CurrentToken) -> ProjectPublic:
    spec = project_service.ProjectSpec(
        name=body.name,
        description=body.description,
        languages=tuple(body.languages),
        schemes=tuple(body.schemes),
        allowed_licences=tuple(body.allowed_licences),
        han_target=body.han_target,
        allow_romanized=body.allow_romanized,
        speakers=SpeakerCountHint(**body.speakers.model_dump()),
    )
    return _public(project_service.create_project(session, spec))


@router.get("/{project_id}", response_model=ProjectPublic)
def read_project(project_id: ProjectId, session: SessionDep, _token: CurrentToken) -> ProjectPublic:
    return _public(project_service.get_project(session, project_id))


@router.patch("/{project_id}", response_model=ProjectPublic)
def update_project(project_id: ProjectId, body: ProjectUpdate, session: SessionDep, _token: CurrentToken) -> ProjectPublic:
    given = body.model_fields_set
    changes = project_service.ProjectChanges(
        name=body.name,
        description=body.description,
        languages=tuple(body.languages) if body.languages is not None else None,
        schemes=tuple(body.schemes) if body.schemes is not None else None,
        allowed_licences=tuple(body.allowed_licences) if body.allowed_licences is not None else None,
        han_target=body.han_target,
        allow_romanized=body.allow_romanized,
        speakers=SpeakerCountHint(**body.speakers.model_dump()) if body.speakers is not None else None,
        fields_set=frozenset(given),
    )
    return _public(project_service.update_project(session, project_id, changes))


@router.delete("/{project_id}", status_code=status.HTTP_204_NO_CONTENT)
def delete_project(project_id: ProjectId, session: SessionDep, _token: CurrentToken) -> Response:
    project_service.delete_project(session, project_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
