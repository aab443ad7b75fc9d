"""Label Studio labeling configs (XML) generated from a registry scheme, and the task data they read.

One generator for every scheme keeps the XML and the normalisation in step: each field becomes
one control named after the field (``<Choices name="sentiment">``), except a
multi-label-with-intensity field, which becomes one single-choice row per label named
``<field>__<label>``. Choices show the English name with the native one
(``positive · நேர்மறை``) and store the label key through ``alias``, so results never depend
on the display language.

Items are shown by kind (``MediaKind``): a clip as audio or video under its speaker and the
previous utterances; an image with the text found in it (OCR), editable when the scheme corrects
it; a text as text; a chat turn as a small HTML page (``dialogue_html``) of the previous turns and
the current one, with their stickers and photos, in order.
"""

from __future__ import annotations

import enum
import html
import re
import xml.etree.ElementTree as ET
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from annotation_configs.registry import Scheme, SchemeField
from backend.domain import ItemKind, ValidationError, ValueKind
from backend.language import LANGUAGE_NAMES

INTENSITY_SEPARATOR = "__"
NO_CONTEXT = "(start of the dialogue)"
NO_TRANSLITERATION = "(nothing to transliterate: the text is not in Tamil, Malayalam or Bengali script)"
NO_OCR_TEXT = "(no text found in the image)"
OCR_HEADER = "Text in the image (OCR)"
OCR_PREDICTOR = "ocr"


class MediaKind(str, enum.Enum):
    """The object tag an annotator looks at; its value is also the tag's name and data key."""

    AUDIO = "audio"
    VIDEO = "video"
    IMAGE = "image"
    TEXT = "text"
    DIALOGUE = "dialogue"

    @classmethod
    def for_item(cls, kind: ItemKind, has_video: bool = False) -> "MediaKind":
        """The media kind that shows an item of ``kind`` (a clip with video shows the video)."""
        if kind is ItemKind.CLIP:
            return cls.VIDEO if has_video else cls.AUDIO
        if kind is ItemKind.IMAGE:
            return cls.IMAGE
        if kind is ItemKind.CHAT_TURN:
            return cls.DIALOGUE
        return cls.TEXT


def control_name(field: SchemeField, label_key: str | None = None) -> str:
    """The ``from_name`` of a field's control; per label for intensity fields."""
    if field.kind is ValueKind.MULTI_LABEL_INTENSITY:
        if label_key is None:
            raise ValidationError(f"intensity field {field.name!r} has one control per label; name a label")
        return f"{field.name}{INTENSITY_SEPARATOR}{label_key}"
    return field.name


def label_config(
    scheme: Scheme,
    media: MediaKind,
    language: str | None = None,
    *,
    show_context: bool = True,
    show_speaker: bool = True,
    show_language: bool = True,
    answers: bool = False,
) -> str:
    """The XML for ``scheme`` over one item shown as ``media``, labels displayed for ``language``.

    The task data it reads is what ``task_data`` builds: ``$<media>``, ``$speaker``,
    ``$transcript`` (ASR text, shown read-only unless the scheme corrects it) and ``$context``
    (previous utterances as ``[{"speaker", "text"}]``), ``$language_badge`` (the item's language and
    the scripts of its text) and ``$transliteration`` (an ISO 15919 view of Indic-script text, in a
    collapsed panel: an extra view, never replacing the text). An image shows ``$ocr_text``
    read-only, unless the scheme has a free-text field with ``predictor: ocr``: that field is then
    the editable OCR text (pre-filled by a prediction). A dialogue (chat turn) is one inline
    ``HyperText`` of ``dialogue_html``: it already holds the previous turns and the speakers, so
    there is no speaker header and no context list.
    """
    root = ET.Element("View")
    ET.SubElement(root, "Header", value=scheme.title)
    instruction = scheme.instruction(language)
    if instruction:
        ET.SubElement(root, "Header", value=instruction, size="6")
    spoken = media in (MediaKind.AUDIO, MediaKind.VIDEO, MediaKind.TEXT)
    if show_context and (spoken or answers):  # answers: an adjudication task lists the annotators' answers there
        context = ET.SubElement(root, "View", style="max-height: 220px; overflow-y: auto")
        ET.SubElement(context, "Header", value="Answers to review" if answers else "Previous utterances", size="6")
        ET.SubElement(
            context, "Paragraphs", name="context", value="$context", layout="dialogue",
            nameKey="speaker", textKey="text",
        )
    if show_speaker and spoken:
        ET.SubElement(root, "Header", value="Speaker: $speaker", size="5")
    if show_language:
        ET.SubElement(root, "Header", value="$language_badge", size="6")
    obj = media.value
    if media is MediaKind.AUDIO:
        ET.SubElement(root, "Audio", name=obj, value=f"${obj}", hotkey="ctrl+space")
    elif media is MediaKind.VIDEO:
        ET.SubElement(root, "Video", name=obj, value=f"${obj}")
    elif media is MediaKind.IMAGE:
        ET.SubElement(root, "Image", name=obj, value=f"${obj}")
    elif media is MediaKind.DIALOGUE:
        # inline: the sanitised HTML goes into the page itself, not into an iframe whose sandbox allows scripts
        ET.SubElement(root, "HyperText", name=obj, value=f"${obj}", inline="true")
    else:
        ET.SubElement(root, "Text", name=obj, value=f"${obj}")
    ocr_fields = [f for f in scheme.fields if f.kind is ValueKind.FREE_TEXT and f.predictor == OCR_PREDICTOR]
    corrects_transcript = any(f.kind is ValueKind.FREE_TEXT and f.predictor != OCR_PREDICTOR for f in scheme.fields)
    if media in (MediaKind.AUDIO, MediaKind.VIDEO) and not corrects_transcript:
        ET.SubElement(root, "Header", value="Transcript (ASR)", size="6")
        ET.SubElement(root, "Text", name="asr_transcript", value="$transcript")
    first: list[SchemeField] = []
    if media is MediaKind.IMAGE:
        if ocr_fields:
            first = ocr_fields  # the editable OCR text sits right under the image
        else:
            ET.SubElement(root, "Header", value=OCR_HEADER, size="6")
            ET.SubElement(root, "Text", name="image_ocr", value="$ocr_text")
    if show_language and media is not MediaKind.IMAGE:
        panel = ET.SubElement(ET.SubElement(root, "Collapse"), "Panel", value="Transliteration (ISO 15919)")
        ET.SubElement(panel, "Text", name="transliteration", value="$transliteration")
    for field in first + [f for f in scheme.fields if f not in first]:
        _add_control(root, field, obj, language)
    ET.indent(root, space="  ")
    return ET.tostring(root, encoding="unicode")


