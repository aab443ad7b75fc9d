"""ingest.align: words ↔ speaker turns → utterances; invariants checked with Hypothesis."""

from __future__ import annotations

from hypothesis import assume, given, settings
from hypothesis import strategies as st

from backend.domain import AsrSegment, SpeakerTurn, Word
from ingest.align import UtteranceOptions, assign_speakers, build_utterances, compression_ratio


def seg(words, lang="en", logprob=-0.2, no_speech=0.01):
    return AsrSegment(words[0].start, words[-1].end, " ".join(w.text for w in words), tuple(words), lang, 0.9,
                      logprob, no_speech)


def test_words_go_to_the_turn_they_overlap_most():
    words = [Word(0.0, 0.5, "hello"), Word(0.9, 1.4, "there"), Word(3.0, 3.3, "far")]
    turns = [SpeakerTurn(0.0, 1.0, "A"), SpeakerTurn(1.0, 2.0, "B")]
    spoken = assign_speakers([seg(words)], turns)
    # "there" spans 0.9-1.4: 0.1 s with A, 0.4 s with B; "far" touches no turn and takes the nearest
    assert [w.speaker for w in spoken] == ["A", "B", "B"]


def test_speaker_change_and_long_pause_split_utterances():
    words = [Word(0.0, 0.6, "one"), Word(0.7, 1.3, "two"), Word(1.4, 2.0, "three"),  # A
             Word(2.1, 2.8, "four"), Word(2.9, 3.5, "five"),  # B
             Word(6.0, 6.6, "six"), Word(6.7, 7.4, "seven")]  # B again after a 2.5 s pause
    turns = [SpeakerTurn(0.0, 2.05, "A"), SpeakerTurn(2.05, 8.0, "B")]
    utts = build_utterances([seg(words)], turns, UtteranceOptions(min_duration_s=0.5), "d1")
    assert [(u.speaker, u.text) for u in utts] == [("A", "one two three"), ("B", "four five"), ("B", "six seven")]
    assert [u.turn_index for u in utts] == [0, 1, 2] and {u.dialogue_id for u in utts} == {"d1"}
    assert utts[2].context == ("one two three", "four five")


def test_overlong_runs_are_split_at_their_longest_pause():
    words = [Word(i * 1.0, i * 1.0 + 0.8, f"w{i}") for i in range(30)]
    words[14] = Word(14.0, 14.2, "w14")  # the longest gap follows w14
    utts = build_utterances([seg(words)], [SpeakerTurn(0.0, 31.0, "A")], UtteranceOptions(max_duration_s=20.0))
    assert len(utts) == 2 and utts[0].text.endswith("w14") and all(u.duration <= 20.0 for u in utts)


def test_short_fragment_is_not_merged_past_max_duration():
    """Regression (issue 11, found by Hypothesis): the merge of a short fragment into its
    neighbour summed the two durations and ignored the pause between them, so two words
    spanning 0.0-3.75 s became one utterance with ``max_duration_s=3.5``."""
    words = [Word(0.0, 2.0, "first"), Word(2.4, 3.75, "second")]
    opts = UtteranceOptions(min_duration_s=1.5, max_duration_s=3.5, max_pause_s=1.0)
    utts = build_utterances([seg(words)], [SpeakerTurn(0.0, 4.0, "A")], opts)
    assert [(u.start, u.end, u.text) for u in utts] == [(0.0, 2.0, "first"), (2.4, 3.75, "second")]
    assert utts[1].filter_reason == "too short: 1.35 s < 1.5 s"


def test_a_single_word_longer_than_max_duration_stands_alone_and_is_filtered():
    words = [Word(0.0, 0.9, "before"), Word(1.0, 5.0, "mmmmm"), Word(5.1, 6.0, "after")]
    opts = UtteranceOptions(min_duration_s=0.5, max_duration_s=3.5)
    utts = build_utterances([seg(words)], [SpeakerTurn(0.0, 7.0, "A")], opts)
    assert [u.text for u in utts] == ["before", "mmmmm", "after"]
    assert utts[1].filter_status == "filtered" and utts[1].filter_reason == "too long: 4.00 s > 3.5 s"


def test_filters_attach_reasons_and_keep_the_utterance():
    opts = UtteranceOptions(languages=("ta",), min_asr_confidence=0.4)
    cases = {
        "too short": [seg([Word(0.0, 0.4, "hi")], lang="ta")],
        "language 'en' not in project languages": [seg([Word(0.0, 1.5, "hello"), Word(1.6, 2.5, "friend")])],
        "low ASR confidence": [seg([Word(0.0, 1.5, "x", 0.1), Word(1.6, 2.5, "y", 0.1)], lang="ta", logprob=-2.5)],
        "no-speech": [seg([Word(0.0, 1.5, "uh", 0.2), Word(1.6, 2.5, "um", 0.2)], lang="ta", logprob=-2.0,
                          no_speech=0.9)],
    }
    for reason, segments in cases.items():
        (utt,) = build_utterances(segments, [SpeakerTurn(0.0, 3.0, "A")], opts)
        assert utt.filter_status == "filtered" and utt.filter_reason.startswith(reason), (reason, utt.filter_reason)
    (good,) = build_utterances([seg([Word(0.0, 1.5, "வணக்கம்"), Word(1.6, 2.5, "நண்பா")], lang="ta")],
                               [SpeakerTurn(0.0, 3.0, "A")], opts)
    assert good.filter_status == "kept" and good.filter_reason is None


