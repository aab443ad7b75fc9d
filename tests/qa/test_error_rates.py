"""qa.error_rates: a free-text field's WER and CER per language, between annotators and against the ASR text.

Values worked by hand. Tamil: "அவன் வீட்டுக்கு போனான்" ("he went home") is 3 words and 22
code points with its spaces; "போனாள்" ("she went") differs in one letter of the last word's
suffix (ன -> ள): one word in three wrong, one character in 22.
"""

from __future__ import annotations

import pandas as pd
import pytest

from backend.domain import ValueKind
from qa.assess import AssessOptions, assess
from qa.error_rates import free_text_error_rates
from qa.fields import FieldSpec
from qa.report import render_html

HE_WENT = "அவன் வீட்டுக்கு போனான்"
SHE_WENT = "அவன் வீட்டுக்கு போனாள்"
SIMPLIFIED = "这部电影很好看，演员也很棒"
TRADITIONAL = "這部電影很好看，演員也很棒"
ASR_ZH = "这部电影很好看演员也很忙"  # ASR heard 忙 for 棒: one character in the 12 without punctuation

TRANSCRIPT = FieldSpec("transcript", ValueKind.FREE_TEXT, predictor="asr")


def frame(rows: list[tuple[int, str, str | None, str, str | None]]) -> pd.DataFrame:
    """(item, annotator, language, text, item_text) rows of one free-text field."""
    return pd.DataFrame(rows, columns=["item", "annotator", "language", "value", "item_text"]).assign(field="transcript")


def by_language(rates) -> dict:
    return {r.language: r for r in rates}


def test_traditional_and_simplified_spellings_of_one_sentence_are_no_disagreement():
    rates = by_language(free_text_error_rates(frame([(1, "a", "zh", SIMPLIFIED, None), (1, "b", "zh", TRADITIONAL, None)])))
    zh = rates["zh"]
    assert (zh.n_items, zh.n_pairs, zh.n_asr) == (1, 1, 0)
    assert zh.pairwise.cer == 0.0 and zh.pairwise.wer == 0.0
    assert zh.primary == "cer" and zh.asr is None


def test_one_wrong_tamil_suffix_is_a_third_of_the_words_but_one_character_in_22():
    rates = by_language(free_text_error_rates(frame([(1, "a", "ta", HE_WENT, None), (1, "b", "ta", SHE_WENT, None)])))
    ta = rates["ta"]
    assert ta.pairwise.wer == pytest.approx(1 / 3)  # each way: 1 of 3 words; (1 + 1) / (3 + 3)
    assert ta.pairwise.cer == pytest.approx(1 / 22)  # (1 + 1) / (22 + 22)
    assert ta.primary == "cer"


def test_the_asr_text_is_scored_against_each_correction_as_the_reference():
    rows = [
        (1, "a", "ta", HE_WENT, HE_WENT), (1, "b", "ta", SHE_WENT, HE_WENT),
        (2, "a", "zh", SIMPLIFIED, ASR_ZH), (2, "b", "zh", TRADITIONAL, ASR_ZH),
    ]
    rates = by_language(free_text_error_rates(frame(rows), against_item_text=True))
    ta, zh = rates["ta"], rates["zh"]
    assert ta.n_asr == 2
    assert ta.asr.wer == pytest.approx(1 / 6)  # 0 + 1 wrong words over 3 + 3
    assert ta.asr.cer == pytest.approx(1 / 44)  # 0 + 1 wrong characters over 22 + 22
    assert zh.asr.cer == pytest.approx(2 / 24)  # 忙 for 棒 against both corrections, 12 characters each
    assert zh.pairwise.cer == 0.0


def test_the_item_text_is_only_compared_when_asked():
    rates = free_text_error_rates(frame([(1, "a", "ta", HE_WENT, SHE_WENT), (1, "b", "ta", HE_WENT, SHE_WENT)]))
    assert rates[0].asr is None and rates[0].n_asr == 0


