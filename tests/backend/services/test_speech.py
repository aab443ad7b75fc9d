"""backend.services.speech: folder ingest, the resumable pipeline, and a kill in the middle of a run."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path

import pytest
from sqlalchemy import func, select

from backend.db.models import Item, Source, StageRun, UtteranceRow
from backend.services import speech
from backend.services.projects import ProjectSpec, create_project
from ingest import testmedia
from ingest.asr import AsrOptions, ModelSpec

REPO = Path(__file__).resolve().parents[3]


@pytest.fixture(scope="module")
def media_folder(tmp_path_factory) -> Path:
    """Two dialogues, a copy of one in a sub-folder, a corrupt file and a file with a broken sidecar."""
    folder = tmp_path_factory.mktemp("incoming")
    testmedia.generate(testmedia.EN, folder)
    testmedia.generate(testmedia.ZH, folder)
    (folder / "again").mkdir()
    shutil.copyfile(folder / "en_dialogue.wav", folder / "again" / "copy.wav")
    (folder / "broken.wav").write_bytes(b"RIFF\x00\x00not really a wave file" * 20)
    shutil.copyfile(folder / "zh_dialogue.wav", folder / "odd.wav")
    with open(folder / "odd.wav", "ab") as handle:
        handle.write(b"\x00" * 64)  # different bytes, so a different source
    (folder / "odd.json").write_text("{not json")
    return folder


@pytest.fixture(scope="module")
def ct2_model(tmp_path_factory) -> str:
    from ingest.whisper_weights import ensure_ct2_base

    return str(ensure_ct2_base(tmp_path_factory.mktemp("models")))


@pytest.fixture(scope="module")
def shared_models(ct2_model):
    """Models loaded once for the module (the service loads them lazily, on first need)."""
    config = speech.PipelineConfig(asr_model=ModelSpec(model=ct2_model, cpu_threads=2))
    return speech.PipelineModels(config)


def make_config(settings, session, ct2_model, **changes):
    project = create_project(session, ProjectSpec(name="talks", languages=("en", "zh")))
    config = speech.config_from_settings(settings.model_copy(update={"asr_model": ct2_model}), project)
    return replace(config, asr=AsrOptions(beam_size=1), **changes)


def test_ingest_registers_each_content_once_and_refuses_broken_sidecars(settings, session, media_folder):
    create_project(session, ProjectSpec(name="talks", languages=("en", "zh")))
    report = speech.ingest_folder(session, "talks", media_folder)
    assert len(report.added) == 3 and len(report.duplicates) == 1
    (refused_path, reason), = report.failed
    assert refused_path.endswith("odd.wav") and reason.startswith("odd.json is not valid JSON")
    again = speech.ingest_folder(session, "talks", media_folder)
    assert again.added == () and len(again.duplicates) == 4
    en = session.scalar(select(Source).where(Source.title.like("%en_dialogue%")))
    assert en.licence == "CC0-1.0" and en.uri.startswith("file://") and len(en.content_hash) == 64
    assert en.extra["language"] == "en" and len(en.extra["reference_lines"]) == 8


def test_process_builds_utterances_and_reruns_only_what_changed(settings, session, media_folder, ct2_model,
                                                              shared_models):
    config = make_config(settings, session, ct2_model)
    speech.ingest_folder(session, "talks", media_folder)
    shared_models.config = config
    first = speech.process_project(session, "talks", settings, config, shared_models)
    assert len(first.processed) == 2 and len(first.failed) == 1
    broken = session.scalar(select(Source).where(Source.uri.like("%broken.wav")))
    assert broken.status == "failed" and broken.error.startswith("broken.wav: ffprobe failed")
    (prepare_run,) = speech.source_runs(session, broken)
    assert prepare_run["stage"] == "prepare" and prepare_run["status"] == "failed" and "Traceback" not in prepare_run["error"]
    en_source = session.scalar(select(Source).where(Source.uri.like("%en_dialogue.wav")))
    runs = speech.source_runs(session, en_source)
    assert [r["stage"] for r in runs] == ["prepare", "vad", "asr", "diarize", "utterances", "clips"]
    assert all(r["status"] == "done" and r["duration_ms"] >= 0 for r in runs)
    assert runs[2]["model"].startswith("faster-whisper:") and "ctranslate2" in runs[2]["model_version"]
    utterances = speech.list_utterances(session, "talks")
    en = [u for u in utterances if u["language"] == "en"]
    truth = json.loads((media_folder / "en_dialogue.json").read_text())["lines"]
    assert len(en) == len(truth) and len({u["speaker"] for u in en}) == 3
    for utt, line in zip(en, truth):
        assert utt["reference"] == {"sentiment": line["sentiment"], "emotion": line["emotion"]}
        assert abs(utt["start"] - line["start"]) < 0.5 and Path(utt["clip_audio_path"]).is_file()
    assert [u["index"] for u in en] == list(range(len(en)))

    rerun = speech.process_project(session, "talks", settings, config, shared_models)
    assert rerun.stages_run == 0 and rerun.stages_skipped == 2 * 6
    assert session.scalar(select(func.count()).select_from(UtteranceRow)) == len(utterances)

    wider = replace(config, asr=AsrOptions(beam_size=2))
    changed = speech.process_project(session, "talks", settings, wider, shared_models)
    assert changed.stages_run == 2 * 3  # asr, utterances, clips per source; prepare, vad, diarize skipped
    runs = session.scalars(select(StageRun).where(StageRun.status == "done")).all()
    assert sorted({r.stage for r in runs if r.model_version}) == ["asr", "clips", "diarize", "prepare", "vad"]
    assert session.scalar(select(func.count()).select_from(UtteranceRow)) == len(utterances)


def _count(url: str, query) -> int:
    from backend.db.session import session_factory

    with session_factory(url)() as db:
        return db.scalar(query) or 0


def test_killing_process_midway_then_rerunning_finishes_without_duplicates(settings, session, media_folder,
                                                                           ct2_model):
    create_project(session, ProjectSpec(name="talks", languages=("en", "zh")))
    speech.ingest_folder(session, "talks", media_folder)
    env = {**os.environ, "MMCURATE_DATA_DIR": str(settings.data_dir),
           "MMCURATE_DATABASE_URL": settings.sqlalchemy_url, "MMCURATE_ASR_MODEL": ct2_model,
           "MMCURATE_ASR_BEAM_SIZE": "1", "HF_HUB_OFFLINE": "1", "PYTHONPATH": str(REPO)}
    command = [sys.executable, "-c", "from backend.cli import main; main()", "process", "--project", "talks"]
    proc = subprocess.Popen(command, env=env, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    asr_done = select(func.count()).select_from(StageRun).where(StageRun.stage == "asr", StageRun.status == "done")
    deadline = time.monotonic() + 240
    while _count(settings.sqlalchemy_url, asr_done) < 1:
        assert proc.poll() is None, proc.stderr.read().decode()[-2000:]
        assert time.monotonic() < deadline, "the first ASR stage did not finish in time"
        time.sleep(0.2)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert _count(settings.sqlalchemy_url, select(func.count()).select_from(Source).where(Source.status == "done")) < 2

    finished = subprocess.run(command, env=env, cwd=REPO, capture_output=True, text=True, timeout=600)
    assert finished.returncode == 0, finished.stderr[-2000:]
    assert "1 failed" in finished.stdout and "source" in finished.stderr
    session.expire_all()
    statuses = sorted(s.status for s in session.scalars(select(Source)))
    assert statuses == ["done", "done", "failed"]
    asr_runs = session.scalars(select(StageRun).where(StageRun.stage == "asr")).all()
    assert len(asr_runs) == 2 and all(r.status == "done" for r in asr_runs)  # the killed source's ASR was not redone
    items = session.scalars(select(Item)).all()
    keys = [(u.asset_id, u.start_ms, u.end_ms) for u in session.scalars(select(UtteranceRow))]
    assert len(keys) == len(set(keys)) == len(items) > 10

    again = subprocess.run(command, env=env, cwd=REPO, capture_output=True, text=True, timeout=300)
    assert "0 stages run" in again.stdout


# --------------------------------------------------------------------------- re-processing keeps human work


def test_only_options_that_change_results_are_hashed(settings, session):
    """Batch size, device, compute type and CPU threads are kept in the configuration but not hashed."""
    from ingest.stages import config_hash

    cpu = ModelSpec(model="base", device="cpu", compute_type="int8", cpu_threads=2)
    gpu = ModelSpec(model="base", device="cuda", compute_type="float16", cpu_threads=0)
    assert config_hash("asr", cpu, AsrOptions(batch_size=1)) == config_hash("asr", gpu, AsrOptions(batch_size=32))
    assert config_hash("asr", cpu, AsrOptions(beam_size=1)) != config_hash("asr", cpu, AsrOptions(beam_size=2))
    assert config_hash("asr", cpu) != config_hash("asr", replace(cpu, model="large-v3"))

    project = create_project(session, ProjectSpec(name="talks", languages=("en", "zh")))
    on_gpu = settings.model_copy(update={"asr_model": "base", "asr_device": "cuda", "asr_compute_type": "float16",
                                         "asr_batch_size": 3})
    config = speech.config_from_settings(on_gpu, project)
    assert (config.asr_model.device, config.asr_model.compute_type, config.asr.batch_size) == ("cuda", "float16", 3)
    on_cpu = speech.config_from_settings(settings.model_copy(update={"asr_model": "base"}), project)
    assert config_hash("asr", config.asr_model, config.asr) == config_hash("asr", on_cpu.asr_model, on_cpu.asr)


def test_project_languages_enter_the_utterances_hash_only_where_they_filter():
    from backend.domain import AsrSegment, Transcript
    from ingest.align import UtteranceOptions

    transcript = Transcript((AsrSegment(0.0, 2.0, "hello there", (), language="en"),
                             AsrSegment(2.0, 4.0, "ni hao", (), language="zh")), "en", 0.9, "m", {})

    def key(*languages: str) -> str:
        return speech.utterances_hash(UtteranceOptions(languages=languages), transcript, "asr", "dia")

    assert key("en", "zh") == key("zh", "en") == key("en", "zh", "ta")  # order, or a language nobody speaks
    assert key("en", "zh") != key("en") != key() != key("ta")  # which utterances are filtered changes
    assert key("ta") == key("ml")  # both filter every utterance


def test_transcripts_and_diarizations_survive_the_ledger_as_json():
    """The asr and diarize stages record their results as JSON; later stages (and re-runs) read them back."""
    from backend.domain import AsrSegment, Diarization, SpeakerTurn, Transcript, Word

    transcript = Transcript(
        (AsrSegment(0.5, 2.25, " vaṇakkam, how are you", (Word(0.5, 1.0, " vaṇakkam,", 0.875), Word(1.0, 2.25, " how", 0.5)),
                    language="ta", language_probability=0.75, avg_logprob=-0.25, no_speech_prob=0.0625),
         AsrSegment(3.0, 4.0, "", ())),
        None, None, "faster-whisper:base", {"beam_size": 1, "language": None})
    stored = json.loads(json.dumps(transcript.to_json()))
    assert Transcript.from_json(stored) == transcript
    assert stored["segments"][0]["words"][0] == {"start": 0.5, "end": 1.0, "text": " vaṇakkam,", "probability": 0.875}

    diarization = Diarization((SpeakerTurn(0.0, 1.5, "S0", 0.9), SpeakerTurn(1.25, 3.0, "S1")), 2, "embedding",
                              {"num_speakers": None})
    stored = json.loads(json.dumps(diarization.to_json()))
    assert stored == {"num_speakers": 2, "turns": [{"start": 0.0, "end": 1.5, "speaker": "S0", "confidence": 0.9},
                                                   {"start": 1.25, "end": 3.0, "speaker": "S1", "confidence": None}]}
    assert Diarization.from_json(stored, "embedding", {"num_speakers": None}) == diarization
    with pytest.raises(KeyError):
        Transcript.from_json({k: v for k, v in transcript.to_json().items() if k != "model"})


@pytest.fixture(scope="module")
def en_processed(tmp_path_factory, sqlite_template, ct2_model, shared_models):
    """The English dialogue ingested and processed once (beam 1): a database to copy per test."""
    from backend.db.session import engine_for, session_factory
    from backend.settings import Settings

    root = tmp_path_factory.mktemp("en-processed")
    testmedia.generate(testmedia.EN, root / "incoming")
    data_dir = root / "var"
    data_dir.mkdir()
    shutil.copyfile(sqlite_template, data_dir / "mmcurate.db")
    settings = Settings(data_dir=data_dir, database_url=f"sqlite:///{data_dir / 'mmcurate.db'}",
                        asr_model=ct2_model, asr_beam_size=1)
    settings.ensure_dirs()
    with session_factory(settings.sqlalchemy_url)() as session:
        config = make_config(settings, session, ct2_model)
        speech.ingest_folder(session, "talks", root / "incoming")
        shared_models.config = config
        report = speech.process_project(session, "talks", settings, config, shared_models)
        assert report.failed == [] and report.utterances == 8
    engine_for(settings.sqlalchemy_url).dispose()
    return settings


@pytest.fixture
def en_world(en_processed, tmp_path):
    """A copy of the processed English dialogue's database (media and clips stay shared, read-only)."""
    from backend.db.session import engine_for, session_factory

    path = tmp_path / "mmcurate.db"
    shutil.copyfile(en_processed.data_dir / "mmcurate.db", path)
    settings = en_processed.model_copy(update={"database_url": f"sqlite:///{path}"})
    db = session_factory(settings.sqlalchemy_url)()
    try:
        yield settings, db
    finally:
        db.close()
        engine_for(settings.sqlalchemy_url).dispose()


