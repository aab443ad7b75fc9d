"""The stage ledger: one ``stage_runs`` row per (stage, subject, configuration hash).

A row is ``running`` while its stage works, ``done`` once the stage's results are committed
(in the same transaction as the row, with its details, model, version and duration), or
``failed`` with the reason. A crash leaves at most one ``running`` row; the runner redoes
every row that is not ``done``, reusing it. Prepare works on a source (``SubjectType.SOURCE``),
the later stages on its prepared asset (``SubjectType.ASSET``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from backend.db.models import StageRun
from backend.domain import StageStatus, SubjectType

@dataclass
class StageLedger:
    """The stage runs of one project."""

    session: Session
    project_id: int

    def find(self, stage: str, subject_type: SubjectType, subject_id: int, chash: str) -> StageRun | None:
        """The run of ``stage`` on the subject under configuration hash ``chash``, whatever its status."""
        return self.session.scalar(select(StageRun).where(
            StageRun.stage == stage, StageRun.subject_type == subject_type, StageRun.subject_id == subject_id,
            StageRun.config_hash == chash))

    def done(self, stage: str, subject_type: SubjectType, subject_id: int, chash: str) -> StageRun | None:
        """That run if it is done, else ``None``."""
        run = self.find(stage, subject_type, subject_id, chash)
        return run if run is not None and run.status == StageStatus.DONE else None

    def newest_done(self, stage: str, subject_type: SubjectType, subject_id: int) -> StageRun | None:
        """The done run of ``stage`` on the subject that finished last, whatever its configuration."""
        return self.session.scalars(select(StageRun).where(
            StageRun.stage == stage, StageRun.subject_type == subject_type, StageRun.subject_id == subject_id,
            StageRun.status == StageStatus.DONE).order_by(StageRun.finished_at.desc(), StageRun.id.desc()).limit(1)).first()

    def start(self, stage: str, subject_type: SubjectType, subject_id: int, chash: str) -> StageRun:
        """Mark the run ``running`` (a new row, or the failed or interrupted one reused) and commit."""
        run = self.find(stage, subject_type, subject_id, chash)
        if run is None:
            run = StageRun(project_id=self.project_id, stage=stage, subject_type=subject_type,
                           subject_id=subject_id, config_hash=chash, status=StageStatus.RUNNING)
            self.session.add(run)
        run.status, run.error, run.started_at, run.finished_at = StageStatus.RUNNING, None, _now(), None
        self.session.commit()
        return run

    def finish(self, run: StageRun, *, model: str | None, version: str | None, details: dict[str, Any]) -> None:
        """Mark the run ``done`` and commit it together with the stage's uncommitted results."""
        run.status, run.model, run.model_version, run.details = StageStatus.DONE, model, version, details
        run.finished_at = _now()
        run.duration_ms = int((run.finished_at - aware(run.started_at)).total_seconds() * 1000)
        self.session.commit()

    def fail(self, run: StageRun, error: str) -> None:
        """Roll back the stage's uncommitted results, then mark the run ``failed`` with ``error`` and commit."""
        self.session.rollback()
        run = self.session.merge(run)
        run.status, run.error, run.finished_at = StageStatus.FAILED, error, _now()
        run.duration_ms = int((run.finished_at - aware(run.started_at)).total_seconds() * 1000)
        self.session.commit()


def _now() -> datetime:
    return datetime.now(timezone.utc)


def aware(value: datetime) -> datetime:
    """``value`` with UTC attached where the database gave it back naive (SQLite)."""
    return value if value.tzinfo else value.replace(tzinfo=timezone.utc)
