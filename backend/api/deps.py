"""Shared dependencies: a session per request, bearer-token auth in one place, and the bounds
of every id, offset and limit a route accepts."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated, Any

from fastapi import Depends, HTTPException, Path, Query, Request, status
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.orm import Session

from backend.db.session import session_factory
from backend.services import tokens as token_service
from backend.settings import Settings

# Python ints are unbounded; past these bounds a value would reach the database driver and fail
# there (a 500), so the API answers 422 instead. Ids are INTEGER columns (PostgreSQL int4, which
# SQLAlchemy casts every compared id to); OFFSET takes a 64-bit integer in both databases.
MAX_ID = 2**31 - 1
MAX_OFFSET = 2**63 - 1
MAX_PAGE = 1000

ProjectId = Annotated[int, Path(ge=1, le=MAX_ID, description="A project's id.")]
Offset = Annotated[int, Query(ge=0, le=MAX_OFFSET, description="Rows to skip.")]
Limit = Annotated[int, Query(ge=1, le=MAX_PAGE, description=f"Rows to return, at most {MAX_PAGE}.")]


def optional_id(description: str) -> Any:
    """An optional id filter in the query string, bounded like path ids."""
    return Query(ge=1, le=MAX_ID, description=description)


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
) -> token_service.TokenHolder:
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
    holder = token_service.authenticate(session, credentials.credentials)
    if holder is None:
        raise HTTPException(
            status_code=status.HTTP_401_UNAUTHORIZED,
            detail="invalid or revoked bearer token",
            headers={"WWW-Authenticate": "Bearer"},
        )
    return holder


CurrentToken = Annotated[token_service.TokenHolder, Depends(require_token)]
