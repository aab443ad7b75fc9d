"""Releases from the database: governance (licences, takedown, simulated judgements) and records."""

from __future__ import annotations

import csv
import json
import shutil

import pytest
from sqlalchemy import select

from backend.db.models import Item, Release, ReleaseItem
from backend.domain import ConflictError, NotFoundError, ValidationError
from backend.services import release as release_service
from backend.services import takedown as takedown_service
from backend.services.release import ReleaseOptions, licence_allowed
from exports.card import card_limitations
from tests.backend.services.release_db import seed_items_project, seed_project
from tests.exports.builders import write_wav
from tests.exports.hub_server import serve_hub_for_client


def test_licence_policy_is_case_insensitive_and_empty_means_any():
    assert licence_allowed("CC-BY-4.0", ["cc-by-4.0"])
    assert not licence_allowed(None, ["cc-by-4.0"])
    assert licence_allowed(None, [])


def test_release_holds_only_kept_items_of_allowed_licences_and_is_recorded(any_session, any_settings):
    seeded = seed_project(any_session, any_settings.data_dir)
    summary = release_service.build(any_session, ReleaseOptions(project="demo"), data_dir=any_settings.data_dir)
    any_session.commit()
    assert summary.version == "1.0.0" and summary.created
    assert summary.path == any_settings.data_dir / "releases" / "demo" / "1.0.0"
    assert summary.excluded == {"filtered": 1, "licence_not_allowed": 3}
    recorded = any_session.scalars(select(ReleaseItem).where(ReleaseItem.release_id == summary.release_id)).all()
    assert sorted(r.item_id for r in recorded) == sorted(seeded.item_ids)
    assert seeded.closed_source_id not in {r.source_id for r in recorded}
    manifest = json.loads((summary.path / "manifest.json").read_text())
    assert manifest["inputs"]["items"] == len(seeded.item_ids)
    card = (summary.path / "README.md").read_text()
    assert "| sentiment | krippendorff_alpha | 0.520 | [0.310, 0.700] | 15 | 3 | tentative |" in card
    assert "license: cc-by-4.0" in card


def test_release_rows_carry_judgements_gold_and_provenance(session, settings):
    seed_project(session, settings.data_dir)
    inputs = release_service.gather(session, "demo", data_dir=settings.data_dir)
    row = inputs.rows[0]
    assert [f.name for f in inputs.fields] == ["sentiment"]
    assert [j.annotator for j in row.judgements["sentiment"]] == ["ann-001", "ann-002", "ann-003"]
    assert row.labels["sentiment"].agreement == pytest.approx(1 / 3)
    assert row.audio_path == settings.data_dir / "clips" / f"{row.item_id}.wav"
    assert (row.start_s, row.end_s, row.speaker_label) == (0.0, 1.5, "SPEAKER_00")
    assert row.speaker == f"src{row.source_id}/SPEAKER_00"
    assert row.source_uri.startswith("file:///corpus/") and row.source_url == row.source_uri.rsplit("/", 1)[1]
    assert row.licence == "cc-by-4.0"


def test_the_column_of_a_field_two_schemes_share_follows_the_scheme_that_defines_it(session, settings):
    from backend.db.models import AggregatedLabelRow, Project

    seed_project(session, settings.data_dir)
    project = session.scalars(select(Project).where(Project.name == "demo")).one()
    first = release_service.gather(session, "demo", data_dir=settings.data_dir).rows[0]
    # another scheme's label for a field of the same name, read after sentiment3's (a last-one-wins read would take it)
    session.add(AggregatedLabelRow(project_id=project.id, item_id=first.item_id, scheme="utterance", field="sentiment",
                                   value="negative" if first.labels["sentiment"].value != "negative" else "positive",
                                   method="majority", n_judgements=3))
    session.commit()
    again = next(r for r in release_service.gather(session, "demo", data_dir=settings.data_dir).rows
                 if r.item_id == first.item_id)
    assert again.labels["sentiment"].value == first.labels["sentiment"].value  # sentiment3 defines the column


