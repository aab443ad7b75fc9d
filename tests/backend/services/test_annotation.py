"""The annotation loop against real Label Studio instances (one per annotator) and a real webhook receiver.

One module-wide world is shared, since instances are expensive: a database, three annotators
(``HUMANS``) with their own instances, and the project tamil-demo. Each test makes the state it
needs itself and passes alone or in any order: a push is idempotent, so a test that needs tasks
pushes them; a test that needs a first push, or changes what Label Studio holds, works on a
clip project of its own (made on first use, like tamil-demo: 4 Tamil clips + 1 gold clip), so
nothing it does reaches another test; a count is taken at the start of the test that checks it.
Pushes name the three human annotators, as the simulated annotators join the pool once made.
"""

from __future__ import annotations

import time

import pytest
from sqlalchemy import func, select

from annotation_configs.labelstudio import instances as ls
from annotation_configs.labelstudio import LabelStudioClient
from annotation_configs.labelstudio.results import result_from_values
from annotation_configs.registry import load_registry
from backend.db.models import Annotation, AnnotationBatch, AnnotationHistory, Annotator, Item, Project, Task
from backend.domain import ConflictError, NotFoundError, ServiceUnavailableError, ValidationError
from backend.services import annotation as service
from backend.services.annotation import lifecycle
from tests.backend.services.annotation_world import unstartable, LiveReceiver, annotation_world, clip_project

pytestmark = pytest.mark.labelstudio
REGISTRY = load_registry()
EMOTIONS = ["joy", "anger", "sadness", "fear"]
HUMANS = ("ann-001", "ann-002", "ann-003")  # the world's annotators, in the order they were added


def _clips(session, settings, name: str) -> None:
    """The clip project ``name``: 5 items of one dialogue, the last gold, each with its reference emotion."""
    clip_project(session, settings.data_dir, name, 5, seconds=0.5, gold=(4,),
                 references=[{"emotion": e} for e in EMOTIONS + ["neutral"]])


@pytest.fixture(scope="module")
def world(tmp_path_factory, sqlite_template, ls_install, ls_template):
    port = ls.free_port()
    built = annotation_world(tmp_path_factory.mktemp("annotation-world"), sqlite_template, ls_install, ls_template,
                             public_url=f"http://127.0.0.1:{port}", webhook_secret="s3cret-for-tests")
    settings, home = built.settings, built.home
    with built.factory() as session:
        _clips(session, settings, "tamil-demo")
        logins = [service.add_annotator(session, settings, f"person{n}@example.org", ["ta"], home=home, keep_running=True)
                  for n in range(3)]
        session.commit()
    yield {"settings": settings, "home": home, "factory": built.factory, "logins": logins, "port": port}
    built.close()


def _project(world, name: str) -> str:
    """A clip project of the world for one test alone, made on first use; returns its name."""
    with world["factory"]() as session:
        if session.scalar(select(Project).where(Project.name == name)) is None:
            _clips(session, world["settings"], name)
            session.commit()
    return name


def _count(world, model) -> int:
    with world["factory"]() as session:
        return session.scalar(select(func.count()).select_from(model)) or 0


def _push(world, project: str, **changes):
    """Push ``project`` to the three human annotators (emotion7, k=3, gold rate 0.2 unless ``changes`` say otherwise)."""
    options = service.PushOptions(**{"project": project, "scheme": "emotion7", "k": 3, "gold_rate": 0.2,
                                     "annotators": HUMANS, **changes})
    with world["factory"]() as session:
        result = service.push(session, world["settings"], options, home=world["home"])
        session.commit()
    return result


def _pull(world, project: str):
    with world["factory"]() as session:
        result = service.pull(session, world["settings"], project, home=world["home"])
        session.commit()
    return result


def _admin(world, pseudonym: str) -> LabelStudioClient:
    """The admin client of an annotator's own instance."""
    record = world["home"].state().load()[pseudonym]
    return LabelStudioClient(record.url, record.admin_token)


def _user_client(world, n: int, title: str) -> tuple[LabelStudioClient, int]:
    """Annotator n's own client, logged in with the email and password they were given, and their project ``title``."""
    login = world["logins"][n]
    admin = _admin(world, login.pseudonym)
    return admin.as_user(admin.login(login.email, login.password).token), admin.find_project(title)


