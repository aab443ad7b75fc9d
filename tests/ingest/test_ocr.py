"""ingest.ocr with the real tesseract 5.3 and Debian's language packs, on text rendered with Debian's Noto fonts.

Each sample is a meme-like image of one or two known sentences (Pillow with libraqm shapes the
Indic scripts as a browser would), so the character error rate after mmcurate's normalisation
(``backend.language.error_rates``) measures the reading.

Measured CER (tesseract 5.3.0 with Debian bookworm's packs, this file's renders, when written):

    sample            own packs        only eng          tam+eng
    en                0.000 (eng is always read)
    ta                0.000            0.921
    ml                0.000            0.959
    bn                0.000            0.822
    zh-Hans           0.000            1.000
    zh-Hant           0.062            1.000             (天氣 read as 天和气)
    bn+en (mixed)     0.000            0.432             0.455
    meme caption      0.000 (white on dark, JPEG q75; psm 3, 6 and 11 alike)
    en at 8 px        0.000 enlarged 4x; 0.213 as given (9 px: 0.000 / 0.053; 12 px: 0.000 / 0.040)

The bounds (``CER_BOUND``) sit well above these, leaving room for other tesseract builds and
font versions, and far below what the wrong pack gives, so a lost pack or a broken script
mapping fails them.
"""

from __future__ import annotations

import doctest
import io
import itertools
import json
import shutil
import string
from dataclasses import dataclass
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st
from PIL import Image, ImageDraw, ImageFont

from backend.domain import ServiceUnavailableError, ValidationError
from backend.language import error_rates, script_of
from ingest import ocr
from ingest.ocr import OcrResult, OcrWord

NOTO = Path("/usr/share/fonts/truetype/noto")
NOTO_CJK = Path("/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc")
CJK_SC, CJK_TC = 2, 3  # faces of the collection: Noto Sans CJK SC and TC
LATIN = (NOTO / "NotoSans-Regular.ttf", 0)
FONTS = {
    "en": LATIN,
    "ta": (NOTO / "NotoSansTamil-Regular.ttf", 0),
    "ml": (NOTO / "NotoSansMalayalam-Regular.ttf", 0),
    "bn": (NOTO / "NotoSansBengali-Regular.ttf", 0),
    "zh-Hans": (NOTO_CJK, CJK_SC),
    "zh-Hant": (NOTO_CJK, CJK_TC),
}
INK, PAPER = (25, 25, 30), (246, 243, 235)


@dataclass(frozen=True)
class Sample:
    """A rendered test image's truth: the project languages to read it with and the language its CER is counted in."""

    name: str
    languages: tuple[str, ...]
    cer_language: str
    lines: tuple[str, ...]

    @property
    def truth(self) -> str:
        return "\n".join(self.lines)


SAMPLES = {
    s.name: s
    for s in [
        Sample("en", ("en",), "en",
               ("This movie was absolutely wonderful.", "I would happily watch it again tomorrow.")),
        # "This film was very good. I will see it again tomorrow."
        Sample("ta", ("ta",), "ta", ("இந்த படம் மிகவும் நன்றாக இருந்தது.", "நான் நாளை மீண்டும் பார்ப்பேன்.")),
        Sample("ml", ("ml",), "ml", ("ഈ സിനിമ വളരെ നന്നായിരുന്നു.", "ഞാൻ നാളെ വീണ്ടും കാണും.")),
        # "I liked this film very much. I will watch it again tomorrow."
        Sample("bn", ("bn",), "bn", ("এই সিনেমাটা খুব ভালো লেগেছে।", "আমি কাল আবার দেখব।")),
        # "This film is really good; I want to watch it once more tomorrow."
        Sample("zh-Hans", ("zh",), "zh", ("这部电影真的很好看，", "我明天还想再看一遍。")),
        # "The weather is lovely today; let's go for a walk in the park together."
        Sample("zh-Hant", ("zh",), "zh", ("今天天氣很好，", "我們一起去公園散步吧。")),
        # A MemoSen-style code-mixed line: "Me, the night before the exam: just one more episode"
        Sample("bn+en", ("bn",), "bn", ("পরীক্ষার আগের রাতে আমি:", "just one more episode")),
    ]
}
MEME = Sample("meme", ("en",), "en", ("WHEN THE CODE WORKS", "ON THE FIRST TRY"))