def _judge_all_but_one(session, tmp_path, items):
    """Three raters' labels for every item but the last, imported; one judgement then deleted in Label Studio
    fashion (soft), and QA run so aggregated labels and adjudications exist."""
    from datetime import datetime, timezone

    from backend.db.models import Annotation
    from backend.services import qa as qa_service

    judged = items[:-1]
    lines = ["item,annotator,field,value"] + [f"{i},rater{k},sentiment,{('positive', 'neutral', 'negative')[(i + k) % 3]}"
                                              for i in judged for k in (1, 2, 3)]
    path = tmp_path / "labels.csv"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    qa_service.import_judgements(session, "talks", path, scheme="sentiment3")
    session.scalars(select(Annotation).order_by(Annotation.id)).first().deleted_at = datetime.now(timezone.utc)
    session.commit()
    qa_service.run_qa(session, "talks", qa_service.RunOptions(scheme="sentiment3", n_boot=20))
    session.commit()
    return judged


def _human_work(session):
    """Every judgement-related row with the item it hangs on, to compare before and after a re-run."""
    from backend.db.models import Adjudication, AggregatedLabelRow, Annotation, AnnotationHistory

    return {
        "annotations": sorted(session.execute(select(Annotation.id, Annotation.item_id, Annotation.values,
                                                     Annotation.deleted_at.is_not(None))).tuples().all()),
        "history": sorted(session.execute(select(AnnotationHistory.id, AnnotationHistory.annotation_id)).tuples().all()),
        "aggregated": sorted(session.execute(select(AggregatedLabelRow.id, AggregatedLabelRow.item_id,
                                                    AggregatedLabelRow.value)).tuples().all()),
        "adjudications": sorted(session.execute(select(Adjudication.id, Adjudication.item_id)).tuples().all()),
    }