def _answer_emotions(world, project: str) -> dict[tuple[str, int], str]:
    """Each human annotator answers, through their own login, every emotion7 task of ``project`` they have not
    answered yet (pushed first): item i gets ``EMOTIONS[(i + n) % 4]`` from annotator n, with a lead time of
    3 + n seconds. Returns the answer of each (pseudonym, item id).
    """
    _push(world, project)
    scheme = REGISTRY["emotion7"]
    answers: dict[tuple[str, int], str] = {}
    for n, pseudonym in enumerate(HUMANS):
        user, ls_project = _user_client(world, n, f"{project} / emotion7 / audio")
        for task in _admin(world, pseudonym).export_tasks(ls_project):
            value = EMOTIONS[(task["data"]["item_id"] + n) % len(EMOTIONS)]
            if not task.get("annotations"):
                user.create_annotation(task["id"], result_from_values(scheme, {"emotion": value}, "audio"),
                                       lead_time_s=3.0 + n)
            answers[(pseudonym, task["data"]["item_id"])] = value
    return answers


def test_each_annotator_gets_an_own_instance_and_a_login_that_works(world) -> None:
    logins = world["logins"]
    assert [l.pseudonym for l in logins] == ["ann-001", "ann-002", "ann-003"]
    assert [l.url for l in logins] == [f"{world['settings'].gateway_url}/a/{p}/" for p in HUMANS]  # the gateway
    for login in logins:
        record = world["home"].state().load()[login.pseudonym]
        admin = LabelStudioClient(record.url, record.admin_token)
        assert admin.login(login.email, login.password).email == login.email
    with world["factory"]() as session:
        with pytest.raises(ConflictError, match="an annotator with email 'person0@example.org' exists"):
            service.add_annotator(session, world["settings"], "person0@example.org", ["ta"], home=world["home"])
        with pytest.raises(ValidationError, match="'not an email' is not an email address"):
            service.add_annotator(session, world["settings"], "not an email", home=world["home"])
        again, added = service.ensure_annotator(session, world["settings"], "person0@example.org", home=world["home"])
        assert not added and (again.pseudonym, again.password, again.url) == ("ann-001", None, logins[0].url)


def test_push_sends_every_item_to_k_annotators_and_gold_to_all(world) -> None:
    project = _project(world, "first-push")  # never pushed before: this push is its first
    result = _push(world, project)
    assert (result.items, result.gold_items) == (4, 1)
    assert result.tasks_created == 5 * 3 and result.per_annotator == {"ann-001": 5, "ann-002": 5, "ann-003": 5}
    admin = _admin(world, "ann-001")
    tasks = admin.export_tasks(admin.find_project("first-push / emotion7 / audio"))
    assert sorted(t["data"]["speaker"] for t in tasks) == ["SPEAKER_00"] * 3 + ["SPEAKER_01"] * 2
    assert all(t["data"]["audio"].startswith("/a/ann-001/data/local-files/?d=clips/first-push-") for t in tasks)
    # the item's language and script above it; an ISO 15919 view of "வாக்கியம் N" (வா vā, க் k, கி ki, ய ya, ம் m)
    assert {t["data"]["language_badge"] for t in tasks} == {"Language: Tamil · தமிழ் (ta) · script: Tamil 100%"}
    assert sorted(t["data"]["transliteration"] for t in tasks) == [f"vākkiyam {i}" for i in range(5)]
    config = admin.project_config(admin.find_project("first-push / emotion7 / audio"))
    assert "Transliteration (ISO 15919)" in config and "$language_badge" in config
    assert 'value="joy · மகிழ்ச்சி"' in config  # label names in the project's language beside English


