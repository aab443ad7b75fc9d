"""Language handling for every text mmcurate stores: normal form, scripts, language, transliteration, error rates.

A pure package of the kernel (beside ``backend/domain.py``): values in, values out; no files,
database or network. Third-party libraries: OpenCC (Chinese variants), py3langid and wordfreq
(language identification, in ``identify``), jiwer (error rates). Transliteration uses its own
tables (see ``translit``).

:func:`profile_text` is what an ingest path calls on each text: it normalises first and profiles
the normalised text. The language is identified on the first ``identify.LID_MAX_CHARS``
characters from the first letter (py3langid gains nothing from more, and a 1 MB line stays
within a few seconds); scripts, Han variant and word languages cover the whole text.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from backend.language.chinese import to_simplified, to_traditional
from backend.language.identify import WordTag, code_mixing_index, identify_language, supported_languages, tag_words
from backend.language.metrics import ErrorRates, corpus_error_rates, error_rates
from backend.language.normalize import HanTarget, TextInputError, normalize_text
from backend.language.scripts import (
    LANGUAGE_NAMES,
    NATIVE_SCRIPTS,
    HanVariant,
    dominant_script,
    han_variant,
    script_mismatch,
    script_of,
    script_profile,
)
from backend.language.translit import transliterate, transliteration_view

__all__ = [
    "LANGUAGE_NAMES", "NATIVE_SCRIPTS", "ErrorRates", "HanTarget", "TextInputError", "TextProfile", "WordTag",
    "code_mixing_index", "corpus_error_rates", "dominant_script", "error_rates", "han_variant",
    "identify_language", "normalize_text", "profile_text", "script_mismatch", "script_of", "script_profile",
    "tag_words", "to_simplified", "to_traditional", "transliterate", "transliteration_view",
]

STORED_WORD_TAGS = 2_000
"""How many word tags an item keeps in the database (a transcript or post has far fewer)."""


@dataclass(frozen=True)
class TextProfile:
    """What mmcurate knows about one text: its normal form, scripts, Chinese variant, language(s), code-mixing."""

    text: str  # as received
    normalized: str
    scripts: dict[str, float]  # script → share of letters and marks, largest first
    dominant_script: str | None
    han_variant: HanVariant | None
    language: str | None  # ISO 639-1
    language_confidence: float | None
    word_languages: list[WordTag]
    cmi: float  # code-mixing index (Das & Gambäck 2014), 0–100, 2 decimals

    def as_json(self) -> dict[str, Any]:
        """The profile as the CLI prints it (one JSON object per text)."""
        return {
            "text": self.text,
            "normalized": self.normalized,
            "scripts": dict(self.scripts),
            "han_variant": self.han_variant,
            "language": self.language,
            "language_confidence": self.language_confidence,
            "word_languages": [[tag.word, tag.language] for tag in self.word_languages],
            "cmi": self.cmi,
            "dominant_script": self.dominant_script,
        }

    def stored(self) -> dict[str, Any]:
        """What an item keeps beside its columns (``text_normalized``, ``dominant_script``, ``cmi``):
        the script shares, Han variant, identified language and the first
        :data:`STORED_WORD_TAGS` word tags (``n_words`` says how many there were)."""
        return {
            "scripts": dict(self.scripts),
            "han_variant": self.han_variant,
            "language": self.language,
            "language_confidence": self.language_confidence,
            "word_languages": [[tag.word, tag.language] for tag in self.word_languages[:STORED_WORD_TAGS]],
            "n_words": len(self.word_languages),
        }


def known_languages(languages: Sequence[str]) -> list[str]:
    """The languages of ``languages`` that language ID knows, by their base code (``zh-TW`` → ``zh``);
    a project may name others (a dialect, a language py3langid lacks), which then constrain nothing."""
    supported = set(supported_languages())
    found: list[str] = []
    for code in languages:
        base = code.split("-")[0].lower()
        if base in supported and base not in found:
            found.append(base)
    return found


def profile_text(
    text: str, *, expected_languages: Sequence[str] = (), han_target: HanTarget | None = None
) -> TextProfile:
    """Normalise ``text`` (with ``han_target``), then profile the normalised text.

    ``expected_languages`` restricts language identification to those candidates and lets
    romanised words be tagged with the one expected Indic language.
    """
    normalized = normalize_text(text, han_target=han_target)
    scripts = script_profile(normalized)
    expected = known_languages(expected_languages)
    language, confidence = identify_language(normalized, expected)  # reads its first LID_MAX_CHARS letters on
    words = tag_words(normalized, expected)
    return TextProfile(
        text=text,
        normalized=normalized,
        scripts=scripts,
        dominant_script=dominant_script(scripts),
        han_variant=han_variant(normalized),
        language=language,
        language_confidence=confidence,
        word_languages=words,
        cmi=round(code_mixing_index(words), 2),
    )
