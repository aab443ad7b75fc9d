"""benchmarks/speech_sets.py (the diarizer's tuning and held-out sets) and the scoring of benchmarks/diarization.py."""

from __future__ import annotations

import json
from types import SimpleNamespace

import pytest

from backend.domain import Diarization, Span, SpeakerTurn
from benchmarks import speech_sets
from benchmarks.diarization import FileResult, evaluate, read_rttm, score_set
from ingest import testmedia


def quick_spec(condition: str, seed: int = 0) -> speech_sets.FileSpec:
    return next(s for s in speech_sets.plan("heldout", quick=True, seed=seed) if s.condition == condition)


def overlaps(segments) -> list[float]:
    """Seconds by which each pair of segments of different speakers overlaps (only pairs that do)."""
    return [min(b, d) - max(a, c) for i, (a, b, s) in enumerate(segments) for (c, d, t) in segments[i + 1 :]
            if s != t and min(b, d) > max(a, c)]


@pytest.mark.parametrize("condition", ["noise_5db", "reverb"])  # sox's noise and reverb included
def test_the_same_seed_gives_the_same_bytes_and_another_seed_other_bytes(condition, tmp_path):
    spec = quick_spec(condition)
    for folder in ("a", "b"):
        speech_sets.generate_file(spec, tmp_path / folder)
    speech_sets.generate_file(quick_spec(condition, seed=1), tmp_path / "c")
    for suffix in ("wav", "rttm", "json"):
        first = (tmp_path / "a" / f"{spec.name}.{suffix}").read_bytes()
        assert first == (tmp_path / "b" / f"{spec.name}.{suffix}").read_bytes()
    assert (tmp_path / "a" / f"{spec.name}.wav").read_bytes() != (tmp_path / "c" / f"{spec.name}.wav").read_bytes()


def test_the_voice_pools_are_disjoint_and_avoid_the_testmedia_voices():
    tuning, heldout = speech_sets.POOLS["tuning"], speech_sets.POOLS["heldout"]
    testmedia_variants = {v.espeak.split("+")[1] for spec in testmedia.DEMO_SET for v in spec.voices.values()}
    assert testmedia_variants <= speech_sets.TESTMEDIA_VARIANTS
    variants = {pool.name: {v.variant for v in pool.voices} for pool in (tuning, heldout)}
    assert not variants["tuning"] & variants["heldout"]
    assert not (variants["tuning"] | variants["heldout"]) & speech_sets.TESTMEDIA_VARIANTS
    assert not {v.accent for v in tuning.voices} & {v.accent for v in heldout.voices}
    assert not set(tuning.sentences) & set(heldout.sentences) - {"en"}
    assert not set(tuning.sentences["en"]) & set(heldout.sentences["en"])
    for pool, other in ((tuning, heldout), (heldout, tuning)):
        assert len(variants[pool.name]) == len(pool.voices)
        for voice in pool.voices:
            assert any(lo <= voice.pitch < hi for lo, hi in pool.pitch_bands)
            assert not any(lo <= voice.pitch < hi for lo, hi in other.pitch_bands)
            assert any(lo <= voice.speed < hi for lo, hi in pool.speed_bands)
            assert not any(lo <= voice.speed < hi for lo, hi in other.speed_bands)


def test_every_condition_is_planned_in_both_sets():
    synthetic = set(speech_sets.CONDITIONS) - {"real"}
    for set_name in speech_sets.SETS:
        specs = speech_sets.plan(set_name)
        assert {s.condition for s in specs} == synthetic
        assert len({s.name for s in specs}) == len(specs)
        assert {s.num_speakers for s in specs} == {2, 3, 4, 5}
        assert all(30 <= s.target_s <= 110 for s in specs if s.condition != "long")
    assert 25 <= len(speech_sets.plan("heldout")) + 1 <= 35
    assert next(s for s in speech_sets.plan("heldout") if s.condition == "long").target_s >= 600
    assert len(speech_sets.plan("heldout", quick=True)) == 6


