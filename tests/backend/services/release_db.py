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


@dataclass(frozen=True)
class SeededItems:
    """Ids of ``seed_items_project``'s items by role."""

    image: int
    duplicate_unlabelled: int
    duplicate_labelled: int
    turn0: int
    turn1: int
    sticker_first: int
    sticker_second: int
    text: int


def seed_items_project(session: Session, data_dir: Path) -> SeededItems:
    """Project ``memes`` with schemes of every kind but ordinal, and items that are not clips.

    Source 1 (file): meme ``image`` (labelled, representative of group ``dup-1``), a member of
    that group without labels and one with imported labels of its own. Source 2 (chat): two
    turns, the second answering the first and carrying two stickers — stored in the order
    (turn_index 2, turn_index 1), so the release must reorder them — and a third, filtered
    sticker. Source 3: a text with a SemEval-style external id. Three annotators judge every
    labelled item in every field; QA rows exist for the image only.
    """
    from datetime import datetime, timezone

    from tests.exports.builders import write_image

    project = Project(name="memes", languages=["en"], allowed_licences=[],
                      schemes=["sentiment3", "emotion_multilabel", "emotion_intensity", "valence_arousal", "transcript"])
    session.add(project)
    session.flush()
    annotators = [Annotator(pseudonym=f"ann-00{k}", email=f"m{k}@example.org", languages=["en"]) for k in (1, 2, 3)]
    session.add_all(annotators)
    sources = [Source(project_id=project.id, kind="file", uri=f"file:///corpus/{name}", title=name, licence="cc-by-4.0",
                      content_hash=f"h-{name}", status="done") for name in ("memes", "chat.json", "texts.csv")]
    session.add_all(sources)
    session.flush()

    def item(source: Source, kind: str, **values) -> Item:
        row = Item(project_id=project.id, source_id=source.id, kind=kind, language="en", **values)
        session.add(row)
        session.flush()
        return row

    image = item(sources[0], "image", media_path="images/1.png", ocr_text="when the code runs", external_id="memes/1.png",
                 duplicate_group="dup-1")
    dup_plain = item(sources[0], "image", media_path="images/2.png", duplicate_group="dup-1", duplicate_of_id=image.id)
    dup_labelled = item(sources[0], "image", media_path="images/3.png", duplicate_group="dup-1", duplicate_of_id=image.id)
    for k, size in ((1, (20, 10)), (2, (20, 10)), (3, (21, 11))):
        write_image(data_dir / f"images/{k}.png", size, k)
    posted = datetime(2024, 3, 1, 12, 0, 5, tzinfo=timezone.utc)
    turn0 = item(sources[1], "chat_turn", dialogue_id="chat-9", turn_index=0, text="who made this?", author="author-001",
                 posted_at=posted, external_id="101")
    turn1 = item(sources[1], "chat_turn", dialogue_id="chat-9", turn_index=1, text="me :)", author="author-002",
                 posted_at=posted.replace(minute=1), external_id="102", reply_to_id=turn0.id)
    second = item(sources[1], "image", parent_id=turn1.id, turn_index=2, media_path="stickers/b.webp")
    first = item(sources[1], "image", parent_id=turn1.id, turn_index=1, media_path=str(data_dir / "stickers/a.png"))
    item(sources[1], "image", parent_id=turn1.id, turn_index=3, media_path="stickers/c.png", filter_status="filtered")
    write_image(data_dir / "stickers/a.png", (16, 16), 7)
    write_image(data_dir / "stickers/b.webp", (8, 12), 8, fmt="WEBP")
    text = item(sources[2], "text", text="I was beyond furious.", external_id="eng_dev_track_a_00045")

    votes = {
        "sentiment3": [{"sentiment": "negative"}, {"sentiment": "negative"}, {"sentiment": "neutral"}],
        "emotion_multilabel": [{"emotions": ["anger", "disgust"]}, {"emotions": ["anger"]}, {"emotions": ["anger"]}],
        "emotion_intensity": [{"emotion_intensity": {"anger": 3, "joy": 0}}, {"emotion_intensity": {"anger": 2}},
                              {"emotion_intensity": {"anger": 3, "fear": 1}}],
        "valence_arousal": [{"valence": 2, "arousal": 8}, {"valence": 3, "arousal": 7}, {"valence": 2, "arousal": 9}],
        "transcript": [{"transcript": "when the code runs"}, {"transcript": "when the code run"},
                       {"transcript": "wen teh code runs"}],
    }
    for target in (image, dup_labelled, turn0, turn1, text):
        for scheme, per_annotator in votes.items():
            for annotator, values in zip(annotators, per_annotator, strict=True):
                session.add(Annotation(item_id=target.id, annotator_id=annotator.id, scheme=scheme, values=values))
    for field, scheme, value, distribution in (
        ("sentiment", "sentiment3", "negative", {"negative": 2 / 3, "neutral": 1 / 3}),
        ("emotions", "emotion_multilabel", ["anger"], {"anger": 1.0, "disgust": 1 / 3}),
        ("emotion_intensity", "emotion_intensity", {"anger": 3, "disgust": 0, "fear": 0, "joy": 0, "sadness": 0, "surprise": 0},
         {"anger": 8 / 3, "fear": 1 / 3}),
        ("valence", "valence_arousal", 7 / 3, {"mean": 7 / 3, "std": 0.4714}),
    ):
        session.add(AggregatedLabelRow(project_id=project.id, item_id=image.id, scheme=scheme, field=field, value=value,
                                       confidence=0.8, method="test", distribution=distribution, n_judgements=3))
    session.commit()
    return SeededItems(image.id, dup_plain.id, dup_labelled.id, turn0.id, turn1.id, first.id, second.id, text.id)
