"""Which language a text is in, and which language each of its words is in.

Three functions over plain strings (no I/O beyond reading py3langid's bundled model once):

- :func:`identify_language` — one ISO 639-1 code for a whole text, with py3langid 0.4.0
  (``norm_probs=True``), optionally restricted to the project's candidate languages.
  py3langid's model has 142 classes (140 language codes: sr and uz have two scripts each), ta,
  ml, bn, zh and en among them, but knows them only in their native scripts: romanised Tamil "padam semma mass ah irukku" comes out 'kab' (Kabyle). So when the
  candidates hold exactly one Indic language and the text reads as romanised (see the function),
  that language is returned instead.
- :func:`tag_words` — one :class:`WordTag` per token, for code-mixed text.
- :func:`code_mixing_index` — Das & Gambäck (2014) over those tags.

Measured on hand-labelled held-out sets in ``benchmarks/language_id.py``
(results in ``benchmarks/results/language_id.md``).
"""

from __future__ import annotations

import copy
import functools
import re
import sys
import unicodedata
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

from backend.domain import ValidationError
from backend.language.scripts import INDIC_SCRIPTS, NATIVE_SCRIPTS, dominant_script, script_of, script_profile

ENGLISH_ZIPF_THRESHOLD = 3.5
"""A Latin-script word is English when ``wordfreq.zipf_frequency(word, "en")`` is at least this.

Zipf 3.5 is a word seen about 3 times per million words (zipf = log10 of the count per
billion). Chosen on ``benchmarks/data/language_id/tuning.jsonl`` only: the best word-tag accuracy on
its romanised and code-mixed lines over the grid 1.5, 2.0, …, 5.0 (0.924 at 3.5, 0.904 at 3.0,
0.915 at 4.0; the grid is in ``benchmarks/results/language_id.json``); the held-out set was not
consulted. It keeps "vibe" (3.94) and "mass" (4.87) English and "ami" (3.3), "ache" (3.43),
"alle" (2.81) Indic; short particles such as "da" (4.54), "la" (5.05), "na" (4.42) stay English."""

LID_MAX_CHARS = 10_000
"""identify_language decides on 10,000 characters from the first letter on: linear time on a
1 MB line, and py3langid's confidence on much longer texts is no better (its normalised
probabilities flatten with length)."""

UNIVERSAL = "univ"
"""WordTag.language of language-independent tokens: numbers, punctuation, emoji, URLs, e-mail
addresses, @mentions, #hashtags."""

UNDETERMINED = "und"
"""WordTag.language of a Latin-script word that is not English when no single Indic language is
expected (or of a word in a script no expected or known language is written in)."""

_ROMANIZED_SHARE = 0.5  # "mostly": strictly more than half
_JOINERS = str.maketrans("", "", "\u200c\u200d")


@dataclass(frozen=True)
class WordTag:
    """One token of a text and the language it is in.

    ``language`` is an ISO 639-1 code, ``"univ"`` (language-independent) or ``"und"``;
    ``script`` is the token's Unicode script ("Tamil", "Latin", "Han", …), None for "univ" tokens.
    """

    word: str
    language: str
    script: str | None


# --- py3langid ---------------------------------------------------------------------------------


@functools.cache
def _base_identifier():
    """py3langid's bundled model, loaded once (about 2 s) on first use."""
    from py3langid.langid import MODEL_FILE, LanguageIdentifier

    return LanguageIdentifier.from_model_file(MODEL_FILE, norm_probs=True)


@functools.cache
def _identifier(candidates: frozenset[str]):
    """One identifier per candidate set: ``set_languages`` mutates, so each set gets its own copy.

    The copy shares the model arrays with the base identifier; ``set_languages`` only rebinds
    the copy's attributes to column subsets, so the base stays unrestricted."""
    identifier = copy.copy(_base_identifier())
    identifier.set_languages(sorted(candidates))
    return identifier


def supported_languages() -> tuple[str, ...]:
    """The language codes py3langid 0.4.0 can return, sorted: 140 (its 142 classes, sr and uz twice)."""
    return tuple(sorted(set(_base_identifier().labels)))


def _checked_languages(codes: Sequence[str], what: str) -> tuple[str, ...]:
    """``codes`` deduplicated in order, each one a language py3langid knows, else ValidationError."""
    if isinstance(codes, str):
        raise ValidationError(f"{what} must be a list of language codes, not the string {codes!r}; e.g. ['ta', 'en']")
    known = set(supported_languages())
    unknown = [code for code in codes if code not in known]
    if unknown:
        raise ValidationError(
            f"unknown language code {unknown[0]!r} in {what}; use ISO 639-1 codes the language "
            f"identifier knows, e.g. ta, ml, bn, zh, en ({len(known)} in all: "
            "backend.language.identify.supported_languages())"
        )
    return tuple(dict.fromkeys(codes))


