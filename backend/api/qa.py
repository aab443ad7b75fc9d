"""A project's QA report, served as the same self-contained HTML page `mmcurate qa report` writes."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query
from fastapi.responses import HTMLResponse

from backend.api.deps import CurrentToken, ProjectId, SessionDep, optional_id
from backend.services import qa as qa_service

router = APIRouter(prefix="/projects", tags=["qa"])


@router.get("/{project_id}/qa", response_class=HTMLResponse)
def project_qa_report(
    project_id: ProjectId,
    session: SessionDep,
    _token: CurrentToken,
    scheme: Annotated[str | None, Query(description="Scheme of the run (default: the newest run of any scheme).")] = None,
    batch_id: Annotated[int | None, optional_id("A batch's run instead of the whole project's.")] = None,
) -> HTMLResponse:
    """The newest QA report of the project: metric table with CIs, verdicts, heat maps, annotators, adjudication."""
    return HTMLResponse(qa_service.report_html(session, project_id, scheme, batch_id))
