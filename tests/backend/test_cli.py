"""The `mmcurate` command: foundation commands, exit codes, and help for every command."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import typer

from backend.cli import app
from backend.settings import Settings


def test_init_is_idempotent(cli, settings: Settings) -> None:  # type: ignore[no-untyped-def]
    for _ in range(2):
        code, out, err = cli("init")
        assert code == 0, err
        assert "revision 0001" in out or "revision" in out
    assert (settings.data_dir / "clips").is_dir()


def test_init_creates_a_fresh_data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from backend.cli.output import run_cli
    from backend.settings import get_settings

    monkeypatch.setenv("MMCURATE_DATA_DIR", str(tmp_path / "fresh"))
    monkeypatch.delenv("MMCURATE_DATABASE_URL", raising=False)
    get_settings.cache_clear()
    try:
        assert run_cli(app, ["init"]) == 0
        assert (tmp_path / "fresh" / "mmcurate.db").is_file()
    finally:
        get_settings.cache_clear()


def test_project_create_and_list_json(cli) -> None:  # type: ignore[no-untyped-def]
    code, _out, err = cli("project", "create", "demo", "--languages", "ta,ml,bn,zh", "--schemes", "sentiment3")
    assert code == 0, err
    code, out, _ = cli("project", "list", "--json")
    records = [json.loads(line) for line in out.splitlines()]
    assert [r["name"] for r in records] == ["demo"]
    assert records[0]["languages"] == ["ta", "ml", "bn", "zh"]


def test_duplicate_project_is_a_clear_error_unless_exist_ok(cli) -> None:  # type: ignore[no-untyped-def]
    assert cli("project", "create", "demo")[0] == 0
    code, _out, err = cli("project", "create", "demo")
    assert code == 1 and "error: a project named 'demo' already exists" in err
    code, out, _ = cli("project", "create", "demo", "--exist-ok")
    assert code == 0 and "already exists" in out


def test_unknown_project_exit_code_3(cli) -> None:  # type: ignore[no-untyped-def]
    code, _out, err = cli("project", "show", "nope")
    assert code == 3 and "no project named 'nope'" in err


def test_uninitialised_database_says_run_init(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from backend.cli.output import run_cli
    from backend.settings import get_settings

    monkeypatch.setenv("MMCURATE_DATA_DIR", str(tmp_path / "empty"))
    monkeypatch.delenv("MMCURATE_DATABASE_URL", raising=False)
    (tmp_path / "empty").mkdir()
    get_settings.cache_clear()
    try:
        assert run_cli(app, ["project", "list"]) == 1
    finally:
        get_settings.cache_clear()


def test_database_down_is_a_clear_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    from backend.cli.output import run_cli
    from backend.settings import get_settings

    monkeypatch.setenv("MMCURATE_DATA_DIR", str(tmp_path / "v"))
    monkeypatch.setenv("MMCURATE_DATABASE_URL", "postgresql+psycopg://postgres@127.0.0.1:1/nothing?connect_timeout=2")
    get_settings.cache_clear()
    try:
        assert run_cli(app, ["project", "list"]) == 4
    finally:
        get_settings.cache_clear()
    err = capsys.readouterr().err
    assert "cannot reach the database at postgresql+psycopg://postgres@127.0.0.1:1/nothing" in err


def test_token_create_prints_a_token_that_the_api_accepts(cli, settings: Settings) -> None:  # type: ignore[no-untyped-def]
    from fastapi.testclient import TestClient

    from backend.api.app import create_app

    code, out, _ = cli("token", "create", "ci-bot")
    token = out.strip()
    assert code == 0 and token.startswith("mmc_")
    with TestClient(create_app(settings)) as client:
        assert client.get("/projects", headers={"Authorization": f"Bearer {token}"}).status_code == 200
    code, out, _ = cli("token", "list", "--json")
    listed = json.loads(out.splitlines()[0])
    assert listed["name"] == "ci-bot" and token not in out


def _all_commands(group, prefix: tuple[str, ...] = ()) -> list[tuple[tuple[str, ...], object]]:  # type: ignore[no-untyped-def]
    found = []
    for name, command in group.commands.items():
        path = prefix + (name,)
        if hasattr(command, "commands"):
            found.extend(_all_commands(command, path))
        else:
            found.append((path, command))
    return found


def test_every_command_has_help_with_an_example_and_is_in_the_readme() -> None:
    root = typer.main.get_command(app)
    assert hasattr(root, "commands")
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text(encoding="utf-8")
    commands = _all_commands(root)
    assert len(commands) >= 10
    for path, command in commands:
        assert command.help and "Example:" in command.help, f"`mmcurate {' '.join(path)}` has no example in its help"
        assert f"mmcurate {' '.join(path)}" in readme, f"`mmcurate {' '.join(path)}` is not documented in README.md"


def test_items_list_shows_every_kind_in_dialogue_order(cli, session) -> None:  # type: ignore[no-untyped-def]
    from backend.db.models import Item, MediaAsset, Project, Source, UtteranceRow

    project = Project(name="memes", languages=["bn"], schemes=[], allowed_licences=[])
    session.add(project)
    session.flush()
    source = Source(project_id=project.id, kind="chat", uri="/chat.json", content_hash="c")
    session.add(source)
    session.flush()
    asset = MediaAsset(project_id=project.id, source_id=source.id, content_hash="c", path="/chat.json")
    session.add(asset)
    second = Item(project_id=project.id, source_id=source.id, kind="chat_turn", dialogue_id="c1", turn_index=1, text="হ্যাঁ")
    first = Item(project_id=project.id, source_id=source.id, kind="clip", dialogue_id="c1", turn_index=0, text="না")
    session.add_all([second, first])
    session.flush()
    session.add(UtteranceRow(item_id=first.id, asset_id=asset.id, start_ms=0, end_ms=1200, speaker_label="A"))
    session.commit()

    code, out, err = cli("items", "list", "--project", "memes", "--json")
    assert code == 0, err
    records = [json.loads(line) for line in out.splitlines()]
    assert [r["kind"] for r in records] == ["clip", "chat_turn"]
    assert records[0]["end"] == 1.2 and records[1]["text"] == "হ্যাঁ"


def test_help_and_usage_errors(cli) -> None:  # type: ignore[no-untyped-def]
    code, out, _ = cli("--help")
    assert code == 0 and "project" in out
    code, _out, err = cli("project", "create")
    assert code == 2 and "Missing argument" in err


def test_init_creates_a_private_webhook_secret_once(cli, settings: Settings) -> None:  # type: ignore[no-untyped-def]
    from backend.services.secrets import webhook_secret

    assert cli("init")[0] == 0
    path = settings.data_dir / "secrets.json"
    first = json.loads(path.read_text())["webhook_secret"]
    assert oct(path.stat().st_mode & 0o777) == "0o600"
    assert cli("init")[0] == 0
    assert webhook_secret(settings) == first


@pytest.mark.parametrize("reader", ["head -n 1", "grep -q p00000", "grep -qm1 ."])
def test_a_closed_output_pipe_ends_the_command_quietly(settings: Settings, session, reader: str) -> None:  # type: ignore[no-untyped-def]
    """Regression (issue 11): `mmcurate ... | head` failed under `set -o pipefail` with a
    BrokenPipeError and status 1 once the reader stopped reading."""
    import os
    import subprocess
    import sys

    from backend.db.models import Project

    session.add_all(Project(name=f"p{i:05d}", languages=["ta"], schemes=[], allowed_licences=[]) for i in range(3000))
    session.commit()  # ~450 kB of JSON lines, far more than a pipe holds
    mmcurate = Path(sys.executable).with_name("mmcurate")
    env = {**os.environ, "MMCURATE_DATA_DIR": str(settings.data_dir), "MMCURATE_DATABASE_URL": settings.sqlalchemy_url}
    done = subprocess.run(["bash", "-c", f'set -euo pipefail; "$0" project list --json | {reader}', str(mmcurate)],
                          env=env, capture_output=True, text=True, timeout=120)
    assert (done.returncode, done.stderr) == (0, "")
    if reader.startswith("head"):
        assert json.loads(done.stdout)["name"] == "p00000"
