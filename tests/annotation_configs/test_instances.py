"""Local Label Studio instances: started from a template copy, own token, restarted when dead, stopped."""

from __future__ import annotations

import os
import secrets
import shutil
import signal
import socket
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import httpx
import pytest

from annotation_configs.labelstudio import instances as ls
from annotation_configs.labelstudio.install import LabelStudioInstall, installed
from annotation_configs.labelstudio import LabelStudioClient, LabelStudioError
from backend.domain import ConflictError, InstanceRole, ServiceUnavailableError, ValidationError

pytestmark = pytest.mark.labelstudio


@pytest.fixture(scope="module")
def solo(ls_install, ls_template, ls_media_root, tmp_path_factory):
    """An instance of this module's own, since these tests kill and restart it."""
    holder = {"instance": ls.create_instance(
        ls_install, ls_template, tmp_path_factory.mktemp("solo") / "solo", ls_media_root, name="solo")}
    yield holder
    ls.stop(holder["instance"])


@pytest.fixture
def never_started(ls_template, ls_media_root, tmp_path: Path) -> Iterator[ls.LabelStudioInstance]:
    """A stopped instance on a data dir of its own: a template copy made its own, never started.

    ``start`` first ends any process serving the data dir it is given, so a test that starts a
    record on another instance's data dir (even one bound to fail) kills that instance; starting
    this one touches no other. Whatever the test did, nothing serves its data dir afterwards.
    """
    data_dir = tmp_path / "never-started"
    shutil.copytree(ls_template.data_dir, data_dir)
    admin_password, admin_token = ls.make_own(data_dir, ls_template.admin_email)
    record = ls.LabelStudioInstance(
        name="never-started", role=InstanceRole.ANNOTATOR, port=ls.free_port(), data_dir=data_dir,
        media_root=ls_media_root, secret_key=secrets.token_urlsafe(40), admin_email=ls_template.admin_email,
        admin_password=admin_password, admin_token=admin_token)
    yield record
    ls.stop(record)


def test_the_install_is_pinned_and_found_again(ls_install: LabelStudioInstall) -> None:
    assert ls_install.version == "1.23.2"
    assert installed(ls_install.venv) == ls_install
    assert installed(ls_install.venv, "1.0.0") is None


def test_an_instance_runs_on_loopback_with_its_own_admin_token(solo, ls_template) -> None:
    instance = solo["instance"]
    assert ls.is_running(instance)
    assert instance.url == f"http://127.0.0.1:{instance.port}"
    assert instance.admin_token != ls_template.admin_token
    assert instance.pid in ls.stragglers(instance.data_dir)  # found by its data dir, for stop and restart
    assert LabelStudioClient(instance.url, instance.admin_token).check()["email"] == instance.admin_email
    with pytest.raises(LabelStudioError, match="refused the token"):
        LabelStudioClient(instance.url, ls_template.admin_token).check()


def test_a_killed_instance_is_restarted_with_its_users_logins_and_token(solo, ls_install) -> None:
    instance = solo["instance"]
    client = LabelStudioClient(instance.url, instance.admin_token)
    login = client.create_login("survivor@example.org", "restart-proof-1")
    os.killpg(os.getpgid(instance.pid), signal.SIGKILL)
    assert not ls.pid_alive(instance.pid) or not ls.health(instance.url)

    (restarted,) = ls.restart_dead(ls_install, [instance])
    solo["instance"] = restarted
    assert restarted.pid != instance.pid and restarted.port == instance.port
    assert ls.is_running(restarted)
    assert client.check()["email"] == instance.admin_email
    assert client.login("survivor@example.org", "restart-proof-1").user_id == login.user_id


def test_restart_dead_leaves_a_running_instance_alone(solo, ls_install) -> None:
    instance = solo["instance"]
    assert ls.restart_dead(ls_install, [instance]) == [instance]


def test_a_busy_port_is_refused_not_silently_moved(never_started, ls_install) -> None:
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        busy = holder.getsockname()[1]
        stopped = replace(never_started, port=busy, name="clash")
        with pytest.raises(ConflictError, match=f"port {busy} on 127.0.0.1 is already in use"):
            ls.start(ls_install, stopped, port_wait_s=0.5)


def test_starting_without_an_install_says_how_to_install(tmp_path: Path, never_started) -> None:
    missing = LabelStudioInstall(venv=tmp_path / "no-venv", version="1.23.2")
    with pytest.raises(ServiceUnavailableError, match="python -m annotation_configs.labelstudio.install --venv"):
        ls.start(missing, never_started)


def test_the_state_file_keeps_every_record_and_refuses_garbage(tmp_path: Path, solo) -> None:
    state = ls.InstanceState(tmp_path / "instances.json")
    state.put(solo["instance"])
    assert state.load() == {"solo": solo["instance"]}
    (tmp_path / "instances.json").write_text("{not json")
    with pytest.raises(ValidationError, match="instances.json is not valid JSON"):
        state.load()


def test_stop_all_stops_every_instance(ls_install, ls_template, ls_media_root, tmp_path: Path) -> None:
    extra = ls.create_instance(ls_install, ls_template, tmp_path / "extra", ls_media_root, name="extra")
    assert ls.is_running(extra)
    (stopped,) = ls.stop_all([extra])
    assert stopped.pid is None and not ls.pid_alive(extra.pid)
    assert ls.stragglers(extra.data_dir) == []  # nothing left serving its data dir
    with pytest.raises(httpx.TransportError):
        httpx.get(f"{extra.url}/health", timeout=2)
    with pytest.raises(ServiceUnavailableError, match=f"Label Studio at {extra.url} cannot be reached"):
        LabelStudioClient(extra.url, extra.admin_token).check()


def test_an_instance_name_is_made_once(ls_install, ls_template, ls_media_root, solo) -> None:
    with pytest.raises(ConflictError, match="an instance named 'solo' was made before"):
        ls.create_instance(ls_install, ls_template, solo["instance"].data_dir, ls_media_root, name="solo")
