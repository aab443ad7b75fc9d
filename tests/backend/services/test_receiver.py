"""The webhook receiver outlives a slow database: a request that times out leaves the writer alive, later events
are stored (issue 11, item 4). A real Label Studio instance holds the annotations the events name."""

from __future__ import annotations

import shutil
import sqlite3
import threading
import time
from dataclasses import replace

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from annotation_configs import instances as ls
from annotation_configs.labelstudio import AnnotationEvent, LabelStudioClient
from annotation_configs.normalise import result_from_values
from annotation_configs.registry import load_registry
from backend.api.app import create_app
from backend.db.models import Annotation, Item, MediaAsset, Project, Source, Utterance
from backend.db.session import engine_for, session_factory
from backend.services import annotation as service
from backend.services.annotation.receiver import WebhookReceiver
from backend.services.secrets import instance_webhook_secret
from backend.settings import Settings
from tests.annotation_configs.labelstudio_fixtures import ls_install, ls_template, make_tone  # noqa: F401

pytestmark = pytest.mark.labelstudio
SENTIMENT = load_registry()["sentiment3"]


@pytest.fixture(scope="module")
def world(tmp_path_factory, sqlite_template, ls_install, ls_template):  # noqa: F811
    data_dir = tmp_path_factory.mktemp("receiver") / "var"
    data_dir.mkdir()
    db_path = data_dir / "mmcurate.db"
    shutil.copyfile(sqlite_template, db_path)
    settings = Settings(data_dir=data_dir, database_url=f"sqlite:///{db_path}", webhook_secret="receiver-tests",
                        labelstudio_venv=ls_install.venv)
    home = replace(service.LabelStudioHome.from_settings(settings), template_dir=ls_template.data_dir)
    factory = session_factory(settings.sqlalchemy_url)
    with factory() as session:
        project = Project(name="rx", languages=["ta"], schemes=["sentiment3"])
        session.add(project)
        session.flush()
        source = Source(project_id=project.id, kind="file", uri="file:///r.wav", content_hash="r")
        session.add(source)
        session.flush()
        asset = MediaAsset(project_id=project.id, source_id=source.id, content_hash="r", path="r.wav")
        session.add(asset)
        session.flush()
        for index in range(3):
            clip = make_tone(data_dir / "clips" / f"r{index}.wav", 0.3, 500 + 40 * index)
            item = Item(project_id=project.id, source_id=source.id, kind="clip", text=f"t{index}", language="ta",
                        media_path=str(clip))
            session.add(item)
            session.flush()
            session.add(Utterance(item_id=item.id, asset_id=asset.id, start_ms=index * 1000, end_ms=index * 1000 + 300,
                                  clip_audio_path=str(clip)))
        login = service.add_annotator(session, settings, "rx@example.org", ["ta"], home=home)
        session.commit()
    with factory() as session:
        service.push(session, settings, service.PushOptions("rx", "sentiment3", k=1), home=home)
        session.commit()
    admin = LabelStudioClient(login.url, home.state().load()[login.pseudonym].admin_token)
    user = admin.as_user(admin.login(login.email, login.password).token)
    ls_project = admin.find_project("rx / sentiment3 / audio")
    made = [user.create_annotation(task["id"], result_from_values(SENTIMENT, {"sentiment": "neutral"}, "audio"))
            for task in admin.export_tasks(ls_project)]
    yield {"settings": settings, "home": home, "factory": factory, "made": made, "name": login.pseudonym}
    ls.stop_all(home.state().load().values())
    engine_for(settings.sqlalchemy_url).dispose()


def _stored(world) -> int:
    with world["factory"]() as session:
        return session.scalar(select(func.count()).select_from(Annotation)) or 0


def test_a_request_that_times_out_leaves_the_writer_alive_and_later_events_are_stored(world) -> None:
    app = create_app(world["settings"])
    receiver = WebhookReceiver(world["settings"], home=world["home"], timeout_s=1.0)
    app.state.webhook_receiver = receiver
    headers = {"X-Mmcurate-Secret": instance_webhook_secret(world["settings"], world["name"])}

    def event(n: int) -> dict:
        annotation = world["made"][n]
        return {"action": "ANNOTATION_CREATED", "annotation": {"id": annotation.id, "task": annotation.task_id}}

    with TestClient(app) as client:
        holder = sqlite3.connect(world["settings"].data_dir / "mmcurate.db", timeout=30)
        holder.execute("BEGIN EXCLUSIVE")  # a long `qa import` or `annotate pull` holding SQLite's write lock
        try:
            slow = client.post("/webhooks/labelstudio", json=event(0), headers=headers)
            assert slow.status_code == 503 and "not stored within 1 s" in slow.json()["detail"]
            time.sleep(1.5)
        finally:
            holder.rollback()
            holder.close()
        assert receiver.alive
        for n in (1, 2):
            assert client.post("/webhooks/labelstudio", json=event(n), headers=headers).status_code == 200
        deadline = time.monotonic() + 20
        while _stored(world) < 2 and time.monotonic() < deadline:
            time.sleep(0.1)
        assert _stored(world) >= 2  # the first may also land once the lock is gone: nothing is lost either way
        with world["factory"]() as session:
            pulled = service.pull(session, world["settings"], "rx", home=world["home"])
            session.commit()
        assert _stored(world) == 3 and pulled.unreachable == []


def test_a_writer_thread_that_died_is_started_again(world) -> None:
    receiver = WebhookReceiver(world["settings"], home=world["home"])
    receiver.start()
    receiver.stop()
    assert not receiver.alive
    annotation = world["made"][0]
    done = receiver.submit(world["name"], AnnotationEvent("ANNOTATION_UPDATED", (annotation.id,), (annotation.task_id,)))
    assert receiver.alive and done.result(timeout=30).counts()["unchanged"] == 1
    receiver.stop()


def test_a_pull_names_an_instance_it_cannot_reach_and_changes_nothing_for_it(world) -> None:
    home = world["home"]
    before = _stored(world)
    home.save(ls.stop(home.state().load()[world["name"]]))
    try:
        with world["factory"]() as session:
            result = service.pull(session, world["settings"], "rx", home=home)
            session.commit()
        record = home.state().load()[world["name"]]
        assert len(result.unreachable) == 1 and result.unreachable[0].startswith(f"{world['name']} ({record.url})")
        assert result.deleted == 0 and _stored(world) == before
        with world["factory"]() as session:
            assert session.scalar(select(func.count()).select_from(Annotation).where(Annotation.deleted_at.isnot(None))) == 0
    finally:
        with world["factory"]() as session:
            service.start_instances(session, world["settings"], home=home)
            session.commit()


def test_webhooks_from_many_threads_are_all_stored(world) -> None:
    receiver = WebhookReceiver(world["settings"], home=world["home"])
    futures = []
    lock = threading.Lock()

    def send(annotation) -> None:
        future = receiver.submit(world["name"], AnnotationEvent("ANNOTATION_UPDATED", (annotation.id,),
                                                                (annotation.task_id,)))
        with lock:
            futures.append(future)

    threads = [threading.Thread(target=send, args=(a,)) for a in world["made"] * 5]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    results = [f.result(timeout=30) for f in futures]
    assert len(results) == 15 and all(sum(r.counts().values()) >= 1 for r in results)
    receiver.stop()
