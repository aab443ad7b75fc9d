"""backend.services.qa on real databases (SQLite and PostgreSQL): import, run, store, report."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import func, select

from backend.db.models import (
    Adjudication,
    AggregatedLabelRow,
    Annotation,
    AnnotationBatch,
    AnnotationHistory,
    Annotator,
    GateDecision,
    Item,
    LabelImport,
    Project,
    Source,
)
from backend.domain import ConflictError, NotFoundError
from backend.services import qa as qa_service
from qa.importer import ImportFileError
from tests.qa.builders import as_csv, make_project, simulated_rows

ACCURACIES = (0.95, 0.95, 0.9, 0.15)


def _labels(session, item_ids, accuracies=ACCURACIES, seed=0):
    truths = [session.get(Item, i).reference["sentiment"] for i in item_ids]
    return simulated_rows(item_ids, truths, accuracies, seed=seed)


def _count(session, model) -> int:
    return session.scalar(select(func.count()).select_from(model))


def test_import_stores_a_batch_of_annotations_with_history(any_session, tmp_path):
    project, items = make_project(any_session)
    path = tmp_path / "labels.csv"
    path.write_text(as_csv(_labels(any_session, items)), encoding="utf-8")
    summary = qa_service.import_judgements(any_session, "demo", path)
    any_session.commit()
    assert (summary.scheme, summary.n_judgements, summary.n_items, summary.n_annotators) == ("sentiment3", 160, 40, 4)
    assert summary.new_annotators == ("imported:ann-001", "imported:ann-002", "imported:ann-003", "imported:ann-004")
    batch = any_session.get(AnnotationBatch, summary.batch_id)
    assert batch.overlap_k == 4 and batch.selection["import"]["file"] == "labels.csv"
    annotation = any_session.scalars(select(Annotation).order_by(Annotation.id)).first()
    assert annotation.origin == "import" and annotation.values["sentiment"] in ("negative", "neutral", "positive")
    assert annotation.raw_result[0]["import"]["batch_id"] == batch.id
    assert _count(any_session, AnnotationHistory) == 160


def test_importing_the_same_file_twice_is_refused_and_changes_nothing(any_session, tmp_path):
    """Regression: a second `qa import` of the same labels file doubled every judgement (27 -> 54)."""
    _project, items = make_project(any_session, n_items=9)
    path = tmp_path / "labels.csv"
    path.write_text(as_csv(_labels(any_session, items, accuracies=(0.9, 0.8, 0.4))), encoding="utf-8")
    first = qa_service.import_judgements(any_session, "demo", path)
    any_session.commit()
    assert first.n_judgements == 27 and _count(any_session, Annotation) == 27

    copy = tmp_path / "same-bytes-other-name.csv"
    copy.write_bytes(path.read_bytes())
    for again in (path, copy):
        with pytest.raises(ConflictError, match=rf"{again.name} \(sha256 [0-9a-f]{{12}}…\) was already imported into "
                           rf"project 'demo' as batch {first.batch_id} \(27 judgements from 'labels.csv', "):
            qa_service.import_judgements(any_session, "demo", again)
        any_session.rollback()
    assert _count(any_session, Annotation) == 27 and _count(any_session, AnnotationHistory) == 27
    assert _count(any_session, AnnotationBatch) == 1
    record = any_session.scalars(select(LabelImport)).one()
    assert (record.batch_id, record.file_name, record.scheme) == (first.batch_id, "labels.csv", "sentiment3")
    assert (record.n_judgements, record.n_annotations, record.n_items, record.n_annotators) == (27, 27, 9, 3)
    assert len(record.sha256) == 64

    changed = tmp_path / "labels.csv"
    changed.write_text(path.read_text(encoding="utf-8") + f"{items[0]},ann-004,sentiment,positive,,\n", encoding="utf-8")
    assert qa_service.import_judgements(any_session, "demo", changed).n_judgements == 28  # other bytes: a new file


def test_imported_annotators_never_merge_with_label_studio_annotators(any_session, tmp_path):
    """Regression: a file's `ann-001` was attached to the real Label Studio annotator ann-001."""
    project, items = make_project(any_session, n_items=6)
    real = Annotator(pseudonym="ann-001", email="real@example.org", languages=["ta"], simulated=False)
    any_session.add(real)
    any_session.commit()
    path = tmp_path / "labels.csv"
    path.write_text(as_csv(_labels(any_session, items, accuracies=(0.9, 0.8))), encoding="utf-8")
    summary = qa_service.import_judgements(any_session, "demo", path)
    any_session.commit()
    assert summary.new_annotators == ("imported:ann-001", "imported:ann-002")
    assert any_session.scalar(select(func.count()).select_from(Annotation).where(Annotation.annotator_id == real.id)) == 0
    imported = any_session.scalars(select(Annotator).where(Annotator.pseudonym == "imported:ann-001")).one()
    assert imported.email == "ann-001@imported.invalid" and not imported.simulated
    table = qa_service.load_judgements(any_session, project, "sentiment3")
    assert set(table["annotator"]) == {"imported:ann-001", "imported:ann-002"}  # what reports show

    rows = [{"item": items[0], "annotator": "imported:ann-001", "field": "sentiment", "value": "positive"}]
    again = tmp_path / "second.csv"
    again.write_text(as_csv(rows), encoding="utf-8")
    assert qa_service.import_judgements(any_session, "demo", again).new_annotators == ()  # already in the namespace