def test_reprocessing_never_deletes_human_work(en_world, ct2_model, shared_models, tmp_path):
    """Regression: re-running the utterances stage deleted the source's items and, by cascade, every
    annotation, its history, the aggregated labels and adjudications of the source."""
    from backend.db.models import Annotation, Project
    from backend.repositories import items as item_repo

    settings, session = en_world
    project = session.scalar(select(Item.project_id).limit(1))
    first = speech.list_utterances(session, "talks")
    items = [u["id"] for u in first]
    judged = _judge_all_but_one(session, tmp_path, items)
    work = _human_work(session)
    assert len(work["annotations"]) == 3 * len(judged) and len(work["history"]) == 3 * len(judged)
    assert len(work["aggregated"]) == len(judged)
    clip_bytes = {u["id"]: Path(u["clip_audio_path"]).read_bytes() for u in first}

    # only where and how fast ASR runs changes: nothing re-runs (a CUDA model would not even load here)
    on_gpu = settings.model_copy(update={"asr_device": "cuda", "asr_compute_type": "float16", "asr_batch_size": 3})
    talks = session.get(Project, project)
    same = replace(speech.config_from_settings(on_gpu, talks), asr=AsrOptions(beam_size=1, batch_size=3))
    report = speech.process_project(session, "talks", on_gpu, same, speech.PipelineModels(same))
    assert report.failed == [] and report.stages_run == 0 and report.stages_skipped == 6

    # a results-changing ASR option: ASR, utterances and clips re-run; every judgement stays on its item
    base = replace(speech.config_from_settings(settings, talks), asr=AsrOptions(beam_size=1))
    wider = replace(base, asr=AsrOptions(beam_size=2))
    shared_models.config = wider
    report = speech.process_project(session, "talks", settings, wider, shared_models)
    assert report.failed == [] and report.stages_run == 3
    session.expire_all()
    assert _human_work(session) == work
    assert all(session.get(Item, i) is not None for i in judged)

    # utterance bounds that change every span: judged items are superseded, kept, their clips untouched
    shorter = replace(base, utterances=replace(base.utterances, max_duration_s=1.5))
    report = speech.process_project(session, "talks", settings, shorter, shared_models)
    assert report.failed == [] and report.stages_run == 2  # utterances and clips
    session.expire_all()
    assert _human_work(session) == work
    listed = {u["id"]: u for u in speech.list_utterances(session, "talks")}
    superseded = {i for i, u in listed.items() if u["superseded"]}
    assert superseded and superseded <= set(judged)
    assert items[-1] not in listed  # nobody had worked on it: replaced
    for item_id in superseded:
        row = listed[item_id]
        assert row["superseded_at"] is not None
        assert Path(row["clip_audio_path"]).read_bytes() == clip_bytes[item_id]
        assert session.get(Item, item_id).superseded_by_run_id is not None
    live = [u for u in listed.values() if not u["superseded"]]
    assert live and report.utterances == len(live) and all(Path(u["clip_audio_path"]).is_file() for u in live)
    live_keys = [(u["start"], u["end"], u["speaker"]) for u in live]
    assert len(live_keys) == len(set(live_keys))
    rows, _ = item_repo.list_page(session, project_id=project, limit=1000)
    as_json = {item.id: item_repo.item_as_dict(item, utt) for item, utt in rows}
    assert {i for i, record in as_json.items() if record["superseded"]} == superseded

    # back to the first configuration: its utterances come back from the cached ASR, the judged items live again
    report = speech.process_project(session, "talks", settings, base, shared_models)
    assert report.failed == [] and report.stages_run == 2
    session.expire_all()
    assert _human_work(session) == work
    back = speech.list_utterances(session, "talks")
    assert not any(u["superseded"] for u in back) and len(back) == len(first)
    assert [u["id"] for u in back][:-1] == judged  # the same items, so their judgements are live again
    assert session.scalar(select(func.count()).select_from(Annotation)) == 3 * len(judged)


