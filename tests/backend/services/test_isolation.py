"""An untrusted annotator, with nothing but their own login and Label Studio's ordinary API, tries every route
that once opened other annotators' work or mmcurate's secrets (issue 10): each is refused.

One world: two annotators (ann-001 the attacker, ann-002 the victim) with their own instances,
a batch pushed with k=1 (so each holds clips the other does not), the victim's judgements
stored, and the real webhook receiver listening on 127.0.0.2 (an address no instance uses).
"""

from __future__ import annotations

import json
import os
import stat
import time
from pathlib import Path

import httpx
import pytest
from sqlalchemy import select

from annotation_configs.labelstudio import instances as ls
from annotation_configs.labelstudio import LabelStudioClient, LabelStudioError
from annotation_configs.labelstudio.results import result_from_values
from annotation_configs.registry import load_registry
from backend.db.models import Annotation, Item, LabelStudioInstanceRow, Task
from backend.services import annotation as service
from backend.services.secrets import instance_webhook_secret
from tests.backend.services.annotation_world import LiveReceiver, annotation_world, clip_project

pytestmark = pytest.mark.labelstudio
SENTIMENT = load_registry()["sentiment3"]
RECEIVER_HOST = "127.0.0.2"


@pytest.fixture(scope="module")
def world(tmp_path_factory, sqlite_template, ls_install, ls_template, monkeypatch_module):  # noqa: F811
    monkeypatch_module.setenv("HF_TOKEN", "hf_curators_own_secret")  # must never reach Label Studio
    monkeypatch_module.setenv("MMCURATE_DATABASE_URL", "postgresql://curator:secret@db/prod")
    port = ls.free_port()
    built = annotation_world(tmp_path_factory.mktemp("isolation"), sqlite_template, ls_install, ls_template,
                             public_url=f"http://{RECEIVER_HOST}:{port}", webhook_secret="master-secret-for-tests")
    settings, home, factory = built.settings, built.home, built.factory
    with factory() as session:
        clip_project(session, settings.data_dir, "iso", 4)
        logins = [service.add_annotator(session, settings, f"iso{n}@example.org", ["ta"], home=home, keep_running=True)
                  for n in (1, 2)]
        session.commit()
    with factory() as session:
        service.push(session, settings, service.PushOptions("iso", "sentiment3", k=1), home=home)
        session.commit()
    records = home.state().load()
    clients = {}
    for login in logins:
        admin = LabelStudioClient(records[login.pseudonym].url, records[login.pseudonym].admin_token)
        user = admin.as_user(admin.login(login.email, login.password).token)
        clients[login.pseudonym] = (user, admin.find_project("iso / sentiment3 / audio"))
    with LiveReceiver(settings, port, RECEIVER_HOST):
        victim, victim_project = clients["ann-002"]
        for task in victim.export_tasks(victim_project):
            victim.create_annotation(task["id"], result_from_values(SENTIMENT, {"sentiment": "positive"}, "audio"))
        _wait(lambda: _victim_values(factory) == ["positive"] * 2)  # stored through the webhook
    yield {"settings": settings, "home": home, "factory": factory, "logins": {l.pseudonym: l for l in logins},
           "clients": clients, "port": port}
    built.close()


@pytest.fixture(scope="module")
def monkeypatch_module():
    with pytest.MonkeyPatch.context() as patch:
        yield patch