def test_the_card_quotes_the_project_level_qa_run_not_a_later_per_batch_one(session, settings):
    from backend.db.models import AnnotationBatch, GateDecision, Project, QARun

    seed_project(session, settings.data_dir)
    project = session.scalars(select(Project).where(Project.name == "demo")).one()
    batch = AnnotationBatch(project_id=project.id, scheme="sentiment3", overlap_k=3)
    session.add(batch)
    session.flush()
    for batch_id, value, n_items in ((None, 0.81, 40), (batch.id, None, 3)):  # in qa run's order: project first
        run = QARun(project_id=project.id, batch_id=batch_id, scheme="sentiment3", verdict="accept")
        session.add(run)
        session.flush()
        session.add(GateDecision(qa_run_id=run.id, field="sentiment", metric="krippendorff_alpha_nominal",
                                 value=value, n_items=n_items, n_annotators=3, verdict="accept"))
    session.commit()
    (agreement,) = release_service.gather(session, "demo", data_dir=settings.data_dir).context.agreement
    assert (agreement.value, agreement.n_items) == (0.81, 40)


def test_simulated_judgements_need_allow_simulated(session, settings):
    seed_project(session, settings.data_dir, simulated=True)
    with pytest.raises(ValidationError, match="--allow-simulated"):
        release_service.build(session, ReleaseOptions(project="demo"), data_dir=settings.data_dir)
    assert session.scalars(select(Release)).all() == []
    summary = release_service.build(session, ReleaseOptions(project="demo", allow_simulated=True), data_dir=settings.data_dir)
    assert summary.items == 14


def test_rebuilding_a_version_with_the_same_content_changes_nothing(session, settings, tmp_path):
    seed_project(session, settings.data_dir)
    a = release_service.build(session, ReleaseOptions(project="demo", version="1.0.0"), data_dir=settings.data_dir)
    b = release_service.build(session, ReleaseOptions(project="demo", version="1.0.0"), data_dir=settings.data_dir)
    assert (a.release_id, b.created) == (b.release_id, False)


def test_without_a_version_an_unchanged_project_reuses_its_latest_release(session, settings):
    seed_project(session, settings.data_dir)
    a = release_service.build(session, ReleaseOptions(project="demo"), data_dir=settings.data_dir)
    b = release_service.build(session, ReleaseOptions(project="demo"), data_dir=settings.data_dir)
    assert (b.version, b.release_id, b.created) == ("1.0.0", a.release_id, False)
    assert session.scalars(select(Release)).all() == [session.get(Release, a.release_id)]


def test_an_unchanged_project_is_recognised_by_its_inputs_digest_without_building_again(session, settings):
    seed_project(session, settings.data_dir)
    a = release_service.build(session, ReleaseOptions(project="demo"), data_dir=settings.data_dir)
    card = (a.path / "README.md").stat()
    b = release_service.build(session, ReleaseOptions(project="demo"), data_dir=settings.data_dir)
    assert (b.release_id, b.created, b.splits, b.unbalanced, b.excluded) == (a.release_id, False, a.splits, a.unbalanced, a.excluded)
    assert (a.path / "README.md").stat().st_ino == card.st_ino  # not written again
    manifest = json.loads((a.path / "manifest.json").read_text())
    assert manifest["inputs_digest"] == session.get(Release, a.release_id).manifest["inputs_digest"]


def test_an_unchanged_release_whose_folder_is_gone_or_asked_elsewhere_is_built_there(session, settings, tmp_path):
    seed_project(session, settings.data_dir)
    a = release_service.build(session, ReleaseOptions(project="demo"), data_dir=settings.data_dir)
    shutil.rmtree(a.path)
    b = release_service.build(session, ReleaseOptions(project="demo"), data_dir=settings.data_dir)
    assert (b.release_id, b.created, b.path) == (a.release_id, False, a.path) and (a.path / "README.md").is_file()
    c = release_service.build(session, ReleaseOptions(project="demo", out_dir=tmp_path / "elsewhere"), data_dir=settings.data_dir)
    assert (c.release_id, c.created, c.path) == (a.release_id, False, tmp_path / "elsewhere")
    assert session.get(Release, a.release_id).path == str(tmp_path / "elsewhere")
    assert (c.path / "README.md").read_bytes() == (a.path / "README.md").read_bytes()