def test_re_pushing_creates_no_duplicate_tasks(world) -> None:
    first = _push(world, "tamil-demo")  # pushed now if no test did before
    before, batches = _count(world, Task), _count(world, AnnotationBatch)
    _push(world, "tamil-demo", annotators=("ann-001",), k=1)  # another selection between two runs of the same push
    again = _push(world, "tamil-demo")
    assert again.tasks_created == 0 and again.tasks_recovered == 0 and again.tasks_existing == 15
    assert _count(world, Task) == before
    assert again.batch_id == first.batch_id and _count(world, AnnotationBatch) == batches + 1
    for pseudonym in HUMANS:
        admin = _admin(world, pseudonym)
        assert len(admin.export_tasks(admin.find_project("tamil-demo / emotion7 / audio"))) == 5


def test_three_users_annotate_through_the_api_and_pull_brings_back_every_value(world) -> None:
    project = _project(world, "api-answers")
    expected = _answer_emotions(world, project)  # all 15 tasks answered now: none was before
    result = _pull(world, project)
    assert (result.created, result.updated, result.deleted) == (15, 0, 0)
    with world["factory"]() as session:
        rows = service.list_annotations(session, project)
    got = {(r["annotator"], r["item_id"]): r["values"]["emotion"] for r in rows}
    assert got == expected
    assert {r["lead_time_s"] for r in rows} == {3.0, 4.0, 5.0}
    assert _pull(world, project).unchanged == 15  # a second pull changes nothing


def test_updates_and_deletes_in_label_studio_are_pulled_with_history(world) -> None:
    scheme = REGISTRY["emotion7"]
    project = _project(world, "edits")
    _answer_emotions(world, project)
    _pull(world, project)  # every answer stored, with its 'created' history
    user, ls_project = _user_client(world, 1, "edits / emotion7 / audio")
    first, second = _admin(world, "ann-002").annotations(ls_project)[:2]
    user.update_annotation(first.id, result_from_values(scheme, {"emotion": "surprise"}, "audio"))
    user.delete_annotation(second.id)
    result = _pull(world, project)
    assert (result.updated, result.deleted) == (1, 1)
    with world["factory"]() as session:
        changed = session.scalar(select(Annotation).where(Annotation.ls_annotation_id == first.id,
                                                          Annotation.annotator_id == _annotator_id(session, "ann-002")))
        history = service.annotation_history(session, changed.id)
        assert [h["action"] for h in history] == ["created", "updated"]
        assert history[-1]["values"] == {"emotion": "surprise"} and changed.values == {"emotion": "surprise"}
        gone = session.scalar(select(Annotation).where(Annotation.ls_annotation_id == second.id,
                                                       Annotation.annotator_id == _annotator_id(session, "ann-002")))
        assert gone.deleted_at is not None
        assert [h["action"] for h in service.annotation_history(session, gone.id)] == ["created", "deleted"]
        listed = service.list_annotations(session, project)
        assert len(listed) == 14 and all(not r["simulated"] for r in listed)
        assert len(service.list_annotations(session, project, include_deleted=True)) == 15


def _annotator_id(session, pseudonym: str) -> int:
    return session.scalar(select(Annotator.id).where(Annotator.pseudonym == pseudonym))


def test_webhooks_store_annotations_at_once_and_pull_recovers_what_a_dead_receiver_missed(world) -> None:
    project = _project(world, "webhooks")
    pushed = _push(world, project, scheme="sentiment3", gold_rate=0.0)  # new projects get the webhook
    assert pushed.tasks_created == 12
    user, ls_project = _user_client(world, 2, "webhooks / sentiment3 / audio")
    tasks = _admin(world, "ann-003").export_tasks(ls_project)
    sentiment = REGISTRY["sentiment3"]
    before = _count(world, Annotation)
    with LiveReceiver(world["settings"], world["port"]):
        for task in tasks[:2]:
            user.create_annotation(task["id"], result_from_values(sentiment, {"sentiment": "positive"}, "audio"))
        deadline = time.monotonic() + 10
        while _count(world, Annotation) < before + 2 and time.monotonic() < deadline:
            time.sleep(0.1)
        assert _count(world, Annotation) == before + 2  # stored by the webhook, no pull yet
    # the receiver is dead: these events are lost in transit
    for task in tasks[2:]:
        user.create_annotation(task["id"], result_from_values(sentiment, {"sentiment": "negative"}, "audio"))
    assert _count(world, Annotation) == before + 2
    result = _pull(world, project)
    assert result.created == len(tasks) - 2
    with world["factory"]() as session:
        rows = [r for r in service.list_annotations(session, project) if r["scheme"] == "sentiment3"]
    assert sorted(r["values"]["sentiment"] for r in rows) == ["negative"] * (len(tasks) - 2) + ["positive"] * 2


