"""`mmcurate ingest images|chat|text` as a user runs them: one command each, a JSON summary, clear refusals."""

from __future__ import annotations

import json

from tests.backend.services.corpora_world import brighter_csv, meme_folder, telegram_export


def test_each_corpus_goes_in_with_one_command_and_items_list_shows_it(cli, tmp_path) -> None:  # type: ignore[no-untyped-def]
    assert cli("project", "create", "mixed", "--languages", "bn", "--schemes", "memosen,brighter")[0] == 0
    code, out, err = cli("ingest", "images", str(meme_folder(tmp_path / "memes")), "--project", "mixed", "--json")
    assert code == 0, err
    assert json.loads(out)["items_created"] == 4 and "refused broken.png" in err
    code, out, err = cli("ingest", "chat", str(telegram_export(tmp_path / "export")), "--project", "mixed", "--language", "zh")
    assert code == 0, err
    assert "7 new chat_turn items" in out and "2 attached images" in out
    csv_path = brighter_csv(tmp_path / "eng.csv", [("e1", "so happy today", (0, 0, 0, 3, 0, 0))])
    code, out, err = cli("ingest", "text", str(csv_path), "--project", "mixed", "--scheme", "brighter", "--labels-as", "semeval")
    assert code == 0, err
    assert "stored as annotations of imported:semeval" in out
    code, out, _ = cli("items", "list", "--project", "mixed", "--json")
    kinds = [json.loads(line)["kind"] for line in out.splitlines()]
    assert kinds.count("image") == 6 and kinds.count("chat_turn") == 7 and kinds.count("text") == 1


def test_a_malformed_corpus_is_an_error_line_and_exit_code_2(cli, tmp_path) -> None:  # type: ignore[no-untyped-def]
    assert cli("project", "create", "texts", "--languages", "en", "--schemes", "brighter")[0] == 0
    bad = tmp_path / "bad.csv"
    bad.write_text("id,text,Anger,Disgust,Fear,Joy,Sadness,Surprise\nx1,ok,0,0,0,9,0,0\n", encoding="utf-8")
    code, out, err = cli("ingest", "text", str(bad), "--project", "texts")
    assert code == 2 and "bad.csv: 1 problem(s), nothing imported" in err and "line 2" in err
    code, _, err = cli("ingest", "images", str(tmp_path / "nowhere"), "--project", "texts")
    assert code == 2 and "is not a folder" in err
