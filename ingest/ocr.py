"""Text in meme images (MemoSen, Memotion 3) with Debian's tesseract 5 through pytesseract.

The only module that runs tesseract. A project's languages (ISO 639-1) become tesseract
language packs with :func:`tesseract_languages`; :func:`recognise` reads an image with all of
them in one pass (``ben+eng`` for a code-mixed Bengali meme), so a line that switches script
midway is still one line. Every word keeps its box (pixels of the image as given) and
confidence (0-1).

Decisions:

- English is always added: memes in every corpus here mix it in (and tesseract's Latin digits
  and punctuation come from it). Project languages come first, in the order given.
- Word texts are in mmcurate's normal form (``backend.language.normalize_text``): tesseract
  writes Tamil virama + ZWNJ and legacy Malayalam chillus (``ന്‍``), which the normal form
  settles, so OCR text compares and searches like every other text the platform stores.
- Small text is enlarged, because tesseract reads best at ~30 px x-height: when the median
  height of the recognised lines is under ``MIN_LINE_PX`` the image is scaled up (Lanczos) so
  that it reaches ``TARGET_LINE_PX`` — at most ``MAX_SCALE`` times and ``MAX_SCALED_PIXELS``
  pixels — and read again; the second reading is the result. The rule looks at the text, not
  the image size, because enlarging large text harms tesseract (100 px Han characters scaled
  3x came back empty when measured). Boxes are always mapped back to the image as given.
- An image is read the way a viewer shows it: EXIF orientation applied, the first frame of an
  animation, transparency flattened onto white, every mode converted to RGB.
- A missing tesseract binary or language pack is the deployment's fault, not the input's:
  ``ServiceUnavailableError`` (HTTP 503, exit code 4) naming the Debian package to install.
  An unreadable image is the input's: ``ValidationError`` naming the file.
"""

from __future__ import annotations

import math
import os
import re
import statistics
import unicodedata
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from backend.domain import MediaError, ServiceUnavailableError, ValidationError
from backend.language import normalize_text, script_of

if TYPE_CHECKING:
    from PIL.Image import Image

TESSERACT_CODES: dict[str, tuple[str, ...]] = {
    "en": ("eng",),
    "ta": ("tam",),
    "ml": ("mal",),
    "bn": ("ben",),
    "zh": ("chi_sim", "chi_tra"),
}
"""ISO 639-1 project language → tesseract language packs (Chinese: both scripts, memes use either)."""

ALWAYS = ("eng",)
"""Packs added to every project's languages (English is mixed into memes everywhere)."""

PSM_MODES = frozenset({1, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13})
"""Tesseract page segmentation modes that recognise text (0 is orientation only, 2 is not implemented)."""

MIN_LINE_PX = 24
"""A median recognised line lower than this (pixels) is read again from an enlarged image."""
TARGET_LINE_PX = 48
"""The median line height the enlargement aims at (about a 30 px x-height for Latin text)."""
MAX_SCALE = 4.0
"""The most an image is enlarged."""
MAX_SCALED_PIXELS = 40_000_000
"""No enlargement beyond this many pixels (tesseract's time and memory grow with the area)."""

_ISO_639_1 = re.compile(r"[a-z]{2}")


@dataclass(frozen=True)
class OcrWord:
    """One recognised word: its text (normal form), confidence 0-1 and box in pixels of the image as given.

    ``line`` numbers the image's lines 1, 2, … in tesseract's reading order (unique across blocks
    and paragraphs); ``block`` is tesseract's block number (1-based), a region of the layout.
    """

    text: str
    confidence: float
    left: int
    top: int
    width: int
    height: int
    line: int
    block: int

    @property
    def right(self) -> int:
        return self.left + self.width

    @property
    def bottom(self) -> int:
        return self.top + self.height