def test_a_webhook_with_a_wrong_secret_or_a_malformed_body_stores_nothing(world) -> None:
    from fastapi.testclient import TestClient

    from backend.api.app import create_app
    from backend.services.secrets import instance_webhook_secret

    client = TestClient(create_app(world["settings"]))
    before, history = _count(world, Annotation), _count(world, AnnotationHistory)
    event = {"action": "ANNOTATION_CREATED", "annotation": {"id": 99999, "task": 1, "result": []}, "project": {"id": 1}}
    for secret in ("guess", "s3cret-for-tests"):  # the master secret itself opens nothing
        wrong = client.post("/webhooks/labelstudio", json=event,
                            headers={"X-Mmcurate-Secret": secret, "X-Mmcurate-Instance": "ann-001"})
        assert wrong.status_code == 401 and "X-Mmcurate-Secret" in wrong.text
    assert client.post("/webhooks/labelstudio", json=event, headers={"X-Mmcurate-Instance": "ann-001"}).status_code == 401
    good = {"X-Mmcurate-Secret": instance_webhook_secret(world["settings"], "ann-001")}
    for body in (b"{not json", b'{"no": "action"}', b'{"action": "ANNOTATION_CREATED", "annotation": {"id": 1}}',
                 b'{"action": "ANNOTATIONS_DELETED", "annotations": "all"}'):
        response = client.post("/webhooks/labelstudio", content=body, headers=good)
        assert response.status_code == 422, (body, response.text)
    claimed = client.post("/webhooks/labelstudio", json=event, headers={**good, "X-Mmcurate-Instance": "ann-002"})
    assert claimed.status_code == 401  # ann-001's secret with ann-002's name
    assert (_count(world, Annotation), _count(world, AnnotationHistory)) == (before, history)


def test_label_studio_down_fails_push_clearly_and_a_re_run_completes_without_duplicates(world) -> None:
    home = world["home"]
    project = _project(world, "outage")  # never pushed before: the push that fails is its first
    with unstartable(home, "ann-002"):  # a stopped instance is started for the push; this one cannot be
        with pytest.raises(ServiceUnavailableError, match="exited with code .* before it was up"):
            _push(world, project, scheme="sarcasm", gold_rate=0.0)
    result = _push(world, project, scheme="sarcasm", gold_rate=0.0)  # starts ann-002 for the push, stops it after
    assert not ls.is_running(home.state().load()["ann-002"])
    with world["factory"]() as session:
        service.start_instances(session, world["settings"], home=home)  # the rest of the module uses it running
        session.commit()
    with world["factory"]() as session:
        rows = session.execute(select(Task.item_id, Task.annotator_id).where(Task.batch_id == result.batch_id)).all()
    assert result.tasks_created + result.tasks_recovered + result.tasks_existing == 12
    assert len(rows) == len(set(rows))  # one task per (item, annotator)
    for pseudonym in HUMANS:
        admin = _admin(world, pseudonym)
        assert len(admin.export_tasks(admin.find_project("outage / sarcasm / audio"))) == 4


def test_push_refuses_what_it_cannot_do(world) -> None:
    with world["factory"]() as session:
        pool = [a for a in service.list_annotators(session, world["settings"], home=world["home"])
                if a["active"] and a["url"]]  # those with an instance of their own: 3, or 5 once simulated ones exist
        k = len(pool) + 2
        with pytest.raises(ValidationError, match=f"--k {k} needs {k} annotators, but {len(pool)} are available"):
            service.push(session, world["settings"], service.PushOptions("tamil-demo", "emotion7", k=k), home=world["home"])
        with pytest.raises(NotFoundError, match="no labeling scheme named 'emotion8'"):
            service.push(session, world["settings"], service.PushOptions("tamil-demo", "emotion8"), home=world["home"])
        with pytest.raises(NotFoundError, match="has no kept items matching language=ml"):
            service.push(session, world["settings"], service.PushOptions("tamil-demo", "emotion7", language="ml"),
                         home=world["home"])
        with pytest.raises(ValidationError, match="--gold-rate 1.5 must be in"):
            service.push(session, world["settings"], service.PushOptions("tamil-demo", "emotion7", gold_rate=1.5),
                         home=world["home"])


