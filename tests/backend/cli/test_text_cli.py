"""`mmcurate text profile`: one JSON object per line; a bad line is named and the rest go on."""

from __future__ import annotations

import json
from pathlib import Path


def test_profile_prints_one_object_per_line(cli, tmp_path: Path) -> None:
    corpus = tmp_path / "comments.txt"
    corpus.write_text("இந்த movie semma mass\n這部電影很好看\n\n😀😀\n", encoding="utf-8")
    code, out, err = cli("text", "profile", str(corpus), "--languages", "ta,en", "--chinese", "simplified", "--json")
    assert code == 0, err
    lines = [json.loads(line) for line in out.splitlines()]
    assert [r["line"] for r in lines] == [1, 2, 3, 4]
    mixed, chinese, empty, emoji = lines
    assert set(mixed) >= {"text", "normalized", "scripts", "han_variant", "language", "language_confidence",
                          "word_languages", "cmi"}
    # இந்த=ta movie=en semma=ta (romanised, ta is the one Indic language given) mass=en: CMI 100*(1-2/4)
    assert mixed["word_languages"] == [["இந்த", "ta"], ["movie", "en"], ["semma", "ta"], ["mass", "en"]]
    assert mixed["cmi"] == 50.0 and mixed["han_variant"] is None
    assert chinese["text"] == "這部電影很好看" and chinese["normalized"] == "这部电影很好看"
    assert chinese["scripts"] == {"Han": 1.0} and chinese["language"] == "zh"
    assert empty["normalized"] == "" and empty["scripts"] == {} and empty["language"] is None and empty["cmi"] == 0
    assert emoji["scripts"] == {} and emoji["language"] is None


def test_a_line_that_is_not_utf8_is_named_and_the_others_are_profiled(cli, tmp_path: Path) -> None:
    corpus = tmp_path / "broken.txt"
    corpus.write_bytes("வணக்கம்\n".encode() + b"caf\xe9 latin-1\n" + "নমস্কার\n".encode())
    code, out, err = cli("text", "profile", str(corpus), "--json")
    assert code == 2
    lines = [json.loads(line) for line in out.splitlines()]
    assert lines[0]["scripts"] == {"Tamil": 1.0} and lines[2]["scripts"] == {"Bengali": 1.0}
    assert lines[1] == {"line": 2, "error": "line 2 is not valid UTF-8: byte 0xe9 at column 4 (invalid continuation byte)"}
    assert "1 line(s) could not be profiled" in err and "line 2" in err


def test_a_missing_file_and_an_unknown_chinese_policy_are_clear_errors(cli, tmp_path: Path) -> None:
    code, _out, err = cli("text", "profile", str(tmp_path / "nope.txt"), "--json")
    assert code == 3 and "is not a file" in err
    (tmp_path / "a.txt").write_text("x\n", encoding="utf-8")
    code, _out, err = cli("text", "profile", str(tmp_path / "a.txt"), "--chinese", "hk")
    assert code == 2 and "use simplified, traditional or none" in err