def test_a_failed_middle_stage_is_recorded_and_the_next_run_resumes_from_it(en_world, ct2_model, tmp_path):
    """ASR fails (its model folder is not there yet): the failure is recorded on its stage run and its
    source, nothing after it runs, the earlier utterances stay; once the folder is there, the same
    configuration resumes at ASR and redoes neither prepare nor VAD, nor diarization, which does not read ASR."""
    from backend.db.models import Project

    settings, session = en_world
    source = session.scalar(select(Source))
    before = speech.list_utterances(session, "talks")
    talks = session.scalar(select(Project))
    base = replace(speech.config_from_settings(settings, talks), asr=AsrOptions(beam_size=1))
    folder = tmp_path / "whisper-base"
    config = replace(base, asr_model=ModelSpec(model=str(folder), cpu_threads=2))
    models = speech.PipelineModels(config)

    failed = speech.process_project(session, "talks", settings, config, models)
    (source_id, reason), = failed.failed
    assert source_id == source.id and reason.startswith(f"cannot load faster-whisper model {str(folder)!r}")
    assert (failed.stages_run, failed.stages_skipped) == (0, 2)  # prepare and vad were done
    session.expire_all()
    assert (source.status, source.error) == ("failed", reason)
    runs = speech.source_runs(session, source)
    (asr_run,) = [r for r in runs if r["status"] != "done"]
    assert (asr_run["stage"], asr_run["status"], asr_run["error"]) == ("asr", "failed", reason)
    assert asr_run["duration_ms"] >= 0 and "Traceback" not in asr_run["error"]
    assert speech.list_utterances(session, "talks") == before

    folder.symlink_to(ct2_model, target_is_directory=True)
    steps: list[str] = []
    resumed = speech.process_project(session, "talks", settings, config, models,
                                     on_progress=lambda step, done, total: steps.append(step))
    assert resumed.failed == [] and (resumed.stages_run, resumed.stages_skipped) == (3, 3)
    assert list(dict.fromkeys(steps)) == [f"source {source.id}: asr", f"source {source.id}: utterances",
                                          f"source {source.id}: clips", "sources"]
    session.expire_all()
    assert (source.status, source.error) == ("done", None)
    redone = session.scalars(select(StageRun).where(StageRun.stage == "asr", StageRun.config_hash ==
                                                    asr_run["config_hash"])).all()
    assert [(r.status, r.error, r.model) for r in redone] == [("done", None, "faster-whisper:whisper-base")]
    after = speech.list_utterances(session, "talks")
    assert resumed.utterances == len(after) > 0 and all(Path(u["clip_audio_path"]).is_file() for u in after)