def test_a_bad_line_rejects_the_whole_file(any_session, tmp_path):
    _project, items = make_project(any_session)
    rows = _labels(any_session, items)
    rows[5]["value"] = "very positive"
    rows[9]["item"] = 999_999
    path = tmp_path / "labels.csv"
    path.write_text(as_csv(rows), encoding="utf-8")
    with pytest.raises(ImportFileError, match="line 7: value 'very positive' is not a label"):
        qa_service.import_judgements(any_session, "demo", path)
    any_session.rollback()
    rows[5]["value"] = "positive"
    path.write_text(as_csv(rows), encoding="utf-8")
    with pytest.raises(ImportFileError, match="line 11: item 999999 is not an item of project 'demo'"):
        qa_service.import_judgements(any_session, "demo", path)
    any_session.rollback()
    assert _count(any_session, Annotation) == 0 and _count(any_session, Annotator) == 0
    assert _count(any_session, AnnotationBatch) == 0


def test_import_needs_a_known_scheme_and_project(any_session, tmp_path):
    make_project(any_session)
    path = tmp_path / "labels.csv"
    path.write_text("item,annotator,field,value\n1,a,sentiment,positive\n", encoding="utf-8")
    with pytest.raises(NotFoundError, match="no labeling scheme named 'sentimnet3'"):
        qa_service.import_judgements(any_session, "demo", path, scheme="sentimnet3")
    with pytest.raises(NotFoundError, match="no project named 'dmeo'"):
        qa_service.import_judgements(any_session, "dmeo", path)


def test_run_stores_decisions_adjudications_and_aggregated_labels(any_session, tmp_path):
    project, items = make_project(any_session)
    for seed in (0, 1):  # two imported batches over the same items, different annotators' noise
        path = tmp_path / f"labels{seed}.csv"
        rows = _labels(any_session, items, seed=seed)
        for row in rows:
            row["annotator"] = f"{row['annotator']}-b{seed}"
        path.write_text(as_csv(rows), encoding="utf-8")
        qa_service.import_judgements(any_session, "demo", path)
    any_session.commit()

    runs = qa_service.run_qa(any_session, "demo", qa_service.RunOptions(n_boot=100, seed=3))
    any_session.commit()
    assert [r.batch_id for r in runs] == [None, 1, 2]
    project_run = runs[0]
    decision = any_session.scalars(select(GateDecision).where(GateDecision.qa_run_id == project_run.id)).one()
    stored_field = project_run.results["fields"][0]
    assert decision.field == "sentiment" and decision.metric == "krippendorff_alpha_nominal"
    assert decision.value == pytest.approx(stored_field["agreement"]["primary"]["value"])
    assert decision.ci_low < decision.value < decision.ci_high
    assert decision.n_items == 40 and decision.n_annotators == 8
    assert decision.verdict == project_run.verdict
    assert decision.thresholds["accept"] == 0.8 and "reason" in decision.thresholds

    adjudications = any_session.scalars(select(Adjudication).where(Adjudication.qa_run_id == project_run.id)).all()
    assert len(adjudications) == len(stored_field["adjudications"])
    assert all(a.status == "open" for a in adjudications)

    labels = any_session.scalars(select(AggregatedLabelRow).where(AggregatedLabelRow.project_id == project.id)).all()
    assert len(labels) == 40 and all(label.qa_run_id == project_run.id for label in labels)
    truth = {i: any_session.get(Item, i).reference["sentiment"] for i in items}
    decided = [label for label in labels if label.value is not None]
    assert sum(label.value == truth[label.item_id] for label in decided) / len(decided) > 0.9
    assert all(abs(sum(label.distribution.values()) - 1) < 1e-6 for label in labels)

    flagged = {f["annotator"] for f in stored_field["flags"]}
    assert flagged == {"imported:ann-004-b0", "imported:ann-004-b1"}

    again = qa_service.run_qa(any_session, "demo", qa_service.RunOptions(n_boot=100, seed=3, per_batch=False))
    any_session.commit()
    assert again[0].results == project_run.results  # same data, same seed: same numbers
    assert _count(any_session, AggregatedLabelRow) == 40  # replaced, not duplicated