def test_a_clip_cut_again_is_a_change(session, settings):
    seeded = seed_project(session, settings.data_dir)
    release_service.build(session, ReleaseOptions(project="demo"), data_dir=settings.data_dir)
    write_wav(settings.data_dir / "clips" / f"{seeded.item_ids[0]}.wav", 999)
    again = release_service.build(session, ReleaseOptions(project="demo"), data_dir=settings.data_dir)
    assert (again.version, again.created) == ("1.1.0", True)


def test_a_release_made_before_manifests_held_a_digest_counts_as_changed(session, settings):
    # Documented fallback (docs/releases.md): such a release cannot be compared without building.
    seed_project(session, settings.data_dir)
    a = release_service.build(session, ReleaseOptions(project="demo"), data_dir=settings.data_dir)
    old = session.get(Release, a.release_id)
    old.manifest = {k: v for k, v in old.manifest.items() if k != "inputs_digest"}
    session.flush()
    with pytest.raises(ConflictError, match=(
        r"release 1\.0\.0 of 'demo' was built before releases recorded the digest of their inputs .*, so it cannot be "
        r"compared; give a new --version \(next: 1\.1\.0\)"
    )):
        release_service.build(session, ReleaseOptions(project="demo", version="1.0.0"), data_dir=settings.data_dir)
    b = release_service.build(session, ReleaseOptions(project="demo"), data_dir=settings.data_dir)
    assert (b.version, b.created) == ("1.1.0", True)
    c = release_service.build(session, ReleaseOptions(project="demo"), data_dir=settings.data_dir)
    assert (c.version, c.created) == ("1.1.0", False)


def test_a_version_with_different_content_is_a_conflict_and_keeps_the_old_folder(session, settings):
    seeded = seed_project(session, settings.data_dir)
    a = release_service.build(session, ReleaseOptions(project="demo", version="1.0.0"), data_dir=settings.data_dir)
    before = (a.path / "manifest.json").read_bytes()
    takedown_service.takedown(session, seeded.source_ids[0])
    with pytest.raises(ConflictError, match=r"release 1\.0\.0 of 'demo' already exists with different content.*next: 1\.1\.0"):
        release_service.build(session, ReleaseOptions(project="demo", version="1.0.0"), data_dir=settings.data_dir)
    assert (a.path / "manifest.json").read_bytes() == before


def test_unknown_fields_are_refused_with_the_choices(session, settings):
    seed_project(session, settings.data_dir)
    with pytest.raises(ValidationError, match=r"field\(s\) emotion are not fields of project 'demo'; choose from sentiment"):
        release_service.build(session, ReleaseOptions(project="demo", fields=("emotion",)), data_dir=settings.data_dir)


def test_publishing_a_release_that_was_never_built_says_how_to_build_it(session, settings):
    seed_project(session, settings.data_dir)
    with pytest.raises(NotFoundError, match=r"project 'demo' has no release \(releases: none yet\); build one with `mmcurate export hf --project demo"):
        release_service.publish(session, "demo", "org/demo")


def test_publishing_a_version_whose_folder_was_overwritten_by_a_later_one_is_refused(session, settings, tmp_path):
    seeded = seed_project(session, settings.data_dir)
    out = tmp_path / "release"
    release_service.build(session, ReleaseOptions(project="demo", out_dir=out), data_dir=settings.data_dir)
    session.get(Item, seeded.item_ids[0]).filter_status = "filtered"
    release_service.build(session, ReleaseOptions(project="demo", out_dir=out), data_dir=settings.data_dir)
    with pytest.raises(ConflictError, match=r"now holds release '1\.1\.0', not 1\.0\.0; rebuild it"):
        release_service.publish(session, "demo", "org/demo", version="1.0.0")


