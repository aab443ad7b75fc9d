"""The scheme registry: shipped schemes, their label sets, and clear errors for broken scheme files."""

from __future__ import annotations

from pathlib import Path

import pytest

from annotation_configs.registry import DISPLAY_LANGUAGES, load_registry
from backend.domain import ItemKind, NotFoundError, ValidationError, ValueKind

REQUIRED = {"sentiment3", "sentiment5", "emotion7", "emotion_intensity", "transcript", "speaker_check", "sarcasm", "utterance",
            "memosen", "memotion3", "msairs_chat", "brighter"}


@pytest.fixture(scope="module")
def registry():
    return load_registry()


def test_the_required_schemes_ship_and_cover_every_value_kind(registry) -> None:
    assert REQUIRED <= set(registry)
    kinds = {f.kind for scheme in registry.values() for f in scheme.fields}
    assert kinds == set(ValueKind)


def test_every_label_has_english_and_native_display_names(registry) -> None:
    for scheme in registry.values():
        assert scheme.instruction("en")
        for field in scheme.fields:
            for label in field.labels + field.intensity:
                assert all(label.names[lang] for lang in DISPLAY_LANGUAGES), (scheme.name, label.key)


def test_meld_sentiment_and_emotion_label_sets(registry) -> None:
    # MELD (Poria et al. 2019): 3 sentiments, 7 emotions (Ekman's six + neutral)
    assert registry["sentiment3"].field("sentiment").keys == ("negative", "neutral", "positive")
    assert set(registry["emotion7"].field("emotion").keys) == {
        "anger", "disgust", "fear", "joy", "neutral", "sadness", "surprise"}


def test_five_level_sentiment_is_ordinal_from_highly_negative_to_highly_positive(registry) -> None:
    field = registry["sentiment5"].field("sentiment")
    assert field.kind is ValueKind.ORDINAL
    assert field.metric == "krippendorff_alpha_ordinal"
    assert field.order == ("highly_negative", "negative", "neutral", "positive", "highly_positive")


def test_brighter_intensity_is_zero_to_three_per_emotion(registry) -> None:
    field = registry["emotion_intensity"].field("emotion_intensity")
    assert field.kind is ValueKind.MULTI_LABEL_INTENSITY
    assert field.max_intensity == 3
    assert field.check({"joy": 2}) == {"anger": 0, "disgust": 0, "fear": 0, "joy": 2, "sadness": 0, "surprise": 0}


def test_the_combined_utterance_scheme_reuses_the_fields_of_its_parts(registry) -> None:
    utterance = registry["utterance"]
    assert utterance.field_names == ("transcript", "sentiment", "emotion", "sarcasm")
    assert utterance.field("emotion") == registry["emotion7"].field("emotion")


def test_display_name_shows_the_native_name_beside_the_english_one(registry) -> None:
    positive = registry["sentiment3"].field("sentiment").label("positive")
    assert positive.display("ta") == "positive · நேர்மறை"
    assert positive.display("en") == "positive"
    assert positive.display(None) == "positive"


@pytest.mark.parametrize(
    ("scheme", "field", "value", "message"),
    [
        ("sentiment3", "sentiment", "happy", "'happy' is not a label of field 'sentiment'"),
        ("sentiment5", "sentiment", 3, "3 is not a label"),
        ("valence_arousal", "valence", 10, "10 is outside field 'valence' (interval)'s range 1..9"),
        ("valence_arousal", "valence", "5", "'5' is not a number"),
        ("emotion_multilabel", "emotions", ["joy", "glee"], "'glee' is not a label"),
        ("emotion_intensity", "emotion_intensity", {"joy": 4}, "intensity 4 for 'joy'"),
        ("emotion_intensity", "emotion_intensity", {"glee": 1}, "'glee' is not a label"),
        ("transcript", "transcript", 12, "12 is not text"),
    ],
)
def test_bad_values_are_refused_with_the_value_quoted(registry, scheme, field, value, message) -> None:
    with pytest.raises(ValidationError, match=message.replace("(", r"\(").replace(")", r"\)").replace(".", r"\.")):
        registry[scheme].field(field).check(value)


