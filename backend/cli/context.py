"""What every CLI command needs: settings and a session on an initialised database."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import inspect
from sqlalchemy.orm import Session

from backend.db.session import check_connection, describe_url, engine_for, session_scope
from backend.domain import MmcurateError
from backend.settings import Settings, get_settings


class NotInitialisedError(MmcurateError):
    """The database has no mmcurate tables yet."""


def settings() -> Settings:
    return get_settings()


def ensure_initialised(config: Settings) -> None:
    engine = engine_for(config.sqlalchemy_url)
    check_connection(engine)
    if not inspect(engine).has_table("alembic_version"):
        raise NotInitialisedError(
            f"the database {describe_url(config.sqlalchemy_url)} is not initialised; run `mmcurate init` first"
        )


@contextmanager
def db_session() -> Iterator[Session]:
    """A committed-on-success session on the configured, initialised database."""
    config = settings()
    ensure_initialised(config)
    with session_scope(config.sqlalchemy_url) as session:
        yield session
