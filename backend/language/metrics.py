"""Word and character error rates of a transcript against a reference, per language.

Both sides are prepared the same way before jiwer counts edits: ``normalize_text`` (for Chinese
also to Simplified, so a Traditional hypothesis of a Simplified reference is not an error),
casefold, every Unicode punctuation character (P*) replaced by a space, whitespace collapsed.
Words are what is left between spaces; characters are code points after NFC — a wrong Indic
vowel sign is one edit, a wrong Han character one edit.

Decisions the contract left open:

- Punctuation becomes a space rather than vanishing, so "padam,semma" is two words as it would be
  with a space after the comma.
- Chinese, Japanese and Thai (written without word spaces) count characters without spaces; all
  other languages count the spaces too. A code such as "zh-TW" is read by its first subtag.
- ``primary`` is "cer" for zh, ja, th and for the agglutinative ta, ml, bn (one wrong suffix makes
  a whole word wrong); "wer" otherwise, and when the language is unknown.
- A pair with an empty (prepared) reference is refused by ``error_rates`` unless the hypothesis
  is empty too (0.0). ``corpus_error_rates`` counts such a pair's hypothesis as insertions — the
  summed-edits definition allows it — and refuses only a corpus with no reference word at all
  but some hypothesis, or no pairs.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass

import jiwer

from backend.domain import ValidationError
from backend.language.normalize import HanTarget, normalize_text

UNSPACED = frozenset({"zh", "ja", "th"})
"""Languages written without spaces between words: CER over characters without spaces."""

CER_PRIMARY = UNSPACED | {"ta", "ml", "bn"}
"""Languages whose headline rate is CER."""


@dataclass(frozen=True)
class ErrorRates:
    """WER and CER of a hypothesis (or a corpus of them) against the reference, with the counts behind them."""

    wer: float
    cer: float
    reference_words: int
    reference_chars: int
    language: str | None
    primary: str  # "cer" or "wer": which rate to report first for this language


@dataclass(frozen=True)
class _Edits:
    """Edit counts of one pair: word edits, reference words, char edits, reference chars."""

    word_edits: int
    words: int
    char_edits: int
    chars: int


def _base_language(language: str | None) -> str | None:
    return language.replace("_", "-").split("-")[0].lower() if language else None


def _prepare(text: str, base: str | None) -> str:
    text = normalize_text(text, han_target=HanTarget.SIMPLIFIED if base == "zh" else None).casefold()
    text = "".join(" " if unicodedata.category(char)[0] == "P" else char for char in text)
    return " ".join(text.split())


def _edits(reference: str, hypothesis: str, base: str | None) -> _Edits:
    ref, hyp = _prepare(reference, base), _prepare(hypothesis, base)
    if base in UNSPACED:
        ref_chars, hyp_chars = ref.replace(" ", ""), hyp.replace(" ", "")
    else:
        ref_chars, hyp_chars = ref, hyp
    if not ref:  # jiwer refuses an empty reference: everything hypothesised is inserted
        return _Edits(len(hyp.split()), 0, len(hyp_chars), 0)
    words = jiwer.process_words(ref, hyp)
    chars = jiwer.process_characters(ref_chars, hyp_chars)
    return _Edits(
        words.substitutions + words.deletions + words.insertions, len(ref.split()),
        chars.substitutions + chars.deletions + chars.insertions, len(ref_chars),
    )


def _shown(text: str) -> str:
    """``text`` quoted for an error message, cut to 60 characters."""
    return repr(text) if len(text) <= 60 else repr(text[:60]) + f"... ({len(text)} characters)"


def primary_rate(language: str | None) -> str:
    """``"cer"`` or ``"wer"``: the rate to read first for ``language`` (CER where words mislead)."""
    return "cer" if _base_language(language) in CER_PRIMARY else "wer"


def _rates(edits: _Edits, language: str | None) -> ErrorRates:
    return ErrorRates(
        wer=edits.word_edits / edits.words if edits.words else 0.0,
        cer=edits.char_edits / edits.chars if edits.chars else 0.0,
        reference_words=edits.words,
        reference_chars=edits.chars,
        language=language,
        primary=primary_rate(language),
    )


def error_rates(reference: str, hypothesis: str, language: str | None) -> ErrorRates:
    """WER and CER of ``hypothesis`` against ``reference`` after both are prepared (module docstring).

    >>> error_rates("這部電影很好看", "这部电影很好看", "zh").cer
    0.0
    """
    base = _base_language(language)
    edits = _edits(reference, hypothesis, base)
    if not edits.words and (edits.word_edits or edits.char_edits):
        raise ValidationError(
            f"reference {_shown(reference)} is empty after normalisation but the hypothesis "
            f"{_shown(hypothesis)} is not; an error rate needs a reference with at least one word"
        )
    return _rates(edits, language)


def corpus_error_rates(pairs: Iterable[tuple[str, str]], language: str | None) -> ErrorRates:
    """Corpus WER and CER: edits summed over all (reference, hypothesis) pairs over summed reference lengths.

    Not a mean of per-pair rates, so a long utterance weighs more than a short one.
    """
    base = _base_language(language)
    total = _Edits(0, 0, 0, 0)
    count = 0
    for reference, hypothesis in pairs:
        edits = _edits(reference, hypothesis, base)
        total = _Edits(total.word_edits + edits.word_edits, total.words + edits.words,
                       total.char_edits + edits.char_edits, total.chars + edits.chars)
        count += 1
    if not count:
        raise ValidationError("corpus_error_rates needs at least one (reference, hypothesis) pair; got none")
    if not total.words and (total.word_edits or total.char_edits):
        raise ValidationError(
            f"all {count} references are empty after normalisation but some hypotheses are not; "
            "an error rate needs at least one reference word"
        )
    return _rates(total, language)
