"""Word and character error rates of a free-text field, per language: how far annotators' texts are apart.

A free-text field (the ``transcript`` scheme: annotators correct the ASR transcript) has no
chance-corrected coefficient; it is reported, not gated, with two numbers per language, each a
corpus rate from :func:`backend.language.metrics.corpus_error_rates` (summed edits over summed
reference lengths, not a mean of per-pair rates; Chinese compared after conversion to Simplified,
so a Traditional/Simplified difference is no error; CER without spaces for Chinese):

* **pairwise** — between annotators: every two texts of the same item, each way round (the
  rate is symmetric: twice the summed edits over the summed lengths of both texts);
* **asr** — the item's own text (for a field the ASR pre-fills, the ASR output) against each
  annotator's text, the annotator's text being the reference: the ASR's error rate as measured
  by the people who corrected it.

The primary metric is the one ``backend.language`` names for the language: CER for Chinese,
Tamil, Malayalam and Bengali (WER over agglutinative words misleads), WER otherwise.
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pandas as pd

    from backend.language.metrics import ErrorRates


@dataclass(frozen=True)
class LanguageErrorRates:
    """The error rates of one language's texts.

    ``n_items`` counts the items with at least one text, ``n_pairs`` the unordered pairs of
    texts of the same item, ``n_asr`` the texts compared with their item's own text.
    ``pairwise``/``asr`` are None when there is nothing to compare, or when every reference
    is empty once punctuation is removed (the rate is undefined).
    """

    language: str | None
    n_items: int
    n_pairs: int
    n_asr: int
    pairwise: ErrorRates | None
    asr: ErrorRates | None

    @property
    def primary(self) -> str:
        """``"cer"`` or ``"wer"``: the number to read first for this language."""
        from backend.language.metrics import primary_rate

        return primary_rate(self.language)

    def to_dict(self) -> dict[str, Any]:
        return {
            "language": self.language,
            "n_items": self.n_items,
            "n_pairs": self.n_pairs,
            "n_asr": self.n_asr,
            "pairwise_wer": self.pairwise.wer if self.pairwise else None,
            "pairwise_cer": self.pairwise.cer if self.pairwise else None,
            "asr_wer": self.asr.wer if self.asr else None,
            "asr_cer": self.asr.cer if self.asr else None,
            "primary": self.primary,
        }

    def describe(self) -> str:
        """One clause for a field's reason, e.g. ``ta: pairwise CER 0.012 (WER 0.333) over 1 pair of 1 item``."""
        name = self.language or "language unknown"
        main, other = self.primary, "wer" if self.primary == "cer" else "cer"
        parts = []
        for label, rates, count, unit in (
            ("pairwise", self.pairwise, self.n_pairs, "pair"),
            ("ASR vs corrections", self.asr, self.n_asr, "correction"),
        ):
            over = f"over {count} {unit}{'' if count == 1 else 's'}"
            if rates is not None:
                parts.append(
                    f"{label} {main.upper()} {getattr(rates, main):.3f} ({other.upper()} {getattr(rates, other):.3f}) {over}"
                )
            elif count:
                parts.append(f"{label} undefined {over}: the texts are empty once punctuation is removed")
        if not parts:
            parts.append("no item has two texts to compare")
        return f"{name}: " + "; ".join(parts)


def free_text_error_rates(judgements: "pd.DataFrame", *, against_item_text: bool = False) -> list[LanguageErrorRates]:
    """Pairwise (and, when asked, item-text) error rates per language of one free-text field.

    ``judgements`` has columns ``item``, ``value`` (the text) and optionally ``language`` (per
    item; missing or null: one group with language None) and ``item_text`` (the item's own
    text; null: the item is left out of the asr numbers). One entry per language, in name
    order, language None last.

    >>> import pandas as pd
    >>> frame = pd.DataFrame({"item": [1, 1], "value": ["the cat sat", "the cat sat down"]})
    >>> [round(r.pairwise.wer, 4) for r in free_text_error_rates(frame)]  # 2 edits / (3 + 4) words
    [0.2857]
    """
    languages = judgements["language"] if "language" in judgements.columns else [None] * len(judgements)
    own = judgements["item_text"] if against_item_text and "item_text" in judgements.columns else [None] * len(judgements)
    texts: dict[Hashable, list[str]] = {}
    language_of: dict[Hashable, str | None] = {}
    item_text: dict[Hashable, str | None] = {}
    for item, value, language, text in zip(judgements["item"], judgements["value"], languages, own):
        texts.setdefault(item, []).append(str(value))
        language_of.setdefault(item, _present(language))
        item_text.setdefault(item, _present(text))
    by_language: dict[str | None, list[Hashable]] = {}
    for item, language in language_of.items():
        by_language.setdefault(language, []).append(item)
    order = sorted((lang for lang in by_language if lang is not None)) + ([None] if None in by_language else [])
    return [_one_language(lang, by_language[lang], texts, item_text) for lang in order]


def _present(value: Any) -> str | None:
    """None for a missing value (None, NaN, pd.NA), else the value as text."""
    import pandas as pd

    return None if value is None or (not isinstance(value, str) and pd.isna(value)) else str(value)


def _one_language(
    language: str | None,
    items: Sequence[Hashable],
    texts: dict[Hashable, list[str]],
    item_text: dict[Hashable, str | None],
) -> LanguageErrorRates:
    pairs: list[tuple[str, str]] = []
    asr: list[tuple[str, str]] = []
    n_pairs = 0
    for item in items:
        values = texts[item]
        for i in range(len(values)):
            for j in range(i + 1, len(values)):
                pairs += [(values[i], values[j]), (values[j], values[i])]
                n_pairs += 1
        if item_text[item] is not None:
            asr += [(value, item_text[item]) for value in values]
    return LanguageErrorRates(
        language=language,
        n_items=len(items),
        n_pairs=n_pairs,
        n_asr=len(asr),
        pairwise=_corpus(pairs, language),
        asr=_corpus(asr, language),
    )


def _corpus(pairs: list[tuple[str, str]], language: str | None) -> "ErrorRates | None":
    """The corpus rates, or None when there is no pair or every reference is empty once normalised."""
    from backend.domain import ValidationError
    from backend.language.metrics import corpus_error_rates

    if not pairs:
        return None
    try:
        return corpus_error_rates(pairs, language)
    except ValidationError:  # no reference word at all (only punctuation or spaces): the rate is undefined
        return None