def test_meme_schemes_apply_to_images_and_correct_the_ocr_text(registry) -> None:
    # MemoSen (Hossain et al. 2022): 3 sentiments over Bengali memes
    memosen = registry["memosen"]
    assert memosen.item_kinds == (ItemKind.IMAGE,) and memosen.source.startswith("Hossain")
    assert set(memosen.field("sentiment").keys) == {"positive", "negative", "neutral"}
    for scheme in (memosen, registry["memotion3"]):
        ocr = scheme.field("ocr_text")
        assert (ocr.kind, ocr.predictor, ocr.required) == (ValueKind.FREE_TEXT, "ocr", False)
        assert scheme.applies_to(ItemKind.IMAGE) and not scheme.applies_to("chat_turn")
        assert scheme.predicted_texts({"ocr": "text on it", "asr": "spoken"}) == {"ocr_text": "text on it"}
        assert scheme.predicted_texts({"ocr": ""}) == {}


def test_memotion3_keeps_memotions_own_intensity_scale_per_class(registry) -> None:
    # Memotion 3 (Mishra et al. 2023) task A, B and C, with the label values of its release
    scheme = registry["memotion3"]
    assert set(scheme.field("sentiment").keys) == {"positive", "neutral", "negative"}
    emotions = scheme.field("emotions")
    assert emotions.kind is ValueKind.MULTI_LABEL and emotions.keys == ("humour", "sarcasm", "offensive", "motivational")
    scales = {name: scheme.field(name) for name in emotions.keys}
    assert all(f.kind is ValueKind.ORDINAL for f in scales.values())
    assert {name: f.order for name, f in scales.items()} == {
        "humour": ("not_funny", "funny", "very_funny", "hilarious"),
        "sarcasm": ("not_sarcastic", "general", "twisted_meaning", "very_twisted"),
        "offensive": ("not_offensive", "slight", "very_offensive", "hateful_offensive"),
        "motivational": ("not_motivational", "motivational"),
    }


def test_msairs_chat_has_the_released_sentiments_and_twenty_intents(registry) -> None:
    scheme = registry["msairs_chat"]
    assert scheme.item_kinds == (ItemKind.CHAT_TURN,)
    assert set(scheme.field("sentiment").keys) == {"negative", "neutral", "positive"}
    intents = scheme.field("intent").keys
    assert len(intents) == 20 and {"complain", "ask_for_help", "taunt", "apologize"} <= set(intents)


def test_brighter_is_one_intensity_field_for_every_item_kind(registry) -> None:
    scheme = registry["brighter"]
    assert scheme.field_names == ("emotion_intensity",) and scheme.item_kinds == ()
    field = scheme.field("emotion_intensity")
    assert field.kind is ValueKind.MULTI_LABEL_INTENSITY and field.max_intensity == 3
    assert field.keys == ("anger", "disgust", "fear", "joy", "sadness", "surprise")
    assert [level.names["en"] for level in field.intensity] == ["none", "low", "moderate", "high"]
    assert all(scheme.applies_to(kind) for kind in ItemKind)
    assert "author" in scheme.instruction("en") and "speaker" not in scheme.instruction("en")
    with pytest.raises(ValidationError, match="'meme' is not an item kind; use one of clip, image, chat_turn, text"):
        scheme.applies_to("meme")


def test_unknown_scheme_and_field_name_the_known_ones(registry) -> None:
    with pytest.raises(NotFoundError, match="no labeling scheme named 'sentiment4'; known schemes: brighter, emotion7"):
        registry["sentiment4"]
    with pytest.raises(NotFoundError, match="scheme 'sarcasm' has no field 'irony'; its fields are sarcasm"):
        registry["sarcasm"].field("irony")


GOOD_LABELS = """
    labels:
      - key: agree
        names: {en: agree, ta: ஆம், ml: അതെ, bn: হ্যাঁ, zh: 是}
      - key: disagree
        names: {en: disagree, ta: இல்லை, ml: ഇല്ല, bn: না, zh: 否}
"""


