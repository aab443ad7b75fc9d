"""chinese: Simplified ↔ Traditional with OpenCC."""

from __future__ import annotations

import pytest

from backend.language import TextInputError, to_simplified, to_traditional

# 我們看了這部電影，很好看！ / 我们看了这部电影，很好看！ (We watched this film, it was good!)
TRADITIONAL = "\u6211\u5011\u770b\u4e86\u9019\u90e8\u96fb\u5f71\uff0c\u5f88\u597d\u770b\uff01"
SIMPLIFIED = "\u6211\u4eec\u770b\u4e86\u8fd9\u90e8\u7535\u5f71\uff0c\u5f88\u597d\u770b\uff01"


def test_traditional_to_simplified() -> None:
    assert to_simplified(TRADITIONAL) == SIMPLIFIED


def test_simplified_to_traditional() -> None:
    assert to_traditional(SIMPLIFIED) == TRADITIONAL


def test_text_already_in_the_target_variant_is_unchanged() -> None:
    assert to_simplified(SIMPLIFIED) == SIMPLIFIED
    assert to_traditional(TRADITIONAL) == TRADITIONAL


def test_other_scripts_pass_through() -> None:
    text = "OK \U0001f44d \u0ba4\u0bae\u0bbf\u0bb4\u0bcd 123 \u0d28\u0d32\u0d4d\u0d32 \u09ad\u09be\u09b2\u09cb"
    assert to_simplified(text) == text
    assert to_traditional(text) == text
    assert to_simplified("") == ""


def test_mixed_sentence_converts_only_han() -> None:
    assert to_simplified("movie \u9019\u90e8\u96fb\u5f71 super") == "movie \u8fd9\u90e8\u7535\u5f71 super"


def test_a_lone_surrogate_is_refused() -> None:
    with pytest.raises(TextInputError, match="unpaired surrogate U\\+D800 at character 1"):
        to_simplified("\u9019\ud800")