def _indic(languages: Sequence[str]) -> list[str]:
    return [code for code in languages if NATIVE_SCRIPTS.get(code) in INDIC_SCRIPTS]


def identify_language(text: str, candidates: Sequence[str] = ()) -> tuple[str | None, float | None]:
    """The language of ``text`` as (ISO 639-1 code, probability), or (None, None) without letters.

    py3langid 0.4.0 with normalised probabilities decides on ``LID_MAX_CHARS`` characters from
    the first letter on (linear time on any length); with ``candidates`` it chooses among those
    only (probabilities renormalised over them, so a single candidate always gets 1.0). Codes
    py3langid does not know raise ValidationError.

    Romanised Indic text (which py3langid cannot identify) is handled by a documented heuristic:
    when the candidates hold exactly one Indic language (ta, ml, bn, hi, …) and, in the words of
    :func:`tag_words`, more than half of the words are Latin-script and more than half of those
    Latin words are not English (wordfreq zipf < ``ENGLISH_ZIPF_THRESHOLD``), the result is that
    Indic language with the share of non-English Latin words as its confidence. Candidates that
    cannot write the text's dominant script (Han text, candidates {ta, en}) are set aside: the
    text is identified over every language instead of being forced onto the nearest candidate.

    >>> identify_language("!!! 123 🙂")
    (None, None)
    """
    checked = _checked_languages(candidates, "candidates")
    first_letter = next((index for index, char in enumerate(text) if char.isalpha()), None)
    if first_letter is None:
        return None, None
    sample = text[first_letter : first_letter + LID_MAX_CHARS]
    indic = _indic(checked)
    if len(indic) == 1:
        words = [tag for tag in tag_words(sample, checked) if tag.language != UNIVERSAL]
        latin = [tag for tag in words if tag.script == "Latin"]
        if latin and len(latin) > _ROMANIZED_SHARE * len(words):
            share = sum(tag.language != "en" for tag in latin) / len(latin)
            if share > _ROMANIZED_SHARE:
                return indic[0], share
    if checked and not _candidates_can_write(checked, sample):
        checked = []  # Han text in a {ta, en} project is Chinese, not "the nearest candidate"
    identifier = _identifier(frozenset(checked)) if checked else _base_identifier()
    language, probability = identifier.classify(sample)
    return language, float(probability)


def _candidates_can_write(candidates: Sequence[str], sample: str) -> bool:
    """Whether the sample's dominant script could be one of the candidates' writing: their native
    script, or Latin (any language may be romanised). When it cannot, the restriction would force
    a wrong answer, and identification runs over every language instead."""
    dominant = dominant_script(script_profile(sample[:2_000]))
    if dominant is None:
        return True
    return dominant == "Latin" or any(NATIVE_SCRIPTS.get(code) == dominant for code in candidates)


# --- word tags ---------------------------------------------------------------------------------


@functools.cache
def _token_pattern() -> re.Pattern[str]:
    """The tokeniser, built on first use (the class of combining marks takes ~0.2 s to collect).

    Python's ``\\w`` leaves out combining marks (Mn/Mc/Me), which Indic vowel signs and the
    virama are, so words are runs of letters, digits *and marks*; a zero-width (non-)joiner after
    a letter or mark stays in the word (Malayalam legacy chillu ന്‍ ends in one), an apostrophe
    stays when a letter follows it ("don't").
    """
    ranges: list[list[int]] = []  # as ranges: a class of 2,400 single characters is 6 times slower
    for code in range(sys.maxunicode + 1):
        if unicodedata.category(chr(code)).startswith("M"):
            if ranges and ranges[-1][1] == code - 1:
                ranges[-1][1] = code
            else:
                ranges.append([code, code])
    marks = "".join(f"{re.escape(chr(first))}-{re.escape(chr(last))}" for first, last in ranges)
    letter = rf"(?:[^\W_]|[{marks}])"
    handle_char = rf"(?:\w|[{marks}])"
    return re.compile(
        rf"""
        (?P<url>(?:https?://|www\.)\S*[^\s.,;:!?)\]}}'"»])
        | (?P<email>[\w.+-]{{1,64}}@[\w-]{{1,63}}(?:\.[\w-]{{1,63}}){{1,8}})
        | (?P<handle>[@#]{handle_char}+)
        | (?P<number>\d+(?:[.,:/]\d+)*(?!\w))
        | (?P<word>{letter}(?:{letter}|[\u200c\u200d]|['’](?=[^\W\d_]))*)
        | (?P<other>(?:(?![@#]{handle_char})(?:[^\s\w]|_))+)
        """,
        re.VERBOSE,
    )


