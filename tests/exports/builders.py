"""Tiny real release inputs for the export tests: WAV clips made with numpy + soundfile."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np

from backend.domain import ValueKind
from exports.records import (
    AggregatedLabel,
    AnnotatorJudgement,
    LabelField,
    ReleaseRow,
    ReleaseSpec,
)

SENTIMENT = LabelField("sentiment", ValueKind.NOMINAL, ("negative", "neutral", "positive"))
INTENSITY = LabelField("intensity", ValueKind.ORDINAL, ("low", "medium", "high"))
EMOTION = LabelField("emotion", ValueKind.NOMINAL, ("anger", "joy", "neutral", "sadness"))


def write_wav(path: Path, seed: int, seconds: float = 0.25, rate: int = 16_000) -> Path:
    """A short deterministic tone + noise clip, 16-bit PCM mono."""
    import soundfile

    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * rate)) / rate
    samples = 0.3 * np.sin(2 * np.pi * (220 + 20 * seed) * t) + 0.01 * rng.standard_normal(t.size)
    path.parent.mkdir(parents=True, exist_ok=True)
    soundfile.write(str(path), samples.astype(np.float32), rate, subtype="PCM_16")
    return path


def make_rows(clip_dir: Path, n_sources: int = 6, per_source: int = 4, simulated: bool = False) -> list[ReleaseRow]:
    """``n_sources`` sources × ``per_source`` utterances, two speakers per source, three annotators."""
    rows = []
    langs = ["ta", "ml", "bn", "zh", "ta-en"]
    item = 0
    for s in range(n_sources):
        for u in range(per_source):
            item += 1
            gold = SENTIMENT.labels[(s + u) % 3]
            emo = EMOTION.labels[(s * 2 + u) % 4]
            votes = [gold, gold, SENTIMENT.labels[(s + u + 1) % 3]]
            rows.append(ReleaseRow(
                item_id=item,
                source_id=100 + s,
                source_uri=f"https://example.org/video/{s}",
                licence="cc-by-4.0",
                text=f"utterance {u} of source {s}",
                audio_path=write_wav(clip_dir / f"{item}.wav", item),
                speaker_label=f"SPEAKER_0{u % 2}",
                language=langs[s % len(langs)],
                dialogue_id=f"src{s}",
                utterance_index=u,
                start_s=1.5 * u,
                end_s=1.5 * u + 1.25,
                source_title=f"clip {s}",
                source_author=f"channel {s % 2}",
                asr_model="faster-whisper-base",
                asr_confidence=0.8,
                labels={
                    "sentiment": AggregatedLabel(gold, 2 / 3, {gold: 2 / 3, votes[2]: 1 / 3}, agreement=1 / 3, n_judgements=3),
                    "emotion": AggregatedLabel(emo, 1.0, {emo: 1.0}, agreement=1.0, n_judgements=3),
                },
                judgements={
                    "sentiment": tuple(AnnotatorJudgement(f"ann-00{k + 1}", v, simulated) for k, v in enumerate(votes)),
                    "emotion": tuple(AnnotatorJudgement(f"ann-00{k + 1}", emo, simulated) for k in range(3)),
                },
                simulated=simulated,
            ))
    return rows


def make_spec(**overrides) -> ReleaseSpec:
    values = dict(project="demo", version="1.0.0", licence="cc-by-4.0", fields=(SENTIMENT, EMOTION), languages=("ta", "ml"), seed=7)
    values.update(overrides)
    return ReleaseSpec(**values)


def make_context():
    """The card facts the tests expect to see in the card (agreement with CIs and verdicts)."""
    from exports.records import AgreementRecord, CardContext, SchemeRecord

    return CardContext(
        description="Test clips synthesised for the export tests.",
        scheme_names=("sentiment-emotion",),
        schemes=(SchemeRecord(
            "sentiment-emotion", "Sentiment and emotion", "Label the speaker's sentiment and emotion.",
            field_kinds=(("sentiment", ValueKind.NOMINAL), ("emotion", ValueKind.NOMINAL)),
        ),),
        n_annotators=3,
        agreement=(
            AgreementRecord("sentiment", "krippendorff_alpha", 0.412, 0.301, 0.523, 24, 3, "tentative"),
            AgreementRecord("emotion", "krippendorff_alpha", 0.912, 0.871, 0.950, 24, 3, "accept"),
        ),
        sources=(),
    )


def make_profiled_rows(clip_dir: Path) -> list[ReleaseRow]:
    """Five one-utterance sources whose texts carry a profile, with the card's numbers worked by hand.

    Three Tamil items (one all Tamil, CMI 0; one Tamil with English words, CMI 25; one romanised,
    dominant script Latin, CMI 40), one Chinese item in traditional characters (CMI 0), and one
    Malayalam item with no profile. Per language: ta 3 items, dominant Tamil 2/3 and Latin 1/3,
    romanised 1/3; zh Han 1/1, traditional 1; ml no script. CMI over the 4 profiled items:
    mean (0 + 25 + 40 + 0) / 4 = 16.25, median (0 + 25) / 2 = 12.5, 2 of 4 above 0;
    bins 0: 2, (20, 30]: 1, (30, 40]: 1.
    """
    profiles = [
        {"language": "ta", "text": "இது நல்ல படம்", "text_normalized": "இது நல்ல படம்",
         "scripts": {"Tamil": 1.0}, "dominant_script": "Tamil", "text_language": "ta", "cmi": 0.0},
        {"language": "ta", "text": "படம் semma  mass", "text_normalized": "படம் semma mass",
         "scripts": {"Latin": 0.4, "Tamil": 0.6}, "dominant_script": "Tamil", "text_language": "ta", "cmi": 25.0},
        {"language": "ta", "text": "padam semma mass ah irukku", "text_normalized": "padam semma mass ah irukku",
         "scripts": {"Latin": 1.0}, "dominant_script": "Latin", "text_language": "ta", "cmi": 40.0},
        {"language": "zh", "text": "這部電影很好", "text_normalized": "這部電影很好",
         "scripts": {"Han": 1.0}, "dominant_script": "Han", "han_variant": "traditional", "text_language": "zh", "cmi": 0.0},
        {"language": "ml", "text": "nalla"},
    ]
    rows = make_rows(clip_dir, n_sources=len(profiles), per_source=1)
    return [dataclasses.replace(row, **profile) for row, profile in zip(rows, profiles, strict=True)]


EMOTIONS = ("anger", "disgust", "fear", "joy", "sadness", "surprise")
"""BRIGHTER's six emotions, in its files' column order."""
OFFENSIVE = LabelField("offensive", ValueKind.ORDINAL, ("none", "mild", "strong"))
VALENCE = LabelField("valence", ValueKind.INTERVAL, minimum=1, maximum=9)
EMOTION_SET = LabelField("emotions", ValueKind.MULTI_LABEL, EMOTIONS)
EMOTION_INTENSITY = LabelField("emotion_intensity", ValueKind.MULTI_LABEL_INTENSITY, EMOTIONS, max_intensity=3)
OCR_FIELD = LabelField("ocr_text", ValueKind.FREE_TEXT, column="ocr_text_annotated")
ALL_KINDS = (SENTIMENT, OFFENSIVE, VALENCE, EMOTION_SET, EMOTION_INTENSITY, OCR_FIELD)
"""One field of every kind (the free-text one named like the `ocr_text` column every release has)."""


def write_image(path: Path, size: tuple[int, int], seed: int, fmt: str = "PNG") -> Path:
    """A small deterministic RGB image (a colour block with a stripe), saved with Pillow."""
    from PIL import Image, ImageDraw

    image = Image.new("RGB", size, ((40 * seed) % 256, (90 + 17 * seed) % 256, 200))
    ImageDraw.Draw(image).line([(0, 0), (size[0] - 1, size[1] - 1)], fill=(255, 255, 255), width=1)
    path.parent.mkdir(parents=True, exist_ok=True)
    image.save(path, fmt)
    return path


def judged(field: str, values: list, simulated: bool = False) -> dict[str, tuple[AnnotatorJudgement, ...]]:
    """``{field: judgements}`` of ann-001, ann-002, … in order, one value each."""
    return {field: tuple(AnnotatorJudgement(f"ann-00{k + 1}", v, simulated) for k, v in enumerate(values))}


def make_item_rows(media_dir: Path) -> list[ReleaseRow]:
    """Rows that are not clips, labelled in fields of every kind (``ALL_KINDS``).

    Items 1–4: memes (images 20×10, 21×11, …) from two sources, with OCR text; 3 and 4 are
    near-duplicates (group ``dup-1``) from different sources. Items 5–7: three turns of one
    Telegram-style chat; turn 6 answers turn 5 and carries two stickers (a 16×16 PNG, then an
    8×12 WEBP). Items 8–12: texts from five sources with SemEval-style external ids (12 has none).
    Every item has sentiment, emotions, emotion intensity, offensiveness and valence; images
    also have the annotators' OCR corrections (no adjudicated text: the column holds the medoid).
    """
    from datetime import UTC, datetime

    rows = []
    sentiment = SENTIMENT.labels
    for item in range(1, 13):
        k = item % 3
        emotions = (("joy",), ("anger", "disgust"), ())[k]
        intensity = {"joy": 2} if k == 0 else ({"anger": 3, "disgust": 1} if k == 1 else {})
        labels = {
            "sentiment": AggregatedLabel(sentiment[k], 2 / 3, {sentiment[k]: 2 / 3, sentiment[(k + 1) % 3]: 1 / 3}, 1 / 3, 3),
            "offensive": AggregatedLabel(OFFENSIVE.labels[k], 1.0, {OFFENSIVE.labels[k]: 1.0}, 1.0, 3),
            "valence": AggregatedLabel(2.0 + item / 2, 0.9, {"mean": 2.0 + item / 2, "std": 0.5}, 0.875, 3),
            "emotions": AggregatedLabel(list(emotions), 0.8, {e: 2 / 3 for e in emotions}, 0.5556, 3),
            "emotion_intensity": AggregatedLabel(intensity, 0.75, {e: float(v) for e, v in intensity.items()}, 0.9, 3),
        }
        judgements = {
            **judged("sentiment", [sentiment[k], sentiment[k], sentiment[(k + 1) % 3]]),
            **judged("offensive", [OFFENSIVE.labels[k]] * 3),
            **judged("valence", [2.0 + item / 2 - 0.5, 2.0 + item / 2, 2.0 + item / 2 + 0.5]),
            **judged("emotions", [list(emotions), list(emotions), ["fear"]]),
            **judged("emotion_intensity", [intensity, intensity, {"fear": 1}]),
        }
        values: dict = {"item_id": item, "licence": "cc-by-4.0", "labels": labels, "judgements": judgements}
        if item <= 4:
            ocr = f"when the code runs {item}"
            judgements.update(judged("ocr_text", [ocr, f"when the code run {item}", f"wen teh code runs {item}"]))
            values.update(kind="image", source_id=10 + item % 2, text="", ocr_text=ocr, language="en",
                          image_path=write_image(media_dir / f"meme{item}.png", (19 + item, 9 + item), item),
                          external_id=f"memes/{item}.png", duplicate_group="dup-1" if item >= 3 else None)
        elif item <= 7:
            turn = item - 5
            values.update(kind="chat_turn", source_id=20, text=f"turn {turn} of the chat", language="ta-en",
                          dialogue_id="chat-1", utterance_index=turn, author=f"author-00{1 + turn % 2}",
                          posted_at=datetime(2024, 3, 1, 12, turn, 5, tzinfo=UTC), external_id=str(4000 + turn),
                          reply_to_item_id=5 if item == 6 else None)
            if item == 6:
                values["attachment_paths"] = (
                    write_image(media_dir / "sticker-a.png", (16, 16), 7),
                    write_image(media_dir / "sticker-b.webp", (8, 12), 8, fmt="WEBP"),
                )
        else:
            values.update(kind="text", source_id=30 + item, text=f"text number {item}", language="en",
                          external_id=f"eng_train_track_a_{item:05d}" if item != 12 else None)
        values["source_uri"] = f"https://example.org/source/{values['source_id']}"
        rows.append(ReleaseRow(**values))
    return rows


def make_item_spec(**overrides) -> ReleaseSpec:
    values = dict(project="memes", version="1.0.0", licence="cc-by-4.0", fields=ALL_KINDS, languages=("en",), seed=3)
    values.update(overrides)
    return ReleaseSpec(**values)
