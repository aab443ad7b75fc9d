"""backend.language.identify: whole-text language, word tags and the Code-Mixing Index.

English-lexicon values quoted below are ``wordfreq.zipf_frequency(word, "en")`` (wordfreq 3.1.1);
a Latin word is English at zipf >= ENGLISH_ZIPF_THRESHOLD (3.5, chosen on the tuning set of
benchmarks/language_id.py). The sentences were written for these tests, apart from
"padam semma mass ah irukku", the line the contract quotes.
"""

from __future__ import annotations

import unicodedata

import pytest
from hypothesis import given
from hypothesis import strategies as st

from backend.domain import ValidationError
from backend.language.identify import (
    ENGLISH_ZIPF_THRESHOLD,
    LID_MAX_CHARS,
    WordTag,
    code_mixing_index,
    identify_language,
    supported_languages,
    tag_words,
)

CORPUS = ["ta", "ml", "bn", "zh", "en"]


def pairs(tags: list[WordTag]) -> list[tuple[str, str]]:
    return [(tag.word, tag.language) for tag in tags]


def test_the_threshold_is_the_one_chosen_on_the_tuning_set():
    assert ENGLISH_ZIPF_THRESHOLD == 3.5


def test_py3langid_knows_every_corpus_language():
    languages = supported_languages()
    assert set(CORPUS) <= set(languages)
    assert len(languages) == 140  # 142 model classes: sr and uz each have two script columns


# --- whole-text language -------------------------------------------------------------------------

NATIVE = [
    ("இந்த பாடல் கேட்க ரொம்ப இனிமையாக இருக்கிறது", "ta"),  # Tamil: this song is very sweet to hear
    ("ഈ പാട്ട് കേൾക്കാൻ നല്ല രസമുണ്ട്", "ml"),  # Malayalam: this song is nice to listen to
    ("আমি প্রতিদিন সকালে রবীন্দ্রসংগীত শুনি", "bn"),  # Bengali: I listen to Rabindrasangeet every morning
    ("我们明天一起去公园散步吧", "zh"),  # Simplified Chinese
    ("這家餐廳的服務態度非常親切", "zh"),  # Traditional Chinese
    ("The film was better than I expected", "en"),
]


@pytest.mark.parametrize(("text", "language"), NATIVE)
def test_native_script_text_is_identified_with_and_without_candidates(text, language):
    for candidates in ((), CORPUS):
        found, probability = identify_language(text, candidates)
        assert found == language
        assert 0.5 < probability <= 1.0


def test_py3langid_alone_cannot_read_romanised_tamil():
    # The measurement behind the heuristic: py3langid says 'kab' (Kabyle) here.
    assert identify_language("padam semma mass ah irukku")[0] not in {"ta", "en"}


@pytest.mark.parametrize(
    ("text", "candidates", "expected"),
    [
        # padam 1.69, semma 0, irukku 0 are not English; mass 4.87, ah 4.63 are.
        # Latin words 5/5 > 1/2; non-English 3/5 = 0.6 > 1/2 → ("ta", 0.6)
        ("padam semma mass ah irukku", ["ta", "en"], ("ta", 0.6)),
        # Manglish "this film is terrific, brother": ee 3.61 counts as English; padam 1.69,
        # kidilan 0, aanu 0, chetta 1.13 do not → 4/5 = 0.8
        ("ee padam kidilan aanu chetta", ["ml", "en"], ("ml", 0.8)),
        # Banglish "I love you very much": ami 3.3 < 3.5, tomake 1.59, khub 0, bhalobashi 0 → 4/4
        ("ami tomake khub bhalobashi", ["bn", "en"], ("bn", 1.0)),
    ],
)
def test_romanised_indic_with_one_indic_candidate(text, candidates, expected):
    assert identify_language(text, candidates) == expected


def test_english_stays_english_in_an_indic_project():
    # every word has zipf >= 5: no non-English Latin word, so py3langid {ta, en} decides
    assert identify_language("The film was better than I expected", ["ta", "en"])[0] == "en"