def _script_runs(word: str) -> list[tuple[str, str | None]]:
    """``word`` split where its script changes, each Han character on its own: (piece, script).

    Characters without a script (digits, combining marks that are not script-specific) stay
    with the piece they are in; a piece with no scripted character has script None.
    """
    if word.isascii():
        return [(word, "Latin" if any(char.isalpha() for char in word) else None)]
    runs: list[tuple[str, str | None]] = []
    start, current = 0, None
    for index, char in enumerate(word):
        script = script_of(char)
        if script is None:
            continue
        if current is not None and (script != current or script == "Han"):
            runs.append((word[start:index], current))
            start = index
        elif current is None and script == "Han" and index > start:
            runs.append((word[start:index], None))
            start = index
        current = script
    runs.append((word[start:], current))
    return runs


@functools.lru_cache(maxsize=65536)
def _is_english(word: str) -> bool:
    from wordfreq import zipf_frequency

    return zipf_frequency(word, "en") >= ENGLISH_ZIPF_THRESHOLD


def _script_language(script: str, expected: Sequence[str]) -> str:
    """The language a native-script word is in: the expected one written in that script, else the
    first language NATIVE_SCRIPTS lists for it, else "und"."""
    for code in expected:
        if NATIVE_SCRIPTS.get(code) == script:
            return code
    for code, native in NATIVE_SCRIPTS.items():
        if native == script:
            return code
    return UNDETERMINED


def tag_words(text: str, expected: Sequence[str] = ()) -> list[WordTag]:
    """Every token of ``text`` with its language, in order.

    Tokens: URLs, e-mail addresses, @mentions, #hashtags, numbers, runs of punctuation or
    symbols (emoji with their modifiers) — all tagged "univ" with script None — and words:
    letters, digits and combining marks (Indic vowel signs and virama stay inside the word),
    split where the script changes. Han is tagged **per character** (each 汉字 one token):
    Chinese is written without spaces and no segmenter is used, so a run would be a whole clause;
    a character is closer to a word than a clause is, and the count does not depend on how a
    source punctuates. The Code-Mixing Index counts these same tokens.

    Languages: a native-script word → the language of its script (Han → zh, Tamil → ta,
    Malayalam → ml, Bengali → bn, …, preferring an ``expected`` language written in that script);
    a Latin word → "en" when English (wordfreq zipf >= ``ENGLISH_ZIPF_THRESHOLD``), else the
    expected Indic language if exactly one is expected (romanised), else "und". A token without
    letters (e.g. "2024", "௨௦") → "univ".

    >>> [(t.word, t.language) for t in tag_words("இந்த movie semma mass!", ["ta", "en"])]
    [('இந்த', 'ta'), ('movie', 'en'), ('semma', 'ta'), ('mass', 'en'), ('!', 'univ')]
    """
    checked = _checked_languages(expected, "expected languages")
    indic = _indic(checked)
    romanized = indic[0] if len(indic) == 1 else UNDETERMINED
    tags: list[WordTag] = []
    # A token's text decides its tags (no two token kinds can match the same string), and
    # WordTags are frozen, so each distinct token is tagged once per call and its tags reused.
    seen: dict[str, tuple[WordTag, ...]] = {}
    for match in _token_pattern().finditer(text):
        token = match.group()
        found = seen.get(token)
        if found is None:
            if match.lastgroup == "word":
                found = tuple(_tag_word(token, checked, romanized))
            else:
                found = (WordTag(token, UNIVERSAL, None),)
            seen[token] = found
        tags.extend(found)
    return tags


def _tag_word(word: str, expected: tuple[str, ...], romanized: str) -> list[WordTag]:
    tags = []
    for piece, script in _script_runs(word):
        if script is None or not any(char.isalpha() for char in piece):
            tags.append(WordTag(piece, UNIVERSAL, None))
        elif script == "Latin":
            language = "en" if _is_english(piece.casefold().translate(_JOINERS)) else romanized
            tags.append(WordTag(piece, language, script))
        else:
            tags.append(WordTag(piece, _script_language(script, expected), script))
    return tags


def code_mixing_index(tags: Sequence[WordTag]) -> float:
    """Code-Mixing Index of Das & Gambäck (2014), from 0 (one language) towards 100.

    CMI = 100 × (1 − max_i(w_i) / (n − u)) when n > u, else 0, where n is the number of tokens,
    u the number of language-independent ("univ") tokens and w_i the tokens of language i
    ("und" is a language of its own). Not rounded.

    >>> tags = tag_words("இந்த movie semma mass", ["ta", "en"])  # ta 2, en 2: 100 × (1 − 2/4)
    >>> code_mixing_index(tags)
    50.0
    """
    counts = Counter(tag.language for tag in tags if tag.language != UNIVERSAL)
    words = sum(counts.values())
    if not words:
        return 0.0
    return 100.0 * (1.0 - max(counts.values()) / words)