def test_simulated_annotators_answer_through_label_studio_and_are_marked(world) -> None:
    project = _project(world, "simulated")
    known = _count(world, Annotator)  # every annotator so far (the adjudicator too, once made): these come next
    with world["factory"]() as session:
        result = service.simulate(session, world["settings"], service.SimulateOptions(
            project=project, scheme="emotion7", accuracies=(1.0, 0.0)), home=world["home"])
        session.commit()
    assert result.annotators == (f"ann-{known + 1:03d}", f"ann-{known + 2:03d}") and result.submitted == 8  # 4 items each
    _pull(world, project)
    with world["factory"]() as session:
        rows = [r for r in service.list_annotations(session, project) if r["simulated"]]
        items = {i.id: i.reference["emotion"] for i in session.scalars(select(Item))}
    perfect = [r for r in rows if r["annotator"] == result.annotators[0]]
    wrong = [r for r in rows if r["annotator"] == result.annotators[1]]
    assert len(perfect) == len(wrong) == 4
    assert all(r["values"]["emotion"] == items[r["item_id"]] for r in perfect)
    assert all(r["values"]["emotion"] != items[r["item_id"]] for r in wrong)
    assert all(r["lead_time_s"] >= 1.0 for r in rows)
    with world["factory"]() as session:
        again = service.simulate(session, world["settings"], service.SimulateOptions(
            project=project, scheme="emotion7", accuracies=(1.0, 0.0)), home=world["home"])
        session.commit()
    assert (again.submitted, again.already_done) == (0, 8)


def test_an_item_the_gate_sends_back_becomes_a_review_task_showing_all_answers(world) -> None:
    from backend.db.models import Adjudication, QARun

    project = _project(world, "review")
    _answer_emotions(world, project)
    _pull(world, project)  # every human's answer stored
    with world["factory"]() as session:
        item = session.scalar(select(Item).join(Project, Project.id == Item.project_id)
                              .where(Project.name == project, Item.is_gold.is_(False)).order_by(Item.id))
        run = QARun(project_id=item.project_id, scheme="emotion7")
        session.add(run)
        session.flush()
        session.add(Adjudication(qa_run_id=run.id, item_id=item.id, field="emotion", reason="item agreement 0.2 < 0.5"))
        session.commit()
        answers_before = {(r["annotator"], r["values"]["emotion"]) for r in service.list_annotations(session, project)
                          if r["item_id"] == item.id and "emotion" in r["values"]}
        pushed = service.push_adjudications(session, world["settings"], project, home=world["home"])
        session.commit()
    assert pushed.sent == 1 and pushed.login is not None
    adjudication = world["home"].state().load()[service.ADJUDICATION_INSTANCE]
    assert not ls.is_running(adjudication)  # made for the push, stopped after it: it starts when the adjudicator comes
    adjudication = lifecycle.ensure_running(world["home"], adjudication)
    admin = LabelStudioClient(adjudication.url, adjudication.admin_token)
    (task,) = admin.export_tasks(admin.find_project("review / adjudication / emotion7 / audio"))
    shown = {(line["speaker"], line["text"]) for line in task["data"]["context"]}
    assert shown == answers_before and len(shown) >= 3  # every annotator's answer is on the review task
    reviewer = admin.as_user(admin.login(pushed.login.email, pushed.login.password).token)
    reviewer.create_annotation(task["id"], result_from_values(REGISTRY["emotion7"], {"emotion": "fear"}, "audio"))
    _pull(world, project)
    with world["factory"]() as session:
        done = session.scalar(select(Adjudication).where(Adjudication.item_id == item.id))
        assert (done.status, done.value) == ("done", {"value": "fear"})
        stored = [r for r in service.list_annotations(session, project) if r["is_adjudication"]]
        assert [(r["item_id"], r["values"]) for r in stored] == [(item.id, {"emotion": "fear"})]
