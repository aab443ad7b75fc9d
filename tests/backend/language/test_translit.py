"""translit: Tamil, Malayalam and Bengali ↔ ISO 15919 (and → ITRANS), with own tables.

ISO 15919 letters are written as code points: ā U+0101, ī U+012B, ē U+0113, ō U+014D,
ṭ U+1E6D, ḍ U+1E0D, ṇ U+1E47, ṉ U+1E49, ṟ U+1E5F, ḻ U+1E3B, ḷ U+1E37, ñ U+00F1, ṣ U+1E63,
ś U+015B, ṁ U+1E41, ḥ U+1E25, ḵ U+1E35, ṛ U+1E5B, ẏ U+1E8F, ŭ U+016D, m̐ m+U+0310, t̆ t+U+0306.
"""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from backend.language import TextInputError, transliterate, transliteration_view

TAMIL = [
    ("இது ஒரு நல்ல படம்", "itu oru nalla pa\u1e6dam"),  # this is a good film
    ("எனக்கு இந்த படம் ரொம்ப பிடிச்சிருக்கு", "e\u1e49akku inta pa\u1e6dam rompa pi\u1e6diccirukku"),
    ("தமிழ் மொழி வாழ்க", "tami\u1e3b mo\u1e3bi v\u0101\u1e3bka"),  # long live the Tamil language
    ("ஸ்ரீ கௌரவம் ஃபேன்", "sr\u012b kauravam \u1e35p\u0113\u1e49"),  # grantha ஸ, au sign, āytam
]
MALAYALAM = [
    ("ഞാൻ ഈ സിനിമ കണ്ടു", "\u00f1\u0101n \u012b sinima ka\u1e47\u1e6du"),  # I saw this film
    ("അവൻ നല്ല പാട്ടുകാരൻ ആണ്", "avan nalla p\u0101\u1e6d\u1e6duk\u0101ran \u0101\u1e47\u016d"),  # he is a good singer
    ("എന്റെ മൗനം", "en\u1e5fe mauna\u1e41"),  # my silence: ന്റ, modern au sign ൗ, anusvara
    ("ബസ് വന്നു", "bas\u016d vannu"),  # the bus came: word-final virama is ŭ
]
BENGALI = [
    ("আমি এই সিনেমাটা খুব ভালোবাসি।", "\u0101mi \u0113i sin\u0113m\u0101\u1e6d\u0101 khuba bh\u0101l\u014db\u0101si\u0964"),
    ("উৎসব হঠাৎ", "ut\u0306saba ha\u1e6dh\u0101t\u0306"),  # festival, suddenly: khanda ta
    ("বড়ো আষাঢ় হয়েছে", "ba\u1e5b\u014d \u0101\u1e63\u0101\u1e5bha ha\u1e8f\u0113ch\u0113"),  # nukta letters ড় ঢ় য়
    ("চাঁদ দুঃখ সংগীত", "c\u0101m\u0310da du\u1e25kha sa\u1e41g\u012bta"),  # candrabindu, visarga, anusvara
]
SENTENCES = [("ta", n, i) for n, i in TAMIL] + [("ml", n, i) for n, i in MALAYALAM] + [("bn", n, i) for n, i in BENGALI]


@pytest.mark.parametrize(("language", "native", "iso"), SENTENCES)
def test_native_to_iso15919(language: str, native: str, iso: str) -> None:
    assert transliterate(native, language, "iso15919") == iso


@pytest.mark.parametrize(("language", "native", "iso"), SENTENCES)
def test_iso15919_back_to_native_is_the_original(language: str, native: str, iso: str) -> None:
    assert transliterate(transliterate(native, language, "iso15919"), language, "native") == native


def test_tamil_native_from_hand_written_iso() -> None:
    assert transliterate("itu oru nalla pa\u1e6dam", "ta", "native") == (
        "\u0b87\u0ba4\u0bc1 \u0b92\u0bb0\u0bc1 \u0ba8\u0bb2\u0bcd\u0bb2 \u0baa\u0b9f\u0bae\u0bcd"
    )
    assert transliterate("Itu", "ta", "native") == "\u0b87\u0ba4\u0bc1"  # ISO is read case-insensitively