def test_languages_are_kept_apart_and_an_unknown_language_comes_last():
    rows = [
        (1, "a", "ta", HE_WENT, None), (1, "b", "ta", SHE_WENT, None),
        (2, "a", "zh", SIMPLIFIED, None), (2, "b", "zh", TRADITIONAL, None), (2, "c", "zh", SIMPLIFIED, None),
        (3, "a", None, "the cat sat", None), (3, "b", None, "the cat sat down", None),
        (4, "a", "bn", "একটা ভালো সিনেমা", None),
    ]
    rates = free_text_error_rates(frame(rows))
    assert [r.language for r in rates] == ["bn", "ta", "zh", None]
    bn, ta, zh, unknown = rates
    assert ta.pairwise.cer == pytest.approx(1 / 22)  # not diluted by the Chinese agreement
    assert (zh.n_pairs, zh.pairwise.cer) == (3, 0.0)
    assert unknown.primary == "wer" and unknown.pairwise.wer == pytest.approx(2 / 7)
    assert (bn.n_items, bn.n_pairs, bn.pairwise) == (1, 0, None)  # one text: nothing to compare
    assert bn.primary == "cer"


def test_rates_are_summed_edits_over_summed_lengths_not_a_mean_of_rates():
    rows = [(1, "a", "en", "the cat sat", None), (1, "b", "en", "the cat sat down", None),
            (2, "a", "en", "hello", None), (2, "b", "en", "hello", None)]
    (en,) = free_text_error_rates(frame(rows))
    assert en.pairwise.wer == pytest.approx(2 / 9)  # (1 + 1) edits over 3 + 4 + 1 + 1 words; the mean of rates is 0.146
    assert en.n_pairs == 2 and en.primary == "wer"


def test_assessment_carries_the_rates_per_language_and_the_report_shows_them():
    rows = [
        (1, "a", "ta", HE_WENT, HE_WENT), (1, "b", "ta", SHE_WENT, HE_WENT),
        (2, "a", "zh", SIMPLIFIED, ASR_ZH), (2, "b", "zh", TRADITIONAL, ASR_ZH),
    ]
    result = assess(frame(rows), [TRANSCRIPT], options=AssessOptions(n_boot=0))
    (field,) = result.fields
    assert field.decision is None and field.agreement.primary is None
    diagnostics = result.to_dict()["fields"][0]["diagnostics"]
    assert diagnostics["kind"] == "free_text"
    ta, zh = diagnostics["by_language"]
    assert ta == {
        "language": "ta", "n_items": 1, "n_pairs": 1, "n_asr": 2,
        "pairwise_wer": pytest.approx(1 / 3), "pairwise_cer": pytest.approx(1 / 22),
        "asr_wer": pytest.approx(1 / 6), "asr_cer": pytest.approx(1 / 44), "primary": "cer",
    }
    assert (zh["language"], zh["pairwise_cer"], zh["asr_cer"]) == ("zh", 0.0, pytest.approx(1 / 12))
    assert field.agreement.reason == (
        "free text is reported, not gated: "
        "ta: pairwise CER 0.045 (WER 0.333) over 1 pair; ASR vs corrections CER 0.023 (WER 0.167) over 2 corrections; "
        f"zh: pairwise CER 0.000 (WER {zh['pairwise_wer']:.3f}) over 1 pair; "
        f"ASR vs corrections CER 0.083 (WER {zh['asr_wer']:.3f}) over 2 corrections"
    )
    page = render_html(result.to_dict())
    assert '<table class="error-rates">' in page and "Error rates by language" in page
    assert "<td>ta</td>" in page and "<b>0.045</b>" in page and "<b>0.083</b>" in page


def test_a_rate_against_corrections_that_are_only_punctuation_is_undefined_not_an_error():
    rows = [(1, "a", "ta", "…", HE_WENT), (1, "b", "ta", "?!", HE_WENT)]
    (ta,) = free_text_error_rates(frame(rows), against_item_text=True)
    assert ta.asr is None and ta.n_asr == 2
    assert ta.pairwise.cer == 0.0  # two empty texts agree
    assert "ASR vs corrections undefined over 2 corrections: the texts are empty once punctuation is removed" in ta.describe()