def _wait(condition, timeout_s: float = 15.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition() and time.monotonic() < deadline:
        time.sleep(0.1)
    assert condition()


def _victim_values(factory) -> list[str]:
    with factory() as session:
        rows = session.scalars(select(Annotation).join(LabelStudioInstanceRow, LabelStudioInstanceRow.id == Annotation.instance_id)
                               .where(LabelStudioInstanceRow.name == "ann-002", Annotation.deleted_at.is_(None))
                               .order_by(Annotation.id)).all()
        return [r.values.get("sentiment") for r in rows]


def _attacker(world) -> tuple[LabelStudioClient, int]:
    return world["clients"]["ann-001"]


def _raw(client: LabelStudioClient, method: str, path: str, **kwargs) -> httpx.Response:
    """A request as the annotator, with their own token, answered as it is."""
    return httpx.request(method, client.url + path, headers={"Authorization": f"Token {client.token}"}, timeout=30,
                         **kwargs)


def _signup(url: str, token: str, email: str) -> int:
    """Try Label Studio's invite signup with ``token``; the status code (302 means a user was made)."""
    with httpx.Client(base_url=url, timeout=30) as browser:
        page = browser.get(f"/user/signup/?token={token}")
        csrf = browser.cookies.get("csrftoken", "")
        done = browser.post(f"/user/signup/?token={token}", data={
            "csrfmiddlewaretoken": csrf, "email": email, "password": "a-long-password", "how_find_us": "",
            "allow_newsletters": "false"}, headers={"Referer": f"{url}/user/signup/"})
    return done.status_code if page.status_code == 200 else page.status_code


# -- route 1: local files -------------------------------------------------------------------


def test_an_instance_serves_only_its_own_tasks_media_and_holds_nothing_secret(world) -> None:
    data_dir = world["settings"].data_dir
    with world["factory"]() as session:
        for pseudonym in ("ann-001", "ann-002"):
            instance = world["home"].state().load()[pseudonym]
            served = sorted(str(p.relative_to(instance.media_root)) for p in instance.media_root.rglob("*") if p.is_file())
            tasks = session.scalars(select(Item.media_path).join(Task, Task.item_id == Item.id)
                                    .join(LabelStudioInstanceRow, LabelStudioInstanceRow.id == Task.instance_id)
                                    .where(LabelStudioInstanceRow.name == pseudonym)).all()
            assert served == sorted(str(Path(p).relative_to(data_dir)) for p in tasks) and len(served) == 2


def test_an_annotator_cannot_add_a_storage_over_any_folder(world) -> None:
    user, project = _attacker(world)
    data_dir = world["settings"].data_dir
    for folder in (data_dir / "labelstudio", data_dir, world["home"].state().load()["ann-001"].media_root / "clips"):
        response = _raw(user, "POST", "/api/storages/localfiles/", json={"project": project, "path": str(folder),
                                                                        "title": "mine", "use_blob_urls": True})
        assert response.status_code == 403, response.text
    assert _raw(user, "GET", "/api/storages/localfiles/").status_code == 403


def test_an_annotator_reads_their_own_media_but_nothing_else(world) -> None:
    user, project = _attacker(world)
    victim, victim_project = world["clients"]["ann-002"]
    own = user.export_tasks(project)[0]["data"]["audio"]
    assert _raw(user, "GET", own).status_code == 200
    theirs = victim.export_tasks(victim_project)[0]["data"]["audio"]
    assert theirs != own and _raw(user, "GET", theirs).status_code == 404
    data_dir = str(world["settings"].data_dir)
    for path in ("labelstudio/instances.json", "labelstudio/instances/ann-002/label_studio.sqlite3", "secrets.json",
                 "../../../../etc/passwd", "/etc/passwd", "%2e%2e/%2e%2e/secrets.json", "clips/../../secrets.json",
                 "clips/" + "../" * 30 + "etc/passwd"):
        response = _raw(user, "GET", f"/data/local-files/?d={path}")
        assert response.status_code in (400, 403, 404), (path, response.status_code)
        assert data_dir not in response.text and "/etc/passwd" not in response.text.replace(path, ""), response.text


# -- route 2: invite tokens and other shared secrets ------------------------------------------


def test_nothing_that_opens_one_instance_opens_another(world) -> None:
    records = world["home"].state().load()
    one, two = records["ann-001"], records["ann-002"]
    for secret in ("admin_password", "admin_token", "secret_key"):
        assert getattr(one, secret) != getattr(two, secret)
    user, _ = _attacker(world)
    assert _raw(user, "GET", "/api/invite").status_code == 403  # the annotator cannot read their invite link
    own_token = LabelStudioClient(one.url, one.admin_token)._http("GET", "/api/invite", "read")["token"]
    other_token = LabelStudioClient(two.url, two.admin_token)._http("GET", "/api/invite", "read")["token"]
    assert own_token != other_token
    assert _signup(two.url, own_token, "intruder@example.org") != 302  # a copy's token opens no other copy
    template = json.loads((world["home"].template_dir / "mmcurate-template.json").read_text())
    for instance in (one, two):
        refused = httpx.get(f"{instance.url}/api/projects", headers={"Authorization": f"Token {template['admin_token']}"})
        assert refused.status_code == 401
        with pytest.raises(LabelStudioError):
            LabelStudioClient(instance.url, instance.admin_token).login(template["admin_email"], template["admin_password"])


def test_logins_and_tokens_of_one_annotator_are_refused_by_the_other_instance(world) -> None:
    attacker = world["logins"]["ann-001"]
    user, _ = _attacker(world)
    records = world["home"].state().load()
    with pytest.raises(LabelStudioError):
        LabelStudioClient(records["ann-002"].url, records["ann-002"].admin_token).login(attacker.email, attacker.password)
    assert httpx.get(f"{records['ann-002'].url}/api/projects", headers={"Authorization": f"Token {user.token}"}).status_code == 401


# -- route 3: webhooks ----------------------------------------------------------------------


def test_an_annotator_cannot_read_or_change_webhooks(world) -> None:
    user, project = _attacker(world)
    assert _raw(user, "GET", "/api/webhooks/").status_code == 403
    assert _raw(user, "POST", "/api/webhooks/", json={"url": "http://127.0.0.1:9/x", "project": project}).status_code == 403


def test_forged_and_replayed_webhooks_change_nothing(world) -> None:
    """Even holding their own instance's webhook secret, an annotator cannot change, add or delete anyone's judgement."""
    user, project = _attacker(world)
    victim, victim_project = world["clients"]["ann-002"]
    victim_tasks = victim.export_tasks(victim_project)
    victim_annotations = [a for t in victim_tasks for a in t["annotations"]]
    secret = instance_webhook_secret(world["settings"], "ann-001")
    url = f"http://{RECEIVER_HOST}:{world['port']}/webhooks/labelstudio"
    forged_result = result_from_values(SENTIMENT, {"sentiment": "negative"}, "audio")
    own_task = user.export_tasks(project)[0]
    with LiveReceiver(world["settings"], world["port"], RECEIVER_HOST) as receiver:
        def post(body: dict, **headers: str) -> httpx.Response:
            return httpx.post(url, json=body, headers={"X-Mmcurate-Secret": secret, **headers}, timeout=30)

        # the victim's ids, named with the attacker's own secret, or claiming to be the victim
        for annotation in victim_annotations:
            body = {"action": "ANNOTATION_UPDATED", "project": {"id": victim_project},
                    "annotation": {**annotation, "task": annotation["task"], "result": forged_result}}
            assert post(body).status_code == 200
            assert post(body, **{"X-Mmcurate-Instance": "ann-002"}).status_code == 401
        assert post({"action": "ANNOTATIONS_DELETED", "annotations": [{"id": a["id"]} for a in victim_annotations]}
                    ).status_code == 200
        assert post({"action": "ANNOTATION_CREATED", "annotation": {"id": 4242, "task": victim_tasks[0]["id"],
                                                                    "result": forged_result}}).status_code == 200
        receiver.settled()
        assert _victim_values(world["factory"]) == ["positive", "positive"]
        # a forged body about the attacker's own task stores what their instance holds, not the body
        made = user.create_annotation(own_task["id"], result_from_values(SENTIMENT, {"sentiment": "neutral"}, "audio"))
        old = {"action": "ANNOTATION_UPDATED", "annotation": {"id": made.id, "task": own_task["id"], "result": forged_result}}
        assert post(old).status_code == 200
        user.update_annotation(made.id, result_from_values(SENTIMENT, {"sentiment": "positive"}, "audio"))
        assert post(old).status_code == 200  # replayed after a newer version
        receiver.settled()
    with world["factory"]() as session:
        mine = session.scalar(select(Annotation).join(LabelStudioInstanceRow, LabelStudioInstanceRow.id == Annotation.instance_id)
                              .where(LabelStudioInstanceRow.name == "ann-001", Annotation.ls_annotation_id == made.id))
        assert mine is not None and mine.values == {"sentiment": "positive"}
        assert session.scalar(select(Annotation).where(Annotation.ls_annotation_id == 4242)) is None


def test_an_edited_webhook_is_repaired_on_the_next_push(world) -> None:
    records = world["home"].state().load()
    admin = LabelStudioClient(records["ann-001"].url, records["ann-001"].admin_token)
    (hook,) = admin._http("GET", "/api/webhooks/", "list")
    admin._http("PATCH", f"/api/webhooks/{hook['id']}/", "break", json={"is_active": False, "headers": {}})
    with world["factory"]() as session:
        service.push(session, world["settings"], service.PushOptions("iso", "sentiment3", k=1), home=world["home"])
        session.commit()
    (repaired,) = admin._http("GET", "/api/webhooks/", "list")
    assert repaired["is_active"] and repaired["headers"] == {
        "X-Mmcurate-Secret": instance_webhook_secret(world["settings"], "ann-001"), "X-Mmcurate-Instance": "ann-001"}


# -- least privilege ------------------------------------------------------------------------


def test_an_annotator_can_label_but_not_administer(world) -> None:
    user, project = _attacker(world)
    task = user.export_tasks(project)[1]
    made = user.create_annotation(task["id"], result_from_values(SENTIMENT, {"sentiment": "neutral"}, "audio"))
    user.update_annotation(made.id, result_from_values(SENTIMENT, {"sentiment": "negative"}, "audio"))
    user.delete_annotation(made.id)
    refused = [
        ("POST", "/api/projects/", {"title": "mine", "label_config": "<View></View>"}),
        ("PATCH", f"/api/projects/{project}/", {"label_config": "<View></View>"}),
        ("DELETE", f"/api/projects/{project}/", None),
        ("POST", f"/api/projects/{project}/import", [{"data": {"audio": "http://127.0.0.1:5432/"}}]),
        ("PATCH", f"/api/tasks/{task['id']}/", {"data": {"audio": "/data/local-files/?d=secrets.json"}}),
        ("DELETE", f"/api/tasks/{task['id']}/", None),
        ("POST", "/api/ml/", {"url": "http://127.0.0.1:8765", "project": project}),
        ("POST", "/api/dm/actions?id=delete_tasks&project=" + str(project), {"selectedItems": {"all": True}}),
        ("POST", "/api/invite/reset-token", None),
        ("PATCH", "/api/users/1/", {"first_name": "owned"}),
    ]
    for method, path, body in refused:
        response = _raw(user, method, path, json=body) if body is not None else _raw(user, method, path)
        assert response.status_code == 403, (method, path, response.status_code, response.text[:200])
    # the labeling view lists ML backends on every load: told there are none, not refused with a red error
    listed = _raw(user, "GET", f"/api/ml?project={project}")
    assert (listed.status_code, listed.json()) == (200, [])


def test_label_studio_refuses_requests_to_private_addresses_but_the_receivers(world) -> None:
    records = world["home"].state().load()
    admin = LabelStudioClient(records["ann-001"].url, records["ann-001"].admin_token)
    _, project = _attacker(world)
    for target in (records["ann-002"].url, "http://10.0.0.1/", "http://169.254.169.254/latest/meta-data"):
        with pytest.raises(LabelStudioError):
            admin._http("POST", "/api/webhooks/", "add", json={"url": target + "/hook", "project": project})


def test_label_studio_gets_none_of_the_curators_secrets(world) -> None:
    for instance in world["home"].state().load().values():
        environ = Path(f"/proc/{instance.pid}/environ").read_bytes().decode(errors="replace").split("\0")
        names = {entry.split("=", 1)[0] for entry in environ if "=" in entry}
        assert not {"HF_TOKEN", "MMCURATE_DATABASE_URL", "MMCURATE_WEBHOOK_SECRET"} & names
        assert not any("master-secret-for-tests" in entry or "hf_curators_own_secret" in entry for entry in environ)


# -- secrets at rest ------------------------------------------------------------------------


def test_secrets_at_rest_are_readable_by_their_owner_only(world) -> None:
    home = world["home"]
    for path in (home.state_file, home.template_dir / "mmcurate-template.json"):
        assert stat.S_IMODE(os.stat(path).st_mode) == 0o600, path
    for instance in home.state().load().values():
        assert stat.S_IMODE(os.stat(instance.data_dir).st_mode) == 0o700
        assert stat.S_IMODE(os.stat(instance.media_root).st_mode) == 0o700
    with world["factory"]() as session:  # tokens stay in the state file; the table has no column for them
        assert "admin_token" not in LabelStudioInstanceRow.__table__.columns
        assert all(r.admin_email for r in session.scalars(select(LabelStudioInstanceRow)))
