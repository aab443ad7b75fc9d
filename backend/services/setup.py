"""Initialise a data directory and its database; idempotent."""

from __future__ import annotations

from dataclasses import dataclass

from backend.db import migrations
from backend.db.session import check_connection, engine_for, describe_url
from backend.services.secrets import webhook_secret
from backend.settings import Settings


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
