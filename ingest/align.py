"""Words ↔ speaker turns → utterances (pure; no I/O, no models).

Each ASR word goes to the speaker turn it overlaps most (WhisperX's ``assign_word_speakers``;
a word touching no turn goes to the nearest one). Consecutive words of one speaker form an
utterance, split at speaker changes and at pauses longer than ``max_pause_s``; utterances
longer than ``max_duration_s`` are split at their longest pause; fragments shorter than
``min_duration_s`` join the same speaker's neighbour when the gap allows and the joined span
(first word's start to last word's end, pause included) stays within ``max_duration_s``.
Then filters attach a reason instead of deleting anything.

The duration bound: every utterance of two or more words lasts at most ``max_duration_s``.
A single word longer than that (a timing an ASR model can produce around long noise) cannot
be split without inventing word times, so it becomes an utterance of its own, never joined
to a neighbour, and is filtered (``"too long: ..."`` unless the no-speech filter, checked
first, matched); a kept utterance always lasts between ``min_duration_s`` and ``max_duration_s``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from typing import Sequence

from backend.domain import AsrSegment, FilterStatus, SpeakerTurn, Utterance, ValidationError, Word
from backend.language import normalize_text, script_mismatch, script_profile


@dataclass(frozen=True)
class UtteranceOptions:
    """Bounds in seconds; ``languages`` empty means any language is kept."""

    min_duration_s: float = 1.0
    max_duration_s: float = 20.0
    max_pause_s: float = 1.0
    merge_gap_s: float = 0.5
    context_size: int = 3
    min_asr_confidence: float = 0.35
    max_no_speech_prob: float = 0.6
    max_compression_ratio: float = 2.4
    languages: tuple[str, ...] = ()
    # a transcript in Latin script for a language with its own (romanised) is kept only when allowed
    allow_romanized: bool = False

    def __post_init__(self) -> None:
        if not 0 < self.min_duration_s < self.max_duration_s:
            raise ValidationError(
                f"need 0 < min_duration_s < max_duration_s, got {self.min_duration_s} and {self.max_duration_s}"
            )
        if self.max_pause_s <= 0 or self.context_size < 0:
            raise ValidationError(f"max_pause_s must be > 0 and context_size >= 0, got {self.max_pause_s}, "
                                  f"{self.context_size}")


@dataclass(frozen=True)
class SpokenWord:
    """A word with the speaker it was given and the segment facts it came from."""

    word: Word
    speaker: str | None
    speaker_confidence: float | None
    segment: AsrSegment


def assign_speakers(segments: Sequence[AsrSegment], turns: Sequence[SpeakerTurn]) -> list[SpokenWord]:
    """Every word of ``segments`` in time order with the speaker whose turns overlap it most."""
    out: list[SpokenWord] = []
    turns = sorted(turns, key=lambda t: t.start)
    for seg in segments:
        words = seg.words or (Word(seg.start, seg.end, seg.text, 1.0),)
        for word in words:
            if not word.text.strip() or word.end <= word.start:
                continue
            totals: dict[str, float] = {}
            conf: dict[str, float | None] = {}
            for turn in turns:
                shared = min(word.end, turn.end) - max(word.start, turn.start)
                if shared > 0:
                    totals[turn.speaker] = totals.get(turn.speaker, 0.0) + shared
                    conf.setdefault(turn.speaker, turn.confidence)
            if totals:
                speaker = max(totals, key=lambda s: (totals[s], s))
                out.append(SpokenWord(word, speaker, conf[speaker], seg))
            elif turns:
                mid = (word.start + word.end) / 2
                near = min(turns, key=lambda t: min(abs(t.start - mid), abs(t.end - mid)))
                out.append(SpokenWord(word, near.speaker, near.confidence, seg))
            else:
                out.append(SpokenWord(word, None, None, seg))
    out.sort(key=lambda w: (w.word.start, w.word.end))
    return out


def group_words(words: Sequence[SpokenWord], options: UtteranceOptions) -> list[list[SpokenWord]]:
    """Runs of one speaker, split at long pauses, over-long runs split at their longest gap,
    short runs merged into a same-speaker neighbour within ``merge_gap_s``.

    Every group of two or more words spans at most ``options.max_duration_s``; a group longer
    than that is a single word (see the module docstring).
    """
    groups: list[list[SpokenWord]] = []
    for w in words:
        if groups and groups[-1][-1].speaker == w.speaker and w.word.start - groups[-1][-1].word.end <= options.max_pause_s:
            groups[-1].append(w)
        else:
            groups.append([w])
    split: list[list[SpokenWord]] = []
    pending = list(groups)
    while pending:
        group = pending.pop(0)
        if _duration(group) <= options.max_duration_s or len(group) < 2:
            split.append(group)
            continue
        gaps = [group[i + 1].word.start - group[i].word.end for i in range(len(group) - 1)]
        cut = max(range(len(gaps)), key=lambda i: (gaps[i], -abs(i - len(gaps) / 2))) + 1
        pending[:0] = [group[:cut], group[cut:]]
    merged: list[list[SpokenWord]] = []
    for group in split:
        if (merged and (_duration(group) < options.min_duration_s or _duration(merged[-1]) < options.min_duration_s)
                and merged[-1][-1].speaker == group[0].speaker
                and group[0].word.start - merged[-1][-1].word.end <= options.merge_gap_s
                and _duration([*merged[-1], *group]) <= options.max_duration_s):
            merged[-1] = merged[-1] + group
        else:
            merged.append(group)
    return merged


def _duration(group: Sequence[SpokenWord]) -> float:
    """Seconds from the first word's start to the last word's end, pauses included, measured on
    the millisecond-rounded times the utterance will carry (so the bound holds for ``Utterance.duration``)."""
    return round(group[-1].word.end, 3) - round(group[0].word.start, 3)


def _join(texts: Sequence[str]) -> str:
    """Words back into text: no space between CJK characters or before clitics and punctuation."""
    out = ""
    for t in texts:
        t = t.strip()
        if not t:
            continue
        if out and not (_is_cjk(out[-1]) and _is_cjk(t[0])) and t[0] not in "'’,.!?;:%)]}、。，！？":
            out += " "
        out += t
    return out


def compression_ratio(text: str) -> float:
    """Bytes over gzip-compressed bytes; Whisper treats > 2.4 as a repetition loop (hallucination)."""
    import zlib

    raw = text.encode("utf-8")
    return len(raw) / max(1, len(zlib.compress(raw)))


def _is_cjk(ch: str) -> bool:
    return bool(ch) and ("\u3000" <= ch <= "\u9fff" or "\uac00" <= ch <= "\ud7af" or "\uff00" <= ch <= "\uffef")


def build_utterances(segments: Sequence[AsrSegment], turns: Sequence[SpeakerTurn], options: UtteranceOptions,
                     dialogue_id: str | None = None) -> list[Utterance]:
    """Utterances in dialogue order with previous-utterance context and filter reasons."""
    groups = group_words(assign_speakers(segments, turns), options)
    utterances: list[Utterance] = []
    for index, group in enumerate(groups):
        segs = list({id(w.segment): w.segment for w in group}.values())
        probs = [max(w.word.probability, 1e-6) for w in group]
        seg_conf = [math.exp(s.avg_logprob) for s in segs if s.avg_logprob is not None]
        word_conf = math.exp(sum(math.log(p) for p in probs) / len(probs))
        asr_conf = min(word_conf, sum(seg_conf) / len(seg_conf)) if seg_conf else word_conf
        no_speech = [s.no_speech_prob for s in segs if s.no_speech_prob is not None]
        langs: dict[str, float] = {}
        for w in group:
            if w.segment.language:
                langs[w.segment.language] = langs.get(w.segment.language, 0.0) + (w.word.end - w.word.start)
        language = max(langs, key=lambda k: (langs[k], k)) if langs else None
        lang_probs = [s.language_probability for s in segs if s.language == language and s.language_probability is not None]
        dia = [w.speaker_confidence for w in group if w.speaker_confidence is not None]
        utt = Utterance(
            start=round(group[0].word.start, 3),
            end=round(group[-1].word.end, 3),
            speaker=group[0].speaker,
            text=_join([w.word.text for w in group]),
            turn_index=index,
            dialogue_id=dialogue_id,
            language=language,
            language_probability=sum(lang_probs) / len(lang_probs) if lang_probs else None,
            asr_confidence=round(asr_conf, 4),
            diarization_confidence=round(sum(dia) / len(dia), 4) if dia else None,
            words=tuple(w.word for w in group),
            context=tuple(u.text for u in utterances[-options.context_size :]) if options.context_size else (),
        )
        reason = filter_reason(utt, max(no_speech) if no_speech else None, options)
        utterances.append(utt.with_filter(FilterStatus.FILTERED, reason) if reason else utt)
    return utterances


def filter_reason(utt: Utterance, no_speech_prob: float | None, options: UtteranceOptions) -> str | None:
    """Why an utterance is not sent to annotators, or None. First matching reason wins."""
    if no_speech_prob is not None and no_speech_prob > options.max_no_speech_prob and (
        utt.asr_confidence is None or utt.asr_confidence < options.min_asr_confidence
    ):
        return f"no-speech: no_speech_prob {no_speech_prob:.2f} > {options.max_no_speech_prob}"
    if utt.duration < options.min_duration_s:
        return f"too short: {utt.duration:.2f} s < {options.min_duration_s} s"
    if utt.duration > options.max_duration_s:
        return f"too long: {utt.duration:.2f} s > {options.max_duration_s} s"
    if utt.asr_confidence is not None and utt.asr_confidence < options.min_asr_confidence:
        return f"low ASR confidence: {utt.asr_confidence:.2f} < {options.min_asr_confidence}"
    if compression_ratio(utt.text) > options.max_compression_ratio:
        return (f"repetitive text: compression ratio {compression_ratio(utt.text):.1f} > "
                f"{options.max_compression_ratio} (likely an ASR loop)")
    if options.languages and utt.language not in options.languages:
        return f"language {utt.language!r} not in project languages {list(options.languages)}"
    mismatch = script_mismatch(utt.language, script_profile(normalize_text(utt.text)),
                               allow_romanized=options.allow_romanized)
    if mismatch:
        return f"wrong script: {mismatch}"
    return None


def renumber(utterances: Sequence[Utterance]) -> list[Utterance]:
    """Turn indices 0..n-1 in time order (after utterances from several sources were combined)."""
    ordered = sorted(utterances, key=lambda u: (u.start, u.end))
    return [replace(u, turn_index=i) for i, u in enumerate(ordered)]
