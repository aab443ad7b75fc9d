"""Label Studio results <-> normalised values: every scheme field round-trips, foreign results are refused."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from annotation_configs.labelstudio.results import result_from_values, values_from_result
from annotation_configs.registry import SchemeField, load_registry
from backend.domain import ValidationError, ValueKind
from backend.language import normalize_text

REGISTRY = load_registry()


def _value_strategy(field: SchemeField) -> st.SearchStrategy:
    if field.kind in (ValueKind.NOMINAL, ValueKind.ORDINAL):
        return st.sampled_from(field.keys)
    if field.kind is ValueKind.MULTI_LABEL:
        return st.lists(st.sampled_from(field.keys), unique=True).map(sorted)
    if field.kind is ValueKind.MULTI_LABEL_INTENSITY:
        return st.fixed_dictionaries({k: st.integers(0, field.max_intensity) for k in field.keys})
    if field.kind is ValueKind.INTERVAL:
        return st.integers(int(field.minimum), int(field.maximum))
    return st.text(min_size=1, max_size=40).filter(lambda t: "\n" not in t)


@pytest.mark.parametrize("name", sorted(REGISTRY))
@settings(max_examples=25, deadline=None)
@given(data=st.data())
def test_values_survive_the_trip_through_label_studio_result_json(name: str, data: st.DataObject) -> None:
    scheme = REGISTRY[name]
    values = {f.name: data.draw(_value_strategy(f)) for f in scheme.fields}
    result = result_from_values(scheme, values, "audio")
    # free text (a corrected transcript) comes back normalised (backend.language); the raw result keeps it as typed
    expected = {k: normalize_text(v) if scheme.field(k).kind is ValueKind.FREE_TEXT else v for k, v in values.items()}
    assert values_from_result(scheme, result) == expected


def test_an_editor_result_reads_into_label_keys() -> None:
    # as the Label Studio editor submits it for the utterance scheme (aliases carry the keys)
    result = [
        {"id": "a1", "from_name": "transcript", "to_name": "audio", "type": "textarea",
         "value": {"text": ["வணக்கம்", "நண்பா"]}},
        {"id": "a2", "from_name": "sentiment", "to_name": "audio", "type": "choices", "value": {"choices": ["positive"]}},
        {"id": "a3", "from_name": "emotion", "to_name": "audio", "type": "choices", "value": {"choices": ["joy"]}},
    ]
    assert values_from_result(REGISTRY["utterance"], result) == {
        "transcript": "வணக்கம் நண்பா", "sentiment": "positive", "emotion": "joy"}  # lines joined, normalised


def test_a_corrected_transcript_is_stored_normalised() -> None:
    # a stray zero-width space and a Malayalam legacy chillu (ന + virama + ZWJ), as older keyboards type it
    typed = "അവ\u0d28\u0d4d\u200d \u200bവന്നു  "
    result = [{"from_name": "transcript", "to_name": "audio", "type": "textarea", "value": {"text": [typed]}}]
    assert values_from_result(REGISTRY["transcript"], result)["transcript"] == "അവ\u0d7b വന്നു"


def test_an_empty_multi_label_answer_is_an_empty_list_and_unanswered_intensity_rows_are_zero() -> None:
    assert values_from_result(REGISTRY["emotion_multilabel"], []) == {"emotions": []}
    partial = [{"from_name": "emotion_intensity__fear", "to_name": "audio", "type": "choices",
                "value": {"choices": ["3"]}}]
    assert values_from_result(REGISTRY["emotion_intensity"], partial)["emotion_intensity"]["fear"] == 3
    assert values_from_result(REGISTRY["emotion_intensity"], partial)["emotion_intensity"]["joy"] == 0


@pytest.mark.parametrize(
    ("scheme", "result", "message"),
    [
        ("sentiment3", [{"from_name": "emotion", "value": {"choices": ["joy"]}}],
         "result names control 'emotion', which scheme 'sentiment3' does not have"),
        ("sentiment3", [{"from_name": "sentiment", "value": {"choices": ["positive", "negative"]}}],
         "single-choice control 'sentiment' carries 2 choices"),
        ("sentiment3", [{"from_name": "sentiment", "value": {"choices": ["glad"]}}], "'glad' is not a label"),
        ("sentiment3", [{"value": {"choices": ["positive"]}}], "has no 'from_name'"),
        ("sentiment3", "positive", "must be a list of regions"),
        ("emotion_intensity", [{"from_name": "emotion_intensity__glee", "value": {"choices": ["1"]}}],
         "'glee' is not a label"),
        ("emotion_intensity", [{"from_name": "emotion_intensity__joy", "value": {"choices": ["high"]}}],
         "intensity control 'emotion_intensity__joy' carries 'high'"),
        ("valence_arousal", [{"from_name": "valence", "value": {"number": "7"}}], "carries '7', expected a number"),
        ("transcript", [{"from_name": "transcript", "value": {"text": 5}}], "carries 5, expected a list of strings"),
    ],
)
def test_results_that_do_not_fit_the_scheme_are_refused(scheme: str, result, message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        values_from_result(REGISTRY[scheme], result)


def test_values_are_checked_before_they_become_a_result() -> None:
    with pytest.raises(ValidationError, match="'elated' is not a label of field 'emotion'"):
        result_from_values(REGISTRY["emotion7"], {"emotion": "elated"}, "audio")
