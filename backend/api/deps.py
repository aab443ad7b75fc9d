"""Shared dependencies: a session per request, bearer-token auth in one place."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated

from fastapi import Depends, HTTPException, Request, status
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.orm import Session

from backend.db.models import ApiToken
from backend.db.session import session_factory
from backend.services import tokens as token_service
from backend.settings import Settings

_bearer = HTTPBearer(auto_error=False, description="A token from `mmcurate token create NAME`.")


def get_settings_dep(request: Request) -> Settings:
    return request.app.state.settings


SettingsDep = Annotated[Settings, Depends(get_settings_dep)]


def get_session(settings: SettingsDep) -> Iterator[Session]:
    session = session_factory(settings.sqlalchemy_url)()
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()


SessionDep = Annotated[Session, Depends(get_session)]


TOKEN_COOKIE = "mmcurate_token"


def require_token(
    request: Request,
    session: SessionDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> ApiToken:
    """The token of the caller (bearer header, or the cookie `/login` sets for people in a browser).

    401 when it is missing, unknown or revoked.
    """
    cookie = request.cookies.get(TOKEN_COOKIE)
    if credentials is None and cookie:
        credentials = HTTPAuthorizationCredentials(scheme="Bearer", credentials=cookie)
    if credentials is None or credentials.scheme.lower() != "bearer":
        raise HTTPException(
            status_code=status.HTTP_401_UNAUTHORIZED,
            detail="missing bearer token: send 'Authorization: Bearer <token>' (create one with `mmcurate token create NAME`)",
            headers={"WWW-Authenticate": "Bearer"},
        )
    record = token_service.verify_token(session, credentials.credentials)
    if record is None:
        raise HTTPException(
            status_code=status.HTTP_401_UNAUTHORIZED,
            detail="invalid or revoked bearer token",
            headers={"WWW-Authenticate": "Bearer"},
        )
    return record


CurrentToken = Annotated[ApiToken, Depends(require_token)]