def test_repetition_loops_are_filtered():
    loop = " ".join(["தோமுதிற்குத்"] * 12)
    assert compression_ratio(loop) > 2.4 > compression_ratio("I am so happy to see you again today.")
    words = [Word(i * 0.5, i * 0.5 + 0.4, "தோமுதிற்குத்") for i in range(12)]
    (utt,) = build_utterances([seg(words, lang="ta")], [SpeakerTurn(0.0, 7.0, "A")], UtteranceOptions())
    assert utt.filter_reason.startswith("repetitive text")


def test_chinese_words_join_without_spaces():
    words = [Word(0.0, 0.5, "今天"), Word(0.5, 1.0, "我"), Word(1.0, 1.6, "很"), Word(1.6, 2.2, "高兴")]
    (utt,) = build_utterances([seg(words, lang="zh")], [SpeakerTurn(0.0, 3.0, "A")], UtteranceOptions())
    assert utt.text == "今天我很高兴"


@st.composite
def dialogues(draw):
    n = draw(st.integers(1, 40))
    t, words = 0.0, []
    for i in range(n):
        t += draw(st.floats(0.0, 2.5))
        length = draw(st.floats(0.05, 1.5))
        words.append(Word(round(t, 3), round(t + length, 3), f"w{i}", draw(st.floats(0.05, 1.0))))
        t += length
    k = draw(st.integers(1, 4))
    cuts = sorted(draw(st.lists(st.floats(0.0, t), max_size=8)))
    bounds = [0.0, *cuts, t + 1.0]
    turns = [SpeakerTurn(a, b, f"S{draw(st.integers(0, k - 1))}") for a, b in zip(bounds, bounds[1:]) if b > a]
    return words, turns


@settings(max_examples=150, deadline=None)
@given(dialogues(), st.floats(0.3, 3.0), st.floats(1.0, 20.0), st.floats(0.2, 2.0))
def test_utterance_invariants(data, min_s, max_s, pause):
    assume(min_s < max_s)
    words, turns = data
    opts = UtteranceOptions(min_duration_s=min_s, max_duration_s=max_s, max_pause_s=pause)
    utts = build_utterances([seg(words)], turns, opts, "d")
    # every word lands in exactly one utterance, in time order
    assert [w for u in utts for w in u.words] == sorted(words, key=lambda w: (w.start, w.end))
    assert [u.turn_index for u in utts] == list(range(len(utts)))
    for prev, cur in zip(utts, utts[1:]):
        assert prev.end <= cur.start + 1e-9 or prev.start <= cur.start
        assert cur.context[-1] == prev.text
    spoken = {id(w.word): w.speaker for w in assign_speakers([seg(words)], turns)}
    for u in utts:
        assert u.end > u.start
        assert len({spoken[id(w)] for w in u.words}) == 1 and u.speaker == spoken[id(u.words[0])]
        gaps = [b.start - a.end for a, b in zip(u.words, u.words[1:])]
        assert all(g <= max(pause, opts.merge_gap_s) + 1e-9 for g in gaps)
        # the duration bound: only a single word longer than max_s may exceed it, and it is filtered
        if u.duration > max_s:
            assert len(u.words) == 1 and u.filter_reason.startswith("too long"), (u.duration, max_s, u.words)
        if u.filter_status == "kept":
            assert min_s <= u.duration <= max_s


def test_a_transcript_in_a_script_that_does_not_fit_its_language_is_filtered_with_that_reason():
    turn = [SpeakerTurn(0.0, 3.0, "A")]
    # what Whisper base wrote for the demo's Malayalam dialogue: Devanagari
    (devanagari,) = build_utterances([seg([Word(0.0, 1.2, "विने"), Word(1.3, 2.5, "विने")], lang="ml")], turn,
                                     UtteranceOptions(languages=("ml",)))
    assert devanagari.filter_status == "filtered"
    assert devanagari.filter_reason == "wrong script: script Devanagari does not fit language 'ml' (expected Malayalam)"
    # romanised Bengali: filtered unless the project keeps romanised transcripts
    words = [Word(0.0, 0.8, "ami"), Word(0.9, 1.6, "tomake"), Word(1.7, 2.5, "bhalobashi")]
    (romanised,) = build_utterances([seg(words, lang="bn")], turn, UtteranceOptions())
    assert romanised.filter_reason is not None and romanised.filter_reason.startswith("wrong script: romanised text")
    (allowed,) = build_utterances([seg(words, lang="bn")], turn, UtteranceOptions(allow_romanized=True))
    assert allowed.filter_status == "kept"
    (native,) = build_utterances([seg([Word(0.0, 1.2, "মলয়ালম"), Word(1.3, 2.5, "ভালো")], lang="bn")], turn,
                                 UtteranceOptions())
    assert native.filter_status == "kept"
