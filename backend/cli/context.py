"""What every CLI command needs: settings and a session on an initialised database."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Annotated

import typer
from sqlalchemy.orm import Session

from backend.db.session import session_scope
from backend.domain import SpeakerCountHint
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


NumSpeakersOpt = Annotated[int | None, typer.Option(
    "--num-speakers", min=1, max=50, help="How many people speak in each recording, when known (fixes the count).")]
MinSpeakersOpt = Annotated[int | None, typer.Option(
    "--min-speakers", min=1, max=50, help="At least this many speakers (bounds the estimate).")]
MaxSpeakersOpt = Annotated[int | None, typer.Option(
    "--max-speakers", min=1, max=50, help="At most this many speakers (bounds the estimate).")]


def speaker_hint(num: int | None, low: int | None, high: int | None) -> SpeakerCountHint:
    """The speaker-count options of a command as one hint (checked: min <= max)."""
    return SpeakerCountHint(num, low, high)
