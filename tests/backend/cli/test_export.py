"""`mmcurate export ...`, `release publish|list` and `source takedown` as a user runs them."""

from __future__ import annotations

import csv
import json

import pytest

from backend.db.session import session_factory
from tests.backend.services.release_db import seed_project
from tests.exports.hub_server import LoopbackHub


@pytest.fixture()
def seeded(settings):
    db = session_factory(settings.sqlalchemy_url)()
    try:
        yield seed_project(db, settings.data_dir, simulated=True)
    finally:
        db.close()


def test_export_hf_builds_records_and_reports_the_release(cli, seeded, tmp_path):
    code, out, err = cli("export", "hf", "--project", "demo", "--out", str(tmp_path / "rel"), "--allow-simulated", "--json")
    assert code == 0, err
    summary = json.loads(out)
    assert summary["version"] == "1.0.0" and summary["items"] == 14 and summary["created"]
    assert (tmp_path / "rel" / "README.md").is_file()
    code, out, _ = cli("release", "list", "--project", "demo", "--json")
    assert [json.loads(line)["version"] for line in out.splitlines()] == ["1.0.0"]


def test_export_without_allow_simulated_is_refused_with_exit_code_2(cli, seeded, tmp_path):
    code, out, err = cli("export", "hf", "--project", "demo", "--out", str(tmp_path / "rel"))
    assert code == 2
    assert err.startswith("error: the release holds judgements of simulated annotators (ann-001, ann-002, ann-003)")
    assert not (tmp_path / "rel").exists()


def test_export_of_an_unknown_project_exits_3(cli, settings, tmp_path):
    code, _, err = cli("export", "hf", "--project", "nope", "--out", str(tmp_path / "rel"))
    assert code == 3 and "no project named 'nope'" in err


def test_meld_csv_and_jsonl_exports(cli, seeded, tmp_path):
    code, out, err = cli("export", "meld-csv", "--project", "demo", "--out", str(tmp_path / "meld"), "--allow-simulated")
    assert code == 0, err
    with (tmp_path / "meld" / "train_sent_emo.csv").open(newline="", encoding="utf-8") as fh:
        header = next(csv.reader(fh))
    assert header[:9] == ["Sr No.", "Utterance", "Speaker", "Emotion", "Sentiment", "Dialogue_ID", "Utterance_ID", "StartTime", "EndTime"]
    code, out, err = cli("export", "jsonl", "--project", "demo", "--out", str(tmp_path / "demo.jsonl"), "--allow-simulated")
    assert code == 0, err
    assert out.strip() == f"14 items written to {tmp_path / 'demo.jsonl'}"


def test_takedown_lists_past_releases(cli, seeded, tmp_path):
    code, out, _ = cli("export", "hf", "--project", "demo", "--out", str(tmp_path / "rel"), "--allow-simulated")
    assert code == 0 and out.startswith(f"release 1.0.0 of demo built at {tmp_path / 'rel'}: 14 items")
    assert "left out: 3 items (licence not allowed)" in out
    code, out, err = cli("source", "takedown", str(seeded.source_ids[1]), "--json")
    assert code == 0, err
    result = json.loads(out)
    assert [r["version"] for r in result["releases"]] == ["1.0.0"] and not result["already_taken_down"]
    code, out, _ = cli("source", "takedown", "4242")
    assert code == 3


def test_release_publish_pushes_to_the_hub_named_by_hf_endpoint(cli, seeded, tmp_path, monkeypatch):
    import huggingface_hub.constants as constants

    hub = LoopbackHub(token="hf_cli").start()
    try:
        monkeypatch.setattr(constants, "HF_HUB_OFFLINE", False)  # only 127.0.0.1 is reached
        monkeypatch.setattr(constants, "HF_HUB_DISABLE_XET", True)
        monkeypatch.setenv("HF_ENDPOINT", hub.base_url)
        monkeypatch.setenv("HF_TOKEN", "hf_cli")
        cli("export", "hf", "--project", "demo", "--out", str(tmp_path / "rel"), "--allow-simulated")
        code, out, err = cli("release", "publish", "--project", "demo", "--repo", "lab/demo", "--json")
        assert code == 0, err
        result = json.loads(out)
        assert result["created"] and hub.state.repos["lab/demo"].tags == {"1.0.0": result["commit"]}
        code, out, _ = cli("release", "publish", "--project", "demo", "--repo", "lab/demo")
        assert code == 0 and "nothing changed" in out
        code, out, _ = cli("release", "list", "--project", "demo", "--json")
        assert json.loads(out)["published_repo"] == "lab/demo"
        code, out, _ = cli("source", "takedown", str(seeded.source_ids[0]))
        assert code == 0
        assert (f"still on the Hub: lab/demo at revision {result['commit']} (tag 1.0.0); a new release replaces main "
                "but not this tag — delete the tag (or the repository) on the Hub to withdraw it") in out
        requests = len(hub.state.requests)
        code, out, err = cli("release", "publish", "--project", "demo", "--repo", "lab/demo")
        assert code == 1 and len(hub.state.requests) == requests
        assert err.startswith(f"error: release 1.0.0 of 'demo' holds items of taken-down sources: source {seeded.source_ids[0]} 'video 0'")
        code, out, _ = cli("release", "list", "--project", "demo", "--json")
        assert json.loads(out)["taken_down_sources"] == [seeded.source_ids[0]]
    finally:
        hub.stop()


@pytest.mark.parametrize("command", [("export", "hf"), ("export", "meld-csv"), ("export", "brighter-csv"), ("export", "jsonl"),
                                     ("release", "publish"), ("release", "list"), ("source", "takedown")])
def test_every_command_documents_an_example(cli, command):
    code, out, _ = cli(*command, "--help")
    assert code == 0 and "Example: " in out and "mmcurate " + " ".join(command) in out