def test_the_overlap_condition_has_overlapping_turns_in_its_truth(tmp_path):
    made = speech_sets.generate_file(quick_spec("overlap"), tmp_path)
    segments = read_rttm(tmp_path / made.files["rttm"])
    assert any(seconds >= 0.3 for seconds in overlaps(segments))
    for speaker in {s for *_, s in segments}:  # no voice overlaps itself
        own = sorted((a, b) for a, b, s in segments if s == speaker)
        assert all(b <= c for (_, b), (c, _) in zip(own, own[1:]))


def test_back_channels_are_short_and_spoken_by_the_dialogue_voices(tmp_path):
    made = speech_sets.generate_file(quick_spec("backchannel"), tmp_path)
    sidecar = json.loads((tmp_path / made.files["json"]).read_text())
    backs = [line for line in sidecar["lines"] if line["kind"] == "backchannel"]
    assert backs and all(line["end"] - line["start"] < 1.5 for line in backs)
    assert {line["speaker"] for line in backs} <= set(sidecar["voices"])
    assert sidecar["condition"] == "backchannel" and sidecar["num_speakers"] == len(sidecar["voices"])


def test_the_real_recording_keeps_its_truth(tmp_path):
    assert speech_sets.pyannote_sample() is not None, "pyannote.audio (speech extra) ships the real recording"
    made = speech_sets.copy_real_sample(tmp_path)
    segments = read_rttm(tmp_path / made.files["rttm"])
    assert made.condition == "real" and made.num_speakers == 2 and made.duration_s == 30.0
    assert len(segments) == 10 and overlaps(segments)
    assert "pyannote.audio" in json.loads((tmp_path / made.files["json"]).read_text())["origin"]


REFERENCE = ((0.0, 3.0, "A"), (3.5, 6.5, "B"), (7.0, 10.0, "A"), (10.5, 11.5, "B"))  # A 6 s, B 4 s


def result(name: str, condition: str, hypothesis, found: int) -> FileResult:
    return FileResult(name, condition, 12.0, 2, found, REFERENCE, tuple(hypothesis))


def test_a_perfect_hypothesis_scores_zero():
    scores = score_set([result("f", "clean", REFERENCE, 2)])
    assert scores["overall"]["der"] == 0.0 and scores["overall"]["der_c25"] == 0.0
    assert scores["overall"]["speaker_count_accuracy"] == 1.0
    assert scores["files"][0]["reference_speech_s"] == pytest.approx(10.0)


def test_one_speaker_for_everyone_confuses_the_smaller_speaker_and_sets_accumulate():
    one_voice = [(a, b, "X") for a, b, _ in REFERENCE]
    scores = score_set([result("perfect", "clean", REFERENCE, 2), result("merged", "overlap", one_voice, 1)])
    merged = scores["conditions"]["overlap"]
    assert merged["confusion"] == pytest.approx(0.4) and merged["der"] == pytest.approx(0.4)
    assert merged["missed"] == 0.0 and merged["false_alarm"] == 0.0
    assert merged["speaker_count_accuracy"] == 0.0 and merged["count_error_mean"] == -1.0
    assert scores["overall"]["der"] == pytest.approx(4.0 / 20.0)  # total errors / total reference speech
    assert scores["overall"]["der_pyannote"] == pytest.approx(0.2)
    assert scores["overall"]["speaker_count_accuracy"] == 0.5


def test_evaluate_passes_the_true_count_only_when_given(tmp_path):
    made = speech_sets.generate_file(quick_spec("clean"), tmp_path)
    (tmp_path / "index.json").write_text(json.dumps({"files": [{
        "name": made.name, "condition": made.condition, "num_speakers": 2, "duration_s": made.duration_s,
        **made.files}]}))
    seen = []

    def diarize(audio, regions, options):
        seen.append(options.num_speakers)
        return Diarization((SpeakerTurn(regions[0].start, regions[0].end, "S0"),), 1, "fake")

    vad = SimpleNamespace(detect=lambda audio, options: [Span(1.0, 2.0)])
    diarizer = SimpleNamespace(diarize=diarize)
    for given in (False, True):
        (only,) = evaluate(tmp_path, diarizer, vad, given)
        assert only.hypothesis == ((1.0, 2.0, "S0"),) and only.found_speakers == 1 and only.num_speakers == 2
    assert seen == [None, 2]
