"""Label Studio XML from the registry: one control per field, label keys stored through aliases."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import pytest

from annotation_configs.registry import load_registry
from annotation_configs.xml import (
    NO_OCR_TEXT,
    NO_TRANSLITERATION,
    ChatLine,
    ContextLine,
    MediaKind,
    dialogue_html,
    label_config,
    language_badge,
    task_data,
)
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
                    "language_badge": "Language: not known", "transliteration": NO_TRANSLITERATION,
                    "ocr_text": NO_OCR_TEXT}
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
    assert MediaKind.for_item(ItemKind.CHAT_TURN) is MediaKind.DIALOGUE
    assert MediaKind.for_item(ItemKind.TEXT) is MediaKind.TEXT


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


def test_an_image_shows_the_ocr_text_read_only_unless_the_scheme_corrects_it() -> None:
    plain = ET.fromstring(label_config(REGISTRY["sentiment3"], MediaKind.IMAGE))
    children = [(c.tag, c.get("name"), c.get("value")) for c in plain]
    image_at = children.index(("Image", "image", "$image"))
    assert children[image_at + 1] == ("Header", None, "Text in the image (OCR)")
    assert children[image_at + 2] == ("Text", "image_ocr", "$ocr_text")
    assert plain.find(".//TextArea") is None

    corrected = ET.fromstring(label_config(REGISTRY["memosen"], MediaKind.IMAGE, "bn"))
    assert corrected.find(".//Text[@name='image_ocr']") is None  # the OCR text is the editable field instead
    tags = [c.tag for c in corrected]
    assert tags.index("Image") < tags.index("View")  # the OCR field is the first control, under the image
    first = corrected.findall("View")[0]
    area = first.find("TextArea")
    assert (area.get("name"), area.get("toName"), area.get("required")) == ("ocr_text", "image", "false")
    assert corrected.find(".//Choices[@name='sentiment']").get("toName") == "image"
    # an OCR field does not count as correcting an ASR transcript: on a clip the ASR text is still shown
    audio = ET.fromstring(label_config(REGISTRY["memosen"], MediaKind.AUDIO))
    assert audio.find(".//Text[@name='asr_transcript']") is not None


def test_task_data_always_carries_the_ocr_text_or_a_placeholder() -> None:
    assert task_data(MediaKind.IMAGE, "/m.png", item_id=1, ocr_text="hello")["ocr_text"] == "hello"
    assert task_data(MediaKind.IMAGE, "/m.png", item_id=1)["ocr_text"] == NO_OCR_TEXT == "(no text found in the image)"


def test_a_chat_turn_is_one_inline_hypertext_with_no_speaker_header_or_context_list() -> None:
    root = ET.fromstring(label_config(REGISTRY["msairs_chat"], MediaKind.DIALOGUE, "zh"))
    hypertext = root.find(".//HyperText")
    assert (hypertext.get("name"), hypertext.get("value"), hypertext.get("inline")) == ("dialogue", "$dialogue", "true")
    assert root.find(".//Paragraphs") is None
    assert not [h for h in root.iter("Header") if "$speaker" in (h.get("value") or "")]
    assert root.find(".//Header[@value='$language_badge']") is not None
    assert root.find(".//Collapse/Panel/Text[@name='transliteration']").get("value") == "$transliteration"
    assert {c.get("toName") for c in root.iter("Choices")} == {"dialogue"}
    assert [c.get("alias") for c in root.find(".//Choices[@name='sentiment']")] == ["negative", "neutral", "positive"]


LINES = [
    ChatLine("author-001", "first <script>window.pwned = 1</script>", "2024-05-01 10:00"),
    ChatLine("author-002", "", "2024-05-01 10:01", ("/data/local-files/?d=stickers/a.webp&v=1",)),
    ChatLine("author-001", 'see <img src=x onerror="window.pwned=2">', None,
             ("https://example.org/s.png",), current=True),
]


def test_dialogue_html_escapes_every_text_so_markup_in_a_message_stays_text() -> None:
    page = dialogue_html(LINES)
    assert "<script" not in page and "onerror=\"" not in page and "<img src=x" not in page
    assert "first &lt;script&gt;window.pwned = 1&lt;/script&gt;" in page
    assert "see &lt;img src=x onerror=&quot;window.pwned=2&quot;&gt;" in page
    root = ET.fromstring(page)  # well-formed: one element per turn, nothing injected
    assert [len(turn.findall(".//img")) for turn in root] == [0, 1, 1]
    assert all(not any(a.startswith("on") for a in el.attrib) for el in root.iter())
    escaped = dialogue_html([ChatLine("<b>x</b>", "t", '<i>"now"</i>', current=True)])
    assert "&lt;b&gt;x&lt;/b&gt;" in escaped and "&lt;i&gt;&quot;now&quot;&lt;/i&gt;" in escaped


def test_dialogue_html_keeps_the_order_marks_the_current_turn_and_shows_stickers() -> None:
    root = ET.fromstring(dialogue_html(LINES))
    turns = list(root)
    assert [t.get("data-turn") for t in turns] == ["0", "1", "2"]
    texts = ["".join(t.itertext()) for t in turns]
    assert texts[0].startswith("author-001 · 2024-05-01 10:00") and texts[0].endswith("</script>")
    assert texts[1] == "author-002 · 2024-05-01 10:01"  # a sticker-only turn still says who sent it and when
    assert texts[2].startswith("\u25b6 this turn · author-001")
    assert ["\u25b6 this turn" in t for t in texts] == [False, False, True]
    assert "mm-current" in turns[2].get("class") and "3px solid" in turns[2].get("style")
    sticker = turns[1].find(".//img")
    assert sticker.get("src") == "/data/local-files/?d=stickers/a.webp&v=1" and sticker.get("alt") == "sticker"
    assert "max-height: 120px" in sticker.get("style")


@pytest.mark.parametrize("url", ["javascript:alert(1)", "data:image/png;base64,AAAA", "//evil.example/x.png",
                                 "/\\evil.example/x.png", "ftp://host/x.png", "stickers/a.png", "/a b.png", ""])
def test_dialogue_html_refuses_an_image_url_that_is_not_a_path_or_http(url: str) -> None:
    with pytest.raises(ValidationError, match="image URL"):
        dialogue_html([ChatLine("a", "", image_urls=(url,), current=True)])


def test_dialogue_html_needs_exactly_one_current_turn() -> None:
    with pytest.raises(ValidationError, match="at least one turn"):
        dialogue_html([])
    with pytest.raises(ValidationError, match="exactly one current turn, got 0 of 1"):
        dialogue_html([ChatLine("a", "x")])
    with pytest.raises(ValidationError, match="exactly one current turn, got 2 of 2"):
        dialogue_html([ChatLine("a", "x", current=True), ChatLine("b", "y", current=True)])
