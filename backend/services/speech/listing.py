"""What the speech pipeline made, as the CLI and the API show it: utterances and stage runs."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from backend.db.models import Item, StageRun, UtteranceRow
from backend.domain import from_ms
from backend.repositories import items as item_repo
from backend.repositories import projects as project_repo
from backend.repositories import utterances as utterance_repo


def utterance_as_dict(item: Item, utt: UtteranceRow) -> dict[str, Any]:
    """The public JSON shape of an utterance (CLI --json and API agree); times in seconds.

    ``superseded`` is true for an item a later pipeline run replaced, kept for its judgements.
    """
    return {
        "id": item.id, "source_id": item.source_id, "dialogue_id": item.dialogue_id, "index": item.turn_index,
        "start": from_ms(utt.start_ms), "end": from_ms(utt.end_ms), "speaker": utt.speaker_label,
        "text": item.text, "language": item.language, "language_probability": item.language_probability,
        **item_repo.text_profile_fields(item),
        "asr_confidence": utt.asr_confidence, "diarization_confidence": utt.diarization_confidence,
        "clip_audio_path": utt.clip_audio_path, "clip_video_path": utt.clip_video_path,
        "filter_status": item.filter_status, "filter_reason": item.filter_reason, "reference": item.reference,
        "superseded": item.superseded_at is not None, "superseded_at": item.superseded_at,
    }


def list_utterances(session: Session, project: str | int, *, language: str | None = None, script: str | None = None,
                    cmi_min: float | None = None) -> list[dict[str, Any]]:
    project = project_repo.get(session, project)
    rows, _ = utterance_repo.list_page(session, project_id=project.id, language=language, script=script,
                                       cmi_min=cmi_min, limit=10_000_000)
    return [utterance_as_dict(item, utt) for item, utt in rows]


def utterance_page(session: Session, project: str | int, *, source_id: int | None = None, language: str | None = None,
                   script: str | None = None, cmi_min: float | None = None, speaker: str | None = None, filter_status: str | None = None, offset: int = 0,
                   limit: int = 100) -> tuple[list[dict[str, Any]], int]:
    """One page of the project's utterances (as :func:`utterance_as_dict`), optionally filtered; also how many match."""
    project_id = project_repo.get(session, project).id
    rows, total = utterance_repo.list_page(session, project_id=project_id, source_id=source_id, language=language,
                                           script=script, cmi_min=cmi_min, speaker=speaker, filter_status=filter_status, offset=offset, limit=limit)
    return [utterance_as_dict(item, utt) for item, utt in rows], total


def stage_runs(session: Session, project: str | int) -> list[StageRun]:
    project = project_repo.get(session, project)
    return list(session.scalars(select(StageRun).where(StageRun.project_id == project.id).order_by(StageRun.id)))
