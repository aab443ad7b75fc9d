"""Issue 13's "done when": a meme folder, a Telegram export with stickers and a SemEval-style CSV each go in
with one call, show up in real Label Studio instances under their scheme, come back with agreement numbers,
and come out as a release folder that ``datasets.load_dataset`` opens with images decoded.

One module-wide world (instances are expensive): two simulated annotators answer every project
through Label Studio's API, as people would; the SemEval file's own labels are a third, imported set.
"""

from __future__ import annotations

import html
import re

import httpx
import pytest
from sqlalchemy import select

from backend.db.models import GateDecision, Item, LabelStudioInstanceRow, Project, Task
from backend.services import annotation as service
from backend.services import ingest as corpora
from backend.services.annotation import lifecycle
from backend.services.annotation.home import admin_client
from backend.services.qa import RunOptions, run_qa
from backend.services.release import ReleaseOptions, build
from tests.backend.services.annotation_world import annotation_world
from tests.backend.services.corpora_world import brighter_csv, meme_folder, telegram_export

pytestmark = pytest.mark.labelstudio
ACCURACIES = (1.0, 0.7)


@pytest.fixture(scope="module")
def world(tmp_path_factory, sqlite_template, ls_install, ls_template):
    root = tmp_path_factory.mktemp("corpora-world")
    built = annotation_world(root, sqlite_template, ls_install, ls_template)
    yield {"settings": built.settings, "home": built.home, "factory": built.factory, "root": root}
    built.close()


def _loop(world, project: str, scheme: str) -> dict:
    """push (via simulate) → answers in Label Studio → pull → QA → release; what each step gave."""
    settings, home = world["settings"], world["home"]
    with world["factory"]() as session:
        simulated = service.simulate(session, settings, service.SimulateOptions(
            project=project, scheme=scheme, accuracies=ACCURACIES, seed=3), home=home)
        session.commit()
    with world["factory"]() as session:
        pulled = service.pull(session, settings, project, home=home)
        session.commit()
    with world["factory"]() as session:
        runs = run_qa(session, project, RunOptions(n_boot=50))
        session.commit()
        decisions = {d.field: d for d in session.scalars(select(GateDecision).where(
            GateDecision.qa_run_id.in_([r.id for r in runs if r.batch_id is None])))}  # project-level runs
    with world["factory"]() as session:
        summary = build(session, ReleaseOptions(project=project, out_dir=world["root"] / f"release-{project}",
                                                allow_simulated=True), data_dir=settings.data_dir)
        session.commit()
    return {"simulated": simulated, "pulled": pulled, "runs": runs, "decisions": decisions, "release": summary}


def _load(path, cache) -> object:
    import datasets

    return datasets.load_dataset(str(path), cache_dir=str(cache))


def _shown_images(world, item_id: int) -> list[tuple[int, bytes]]:
    """The images a chat turn's task shows, fetched as its annotator's Label Studio instance serves them
    (status, first bytes): a local file is served only under a storage of the task's project."""
    with world["factory"]() as session:
        task, name = session.execute(select(Task, LabelStudioInstanceRow.name).join(
            LabelStudioInstanceRow, LabelStudioInstanceRow.id == Task.instance_id).where(Task.item_id == item_id)
            .limit(1)).one()
    with lifecycle.in_use(world["home"], world["home"].state().load()[name]) as running:
        page = admin_client(running).task(task.ls_task_id)["data"]["dialogue"]
        fetched = []
        for src in re.findall(r'<img[^>]* src="([^"]+)"', page):
            reply = httpx.get(running.url + html.unescape(src), headers={"Authorization": f"Token {running.admin_token}"})
            fetched.append((reply.status_code, reply.content[:4]))
        return fetched


