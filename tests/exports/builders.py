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