def test_romanised_text_with_mostly_english_words_is_left_to_py3langid():
    # A known limit. vera 3.71, level 5.41, bro 4.4 are English; only bgm 2.27 is not:
    # 1/4 ≤ 1/2, so the heuristic does not fire and py3langid {ta, en} says English.
    assert identify_language("vera level bgm bro", ["ta", "en"])[0] == "en"


def test_two_indic_candidates_switch_the_heuristic_off():
    language, _ = identify_language("padam semma mass ah irukku", ["ta", "ml", "en"])
    assert language in {"ta", "ml", "en"}
    assert (language, _) == identify_language("padam semma mass ah irukku", ["en", "ml", "ta"])


def test_a_mixed_line_in_native_script_goes_to_py3langid():
    # Latin words 3 of 4 but only semma (1 of 3) is not English: heuristic off; the Tamil
    # characters decide for py3langid.
    assert identify_language("இந்த movie semma mass", ["ta", "en"])[0] == "ta"


class TestCandidates:
    bengali = "আমি প্রতিদিন সকালে রবীন্দ্রসংগীত শুনি"

    def test_a_single_candidate_is_certain(self):
        assert identify_language(self.bengali, ["bn"]) == ("bn", 1.0)

    def test_the_answer_is_one_of_the_candidates_when_they_can_write_the_text(self):
        assert identify_language("The film was better than I expected", ["ta", "en"])[0] == "en"
        assert identify_language("আমি ভাত খাই", ["bn", "en"])[0] == "bn"

    def test_candidates_that_cannot_write_the_script_are_set_aside(self):
        # Bengali script with candidates {ta, en}, Han with {ml, en}: neither candidate writes it, and
        # forcing the nearest one would be wrong, so every language is considered
        assert identify_language(self.bengali, ["ta", "en"])[0] == "bn"
        assert identify_language("我们明天一起去公园散步吧", ["ml", "en"])[0] == "zh"

    def test_restricting_leaves_the_unrestricted_identifier_alone(self):
        before = identify_language("padam semma mass ah irukku")
        identify_language("padam semma mass ah irukku", ["ta", "en"])
        identify_language(self.bengali, ["bn"])
        assert identify_language("padam semma mass ah irukku") == before
        assert identify_language(self.bengali)[0] == "bn"

    def test_order_and_duplicates_do_not_matter(self):
        assert identify_language(self.bengali, ["en", "bn", "bn"]) == identify_language(self.bengali, ["bn", "en"])

    def test_an_unknown_code_is_refused_with_its_name(self):
        with pytest.raises(ValidationError, match="unknown language code 'tn' in candidates"):
            identify_language(self.bengali, ["tn", "en"])
        with pytest.raises(ValidationError, match="unknown language code 'xx' in expected languages"):
            tag_words("hello", ["xx"])

    def test_a_bare_string_is_refused(self):
        with pytest.raises(ValidationError, match="not the string 'ta'"):
            identify_language(self.bengali, "ta")


# --- word tags and CMI ---------------------------------------------------------------------------


def test_tamil_english_code_mixing():
    tags = tag_words("இந்த movie semma mass!", ["ta", "en"])
    assert tags == [
        WordTag("இந்த", "ta", "Tamil"),
        WordTag("movie", "en", "Latin"),  # zipf 5.16
        WordTag("semma", "ta", "Latin"),  # zipf 0: romanised Tamil, the one Indic language expected
        WordTag("mass", "en", "Latin"),  # zipf 4.87
        WordTag("!", "univ", None),
    ]
    # n = 5, u = 1, ta 2, en 2: 100 × (1 − 2/4) = 50
    assert code_mixing_index(tags) == 50.0


