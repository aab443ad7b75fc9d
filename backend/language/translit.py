"""Tamil, Malayalam and Bengali between native script and Latin (ISO 15919; ITRANS one way).

Own tables, not a library's: indic-transliteration's Tamil ISO is wrong ("இது" → "idhu"), and
its Malayalam and Bengali leave chillus (ൻ), the au length mark (ൗ), nukta letters (ড় য়) and ৎ
untransliterated or lost on the way back, and read ব as "v". The tables follow ISO 15919 strictly:
the inherent vowel is always written (Bengali খুব → "khuba"), Bengali এ/ও are "ē"/"ō" (plain "e",
"o" and "v" are accepted on the way back), anusvara is "ṁ", candrabindu "m̐", Tamil āytam "ḵ".

Decisions the contract left open:

- ISO 15919's separator ":" is written where two letters would otherwise read as one
  (அஇ → "a:i", not "ai"; ক্হ → "k:h"), and read back as a separator.
- Malayalam: a virama at the end of a word (samvṛtōkāram) is "ŭ" (ആണ് → "āṇŭ"); a chillu is its
  bare consonant (അവൻ → "avan"); on the way back a bare ṇ n r l ḷ k ending a word becomes the
  chillu. So a chillu *inside* a word (rare: old spellings like എൻറെ) comes back as consonant +
  virama. The au sign comes back as the modern ൗ (U+0D57), not ൌ.
- Bengali ৎ (khanda ta) is "t̆", so it survives the round trip.
- ZWJ/ZWNJ inside native text are rendering hints with no ISO equivalent and are dropped;
  native digits are not letters and pass through, as do all other scripts. Input is taken in NFC;
  for legacy encodings (chillu with ZWJ) run ``normalize_text`` first — ``transliteration_view``
  does.
- ITRANS (one way, a reading aid): ā ī ū → A I U, ē ō → E O (Bengali e o), ṭ ḍ ṇ → T D N,
  c ch → ch Ch, ṅ ñ → ~N ~n, ś ṣ → sh Sh, ḻ ṟ ḷ → zh R L, ṁ ḥ m̐ → M H .N, ṛ ẏ → .D Y; ṉ and t̆
  have no ITRANS letter and become n and t; ŭ is not written.
"""

from __future__ import annotations

import functools
import unicodedata
from dataclasses import dataclass, field

from backend.language.normalize import TextInputError, normalize_text, require_unicode
from backend.language.scripts import NATIVE_SCRIPTS, script_of

TARGETS = ("iso15919", "itrans", "native")
JOINERS = frozenset("\u200c\u200d")


def _pairs(spec: str) -> dict[str, str]:
    """'க k ங ṅ' → {'க': 'k', 'ங': 'ṅ'}, both sides in NFC."""
    words = [unicodedata.normalize("NFC", word) for word in spec.split()]
    return dict(zip(words[::2], words[1::2], strict=True))


@dataclass(frozen=True)
class _Scheme:
    """One language's native ↔ ISO 15919 tables."""

    virama: str
    consonants: dict[str, str]  # consonant (or consonant + nukta) → ISO
    vowels: dict[str, str]  # independent vowel → ISO
    signs: dict[str, str]  # dependent vowel sign → ISO; the first native spelling of an ISO vowel wins on the way back
    finals: dict[str, str]  # letters that never carry a vowel: anusvara, visarga, ...
    chillus: dict[str, str] = field(default_factory=dict)  # Malayalam chillu → ISO consonant
    samvruthokaram: str = ""  # Malayalam word-final virama
    aliases: dict[str, str] = field(default_factory=dict)  # other ISO spellings read on the way back
    itrans: dict[str, str] = field(default_factory=dict)  # language-specific ITRANS overrides