def _flag(value: bool) -> str:
    return "true" if value else "false"


def _add_control(root: ET.Element, field: SchemeField, to_name: str, language: str | None) -> None:
    box = ET.SubElement(root, "View")
    ET.SubElement(box, "Header", value=field.title, size="5")
    required = _flag(field.required)
    if field.kind in (ValueKind.NOMINAL, ValueKind.ORDINAL, ValueKind.MULTI_LABEL):
        choices = ET.SubElement(
            box, "Choices", name=field.name, toName=to_name,
            choice="multiple" if field.kind is ValueKind.MULTI_LABEL else "single-radio",
            showInline="true", required=required,
        )
        for label in field.labels:
            attrs = {"value": label.display(language), "alias": label.key}
            if label.hint:
                attrs["hint"] = label.hint
            ET.SubElement(choices, "Choice", attrs)
    elif field.kind is ValueKind.MULTI_LABEL_INTENSITY:
        for label in field.labels:
            row = ET.SubElement(box, "View", style="display: flex; align-items: center; gap: 1em")
            ET.SubElement(row, "Header", value=label.display(language), size="6")
            choices = ET.SubElement(
                row, "Choices", name=control_name(field, label.key), toName=to_name,
                choice="single-radio", showInline="true", required=required,
            )
            for level in field.intensity:
                ET.SubElement(choices, "Choice", value=f"{level.key} {level.display(language)}", alias=level.key)
    elif field.kind is ValueKind.INTERVAL:
        ET.SubElement(
            box, "Number", name=field.name, toName=to_name, min=f"{field.minimum:g}",
            max=f"{field.maximum:g}", step=f"{field.step:g}", required=required,
        )
    else:
        ET.SubElement(
            box, "TextArea", name=field.name, toName=to_name, editable="true", maxSubmissions="1",
            rows="3", transcription="true", required=required,
        )


@dataclass(frozen=True)
class ContextLine:
    """One earlier utterance of the dialogue, shown above the item."""

    speaker: str
    text: str


