"""normalize_text: one normal form for Tamil, Malayalam, Bengali, Chinese and mixed text.

Expected values are written as code points (\\u escapes) worked out by hand, so a test cannot
pass by echoing the implementation.
"""

from __future__ import annotations

import unicodedata
from collections import Counter

import pytest
from hypothesis import given
from hypothesis import strategies as st

from backend.domain import ValidationError
from backend.language import HanTarget, TextInputError, normalize_text

# இது ஒரு நல்ல படம் (this is a good film)
TAMIL_SENTENCE = "\u0b87\u0ba4\u0bc1 \u0b92\u0bb0\u0bc1 \u0ba8\u0bb2\u0bcd\u0bb2 \u0baa\u0b9f\u0bae\u0bcd"


def test_plain_tamil_sentence_is_already_normal() -> None:
    assert normalize_text("இது ஒரு நல்ல படம்") == TAMIL_SENTENCE


def test_stray_zero_width_characters_are_removed() -> None:
    text = "\u200bஅவன்\u200b வந்தான்\u2060\ufeff"  # ZWSP, WORD JOINER, BOM around அவன் வந்தான்
    assert normalize_text(text) == "\u0b85\u0bb5\u0ba9\u0bcd \u0bb5\u0ba8\u0bcd\u0ba4\u0bbe\u0ba9\u0bcd"


def test_soft_hyphen_and_bidi_marks_are_removed() -> None:
    assert normalize_text("super\u00adhit") == "superhit"
    shukran = "\u0634\u0643\u0631\u0627"  # شكرا
    assert normalize_text("\u200f\u202b" + shukran + "\u202c \u2066ok\u2069\u200e") == shukran + " ok"


def test_controls_are_removed_and_tabs_and_newlines_become_spaces() -> None:
    assert normalize_text("நல்ல\x00\x07படம்\tsuper\nmovie\x7f") == (
        "\u0ba8\u0bb2\u0bcd\u0bb2\u0baa\u0b9f\u0bae\u0bcd super movie"
    )


def test_every_whitespace_run_becomes_one_ascii_space_and_ends_are_stripped() -> None:
    text = "  \u0ba8\u0bb2\u0bcd\u0bb2\u00a0\u00a0\u0baa\u0b9f\u0bae\u0bcd\t\n\u2003 super\r\n\u2028\u3000"
    assert normalize_text(text) == "\u0ba8\u0bb2\u0bcd\u0bb2 \u0baa\u0b9f\u0bae\u0bcd super"


def test_nfc_composes_decomposed_latin_and_tamil_vowel_signs() -> None:
    assert normalize_text("cafe\u0301") == "caf\u00e9"
    # கொடு typed as க + ெ + ா (the canonical decomposition of ொ)
    assert normalize_text("\u0b95\u0bc6\u0bbe\u0b9f\u0bc1") == "\u0b95\u0bca\u0b9f\u0bc1"


@pytest.mark.parametrize(
    ("typed", "expected"),
    [
        ("\u0b95\u0bbe\u0bc6\u0b9f\u0bc1", "\u0b95\u0bca\u0b9f\u0bc1"),  # Tamil கொடு with ா before ெ
        ("\u0baa\u0bbe\u0bc7", "\u0baa\u0bcb"),  # Tamil போ with ா before ே
        ("\u0b95\u0bd7\u0bc6", "\u0b95\u0bcc"),  # Tamil கௌ with ௗ before ெ
        ("\u0d15\u0d3e\u0d46", "\u0d15\u0d4a"),  # Malayalam കൊ with ാ before െ
        ("\u0d2a\u0d3e\u0d47", "\u0d2a\u0d4b"),  # Malayalam പോ with ാ before േ
        ("\u0d15\u0d57\u0d46", "\u0d15\u0d4c"),  # Malayalam കൌ with ൗ before െ
        ("\u09ad\u09be\u09b2\u09be\u09c7", "\u09ad\u09be\u09b2\u09cb"),  # Bengali ভালো with া before ে
        ("\u0995\u09d7\u09c7", "\u0995\u09cc"),  # Bengali কৌ with ৗ before ে
        ("\u09b2\u09c7\u09be", "\u09b2\u09cb"),  # Bengali লো in canonical order: plain NFC
    ],
)
def test_two_part_vowel_signs_typed_in_the_wrong_order_are_composed(typed: str, expected: str) -> None:
    assert normalize_text(typed) == expected


