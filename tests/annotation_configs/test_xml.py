"""Label Studio XML from the registry: one control per field, label keys stored through aliases."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import pytest

from annotation_configs.registry import load_registry
from annotation_configs.xml import NO_TRANSLITERATION, ContextLine, MediaKind, label_config, language_badge, task_data
from backend.domain import ItemKind, ValidationError

REGISTRY = load_registry()


def test_each_field_becomes_a_control_on_the_media_with_aliases_for_keys() -> None:
    root = ET.fromstring(label_config(REGISTRY["utterance"], MediaKind.AUDIO, "ta"))
    assert root.find(".//Audio").get("value") == "$audio"
    assert root.find(".//TextArea").get("name") == "transcript"
    sentiment = root.find(".//Choices[@name='sentiment']")
    assert sentiment.get("toName") == "audio"
    assert [(c.get("value"), c.get("alias")) for c in sentiment] == [
        ("negative · எதிர்மறை", "negative"), ("neutral · நடுநிலை", "neutral"), ("positive · நேர்மறை", "positive")]
    assert root.find(".//Paragraphs").get("value") == "$context"


def test_intensity_fields_get_one_zero_to_three_row_per_emotion() -> None:
    root = ET.fromstring(label_config(REGISTRY["emotion_intensity"], MediaKind.VIDEO, "zh"))
    rows = root.findall(".//Choices")
    assert [r.get("name") for r in rows] == [f"emotion_intensity__{e}" for e in
                                             ("anger", "disgust", "fear", "joy", "sadness", "surprise")]
    assert [c.get("alias") for c in rows[0]] == ["0", "1", "2", "3"]
    assert rows[0].get("toName") == "video"


def test_images_have_no_dialogue_context_and_text_items_show_the_text() -> None:
    image = ET.fromstring(label_config(REGISTRY["sentiment3"], MediaKind.IMAGE))
    assert image.find(".//Paragraphs") is None and image.find(".//Image").get("value") == "$image"
    text = ET.fromstring(label_config(REGISTRY["sentiment3"], MediaKind.TEXT, "bn"))
    assert text.find(".//Text[@name='text']").get("value") == "$text"


def test_a_scheme_without_transcript_field_shows_the_asr_text_read_only() -> None:
    root = ET.fromstring(label_config(REGISTRY["emotion7"], MediaKind.AUDIO))
    assert root.find(".//Text[@name='asr_transcript']").get("value") == "$transcript"
    assert ET.fromstring(label_config(REGISTRY["transcript"], MediaKind.AUDIO)).find(".//Text[@name='asr_transcript']") is None


def test_task_data_carries_every_variable_the_config_reads() -> None:
    data = task_data(MediaKind.AUDIO, "/data/local-files/?d=clips/1.wav", item_id=1, speaker="SPEAKER_01",
                     transcript="hi", context=[ContextLine("SPEAKER_00", "hello")])
    assert data == {"audio": "/data/local-files/?d=clips/1.wav", "item_id": 1, "speaker": "SPEAKER_01",
                    "transcript": "hi", "context": [{"speaker": "SPEAKER_00", "text": "hello"}],
                    "language_badge": "Language: not known", "transliteration": NO_TRANSLITERATION}
    first = task_data(MediaKind.AUDIO, "/x.wav", item_id=2)
    assert first["context"][0]["text"] == "(start of the dialogue)"


def test_task_data_refuses_an_item_without_media_and_meta_that_shadows_a_variable() -> None:
    with pytest.raises(ValidationError, match="item 3 has no audio to show"):
        task_data(MediaKind.AUDIO, "", item_id=3)
    with pytest.raises(ValidationError, match=r"task meta keys \['speaker'\] clash"):
        task_data(MediaKind.AUDIO, "/x.wav", item_id=3, meta={"speaker": "me"})


def test_media_kind_follows_the_item_kind() -> None:
    assert MediaKind.for_item(ItemKind.CLIP) is MediaKind.AUDIO
    assert MediaKind.for_item(ItemKind.CLIP, has_video=True) is MediaKind.VIDEO
    assert MediaKind.for_item(ItemKind.IMAGE) is MediaKind.IMAGE
    assert MediaKind.for_item(ItemKind.CHAT_TURN) is MediaKind.TEXT


@pytest.mark.parametrize("media", list(MediaKind))
@pytest.mark.parametrize("scheme", sorted(REGISTRY))
def test_every_variable_a_config_reads_is_in_the_task_data(scheme: str, media: MediaKind) -> None:
    import re

    config = label_config(REGISTRY[scheme], media, "ml")
    wanted = set(re.findall(r"\$([A-Za-z_][A-Za-z0-9_]*)", config))
    data = task_data(media, "x", item_id=1, language_badge="Language: x", transliteration="y")
    assert wanted <= set(data), (scheme, media, wanted - set(data))


def test_the_language_badge_names_the_language_and_the_scripts_of_the_text() -> None:
    assert language_badge("ml", {"Malayalam": 0.9, "Latin": 0.1}) == (
        "Language: Malayalam · മലയാളം (ml) · script: Malayalam 90%, Latin 10%")
    assert language_badge("zh", {"Han": 1.0}) == "Language: Chinese · 中文 (zh) · script: Han 100%"
    assert language_badge("xx", None) == "Language: xx (xx)"
    assert language_badge(None, {}) == "Language: not known"
    root = ET.fromstring(label_config(REGISTRY["sentiment3"], MediaKind.TEXT, "bn"))
    assert root.find(".//Header[@value='$language_badge']") is not None
    assert root.find(".//Collapse/Panel/Text[@name='transliteration']").get("value") == "$transliteration"
    image = ET.fromstring(label_config(REGISTRY["sentiment3"], MediaKind.IMAGE))
    assert image.find(".//Collapse") is None  # nothing to transliterate on an image
