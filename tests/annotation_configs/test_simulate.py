"""Simulated annotators: right with their accuracy, plausibly wrong otherwise."""

from __future__ import annotations

import random

import pytest

from annotation_configs.registry import load_registry
from annotation_configs.simulate import answer, answers, lead_time_s
from backend.domain import ValidationError

REGISTRY = load_registry()


@pytest.mark.parametrize("accuracy", [0.9, 0.6, 0.3])
def test_an_annotator_is_right_about_as_often_as_their_accuracy(accuracy: float) -> None:
    rng = random.Random(7)
    field = REGISTRY["emotion7"].field("emotion")
    n = 2000
    right = sum(answer(field, "joy", accuracy, rng) == "joy" for _ in range(n))
    # binomial: 4 standard deviations either side
    spread = 4 * (n * accuracy * (1 - accuracy)) ** 0.5
    assert abs(right - n * accuracy) < spread


def test_wrong_answers_are_plausible_slips() -> None:
    rng = random.Random(1)
    ordinal = REGISTRY["sentiment5"].field("sentiment")
    assert {answer(ordinal, "neutral", 0.0, rng) for _ in range(200)} == {"negative", "positive"}
    assert {answer(ordinal, "highly_positive", 0.0, rng) for _ in range(50)} == {"positive"}
    intensity = REGISTRY["emotion_intensity"].field("emotion_intensity")
    truth = {"anger": 0, "disgust": 0, "fear": 2, "joy": 0, "sadness": 3, "surprise": 0}
    for _ in range(100):
        slip = answer(intensity, truth, 0.0, rng)
        changed = [k for k in truth if slip[k] != truth[k]]
        assert len(changed) == 1 and abs(slip[changed[0]] - truth[changed[0]]) == 1
    valence = REGISTRY["valence_arousal"].field("valence")
    assert {answer(valence, 9, 0.0, rng) for _ in range(20)} == {8}
    transcript = REGISTRY["transcript"].field("transcript")
    assert answer(transcript, "one two three", 0.0, rng) in {"two three", "one three", "one two"}


def test_a_perfect_annotator_gives_every_reference_and_a_plausible_time() -> None:
    rng = random.Random(3)
    scheme = REGISTRY["utterance"]
    got = answers(scheme, {"sentiment": "negative", "emotion": "anger", "sarcasm": "sarcastic"}, 1.0, rng,
                  fallback={"transcript": "asr words"})
    assert got == {"transcript": "asr words", "sentiment": "negative", "emotion": "anger", "sarcasm": "sarcastic"}
    times = [lead_time_s(scheme, rng) for _ in range(200)]
    assert min(times) >= 1.0 and 10 < sorted(times)[100] < 50  # median near 4 fields x 6 s


def test_bad_accuracy_and_bad_reference_are_refused() -> None:
    field = REGISTRY["sarcasm"].field("sarcasm")
    with pytest.raises(ValidationError, match="accuracy 1.2 must be between 0 and 1"):
        answer(field, "sarcastic", 1.2, random.Random(0))
    with pytest.raises(ValidationError, match="'ironic' is not a label of field 'sarcasm'"):
        answer(field, "ironic", 0.5, random.Random(0))


def test_ocr_text_comes_from_the_fallback_and_memotion_intensities_slip_to_neighbours() -> None:
    rng = random.Random(5)
    scheme = REGISTRY["memotion3"]
    references = {"sentiment": "negative", "emotions": ["humour"], "humour": "funny", "sarcasm": "not_sarcastic",
                  "offensive": "hateful_offensive", "motivational": "not_motivational"}
    fallback = scheme.predicted_texts({"ocr": "jab we met"})
    assert answers(scheme, references, 1.0, rng, fallback=fallback) == {**references, "ocr_text": "jab we met"}
    assert {answer(scheme.field("humour"), "funny", 0.0, rng) for _ in range(100)} == {"not_funny", "very_funny"}
    assert {answer(scheme.field("offensive"), "hateful_offensive", 0.0, rng) for _ in range(20)} == {"very_offensive"}
    assert {answer(scheme.field("motivational"), "motivational", 0.0, rng) for _ in range(20)} == {"not_motivational"}
    ocr = REGISTRY["memosen"].field("ocr_text")
    assert answer(ocr, "", 0.0, rng) == ""  # an image without text stays without text
    assert answer(ocr, None, 1.0, rng) == ""  # no OCR text to start from: nothing typed


def test_chat_and_brighter_answers_are_valid_values_of_their_schemes() -> None:
    rng = random.Random(9)
    for name, references in (("msairs_chat", {"sentiment": "positive", "intent": "thank"}),
                             ("brighter", {"emotion_intensity": {"joy": 2}})):
        scheme = REGISTRY[name]
        for accuracy in (0.0, 0.5):
            got = answers(scheme, references, accuracy, rng)
            assert scheme.check_values(got) == got and set(got) == set(scheme.field_names)
