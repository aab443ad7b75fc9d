"""The speech world both engines are compared on (a fixture plugin, registered in tests/conftest.py).

Fixtures: ``whisper_base`` (the bundled Whisper base joined once), ``dialogue_folder`` (an English
dialogue, a Tamil one with video and a file that is no media) and ``in_process_reference`` (that
folder processed once by the in-process engine: what the Ray engine must reproduce). Helpers:
``new_world`` (a data dir with a migrated database), ``comparable`` and ``ledger`` (what two runs
must agree on).
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from backend.db.models import MediaAsset, Source, StageRun
from backend.db.session import engine_for, session_factory
from backend.services import speech
from backend.services.projects import ProjectSpec, create_project
from backend.settings import Settings
from ingest import testmedia


@pytest.fixture(scope="session")
def whisper_base(tmp_path_factory) -> str:
    from ingest.whisper_weights import ensure_ct2_base

    return str(ensure_ct2_base(tmp_path_factory.mktemp("whisper-base")))


@pytest.fixture(scope="session")
def dialogue_folder(tmp_path_factory) -> Path:
    """An English dialogue, a Tamil one with video (so MP4 clips are cut too) and a file that is no media."""
    folder = tmp_path_factory.mktemp("dialogues")
    testmedia.generate(testmedia.EN, folder)
    testmedia.generate(testmedia.TA, folder)
    (folder / "broken.wav").write_bytes(b"RIFF\x00\x00not really a wave file" * 20)
    return folder


@pytest.fixture(scope="session")
def in_process_reference(tmp_path_factory, sqlite_template, whisper_base, dialogue_folder) -> dict[str, Any]:
    """``dialogue_folder`` processed once in-process: its report, utterances, ledger and sources."""
    settings = new_world(tmp_path_factory.mktemp("in-process"), sqlite_template, whisper_base)
    with session_factory(settings.sqlalchemy_url)() as session:
        create_project(session, ProjectSpec(name="talks", languages=("en", "ta")))
        speech.ingest_folder(session, "talks", dialogue_folder)
        report = speech.process_project(session, "talks", settings)
        assert len(report.processed) == 2 and len(report.failed) == 1
        made = {"report": report, "utterances": comparable(speech.list_utterances(session, "talks")),
                "ledger": ledger(session), "sources": sources(session)}
    engine_for(settings.sqlalchemy_url).dispose()
    return made


def new_world(root: Path, sqlite_template: Path, asr_model: str) -> Settings:
    """A data dir under ``root`` with a migrated database; Whisper at beam 1, for speed."""
    data_dir = root / "var"
    data_dir.mkdir(parents=True)
    shutil.copyfile(sqlite_template, data_dir / "mmcurate.db")
    settings = Settings(data_dir=data_dir, database_url=f"sqlite:///{data_dir / 'mmcurate.db'}", asr_model=asr_model,
                        asr_beam_size=1)
    settings.ensure_dirs()
    return settings


def comparable(utterances: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Utterances as two engines must agree on them: all but ids and times of writing, clips by their
    content-addressed file names."""
    return [{**{k: v for k, v in u.items() if k not in ("id", "superseded_at")},
             "clip_audio_path": Path(u["clip_audio_path"]).name,
             "clip_video_path": u["clip_video_path"] and Path(u["clip_video_path"]).name} for u in utterances]


def ledger(session) -> dict[tuple[str, str], list[tuple[str, str]]]:
    """Every stage run, keyed by (stage, content hash of its source or asset) — ids follow the order files
    finish in — with its (status, configuration hash) rows in order."""
    content = {("source", s.id): s.content_hash for s in session.scalars(select(Source))}
    content |= {("asset", a.id): a.content_hash for a in session.scalars(select(MediaAsset))}
    runs: dict[tuple[str, str], list[tuple[str, str]]] = {}
    for run in session.scalars(select(StageRun).order_by(StageRun.id)):
        runs.setdefault((run.stage, content[(run.subject_type, run.subject_id)]), []).append(
            (run.status, run.config_hash))
    return runs


def sources(session) -> list[tuple[str, str, str | None]]:
    """Each source's file, status and error."""
    return [(Path(s.uri).name, s.status, s.error) for s in speech.list_sources(session, "talks")]