def test_two_schemes_with_a_field_of_the_same_name_keep_both_aggregated_labels(any_session, tmp_path):
    # sentiment3 and utterance both name a field "sentiment": a QA run of one must not replace the other's labels
    project, items = make_project(any_session)
    for scheme, seed in (("sentiment3", 0), ("utterance", 1)):
        path = tmp_path / f"{scheme}.csv"
        path.write_text(as_csv(_labels(any_session, items, seed=seed)), encoding="utf-8")
        qa_service.import_judgements(any_session, "demo", path, scheme=scheme)
    any_session.commit()
    qa_service.run_qa(any_session, "demo", qa_service.RunOptions(n_boot=20, per_batch=False))
    any_session.commit()

    def by_scheme() -> dict[str, int]:
        rows = any_session.execute(select(AggregatedLabelRow.scheme, func.count()).group_by(AggregatedLabelRow.scheme))
        return dict(rows.tuples().all())

    assert by_scheme() == {"sentiment3": 40, "utterance": 40}
    qa_service.run_qa(any_session, "demo", qa_service.RunOptions(scheme="utterance", n_boot=20, per_batch=False))
    any_session.commit()
    assert by_scheme() == {"sentiment3": 40, "utterance": 40}  # the re-run replaced only its own scheme's


def test_run_needs_annotations(any_session):
    make_project(any_session)
    with pytest.raises(NotFoundError, match="has no annotations yet"):
        qa_service.run_qa(any_session, "demo")


def test_reports_are_written_per_scheme_and_batch(any_session, tmp_path):
    project, items = make_project(any_session)
    path = tmp_path / "labels.csv"
    path.write_text(as_csv(_labels(any_session, items)), encoding="utf-8")
    qa_service.import_judgements(any_session, "demo", path)
    runs = qa_service.run_qa(any_session, "demo", qa_service.RunOptions(n_boot=50))
    any_session.commit()
    with pytest.raises(NotFoundError, match="no QA run yet"):
        qa_service.write_reports(any_session, "demo", tmp_path / "none", scheme="emotion7")
    paths = qa_service.write_reports(any_session, "demo", tmp_path / "reports")
    names = sorted(p.name for p in paths)
    assert names == ["index.html", "sentiment3-project.html", "sentiment3-project.json"]
    data = json.loads((tmp_path / "reports" / "sentiment3-project.json").read_text(encoding="utf-8"))
    assert data["verdict"] == runs[0].verdict
    page = qa_service.report_html(any_session, project.id)
    assert "QA report — demo · sentiment3 · whole project" in page
    with pytest.raises(NotFoundError, match="no QA run for scheme 'emotion7'"):
        qa_service.report_html(any_session, project.id, scheme="emotion7")


def _transcript_project(session) -> tuple[Project, list[int]]:
    """Two clips' ASR transcripts, Tamil (normalised text stored) and Chinese (raw text only)."""
    project = Project(name="talks", languages=["ta", "zh"], schemes=["transcript"], allowed_licences=[])
    session.add(project)
    session.flush()
    source = Source(project_id=project.id, kind="text", uri="file:///fixtures/asr.txt", content_hash="sha256:asr")
    session.add(source)
    session.flush()
    items = [
        Item(project_id=project.id, source_id=source.id, kind="text", language="ta",
             text="அவன்  வீட்டுக்கு போனான் ", text_normalized="அவன் வீட்டுக்கு போனான்"),
        Item(project_id=project.id, source_id=source.id, kind="text", language="zh", text="这部电影很好看演员也很忙"),
    ]
    session.add_all(items)
    session.commit()
    return project, [item.id for item in items]


def test_transcript_corrections_are_scored_per_language_against_the_asr_text(any_session, tmp_path):
    project, (ta, zh) = _transcript_project(any_session)
    rows = [
        {"item": ta, "annotator": "a", "field": "transcript", "value": "அவன் வீட்டுக்கு போனான்"},
        {"item": ta, "annotator": "b", "field": "transcript", "value": "அவன் வீட்டுக்கு போனாள்"},
        {"item": zh, "annotator": "a", "field": "transcript", "value": "这部电影很好看，演员也很棒"},
        {"item": zh, "annotator": "b", "field": "transcript", "value": "這部電影很好看，演員也很棒"},
    ]
    path = tmp_path / "corrections.csv"
    path.write_text(as_csv(rows), encoding="utf-8")
    qa_service.import_judgements(any_session, "talks", path)
    table = qa_service.load_judgements(any_session, project, "transcript")
    texts = dict(zip(table["item"], table["item_text"]))
    assert texts == {ta: "அவன் வீட்டுக்கு போனான்", zh: "这部电影很好看演员也很忙"}  # normalised where stored, else raw

    (run,) = qa_service.run_qa(any_session, "talks", qa_service.RunOptions(n_boot=0))
    any_session.commit()
    field = run.results["fields"][0]
    assert field["decision"] is None and field["agreement"]["primary"] is None  # reported, not gated
    by_language = {r["language"]: r for r in field["diagnostics"]["by_language"]}
    assert by_language["ta"]["pairwise_wer"] == pytest.approx(1 / 3) and by_language["ta"]["pairwise_cer"] == pytest.approx(1 / 22)
    assert by_language["ta"]["asr_cer"] == pytest.approx(1 / 44) and by_language["ta"]["primary"] == "cer"
    assert by_language["zh"]["pairwise_cer"] == 0.0 and by_language["zh"]["asr_cer"] == pytest.approx(1 / 12)
    page = qa_service.report_html(any_session, "talks")
    assert '<table class="error-rates">' in page and "ta: pairwise CER 0.045" in page
