"""`mmcurate ingest folder`, `sources list`, `utterances list`, `process`: thin commands over backend.services.speech."""

from __future__ import annotations

import json

from ingest import testmedia


def test_ingest_folder_then_list_sources_as_json(cli, tmp_path):
    testmedia.generate(testmedia.BN, tmp_path / "in")
    assert cli("project", "create", "demo", "--languages", "bn")[0] == 0
    code, out, _ = cli("ingest", "folder", str(tmp_path / "in"), "--project", "demo")
    assert code == 0 and out.startswith("1 new sources, 0 already registered, 0 refused")
    code, out, _ = cli("ingest", "folder", str(tmp_path / "in"), "--project", "demo")
    assert out.startswith("0 new sources, 1 already registered")
    code, out, _ = cli("sources", "list", "--project", "demo", "--json")
    (record,) = [json.loads(line) for line in out.splitlines()]
    assert record["status"] == "registered" and record["licence"] == "CC0-1.0" and record["error"] is None
    assert record["stages"] == []
    assert record["uri"].endswith("bn_dialogue.wav") and len(record["content_hash"]) == 64
    code, out, _ = cli("utterances", "list", "--project", "demo", "--json")
    assert code == 0 and out == ""


def test_bad_folder_and_unknown_engine_are_clear_errors(cli, tmp_path):
    cli("project", "create", "demo", "--languages", "bn")
    code, _, err = cli("ingest", "folder", str(tmp_path / "missing"), "--project", "demo")
    assert code == 2 and err.strip() == f"error: {tmp_path / 'missing'} is not a folder; give a directory that holds audio or video files"
    code, _, err = cli("process", "--project", "demo", "--engine", "spark")
    assert code == 2 and "engine 'spark' is not available" in err


def test_every_speech_command_has_an_example_in_its_help(cli):
    for args in (["ingest", "folder"], ["sources", "list"], ["process"], ["utterances", "list"]):
        code, out, _ = cli(*args, "--help")
        assert code == 0 and "Example: mmcurate" in out, args
