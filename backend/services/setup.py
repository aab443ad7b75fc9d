"""Initialise a data directory and its database; idempotent."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import inspect, text

from backend.db import migrations
from backend.db.session import check_connection, describe_url, engine_for
from backend.domain import MmcurateError
from backend.services.secrets import webhook_secret
from backend.settings import Settings


class NotInitialisedError(MmcurateError):
    """The database has no mmcurate tables yet."""


@dataclass(frozen=True)
class InitResult:
    data_dir: str
    database: str
    revision: str | None


def initialise(settings: Settings) -> InitResult:
    """Create the data dir layout and bring the database to the newest migration."""
    settings.ensure_dirs()
    url = settings.sqlalchemy_url
    check_connection(engine_for(url))
    migrations.upgrade(url, "head")
    webhook_secret(settings)
    return InitResult(
        data_dir=str(settings.data_dir),
        database=describe_url(url),
        revision=migrations.current_revision(url),
    )


def upgrade_database(settings: Settings, revision: str = "head") -> str | None:
    """Apply migrations up to ``revision``; returns the revision the database is at."""
    settings.ensure_dirs()
    migrations.upgrade(settings.sqlalchemy_url, revision)
    return migrations.current_revision(settings.sqlalchemy_url)


def downgrade_database(settings: Settings, revision: str) -> str | None:
    """Revert migrations down to ``revision`` (e.g. ``base`` or ``-1``); returns the revision the database is at."""
    migrations.downgrade(settings.sqlalchemy_url, revision)
    return migrations.current_revision(settings.sqlalchemy_url)


def database_revisions(settings: Settings) -> tuple[str | None, str | None]:
    """The database's current revision and the newest one the migrations know."""
    return migrations.current_revision(settings.sqlalchemy_url), migrations.head_revision(settings.sqlalchemy_url)


def ensure_initialised(settings: Settings) -> None:
    """Refuse a database that ``mmcurate init`` has not set up (no alembic version table), naming the command."""
    engine = engine_for(settings.sqlalchemy_url)
    check_connection(engine)
    if not inspect(engine).has_table("alembic_version"):
        raise NotInitialisedError(
            f"the database {describe_url(settings.sqlalchemy_url)} is not initialised; run `mmcurate init` first"
        )


def database_reachable(settings: Settings) -> bool:
    """Whether the configured database answers a trivial query (what ``/health`` reports); never raises."""
    try:
        with engine_for(settings.sqlalchemy_url).connect() as connection:
            connection.execute(text("SELECT 1"))
    except Exception:  # noqa: BLE001 - health reports, never raises
        return False
    return True
