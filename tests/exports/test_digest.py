"""The inputs digest: what a release is made of, compared before anything is built."""

from __future__ import annotations

import dataclasses
import json
import shutil

import pytest

import exports.manifest
from exports.build import build_release
from exports.manifest import (
    MANIFEST_NAME,
    holds_release,
    inputs_digest,
    recorded_digest,
)
from exports.records import AggregatedLabel
from tests.exports.builders import make_context, make_rows, write_wav


@pytest.fixture()
def inputs(tmp_path):
    from tests.exports.builders import make_spec

    return make_rows(tmp_path / "clips", n_sources=3, per_source=2), make_spec(), make_context()


def test_the_same_inputs_give_the_same_digest_whatever_the_version(inputs):
    rows, spec, context = inputs
    digest = inputs_digest(rows, spec, context)
    assert len(digest) == 64 and int(digest, 16) >= 0
    assert inputs_digest(list(rows), dataclasses.replace(spec, version="7.0.0"), context) == digest


def test_moving_the_clips_keeps_the_digest_and_cutting_one_again_changes_it(inputs, tmp_path):
    rows, spec, context = inputs
    digest = inputs_digest(rows, spec, context)
    shutil.copytree(tmp_path / "clips", tmp_path / "moved")
    moved = [dataclasses.replace(r, audio_path=tmp_path / "moved" / r.audio_path.name) for r in rows]
    assert inputs_digest(moved, spec, context) == digest
    write_wav(rows[0].audio_path, seed=999)
    assert inputs_digest(rows, spec, context) != digest


@pytest.mark.parametrize("change", ["gold label", "judgement", "text profile", "licence", "seed", "shard size", "card context", "format"])
def test_anything_that_decides_the_files_changes_the_digest(inputs, change, monkeypatch):
    rows, spec, context = inputs
    digest = inputs_digest(rows, spec, context)
    first = rows[0]
    if change == "gold label":
        rows = [dataclasses.replace(first, labels={**first.labels, "sentiment": AggregatedLabel("neutral")}), *rows[1:]]
    elif change == "judgement":
        rows = [dataclasses.replace(first, judgements={**first.judgements, "emotion": first.judgements["emotion"][:2]}), *rows[1:]]
    elif change == "text profile":
        rows = [dataclasses.replace(first, scripts={"Latin": 1.0}, dominant_script="Latin", cmi=12.5), *rows[1:]]
    elif change == "licence":
        spec = dataclasses.replace(spec, licence="cc-by-sa-4.0")
    elif change == "seed":
        spec = dataclasses.replace(spec, seed=spec.seed + 1)
    elif change == "shard size":
        spec = dataclasses.replace(spec, shard_max_bytes=spec.shard_max_bytes // 2)
    elif change == "card context":
        context = dataclasses.replace(context, n_annotators=4)
    else:
        monkeypatch.setattr(exports.manifest, "RELEASE_FORMAT", exports.manifest.RELEASE_FORMAT + 1)
    assert inputs_digest(rows, spec, context) != digest


def test_the_manifest_records_the_digest_and_the_folder_is_recognised(inputs, tmp_path):
    rows, spec, context = inputs
    built = build_release(rows, spec, context, tmp_path / "rel", code="x")
    digest = inputs_digest(rows, spec, context)
    assert recorded_digest(built.manifest) == digest
    assert json.loads((built.folder / MANIFEST_NAME).read_text())["inputs_digest"] == digest
    assert holds_release(built.folder, version=spec.version, digest=digest)
    assert not holds_release(built.folder, version="2.0.0", digest=digest)
    assert not holds_release(built.folder, version=spec.version, digest="0" * 64)
    assert not holds_release(tmp_path / "nowhere", version=spec.version, digest=digest)


@pytest.mark.parametrize("damage", ["a shard deleted", "a file added", "a file truncated"])
def test_a_damaged_folder_no_longer_holds_the_release(inputs, tmp_path, damage):
    rows, spec, context = inputs
    built = build_release(rows, spec, context, tmp_path / "rel", code="x")
    shard = next(built.folder.glob("data/default/*.parquet"))
    if damage == "a shard deleted":
        shard.unlink()
    elif damage == "a file added":
        (built.folder / "notes.txt").write_text("mine")
    else:
        shard.write_bytes(shard.read_bytes()[:100])
    assert not holds_release(built.folder, version=spec.version, digest=recorded_digest(built.manifest))


def test_a_manifest_from_before_digests_records_none():
    assert recorded_digest({"format": "hf", "version": "1.0.0", "files": {}}) is None
    assert recorded_digest(None) is None