def test_separator_colon_keeps_two_letters_apart() -> None:
    assert transliterate("\u0b85\u0b87", "ta", "iso15919") == "a:i"  # அஇ is not ஐ (ai)
    assert transliterate("\u0b95\u0b87", "ta", "iso15919") == "ka:i"  # கஇ is not கை (kai)
    assert transliterate("ka:i", "ta", "native") == "\u0b95\u0b87"
    assert transliterate("kai", "ta", "native") == "\u0b95\u0bc8"
    assert transliterate("\u0d15\u0d4d\u0d39", "ml", "iso15919") == "k:ha"  # ക്ഹ is not ഖ (kha)
    assert transliterate("k:ha", "ml", "native") == "\u0d15\u0d4d\u0d39"
    assert transliterate("kha", "ml", "native") == "\u0d16"
    assert transliterate("ratio: 5", "ta", "native").endswith(": 5")  # a colon before a space is text


def test_malayalam_word_final_consonants_come_back_as_chillus_or_virama() -> None:
    assert transliterate("avan", "ml", "native") == "\u0d05\u0d35\u0d7b"  # അവൻ
    assert transliterate("\u0101\u1e47\u016d", "ml", "native") == "\u0d06\u0d23\u0d4d"  # ആണ്
    assert transliterate("ka\u1e47\u1e6du", "ml", "native") == "\u0d15\u0d23\u0d4d\u0d1f\u0d41"  # കണ്ടു
    assert transliterate("mau", "ml", "native") == "\u0d2e\u0d57"  # modern au sign ൗ


def test_bengali_accepts_plain_e_o_and_v_on_the_way_back() -> None:
    bhalobasi = "\u09ad\u09be\u09b2\u09cb\u09ac\u09be\u09b8\u09bf"  # ভালোবাসি
    assert transliterate("bh\u0101l\u014db\u0101si", "bn", "native") == bhalobasi
    assert transliterate("bh\u0101lob\u0101si", "bn", "native") == bhalobasi
    assert transliterate("bh\u0101lov\u0101si", "bn", "native") == bhalobasi
    assert transliterate("j\u00f1\u0101na", "bn", "native") == "\u099c\u09cd\u099e\u09be\u09a8"  # জ্ঞান


def test_only_the_native_script_runs_change_in_mixed_text() -> None:
    assert transliterate("movie செம்ம mass \U0001f600 \u597d 2024", "ta", "iso15919") == (
        "movie cemma mass \U0001f600 \u597d 2024"
    )
    assert transliterate("ഇത് super ആണ് \u597d", "ml", "iso15919") == "it\u016d super \u0101\u1e47\u016d \u597d"
    # Tamil text in a Bengali transliteration is another script: unchanged
    assert transliterate("ভালো படம்", "bn", "iso15919") == "bh\u0101l\u014d படம்"
    # native digits are not letters: unchanged both ways
    assert transliterate("\u09e7\u09e8\u09e9 \u09ac\u09be\u09b0", "bn", "iso15919") == "\u09e7\u09e8\u09e9 b\u0101ra"


def test_joiners_inside_native_text_are_dropped() -> None:
    # Bengali র‍্যাব (rab, ra + ZWJ + ya-phala): ZWJ has no ISO letter
    assert transliterate("\u09b0\u200d\u09cd\u09af\u09be\u09ac", "bn", "iso15919") == "ry\u0101ba"
    assert transliterate("\u0d15\u0d4d\u200c\u0d15", "ml", "iso15919") == "kka"


@pytest.mark.parametrize(
    ("language", "native", "itrans"),
    [
        ("ta", "இது ஒரு நல்ல படம்", "itu oru nalla paTam"),
        ("ta", "தமிழ் மொழி வாழ்க", "tamizh mozhi vAzhka"),
        ("ml", "ഞാൻ ഈ സിനിമ കണ്ടു", "~nAn I sinima kaNTu"),
        ("ml", "എന്റെ മൗനം", "enRe maunaM"),
        ("bn", "আমি এই সিনেমাটা খুব ভালোবাসি।", "Ami ei sinemATA khuba bhAlobAsi\u0964"),
        ("bn", "বড়ো চাঁদ", "ba.Do chA.Nda"),
    ],
)
def test_native_to_itrans(language: str, native: str, itrans: str) -> None:
    assert transliterate(native, language, "itrans") == itrans


