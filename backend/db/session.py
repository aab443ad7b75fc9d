"""Engines and sessions: one engine per database URL, SQLite with foreign keys on."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from functools import lru_cache

from sqlalchemy import Engine, create_engine, event, text
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session, sessionmaker

from backend.domain import ServiceUnavailableError


def _enable_sqlite_foreign_keys(dbapi_connection, _record) -> None:  # type: ignore[no-untyped-def]
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=30000")
    # WAL lets the webhook receiver write while a CLI pull or a report reads; NORMAL is durable
    # across application crashes (only an OS crash can lose the last transactions).
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


@lru_cache(maxsize=16)
def engine_for(url: str) -> Engine:
    """The engine for ``url``, created once per process."""
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30})
        event.listen(engine, "connect", _enable_sqlite_foreign_keys)
    else:
        engine = create_engine(url, pool_pre_ping=True)
    return engine


def describe_url(url: str) -> str:
    """The URL without its password, for messages."""
    from sqlalchemy.engine import make_url

    return make_url(url).render_as_string(hide_password=True)


def check_connection(engine: Engine) -> None:
    """Raise ServiceUnavailableError with a readable message when the database is down."""
    try:
        with engine.connect() as connection:
            connection.execute(text("SELECT 1"))
    except OperationalError as exc:
        reason = str(exc.orig).strip().splitlines()[0] if exc.orig else str(exc)
        raise ServiceUnavailableError(
            f"cannot reach the database at {describe_url(str(engine.url))}: {reason}; "
            "check MMCURATE_DATABASE_URL and that the server is running"
        ) from None


def session_factory(url: str) -> sessionmaker[Session]:
    return sessionmaker(bind=engine_for(url), expire_on_commit=False)


@contextmanager
def session_scope(url: str) -> Iterator[Session]:
    """A session that commits on success and rolls back on error."""
    session = session_factory(url)()
    try:
        yield session
        session.commit()
    except OperationalError as exc:
        session.rollback()
        reason = str(exc.orig).strip().splitlines()[0] if exc.orig else str(exc)
        raise ServiceUnavailableError(
            f"database error at {describe_url(url)}: {reason}"
        ) from None
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()