def test_nukta_moves_before_the_vowel_sign() -> None:
    # Bengali পড়া (to read) typed প ড া ় ; and হয়ে (having become) typed হ য ে ়
    assert normalize_text("\u09aa\u09a1\u09be\u09bc") == "\u09aa\u09a1\u09bc\u09be"
    assert normalize_text("\u09b9\u09af\u09c7\u09bc") == "\u09b9\u09af\u09bc\u09c7"
    # The precomposed ড় (U+09DC) is excluded from composition: NFC gives ড + ়
    assert normalize_text("\u09aa\u09dc\u09be") == "\u09aa\u09a1\u09bc\u09be"


def test_nukta_and_wrong_order_vowel_are_fixed_together() -> None:
    # ড + া + ় + ে: nukta first, then া+ে composes to ো → ড়ো
    assert normalize_text("\u09a1\u09be\u09bc\u09c7") == "\u09a1\u09bc\u09cb"


@pytest.mark.parametrize(
    ("consonant", "chillu"),
    [("\u0d23", "\u0d7a"), ("\u0d28", "\u0d7b"), ("\u0d30", "\u0d7c"), ("\u0d32", "\u0d7d"), ("\u0d33", "\u0d7e"),
     ("\u0d15", "\u0d7f")],
)
def test_malayalam_legacy_chillu_with_zwj_becomes_the_atomic_chillu(consonant: str, chillu: str) -> None:
    assert normalize_text("\u0d05" + consonant + "\u0d4d\u200d") == "\u0d05" + chillu


def test_malayalam_legacy_chillus_in_a_sentence() -> None:
    # അവന്‍ വന്നു, അവള്‍ പോയി (he came, she went), typed with the pre-Unicode-5.1 chillu sequences
    came, went = " \u0d35\u0d28\u0d4d\u0d28\u0d41, ", " \u0d2a\u0d4b\u0d2f\u0d3f"
    text = "\u0d05\u0d35\u0d28\u0d4d\u200d" + came + "\u0d05\u0d35\u0d33\u0d4d\u200d" + went
    assert normalize_text(text) == "\u0d05\u0d35\u0d7b" + came + "\u0d05\u0d35\u0d7e" + went


def test_zwj_after_a_non_chillu_malayalam_virama_at_word_end_is_removed() -> None:
    assert normalize_text("\u0d2e\u0d4d\u200d ok") == "\u0d2e\u0d4d ok"


@pytest.mark.parametrize(
    ("typed", "expected"),
    [
        ("\u0989\u09a4\u09cd\u200d\u09b8\u09ac", "\u0989\u09ce\u09b8\u09ac"),  # উৎসব (festival)
        ("\u09b9\u09a0\u09be\u09a4\u09cd\u200d", "\u09b9\u09a0\u09be\u09ce"),  # হঠাৎ (suddenly)
    ],
)
def test_bengali_ta_virama_zwj_becomes_khanda_ta(typed: str, expected: str) -> None:
    assert normalize_text(typed) == expected


