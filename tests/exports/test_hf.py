"""Release folders: load with `datasets.load_dataset`, decode to the clip samples, rebuild byte-identical."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import numpy as np
import pytest
import soundfile

from backend.domain import ConflictError, MediaError, ValidationError
from exports.build import build_release
from exports.manifest import verify_manifest
from exports.records import AggregatedLabel, AnnotatorJudgement, CardContext
from tests.exports.builders import make_context, make_rows, make_spec, write_wav


def load(folder: Path, cache: Path):
    import datasets

    return datasets.load_dataset(str(folder), cache_dir=str(cache))


def test_release_folder_is_laid_out_as_the_hub_expects(built_release):
    files = sorted(p.relative_to(built_release.folder).as_posix() for p in built_release.folder.rglob("*") if p.is_file())
    assert files == [
        "README.md",
        "annotations.csv",
        "data/default/test-00000-of-00001.parquet",
        "data/default/train-00000-of-00001.parquet",
        "data/default/validation-00000-of-00001.parquet",
        "manifest.json",
    ]


def test_release_loads_and_audio_decodes_to_the_clip_samples(built_release, release_inputs, tmp_path):
    rows, _ = release_inputs
    by_id = {r.item_id: r for r in rows}
    ds = load(built_release.folder, tmp_path / "cache")
    assert {s: ds[s].num_rows for s in ds} == {s: built_release.written[s].num_rows for s in ds}
    assert sum(ds[s].num_rows for s in ds) == len(rows)
    for split in ds:
        for example in ds[split]:
            clip, rate = soundfile.read(str(by_id[example["item_id"]].audio_path), dtype="float32")
            decoded = example["audio"].get_all_samples()
            assert decoded.sample_rate == rate == 16_000
            np.testing.assert_allclose(decoded.data.numpy()[0], clip, atol=1e-6)
            assert built_release.assignment.split_of[example["item_id"]] == split


def test_labels_judgements_and_provenance_come_back_typed(built_release, release_inputs, tmp_path):
    rows, spec = release_inputs
    ds = load(built_release.folder, tmp_path / "cache")
    features = ds["train"].features
    assert features["sentiment"].names == ["negative", "neutral", "positive"]
    example = ds["train"][0]
    source = {r.item_id: r for r in rows}[example["item_id"]]
    assert features["sentiment"].int2str(example["sentiment"]) == source.labels["sentiment"].value
    assert [features["sentiment"].int2str(j["value"]) for j in example["sentiment_judgements"]] == [
        j.value for j in source.judgements["sentiment"]
    ]
    assert [j["annotator"] for j in example["sentiment_judgements"]] == ["ann-001", "ann-002", "ann-003"]
    assert example["sentiment_distribution"] == pytest.approx(
        [source.labels["sentiment"].distribution.get(label, 0.0) for label in spec.fields[0].labels]
    )
    assert (example["source_id"], example["source_url"], example["licence"]) == (source.source_id, source.source_url, "cc-by-4.0")
    assert (example["start_s"], example["end_s"], example["speaker"]) == (source.start_s, source.end_s, source.speaker)
    assert example["asr_model"] == "faster-whisper-base"


def test_same_inputs_rebuild_byte_identical(built_release, release_inputs, tmp_path):
    rows, spec = release_inputs
    again = build_release(rows, spec, make_context(), tmp_path / "again", code="test-code")
    for rel in built_release.manifest["files"]:
        assert (again.folder / rel).read_bytes() == (built_release.folder / rel).read_bytes(), rel
    assert (again.folder / "manifest.json").read_bytes() == (built_release.folder / "manifest.json").read_bytes()


def test_shards_are_size_bounded_and_named_n_of_total(release_inputs, tmp_path):
    rows, spec = release_inputs
    small = dataclasses.replace(spec, shard_max_bytes=20_000, row_group_rows=2)
    build = build_release(rows, small, CardContext(), tmp_path / "rel", code="x")
    train = build.written["train"].shards
    assert len(train) > 1
    assert [Path(s.path).name for s in train] == [f"train-{k:05d}-of-{len(train):05d}.parquet" for k in range(len(train))]
    ds = load(build.folder, tmp_path / "cache")
    assert ds["train"].num_rows == build.written["train"].num_rows


def test_manifest_records_hashes_and_detects_a_changed_file(built_release, tmp_path):
    import shutil

    copy = tmp_path / "copy"
    shutil.copytree(built_release.folder, copy)
    assert verify_manifest(copy) == []
    manifest = json.loads((copy / "manifest.json").read_text())
    assert manifest["seed"] == 7 and manifest["code_version"] == "test-code"
    assert manifest["models"] == {"asr:faster-whisper-base": "faster-whisper-base"}
    (copy / "annotations.csv").write_text("tampered\n")
    assert verify_manifest(copy) == ["changed: annotations.csv"]


def test_video_clips_travel_as_files_referenced_from_rows(tmp_path):
    rows = make_rows(tmp_path / "clips", n_sources=3, per_source=1)
    video = tmp_path / "clip.mp4"
    video.write_bytes(b"\x00\x00\x00\x18ftypmp42 not a real movie, copied as-is")
    rows[0] = dataclasses.replace(rows[0], video_path=video)
    build = build_release(rows, make_spec(), CardContext(), tmp_path / "rel", code="x")
    ds = load(build.folder, tmp_path / "cache")
    example = next(e for s in ds for e in ds[s] if e["item_id"] == rows[0].item_id)
    assert (build.folder / example["video"]).read_bytes() == video.read_bytes()


def test_simulated_judgements_are_refused_unless_allowed(tmp_path):
    rows = make_rows(tmp_path / "clips", n_sources=3, per_source=1, simulated=True)
    with pytest.raises(ValidationError, match=r"simulated annotators \(ann-001, ann-002, ann-003\).*--allow-simulated"):
        build_release(rows, make_spec(), CardContext(), tmp_path / "rel", code="x")
    assert not (tmp_path / "rel").exists()
    build = build_release(rows, make_spec(), CardContext(), tmp_path / "rel", allow_simulated=True, code="x")
    assert "simulated annotators" in (build.folder / "README.md").read_text()


def test_a_missing_clip_is_reported_and_the_previous_release_is_kept(built_release, release_inputs, tmp_path):
    import shutil

    rows, spec = release_inputs
    target = tmp_path / "rel"
    shutil.copytree(built_release.folder, target)
    before = sorted((p.name, p.stat().st_size) for p in target.rglob("*"))
    broken = [*rows[:-1], dataclasses.replace(rows[-1], audio_path=tmp_path / "gone.wav")]
    with pytest.raises(MediaError, match=r"gone\.wav' of item 24 does not exist"):
        build_release(broken, spec, CardContext(), target, code="x")
    assert sorted((p.name, p.stat().st_size) for p in target.rglob("*")) == before
    assert not list(tmp_path.glob(".rel.building-*"))


def test_a_clip_at_another_sampling_rate_is_refused(tmp_path):
    rows = make_rows(tmp_path / "clips", n_sources=3, per_source=1)
    rows[1] = dataclasses.replace(rows[1], audio_path=write_wav(tmp_path / "8k.wav", 1, rate=8000))
    with pytest.raises(MediaError, match=r"8k\.wav' of item 2 is 8000 Hz but the release is 16000 Hz"):
        build_release(rows, make_spec(), CardContext(), tmp_path / "rel", code="x")


def test_a_label_outside_the_scheme_is_refused(tmp_path):
    rows = make_rows(tmp_path / "clips", n_sources=3, per_source=1)
    rows[0] = dataclasses.replace(rows[0], labels={**rows[0].labels, "sentiment": AggregatedLabel("ecstatic")})
    with pytest.raises(ValidationError, match=r"field 'sentiment' has no label 'ecstatic'"):
        build_release(rows, make_spec(), CardContext(), tmp_path / "rel", code="x")
    rows[0] = dataclasses.replace(
        rows[0], labels={}, judgements={"sentiment": (AnnotatorJudgement("ann-009", "meh"),)}
    )
    with pytest.raises(ValidationError, match=r"no label 'meh'"):
        build_release(rows, make_spec(), CardContext(), tmp_path / "rel", code="x")


def test_a_folder_that_is_not_a_release_is_never_overwritten(release_inputs, tmp_path):
    rows, spec = release_inputs
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "notes.txt").write_text("keep me")
    with pytest.raises(ConflictError, match=r"mine' is not empty and holds no release manifest"):
        build_release(rows, spec, CardContext(), tmp_path / "mine", code="x")
    assert (tmp_path / "mine" / "notes.txt").read_text() == "keep me"


def test_an_empty_release_is_refused(tmp_path):
    with pytest.raises(ValidationError, match="nothing to release"):
        build_release([], make_spec(), CardContext(), tmp_path / "rel", code="x")


def test_a_clip_that_is_not_audio_is_refused(tmp_path):
    rows = make_rows(tmp_path / "clips", n_sources=3, per_source=1)
    junk = tmp_path / "junk.wav"
    junk.write_bytes(b"this is not audio at all")
    rows[2] = dataclasses.replace(rows[2], audio_path=junk)
    with pytest.raises(MediaError, match=r"junk\.wav' of item 3 is not readable audio"):
        build_release(rows, make_spec(), CardContext(), tmp_path / "rel", code="x")


def test_items_without_audio_load_with_an_empty_audio_column(tmp_path):
    rows = make_rows(tmp_path / "clips", n_sources=3, per_source=2)
    rows = [dataclasses.replace(r, audio_path=None, start_s=None, end_s=None) if r.source_id == 101 else r for r in rows]
    build = build_release(rows, make_spec(), CardContext(), tmp_path / "rel", code="x")
    ds = load(build.folder, tmp_path / "cache")
    texts = {e["item_id"]: e["audio"] for s in ds for e in ds[s]}
    assert [i for i, audio in sorted(texts.items()) if audio is None] == [r.item_id for r in rows if r.source_id == 101]


def snapshot(folder: Path) -> dict[str, bytes]:
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def test_a_folder_with_a_foreign_manifest_and_user_files_is_left_untouched(release_inputs, tmp_path):
    # Regression: `export hf --out DIR` deleted any folder that had a manifest.json.
    rows, spec = release_inputs
    mine = tmp_path / "thesis"
    (mine / "data").mkdir(parents=True)
    (mine / "manifest.json").write_text('{"name": "my thesis corpus", "files": ["data/take1.wav"]}')
    (mine / "data" / "take1.wav").write_bytes(b"RIFF my only recording")
    (mine / "notes.txt").write_text("keep me")
    before = snapshot(mine)
    with pytest.raises(ConflictError, match=(
        r"thesis' is not empty and holds no release manifest \(it holds data, data/take1\.wav, manifest\.json, notes\.txt\); "
        r"refusing to overwrite it and nothing was deleted — give an empty or new folder with --out"
    )):
        build_release(rows, spec, CardContext(), mine, code="x")
    assert snapshot(mine) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["thesis"]


def test_a_release_of_another_project_is_not_replaced(release_inputs, tmp_path):
    rows, spec = release_inputs
    other = build_release(rows, dataclasses.replace(spec, project="other"), CardContext(), tmp_path / "rel", code="x")
    before = snapshot(other.folder)
    with pytest.raises(ConflictError, match=r"rel' holds a hf export of project 'other', not a hf export of 'demo'; nothing was deleted"):
        build_release(rows, spec, CardContext(), tmp_path / "rel", code="x")
    assert snapshot(other.folder) == before


def test_a_release_folder_holding_files_a_release_does_not_write_is_not_replaced(release_inputs, tmp_path):
    rows, spec = release_inputs
    first = build_release(rows, spec, CardContext(), tmp_path / "rel", code="x")
    (first.folder / "data" / "default" / "my-extra.parquet").write_bytes(b"mine")
    (first.folder / "analysis").mkdir()
    before = snapshot(first.folder)
    with pytest.raises(ConflictError, match=(
        r"rel' holds a hf export of 'demo' plus files an export does not write "
        r"\(analysis, data/default/my-extra\.parquet\); nothing was deleted — move them out of the folder"
    )):
        build_release(rows, dataclasses.replace(spec, version="1.1.0"), CardContext(), tmp_path / "rel", code="x")
    assert snapshot(first.folder) == before and (first.folder / "analysis").is_dir()


def test_a_previous_release_of_the_same_project_is_replaced(release_inputs, tmp_path):
    rows, spec = release_inputs
    build_release(rows, spec, CardContext(), tmp_path / "rel", code="x")
    again = build_release(rows[:12], dataclasses.replace(spec, version="1.1.0"), CardContext(), tmp_path / "rel", code="x")
    manifest = json.loads((again.folder / "manifest.json").read_text())
    assert (manifest["format"], manifest["project"], manifest["version"]) == ("hf", "demo", "1.1.0")
    assert verify_manifest(again.folder) == [] and manifest["inputs"]["items"] == 12
    assert [p.name for p in tmp_path.iterdir()] == ["rel"]