def test_an_utterance_coinciding_with_a_judged_one_reuses_it_only_when_its_text_is_the_same(any_session):
    """Live utterances are unique by (span, speaker); a superseded judged one may share them."""
    from backend.db.models import Annotation, Annotator, MediaAsset, Project
    from backend.domain import Transcript, Utterance
    from backend.services.speech import ReplaceOutcome, replace_utterances

    project = Project(name="talks", languages=[], schemes=[], allowed_licences=[])
    any_session.add(project)
    any_session.flush()
    source = Source(project_id=project.id, kind="file", uri="/talk.wav", content_hash="h")
    any_session.add(source)
    any_session.flush()
    asset = MediaAsset(project_id=project.id, source_id=source.id, content_hash="h", path="/talk.wav")
    annotator = Annotator(pseudonym="ann-001", email="a@example.org")
    any_session.add_all([asset, annotator])
    any_session.flush()
    transcript = Transcript((), "en", 1.0, "whisper", {})

    def run(*texts: str) -> tuple[ReplaceOutcome, list[dict]]:
        made = [Utterance(2.0 * n, 2.0 * n + 1.5, "S0", text, turn_index=n) for n, text in enumerate(texts)]
        outcome = replace_utterances(any_session, project, source, asset, made, transcript)
        any_session.commit()
        return outcome, speech.list_utterances(any_session, "talks")

    _, rows = run("good morning", "how are you")
    judged = rows[0]["id"]
    any_session.add(Annotation(item_id=judged, annotator_id=annotator.id, scheme="sentiment3",
                               values={"sentiment": "positive"}))
    any_session.commit()

    outcome, rows = run("good morning", "how are you doing")  # same span, speaker and text: the same item
    assert outcome == ReplaceOutcome(created=1, reused=1, superseded=0, deleted=1)
    assert (rows[0]["id"], rows[0]["superseded"]) == (judged, False)

    outcome, rows = run("good mourning", "how are you doing")  # same span and speaker, other text: a new item
    assert outcome == ReplaceOutcome(created=2, reused=0, superseded=1, deleted=1)
    first_span = [r for r in rows if r["start"] == 0.0]
    assert sorted((r["text"], r["superseded"]) for r in first_span) == [("good morning", True), ("good mourning", False)]
    assert any_session.get(Item, judged).superseded_at is not None

    outcome, rows = run("good morning", "how are you doing")  # the judged text again: it comes back to life
    assert outcome == ReplaceOutcome(created=1, reused=1, superseded=0, deleted=2)
    assert [(r["id"], r["text"], r["superseded"]) for r in rows if r["start"] == 0.0] == [(judged, "good morning", False)]
    assert any_session.scalar(select(func.count()).select_from(Annotation).where(Annotation.item_id == judged)) == 1