def _write(folder: Path, name: str, text: str) -> Path:
    folder.mkdir(exist_ok=True)
    path = folder / f"{name}.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def _scheme(field: str, *, name: str = "broken", extra: str = "") -> str:
    return f"name: {name}\ntitle: Broken\ninstructions: {{en: Do it.}}\n{extra}fields:\n  - name: answer\n{field}"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("name: [unclosed", "scheme file 'broken.yaml' is not valid YAML"),
        ("- just a list", "must hold a mapping with name, title and fields"),
        ("name: Bad Name\ntitle: x", "name 'Bad Name' must be lower-case letters"),
        (_scheme("    kind: categorical\n" + GOOD_LABELS), "kind 'categorical' is not one of nominal, ordinal"),
        (_scheme("    kind: nominal\n"), "'labels' must be a non-empty list"),
        (_scheme("    kind: nominal\n    metric: accuracy\n" + GOOD_LABELS), "metric 'accuracy' is not one of"),
        (_scheme("    kind: nominal\n    labels:\n      - key: agree\n        names: {en: agree, ta: ஆம்}\n      - key: disagree\n        names: {en: disagree, ta: இல்லை, ml: ഇല്ല, bn: না, zh: 否}\n"),
         "label 'agree' has no display name in ml, bn, zh"),
        (_scheme("    kind: nominal\n" + GOOD_LABELS.replace("key: disagree", "key: agree")), "label key 'agree' appears twice"),
        (_scheme("    kind: interval\n    minimum: 5\n    maximum: 1\n"), "needs minimum < maximum"),
        (_scheme("    kind: interval\n"), "an interval field needs a numeric 'minimum', got None"),
        (_scheme("    kind: free_text\n", extra="colour: red\n"), "unknown key\\(s\\) colour"),
        (_scheme("    kind: free_text\n", extra="include: [nowhere.answer]\n"), "include 'nowhere.answer' names unknown scheme 'nowhere'"),
        (_scheme("    kind: free_text\n", extra="include: [broken.answer]\n"), "scheme includes form a cycle: broken -> broken"),
        (_scheme("    kind: nominal\n    labels:\n      - key: yes\n        names: {en: y}\n"), "label key True was read as a boolean; quote it"),
        ("name: broken\ntitle: Broken\ninstructions: {ta: x}\nfields: []", "'instructions' must map languages to text and include 'en'"),
        (_scheme("    kind: free_text\n", extra="item_kinds: [image, meme]\n"),
         "scheme file 'broken.yaml': item kind 'meme' is not one of clip, image, chat_turn, text"),
        (_scheme("    kind: free_text\n", extra="item_kinds: image\n"),
         "scheme file 'broken.yaml': 'item_kinds' must be a list of item kinds \\(clip, image, chat_turn, text\\), got 'image'"),
    ],
)
def test_broken_scheme_files_are_refused_with_the_file_and_the_reason(tmp_path: Path, text: str, message: str) -> None:
    _write(tmp_path, "broken", text)
    with pytest.raises(ValidationError, match=message):
        load_registry(tmp_path)


def test_a_scheme_defined_twice_names_both_files(tmp_path: Path) -> None:
    _write(tmp_path, "a", _scheme("    kind: free_text\n", name="same"))
    _write(tmp_path, "b", _scheme("    kind: free_text\n", name="same"))
    with pytest.raises(ValidationError, match="scheme 'same' is defined twice: a.yaml and b.yaml"):
        load_registry(tmp_path)


def test_a_missing_scheme_folder_is_named(tmp_path: Path) -> None:
    with pytest.raises(NotFoundError, match="does-not-exist"):
        load_registry(tmp_path / "does-not-exist")


def test_item_kinds_are_read_in_order_and_not_inherited_through_includes(tmp_path: Path) -> None:
    _write(tmp_path, "base", _scheme("    kind: free_text\n", name="base", extra="item_kinds: [chat_turn, image, image]\n"))
    _write(tmp_path, "user", "name: user\ntitle: User\ninstructions: {en: Do it.}\ninclude: [base.answer]\n")
    registry = load_registry(tmp_path)
    assert registry["base"].item_kinds == (ItemKind.CHAT_TURN, ItemKind.IMAGE)
    assert registry["user"].item_kinds == () and registry["user"].field("answer") == registry["base"].field("answer")
