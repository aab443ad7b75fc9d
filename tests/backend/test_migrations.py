"""The migration chain builds the whole schema on SQLite and PostgreSQL, reverses, and matches the models."""

from __future__ import annotations

from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect

from backend.db import migrations
from backend.db.models import Base
from backend.db.session import engine_for

EXPECTED_TABLES = {t.name for t in Base.metadata.sorted_tables}


def _round_trip(url: str) -> None:
    migrations.upgrade(url, "head")
    engine = engine_for(url)
    assert EXPECTED_TABLES <= set(inspect(engine).get_table_names())
    assert migrations.current_revision(url) == migrations.head_revision(url)

    migrations.downgrade(url, "base")
    engine.dispose()
    assert set(inspect(engine).get_table_names()) <= {"alembic_version"}
    assert migrations.current_revision(url) is None

    migrations.upgrade(url, "head")
    engine.dispose()
    assert EXPECTED_TABLES <= set(inspect(engine).get_table_names())


def _drift(url: str) -> list[object]:
    with engine_for(url).connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        return compare_metadata(context, Base.metadata)


def test_sqlite_upgrade_downgrade_upgrade(tmp_path: Path) -> None:
    _round_trip(f"sqlite:///{tmp_path / 'm.db'}")


@pytest.mark.postgres
def test_postgres_upgrade_downgrade_upgrade(empty_postgres_url: str) -> None:
    _round_trip(empty_postgres_url)


def test_sqlite_models_and_migrations_do_not_drift(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'd.db'}"
    migrations.upgrade(url, "head")
    assert _drift(url) == []


@pytest.mark.postgres
def test_postgres_models_and_migrations_do_not_drift(postgres_url: str) -> None:
    assert _drift(postgres_url) == []
