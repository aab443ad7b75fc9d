"""Publishing with the real huggingface_hub client against a loopback Hub (tests/exports/hub_server.py).

What this covers: the HTTP protocol the client speaks for create_repo, preupload, LFS batch and
basic upload, the NDJSON commit, tags, refs, tree listing and file download — not huggingface.co
itself, nor its Xet storage (the client runs with Xet disabled, as it must for a self-hosted Hub
without Xet).
"""

from __future__ import annotations

import dataclasses

import pytest

from backend.domain import ConflictError, ServiceUnavailableError, ValidationError
from exports.build import build_release
from tests.exports.builders import make_context
from tests.exports.hub_server import LoopbackHub

TOKEN = "hf_loopback_test_token"


@pytest.fixture()
def hub(monkeypatch):
    import huggingface_hub.constants as constants

    server = LoopbackHub(token=TOKEN).start()
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", False)  # only 127.0.0.1 is reached
    monkeypatch.setattr(constants, "HF_HUB_DISABLE_XET", True)
    monkeypatch.setattr(constants, "HF_HUB_DISABLE_PROGRESS_BARS", True)
    monkeypatch.setenv("HF_ENDPOINT", server.base_url)
    monkeypatch.setenv("HF_TOKEN", TOKEN)
    yield server
    server.stop()


def publish(folder, repo="mmcurate/demo"):
    from exports.hub import publish_release

    return publish_release(folder, repo)


def test_publish_creates_a_private_repo_one_commit_and_a_version_tag(hub, built_release):
    result = publish(built_release.folder)
    repo = hub.state.repos["mmcurate/demo"]
    assert repo.private
    assert result.created and result.tag == "1.0.0" and repo.tags == {"1.0.0": result.commit_oid}
    head = repo.head()
    assert head.oid == result.commit_oid and head.title == "Release 1.0.0"
    assert len(repo.commits) == 2  # the repo's initial commit and the release
    assert set(head.files) == {".gitattributes", *built_release.manifest["files"], "manifest.json"}
    for rel in built_release.manifest["files"]:
        stored = head.files[rel]
        content = hub.state.lfs[stored.lfs_sha256] if stored.lfs_sha256 else stored.content
        assert content == (built_release.folder / rel).read_bytes()
    assert all(head.files[p].lfs_sha256 for p in head.files if p.endswith(".parquet"))


def test_publishing_the_same_version_twice_changes_nothing(hub, built_release):
    first = publish(built_release.folder)
    before = hub.state.snapshot("mmcurate/demo")
    second = publish(built_release.folder)
    assert hub.state.snapshot("mmcurate/demo") == before
    assert (second.created, second.commit_oid) == (False, first.commit_oid)


@pytest.fixture(scope="module")
def next_version(release_inputs, tmp_path_factory):
    """The same rows released again as 1.1.0, cut into smaller shards (new files to upload)."""
    rows, spec = release_inputs
    folder = tmp_path_factory.mktemp("next") / "demo-1.1.0"
    return build_release(rows, dataclasses.replace(spec, version="1.1.0", shard_max_bytes=20_000, row_group_rows=2), make_context(), folder, code="x").folder


def test_a_failed_upload_midway_leaves_the_remote_unchanged_and_a_rerun_finishes(hub, built_release, next_version):
    publish(built_release.folder)
    before = hub.state.snapshot("mmcurate/demo")
    v2 = next_version
    hub.state.fail_next("lfs_upload", after=1)
    with pytest.raises(ServiceUnavailableError, match=r"publishing mmcurate/demo failed.*run the same command again"):
        publish(v2)
    assert hub.state.snapshot("mmcurate/demo") == before
    hub.state.clear_failures()
    result = publish(v2)
    assert result.created and hub.state.repos["mmcurate/demo"].tags == {"1.0.0": before["main"], "1.1.0": result.commit_oid}


def test_a_failed_commit_leaves_the_remote_unchanged(hub, built_release):
    hub.state.repos.clear()
    hub.state.fail_next("commit")
    with pytest.raises(ServiceUnavailableError, match=r"HTTP 507"):
        publish(built_release.folder)
    snap = hub.state.snapshot("mmcurate/demo")
    assert snap["commits"] == 1 and snap["tags"] == {} and set(snap["files"]) == {".gitattributes"}


def test_a_commit_whose_tag_failed_is_tagged_by_the_rerun_without_a_new_commit(hub, built_release):
    hub.state.fail_next("tag")
    with pytest.raises(ServiceUnavailableError):
        publish(built_release.folder)
    committed = hub.state.snapshot("mmcurate/demo")
    assert committed["tags"] == {}
    hub.state.clear_failures()
    result = publish(built_release.folder)
    after = hub.state.snapshot("mmcurate/demo")
    assert after["main"] == committed["main"] == result.commit_oid and after["commits"] == committed["commits"]
    assert after["tags"] == {"1.0.0": committed["main"]}


def test_a_new_version_replaces_files_the_release_no_longer_has(hub, built_release, release_inputs, tmp_path):
    publish(built_release.folder)
    rows, spec = release_inputs
    smaller = build_release(rows[:12], dataclasses.replace(spec, version="2.0.0"), make_context(), tmp_path / "v2", code="x")
    publish(smaller.folder)
    head = hub.state.repos["mmcurate/demo"].head()
    assert set(head.files) == {".gitattributes", *smaller.manifest["files"], "manifest.json"}


def test_the_same_version_with_other_content_is_a_conflict(hub, built_release, release_inputs, tmp_path):
    publish(built_release.folder)
    rows, spec = release_inputs
    other = build_release(rows[:12], spec, make_context(), tmp_path / "other", code="x")
    with pytest.raises(ConflictError, match=r"already has release '1\.0\.0' with different files; bump the version"):
        publish(other.folder)


def test_a_wrong_token_is_reported_as_such(hub, built_release, monkeypatch):
    monkeypatch.setenv("HF_TOKEN", "hf_wrong")
    with pytest.raises(ValidationError, match=r"refused the token for mmcurate/demo \(HTTP 401\); set HF_TOKEN"):
        publish(built_release.folder)
    assert hub.state.repos == {}


def test_a_folder_that_differs_from_its_manifest_is_not_published(hub, built_release, tmp_path):
    import shutil

    copy = tmp_path / "copy"
    shutil.copytree(built_release.folder, copy)
    (copy / "README.md").write_text("edited by hand")
    with pytest.raises(ValidationError, match=r"differs from its manifest \(changed: README.md\); rebuild it"):
        publish(copy)
    assert hub.state.repos == {}


def test_a_repo_name_without_an_owner_is_refused(built_release):
    with pytest.raises(ValidationError, match=r"repository 'demo' must look like ORG/NAME"):
        publish(built_release.folder, repo="demo")


