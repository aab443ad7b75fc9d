"""Which writing system a text is in: per character, as shares, and whether it fits a language.

``script_of`` answers with the Unicode ``Script`` property value (``"Tamil"``, ``"Han"``,
``"Ol_Chiki"``) for the 40 scripts in :data:`_SCRIPT_RANGES` — those of South Asia, China and
their neighbours, and the major scripts of the world. The table was generated from Unicode
17.0's Scripts.txt (through the ``regex`` module), with ranges merged across unassigned code
points; Python's own ``unicodedata`` has no script property. Everything else — Common and
Inherited characters (ASCII digits, punctuation, emoji, spaces, U+0964 DANDA, combining accents,
ZWJ) and the rarer scripts not in the table — gives ``None``. Native digits (௧, ১) belong to
their script, as Unicode says.

Decisions the contract left open:

- ``script_profile`` rounds with the largest-remainder method to 4 places, so the shares add up
  to exactly 10,000 ten-thousandths; a script too rare to earn one keeps its key with 0.0.
  Ties are ordered by script name.
- ``NATIVE_SCRIPTS`` lists each script's main language first (``hi`` before ``mr`` for
  Devanagari); callers that map a script back to a language take the first. Japanese is left
  out: it is written in three scripts at once, so no single native script can be checked.
- ``script_mismatch`` calls Latin-*dominant* text in an Indic language romanised (code-mixed
  Tanglish with a few Tamil-script words included), not only Latin-only text.
"""

from __future__ import annotations

import bisect
import functools
import unicodedata
from collections import Counter
from typing import Literal

from backend.language.chinese import to_simplified, to_traditional

HanVariant = Literal["simplified", "traditional", "mixed"]

_SCRIPT_RANGES = """
Latin: 0041-005A 0061-007A 00AA 00BA 00C0-00D6 00D8-00F6 00F8-02B8 02E0-02E4 1D00-1D25 1D2C-1D5C 1D62-1D65
    1D6B-1D77 1D79-1DBE 1E00-1EFF 2071 207F 2090-209F 212A-212B 2132 214E 2160-2188 2C60-2C7F A722-A787
    A78B-A7FF AB30-AB5A AB5C-AB64 AB66-AB69 AB6C-AB6D FB00-FB06 FF21-FF3A FF41-FF5A 10780-107BF
    1DF00-1DFF2 1DFF5-1DFFF
Greek: 0370-0373 0375-037D 037F-0384 0386 0388-03E1 03F0-03FF 1D26-1D2A 1D5D-1D61 1D66-1D6A 1DBF 1F00-1FFE
    2126 AB65 10140-1018E 101A0 1D200-1D245 1DFF3-1DFF4
Cyrillic: 0400-0484 0487-052F 1C80-1C8A 1D2B 1D78 2DE0-2DFF A640-A69F FE2E-FE2F 1E030-1E08F
Armenian: 0531-058F FB13-FB17
Hebrew: 0591-05F4 FB1D-FB4F
Arabic: 0600-0604 0606-060B 060D-061A 061C-061E 0620-063F 0641-064A 0656-066F 0671-06DC 06DE-06FF 0750-077F
    0870-08E1 08E3-08FF FB50-FD3D FD40-FDFF FE70-FEFC 10E60-10E7E 10EC2-10EFF 1EE00-1EEF1
Syriac: 0700-074F 0860-086A
Thaana: 0780-07B1
Nko: 07C0-07FF
Devanagari: 0900-0950 0955-0963 0966-097F A8E0-A8FF 11B00-11B0A
Bengali: 0980-09FE 11DF0-11DF1
Gurmukhi: 0A01-0A76
Gujarati: 0A81-0AFF
Oriya: 0B01-0B77
Tamil: 0B82-0BFA 11FC0-11FFF
Telugu: 0C00-0C7F
Kannada: 0C80-0CF3
Malayalam: 0D00-0D7F
Sinhala: 0D81-0DF4 111E1-111F4
Thai: 0E01-0E3A 0E40-0E5B
Lao: 0E81-0EDF
Tibetan: 0F00-0FD4 0FD9-0FDA
Myanmar: 1000-109F A9E0-A9FE AA60-AA7F 116D0-116E3
Georgian: 10A0-10FA 10FC-10FF 1C90-1CBF 2D00-2D2D
Hangul: 1100-11FF 302E-302F 3131-318E 3200-321E 3260-327E A960-A97C AC00-D7FB FFA0-FFDC
Ethiopic: 1200-1399 2D80-2DDE AB01-AB2E 1E7E0-1E7FE
Khmer: 1780-17F9 19E0-19FF
Mongolian: 1800-1801 1804 1806-18AA 11660-1166C
Hiragana: 3041-3096 309D-309F 1B001-1B11F 1B123 1B132-1B152 1F200
Katakana: 30A1-30FA 30FD-30FF 31F0-31FF 32D0-32FE 3300-3357 FF66-FF6F FF71-FF9D 1AFF0-1B000 1B120-1B122
    1B124-1B128 1B155-1B168
Bopomofo: 02EA-02EB 3105-312F 31A0-31BF
Han: 2E80-2FD5 3005 3007 3021-3029 3038-303B 3400-4DBF 4E00-9FFF F900-FAD9 16FE2-16FE3 16FF0-16FF6
    20000-33479
Grantha: 11300-11339 1133C-11374
Ol_Chiki: 1C50-1C7F
Meetei_Mayek: AAE0-AAF6 ABC0-ABF9
Chakma: 11100-11147
Syloti_Nagri: A800-A82C
Limbu: 1900-194F
Lepcha: 1C00-1C4F
Tirhuta: 11480-114D9
"""