def test_free_text_fields_of_a_scheme_are_released_as_text(session, settings):
    # They used to be left out (and named under the card's known limitations).
    from backend.db.models import Annotation, Project

    seed_project(session, settings.data_dir)
    project = session.scalar(select(Project))
    project.schemes = ["sentiment3", "transcript"]
    for annotation in session.scalars(select(Annotation)):
        annotation.values = {**annotation.values, "transcript": f"text {annotation.id}"}
    session.flush()
    inputs = release_service.gather(session, "demo", data_dir=settings.data_dir)
    assert [(f.name, f.kind.value) for f in inputs.fields] == [("sentiment", "nominal"), ("transcript", "free_text")]
    row = inputs.rows[0]
    assert [j.value for j in row.judgements["transcript"]] == [f"text {a}" for a in sorted(
        a.id for a in session.scalars(select(Annotation).where(Annotation.item_id == row.item_id)))]
    assert row.labels["transcript"].agreement == 0.0
    assert not any("not exported" in note for note in card_limitations(inputs.rows, inputs.context))


def test_items_that_are_not_clips_are_gathered_with_fields_of_every_kind(any_session, any_settings):
    from datetime import UTC, datetime

    seeded = seed_items_project(any_session, any_settings.data_dir)
    inputs = release_service.gather(any_session, "memes", data_dir=any_settings.data_dir)
    assert [(f.name, f.kind.value, f.column) for f in inputs.fields] == [
        ("sentiment", "nominal", "sentiment"), ("emotions", "multi_label", "emotions"),
        ("emotion_intensity", "multi_label_intensity", "emotion_intensity"), ("valence", "interval", "valence"),
        ("arousal", "interval", "arousal"), ("transcript", "free_text", "transcript"),
    ]
    assert (inputs.fields[3].minimum, inputs.fields[3].maximum, inputs.fields[2].max_intensity) == (1, 9, 3)
    assert inputs.excluded == {"attachment": 3, "near_duplicate": 1}
    rows = {r.item_id: r for r in inputs.rows}
    assert sorted(rows) == sorted([seeded.image, seeded.duplicate_labelled, seeded.turn0, seeded.turn1, seeded.text])
    image = rows[seeded.image]
    assert (image.kind, image.image_path, image.ocr_text) == ("image", any_settings.data_dir / "images/1.png", "when the code runs")
    assert (image.external_id, image.duplicate_group) == ("memes/1.png", "dup-1")
    assert image.labels["emotions"].value == ("anger",)
    assert image.labels["emotions"].agreement == pytest.approx((1 / 3 + 1 / 3 + 1) / 3)  # MASI: {a,d}-{a} 2/3·1/2, {a}-{a} 0
    assert image.labels["emotion_intensity"].value["anger"] == 3
    assert image.labels["emotion_intensity"].agreement == pytest.approx(1 - (1 / 18 + 1 / 18 + 2 / 18) / 3)  # per pair: sum of label gaps / (3 x 6 labels)
    assert image.labels["valence"].value == pytest.approx(7 / 3)
    assert image.labels["valence"].agreement == pytest.approx(1 - (1 / 8 + 0 + 1 / 8) / 3)
    assert [j.value for j in image.judgements["emotions"]] == [("anger", "disgust"), ("anger",), ("anger",)]
    assert image.judgements["valence"][0].value == 2.0
    turn = rows[seeded.turn1]
    assert (turn.kind, turn.dialogue_id, turn.utterance_index, turn.reply_to_item_id) == ("chat_turn", "chat-9", 1, seeded.turn0)
    assert (turn.author, turn.posted_at) == ("author-002", datetime(2024, 3, 1, 12, 1, 5, tzinfo=UTC))
    assert turn.attachment_paths == (any_settings.data_dir / "stickers/a.png", any_settings.data_dir / "stickers/b.webp")
    assert rows[seeded.text].external_id == "eng_dev_track_a_00045" and rows[seeded.text].kind == "text"