def _speakers_and_reruns(session, settings, config, models, **kwargs) -> tuple[int, int, object]:
    """Process the project; the number of distinct speakers, the stages run, and the report."""
    report = speech.process_project(session, "talks", settings, config, models, **kwargs)
    assert report.failed == []
    speakers = {u["speaker"] for u in speech.list_utterances(session, "talks")}
    return len(speakers), report.stages_run, report


def test_speaker_count_hints_from_project_run_and_source_rerun_only_diarization(en_world, ct2_model, shared_models):
    """Project setting < process option < the source's own hint, field by field; each change re-runs
    diarize, utterances and clips, never prepare, VAD or ASR."""
    from backend.domain import SpeakerCountHint
    from backend.services.projects import ProjectChanges, update_project

    settings, session = en_world
    project = session.scalar(select(Source)).project
    config = replace(speech.config_from_settings(settings, project), asr=AsrOptions(beam_size=1))
    shared_models.config = config
    found, ran, _ = _speakers_and_reruns(session, settings, config, shared_models)
    assert ran == 0 and found == 3  # the fixture's run: the English dialogue's three voices, estimated

    update_project(session, "talks", ProjectChanges(speakers=SpeakerCountHint(num_speakers=2),
                                                    fields_set=frozenset({"speakers"})))
    session.commit()
    found, ran, _ = _speakers_and_reruns(session, settings, config, shared_models)
    assert (found, ran) == (2, 3)
    diarize_runs = session.scalars(select(StageRun).where(StageRun.stage == "diarize")).all()
    assert len(diarize_runs) == 2 and len({r.config_hash for r in diarize_runs}) == 2
    assert session.scalar(select(func.count()).select_from(StageRun).where(StageRun.stage == "asr")) == 1

    found, ran, _ = _speakers_and_reruns(session, settings, config, shared_models,
                                         speakers=SpeakerCountHint(num_speakers=3))
    assert (found, ran) == (3, 3)  # the run's option beats the project's setting

    source = session.scalar(select(Source))
    source.extra = {**source.extra, "num_speakers": 1}  # as a sidecar or manifest row gives it
    session.commit()
    found, ran, _ = _speakers_and_reruns(session, settings, config, shared_models,
                                         speakers=SpeakerCountHint(num_speakers=3))
    assert (found, ran) == (1, 3)  # the source's own hint beats the run's
    found, ran, _ = _speakers_and_reruns(session, settings, config, shared_models,
                                         speakers=SpeakerCountHint(num_speakers=3))
    assert ran == 0  # same hints: nothing to do
    assert session.scalar(select(func.count()).select_from(StageRun).where(StageRun.stage.in_(("vad", "asr")))) == 2