@pytest.mark.parametrize(
    "text",
    [
        "\u0d15\u0d4d\u200c\u0d15",  # Malayalam ക്‌ക: ZWNJ keeps the virama visible
        "\u0995\u09cd\u200c\u09b7",  # Bengali ক্‌ষ: ZWNJ prevents the ক্ষ conjunct
        "\u0930\u094d\u200d\u092f",  # Devanagari eyelash ra: र्‍य
        "\u0645\u06cc\u200c\u062e\u0648\u0627\u0647\u0645",  # Persian می‌خواهم
        "\U0001f468\u200d\U0001f469\u200d\U0001f467",  # family emoji
        "\u2764\ufe0f\u200d\U0001f525",  # heart on fire: ZWJ after a variation selector
    ],
)
def test_joiners_the_script_or_emoji_needs_are_kept(text: str) -> None:
    assert normalize_text(text) == text


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("a\u200db", "ab"),
        ("\u0baa\u0b9f\u0bae\u0bcd\u200c", "\u0baa\u0b9f\u0bae\u0bcd"),  # படம் + ZWNJ at the end
        ("\u0baa\u0b9f\u0bae\u0bcd\u200d super", "\u0baa\u0b9f\u0bae\u0bcd super"),  # before a space
        ("\u200d\u0b85", "\u0b85"),  # at the start
        ("\U0001f44d\u200c\U0001f44d", "\U0001f44d\U0001f44d"),  # ZWNJ between emoji
        ("\u0b85\u200dx", "\u0b85x"),  # Tamil then Latin
    ],
)
def test_joiners_elsewhere_are_removed(text: str, expected: str) -> None:
    assert normalize_text(text) == expected


def test_fullwidth_letters_and_digits_become_ascii_but_chinese_punctuation_stays() -> None:
    typed = "\uff53\uff55\uff50\uff45\uff52\u3000\uff2d\uff4f\uff56\uff49\uff45\uff01\uff11\uff10\uff0f\uff11\uff10"
    assert normalize_text(typed) == "super Movie\uff0110\uff0f10"  # ｓｕｐｅｒ　Ｍｏｖｉｅ！１０／１０
    chinese = "\u7535\u5f71\u5f88\u597d\u770b\uff0c\u63a8\u8350\u3002"  # 电影很好看，推荐。
    assert normalize_text(chinese) == chinese


def test_visible_arabic_number_sign_is_kept_but_emoji_tag_characters_are_removed() -> None:
    assert normalize_text("\u0600\u0661\u0662") == "\u0600\u0661\u0662"
    assert normalize_text("\U0001f3f4\U000e0067\U000e0062\U000e007f") == "\U0001f3f4"


def test_han_target_converts_between_traditional_and_simplified() -> None:
    traditional = "\u9019\u90e8\u96fb\u5f71\u5f88\u597d\u770b"  # 這部電影很好看
    simplified = "\u8fd9\u90e8\u7535\u5f71\u5f88\u597d\u770b"  # 这部电影很好看
    assert normalize_text(traditional, han_target=HanTarget.SIMPLIFIED) == simplified
    assert normalize_text(simplified, han_target=HanTarget.TRADITIONAL) == traditional
    assert normalize_text(traditional) == traditional
    assert normalize_text("movie " + traditional, han_target=HanTarget.SIMPLIFIED) == "movie " + simplified


def test_han_conversion_is_repeated_until_stable_because_opencc_alone_is_not_idempotent() -> None:
    # Regression (found by the idempotence property): t2s turns 薴 into 苧 and only a second
    # pass into 苎; s2t turns 丰仪 into 丰儀 and only a second pass into 豐儀.
    assert normalize_text("\u85b4", han_target=HanTarget.SIMPLIFIED) == "\u82ce"
    assert normalize_text("\u4e30\u4eea", han_target=HanTarget.TRADITIONAL) == "\u8c50\u5100"


def test_unknown_han_target_is_refused() -> None:
    with pytest.raises(TextInputError, match="han_target must be one of simplified, traditional or None, not 'hk'"):
        normalize_text("abc", han_target="hk")  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("", ""),
        ("\u200b\u200d\ufeff \n", ""),
        ("\U0001f600\U0001f389", "\U0001f600\U0001f389"),
        ("!!!   ...  ???", "!!! ... ???"),
    ],
)
def test_degenerate_text_has_a_defined_normal_form(text: str, expected: str) -> None:
    assert normalize_text(text) == expected


def test_an_unpaired_surrogate_is_refused_with_its_position() -> None:
    with pytest.raises(TextInputError) as caught:
        normalize_text("\u0ba8\u0bb2\u0bcd\u0bb2\ud800\u0baa\u0b9f\u0bae\u0bcd")  # நல்ல + lone high surrogate
    assert str(caught.value) == (
        "text holds an unpaired surrogate U+D800 at character 4; the input was not valid Unicode"
    )
    assert isinstance(caught.value, ValidationError)
    with pytest.raises(TextInputError, match="U\\+DC80 at character 0"):
        normalize_text("\udc80abc")


