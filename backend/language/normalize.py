"""One normal form for every text mmcurate stores: NFC, no invisible debris, one kind of space.

ASR and OCR output, chat exports and annotators' keyboards disagree on how the same Tamil,
Malayalam, Bengali or Chinese text is encoded; comparing, deduplicating and scoring text only
works on one form. :func:`normalize_text` applies, in this order:

1. refuse invalid input (a lone surrogate: :class:`TextInputError`);
2. fullwidth ASCII letters and digits (U+FF10–FF19, FF21–FF3A, FF41–FF5A) → ASCII; fullwidth
   punctuation (，。：？) is Chinese punctuation and stays; then NFC;
3. invisible characters removed: every format (Cf) and control (Cc) character — U+200B, U+2060,
   U+FEFF, U+00AD, bidi marks and isolates, emoji tag characters — except ZWJ/ZWNJ (step 5),
   whitespace controls (step 7) and the *visible* prepended concatenation marks (U+0600–0605,
   U+06DD, U+070F, U+0890–0891, U+08E2, U+110BD, U+110CD), which are signs, not debris;
4. legacy sequences → atomic letters: Malayalam consonant + virama + ZWJ → chillu
   (ണ ന ര ല ള ക → ൺ ൻ ർ ൽ ൾ ൿ, U+0D7A–0D7F); Bengali ত + ্ + ZWJ → ৎ (U+09CE);
5. ZWJ/ZWNJ runs kept between two characters of a joining script (:data:`JOINING_SCRIPTS`:
   Indic, Arabic-type; the left neighbour is the base before any Inherited marks), and — a
   decision beyond the contract — ZWJ kept between two emoji (👨‍👩‍👧, ❤️‍🔥), since dropping it
   turns one emoji into several and emoji carry sentiment; removed everywhere else;
6. Indic mark order: within a run of Indic marks a nukta moves first (it belongs to the
   consonant); two-part vowel signs typed in the wrong order are composed (Tamil ா+ெ → ொ,
   ா+ே → ோ, ௗ+ெ → ௌ; Malayalam ാ+െ → ൊ, ാ+േ → ോ, ൗ+െ → ൌ; Bengali া+ে → ো, ৗ+ে → ৌ);
   a vowel sign typed *before* its consonant (visual order) is not guessed at;
7. every whitespace run (Unicode spaces, tabs, line breaks) → one ASCII space, ends stripped;
8. with ``han_target``, Han text converted by OpenCC (t2s / s2t), repeated until it no longer
   changes (OpenCC alone is not idempotent); finally NFC again.

Idempotent, and it never drops a letter, mark, number, punctuation or symbol: the multiset of
those in NFD(output) equals that of NFD(input) once chillus and ৎ are read as consonant +
virama and fullwidth letters and digits as ASCII (tested with Hypothesis). Linear in the length.
"""

from __future__ import annotations

import enum
import functools
import re
import sys
import unicodedata

from backend.domain import ValidationError
from backend.language.chinese import to_simplified, to_traditional
from backend.language.scripts import script_of


class TextInputError(ValidationError):
    """Text that is not valid Unicode (a lone surrogate) or not text at all."""


class HanTarget(enum.StrEnum):
    """Which Chinese variant ``normalize_text`` converts Han text to."""

    SIMPLIFIED = "simplified"
    TRADITIONAL = "traditional"


JOINING_SCRIPTS = frozenset({
    "Devanagari", "Bengali", "Gurmukhi", "Gujarati", "Oriya", "Tamil", "Telugu", "Kannada", "Malayalam",
    "Sinhala", "Grantha", "Chakma", "Syloti_Nagri", "Limbu", "Lepcha", "Tirhuta", "Meetei_Mayek",
    "Myanmar", "Khmer", "Tibetan", "Arabic", "Syriac", "Nko", "Mongolian",
})
"""Scripts in which ZWJ/ZWNJ change how letters join (conjuncts, chillus, cursive forms)."""

ZWNJ, ZWJ = "\u200c", "\u200d"

_SURROGATE = re.compile("[\ud800-\udfff]")
_FULLWIDTH_ALNUM = {code: code - 0xFEE0 for low, high in ((0xFF10, 0xFF19), (0xFF21, 0xFF3A), (0xFF41, 0xFF5A))
                    for code in range(low, high + 1)}
_PREPENDED_MARKS = frozenset("\u0600\u0601\u0602\u0603\u0604\u0605\u06dd\u070f\u0890\u0891\u08e2\U000110bd\U000110cd")
_CHILLU = {"\u0d23": "\u0d7a", "\u0d28": "\u0d7b", "\u0d30": "\u0d7c", "\u0d32": "\u0d7d", "\u0d33": "\u0d7e",
           "\u0d15": "\u0d7f"}
_LEGACY = re.compile("([\u0d15\u0d23\u0d28\u0d30\u0d32\u0d33])\u0d4d\u200d|\u09a4\u09cd\u200d")
_JOINER_RUN = re.compile("[\u200c\u200d]+")
_WRONG_ORDER_VOWELS = {
    "\u0bbe\u0bc6": "\u0bca", "\u0bbe\u0bc7": "\u0bcb", "\u0bd7\u0bc6": "\u0bcc",  # Tamil
    "\u0d3e\u0d46": "\u0d4a", "\u0d3e\u0d47": "\u0d4b", "\u0d57\u0d46": "\u0d4c",  # Malayalam
    "\u09be\u09c7": "\u09cb", "\u09d7\u09c7": "\u09cc",  # Bengali
}
_WRONG_ORDER = re.compile("|".join(_WRONG_ORDER_VOWELS))
_HAN_ROUNDS = 5
_FULLWIDTH = re.compile("[\uff10-\uff19\uff21-\uff3a\uff41-\uff5a]")


