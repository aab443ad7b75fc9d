"""metrics: WER and CER per language, checked against edit counts worked out by hand."""

from __future__ import annotations

import pytest

from backend.domain import ValidationError
from backend.language import ErrorRates, corpus_error_rates, error_rates

# 這部電影很好看 / 这部电影很好看 (this film is good to watch): 7 characters
ZH_TRADITIONAL = "\u9019\u90e8\u96fb\u5f71\u5f88\u597d\u770b"
ZH_SIMPLIFIED = "\u8fd9\u90e8\u7535\u5f71\u5f88\u597d\u770b"


def test_chinese_traditional_hypothesis_of_a_simplified_reference_is_no_error() -> None:
    assert error_rates(ZH_SIMPLIFIED, ZH_TRADITIONAL, "zh") == ErrorRates(
        wer=0.0, cer=0.0, reference_words=1, reference_chars=7, language="zh", primary="cer"
    )


def test_chinese_cer_counts_characters_without_spaces_or_punctuation() -> None:
    # 这部电影，很好看！ vs 这部 电影很难看: characters 这部电影很好看 vs 这部电影很难看, one substitution
    reference = "\u8fd9\u90e8\u7535\u5f71\uff0c\u5f88\u597d\u770b\uff01"
    rates = error_rates(reference, "\u8fd9\u90e8 \u7535\u5f71\u5f88\u96be\u770b", "zh")
    assert rates.cer == pytest.approx(1 / 7)
    assert rates.reference_chars == 7
    # words: "这部电影 很好看" vs "这部 电影很难看" — both differ
    assert rates.wer == 1.0
    assert rates.reference_words == 2


def test_language_subtags_are_read_by_their_first_part() -> None:
    assert error_rates(ZH_SIMPLIFIED, ZH_TRADITIONAL, "zh-TW").cer == 0.0
    assert error_rates(ZH_SIMPLIFIED, ZH_TRADITIONAL, "zh-TW").primary == "cer"


def test_tamil_agglutination_makes_wer_high_while_cer_stays_low() -> None:
    # வீட்டுக்கு போனான் (he went home), 2 words, 10 + 1 + 6 = 17 characters;
    # hypothesis வீட்டுக்குப் போனானா: sandhi ப் added (2 insertions), final ் heard as ா (1 substitution)
    reference = "\u0bb5\u0bc0\u0b9f\u0bcd\u0b9f\u0bc1\u0b95\u0bcd\u0b95\u0bc1 \u0baa\u0bcb\u0ba9\u0bbe\u0ba9\u0bcd"
    hypothesis = "\u0bb5\u0bc0\u0b9f\u0bcd\u0b9f\u0bc1\u0b95\u0bcd\u0b95\u0bc1\u0baa\u0bcd " + (
        "\u0baa\u0bcb\u0ba9\u0bbe\u0ba9\u0bbe"
    )
    rates = error_rates(reference, hypothesis, "ta")
    assert rates.wer == 1.0
    assert rates.cer == pytest.approx(3 / 17)
    assert (rates.reference_words, rates.reference_chars, rates.primary) == (2, 17, "cer")


def test_decomposed_vowel_signs_in_the_hypothesis_are_not_errors() -> None:
    # போனான் with ோ typed as ே + ா (decomposed) and with ா + ே (wrong order)
    reference = "\u0baa\u0bcb\u0ba9\u0bbe\u0ba9\u0bcd"
    assert error_rates(reference, "\u0baa\u0bc7\u0bbe\u0ba9\u0bbe\u0ba9\u0bcd", "ta").cer == 0.0
    assert error_rates(reference, "\u0baa\u0bbe\u0bc7\u0ba9\u0bbe\u0ba9\u0bcd", "ta").cer == 0.0


def test_malayalam_legacy_chillu_in_the_hypothesis_is_not_an_error() -> None:
    # അവൻ വന്നു with atomic ൻ vs the legacy ന + ് + ZWJ
    reference = "\u0d05\u0d35\u0d7b \u0d35\u0d28\u0d4d\u0d28\u0d41"
    hypothesis = "\u0d05\u0d35\u0d28\u0d4d\u200d \u0d35\u0d28\u0d4d\u0d28\u0d41"
    assert error_rates(reference, hypothesis, "ml") == ErrorRates(0.0, 0.0, 2, 9, "ml", "cer")  # 3 + 1 + 5 characters