def test_malayalam_english_code_mixing():
    tags = tag_words("ഈ movie കിടിലൻ ആണ് bro 🔥🔥", ["ml", "en"])
    assert pairs(tags) == [
        ("ഈ", "ml"),
        ("movie", "en"),
        ("കിടിലൻ", "ml"),  # ends in the atomic chillu ൻ
        ("ആണ്", "ml"),  # the virama ് stays in the word
        ("bro", "en"),  # zipf 4.4
        ("🔥🔥", "univ"),
    ]
    # n = 6, u = 1, ml 3, en 2: 100 × (1 − 3/5) = 40
    assert code_mixing_index(tags) == pytest.approx(40.0)


def test_bengali_english_code_mixing():
    tags = tag_words("আজকের match টা দারুণ ছিল 👏", ["bn", "en"])
    assert pairs(tags) == [("আজকের", "bn"), ("match", "en"), ("টা", "bn"), ("দারুণ", "bn"), ("ছিল", "bn"), ("👏", "univ")]
    # n = 6, u = 1, bn 4, en 1: 100 × (1 − 4/5) = 20
    assert code_mixing_index(tags) == pytest.approx(20.0)


@pytest.mark.parametrize("text", ["这个app真的很好用", "這個app真的很好用"])  # Simplified, Traditional
def test_han_is_tagged_per_character(text):
    tags = tag_words(text, ["zh", "en"])
    assert [tag.word for tag in tags] == [text[0], text[1], "app", "真", "的", "很", "好", "用"]
    assert [tag.language for tag in tags] == ["zh", "zh", "en"] + ["zh"] * 5
    assert {tag.script for tag in tags} == {"Han", "Latin"}
    # n = 8, u = 0, zh 7, en 1: 100 × (1 − 7/8) = 12.5
    assert code_mixing_index(tags) == 12.5


def test_romanised_words_without_an_expected_indic_language_are_undetermined():
    tags = tag_words("padam semma mass")
    assert pairs(tags) == [("padam", "und"), ("semma", "und"), ("mass", "en")]
    # "und" is a bucket of its own: und 2, en 1 → 100 × (1 − 2/3) = 33.33…
    assert code_mixing_index(tags) == pytest.approx(100 / 3)
    # two Indic languages expected: still no way to tell which
    assert pairs(tag_words("semma", ["ta", "ml"])) == [("semma", "und")]


def test_a_native_word_prefers_the_expected_language_of_its_script():
    assert pairs(tag_words("ভালো")) == [("ভালো", "bn")]  # Bengali script: bn unless told otherwise
    assert pairs(tag_words("ভালো", ["as"])) == [("ভালো", "as")]  # Assamese is written in it too


@pytest.mark.parametrize(
    "word",
    [
        "நல்லா",  # ல் (virama U+0BCD, Mn) and ா (vowel sign U+0BBE, Mc)
        "கொண்டு",  # two-part vowel sign ொ (U+0BCA, Mc)
        "ഇഷ്ടപ്പെട്ടു",  # Malayalam viramas and vowel signs
        "അവന\u0d4d\u200d",  # legacy chillu: na + virama + ZWJ at the end of the word
        "ক্ষমা",  # Bengali conjunct ক্ষ through the virama U+09CD
        "কৌতূহল",  # ৌ (U+09CC, Mc) and ূ (U+09C2, Mn)
    ],
)
def test_indic_marks_stay_inside_their_word(word):
    assert any(unicodedata.category(char) in {"Mn", "Mc"} for char in word)
    tags = tag_words(word)
    assert [tag.word for tag in tags] == [word]
    assert tags[0].language in {"ta", "ml", "bn"}


