"""An asset's utterances as clip items, replaced after a pipeline re-run without losing human work.

Used by the utterances stage (``backend.services.speech.stages``); see :func:`replace_utterances`.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import datetime, timezone
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from backend.db.models import Item, MediaAsset, Project, Source, Speaker, StageRun, UtteranceRow
from backend.domain import ItemKind, MmcurateError, Span, Transcript, Utterance, ValidationError, to_ms
from backend.repositories import items as item_repo
from backend.services.text import apply_text_profile


@dataclass(frozen=True)
class ReplaceOutcome:
    """What :func:`replace_utterances` did with the asset's earlier items."""

    created: int
    reused: int      # an annotated item whose span, speaker and text came out again: kept, live
    superseded: int  # an annotated item that did not come out again: kept, marked superseded
    deleted: int     # an item nobody worked on: replaced

    def as_details(self) -> dict[str, int]:
        return {"created": self.created, "reused": self.reused, "superseded": self.superseded,
                "deleted": self.deleted}


def replace_utterances(session: Session, project: Project, source: Source, asset: MediaAsset,
                       utterances: list[Utterance], transcript: Transcript,
                       run: StageRun | None = None) -> ReplaceOutcome:
    """Make ``utterances`` this asset's live clip items without losing any human work.

    The asset's earlier items (live, and superseded ones kept from before) are matched by
    (start ms, end ms, speaker label, text):

    - an item people worked on (see ``backend.repositories.items.with_human_work``) that comes out again is
      reused: same id, so its judgements stay attached, and live again if it was superseded;
      its speech details (confidences, language, filter status, context) are updated;
    - a live item people worked on that does not come out again is kept and marked
      superseded (``items.superseded_at``, ``items.superseded_by_run_id`` = ``run``); its clip
      files stay where they are (clips are content-addressed and never deleted);
    - a live item nobody worked on is deleted; the new utterances become new items.

    Live items of an asset are unique by (span, speaker); a superseded one may share them.
    Not committed: the ledger commits it with the stage's ``done`` row.
    """
    rows = session.execute(select(Item, UtteranceRow).join(UtteranceRow, UtteranceRow.item_id == Item.id)
                           .where(UtteranceRow.asset_id == asset.id).order_by(Item.id)).tuples().all()
    worked_on = item_repo.with_human_work(session, [item.id for item, _ in rows])
    reusable: dict[tuple[int, int, str | None, str | None], tuple[Item, UtteranceRow]] = {}
    for item, utt_row in rows:
        if item.id in worked_on:
            reusable.setdefault((utt_row.start_ms, utt_row.end_ms, utt_row.speaker_label, item.text), (item, utt_row))
    keys = [(to_ms(u.start), to_ms(u.end), u.speaker, u.text) for u in utterances]
    reused = {reusable[key][0].id: reusable[key] for key in keys if key in reusable}
    now = datetime.now(timezone.utc)
    superseded = deleted = 0
    for item, _ in rows:
        if item.id in reused or item.superseded_at is not None:
            continue
        if item.id in worked_on:
            item.superseded_at, item.superseded_by_run_id = now, run.id if run is not None else None
            superseded += 1
        else:
            deleted += 1
    gone = {item.id for item, _ in rows if item.superseded_at is None and item.id not in worked_on}
    ordered = sorted(gone)
    for start in range(0, len(ordered), 900):
        session.execute(delete(Item).where(Item.id.in_(ordered[start:start + 900]))
                        .execution_options(synchronize_session=False))
    for item, utt_row in rows:  # deleted in the database; forget them here too, their ids may come back
        if item.id in gone:
            session.expunge(item)
            if utt_row in session:
                session.expunge(utt_row)
    session.flush()

    speakers: dict[str, Speaker] = {s.label: s for s in session.scalars(
        select(Speaker).where(Speaker.source_id == source.id))}
    lines = (source.extra or {}).get("reference_lines") or []
    previous: Item | None = None
    seen: set[tuple[int, int, str | None]] = set()
    created = 0
    for utt, key in zip(utterances, keys):
        if key[:3] in seen:
            raise ValidationError(f"two utterances of source {source.id} share the span {utt.start:.3f}-"
                                  f"{utt.end:.3f} s and speaker {utt.speaker!r}; nothing was changed")
        seen.add(key[:3])
        speaker = None
        if utt.speaker:
            speaker = speakers.get(utt.speaker)
            if speaker is None:
                speaker = Speaker(project_id=project.id, source_id=source.id, label=utt.speaker)
                session.add(speaker)
                speakers[utt.speaker] = speaker
        no_speech = [seg.no_speech_prob for seg in transcript.segments
                     if seg.no_speech_prob is not None and seg.start < utt.end and seg.end > utt.start]
        found = reusable.get(key)
        if found is not None and found[0].id in reused:
            item, utt_row = found
            item.superseded_at, item.superseded_by_run_id = None, None
        else:
            item = Item(project_id=project.id, source_id=source.id, kind=ItemKind.CLIP, text=utt.text)
            session.add(item)
            session.flush()
            utt_row = UtteranceRow(item_id=item.id, asset_id=asset.id, start_ms=key[0], end_ms=key[1],
                                   speaker_label=utt.speaker)
            session.add(utt_row)
            created += 1
        item.dialogue_id, item.turn_index = utt.dialogue_id, utt.turn_index
        item.language, item.language_probability = utt.language, utt.language_probability
        apply_text_profile(item, project)
        item.reference = reference_for(utt, lines)
        item.filter_status, item.filter_reason = utt.filter_status, utt.filter_reason
        item.reply_to_id = previous.id if previous is not None else None
        session.flush()
        utt_row.speaker_id = speaker.id if speaker else None
        utt_row.asr_confidence, utt_row.diarization_confidence = utt.asr_confidence, utt.diarization_confidence
        utt_row.no_speech_prob = max(no_speech) if no_speech else None
        utt_row.asr_model = transcript.model
        utt_row.words, utt_row.context = [asdict(w) for w in utt.words], list(utt.context)
        previous = item
    session.flush()
    return ReplaceOutcome(created=created, reused=len(reused), superseded=superseded, deleted=deleted)


def reference_for(utt: Utterance, lines: list[dict[str, Any]]) -> dict[str, Any]:
    """The intended labels of the sidecar line that overlaps ``utt`` most (empty when none does)."""
    best, best_overlap = None, 0.0
    span = Span(utt.start, utt.end)
    for line in lines:
        try:
            other = Span(float(line["start"]), float(line["end"]))
        except (KeyError, TypeError, ValueError, MmcurateError):
            continue
        shared = span.overlap(other)
        if shared > best_overlap:
            best, best_overlap = line, shared
    if best is None:
        return {}
    return {k: v for k, v in best.items() if k not in {"start", "end", "speaker", "text", "language"}}
