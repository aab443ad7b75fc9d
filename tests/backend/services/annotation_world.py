"""One builder for the annotation test worlds: a data dir with a migrated SQLite copy, settings whose Label Studio
layout the service and its webhook receiver both find, and a project of real clips (tones made by ffmpeg).

Used by test_annotation.py, test_isolation.py and test_receiver.py; each builds its own world with it.
"""

from __future__ import annotations

import shutil
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path

from sqlalchemy.orm import Session, sessionmaker

from annotation_configs.labelstudio import instances as ls
from annotation_configs.labelstudio.install import LabelStudioInstall
from backend.db.models import Item, MediaAsset, Project, Source, UtteranceRow
from backend.db.session import engine_for, session_factory
from backend.services import annotation as service
from backend.services.text import apply_text_profile
from backend.settings import Settings
from tests.annotation_configs.labelstudio_fixtures import make_tone


@dataclass(frozen=True)
class AnnotationWorld:
    settings: Settings
    home: service.LabelStudioHome
    factory: sessionmaker[Session]

    def close(self) -> None:
        """Stop every instance of the world and let go of its database."""
        ls.stop_all(self.home.state().load().values())
        engine_for(self.settings.sqlalchemy_url).dispose()


def annotation_world(root: Path, sqlite_template: Path, install: LabelStudioInstall, template: ls.Template,
                     **settings: object) -> AnnotationWorld:
    """A fresh data dir under ``root`` (0700) with a copy of the migrated SQLite template; ``settings`` override."""
    data_dir = root / "var"
    (data_dir / "clips").mkdir(parents=True)
    data_dir.chmod(0o700)
    db_path = data_dir / "mmcurate.db"
    shutil.copyfile(sqlite_template, db_path)
    config = Settings(**{"data_dir": data_dir, "database_url": f"sqlite:///{db_path}",
                         "labelstudio_venv": install.venv, **settings})  # type: ignore[arg-type]
    # the layout the service and its webhook receiver find from the settings, with the tests' cached template
    home = replace(service.LabelStudioHome.from_settings(config), template_dir=template.data_dir)
    return AnnotationWorld(config, home, session_factory(config.sqlalchemy_url))


def clip_project(session: Session, data_dir: Path, name: str, count: int, *, language: str = "ta",
                 references: Sequence[dict[str, str]] = (), gold: Sequence[int] = (), seconds: float = 0.3) -> Project:
    """A project of ``count`` clip items, one dialogue, each with a real tone clip under ``data_dir/clips``."""
    project = Project(name=name, languages=[language], schemes=["emotion7", "sentiment3"])
    session.add(project)
    session.flush()
    source = Source(project_id=project.id, kind="file", uri=f"file:///{name}.wav", content_hash=f"hash-{name}")
    session.add(source)
    session.flush()
    asset = MediaAsset(project_id=project.id, source_id=source.id, content_hash=f"hash-{name}", path=f"{name}.wav")
    session.add(asset)
    session.flush()
    for index in range(count):
        clip = make_tone(data_dir / "clips" / f"{name}-{index}.wav", seconds, 300 + 50 * index)
        item = Item(project_id=project.id, source_id=source.id, kind="clip", dialogue_id=f"{name}-d1", turn_index=index,
                    text=f"வாக்கியம் {index}", language=language,
                    reference=dict(references[index]) if index < len(references) else {},
                    is_gold=index in gold, media_path=str(clip))
        apply_text_profile(item, project)  # as every path that stores text does
        session.add(item)
        session.flush()
        session.add(UtteranceRow(item_id=item.id, asset_id=asset.id, start_ms=index * 1000,
                              end_ms=index * 1000 + int(seconds * 1000), speaker_label=f"SPEAKER_0{index % 2}",
                              clip_audio_path=str(clip), asr_model="whisper-base"))
    session.flush()
    return project


@contextmanager
def unstartable(home: service.LabelStudioHome, name: str) -> Iterator[ls.LabelStudioInstance]:
    """Instance ``name`` stopped and unable to start (its database file replaced by garbage) inside the block.

    A real way for an instance to be down: Label Studio exits at start with "file is not a database".
    The database is put back afterwards (the instance stays stopped).
    """
    record = ls.stop(home.state().load()[name])
    home.save(record)
    database = record.data_dir / "label_studio.sqlite3"
    aside = database.with_name("label_studio.sqlite3.aside")
    database.replace(aside)
    database.write_text("this is not a database")
    try:
        yield record
    finally:
        ls.stop(home.state().load()[name])
        aside.replace(database)


class LiveReceiver:
    """The real FastAPI app (its lifespan starts the webhook receiver) served by uvicorn on ``host``:``port``."""

    def __init__(self, settings: Settings, port: int, host: str = "127.0.0.1"):
        import uvicorn

        from backend.api.app import create_app

        self.app = create_app(settings)
        self.server = uvicorn.Server(uvicorn.Config(self.app, host=host, port=port, log_level="warning"))
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def __enter__(self) -> "LiveReceiver":
        self.thread.start()
        deadline = time.monotonic() + 20
        while not self.server.started and time.monotonic() < deadline:
            time.sleep(0.05)
        return self

    def settled(self) -> None:
        """Every recorded event re-read and stored."""
        assert self.app.state.webhook_receiver.wait_until_stored(30)

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=20)