def test_language_independent_tokens():
    text = "@raj_kumar see https://example.com/a?b=1. #தமிழ் 2024 ௨௦ 3.5 ❤️ 👍🏽 … a.b@example.org"
    tags = tag_words(text, ["ta", "en"])
    assert pairs(tags) == [
        ("@raj_kumar", "univ"),
        ("see", "en"),
        ("https://example.com/a?b=1", "univ"),  # the full stop after a URL is not part of it
        (".", "univ"),
        ("#தமிழ்", "univ"),
        ("2024", "univ"),
        ("௨௦", "univ"),  # Tamil digits: no letters
        ("3.5", "univ"),
        ("❤️", "univ"),  # heart + variation selector (a mark) is one token
        ("👍🏽", "univ"),  # with its skin-tone modifier
        ("…", "univ"),
        ("a.b@example.org", "univ"),
    ]
    assert all(tag.script is None for tag in tags if tag.language == "univ")
    # one word in a language: n − u = 1, max 1 → 0
    assert code_mixing_index(tags) == 0.0


def test_english_lookup_ignores_case_and_apostrophes_stay_in_words():
    assert pairs(tag_words("Don't WORRY", ["ta", "en"])) == [("Don't", "en"), ("WORRY", "en")]


def test_code_mixing_index_from_tags():
    def tags(*languages):
        return [WordTag(f"w{i}", language, None) for i, language in enumerate(languages)]

    assert code_mixing_index([]) == 0.0
    assert code_mixing_index(tags("univ", "univ")) == 0.0  # n = u
    assert code_mixing_index(tags("ta", "ta", "univ")) == 0.0  # one language
    # n = 5, u = 1, en 1, und 2, ta 1: 100 × (1 − 2/4) = 50
    assert code_mixing_index(tags("en", "und", "und", "ta", "univ")) == 50.0
    # three languages evenly: 100 × (1 − 1/3) = 66.67
    assert code_mixing_index(tags("ta", "en", "ml")) == pytest.approx(200 / 3)


# --- bad input ------------------------------------------------------------------------------------


@pytest.mark.parametrize("text", ["", "   \n\t ", "😀😂🙏🏽", "?!…。，、()", "2024 ௨௦௨௪ 3.14"])
def test_text_without_letters(text):
    assert identify_language(text) == (None, None)
    assert identify_language(text, ["ta", "en"]) == (None, None)
    tags = tag_words(text, ["ta", "en"])
    assert all(tag.language == "univ" for tag in tags)
    assert code_mixing_index(tags) == 0.0


def test_empty_text_has_no_tokens():
    assert tag_words("") == []


def test_a_one_megabyte_line():
    unit = "இந்த movie semma mass! "
    repeats = -(-1_000_000 // len(unit))
    text = unit * repeats
    assert len(text) >= 1_000_000
    # py3langid reads LID_MAX_CHARS characters from the first letter on
    assert identify_language(text, ["ta", "en"]) == identify_language(text[:LID_MAX_CHARS], ["ta", "en"])
    tags = tag_words(text, ["ta", "en"])
    assert len(tags) == 5 * repeats
    assert code_mixing_index(tags) == 50.0  # as for one unit: ta 2N, en 2N


def test_letters_after_a_long_run_without_letters_are_still_found():
    text = " " * 20_000 + "!" * 20_000 + "ഈ സിനിമ വളരെ നന്നായിട്ടുണ്ട്"
    assert identify_language(text)[0] == "ml"
    assert identify_language("!" * 1_000_000) == (None, None)


# --- invariants -----------------------------------------------------------------------------------

mixed_text = st.text(
    alphabet=st.sampled_from(list("abz ZY'-_.,!?@#/:0129") + list("இந்தபடம்ாெொ") + list("ഈസിനമൻ്") + list("এইভালো্")
                             + list("中文這個") + ["\u200d", "\u200c", "😀", "🏽", "\ufe0f", "\u0301", "\u3000"]),
    max_size=60,
)


@given(text=st.one_of(mixed_text, st.text(max_size=60)))
def test_tokens_cover_every_character_that_is_not_a_space(text):
    tags = tag_words(text, ["ta", "en"])
    assert "".join(tag.word for tag in tags) == "".join(text.split())
    assert all(tag.word and not any(char.isspace() for char in tag.word) for tag in tags)
    assert 0.0 <= code_mixing_index(tags) < 100.0
