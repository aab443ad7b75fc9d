"""scripts: Unicode script per character, script shares, Han variant, script vs language."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from backend.language import NATIVE_SCRIPTS, dominant_script, han_variant, script_mismatch, script_of, script_profile


@pytest.mark.parametrize(
    ("char", "script"),
    [
        ("\u0b85", "Tamil"), ("\u0be7", "Tamil"),  # அ, Tamil digit one ௧ (native digits belong to their script)
        ("\u0d7b", "Malayalam"), ("\u0d4d", "Malayalam"),  # chillu n ൻ, virama
        ("\u09ce", "Bengali"), ("\u09bc", "Bengali"),  # khanda ta ৎ, nukta
        ("\u4e2d", "Han"), ("\u9019", "Han"), ("\u3005", "Han"),  # 中, 這, 々
        ("a", "Latin"), ("\u00e9", "Latin"), ("\uff41", "Latin"), ("\u1e6d", "Latin"),  # a é ａ ṭ
        ("\u03a9", "Greek"), ("\u2126", "Greek"),  # Ω and OHM SIGN
        ("\u044f", "Cyrillic"), ("\u0628", "Arabic"), ("\u05d0", "Hebrew"), ("\u0915", "Devanagari"),
        ("\u0c15", "Telugu"), ("\u0c95", "Kannada"), ("\u0a15", "Gurmukhi"), ("\u0a95", "Gujarati"),
        ("\u0b15", "Oriya"), ("\u0d9a", "Sinhala"), ("\u3042", "Hiragana"), ("\u30a2", "Katakana"),
        ("\ud55c", "Hangul"), ("\u0e01", "Thai"), ("\u1c5a", "Ol_Chiki"),
    ],
)
def test_script_of_names_the_unicode_script(char: str, script: str) -> None:
    assert script_of(char) == script


@pytest.mark.parametrize(
    "char",
    ["1", ",", " ", "\U0001f600", "\u0964", "\u0301", "\u200d", "\u064e", "\u3002", "\uff0c", "\u30fc", "\ufe0f"],
)
def test_common_and_inherited_characters_have_no_script(char: str) -> None:
    # digit, comma, space, emoji, DEVANAGARI DANDA (shared by Bengali), combining acute, ZWJ,
    # Arabic fatha (Inherited), 。 ， ー (Common in Chinese and Japanese), variation selector
    assert script_of(char) is None


def test_script_of_takes_exactly_one_character() -> None:
    with pytest.raises(ValueError, match="one character"):
        script_of("ab")


def test_profile_counts_letters_and_marks_and_rounds_to_four_places() -> None:
    # இது (இ த ு) 3 + super 5 + படம் (ப ட ம ்) 4: Tamil 7/12 = 0.58333, Latin 5/12 = 0.41667
    profile = script_profile("இது super படம்!")
    assert profile == {"Tamil": 0.5833, "Latin": 0.4167}
    assert list(profile) == ["Tamil", "Latin"]


def test_profile_shares_sum_to_one_with_largest_remainder_rounding() -> None:
    # a, б, 中: a third each; 0.3333 × 3 leaves one ten-thousandth, given to the first by name
    profile = script_profile("a \u0431 \u4e2d")
    assert profile == {"Cyrillic": 0.3334, "Han": 0.3333, "Latin": 0.3333}
    assert math.isclose(sum(profile.values()), 1.0)


def test_profile_ignores_digits_punctuation_emoji_and_spaces() -> None:
    assert script_profile("\u0be7\u0be8 \u0baa\u0b9f\u0bae\u0bcd 2024 \U0001f44d!") == {"Tamil": 1.0}
    assert script_profile("") == {}
    assert script_profile("123 !!! \U0001f600\U0001f389") == {}


def test_profile_of_code_mixed_malayalam_bengali_and_chinese() -> None:
    # ഇത് (ഇ ത ്) 3, ভালো (ভ া ল ো) 4, 好 1
    assert script_profile("ഇത് ভালো 好") == {"Bengali": 0.5, "Malayalam": 0.375, "Han": 0.125}


@given(st.text(max_size=50))
def test_profile_shares_always_sum_to_one_and_come_largest_first(text: str) -> None:
    profile = script_profile(text)
    if profile:
        assert math.isclose(sum(profile.values()), 1.0, abs_tol=1e-9)
        shares = list(profile.values())
        assert shares == sorted(shares, reverse=True)
        assert dominant_script(profile) == next(iter(profile))


def test_dominant_script() -> None:
    assert dominant_script({"Tamil": 0.7, "Latin": 0.3}) == "Tamil"
    assert dominant_script({"Tamil": 0.5, "Latin": 0.5}) == "Latin"  # ties: first by name
    assert dominant_script({}) is None


@pytest.mark.parametrize(
    ("text", "variant"),
    [
        ("\u8fd9\u90e8\u7535\u5f71\u5f88\u597d\u770b", "simplified"),  # 这部电影很好看
        ("\u9019\u90e8\u96fb\u5f71\u5f88\u597d\u770b", "traditional"),  # 這部電影很好看
        ("\u9019\u90e8\u7535\u5f71", "mixed"),  # 這部电影: 這 Traditional-only, 电 Simplified-only
        ("\u4f60\u597d", None),  # 你好: common to both, undecided
        ("\u5f88\u597d\u770b", None),  # 很好看
        ("hello \u0b85", None),
        ("", None),
        ("movie \u6211\u559c\u6b22 \U0001f44d", "simplified"),  # 我喜欢: 欢 is Simplified-only
    ],
)
def test_han_variant(text: str, variant: str | None) -> None:
    assert han_variant(text) == variant


def test_native_scripts_cover_the_project_languages() -> None:
    expected = {"ta": "Tamil", "ml": "Malayalam", "bn": "Bengali", "zh": "Han", "hi": "Devanagari", "en": "Latin",
                "te": "Telugu", "kn": "Kannada"}
    assert expected.items() <= NATIVE_SCRIPTS.items()
    assert "ja" not in NATIVE_SCRIPTS  # three scripts at once: not checkable against one
    # each script's main language comes first
    assert next(code for code, script in NATIVE_SCRIPTS.items() if script == "Devanagari") == "hi"
    assert next(code for code, script in NATIVE_SCRIPTS.items() if script == "Bengali") == "bn"


@pytest.mark.parametrize(
    ("language", "text", "reason"),
    [
        ("ml", "नमस्ते दोस्त", "script Devanagari does not fit language 'ml' (expected Malayalam)"),
        ("bn", "ami tomake bhalobashi", "romanised text (Latin) for 'bn' where native script (Bengali) is expected"),
        ("ta", "padam semma mass, ஒரு", "romanised text (Latin) for 'ta' where native script (Tamil) is expected"),
        ("en", "இது ஒரு படம்", "script Tamil does not fit language 'en' (expected Latin)"),
        ("zh", "ありがとう", "script Hiragana does not fit language 'zh' (expected Han)"),
        ("ta", "இது ஒரு நல்ல படம் super", None),
        ("zh", "这部电影 OK", None),
        ("en", "nice movie", None),
        (None, "नमस्ते", None),
        ("xx", "नमस्ते", None),
        ("ja", "ありがとう", None),
        ("ta", "123 !!!", None),
    ],
)
def test_script_mismatch(language: str | None, text: str, reason: str | None) -> None:
    assert script_mismatch(language, script_profile(text)) == reason


def test_romanised_indic_text_passes_when_allowed() -> None:
    profile = script_profile("ami tomake bhalobashi")
    assert script_mismatch("bn", profile, allow_romanized=True) is None
    # allow_romanized does not excuse another native script
    assert script_mismatch("bn", script_profile("நல்ல"), allow_romanized=True) == (
        "script Tamil does not fit language 'bn' (expected Bengali)"
    )