_SCHEMES: dict[str, _Scheme] = {
    "ta": _Scheme(
        virama="\u0bcd",
        consonants=_pairs("க k ங ṅ ச c ஞ ñ ட ṭ ண ṇ த t ந n ப p ம m ய y ர r ல l வ v ழ ḻ ள ḷ ற ṟ ன ṉ "
                          "ஜ j ஶ ś ஷ ṣ ஸ s ஹ h"),
        vowels=_pairs("அ a ஆ ā இ i ஈ ī உ u ஊ ū எ e ஏ ē ஐ ai ஒ o ஓ ō ஔ au"),
        signs=_pairs("ா ā ி i ீ ī ு u ூ ū ெ e ே ē ை ai ொ o ோ ō ௌ au"),
        finals=_pairs("ஃ ḵ ஂ ṁ"),
    ),
    "ml": _Scheme(
        virama="\u0d4d",
        consonants=_pairs("ക k ഖ kh ഗ g ഘ gh ങ ṅ ച c ഛ ch ജ j ഝ jh ഞ ñ ട ṭ ഠ ṭh ഡ ḍ ഢ ḍh ണ ṇ ത t ഥ th ദ d "
                          "ധ dh ന n ഩ ṉ പ p ഫ ph ബ b ഭ bh മ m യ y ര r റ ṟ ല l ള ḷ ഴ ḻ വ v ശ ś ഷ ṣ സ s ഹ h"),
        vowels=_pairs("അ a ആ ā ഇ i ഈ ī ഉ u ഊ ū ഋ r̥ ൠ r̥̄ ഌ l̥ ൡ l̥̄ എ e ഏ ē ഐ ai ഒ o ഓ ō ഔ au"),
        signs=_pairs("ാ ā ി i ീ ī ു u ൂ ū ൃ r̥ ൄ r̥̄ ൢ l̥ ൣ l̥̄ െ e േ ē ൈ ai ൊ o ോ ō ൗ au ൌ au"),
        finals=_pairs("ം ṁ ഃ ḥ ഁ m̐"),
        chillus=_pairs("ൺ ṇ ൻ n ർ r ൽ l ൾ ḷ ൿ k"),
        samvruthokaram="ŭ",
    ),
    "bn": _Scheme(
        virama="\u09cd",
        consonants=_pairs("ক k খ kh গ g ঘ gh ঙ ṅ চ c ছ ch জ j ঝ jh ঞ ñ ট ṭ ঠ ṭh ড ḍ ঢ ḍh ণ ṇ ত t থ th দ d "
                          "ধ dh ন n প p ফ ph ব b ভ bh ম m য y র r ল l শ ś ষ ṣ স s হ h ড় ṛ ঢ় ṛh য় ẏ"),
        vowels=_pairs("অ a আ ā ই i ঈ ī উ u ঊ ū ঋ r̥ ৠ r̥̄ ঌ l̥ ৡ l̥̄ এ ē ঐ ai ও ō ঔ au"),
        signs=_pairs("া ā ি i ী ī ু u ূ ū ৃ r̥ ৄ r̥̄ ৢ l̥ ৣ l̥̄ ে ē ৈ ai ো ō ৌ au"),
        finals=_pairs("ং ṁ ঃ ḥ ঁ m̐ ৎ t̆"),
        aliases=_pairs("e ē o ō v b"),
        itrans={"ē": "e", "ō": "o"},
    ),
}

_ITRANS = _pairs(
    "a a ā A i i ī I u u ū U r̥ RRi r̥̄ RRI l̥ LLi l̥̄ LLI e e ē E ai ai o o ō O au au k k kh kh g g gh gh "
    "ṅ ~N c ch ch Ch j j jh jh ñ ~n ṭ T ṭh Th ḍ D ḍh Dh ṇ N t t th th d d dh dh n n ṉ n p p ph ph b b bh bh "
    "m m y y r r ṟ R l l ḷ L ḻ zh v v ś sh ṣ Sh s s h h ṁ M ḥ H m̐ .N ḵ H ṛ .D ṛh .Dh ẏ Y t̆ t"
) | {"ŭ": ""}


@dataclass(frozen=True)
class _Reverse:
    """ISO token → what it writes, for the way back; ``longest`` is the longest token's length."""

    consonants: dict[str, str]
    vowels: dict[str, str]  # ISO vowel → independent vowel
    signs: dict[str, str]  # ISO vowel → sign ("" for the inherent a)
    finals: dict[str, str]
    chillus: dict[str, str]  # ISO consonant → chillu
    longest: int


@functools.cache
def _reverse(language: str) -> _Reverse:
    scheme = _SCHEMES[language]

    def invert(table: dict[str, str]) -> dict[str, str]:
        inverted: dict[str, str] = {}
        for native, iso in table.items():
            inverted.setdefault(iso, native)
        return inverted

    signs = invert(scheme.signs) | {"a": ""}
    vowels, consonants = invert(scheme.vowels), invert(scheme.consonants)
    for alias, iso in scheme.aliases.items():
        for table in (signs, vowels, consonants):
            if iso in table:
                table[alias] = table[iso]
    finals = invert(scheme.finals)
    tokens = [*signs, *vowels, *consonants, *finals, scheme.samvruthokaram]
    return _Reverse(consonants, vowels, signs, finals, invert(scheme.chillus), max(map(len, tokens)))


def _match(reverse: _Reverse, lowered: str, start: int, samvruthokaram: str) -> str:
    """The longest ISO token at ``start`` ("" if none)."""
    for length in range(min(reverse.longest, len(lowered) - start), 0, -1):
        token = lowered[start:start + length]
        if (token in reverse.consonants or token in reverse.vowels or token in reverse.finals
                or (samvruthokaram and token == samvruthokaram)):
            return token
    return ""


def _word_ends(text: str, index: int) -> bool:
    """Whether no letter or mark follows ``index`` (joiners skipped)."""
    while index < len(text) and text[index] in JOINERS:
        index += 1
    return index >= len(text) or not (text[index].isalpha() or unicodedata.category(text[index])[0] == "M")