CER_BOUND = {"en": 0.05, "ta": 0.10, "ml": 0.10, "bn": 0.10, "zh-Hans": 0.15, "zh-Hant": 0.15, "bn+en": 0.10,
             "meme": 0.05, "small": 0.05}
"""Largest CER accepted per sample (measured values in the module docstring)."""

WRONG_LANGUAGE_MIN_CER = 0.6
"""Reading a non-Latin sample with only the English pack loses most of it (0.82-1.00 measured)."""


def _font(language: str, size: int, *, bold: bool = False) -> ImageFont.FreeTypeFont:
    path, index = FONTS[language]
    if bold:
        path = Path(str(path).replace("-Regular", "-Bold"))
    return ImageFont.truetype(str(path), size, index=index, layout_engine=ImageFont.Layout.RAQM)


def _runs(line: str, language: str) -> list[tuple[str, str]]:
    """``line`` cut into (text, font language) runs: Latin letters in Noto Sans, the rest in the language's font.

    Noto's Indic fonts have no Latin letters, so a code-mixed line needs two fonts, as a meme
    editor's font fallback would use.
    """
    runs: list[tuple[str, str]] = []
    for char in line:
        font = "en" if char in string.ascii_letters else (runs[-1][1] if runs and char in " :,." else language)
        if runs and runs[-1][1] == font:
            runs[-1] = (runs[-1][0] + char, font)
        else:
            runs.append((char, font))
    return runs


def render(lines: tuple[str, ...], language: str, *, size: int = 28, ink=INK, paper=PAPER, bold: bool = False,
           stroke: int = 0, background: Image.Image | None = None) -> Image.Image:
    """``lines`` drawn left-aligned with a margin of one em, 1.8 em apart."""
    fonts = {name: _font(name, size, bold=bold) for name in {language, "en"}}
    widths = [sum(fonts[f].getlength(text) for text, f in _runs(line, language)) for line in lines]
    width, height = int(max(widths)) + 2 * size, int(len(lines) * size * 1.8) + 2 * size
    image = background.resize((width, height)) if background is not None else Image.new("RGB", (width, height), paper)
    draw = ImageDraw.Draw(image)
    for number, line in enumerate(lines):
        x, y = float(size), size + number * size * 1.8
        for text, font in _runs(line, language):
            draw.text((x, y), text, font=fonts[font], fill=ink, stroke_width=stroke, stroke_fill=(0, 0, 0))
            x += fonts[font].getlength(text)
    return image


