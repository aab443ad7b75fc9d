"""Shared fixtures: a data dir per test, migrated SQLite and real PostgreSQL databases.

PostgreSQL is required, never skipped: scripts/test makes sure a server listens on
MMCURATE_TEST_PG (default postgresql+psycopg://postgres@127.0.0.1:5432/test). Each test
session creates its own database there and drops it at the end.

Hypothesis runs under one of two profiles: ``ci`` (chosen when the ``CI`` environment variable
is set, as `.ci/run` does) replays the same derandomized examples on every run, with no
deadline and no example database, so CI is never flaky; ``dev`` (the default) draws fresh
examples each run and remembers failures in ``.hypothesis/``. ``HYPOTHESIS_PROFILE=ci``
picks a profile by name, e.g. to replay CI's examples locally.

Fixture modules shared across folders are registered once below as plugins (``pytest_plugins``);
tests ask for their fixtures by name and never import them.
"""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck
from hypothesis import settings as hypothesis_settings
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session

from backend.db import migrations
from backend.db.models import Base
from backend.db.session import engine_for, session_factory
from backend.settings import Settings, get_settings

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("PYANNOTE_METRICS_ENABLED", "false")

# Both start from Hypothesis's plain defaults: Hypothesis itself switches to its own CI settings
# whenever a CI variable exists at all (even CI=false), which "dev" must not inherit.
hypothesis_settings.register_profile(
    "ci", hypothesis_settings.get_profile("default"), derandomize=True, database=None, deadline=None,
    max_examples=100, print_blob=True, suppress_health_check=[HealthCheck.too_slow],
)
hypothesis_settings.register_profile("dev", hypothesis_settings.get_profile("default"), deadline=None)
hypothesis_settings.load_profile(
    os.environ.get("HYPOTHESIS_PROFILE")
    or ("ci" if os.environ.get("CI", "").strip().lower() not in ("", "0", "false", "no") else "dev")
)

pytest_plugins = [
    "tests.annotation_configs.labelstudio_fixtures",  # real Label Studio: ls_install, ls_fleet, ...
    "tests.loopback_media",  # a loopback web site for fetching: loopback_site, served_dialogue
    "tests.backend.services.speech_world",  # both speech engines' world: whisper_base, in_process_reference, ...
]

PG_ADMIN_URL = os.environ.get("MMCURATE_TEST_PG", "postgresql+psycopg://postgres@127.0.0.1:5432/test")


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A SQLite file migrated to head once per session; tests get copies."""
    path = tmp_path_factory.mktemp("sqlite-template") / "template.db"
    url = f"sqlite:///{path}"
    migrations.upgrade(url, "head")
    engine_for(url).dispose()
    return path


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """A fresh PostgreSQL database for this test session, migrated to head, dropped afterwards."""
    admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    name = f"mmcurate_test_{uuid.uuid4().hex[:10]}"
    try:
        with admin.connect() as connection:
            connection.execute(text(f'CREATE DATABASE "{name}"'))
    except Exception as exc:  # a missing server must fail the suite, not skip it
        pytest.fail(f"PostgreSQL is required for the test suite and is not reachable at {PG_ADMIN_URL}: {exc}")
    url = make_url(PG_ADMIN_URL).set(database=name).render_as_string(hide_password=False)
    try:
        migrations.upgrade(url, "head")
        yield url
    finally:
        engine_for(url).dispose()
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture(scope="session")
def empty_postgres_url() -> Iterator[str]:
    """An empty PostgreSQL database (no migrations) for migration tests."""
    admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    name = f"mmcurate_mig_{uuid.uuid4().hex[:10]}"
    try:
        with admin.connect() as connection:
            connection.execute(text(f'CREATE DATABASE "{name}"'))
    except Exception as exc:
        pytest.fail(f"PostgreSQL is required for the test suite and is not reachable at {PG_ADMIN_URL}: {exc}")
    url = make_url(PG_ADMIN_URL).set(database=name).render_as_string(hide_password=False)
    try:
        yield url
    finally:
        engine_for(url).dispose()
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def _truncate_postgres(url: str) -> None:
    tables = ", ".join(f'"{t.name}"' for t in reversed(Base.metadata.sorted_tables))
    with engine_for(url).begin() as connection:
        connection.execute(text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))


@pytest.fixture(params=["sqlite", "postgres"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path, sqlite_template: Path) -> Iterator[str]:
    """A migrated, empty database: once on SQLite and once on real PostgreSQL."""
    if request.param == "sqlite":
        path = tmp_path / "mmcurate.db"
        shutil.copyfile(sqlite_template, path)
        url = f"sqlite:///{path}"
        yield url
        engine_for(url).dispose()
    else:
        url = request.getfixturevalue("postgres_url")
        _truncate_postgres(url)
        yield url
        _truncate_postgres(url)


@pytest.fixture
def sqlite_url(tmp_path: Path, sqlite_template: Path) -> Iterator[str]:
    """A migrated, empty SQLite database inside this test's data dir."""
    data_dir = tmp_path / "var"
    data_dir.mkdir(exist_ok=True)
    path = data_dir / "mmcurate.db"
    shutil.copyfile(sqlite_template, path)
    url = f"sqlite:///{path}"
    yield url
    engine_for(url).dispose()


def make_settings(data_dir: Path, url: str) -> Settings:
    return Settings(data_dir=data_dir, database_url=url)


@pytest.fixture
def settings(tmp_path: Path, sqlite_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[Settings]:
    """Settings on a fresh data dir and migrated SQLite database, also visible to the CLI via env."""
    data_dir = tmp_path / "var"
    monkeypatch.setenv("MMCURATE_DATA_DIR", str(data_dir))
    monkeypatch.setenv("MMCURATE_DATABASE_URL", sqlite_url)
    get_settings.cache_clear()
    config = get_settings()
    config.ensure_dirs()
    yield config
    get_settings.cache_clear()


@pytest.fixture
def any_settings(tmp_path: Path, db_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[Settings]:
    """Like ``settings`` but parametrised over SQLite and PostgreSQL."""
    data_dir = tmp_path / "var"
    monkeypatch.setenv("MMCURATE_DATA_DIR", str(data_dir))
    monkeypatch.setenv("MMCURATE_DATABASE_URL", db_url)
    get_settings.cache_clear()
    config = get_settings()
    config.ensure_dirs()
    yield config
    get_settings.cache_clear()


@pytest.fixture
def session(settings: Settings) -> Iterator[Session]:
    """A session on the ``settings`` database (SQLite); committed work stays for the test."""
    db = session_factory(settings.sqlalchemy_url)()
    try:
        yield db
    finally:
        db.close()


@pytest.fixture
def any_session(any_settings: Settings) -> Iterator[Session]:
    """A session on SQLite and, in a second run, on PostgreSQL."""
    db = session_factory(any_settings.sqlalchemy_url)()
    try:
        yield db
    finally:
        db.close()


@pytest.fixture
def cli(settings: Settings):  # type: ignore[no-untyped-def]
    """Run `mmcurate ARGS...` in-process on the test's settings; returns (exit_code, stdout, stderr)."""
    from click.testing import CliRunner

    from backend.cli import app
    from backend.cli.output import run_cli

    def invoke(*args: str, input: str | None = None) -> tuple[int, str, str]:
        runner = CliRunner()
        holder: dict[str, int] = {}

        def _main() -> None:
            holder["code"] = run_cli(app, list(args))

        import click

        command = click.Command("mmcurate", callback=_main)
        result = runner.invoke(command, [], input=input, catch_exceptions=False)
        return holder.get("code", result.exit_code), result.stdout, result.stderr

    return invoke