def test_bengali_reports_both_rates_with_cer_primary() -> None:
    # আমি ভালো আছি (I am well) vs আমি ভাল আছি: ো dropped, 1 of 12 characters, 1 of 3 words
    rates = error_rates("\u0986\u09ae\u09bf \u09ad\u09be\u09b2\u09cb \u0986\u099b\u09bf",
                        "\u0986\u09ae\u09bf \u09ad\u09be\u09b2 \u0986\u099b\u09bf", "bn")
    assert rates.wer == pytest.approx(1 / 3)
    assert rates.cer == pytest.approx(1 / 12)
    assert rates.primary == "cer"


def test_english_wer_with_case_and_punctuation_ignored() -> None:
    # "the movie was really good" (5 words, 25 characters) vs "the movie is really good":
    # one word substituted; was → is is two character edits
    rates = error_rates("The movie was really good.", "the movie is really GOOD!", "en")
    assert rates == ErrorRates(wer=0.2, cer=pytest.approx(2 / 25), reference_words=5, reference_chars=25,
                               language="en", primary="wer")


def test_punctuation_becomes_a_space() -> None:
    assert error_rates("padam, semma mass!", "padam semma mass", None).wer == 0.0
    assert error_rates("padam,semma", "padam semma", None).wer == 0.0
    assert error_rates("x", "x", None).primary == "wer"


def test_empty_hypothesis_deletes_everything() -> None:
    rates = error_rates("nalla padam", "", "ta")
    assert (rates.wer, rates.cer) == (1.0, 1.0)


def test_empty_reference_and_hypothesis_score_zero() -> None:
    assert error_rates("", "", "ta") == ErrorRates(0.0, 0.0, 0, 0, "ta", "cer")
    assert error_rates("!!! ...", "\u200b", "en") == ErrorRates(0.0, 0.0, 0, 0, "en", "wer")


def test_empty_reference_with_a_hypothesis_is_refused() -> None:
    with pytest.raises(ValidationError, match="reference '...' is empty after normalisation but the hypothesis 'uh'"):
        error_rates("...", "uh", "en")


def test_corpus_rates_sum_edits_rather_than_averaging_rates() -> None:
    pairs = [
        ("the movie was good", "the movie was good"),  # 4 words, 18 characters, no edits
        ("super hit", "super duper hit bro"),  # 2 words, 9 characters; 2 words and 10 characters inserted
    ]
    rates = corpus_error_rates(pairs, "en")
    assert rates.wer == pytest.approx(2 / 6)  # a mean of per-pair rates would be (0 + 1) / 2
    assert rates.cer == pytest.approx(10 / 27)
    assert (rates.reference_words, rates.reference_chars) == (6, 27)


def test_corpus_rates_for_chinese_accept_any_iterable() -> None:
    # 我喜欢 vs 我不喜欢: one insertion; 7 + 3 reference characters
    pairs = iter([(ZH_TRADITIONAL, ZH_SIMPLIFIED), ("\u6211\u559c\u6b22", "\u6211\u4e0d\u559c\u6b22")])
    rates = corpus_error_rates(pairs, "zh")
    assert rates.cer == pytest.approx(1 / 10)
    assert rates.primary == "cer"


def test_corpus_counts_a_hypothesis_against_an_empty_reference_as_insertions() -> None:
    rates = corpus_error_rates([("", "uh"), ("good movie", "good movie")], "en")
    assert rates.wer == pytest.approx(1 / 2)
    assert rates.cer == pytest.approx(2 / 10)


def test_corpus_without_pairs_or_reference_words_is_refused() -> None:
    with pytest.raises(ValidationError, match="at least one"):
        corpus_error_rates([], "en")
    with pytest.raises(ValidationError, match="all 2 references are empty"):
        corpus_error_rates([("", "uh"), ("...", "")], "en")
    assert corpus_error_rates([("", ""), ("!", "")], "en").wer == 0.0
