"""A browser login: paste an API token once, get an HttpOnly cookie, read the QA pages."""

from __future__ import annotations

from html import escape
from typing import Annotated

from fastapi import APIRouter, Form, status
from fastapi.responses import HTMLResponse, RedirectResponse

from backend.api.deps import TOKEN_COOKIE, SessionDep
from backend.services import tokens as token_service

router = APIRouter(tags=["login"])

_FORM = """<!doctype html><html><head><meta charset="utf-8"><title>mmcurate login</title></head>
<body style="font-family:sans-serif;max-width:32em;margin:4em auto">
<h1>mmcurate</h1><p>Paste an API token (<code>mmcurate token create NAME</code>).</p>
{error}<form method="post" action="/login"><input type="hidden" name="next" value="{next}">
<input name="token" type="password" size="50" autofocus aria-label="API token">
<button type="submit">Log in</button></form></body></html>"""


def _safe_next(target: str) -> str:
    """Only same-site paths, so the login cannot be used to redirect elsewhere."""
    return target if target.startswith("/") and not target.startswith("//") else "/docs"


@router.get("/login", response_class=HTMLResponse, include_in_schema=False)
def login_form(next: str = "/docs") -> HTMLResponse:
    return HTMLResponse(_FORM.format(error="", next=escape(_safe_next(next))))


@router.post("/login", include_in_schema=False)
def login(session: SessionDep, token: Annotated[str, Form()], next: Annotated[str, Form()] = "/docs"):  # type: ignore[no-untyped-def]
    if token_service.authenticate(session, token.strip()) is None:
        page = _FORM.format(error='<p role="alert" style="color:#b00">Unknown or revoked token.</p>', next=escape(_safe_next(next)))
        return HTMLResponse(page, status_code=status.HTTP_401_UNAUTHORIZED)
    response = RedirectResponse(_safe_next(next), status_code=status.HTTP_303_SEE_OTHER)
    response.set_cookie(TOKEN_COOKIE, token.strip(), httponly=True, samesite="strict", max_age=12 * 3600)
    return response


@router.post("/logout", include_in_schema=False)
def logout() -> RedirectResponse:
    response = RedirectResponse("/login", status_code=status.HTTP_303_SEE_OTHER)
    response.delete_cookie(TOKEN_COOKIE)
    return response
