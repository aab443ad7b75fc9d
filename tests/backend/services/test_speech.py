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

from backend.db.models import Item, Source, StageRun
from backend.db.models import Utterance as UtteranceRow
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
