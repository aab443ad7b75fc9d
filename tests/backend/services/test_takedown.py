"""Takedown: a source leaves every export format, and the curator learns which past releases
(and Hub revisions) still hold it."""

from __future__ import annotations

import csv
import json

import pytest

from backend.db.models import Source
from backend.domain import NotFoundError
from backend.services import release as release_service
from backend.services import takedown as takedown_service
from backend.services.release import ReleaseOptions
from tests.backend.services.release_db import seed_project
from tests.exports.hub_server import serve_hub_for_client


@pytest.fixture()
def hub(monkeypatch):
    server = serve_hub_for_client(monkeypatch)
    yield server
    server.stop()


def test_takedown_excludes_the_source_and_names_past_releases(session, settings):
    seeded = seed_project(session, settings.data_dir)
    first = release_service.build(session, ReleaseOptions(project="demo"), data_dir=settings.data_dir)
    session.commit()
    target = seeded.source_ids[0]
    result = takedown_service.takedown(session, target, reason="uploader request")
    session.commit()
    assert not result.already
    assert [(r["version"], r["items"]) for r in result.releases] == [("1.0.0", 3)]
    assert session.get(Source, target).status == "taken_down"
    second = release_service.build(session, ReleaseOptions(project="demo"), data_dir=settings.data_dir)
    assert second.version == "1.1.0" and second.items == first.items - 3
    assert second.excluded["taken_down"] == 3
    again = takedown_service.takedown(session, target)
    assert again.already and again.taken_down_at == result.taken_down_at


def test_takedown_of_an_unknown_source_says_so(session, settings):
    with pytest.raises(NotFoundError, match="no source with id 999"):
        takedown_service.takedown(session, 999)


def test_a_taken_down_source_is_in_no_export_format(session, settings, tmp_path):
    seeded = seed_project(session, settings.data_dir)
    target = seeded.source_ids[1]
    takedown_service.takedown(session, target)
    options = ReleaseOptions(project="demo", out_dir=tmp_path / "hf")
    summary = release_service.build(session, options, data_dir=settings.data_dir)
    assert target not in json.loads((summary.path / "manifest.json").read_text())["inputs"]["sources"]
    meld = release_service.export_meld_csv(session, ReleaseOptions(project="demo", out_dir=tmp_path / "meld"), data_dir=settings.data_dir)
    meld_sources = set()
    for path in meld.values():
        with path.open(newline="", encoding="utf-8") as fh:
            meld_sources |= {int(line["source_id"]) for line in csv.DictReader(fh)}
    path, n = release_service.export_jsonl(session, ReleaseOptions(project="demo", out_dir=tmp_path / "x.jsonl"), data_dir=settings.data_dir)
    jsonl_sources = {json.loads(line)["source_id"] for line in path.read_text(encoding="utf-8").splitlines()}
    expected = set(seeded.source_ids) - {target}
    assert meld_sources == jsonl_sources == expected and n == summary.items


def test_takedown_names_the_hub_repository_and_revision_of_published_releases(session, settings, hub):
    seeded = seed_project(session, settings.data_dir)
    release_service.build(session, ReleaseOptions(project="demo"), data_dir=settings.data_dir)
    published = release_service.publish(session, "demo", "lab/demo")
    session.commit()
    result = takedown_service.takedown(session, seeded.source_ids[0])
    assert [(r["version"], r["published_repo"], r["published_revision"]) for r in result.published] == [
        ("1.0.0", "lab/demo", published["commit"])
    ]
    listed = release_service.list_releases(session, "demo")
    assert [(r["version"], r["published_revision"], r["taken_down_sources"]) for r in listed] == [
        ("1.0.0", published["commit"], [seeded.source_ids[0]])
    ]