def test_unsupported_language_and_target_are_refused() -> None:
    with pytest.raises(TextInputError, match="transliteration supports ta, ml, bn; got language 'hi'"):
        transliterate("नमस्ते", "hi", "iso15919")
    with pytest.raises(TextInputError, match="target must be one of iso15919, itrans, native; got 'iast'"):
        transliterate("இது", "ta", "iast")
    with pytest.raises(TextInputError, match="unpaired surrogate"):
        transliterate("\u0b87\ud800", "ta", "iso15919")


def test_empty_and_letterless_text() -> None:
    assert transliterate("", "ta", "iso15919") == ""
    assert transliterate("", "ml", "native") == ""
    assert transliterate("!!! \U0001f600", "bn", "iso15919") == "!!! \U0001f600"


def test_transliteration_view_normalises_first() -> None:
    legacy = "\u0d05\u0d35\u0d28\u0d4d\u200d"  # അവന്‍: chillu n in the pre-Unicode-5.1 encoding
    assert transliteration_view(legacy, "ml") == "avan"
    assert transliterate(legacy, "ml", "iso15919") == "avan\u016d"  # raw: a virama, not a chillu
    assert transliteration_view("இது ஒரு\u200b நல்ல படம்", "ta") == "itu oru nalla pa\u1e6dam"


@pytest.mark.parametrize(
    ("text", "language"),
    [("padam semma mass", "ta"), ("\u9019\u90e8", "zh"), ("இது", None), ("", "bn"), ("\u09e7\u09e8\u09e9", "bn"),
     ("இது", "hi")],
)
def test_transliteration_view_is_none_when_there_is_nothing_to_transliterate(text: str, language: str | None) -> None:
    assert transliteration_view(text, language) is None


# --- round trip over generated syllables -------------------------------------------------------

_SYLLABLES = {
    "ta": ("கஙசஞடணதநபமயரலவழளறனஜஷஸஹ", "ாிீுூெேைொோௌ", "\u0bcd", "அஆஇஈஉஊஎஏஐஒஓஔ", "ஃ", ""),
    "ml": ("കഖഗഘങചഛജഝഞടഠഡഢണതഥദധനപഫബഭമയരറലളഴവശഷസഹ", "ാിീുൂൃെേൈൊോൗ", "\u0d4d", "അആഇഈഉഊഋഎഏഐഒഓഔ",
           "ംഃ", "ൺൻർൽൾൿ"),
    "bn": ("কখগঘঙচছজঝঞটঠডঢণতথদধনপফবভমযরলশষসহ", "ািীুূৃেৈোৌ", "\u09cd", "অআইঈউঊঋএঐওঔ", "ংঃঁৎ", ""),
}


def _words(language: str) -> st.SearchStrategy[str]:
    consonants, signs, virama, vowels, finals, chillus = _SYLLABLES[language]
    syllable = st.one_of(
        st.builds(lambda c, s: c + s, st.sampled_from(consonants), st.sampled_from([*signs, virama, ""])),
        st.sampled_from(vowels),
        st.sampled_from(finals) if finals else st.nothing(),
    )
    end = st.sampled_from([*chillus, ""]) if chillus else st.just("")  # chillus end words (documented)
    word = st.builds(lambda body, tail: "".join(body) + tail, st.lists(syllable, min_size=1, max_size=6), end)
    return st.lists(word, min_size=1, max_size=4).map(" ".join)


@pytest.mark.parametrize("language", ["ta", "ml", "bn"])
def test_generated_text_survives_the_round_trip(language: str) -> None:
    @given(_words(language))
    def round_trip(text: str) -> None:
        assert transliterate(transliterate(text, language, "iso15919"), language, "native") == text

    round_trip()