def test_a_meme_folder_goes_through_label_studio_qa_and_a_release_with_images(world, tmp_path) -> None:
    with world["factory"]() as session:
        session.add(Project(name="memes", languages=["bn"], schemes=["memosen"], allowed_licences=[]))
        session.commit()
        corpora.ingest_images(session, world["settings"], "memes", meme_folder(tmp_path / "memes"))
        for item in session.scalars(select(Item).where(Item.kind == "image")):
            item.reference = {"sentiment": "positive" if "খুশি" in (item.ocr_text or "") else "negative"}
        session.commit()

    done = _loop(world, "memes", "memosen")

    assert done["simulated"].push.items == 3  # four images, one a near-duplicate of another
    assert "sentiment" in done["decisions"] and done["decisions"]["sentiment"].n_items == 3
    dataset = _load(done["release"].path, tmp_path / "hf-cache")
    rows = [row for split in dataset.values() for row in split]
    assert len(rows) == 3
    for row in rows:
        assert row["image"].size == (560, 220)  # decoded to a PIL image
        assert row["kind"] == "image" and row["ocr_text"]
        assert len(row["sentiment_judgements"]) == 2


def test_a_telegram_export_goes_through_with_stickers_shown_and_released(world, tmp_path) -> None:
    with world["factory"]() as session:
        session.add(Project(name="chats", languages=["zh"], schemes=["msairs_chat"], allowed_licences=[]))
        session.commit()
        corpora.ingest_chat(session, world["settings"], "chats", telegram_export(tmp_path / "export"))

    done = _loop(world, "chats", "msairs_chat")

    assert done["simulated"].push.items == 7
    with world["factory"]() as session:
        sticker_turn = session.scalar(select(Item).where(Item.kind == "chat_turn", Item.id.in_(
            select(Item.parent_id).where(Item.parent_id.is_not(None)))).order_by(Item.id).limit(1))
        later_turn = session.scalar(select(Item).where(Item.kind == "chat_turn", Item.turn_index == sticker_turn.turn_index + 1))
    # the earlier turn's sticker is shown before it, served by the annotator's own instance
    assert _shown_images(world, later_turn.id) == [(200, b"RIFF")]  # the .webp sticker
    assert done["decisions"]
    dataset = _load(done["release"].path, tmp_path / "hf-cache")
    rows = sorted((row for split in dataset.values() for row in split), key=lambda r: r["utterance_index"])
    assert [r["utterance_index"] for r in rows] == list(range(7)) and len({r["dialogue_id"] for r in rows}) == 1
    with_sticker = next(r for r in rows if r["attachments"])
    assert with_sticker["attachments"][0].size == (160, 160)
    assert all(r["author"].startswith("author-") for r in rows)


def test_a_semeval_csv_goes_through_with_its_own_labels_beside_the_annotators(world, tmp_path) -> None:
    with world["factory"]() as session:
        session.add(Project(name="brighter", languages=["en"], schemes=["brighter"], allowed_licences=[]))
        session.commit()
        corpora.ingest_text(session, world["settings"], "brighter", brighter_csv(tmp_path / "eng.csv", [
            (f"eng_{n}", text, levels) for n, (text, levels) in enumerate([
                ("I can't believe we won, wow!", (0, 0, 0, 3, 0, 2)),
                ("This is so sad", (0, 0, 0, 0, 3, 0)),
                ("That spider on my bed", (0, 1, 3, 0, 0, 1)),
                ("They lied to us again", (3, 2, 0, 0, 1, 0)),
            ])]), labels_as="semeval")
        for item in session.scalars(select(Item).where(Item.kind == "text")):
            item.reference = {}
        session.commit()

    done = _loop(world, "brighter", "brighter")

    assert done["simulated"].push.items == 4
    decision = done["decisions"]["emotion_intensity"]
    assert decision.n_annotators == 3 and decision.value is not None  # two simulated + imported:semeval
    dataset = _load(done["release"].path, tmp_path / "hf-cache")
    rows = [row for split in dataset.values() for row in split]
    assert len(rows) == 4
    assert all(set(r["emotion_intensity"]) == {"anger", "disgust", "fear", "joy", "sadness", "surprise"} for r in rows)
    assert {j["annotator"] for r in rows for j in r["emotion_intensity_judgements"]} >= {"imported:semeval"}
