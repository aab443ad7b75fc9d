"""Run alembic from code with mmcurate's settings (used by `mmcurate init` and `db upgrade`).

The migrations live inside the package (``backend/db/alembic/``), so an installed wheel
finds them beside this module; no ``alembic.ini`` or source checkout is needed.
"""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config

SCRIPT_LOCATION = Path(__file__).resolve().with_name("alembic")
"""The alembic environment (``env.py``, ``script.py.mako``, ``versions/``) shipped with the code."""


def alembic_config(url: str) -> Config:
    """An alembic configuration for the database at ``url``, independent of the working directory."""
    config = Config()
    config.set_main_option("script_location", str(SCRIPT_LOCATION))
    config.set_main_option("path_separator", "os")
    config.attributes["url"] = url
    config.attributes["configure_logging"] = False
    return config


def upgrade(url: str, revision: str = "head") -> None:
    command.upgrade(alembic_config(url), revision)


def downgrade(url: str, revision: str) -> None:
    command.downgrade(alembic_config(url), revision)


def current_revision(url: str) -> str | None:
    from alembic.runtime.migration import MigrationContext

    from backend.db.session import engine_for

    with engine_for(url).connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()


def head_revision(url: str) -> str | None:
    from alembic.script import ScriptDirectory

    return ScriptDirectory.from_config(alembic_config(url)).get_current_head()
