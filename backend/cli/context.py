"""What every CLI command needs: settings and a session on an initialised database."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy.orm import Session

from backend.db.session import session_scope
from backend.services.setup import ensure_initialised
from backend.settings import Settings, get_settings


def settings() -> Settings:
    return get_settings()


@contextmanager
def db_session() -> Iterator[Session]:
    """A committed-on-success session on the configured, initialised database."""
    config = settings()
    ensure_initialised(config)
    with session_scope(config.sqlalchemy_url) as session:
        yield session
