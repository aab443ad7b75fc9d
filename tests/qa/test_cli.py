"""`mmcurate qa ...` end to end on a real SQLite database: exit codes, exact errors, JSON lines."""

from __future__ import annotations

import json

import pytest

from backend.db.models import Item
from tests.qa.builders import as_csv, make_project, simulated_rows


@pytest.fixture
def labels_csv(session, tmp_path):
    _project, items = make_project(session)
    truths = [session.get(Item, i).reference["sentiment"] for i in items]
    path = tmp_path / "labels.csv"
    path.write_text(as_csv(simulated_rows(items, truths, (0.95, 0.9, 0.9))), encoding="utf-8")
    return path


@pytest.mark.parametrize("command", ["import", "run", "list", "report"])
def test_every_qa_command_documents_an_example(cli, command):
    code, out, _ = cli("qa", command, "--help")
    assert code == 0 and "Example: mmcurate qa " + command in " ".join(out.split())


def test_import_run_list_report(cli, labels_csv, tmp_path):
    code, out, err = cli("qa", "import", str(labels_csv), "--project", "demo", "--json")
    assert code == 0, err
    summary = json.loads(out)
    assert summary["n_judgements"] == 120 and summary["scheme"] == "sentiment3"

    code, out, err = cli("qa", "run", "--project", "demo", "--n-boot", "100", "--json")
    assert code == 0, err
    runs = [json.loads(line) for line in out.splitlines()]
    assert len(runs) == 1 and runs[0]["batch_id"] is None
    field = runs[0]["fields"][0]
    assert field["field"] == "sentiment" and field["ci_low"] < field["value"] < field["ci_high"]
    assert runs[0]["verdict"] == field["verdict"]

    code, out, _ = cli("qa", "list", "--project", "demo", "--json")
    assert code == 0 and [json.loads(line)["id"] for line in out.splitlines()] == [runs[0]["id"]]

    code, out, _ = cli("qa", "report", "--project", "demo", "--out", str(tmp_path / "rep"))
    assert code == 0
    assert out.splitlines()[0].endswith("index.html")
    assert (tmp_path / "rep" / "sentiment3-project.html").is_file()


def test_people_get_a_table(cli, labels_csv):
    cli("qa", "import", str(labels_csv), "--project", "demo")
    code, out, _ = cli("qa", "run", "--project", "demo", "--n-boot", "0")
    assert code == 0
    assert out.splitlines()[0].startswith("run 1 · sentiment3 · project: ")
    assert "krippendorff_alpha_nominal" in out


def test_malformed_file_exits_2_and_imports_nothing(cli, labels_csv):
    text = labels_csv.read_text(encoding="utf-8").replace(",neutral,", ",nuetral,", 1)
    labels_csv.write_text(text, encoding="utf-8")
    code, _, err = cli("qa", "import", str(labels_csv), "--project", "demo")
    assert code == 2
    assert "nothing imported" in err and "value 'nuetral' is not a label of field 'sentiment'" in err
    code, _, err = cli("qa", "run", "--project", "demo")
    assert code == 3 and "has no annotations yet" in err


def test_missing_file_and_project(cli, labels_csv, tmp_path):
    code, _, err = cli("qa", "import", str(tmp_path / "nope.csv"), "--project", "demo")
    assert code == 3 and "does not exist" in err
    code, _, err = cli("qa", "report", "--project", "nope", "--out", str(tmp_path))
    assert code == 3 and "no project named 'nope'" in err


def test_bad_policy_file(cli, labels_csv, tmp_path):
    cli("qa", "import", str(labels_csv), "--project", "demo")
    policy = tmp_path / "policy.json"
    policy.write_text('{"default": {"acept": 0.9}}', encoding="utf-8")
    code, _, err = cli("qa", "run", "--project", "demo", "--policy", str(policy))
    assert code == 2 and "unknown setting(s) acept" in err
    policy.write_text('{"default": {"accept": 0.99, "tentative": 0.98}}', encoding="utf-8")
    code, out, err = cli("qa", "run", "--project", "demo", "--policy", str(policy), "--n-boot", "0", "--json")
    assert code == 0, err
    assert json.loads(out.splitlines()[0])["verdict"] == "reject"