def test_a_sidecar_speaker_hint_is_checked_at_ingest(settings, session, tmp_path):
    create_project(session, ProjectSpec(name="talks", languages=("en",)))
    made = testmedia.generate(testmedia.EN, tmp_path / "in")
    sidecar = json.loads(made.sidecar_path.read_text())
    made.sidecar_path.write_text(json.dumps({**sidecar, "num_speakers": "two"}))
    report = speech.ingest_folder(session, "talks", tmp_path / "in")
    ((path, reason),) = report.failed
    assert report.added == () and reason == ("en_dialogue.json: num_speakers must be a whole number from 1 to 50, "
                                             "got 'two'")
    made.sidecar_path.write_text(json.dumps({**sidecar, "min_speakers": 4, "max_speakers": "3"}))
    ((_, reason),) = speech.ingest_folder(session, "talks", tmp_path / "in").failed
    assert reason == "en_dialogue.json: min_speakers (4) is more than max_speakers (3)"
    made.sidecar_path.write_text(json.dumps({**sidecar, "num_speakers": "3"}))
    report = speech.ingest_folder(session, "talks", tmp_path / "in")
    (source_id,) = report.added
    source = session.get(Source, source_id)
    from backend.services.speech.stages import source_speaker_hint

    assert source_speaker_hint(source).num_speakers == 3