def _to_latin(text: str, language: str, target: str) -> str:
    """Native → ISO 15919 or ITRANS: a list of (kind, ISO) items, then rendered.

    Kinds: C consonant, A inherent a, V vowel sign, I independent vowel, F final, U samvṛtōkāram,
    X passed through unchanged.
    """
    scheme = _SCHEMES[language]
    script = NATIVE_SCRIPTS[language]
    items: list[tuple[str, str]] = []
    i, n = 0, len(text)
    while i < n:
        char = text[i]
        consonant = text[i:i + 2] if text[i:i + 2] in scheme.consonants else char
        if consonant in scheme.consonants:
            items.append(("C", scheme.consonants[consonant]))
            j = k = i + len(consonant)
            while k < n and text[k] in JOINERS:
                k += 1
            following = text[k] if k < n else ""
            if following == scheme.virama:
                if scheme.samvruthokaram and _word_ends(text, k + 1):
                    items.append(("U", scheme.samvruthokaram))
                i = k + 1
            elif following in scheme.signs:
                items.append(("V", scheme.signs[following]))
                i = k + 1
            else:
                items.append(("A", "a"))
                i = j
            continue
        if char in scheme.vowels:
            items.append(("I", scheme.vowels[char]))
        elif char in scheme.finals:
            items.append(("F", scheme.finals[char]))
        elif char in scheme.chillus:
            items.append(("C", scheme.chillus[char]))
        elif not (char in JOINERS and i > 0 and script_of(text[i - 1]) == script):
            items.append(("X", char))
        i += 1
    if target == "itrans":
        return "".join(iso if kind == "X" else scheme.itrans.get(iso, _ITRANS[iso]) for kind, iso in items)
    reverse = _reverse(language)
    out: list[str] = []
    for index, (kind, iso) in enumerate(items):
        if index and kind != "X" and items[index - 1][0] != "X":
            before_kind, before = items[index - 1]
            merged = len(_match(reverse, before + iso, 0, scheme.samvruthokaram)) > len(before)
            if merged or (before_kind == "C" and kind == "I"):
                out.append(":")
        out.append(iso)
    return "".join(out)


def _to_native(text: str, language: str) -> str:
    """ISO 15919 Latin → native script; everything that is not an ISO letter passes through."""
    scheme, reverse = _SCHEMES[language], _reverse(language)
    lowered = text.lower()
    if len(lowered) != len(text):  # a few capitals lower to two characters (İ); keep positions aligned
        lowered = "".join(c.lower() if len(c.lower()) == 1 else c for c in text)
    out: list[str] = []
    pending = ""  # a consonant waiting for its vowel
    in_word = False
    i = 0

    def flush(word_end: bool) -> None:
        nonlocal pending
        if pending:
            iso = scheme.consonants[pending]
            chillu = reverse.chillus.get(iso) if word_end else None
            out.append(chillu or pending + scheme.virama)
            pending = ""

    while i < len(text):
        token = _match(reverse, lowered, i, scheme.samvruthokaram)
        if not token:
            char = text[i]
            if char == ":" and in_word and _match(reverse, lowered, i + 1, scheme.samvruthokaram):
                flush(word_end=False)
            else:
                flush(word_end=not char.isalpha())
                out.append(char)
                in_word = False
            i += 1
            continue
        if token in reverse.consonants:
            flush(word_end=False)
            pending = reverse.consonants[token]
        elif token in reverse.vowels:
            if pending and token in reverse.signs:
                out.append(pending + reverse.signs[token])
                pending = ""
            else:
                flush(word_end=False)
                out.append(reverse.vowels[token])
        elif token in reverse.finals:
            flush(word_end=False)
            out.append(reverse.finals[token])
        elif token == scheme.samvruthokaram and pending:
            flush(word_end=False)
        else:
            out.append(text[i:i + len(token)])
        in_word = True
        i += len(token)
    flush(word_end=True)
    return unicodedata.normalize("NFC", "".join(out))


def transliterate(text: str, language: str, target: str) -> str:
    """``text`` in ``language`` (ta, ml, bn) written in ``target``: "iso15919", "itrans" or "native".

    To Latin, only runs of the language's script change; to "native", ISO 15919 letters change
    and everything else (other scripts, digits, punctuation) passes through.

    >>> transliterate("இது ஒரு நல்ல படம்", "ta", "iso15919")
    'itu oru nalla paṭam'
    >>> transliterate("itu oru nalla paṭam", "ta", "native")
    'இது ஒரு நல்ல படம்'
    """
    require_unicode(text)
    if language not in _SCHEMES:
        raise TextInputError(f"transliteration supports {', '.join(_SCHEMES)}; got language {language!r}")
    if target not in TARGETS:
        raise TextInputError(f"transliteration target must be one of {', '.join(TARGETS)}; got {target!r}")
    text = unicodedata.normalize("NFC", text)
    if target == "native":
        return _to_native(text, language)
    return _to_latin(text, language, target)


def transliteration_view(text: str, language: str | None) -> str | None:
    """The ISO 15919 reading of normalised native-script text (for annotators), or None.

    None when the language has no transliteration here or the text holds no letter of its script.
    """
    if language not in _SCHEMES:
        return None
    normalized = normalize_text(text)
    script = NATIVE_SCRIPTS[language]
    if not any(script_of(char) == script and char.isalpha() for char in set(normalized)):
        return None
    return transliterate(normalized, language, "iso15919")
