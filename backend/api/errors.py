"""Domain errors → HTTP status, in one place; every error body is JSON with a readable message."""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from backend.domain import (
    ConflictError,
    MediaError,
    MmcurateError,
    NotFoundError,
    ServiceUnavailableError,
    ValidationError,
)

STATUS_BY_ERROR: list[tuple[type[MmcurateError], int]] = [
    (NotFoundError, 404),
    (ConflictError, 409),
    (ValidationError, 422),
    (MediaError, 422),
    (ServiceUnavailableError, 503),
    (MmcurateError, 400),
]


def http_status_for(error: MmcurateError) -> int:
    for error_type, code in STATUS_BY_ERROR:
        if isinstance(error, error_type):
            return code
    return 400


def _describe_validation(exc: RequestValidationError) -> str:
    """One line per bad field; a bad path or query value is quoted (never body or header values,
    which may hold secrets)."""
    parts = []
    for error in exc.errors():
        loc = error.get("loc", ())
        location = ".".join(str(p) for p in loc if p != "body") or "body"
        part = f"{location}: {error.get('msg', 'invalid')}"
        if loc and loc[0] in ("path", "query") and isinstance(error.get("input"), str):
            part += f", got {error['input'][:40]!r}"
        parts.append(part)
    return "invalid request: " + "; ".join(parts)


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(MmcurateError)
    async def _domain_error(_request: Request, exc: MmcurateError) -> JSONResponse:
        return JSONResponse(status_code=http_status_for(exc), content={"detail": str(exc), "error": type(exc).__name__})

    @app.exception_handler(RequestValidationError)
    async def _validation_error(_request: Request, exc: RequestValidationError) -> JSONResponse:
        return JSONResponse(
            status_code=422,
            content={"detail": _describe_validation(exc), "error": "ValidationError", "errors": _jsonable(exc.errors())},
        )

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(_request: Request, exc: StarletteHTTPException) -> JSONResponse:
        return JSONResponse(status_code=exc.status_code, content={"detail": exc.detail}, headers=getattr(exc, "headers", None))


def _jsonable(errors: object) -> object:
    from fastapi.encoders import jsonable_encoder

    return jsonable_encoder(errors, custom_encoder={Exception: str})