def test_bytes_are_refused() -> None:
    with pytest.raises(TextInputError, match="text must be a str, not bytes"):
        normalize_text(b"abc")  # type: ignore[arg-type]


def test_a_one_megabyte_line_gets_the_same_normal_form_as_its_parts() -> None:
    unit = "இது ஒரு நல்ல படம்\u200b super\u00a0movie "
    count = 1_000_000 // len(unit) + 1
    result = normalize_text(unit * count)
    assert len(unit * count) >= 1_000_000
    assert result == ((TAMIL_SENTENCE + " super movie ") * count).strip()


# --- properties --------------------------------------------------------------------------------

_TRICKY = (
    list("\u0b95\u0ba8\u0bbe\u0bc6\u0bc7\u0bd7\u0bcd")  # Tamil consonants, vowel signs, virama
    + list("\u0d15\u0d23\u0d28\u0d30\u0d32\u0d33\u0d3e\u0d46\u0d47\u0d57\u0d4d\u0d7b")  # Malayalam, chillu
    + list("\u09a4\u09a1\u09af\u09bc\u09be\u09c7\u09d7\u09cd\u09ce\u09dc")  # Bengali, nukta, khanda ta
    + list("\u200b\u200c\u200d\u2060\ufeff\u00ad\u200e\u202a\u2066\x00\t\n\r \u00a0\u3000")
    + list("\uff21\uff41\uff10\uff0c\u9019\u8fd9a\u0301e\U0001f468\U0001f3fd\ufe0f\u2764\u0600\U000e0067")
)
_TEXT = st.text(alphabet=st.one_of(st.sampled_from(_TRICKY), st.characters(exclude_categories=("Cs",))), max_size=40)

# What normalize_text documents it may change without losing anything: chillus and ৎ are
# consonant + virama; fullwidth letters and digits are their ASCII counterparts.
_EXPANSION = {
    "\u0d7a": "\u0d23\u0d4d", "\u0d7b": "\u0d28\u0d4d", "\u0d7c": "\u0d30\u0d4d", "\u0d7d": "\u0d32\u0d4d",
    "\u0d7e": "\u0d33\u0d4d", "\u0d7f": "\u0d15\u0d4d", "\u09ce": "\u09a4\u09cd",
}
_FULLWIDTH = [*range(0xFF10, 0xFF1A), *range(0xFF21, 0xFF3B), *range(0xFF41, 0xFF5B)]
_EXPANSION.update({chr(code): chr(code - 0xFEE0) for code in _FULLWIDTH})


def _visible(text: str) -> Counter[str]:
    """Multiset of letters, marks, numbers, punctuation and symbols of NFD(text), after the expansions."""
    expanded = "".join(_EXPANSION.get(char, char) for char in unicodedata.normalize("NFD", text))
    return Counter(c for c in unicodedata.normalize("NFD", expanded) if unicodedata.category(c)[0] in "LMNPS")


@given(_TEXT)
def test_normalisation_is_idempotent(text: str) -> None:
    once = normalize_text(text)
    assert normalize_text(once) == once


@given(_TEXT, st.sampled_from(list(HanTarget)))
def test_normalisation_with_a_han_target_is_idempotent(text: str, target: HanTarget) -> None:
    once = normalize_text(text, han_target=target)
    assert normalize_text(once, han_target=target) == once


@given(_TEXT)
def test_normalisation_never_loses_a_visible_character(text: str) -> None:
    assert _visible(normalize_text(text)) == _visible(text)


@given(_TEXT)
def test_normal_form_has_no_removed_characters_and_single_ascii_spaces(text: str) -> None:
    result = normalize_text(text)
    assert result == result.strip()
    assert "  " not in result
    assert not any(c.isspace() and c != " " for c in result)
    assert not any(c in "\u200b\u2060\ufeff\u00ad\u200e\u200f" for c in result)
    assert unicodedata.is_normalized("NFC", result)
