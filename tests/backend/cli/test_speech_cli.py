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


def test_speaker_count_hints_on_the_project_and_on_process(cli, tmp_path):
    code, out, _ = cli("project", "create", "demo", "--languages", "bn", "--num-speakers", "2", "--json")
    assert code == 0 and json.loads(out)["speakers"] == {"num_speakers": 2}
    code, out, _ = cli("project", "speakers", "demo", "--min-speakers", "2", "--max-speakers", "4")
    assert code == 0 and out.strip() == "project demo: speakers {'min_speakers': 2, 'max_speakers': 4}"
    assert json.loads(cli("project", "show", "demo")[1])["speakers"] == {"min_speakers": 2, "max_speakers": 4}
    code, out, _ = cli("project", "speakers", "demo", "--clear")
    assert code == 0 and out.strip() == "project demo: speakers estimated (no hint)"
    code, _, err = cli("project", "speakers", "demo")
    assert code == 2 and "give --num-speakers, --min-speakers and/or --max-speakers, or --clear" in err
    code, _, err = cli("process", "--project", "demo", "--min-speakers", "3", "--max-speakers", "2")
    assert code == 2 and err.strip() == "error: min_speakers (3) is more than max_speakers (2)"
    code, _, err = cli("process", "--project", "demo", "--num-speakers", "0")
    assert code == 2 and "--num-speakers" in err


def test_process_takes_the_speaker_count_from_the_command_line(cli, tmp_path):
    """The Bengali dialogue has two voices; told there is one, diarization finds one; told two, it re-runs
    diarization (and the utterances and clips made from it) and nothing before it."""
    testmedia.generate(testmedia.BN, tmp_path / "in")
    cli("project", "create", "demo", "--languages", "bn")
    cli("ingest", "folder", str(tmp_path / "in"), "--project", "demo")
    code, out, err = cli("process", "--project", "demo", "--num-speakers", "1")
    assert code == 0, err
    speakers = {json.loads(line)["speaker"] for line in cli("utterances", "list", "--project", "demo", "--json")[1].splitlines()}
    assert speakers == {"SPEAKER_00"}
    code, out, err = cli("process", "--project", "demo", "--num-speakers", "2")
    assert code == 0 and "3 stages run, 3 skipped" in out, out + err
    records = [json.loads(line) for line in cli("utterances", "list", "--project", "demo", "--json")[1].splitlines()]
    assert {r["speaker"] for r in records} == {"SPEAKER_00", "SPEAKER_01"}
    (source,) = [json.loads(line) for line in cli("sources", "list", "--project", "demo", "--json")[1].splitlines()]
    assert [s["stage"] for s in source["stages"]].count("diarize") == 2
    assert [s["stage"] for s in source["stages"]].count("asr") == 1


def test_an_unreachable_ray_cluster_is_a_clear_error_and_touches_nothing(cli, tmp_path):
    import socket

    testmedia.generate(testmedia.BN, tmp_path / "in")
    cli("project", "create", "demo", "--languages", "bn")
    cli("ingest", "folder", str(tmp_path / "in"), "--project", "demo")
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]  # nothing listens there once closed
    code, _, err = cli("process", "--project", "demo", "--engine", "ray", "--ray-address", f"127.0.0.1:{port}")
    assert code == 4 and err.startswith(f"error: cannot reach the Ray cluster at 127.0.0.1:{port} (")
    assert "`ray start --head`" in err
    (source,) = [json.loads(line) for line in cli("sources", "list", "--project", "demo", "--json")[1].splitlines()]
    assert source["status"] == "registered" and source["stages"] == []
    code, _, err = cli("process", "--project", "demo", "--ray-address", f"127.0.0.1:{port}")
    assert code == 2 and err.strip() == "error: --ray-address and --ray-workers go with --engine ray"