def test_a_release_of_memes_chats_and_texts_loads_with_its_images(any_session, any_settings, tmp_path):
    import datasets

    seeded = seed_items_project(any_session, any_settings.data_dir)
    summary = release_service.build(any_session, ReleaseOptions(project="memes"), data_dir=any_settings.data_dir)
    assert summary.excluded == {"attachment": 3, "near_duplicate": 1} and summary.items == 5
    ds = datasets.load_dataset(str(summary.path), cache_dir=str(tmp_path / "cache"))
    examples = {e["item_id"]: e for split in ds for e in ds[split]}
    assert examples[seeded.image]["image"].size == (20, 10)
    assert [a.size for a in examples[seeded.turn1]["attachments"]] == [(16, 16), (8, 12)]
    assert examples[seeded.turn1]["transcript"] == "when the code runs"  # the medoid of the three
    assert examples[seeded.image]["emotion_intensity"]["anger"] == 3
    recorded = {r.item_id: r.split for r in any_session.scalars(select(ReleaseItem).where(ReleaseItem.release_id == summary.release_id))}
    assert recorded[seeded.image] == recorded[seeded.duplicate_labelled]
    card = (summary.path / "README.md").read_text(encoding="utf-8")
    assert "| images | 2 |" in card and "| chat turns | 2 |" in card and "| texts | 1 |" in card


def test_brighter_csv_export_of_a_project(session, settings, tmp_path):
    seeded = seed_items_project(session, settings.data_dir)
    with pytest.raises(ValidationError, match=r"several \(emotions, emotion_intensity\): choose one with --field"):
        release_service.exporting.export_brighter_csv(session, ReleaseOptions(project="memes", out_dir=tmp_path / "x"),
                                                      data_dir=settings.data_dir)
    paths = release_service.exporting.export_brighter_csv(
        session, ReleaseOptions(project="memes", out_dir=tmp_path / "b"), data_dir=settings.data_dir, field="emotion_intensity")
    lines = {}
    for path in paths.values():
        with path.open(newline="", encoding="utf-8") as fh:
            reader = csv.reader(fh)
            assert next(reader) == ["id", "text", "Anger", "Disgust", "Fear", "Joy", "Sadness", "Surprise"]
            lines.update({line[0]: line for line in reader})
    assert lines["memes/1.png"] == ["memes/1.png", "when the code runs", "3", "0", "0", "0", "0", "0"]
    assert lines["eng_dev_track_a_00045"][2:] == [""] * 6  # judged, not aggregated yet
    assert str(seeded.duplicate_labelled) in lines


@pytest.fixture()
def hub(monkeypatch):
    server = serve_hub_for_client(monkeypatch)
    yield server
    server.stop()


def test_a_release_holding_a_taken_down_source_is_refused_before_any_hub_call(session, settings, hub):
    # Regression: after `source takedown`, `release publish` still pushed the old release.
    seeded = seed_project(session, settings.data_dir)
    release_service.build(session, ReleaseOptions(project="demo"), data_dir=settings.data_dir)
    target = seeded.source_ids[0]
    takedown_service.takedown(session, target)
    with pytest.raises(ConflictError, match=(
        rf"release 1\.0\.0 of 'demo' holds items of taken-down sources: source {target} 'video 0' "
        r"\(file:///corpus/video0\.mp4\); it will not be published — build a new release without them "
        r"\(`mmcurate export hf --project demo`\)"
    )):
        release_service.publish(session, "demo", "lab/demo")
    assert hub.state.requests == [] and hub.state.repos == {}
    release_service.build(session, ReleaseOptions(project="demo"), data_dir=settings.data_dir)
    result = release_service.publish(session, "demo", "lab/demo")
    assert result["version"] == "1.1.0" and hub.state.repos["lab/demo"].tags == {"1.1.0": result["commit"]}


def test_item_agreement_examples_run():
    """The worked example in ``item_agreement``'s docstring is executed, so it cannot drift."""
    import doctest

    from backend.services.release import inputs

    result = doctest.testmod(inputs, optionflags=doctest.ELLIPSIS)
    assert result.attempted > 0 and result.failed == 0
