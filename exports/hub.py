"""Publish a release folder to a Hugging Face Hub (huggingface.co or a self-hosted one).

One release is one commit (``create_commit`` is atomic on the Hub: files uploaded before it
stay invisible until it lands), followed by a tag named after the version. So a publish that
fails midway leaves the remote as it was, and publishing the same version again finds its
tag and changes nothing. A run that committed but failed before tagging is finished by the
next run: the Hub reports every file unchanged, no new commit is made, and the tag is added.

Endpoint and token come from ``HF_ENDPOINT`` and ``HF_TOKEN`` (read when publishing, not at
import). A self-hosted Hub without Xet storage needs ``HF_HUB_DISABLE_XET=1`` so that large
files go through the plain LFS protocol.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from backend.domain import ConflictError, ServiceUnavailableError, ValidationError
from exports.manifest import MANIFEST_NAME, verify_manifest

ProgressFn = Callable[[str, int, int], None]
KEEP_REMOTE = (".gitattributes",)
_RETRY = "a release lands as one commit plus its tag, so run the same command again to finish it"


@dataclass(frozen=True)
class PublishResult:
    """Where a release landed: repository, tag, commit, and whether this call created it."""

    repo_id: str
    tag: str
    commit_oid: str
    created: bool
    url: str


def _api(endpoint: str | None, token: str | None):
    from huggingface_hub import HfApi

    return HfApi(endpoint=endpoint or os.environ.get("HF_ENDPOINT") or None, token=token or os.environ.get("HF_TOKEN") or None)


def publish_release(
    folder: Path,
    repo_id: str,
    *,
    private: bool = True,
    endpoint: str | None = None,
    token: str | None = None,
    on_progress: ProgressFn | None = None,
) -> PublishResult:
    """Push ``folder`` (a built release with ``manifest.json``) to dataset repo ``repo_id``.

    The commit replaces the repository's files by the release's (files of an earlier
    release that this one lacks are deleted in the same commit), with the message
    ``Release <version>``; the tag is ``<version>``. Raises ``ConflictError`` if the tag
    already exists for different content.
    """
    import httpx
    from huggingface_hub import CommitOperationAdd, CommitOperationDelete
    from huggingface_hub.errors import HfHubHTTPError

    folder = Path(folder)
    if "/" not in repo_id or repo_id.count("/") != 1 or not all(repo_id.split("/")):
        raise ValidationError(f"repository {repo_id!r} must look like ORG/NAME")
    if not (folder / MANIFEST_NAME).is_file():
        raise ValidationError(f"{str(folder)!r} holds no {MANIFEST_NAME}; build it with `mmcurate export hf` first")
    problems = verify_manifest(folder)
    if problems:
        raise ValidationError(f"release folder {str(folder)!r} differs from its manifest ({'; '.join(problems[:5])}); rebuild it")
    manifest = json.loads((folder / MANIFEST_NAME).read_text(encoding="utf-8"))
    version = manifest["version"]
    api = _api(endpoint, token)
    steps = 4
    progress = on_progress or (lambda step, done, total: None)
    try:
        repo_url = api.create_repo(repo_id, repo_type="dataset", private=private, exist_ok=True)
        progress("repository", 1, steps)
        refs = api.list_repo_refs(repo_id, repo_type="dataset")
        tagged = {t.name: t.target_commit for t in refs.tags}
        if version in tagged:
            with tempfile.TemporaryDirectory() as tmp:
                remote_manifest = api.hf_hub_download(
                    repo_id, MANIFEST_NAME, repo_type="dataset", revision=tagged[version], cache_dir=tmp
                )
                remote_files = json.loads(Path(remote_manifest).read_text(encoding="utf-8"))["files"]
            if remote_files != manifest["files"]:
                raise ConflictError(
                    f"{repo_id} already has release {version!r} with different files; bump the version (--version) to publish this build"
                )
            progress("done", steps, steps)
            return PublishResult(repo_id, version, tagged[version], False, str(repo_url))
        main = next((b.target_commit for b in refs.branches if b.name == "main"), None)
        remote_files = set(api.list_repo_files(repo_id, repo_type="dataset")) if main else set()
        local_files = sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file())
        operations: list = [CommitOperationAdd(path_in_repo=rel, path_or_fileobj=str(folder / rel)) for rel in local_files]
        operations += [
            CommitOperationDelete(path_in_repo=rel)
            for rel in sorted(remote_files - set(local_files))
            if rel not in KEEP_REMOTE
        ]
        progress("upload", 2, steps)
        commit = api.create_commit(
            repo_id,
            operations,
            commit_message=f"Release {version}",
            commit_description=f"{manifest['project']} release {version} ({manifest['inputs']['items']} items, code {manifest['code_version']})",
            repo_type="dataset",
            parent_commit=main,
        )
        progress("commit", 3, steps)
        api.create_tag(repo_id, tag=version, revision=commit.oid, tag_message=f"Release {version}", repo_type="dataset")
        progress("done", steps, steps)
        return PublishResult(repo_id, version, commit.oid, True, str(repo_url))
    except HfHubHTTPError as exc:
        status = exc.response.status_code if exc.response is not None else None
        if status in (401, 403):
            raise ValidationError(f"the Hub refused the token for {repo_id} (HTTP {status}); set HF_TOKEN to a token with write access") from None
        raise ServiceUnavailableError(f"publishing {repo_id} failed (HTTP {status}): {_one_line(exc)}; {_RETRY}") from None
    except (OSError, RuntimeError, httpx.HTTPError) as exc:
        cause = f" ({_one_line(exc.__cause__)})" if exc.__cause__ is not None else ""
        raise ServiceUnavailableError(f"publishing {repo_id} failed: {_one_line(exc)}{cause}; {_RETRY}") from None


def _one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split())
