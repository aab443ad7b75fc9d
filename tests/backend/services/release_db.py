"""A small project in the database, ready to release: sources with licences, clips, three
annotators' judgements, gold labels and a QA run with gate decisions."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from sqlalchemy.orm import Session

from backend.db.models import (
    AggregatedLabelRow,
    Annotation,
    Annotator,
    GateDecision,
    Item,
    MediaAsset,
    Project,
    QARun,
    Source,
    UtteranceRow,
)
from tests.exports.builders import write_wav

LABELS = ("negative", "neutral", "positive")


@dataclass(frozen=True)
class SeededProject:
    project_id: int
    source_ids: list[int]
    item_ids: list[int]
    closed_source_id: int
    filtered_item_id: int


def seed_project(session: Session, data_dir: Path, *, simulated: bool = False, n_sources: int = 5, per_source: int = 3) -> SeededProject:
    """``n_sources`` cc-by-4.0 sources plus one all-rights-reserved source, each with clips."""
    project = Project(name="demo", languages=["ta", "ml"], schemes=["sentiment3"], allowed_licences=["cc-by-4.0"])
    session.add(project)
    session.flush()
    annotators = [
        Annotator(pseudonym=f"ann-00{k}", email=f"ann{k}@example.org", languages=["ta"], simulated=simulated)
        for k in (1, 2, 3)
    ]
    session.add_all(annotators)
    run = QARun(project_id=project.id, scheme="sentiment3", verdict="tentative", results={})
    session.add(run)
    session.flush()
    session.add(GateDecision(qa_run_id=run.id, field="sentiment", metric="krippendorff_alpha", value=0.52,
                             ci_low=0.31, ci_high=0.70, n_items=15, n_annotators=3, verdict="tentative"))
    source_ids, item_ids = [], []
    closed_id = filtered_id = -1
    for s in range(n_sources + 1):
        closed = s == n_sources
        source = Source(project_id=project.id, kind="file", uri=f"file:///corpus/video{s}.mp4", title=f"video {s}",
                        author=f"channel {s % 2}", licence="all-rights-reserved" if closed else "cc-by-4.0",
                        content_hash=f"hash{s}", status="done")
        session.add(source)
        session.flush()
        asset = MediaAsset(project_id=project.id, source_id=source.id, content_hash=f"hash{s}", path=f"media/{s}.mp4",
                           audio_path=f"media/{s}.wav", duration_ms=60_000, has_audio=True, has_video=True)
        session.add(asset)
        session.flush()
        for u in range(per_source):
            item = Item(project_id=project.id, source_id=source.id, kind="clip", dialogue_id=f"video{s}", turn_index=u,
                        text=f"utterance {u} of video {s}", language=["ta", "ml"][s % 2])
            session.add(item)
            session.flush()
            clip = f"clips/{item.id}.wav"
            write_wav(data_dir / clip, item.id)
            session.add(UtteranceRow(item_id=item.id, asset_id=asset.id, start_ms=2000 * u, end_ms=2000 * u + 1500,
                                  speaker_label=f"SPEAKER_0{u % 2}", asr_confidence=0.8, asr_model="faster-whisper base",
                                  clip_audio_path=clip))
            gold = LABELS[(s + u) % 3]
            votes = [gold, gold, LABELS[(s + u + 1) % 3]]
            for annotator, vote in zip(annotators, votes, strict=True):
                session.add(Annotation(item_id=item.id, annotator_id=annotator.id, scheme="sentiment3", values={"sentiment": vote}))
            session.add(AggregatedLabelRow(project_id=project.id, item_id=item.id, scheme="sentiment3", field="sentiment", value=gold, confidence=2 / 3,
                                        method="majority", distribution={gold: 2 / 3, votes[2]: 1 / 3}, n_judgements=3, qa_run_id=run.id))
            if closed:
                closed_id = source.id
            else:
                source_ids.append(source.id) if source.id not in source_ids else None
                item_ids.append(item.id)
    # one kept-out item: filtered by the pipeline
    filtered = session.get(Item, item_ids[-1])
    filtered.filter_status, filtered.filter_reason = "filtered", "music"
    filtered_id = filtered.id
    item_ids.remove(filtered_id)
    session.commit()
    return SeededProject(project.id, source_ids, item_ids, closed_id, filtered_id)