def task_data(
    media: MediaKind,
    content: str,
    *,
    item_id: int,
    speaker: str | None = None,
    transcript: str | None = None,
    context: Sequence[ContextLine] = (),
    language_badge: str = "",
    transliteration: str = "",
    ocr_text: str = "",
    meta: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """The ``data`` of one Label Studio task for ``label_config(.., media)``.

    ``content`` is the media URL (audio, video, image), the text itself (text items) or the
    ``dialogue_html`` of a chat turn. ``ocr_text`` is the text found in an image (a placeholder
    when none, so that Label Studio never shows an empty value). ``item_id`` is mmcurate's item
    id; it travels with the task and comes back in exports.
    """
    if not content:
        raise ValidationError(f"item {item_id} has no {media.value} to show; give a media URL or text")
    lines = [{"speaker": c.speaker, "text": c.text} for c in context] or [{"speaker": "", "text": NO_CONTEXT}]
    data: dict[str, Any] = {
        media.value: content,
        "item_id": item_id,
        "speaker": speaker or "unknown",
        "transcript": transcript or "",
        "context": lines,
        "language_badge": language_badge or "Language: not known",
        "transliteration": transliteration or NO_TRANSLITERATION,
        "ocr_text": ocr_text or NO_OCR_TEXT,
    }
    if meta:
        clash = set(meta) & set(data)
        if clash:
            raise ValidationError(f"task meta keys {sorted(clash)} clash with the task's own keys; rename them")
        data.update(meta)
    return data


@dataclass(frozen=True)
class ChatLine:
    """One turn of a chat as the annotator sees it: who wrote it, when, its text and its images.

    ``image_urls`` are the stickers and photos sent with the turn, in order, as URLs the annotator's
    browser can load (a relative ``/...`` local-files URL of their instance, or http(s)).
    ``current`` marks the turn being annotated.
    """

    author: str
    text: str
    time: str | None = None
    image_urls: tuple[str, ...] = ()
    current: bool = False


CURRENT_MARK = "\u25b6 this turn"
_UNSAFE_URL = re.compile(r"[\s\\\x00-\x1f\x7f]")


def image_url(url: str) -> str:
    """``url`` when a browser may load it as an image of a chat: a relative ``/path`` or an http(s) URL.

    Anything else (``javascript:``, ``data:``, protocol-relative ``//host``, backslashes or spaces,
    which browsers read as ``//``) is refused: chat content comes from the corpus, not from us.
    """
    if not isinstance(url, str) or not url or _UNSAFE_URL.search(url):
        raise ValidationError(f"image URL {url!r} must be a relative /path or an http(s) URL without spaces")
    if url.startswith("/"):
        if url.startswith("//"):
            raise ValidationError(f"image URL {url!r} is protocol-relative; give /path or http(s)://host/path")
        return url
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ValidationError(f"image URL {url!r} must be a relative /path or an http(s) URL")
    return url


def dialogue_html(lines: Sequence[ChatLine]) -> str:
    """The HTML a ``MediaKind.DIALOGUE`` task shows: every turn in the given order, the current one marked.

    Each turn shows its author and time, its text (escaped: a ``<script>`` in a message is shown
    as text) and its images (``alt="sticker"``, at most 120 px high). A turn with only a sticker
    still shows who sent it and when. Exactly one line must be ``current``.

    >>> print(dialogue_html([ChatLine("author-001", "hi <b>", current=True)]))  # doctest: +ELLIPSIS
    <div class="mm-dialogue"...<b>\u25b6 this turn</b> · <b>author-001</b>...hi &lt;b&gt;</div>...
    """
    if not lines:
        raise ValidationError("a dialogue needs at least one turn to show")
    current = [i for i, line in enumerate(lines) if line.current]
    if len(current) != 1:
        raise ValidationError(f"a dialogue needs exactly one current turn, got {len(current)} of {len(lines)} turns")
    turns = [_turn_html(index, line) for index, line in enumerate(lines)]
    return ('<div class="mm-dialogue" style="font-family: sans-serif; font-size: 14px; line-height: 1.4">'
            + "".join(turns) + "</div>")


def _turn_html(index: int, line: ChatLine) -> str:
    esc = html.escape
    if line.current:
        box = "margin: 6px 0; padding: 6px 10px; border: 3px solid #1f6feb; border-radius: 6px; background: #eef5ff"
        mark = f"<b>{CURRENT_MARK}</b> · "
    else:
        box = "margin: 6px 0; padding: 6px 10px; border: 1px solid #d0d7de; border-radius: 6px; color: #444"
        mark = ""
    meta = f"{mark}<b>{esc(line.author or 'unknown')}</b>" + (f" · {esc(line.time)}" if line.time else "")
    parts = [f'<div class="mm-turn{" mm-current" if line.current else ""}" data-turn="{index}" style="{box}">',
             f'<div class="mm-meta" style="font-size: 12px; color: #57606a">{meta}</div>']
    if line.text:
        parts.append(f'<div class="mm-text" style="white-space: pre-wrap">{esc(line.text)}</div>')
    if line.image_urls:
        images = "".join(
            f'<img src="{esc(image_url(url), quote=True)}" alt="sticker" '
            'style="max-height: 120px; max-width: 240px; margin: 4px 4px 0 0"/>'
            for url in line.image_urls)
        parts.append(f'<div class="mm-images">{images}</div>')
    parts.append("</div>")
    return "".join(parts)


def language_badge(language: str | None, scripts: Mapping[str, float] | None) -> str:
    """What an annotator reads above the item: its language, and the scripts its text is written in.

    >>> language_badge("ml", {"Malayalam": 0.9, "Latin": 0.1})
    'Language: Malayalam · മലയാളം (ml) · script: Malayalam 90%, Latin 10%'
    """
    # English, then the language's own name
    name = " · ".join(dict.fromkeys(LANGUAGE_NAMES[language])) if language in LANGUAGE_NAMES else language
    badge = f"Language: {name} ({language})" if language else "Language: not known"
    if scripts:
        shown = ", ".join(f"{script} {share:.0%}" for script, share in list(scripts.items())[:3])
        badge += f" · script: {shown}"
    return badge
