"""The webhook receiver outlives a slow database: a request that times out leaves the writer alive, later events
are stored (issue 11, item 4). A real Label Studio instance holds the annotations the events name."""

from __future__ import annotations

import sqlite3
import threading
import time

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import delete, func, select

from annotation_configs.labelstudio import instances as ls
from annotation_configs.labelstudio import AnnotationEvent, LabelStudioClient
from annotation_configs.labelstudio.results import result_from_values
from annotation_configs.registry import load_registry
from backend.api.app import create_app
from backend.db.models import Annotation, WebhookEvent
from backend.services import annotation as service
from backend.services.annotation.receiver import WebhookReceiver
from backend.services.secrets import instance_webhook_secret
from tests.backend.services.annotation_world import unstartable, annotation_world, clip_project

pytestmark = pytest.mark.labelstudio
SENTIMENT = load_registry()["sentiment3"]


@pytest.fixture(scope="module")
def world(tmp_path_factory, sqlite_template, ls_install, ls_template):
    built = annotation_world(tmp_path_factory.mktemp("receiver"), sqlite_template, ls_install, ls_template,
                             webhook_secret="receiver-tests")
    settings, home, factory = built.settings, built.home, built.factory
    with factory() as session:
        clip_project(session, settings.data_dir, "rx", 3)
        login = service.add_annotator(session, settings, "rx@example.org", ["ta"], home=home, keep_running=True)
        session.commit()
    with factory() as session:
        service.push(session, settings, service.PushOptions("rx", "sentiment3", k=1), home=home)
        session.commit()
    record = home.state().load()[login.pseudonym]
    admin = LabelStudioClient(record.url, record.admin_token)
    user = admin.as_user(admin.login(login.email, login.password).token)
    ls_project = admin.find_project("rx / sentiment3 / audio")
    made = [user.create_annotation(task["id"], result_from_values(SENTIMENT, {"sentiment": "neutral"}, "audio"))
            for task in admin.export_tasks(ls_project)]
    yield {"settings": settings, "home": home, "factory": factory, "made": made, "name": login.pseudonym}
    built.close()


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
            assert slow.status_code == 503 and "not recorded within 1 s" in slow.json()["detail"]
            time.sleep(1.5)
        finally:
            holder.rollback()
            holder.close()
        assert receiver.alive
        for n in (1, 2):
            answer = client.post("/webhooks/labelstudio", json=event(n), headers=headers)
            assert answer.status_code == 200 and answer.json()["recorded"] == 1
        assert receiver.wait_until_stored(30)
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
    assert receiver.alive and isinstance(done.result(timeout=30), int)
    assert receiver.wait_until_stored(30)
    receiver.stop()


def test_events_recorded_before_a_crash_are_stored_at_the_next_start(world) -> None:
    annotation = world["made"][1]
    with world["factory"]() as session:
        session.execute(delete(Annotation).where(Annotation.ls_annotation_id == annotation.id))
        session.add(WebhookEvent(instance=world["name"], action="ANNOTATION_CREATED", annotation_ids=[annotation.id],
                                 task_ids=[annotation.task_id]))  # recorded; the process died before the re-read
        session.commit()
    before = _stored(world)
    receiver = WebhookReceiver(world["settings"], home=world["home"])
    receiver.start()
    try:
        assert receiver.wait_until_stored(30) and _stored(world) == before + 1
    finally:
        receiver.stop()


def test_events_of_an_instance_that_is_down_wait_and_are_stored_once_it_is_back(world) -> None:
    home = world["home"]
    annotation = world["made"][2]
    with world["factory"]() as session:
        session.execute(delete(Annotation).where(Annotation.ls_annotation_id == annotation.id))
        session.commit()
    before = _stored(world)
    home.save(ls.stop(home.state().load()[world["name"]]))
    receiver = WebhookReceiver(world["settings"], home=home)
    try:
        receiver.submit(world["name"], AnnotationEvent("ANNOTATION_CREATED", (annotation.id,),
                                                       (annotation.task_id,))).result(timeout=30)
        assert receiver.refresh_pending() == 0 and receiver.last_round.unreachable
        with world["factory"]() as session:
            waiting = session.scalars(select(WebhookEvent).where(WebhookEvent.processed_at.is_(None))).all()
            assert len(waiting) == 1 and waiting[0].attempts >= 1 and "cannot be reached" in waiting[0].error
    finally:
        with world["factory"]() as session:
            service.start_instances(session, world["settings"], home=home)
            session.commit()
    receiver.start()
    try:
        assert receiver.wait_until_stored(30) and _stored(world) == before + 1
    finally:
        receiver.stop()


def test_a_pull_names_an_instance_it_cannot_reach_and_changes_nothing_for_it(world) -> None:
    home = world["home"]
    before = _stored(world)
    try:
        with unstartable(home, world["name"]) as record:  # a stopped instance is started for a pull; this one cannot be
            with world["factory"]() as session:
                result = service.pull(session, world["settings"], "rx", home=home)
                session.commit()
        assert len(result.unreachable) == 1 and result.unreachable[0].startswith(f"{world['name']} ({record.url})")
        assert "file is not a database" in result.unreachable[0]
        assert result.deleted == 0 and _stored(world) == before
        with world["factory"]() as session:
            assert session.scalar(select(func.count()).select_from(Annotation).where(Annotation.deleted_at.isnot(None))) == 0
    finally:
        with world["factory"]() as session:
            service.start_instances(session, world["settings"], home=home)
            session.commit()


def test_webhooks_from_many_threads_are_all_recorded_and_stored(world) -> None:
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
    ids = [f.result(timeout=30) for f in futures]
    assert len(set(ids)) == 15 and receiver.wait_until_stored(30)
    with world["factory"]() as session:
        assert session.scalar(select(func.count()).select_from(WebhookEvent)
                              .where(WebhookEvent.id.in_(ids), WebhookEvent.processed_at.isnot(None))) == 15
    receiver.stop()
