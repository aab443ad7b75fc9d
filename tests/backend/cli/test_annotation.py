"""`mmcurate labelstudio | annotators | annotate | annotations`: errors as exit codes, a real instance round trip."""

from __future__ import annotations

import json

import pytest

from tests.annotation_configs.labelstudio_fixtures import labelstudio_venv

COMMANDS = [
    ("labelstudio", "start"), ("labelstudio", "stop"), ("labelstudio", "status"),
    ("annotators", "add"), ("annotators", "list"),
    ("annotate", "push"), ("annotate", "pull"), ("annotate", "simulate"), ("annotate", "adjudicate"),
    ("annotations", "list"),
]


@pytest.mark.parametrize(("group", "command"), COMMANDS)
def test_every_command_is_documented_with_an_example(cli, group: str, command: str) -> None:
    code, out, _ = cli(group, command, "--help")
    assert code == 0 and "Example: mmcurate " + group in out


def test_push_without_annotators_says_how_to_add_them(cli) -> None:
    assert cli("project", "create", "demo", "--languages", "ta")[0] == 0
    code, _, err = cli("annotate", "push", "--project", "demo", "--scheme", "emotion7", "--k", "3")
    assert code == 2
    assert "--k 3 needs 3 annotators, but 0 are available; add some with `mmcurate annotators add" in err


def test_unknown_project_and_scheme_are_named(cli) -> None:
    code, _, err = cli("annotate", "push", "--project", "nope", "--scheme", "emotion7")
    assert code == 3 and "nope" in err
    code, _, err = cli("annotate", "push", "--project", "nope", "--scheme", "emotion9")
    assert code == 3 and "no labeling scheme named 'emotion9'" in err


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--count", "2", "--accuracy", "0.9"], "--accuracy gives 1 values for --count 2"),
        (["--count", "2", "--accuracy", "0.9,high"], "--accuracy '0.9,high' must be comma-separated numbers"),
        (["--count", "1", "--accuracy", "1.5"], "accuracy 1.5 must be between 0 and 1"),
        (["--accuracy", "0.9,0.8"], "--accuracy gives 2 values for --count 3"),
        (["--count", "2", "--annotators", "3"], "--count 2 and --annotators 3 disagree; give only --count"),
    ],
)
def test_simulate_refuses_bad_accuracies(cli, args: list[str], message: str) -> None:
    cli("project", "create", "demo")
    code, _, err = cli("annotate", "simulate", "--project", "demo", "--scheme", "emotion7", *args)
    assert code == 2 and message in err


def test_simulate_still_takes_the_deprecated_annotators_count_and_says_so(cli) -> None:
    """`annotate simulate --annotators N` (a count) was renamed --count, since `annotate push --annotators`
    is a list of pseudonyms; old scripts keep working, with a warning, and help shows only --count."""
    cli("project", "create", "demo")
    code, _, err = cli("annotate", "simulate", "--project", "demo", "--scheme", "emotion7",
                       "--annotators", "2", "--accuracy", "0.9")
    assert code == 2
    assert "`annotate simulate --annotators N` is deprecated; use --count N" in err
    assert "--accuracy gives 1 values for --count 2" in err
    _, out, _ = cli("annotate", "simulate", "--help")
    assert "--count" in out and "--annotators" not in out


def test_a_bad_email_is_refused_before_anything_starts(cli) -> None:
    code, _, err = cli("annotators", "add", "ravi at example", "--languages", "ta")
    assert code == 2 and "'ravi at example' is not an email address" in err
    code, _, err = cli("annotators", "add", "ravi@example.org", "--languages", "tamil")
    assert code == 2 and "language 'tamil' is not an ISO 639 code" in err


def test_empty_lists_print_nothing_in_json(cli) -> None:
    cli("project", "create", "demo")
    assert cli("annotations", "list", "--project", "demo", "--json") == (0, "", "")
    assert cli("annotators", "list", "--json")[:2] == (0, "")
    assert cli("labelstudio", "status", "--json")[:2] == (0, "")


@pytest.mark.labelstudio
def test_an_added_annotator_gets_an_instance_that_starts_on_demand_and_status_and_stop_see(cli, monkeypatch) -> None:
    monkeypatch.setenv("MMCURATE_LABELSTUDIO_VENV", str(labelstudio_venv()))
    from backend.settings import get_settings

    get_settings.cache_clear()
    code, out, err = cli("annotators", "add", "ravi@example.org", "--languages", "ta", "--json")
    assert code == 0, err
    login = json.loads(out)
    assert login["pseudonym"] == "ann-001" and login["password"] and login["url"] == "http://127.0.0.1:8765/a/ann-001/"
    try:
        (status,) = [json.loads(line) for line in cli("labelstudio", "status", "--json")[1].splitlines()]
        assert status["annotator"] == "ann-001" and status["running"] is False  # up only while used
        assert status["url"] == login["url"]
        code, out, err = cli("labelstudio", "start", "--json")
        assert code == 0, err
        (status,) = [json.loads(line) for line in cli("labelstudio", "status", "--json")[1].splitlines()]
        assert status["running"] is True and status["pid"]
        listed = json.loads(cli("annotators", "list", "--json")[1])
        assert listed["email"] == "ravi@example.org" and "password" not in listed
    finally:
        code, out, _ = cli("labelstudio", "stop", "--json")
    assert code == 0 and json.loads(out)["running"] is False
