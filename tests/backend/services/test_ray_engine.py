"""`process --engine ray` on a local Ray: the same utterances, failures and ledger as the in-process engine,
a re-run that skips every stage, and a worker killed mid-file that costs the file a retry and nothing else.

One local Ray (2 CPUs) serves the module; each test's run kills its own actors when it ends.
"""

from __future__ import annotations

import logging
import os
import signal
import threading
from pathlib import Path

import pytest
from sqlalchemy import func, select

from backend.db.models import Item, UtteranceRow
from backend.db.session import engine_for, session_factory
from backend.services import speech
from backend.services.projects import ProjectSpec, create_project
from backend.settings import get_settings
from ingest.engine import RayOptions
from tests.backend.services.speech_world import comparable, ledger, new_world, sources


@pytest.fixture(scope="module")
def local_ray():
    import ray

    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, logging_level=logging.WARNING)
    try:
        yield ray
    finally:
        ray.shutdown()


def test_the_ray_engine_makes_what_the_in_process_engine_makes_and_a_rerun_skips_every_stage(
        cli, settings, monkeypatch, local_ray, dialogue_folder, in_process_reference, whisper_base):
    monkeypatch.setenv("MMCURATE_ASR_MODEL", whisper_base)
    monkeypatch.setenv("MMCURATE_ASR_BEAM_SIZE", "1")
    get_settings.cache_clear()
    cli("project", "create", "talks", "--languages", "en,ta")
    cli("ingest", "folder", str(dialogue_folder), "--project", "talks")

    code, out, err = cli("process", "--project", "talks", "--engine", "ray", "--ray-workers", "2")
    assert code == 0, err
    assert out.startswith("2 sources processed, 1 failed; 12 stages run, 0 skipped")
    assert "ffprobe failed" in err

    with session_factory(settings.sqlalchemy_url)() as session:
        assert comparable(speech.list_utterances(session, "talks")) == in_process_reference["utterances"]
        assert sources(session) == in_process_reference["sources"]
        assert ledger(session) == in_process_reference["ledger"]  # the same stage runs, configuration hashes and outcomes
        video_clips = [u["clip_video_path"] for u in speech.list_utterances(session, "talks") if u["clip_video_path"]]
        assert video_clips and all(Path(p).is_file() and str(settings.clips_dir) in p for p in video_clips)

    code, out, err = cli("process", "--project", "talks", "--engine", "ray")
    assert code == 0 and out.startswith("2 sources processed, 1 failed; 0 stages run, 12 skipped"), out + err

    # the speaker hint works as in-process: diarization and what follows it re-run, nothing before it
    code, out, err = cli("process", "--project", "talks", "--engine", "ray", "--num-speakers", "2")
    assert code == 0 and out.startswith("2 sources processed, 1 failed; 6 stages run, 6 skipped"), out + err
    with session_factory(settings.sqlalchemy_url)() as session:
        by_source: dict[int, set[str]] = {}
        for u in speech.list_utterances(session, "talks"):
            by_source.setdefault(u["source_id"], set()).add(u["speaker"])
        assert sorted(len(speakers) for speakers in by_source.values()) == [2, 2]


def _descends_from(pid: int, ancestor: int) -> bool:
    while pid > 1:
        try:
            stat = Path(f"/proc/{pid}/stat").read_text()
        except OSError:
            return False
        pid = int(stat.rsplit(")", 1)[1].split()[1])  # the parent's id
        if pid == ancestor:
            return True
    return False


def kill_when_transcribing(stop: threading.Event, killed: list[int]) -> None:
    """SIGKILL the first of this process's Ray workers seen running ASR (its process title says so)."""
    while not stop.is_set():
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit():
                continue
            try:
                title = (entry / "cmdline").read_bytes()
            except OSError:
                continue
            if title.startswith(b"ray::SpeechWorker.transcribe") and _descends_from(int(entry.name), os.getpid()):
                os.kill(int(entry.name), signal.SIGKILL)
                killed.append(int(entry.name))
                return
        stop.wait(0.05)


def process_while_killing_a_worker(session, settings, dialogue_folder, options):
    """Ingest the dialogues and run ``process --engine ray`` while a thread SIGKILLs the first worker it sees
    transcribing; the report and the pids killed."""
    killed: list[int] = []
    stop = threading.Event()
    killer = threading.Thread(target=kill_when_transcribing, args=(stop, killed), daemon=True)
    create_project(session, ProjectSpec(name="talks", languages=("en", "ta")))
    speech.ingest_folder(session, "talks", dialogue_folder)
    killer.start()
    try:
        report = speech.process_project(session, "talks", settings, engine="ray", ray=options)
    finally:
        stop.set()
        killer.join()
    return report, killed


def test_a_worker_killed_mid_file_costs_the_file_a_retry_never_a_duplicate_or_a_lost_record(
        tmp_path, sqlite_template, whisper_base, local_ray, dialogue_folder, in_process_reference):
    settings = new_world(tmp_path, sqlite_template, whisper_base)
    with session_factory(settings.sqlalchemy_url)() as session:
        report, killed = process_while_killing_a_worker(session, settings, dialogue_folder, RayOptions(workers=1))
        assert len(killed) == 1, "no worker was seen transcribing"
        assert report.processed == in_process_reference["report"].processed and report.failed == in_process_reference["report"].failed
        assert report.stages_run == in_process_reference["report"].stages_run

        runs = ledger(session)
        assert runs == in_process_reference["ledger"]  # one row per stage and subject, each done once (the broken file's failed)
        assert sum(rows == [("done", rows[0][1])] for rows in runs.values()) == 2 * 6
        keys = session.execute(select(UtteranceRow.asset_id, UtteranceRow.start_ms, UtteranceRow.end_ms)).all()
        assert len(keys) == len(set(keys)) == session.scalar(select(func.count()).select_from(Item)) > 10
        assert comparable(speech.list_utterances(session, "talks")) == in_process_reference["utterances"]
    engine_for(settings.sqlalchemy_url).dispose()


def test_a_worker_lost_past_its_retries_fails_its_stage_and_the_next_run_redoes_it(
        tmp_path, sqlite_template, whisper_base, local_ray, dialogue_folder, in_process_reference):
    settings = new_world(tmp_path, sqlite_template, whisper_base)
    with session_factory(settings.sqlalchemy_url)() as session:
        lost, killed = process_while_killing_a_worker(session, settings, dialogue_folder,
                                                      RayOptions(workers=1, retries=0))
        assert len(killed) == 1
        reasons = [reason for _, reason in lost.failed if "ffprobe" not in reason]
        assert reasons and all(r.startswith("the Ray worker computing ") and "was lost (" in r and
                               r.endswith("after 0 retries; the next run redoes this stage") for r in reasons)
        failed_runs = [key for key, rows in ledger(session).items() if rows[-1][0] == "failed"]
        assert {stage for stage, _ in failed_runs} <= {"prepare", "vad", "asr", "diarize"}  # prepare: broken.wav
        assert len(failed_runs) == len(reasons) + 1  # one failed row per lost file: its walk stopped there

        again = speech.process_project(session, "talks", settings, engine="ray", ray=RayOptions(workers=1))
        assert (again.processed, again.failed) == (in_process_reference["report"].processed,
                                                   in_process_reference["report"].failed)
        assert ledger(session) == in_process_reference["ledger"]  # the failed rows were redone, not doubled
        assert comparable(speech.list_utterances(session, "talks")) == in_process_reference["utterances"]
    engine_for(settings.sqlalchemy_url).dispose()