def meme_image() -> Image.Image:
    """White bold capitals with a black outline over a dark blue-grey gradient, as image macros are captioned."""
    gradient = Image.linear_gradient("L").resize((64, 64))
    dark = Image.merge("RGB", [gradient.point(lambda v: 20 + v // 5), gradient.point(lambda v: 30 + v // 5),
                               gradient.point(lambda v: 45 + v // 4)])
    return render(MEME.lines, "en", size=40, ink=(255, 255, 255), bold=True, stroke=2, background=dark)


def cer(sample: Sample, hypothesis: str) -> float:
    return error_rates(sample.truth, hypothesis, sample.cer_language).cer


@pytest.fixture(scope="module")
def readings() -> dict[str, tuple[Image.Image, OcrResult]]:
    """Every sample rendered and read once, with its own languages."""
    out = {}
    for name, sample in SAMPLES.items():
        image = render(sample.lines, sample.name.split("+")[0])
        out[name] = (image, ocr.recognise(image, sample.languages))
    return out


@pytest.mark.parametrize("name", list(SAMPLES))
def test_each_language_is_read_within_its_bound(readings, name):
    sample = SAMPLES[name]
    _, result = readings[name]
    assert cer(sample, result.text) <= CER_BOUND[name], result.text
    assert result.languages == ocr.tesseract_languages(sample.languages)
    assert result.engine.startswith("tesseract 5.") and result.scale == 1.0
    assert result.mean_confidence is not None and 0.5 < result.mean_confidence <= 1.0
    assert len(result.text.splitlines()) == len(sample.lines)


@pytest.mark.parametrize(("name", "wrong", "at_least"), [
    ("ta", "en", WRONG_LANGUAGE_MIN_CER), ("ml", "en", WRONG_LANGUAGE_MIN_CER),
    ("bn", "en", WRONG_LANGUAGE_MIN_CER), ("zh-Hans", "en", WRONG_LANGUAGE_MIN_CER),
    ("zh-Hant", "en", WRONG_LANGUAGE_MIN_CER),
    ("bn+en", "ta", 0.3),  # the English half is still read; the Bengali half is lost
])
def test_with_the_wrong_language_pack_the_cer_exceeds_the_bound(readings, name, wrong, at_least):
    """The bounds mean something: the same image read without its language's pack fails them by far."""
    image, _ = readings[name]
    result = ocr.recognise(image, [wrong])
    assert result.languages == ocr.tesseract_languages([wrong])
    assert cer(SAMPLES[name], result.text) >= at_least > 2 * CER_BOUND[name], result.text


def test_chinese_is_joined_without_spaces_between_han(readings):
    for name in ("zh-Hans", "zh-Hant"):
        text = readings[name][1].text
        assert " " not in text, text


def test_code_mixed_line_keeps_both_scripts(readings):
    text = readings["bn+en"][1].text
    assert "just one more episode" in text and "পরীক্ষার" in text


def test_white_on_dark_meme_caption_from_a_jpeg(tmp_path):
    path = tmp_path / "caption.jpg"
    meme_image().save(path, quality=75)
    result = ocr.recognise(path, MEME.languages, psm=11)
    assert cer(MEME, result.text) <= CER_BOUND["meme"], result.text


def test_small_text_is_enlarged_and_boxes_map_back():
    image = render(SAMPLES["en"].lines, "en", size=8)
    result = ocr.recognise(image, ["en"])
    as_given = ocr.recognise(image, ["en"], upscale=False)
    assert result.scale > 1.0 and as_given.scale == 1.0
    assert cer(SAMPLES["en"], result.text) <= CER_BOUND["small"], result.text
    assert cer(SAMPLES["en"], as_given.text) > 2 * CER_BOUND["small"], as_given.text
    assert all(w.right <= image.width and w.bottom <= image.height for w in result.words)
    assert max(w.height for w in result.words) < 16  # in the image's own pixels, not the enlarged copy's


def test_boxes_lie_inside_the_image_in_reading_order(readings):
    for name, (image, result) in readings.items():
        words = result.words
        assert words, name
        for word in words:
            assert 0 <= word.left < word.right <= image.width and 0 <= word.top < word.bottom <= image.height
            assert 0.0 <= word.confidence <= 1.0 and word.text.strip() == word.text != ""
        assert [w.line for w in words] == sorted(w.line for w in words)
        for before, after in itertools.pairwise(words):
            if before.line == after.line:
                assert before.left < after.left, (name, before, after)
            else:
                assert before.top < after.top, (name, before, after)


def test_each_word_is_in_the_text(readings):
    _, result = readings["ta"]
    assert [w.text for w in result.words] == result.text.split()


@pytest.mark.parametrize("mode", ["RGBA", "P", "CMYK"])
def test_image_modes_are_converted(mode):
    rgb = render(SAMPLES["en"].lines, "en")
    if mode == "RGBA":  # text on a transparent background: flattened onto white
        image = Image.new("RGBA", rgb.size, (0, 0, 0, 0))
        ImageDraw.Draw(image).text((28, 28), SAMPLES["en"].lines[0], font=_font("en", 28), fill=(0, 0, 0, 255))
        truth = Sample("rgba", ("en",), "en", SAMPLES["en"].lines[:1])
    else:
        image, truth = rgb.convert(mode), SAMPLES["en"]
    result = ocr.recognise(image, ["en"])
    assert cer(truth, result.text) <= CER_BOUND["en"], result.text


def test_exif_orientation_is_applied(tmp_path):
    """A phone photo stored sideways with EXIF orientation 6 ("rotate 90° clockwise to view") is read upright."""
    path = tmp_path / "sideways.jpg"
    exif = Image.Exif()
    exif[0x0112] = 6
    render(SAMPLES["en"].lines, "en").rotate(90, expand=True).save(path, quality=90, exif=exif)
    result = ocr.recognise(path, ["en"])
    assert cer(SAMPLES["en"], result.text) <= CER_BOUND["en"], result.text
    with Image.open(path) as stored:
        assert result.words and all(w.right <= stored.height and w.bottom <= stored.width for w in result.words)


def test_blank_image_gives_an_empty_result():
    result = ocr.recognise(Image.new("RGB", (400, 200), PAPER), ["bn"])
    assert result == OcrResult("", (), ("ben", "eng"), None, result.engine, 3, 1.0)


def test_corrupt_image_is_refused_naming_the_file(tmp_path):
    bad = tmp_path / "meme_0042.jpg"
    bad.write_bytes(b"\xff\xd8\xff\xe0 not really a JPEG" * 20)
    with pytest.raises(ValidationError, match=r"^meme_0042.jpg is not an image Pillow can read: "):
        ocr.recognise(bad, ["bn"])


def test_truncated_image_is_refused(tmp_path):
    buffer = io.BytesIO()
    render(SAMPLES["en"].lines, "en").save(buffer, format="PNG")
    cut = tmp_path / "cut.png"
    cut.write_bytes(buffer.getvalue()[: len(buffer.getvalue()) // 2])
    with pytest.raises(ValidationError, match=r"^cut.png is not an image Pillow can read: "):
        ocr.recognise(cut, ["en"])


def test_missing_file_is_refused(tmp_path):
    with pytest.raises(ValidationError, match=r"nothing.png: no such image file"):
        ocr.recognise(tmp_path / "nothing.png", ["en"])


def test_project_languages_map_to_tesseract_packs():
    assert ocr.tesseract_languages(["ta", "ml", "bn", "zh", "en"]) == ("tam", "mal", "ben", "chi_sim", "chi_tra", "eng")
    assert ocr.tesseract_languages(["bn"]) == ("ben", "eng")
    assert ocr.tesseract_languages(["en", "ta"]) == ("eng", "tam")
    assert ocr.tesseract_languages(["zh-TW", "ZH"]) == ("chi_sim", "chi_tra", "eng")
    assert ocr.tesseract_languages(["hi"]) == ("eng",)  # a language OCR does not cover is skipped
    assert ocr.tesseract_languages([]) == ("eng",)


@pytest.mark.parametrize("bad", [["tam"], ["Tamil"], [""], "bn"])
def test_codes_that_are_not_iso_639_1_are_refused(bad):
    with pytest.raises(ValidationError, match="ISO 639-1"):
        ocr.tesseract_languages(bad)


def test_missing_language_pack_names_the_debian_package(tmp_path, monkeypatch):
    shutil.copy(Path("/usr/share/tesseract-ocr/5/tessdata/eng.traineddata"), tmp_path)
    monkeypatch.setenv("TESSDATA_PREFIX", str(tmp_path))
    with pytest.raises(ServiceUnavailableError,
                       match=r"no language pack for tam, chi_sim, chi_tra; install Debian's tesseract-ocr-tam "
                             r"tesseract-ocr-chi-sim tesseract-ocr-chi-tra \(apt-get install"):
        ocr.tesseract_languages(["ta", "zh-Hans"])
    assert ocr.tesseract_languages(["en"]) == ("eng",)


def test_missing_tesseract_binary_is_reported(tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(ServiceUnavailableError,
                       match=r"tesseract \('tesseract'\) is not installed.*apt-get install tesseract-ocr"):
        ocr.recognise(Image.new("RGB", (50, 50), PAPER), ["en"])


@pytest.mark.parametrize("psm", [0, 2, 14, -1])
def test_page_segmentation_modes_without_text_are_refused(psm):
    with pytest.raises(ValidationError, match=rf"psm {psm} does not recognise text"):
        ocr.recognise(Image.new("RGB", (50, 50), PAPER), ["en"], psm=psm)


def test_result_survives_json(readings):
    _, result = readings["bn+en"]
    assert OcrResult.from_json(json.loads(json.dumps(result.as_json(), ensure_ascii=False))) == result


def test_module_doctests():
    assert doctest.testmod(ocr).failed == 0


_texts = st.sampled_from(["这部", "电影", "，", "ok", "படம்", "A", "。", "1"])


@given(st.lists(st.tuples(_texts, st.integers(1, 3)), min_size=1, max_size=12))
def test_join_keeps_every_word_and_line_and_spaces_no_han(items):
    items.sort(key=lambda item: item[1])
    joined = ocr.join_words([OcrWord(text, 0.9, 0, 0, 1, 1, line, 1) for text, line in items])
    lines = joined.split("\n")
    assert len(lines) == len({line for _, line in items})
    assert joined.replace(" ", "").replace("\n", "") == "".join(text for text, _ in items)
    for line in lines:
        for i, char in enumerate(line):
            if char == " ":
                assert not (script_of(line[i - 1]) == "Han" and script_of(line[i + 1]) == "Han"), line
