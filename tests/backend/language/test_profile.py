"""profile_text: normalise, then profile — scripts, Han variant, language, word languages, CMI."""

from __future__ import annotations

import json

import pytest

import backend.language as language
from backend.language import (
    HanTarget,
    TextInputError,
    TextProfile,
    WordTag,
    code_mixing_index,
    profile_text,
)

CONTRACT_NAMES = [
    "normalize_text", "HanTarget", "TextInputError", "script_of", "script_profile", "dominant_script",
    "han_variant", "NATIVE_SCRIPTS", "script_mismatch", "to_simplified", "to_traditional", "transliterate",
    "transliteration_view", "identify_language", "WordTag", "tag_words", "code_mixing_index", "ErrorRates",
    "error_rates", "corpus_error_rates", "TextProfile", "profile_text",
]


@pytest.mark.parametrize("name", CONTRACT_NAMES)
def test_every_public_name_of_the_contract_is_exported(name: str) -> None:
    assert hasattr(language, name)
    assert name in language.__all__


def test_native_tamil_sentence_with_a_stray_zero_width_space() -> None:
    profile = profile_text("இது ஒரு\u200b நல்ல படம்")
    assert profile.text == "இது ஒரு\u200b நல்ல படம்"
    assert profile.normalized == (
        "\u0b87\u0ba4\u0bc1 \u0b92\u0bb0\u0bc1 \u0ba8\u0bb2\u0bcd\u0bb2 \u0baa\u0b9f\u0bae\u0bcd"
    )
    assert profile.scripts == {"Tamil": 1.0}
    assert profile.dominant_script == "Tamil"
    assert profile.han_variant is None
    assert profile.language == "ta"
    assert profile.language_confidence is not None and 0.0 < profile.language_confidence <= 1.0
    assert [tag.word for tag in profile.word_languages] == profile.normalized.split()
    assert {tag.language for tag in profile.word_languages} == {"ta"}
    assert profile.cmi == 0.0


def test_traditional_chinese_converted_to_simplified_is_profiled_after_conversion() -> None:
    profile = profile_text("\u9019\u90e8\u96fb\u5f71\u5f88\u597d\u770b", han_target=HanTarget.SIMPLIFIED)
    assert profile.text == "\u9019\u90e8\u96fb\u5f71\u5f88\u597d\u770b"
    assert profile.normalized == "\u8fd9\u90e8\u7535\u5f71\u5f88\u597d\u770b"
    assert profile.han_variant == "simplified"
    assert profile.scripts == {"Han": 1.0}
    assert profile.language == "zh"


def test_romanised_tamil_with_tamil_expected() -> None:
    profile = profile_text("padam semma mass ah irukku", expected_languages=["ta"])
    assert profile.scripts == {"Latin": 1.0}
    assert profile.language == "ta"
    assert [tag.word for tag in profile.word_languages] == ["padam", "semma", "mass", "ah", "irukku"]
    assert profile.cmi == round(code_mixing_index(profile.word_languages), 2)


def test_code_mixed_malayalam_and_english() -> None:
    profile = profile_text("ഈ movie സൂപ്പർ ആണ് \U0001f44d", expected_languages=["ml", "en"])
    assert profile.dominant_script == "Malayalam"
    assert set(profile.scripts) == {"Malayalam", "Latin"}
    assert profile.word_languages[-1] == WordTag(word="\U0001f44d", language="univ", script=None)
    assert 0.0 < profile.cmi <= 100.0
    assert profile.cmi == round(code_mixing_index(profile.word_languages), 2)


def test_as_json_matches_the_cli_line() -> None:
    profile = profile_text("উৎসব \u09b9\u09a0\u09be\u09a4\u09cd\u200d!", expected_languages=["bn"])
    data = profile.as_json()
    assert list(data) == ["text", "normalized", "scripts", "han_variant", "language", "language_confidence",
                          "word_languages", "cmi", "dominant_script"]
    assert data["normalized"] == "\u0989\u09ce\u09b8\u09ac \u09b9\u09a0\u09be\u09ce!"
    assert data["word_languages"] == [[tag.word, tag.language] for tag in profile.word_languages]
    assert all(isinstance(pair, list) and len(pair) == 2 for pair in data["word_languages"])
    assert json.loads(json.dumps(data, ensure_ascii=False)) == data


@pytest.mark.parametrize("text", ["", "   \u200b\n", "\U0001f600\U0001f389", "!!! ... ???", "12345"])
def test_text_without_letters_has_no_language(text: str) -> None:
    profile = profile_text(text)
    assert profile.scripts == {}
    assert profile.dominant_script is None
    assert profile.han_variant is None
    assert (profile.language, profile.language_confidence) == (None, None)
    assert profile.cmi == 0.0


def test_an_unpaired_surrogate_is_refused() -> None:
    with pytest.raises(TextInputError, match="unpaired surrogate U\\+D800 at character 3"):
        profile_text("abc\ud800")


def test_a_one_megabyte_line_is_profiled_whole() -> None:
    unit = "இது ஒரு நல்ல படம் movie "
    text = unit * (1_000_000 // len(unit) + 1)
    profile = profile_text(text, expected_languages=["ta", "en"])
    assert isinstance(profile, TextProfile)
    assert profile.normalized == text.strip()
    # இது 3 + ஒரு 3 + நல்ல 4 + படம் 4 = 14 Tamil letters and marks to 5 Latin letters, per unit
    assert profile.scripts == {"Tamil": 0.7368, "Latin": 0.2632}
    assert profile.language == "ta"
    assert len(profile.word_languages) == 5 * (1_000_000 // len(unit) + 1)