@dataclass(frozen=True)
class OcrResult:
    """What tesseract read in one image, with the options that produced it.

    ``text`` is the words joined by line (:func:`join_words`: a newline between lines, a space
    between words but none where Han meets Han or punctuation); "" when the image has no text.
    ``languages`` are the tesseract packs used, ``mean_confidence`` the mean of the word
    confidences (None without words), ``engine`` the tesseract version ("tesseract 5.3.0"),
    ``scale`` how much the image was enlarged before the reading that is kept (1.0: not).
    """

    text: str
    words: tuple[OcrWord, ...]
    languages: tuple[str, ...]
    mean_confidence: float | None
    engine: str
    psm: int = 3
    scale: float = 1.0

    def as_json(self) -> dict[str, Any]:
        """A JSON-ready dict (lists for tuples); :meth:`from_json` reads it back."""
        return {
            "text": self.text,
            "words": [asdict(word) for word in self.words],
            "languages": list(self.languages),
            "mean_confidence": self.mean_confidence,
            "engine": self.engine,
            "psm": self.psm,
            "scale": self.scale,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> OcrResult:
        return cls(
            text=data["text"],
            words=tuple(OcrWord(**word) for word in data["words"]),
            languages=tuple(data["languages"]),
            mean_confidence=data["mean_confidence"],
            engine=data["engine"],
            psm=data["psm"],
            scale=data["scale"],
        )


def _pytesseract() -> Any:
    try:
        import pytesseract
    except ImportError as exc:
        raise ServiceUnavailableError(
            "OCR needs pytesseract, which is not installed; pip install 'mmcurate[media]'"
        ) from exc
    return pytesseract


def _not_installed(cmd: str) -> ServiceUnavailableError:
    return ServiceUnavailableError(
        f"tesseract ({cmd!r}) is not installed or not on PATH; install Debian's tesseract-ocr package "
        "(apt-get install tesseract-ocr) and the language packs the project needs"
    )


def tesseract_version() -> str:
    """The engine's name and version, e.g. "tesseract 5.3.0"; ``ServiceUnavailableError`` without it."""
    pytesseract = _pytesseract()
    try:
        version = pytesseract.get_tesseract_version()
    except pytesseract.TesseractNotFoundError as exc:
        raise _not_installed(pytesseract.pytesseract.tesseract_cmd) from exc
    except SystemExit as exc:  # pytesseract exits (!) on a tesseract older than it supports
        raise ServiceUnavailableError(f"the installed tesseract is too old for pytesseract ({exc}); "
                                      "install Debian's tesseract-ocr 5") from exc
    return f"tesseract {version}"


def installed_languages() -> frozenset[str]:
    """The language packs tesseract finds (``tesseract --list-langs``, which honours TESSDATA_PREFIX)."""
    pytesseract = _pytesseract()
    try:
        return frozenset(pytesseract.get_languages())
    except pytesseract.TesseractNotFoundError as exc:
        raise _not_installed(pytesseract.pytesseract.tesseract_cmd) from exc


def debian_package(pack: str) -> str:
    """The Debian package that ships a tesseract language pack: "chi_sim" → "tesseract-ocr-chi-sim"."""
    return "tesseract-ocr-" + pack.replace("_", "-").lower()


def tesseract_languages(iso_codes: Sequence[str]) -> tuple[str, ...]:
    """The tesseract packs for a project's languages: theirs in the order given, then English if not among them.

    A code is read by its first subtag ("zh-TW" is "zh"). A well-formed ISO 639-1 code that OCR
    does not cover (``TESSERACT_CODES``) is skipped — the project's other languages and English
    are still read; anything else ("tam", "Tamil", "") is refused, because it is a typo or a
    tesseract code given where an ISO code belongs. ``ServiceUnavailableError`` names the Debian
    packages to install when a needed pack is missing.

    >>> tesseract_languages(["bn"])
    ('ben', 'eng')
    """
    if isinstance(iso_codes, str):
        raise ValidationError(f"languages must be a list of ISO 639-1 codes such as ['{iso_codes}'], "
                              f"not the string {iso_codes!r}")
    packs: list[str] = []
    for code in iso_codes:
        base = str(code).replace("_", "-").split("-")[0].lower()
        if not _ISO_639_1.fullmatch(base):
            raise ValidationError(
                f"OCR language {code!r} is not an ISO 639-1 code; give two letters such as 'ta', 'ml', 'bn', "
                f"'zh' or 'en' (tesseract packs such as 'tam' are chosen from them)"
            )
        packs.extend(TESSERACT_CODES.get(base, ()))  # a language OCR does not cover is skipped (docstring)
    packs.extend(ALWAYS)
    chosen = tuple(dict.fromkeys(packs))
    installed = installed_languages()
    missing = [pack for pack in chosen if pack not in installed]
    if missing:
        debs = " ".join(debian_package(pack) for pack in missing)
        raise ServiceUnavailableError(
            f"tesseract has no language pack for {', '.join(missing)}; install Debian's {debs} "
            f"(apt-get install {debs})"
        )
    return chosen


def _load_rgb(source: str | os.PathLike[str] | Image) -> Image:
    """``source`` as an upright RGB image (module docstring); ``ValidationError`` naming the file if unreadable."""
    try:
        from PIL import Image as PILImage
    except ImportError as exc:
        raise ServiceUnavailableError(
            "OCR needs Pillow, which is not installed; pip install 'mmcurate[media]'"
        ) from exc

    if isinstance(source, PILImage.Image):
        return _upright_rgb(source, "the image")
    if not isinstance(source, (str, os.PathLike)):
        raise ValidationError(f"OCR reads an image file path or a PIL image, not {type(source).__name__}")
    path = Path(source)
    if not path.is_file():
        raise ValidationError(f"{path}: no such image file; check the path")
    try:
        with PILImage.open(path) as image:  # the first frame of an animation
            image.load()
            return _upright_rgb(image, path.name)
    except (OSError, SyntaxError, ValueError, PILImage.DecompressionBombError) as exc:
        raise ValidationError(f"{path.name} is not an image Pillow can read: {exc}") from exc


def _upright_rgb(image: Image, name: str) -> Image:
    """A new RGB image: EXIF orientation applied, transparency flattened onto white."""
    from PIL import Image as PILImage
    from PIL import ImageOps

    try:
        image = ImageOps.exif_transpose(image)
        if image.mode == "P":
            image = image.convert("RGBA")
        if image.mode in ("RGBA", "LA", "PA", "RGBa", "La"):
            flat = PILImage.new("RGBA", image.size, (255, 255, 255, 255))
            image = PILImage.alpha_composite(flat, image.convert("RGBA"))
        return image.convert("RGB")
    except (OSError, ValueError) as exc:
        raise ValidationError(f"{name} is not an image Pillow can read: {exc}") from exc


def _read(image: Image, packs: tuple[str, ...], psm: int, timeout_s: float, name: str) -> dict[str, list[Any]]:
    pytesseract = _pytesseract()
    try:
        return pytesseract.image_to_data(image, lang="+".join(packs), config=f"--psm {psm}",
                                         output_type=pytesseract.Output.DICT, timeout=timeout_s)
    except pytesseract.TesseractNotFoundError as exc:
        raise _not_installed(pytesseract.pytesseract.tesseract_cmd) from exc
    except pytesseract.TesseractError as exc:
        raise MediaError(f"{name}: tesseract failed ({' '.join(str(exc.message).split())}); file skipped") from exc
    except RuntimeError as exc:  # pytesseract's timeout
        raise MediaError(f"{name}: OCR took longer than {timeout_s:.0f} s; file skipped") from exc


def _kept(data: dict[str, list[Any]]) -> list[int]:
    """Rows of ``data`` that are words with a confidence and visible text."""
    return [i for i, level in enumerate(data["level"])
            if level == 5 and float(data["conf"][i]) >= 0 and normalize_text(str(data["text"][i]))]


def _line_key(data: dict[str, list[Any]], i: int) -> tuple[int, int, int]:
    return int(data["block_num"][i]), int(data["par_num"][i]), int(data["line_num"][i])


def _median_line_px(data: dict[str, list[Any]]) -> float | None:
    """Median height of the lines that hold a kept word; None without any."""
    with_words = {_line_key(data, i) for i in _kept(data)}
    heights = [int(data["height"][i]) for i, level in enumerate(data["level"])
               if level == 4 and _line_key(data, i) in with_words]
    return statistics.median(heights) if heights else None


def _words(data: dict[str, list[Any]], sx: float, sy: float, size: tuple[int, int]) -> tuple[OcrWord, ...]:
    """Kept words with boxes divided by the scale (``sx``, ``sy``) and clipped to the original ``size``."""
    width, height = size
    lines: dict[tuple[int, int, int], int] = {}
    words = []
    for i in _kept(data):
        line = lines.setdefault(_line_key(data, i), len(lines) + 1)
        left = min(max(0, round(int(data["left"][i]) / sx)), width - 1)
        top = min(max(0, round(int(data["top"][i]) / sy)), height - 1)
        right = min(width, max(left + 1, round((int(data["left"][i]) + int(data["width"][i])) / sx)))
        bottom = min(height, max(top + 1, round((int(data["top"][i]) + int(data["height"][i])) / sy)))
        words.append(OcrWord(
            text=normalize_text(str(data["text"][i])),
            confidence=round(min(max(float(data["conf"][i]) / 100, 0.0), 1.0), 4),
            left=left, top=top, width=right - left, height=bottom - top,
            line=line, block=int(data["block_num"][i]),
        ))
    return tuple(words)


def _unspaced(char: str) -> bool:
    """Han, or CJK punctuation / full-width forms: written without spaces between them."""
    return script_of(char) == "Han" or "\u3000" <= char <= "\u303f" or "\uff00" <= char <= "\uffef"


def _glued(left: str, right: str) -> bool:
    """Whether two adjacent words are written without a space: Han meets Han, or Han meets punctuation."""
    a, b = left[-1], right[0]
    punct_a, punct_b = unicodedata.category(a)[0] == "P", unicodedata.category(b)[0] == "P"
    return (_unspaced(a) or punct_a) and (_unspaced(b) or punct_b) and (_unspaced(a) or _unspaced(b))


def join_words(words: Sequence[OcrWord]) -> str:
    """Words joined by line with a newline between lines and a space between words, except where
    Han meets Han or punctuation (Chinese is written without spaces).

    >>> join_words([OcrWord("这部", 0.9, 0, 0, 9, 9, 1, 1), OcrWord("电影", 0.9, 9, 0, 9, 9, 1, 1),
    ...             OcrWord(",", 0.9, 18, 0, 3, 9, 1, 1), OcrWord("OK", 0.9, 0, 9, 9, 9, 2, 1)])
    '这部电影,\\nOK'
    """
    lines: list[str] = []
    previous: OcrWord | None = None
    for word in words:
        if previous is None or word.line != previous.line:
            lines.append(word.text)
        elif _glued(previous.text, word.text):
            lines[-1] += word.text
        else:
            lines[-1] += " " + word.text
        previous = word
    return "\n".join(lines)


def _scale_for(median_px: float | None, size: tuple[int, int]) -> float:
    """How much to enlarge an image whose recognised lines have median height ``median_px`` (module docstring)."""
    if median_px is None or median_px <= 0 or median_px >= MIN_LINE_PX:
        return 1.0
    area_limit = math.sqrt(MAX_SCALED_PIXELS / (size[0] * size[1]))
    scale = min(TARGET_LINE_PX / median_px, MAX_SCALE, area_limit)
    return scale if scale >= 1.25 else 1.0


def recognise(path_or_image: str | os.PathLike[str] | Image, languages: Sequence[str], *, psm: int = 3,
              upscale: bool = True, timeout_s: float = 120.0) -> OcrResult:
    """Read the text of one image with the packs for ``languages`` (ISO 639-1, see :func:`tesseract_languages`).

    ``path_or_image`` is an image file or a PIL image; ``psm`` is tesseract's page segmentation
    mode (3: automatic; 6: one block; 11: sparse text, often best for memes). ``upscale`` allows
    the enlargement of small text (module docstring). An image without text gives text "" and no
    words. Refusals: ``ValidationError`` for a file Pillow cannot read or a bad argument,
    ``ServiceUnavailableError`` when tesseract or a language pack is missing, ``MediaError`` when
    tesseract fails on the image or takes longer than ``timeout_s``.
    """
    if psm not in PSM_MODES:
        raise ValidationError(f"psm {psm!r} does not recognise text; use one of {sorted(PSM_MODES)} (3 is automatic)")
    if not timeout_s > 0:
        raise ValidationError(f"timeout_s must be > 0, got {timeout_s!r}")
    packs = tesseract_languages(languages)
    engine = tesseract_version()
    name = Path(path_or_image).name if isinstance(path_or_image, (str, os.PathLike)) else "the image"
    image = _load_rgb(path_or_image)
    data = _read(image, packs, psm, timeout_s, name)
    sx = sy = scale = 1.0
    if upscale:
        scale = _scale_for(_median_line_px(data), image.size)
        if scale > 1.0:
            from PIL import Image as PILImage

            size = (round(image.width * scale), round(image.height * scale))
            data = _read(image.resize(size, PILImage.Resampling.LANCZOS), packs, psm, timeout_s, name)
            sx, sy = size[0] / image.width, size[1] / image.height
    words = _words(data, sx, sy, image.size)
    mean = round(statistics.fmean(w.confidence for w in words), 4) if words else None
    return OcrResult(text=join_words(words), words=words, languages=packs, mean_confidence=mean,
                     engine=engine, psm=psm, scale=round(scale, 3))