NATIVE_SCRIPTS: dict[str, str] = {
    "ta": "Tamil", "ml": "Malayalam", "bn": "Bengali", "zh": "Han", "hi": "Devanagari", "en": "Latin",
    "te": "Telugu", "kn": "Kannada", "gu": "Gujarati", "pa": "Gurmukhi", "or": "Oriya", "si": "Sinhala",
    "mr": "Devanagari", "ne": "Devanagari", "sa": "Devanagari", "as": "Bengali", "ur": "Arabic",
    "ar": "Arabic", "fa": "Arabic", "ru": "Cyrillic", "uk": "Cyrillic", "el": "Greek", "he": "Hebrew",
    "th": "Thai", "ko": "Hangul", "my": "Myanmar", "km": "Khmer", "lo": "Lao", "bo": "Tibetan",
    "fr": "Latin", "de": "Latin", "es": "Latin", "pt": "Latin", "it": "Latin", "nl": "Latin",
    "id": "Latin", "ms": "Latin", "vi": "Latin", "tr": "Latin",
}
"""ISO 639-1 code → the script the language is natively written in; each script's main language first."""

LANGUAGE_NAMES: dict[str, tuple[str, str]] = {
    "ta": ("Tamil", "தமிழ்"), "ml": ("Malayalam", "മലയാളം"), "bn": ("Bengali", "বাংলা"), "zh": ("Chinese", "中文"),
    "hi": ("Hindi", "हिन्दी"), "te": ("Telugu", "తెలుగు"), "kn": ("Kannada", "ಕನ್ನಡ"), "en": ("English", "English"),
}
"""ISO 639-1 code → (English name, the language's own name), for cards and annotators."""

INDIC_SCRIPTS = frozenset({"Devanagari", "Bengali", "Gurmukhi", "Gujarati", "Oriya", "Tamil", "Telugu",
                           "Kannada", "Malayalam", "Sinhala"})
"""Scripts of the Indic languages whose romanised (Latin) writing is common and tolerated on request."""


@functools.cache
def _table() -> tuple[list[int], list[int], list[str]]:
    """(starts, ends, scripts) sorted by start, parsed once from :data:`_SCRIPT_RANGES`."""
    rows: list[tuple[int, int, str]] = []
    script = ""
    for line in _SCRIPT_RANGES.strip().splitlines():
        if not line.startswith(" "):
            script, _, line = line.partition(":")
        for token in line.split():
            first, _, last = token.partition("-")
            rows.append((int(first, 16), int(last or first, 16), script))
    rows.sort()
    return [r[0] for r in rows], [r[1] for r in rows], [r[2] for r in rows]


def script_of(char: str) -> str | None:
    """The Unicode script of one character, or None for Common, Inherited and unlisted scripts.

    >>> script_of("த"), script_of("中"), script_of("1"), script_of("\\u200d")
    ('Tamil', 'Han', None, None)
    """
    if len(char) != 1:
        raise ValueError(f"script_of takes one character, got {char!r}")
    starts, ends, scripts = _table()
    code = ord(char)
    index = bisect.bisect_right(starts, code) - 1
    if index >= 0 and code <= ends[index]:
        return scripts[index]
    return None


def script_profile(text: str) -> dict[str, float]:
    """Share of each script among the letters and marks that have one, largest first; {} if none.

    Shares are rounded to 4 places and add up to 1 (largest-remainder rounding).
    """
    counts: Counter[str] = Counter()
    for char, n in Counter(text).items():
        if unicodedata.category(char)[0] in "LM":
            script = script_of(char)
            if script is not None:
                counts[script] += n
    total = sum(counts.values())
    if not total:
        return {}
    units = {script: n * 10_000 // total for script, n in counts.items()}
    remainders = sorted(counts, key=lambda s: (-(counts[s] * 10_000 % total), s))
    for script in remainders[: 10_000 - sum(units.values())]:
        units[script] += 1
    ordered = sorted(units.items(), key=lambda item: (-item[1], item[0]))
    return {script: unit / 10_000 for script, unit in ordered}


def dominant_script(profile: dict[str, float]) -> str | None:
    """The script with the largest share (ties: first by name); None for an empty profile."""
    if not profile:
        return None
    return min(profile.items(), key=lambda item: (-item[1], item[0]))[0]


def han_variant(text: str) -> HanVariant | None:
    """Whether the Han characters are Simplified, Traditional, both ("mixed"), or undecided (None).

    A character OpenCC's t2s changes is Traditional-only; one s2t changes (and t2s keeps) is
    Simplified-only; characters common to both (你好) decide nothing. No Han, or only common
    characters, gives None.
    """
    traditional = simplified = False
    for char in set(text):
        if script_of(char) != "Han":
            continue
        if to_simplified(char) != char:
            traditional = True
        elif to_traditional(char) != char:
            simplified = True
        if traditional and simplified:
            return "mixed"
    if traditional:
        return "traditional"
    if simplified:
        return "simplified"
    return None


def script_mismatch(language: str | None, profile: dict[str, float], *, allow_romanized: bool = False) -> str | None:
    """Why a text's dominant script does not fit its language, or None when it fits or cannot be judged.

    Unknown or missing language and an empty profile cannot be judged (None). Latin-dominant text
    in an Indic language is reported as romanised unless ``allow_romanized``.
    """
    if language is None or language not in NATIVE_SCRIPTS or not profile:
        return None
    expected = NATIVE_SCRIPTS[language]
    dominant = dominant_script(profile)
    if dominant == expected:
        return None
    if dominant == "Latin" and expected in INDIC_SCRIPTS:
        if allow_romanized:
            return None
        return f"romanised text (Latin) for {language!r} where native script ({expected}) is expected"
    return f"script {dominant} does not fit language {language!r} (expected {expected})"