def require_unicode(text: str) -> str:
    """``text`` itself if it is a str of valid Unicode; else :class:`TextInputError` saying where it is not."""
    if not isinstance(text, str):
        raise TextInputError(f"text must be a str, not {type(text).__name__}")
    bad = _SURROGATE.search(text)
    if bad:
        raise TextInputError(
            f"text holds an unpaired surrogate U+{ord(bad.group()):04X} at character {bad.start()}; "
            "the input was not valid Unicode"
        )
    return text


@functools.cache
def _invisible() -> re.Pattern[str]:
    """Every Cf/Cc character step 3 removes, as one class of ranges (built once, on first use)."""
    ranges: list[list[int]] = []
    for code in range(sys.maxunicode + 1):
        char = chr(code)
        if (
            unicodedata.category(char) in ("Cf", "Cc") and char not in (ZWJ, ZWNJ)
            and char not in _PREPENDED_MARKS and not char.isspace()
        ):
            if ranges and ranges[-1][1] == code - 1:
                ranges[-1][1] = code
            else:
                ranges.append([code, code])
    return re.compile("[" + "".join(f"{re.escape(chr(a))}-{re.escape(chr(b))}" for a, b in ranges) + "]+")


@functools.cache
def _indic_mark_run() -> re.Pattern[str]:
    """Runs of two or more combining marks of the Indic blocks (U+0900–0DFF)."""
    marks = [chr(c) for c in range(0x0900, 0x0E00) if unicodedata.category(chr(c)) in ("Mn", "Mc")]
    return re.compile("[" + "".join(marks) + "]{2,}")


def _is_nukta(char: str) -> bool:
    return unicodedata.name(char, "").endswith("SIGN NUKTA")


def _is_emoji(char: str) -> bool:
    return unicodedata.category(char) == "So" or 0x1F3FB <= ord(char) <= 0x1F3FF  # skin-tone modifiers are Sk


def _base_before(text: str, index: int) -> str:
    """The character before ``index``, skipping back over Inherited combining marks (e.g. U+FE0F)."""
    while index > 0:
        index -= 1
        char = text[index]
        if not (unicodedata.category(char)[0] == "M" and script_of(char) is None):
            return char
    return ""


def _settle_joiners(text: str) -> str:
    def keep_or_drop(match: re.Match[str]) -> str:
        before = _base_before(text, match.start())
        after = text[match.end()] if match.end() < len(text) else ""
        if not before or not after:
            return ""
        if script_of(before) in JOINING_SCRIPTS and script_of(after) in JOINING_SCRIPTS:
            return match.group()
        if _is_emoji(before) and _is_emoji(after):
            return match.group().replace(ZWNJ, "")
        return ""

    return _JOINER_RUN.sub(keep_or_drop, text)


def _order_indic_marks(text: str) -> str:
    def nukta_first(match: re.Match[str]) -> str:
        run = match.group()
        return "".join(sorted(run, key=lambda char: not _is_nukta(char)))

    text = _indic_mark_run().sub(nukta_first, text)
    return _WRONG_ORDER.sub(lambda match: _WRONG_ORDER_VOWELS[match.group()], text)


def _convert_han(text: str, target: HanTarget) -> str:
    """OpenCC until the text stops changing: it converts phrase by phrase and is not idempotent
    (t2s: 薴 → 苧 → 苎; s2t: 丰仪 → 丰儀 → 豐儀). Two rounds sufficed on 400,000 random Han strings."""
    convert = to_simplified if target == HanTarget.SIMPLIFIED else to_traditional
    for _ in range(_HAN_ROUNDS):
        converted = convert(text)
        if converted == text:
            break
        text = converted
    return text


def normalize_text(text: str, *, han_target: HanTarget | None = None) -> str:
    """The normal form of ``text`` (steps in the module docstring); "" for text with nothing visible.

    >>> normalize_text("  அவன்\\u200b  வந்தான் \\n")
    'அவன் வந்தான்'
    >>> normalize_text("\\u0d05\\u0d35\\u0d28\\u0d4d\\u200d") == "\\u0d05\\u0d35\\u0d7b"  # legacy chillu n
    True
    """
    require_unicode(text)
    if han_target is not None and han_target not in tuple(HanTarget):
        raise TextInputError(f"han_target must be one of {', '.join(HanTarget)} or None, not {han_target!r}")
    if _FULLWIDTH.search(text):
        text = text.translate(_FULLWIDTH_ALNUM)
    text = unicodedata.normalize("NFC", text)
    text = _invisible().sub("", text)
    text = _LEGACY.sub(lambda match: _CHILLU[match.group(1)] if match.group(1) else "\u09ce", text)
    text = _settle_joiners(text)
    text = _order_indic_marks(text)
    text = " ".join(text.split())  # str.split() splits on exactly the characters str.isspace() accepts
    if han_target is not None:
        text = _convert_han(text, han_target)
    return unicodedata.normalize("NFC", text)
