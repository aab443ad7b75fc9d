"""A loopback Hugging Face Hub: the HTTP endpoints the real ``huggingface_hub`` client calls to
create a dataset repo, commit a release (preupload, LFS batch + basic upload, NDJSON commit),
tag it, list refs and files, read repo info and download a file.

It keeps git-like state in memory — commits with parents, branch ``main``, tags, an LFS
object store — and applies a commit all at once or not at all, as the Hub does. Failures can
be injected per endpoint (``fail_next``) to test what a publish leaves behind when it breaks.

Endpoint shapes follow huggingface_hub 2.x (``hf_api.py``, ``_commit_api.py``, ``lfs.py``,
``file_download.py``). Xet storage is not implemented: clients must run with
``HF_HUB_DISABLE_XET`` so large files use the LFS protocol.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

import yaml

LFS_SUFFIXES = (".parquet", ".wav", ".mp4", ".flac", ".mp3", ".arrow")
LFS_MIN_BYTES = 10 * 1024 * 1024
GITATTRIBUTES = b"*.parquet filter=lfs diff=lfs merge=lfs -text\n*.wav filter=lfs diff=lfs merge=lfs -text\n"


def git_blob_oid(content: bytes) -> str:
    """The git object id of a blob (what the Hub reports for a regular file)."""
    return hashlib.sha1(b"blob %d\0" % len(content) + content).hexdigest()


@dataclass(frozen=True)
class StoredFile:
    size: int
    oid: str
    content: bytes | None = None
    lfs_sha256: str | None = None


@dataclass
class Commit:
    oid: str
    parent: str | None
    title: str
    description: str
    files: dict[str, StoredFile]


@dataclass
class Repo:
    repo_id: str
    private: bool
    commits: dict[str, Commit] = field(default_factory=dict)
    main: str = ""
    tags: dict[str, str] = field(default_factory=dict)

    def head(self) -> Commit:
        return self.commits[self.main]

    def resolve(self, revision: str) -> Commit | None:
        rev = unquote(revision)
        if rev == "main":
            return self.head()
        if rev in self.tags:
            return self.commits[self.tags[rev]]
        if rev in self.commits:
            return self.commits[rev]
        return None


class HubState:
    """Everything the loopback Hub holds; tests read it to check what a publish changed."""

    def __init__(self) -> None:
        self.repos: dict[str, Repo] = {}
        self.lfs: dict[str, bytes] = {}
        self.lock = threading.Lock()
        self.requests: list[tuple[str, str]] = []
        self._failures: dict[str, list[int]] = {}

    def fail_next(self, endpoint: str, *, after: int = 0, status: int = 507) -> None:
        """Make the call number ``after + 1`` (and later ones) to ``endpoint`` fail with ``status``.

        ``endpoint`` is one of: create, preupload, lfs_batch, lfs_upload, commit, tag.
        """
        self._failures[endpoint] = [after, status]

    def clear_failures(self) -> None:
        self._failures.clear()

    def should_fail(self, endpoint: str) -> int | None:
        rule = self._failures.get(endpoint)
        if rule is None:
            return None
        if rule[0] > 0:
            rule[0] -= 1
            return None
        return rule[1]

    def snapshot(self, repo_id: str) -> dict[str, Any]:
        """What a reader of the repository sees: main, tags and file oids at main."""
        repo = self.repos[repo_id]
        return {
            "main": repo.main,
            "commits": len(repo.commits),
            "tags": dict(repo.tags),
            "files": {p: f.oid for p, f in repo.head().files.items()},
        }


def _new_oid(parent: str | None, title: str, files: dict[str, StoredFile]) -> str:
    h = hashlib.sha1()
    h.update((parent or "").encode())
    h.update(title.encode())
    for path in sorted(files):
        h.update(f"{path}\0{files[path].oid}\n".encode())
    return h.hexdigest()


class HubHandler(BaseHTTPRequestHandler):
    server: "LoopbackHub"
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 — silence the default stderr log
        return

    # -- helpers -------------------------------------------------------------------------
    @property
    def state(self) -> HubState:
        return self.server.state

    def _body(self) -> bytes:
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            chunks = []
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip(), 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass
                    return b"".join(chunks)
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
        n = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(n) if n else b""

    def _send(self, status: int, payload: Any = None, *, headers: dict[str, str] | None = None, raw: bytes | None = None) -> None:
        body = raw if raw is not None else (json.dumps(payload).encode() if payload is not None else b"")
        self.send_response(status)
        self.send_header("Content-Type", "application/json" if raw is None else "application/octet-stream")
        self.send_header("Content-Length", str(len(body)))
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def _error(self, status: int, message: str, code: str | None = None) -> None:
        headers = {"X-Error-Message": message}
        if code:
            headers["X-Error-Code"] = code
        self._send(status, {"error": message}, headers=headers)

    def _authorised(self) -> bool:
        token = self.server.token
        if token is None:
            return True
        if self.headers.get("Authorization") != f"Bearer {token}":
            self._error(401, "Invalid credentials in Authorization header")
            return False
        return True

    def _repo(self, repo_id: str) -> Repo | None:
        repo = self.state.repos.get(repo_id)
        if repo is None:
            self._error(404, f"Repository not found: {repo_id}", "RepoNotFound")
        return repo

    def _injected(self, endpoint: str) -> bool:
        status = self.state.should_fail(endpoint)
        if status is not None:
            self._error(status, f"injected failure on {endpoint}")
            return True
        return False

    # -- routing -------------------------------------------------------------------------
    def do_GET(self) -> None:
        self._route("GET")

    def do_HEAD(self) -> None:
        self._route("HEAD")

    def do_POST(self) -> None:
        self._route("POST")

    def do_PUT(self) -> None:
        self._route("PUT")

    ROUTES: list[tuple[str, re.Pattern[str], str]] = [
        ("POST", re.compile(r"^/api/repos/create$"), "create_repo"),
        ("POST", re.compile(r"^/api/validate-yaml$"), "validate_yaml"),
        ("GET", re.compile(r"^/api/datasets/(?P<repo>[^/]+/[^/]+)/refs$"), "refs"),
        ("GET", re.compile(r"^/api/datasets/(?P<repo>[^/]+/[^/]+)/revision/(?P<rev>[^/]+)$"), "repo_info"),
        ("GET", re.compile(r"^/api/datasets/(?P<repo>[^/]+/[^/]+)$"), "repo_info"),
        ("GET", re.compile(r"^/api/datasets/(?P<repo>[^/]+/[^/]+)/tree/(?P<rev>[^/]+)(?:/(?P<path>.*))?$"), "tree"),
        ("POST", re.compile(r"^/api/datasets/(?P<repo>[^/]+/[^/]+)/preupload/(?P<rev>[^/]+)$"), "preupload"),
        ("POST", re.compile(r"^/api/datasets/(?P<repo>[^/]+/[^/]+)/commit/(?P<rev>[^/]+)$"), "commit"),
        ("POST", re.compile(r"^/api/datasets/(?P<repo>[^/]+/[^/]+)/tag/(?P<rev>[^/]+)$"), "tag"),
        ("POST", re.compile(r"^/datasets/(?P<repo>[^/]+/[^/]+)\.git/info/lfs/objects/batch$"), "lfs_batch"),
        ("PUT", re.compile(r"^/lfs-upload/(?P<oid>[0-9a-f]{64})$"), "lfs_upload"),
        ("GET", re.compile(r"^/datasets/(?P<repo>[^/]+/[^/]+)/resolve/(?P<rev>[^/]+)/(?P<path>.+)$"), "resolve"),
        ("HEAD", re.compile(r"^/datasets/(?P<repo>[^/]+/[^/]+)/resolve/(?P<rev>[^/]+)/(?P<path>.+)$"), "resolve"),
    ]

    def _route(self, method: str) -> None:
        url = urlsplit(self.path)
        self.state.requests.append((method, url.path))
        self.query = parse_qs(url.query)
        for m, pattern, name in self.ROUTES:
            match = pattern.match(url.path)
            if m == method and match:
                if name != "lfs_upload" and not self._authorised():
                    return
                with self.state.lock:
                    getattr(self, f"h_{name}")(**{k: v for k, v in match.groupdict().items()})
                return
        self._error(404, f"no route for {method} {url.path}")

    # -- endpoints -----------------------------------------------------------------------
    def h_create_repo(self) -> None:
        if self._injected("create"):
            return
        payload = json.loads(self._body())
        repo_id = f"{payload.get('organization')}/{payload['name']}"
        if payload.get("type") != "dataset":
            self._error(400, f"this loopback Hub only holds dataset repos, got type {payload.get('type')!r}")
            return
        url = f"{self.server.base_url}/datasets/{repo_id}"
        if repo_id in self.state.repos:
            self._send(409, {"error": "You already created this dataset repo", "url": url},
                       headers={"X-Error-Message": "You already created this dataset repo"})
            return
        repo = Repo(repo_id=repo_id, private=payload.get("visibility", "private" if payload.get("private") else "public") == "private")
        files = {".gitattributes": StoredFile(len(GITATTRIBUTES), git_blob_oid(GITATTRIBUTES), GITATTRIBUTES)}
        oid = _new_oid(None, "initial commit", files)
        repo.commits[oid] = Commit(oid, None, "initial commit", "", files)
        repo.main = oid
        self.state.repos[repo_id] = repo
        self._send(200, {"url": url, "name": repo_id, "id": repo_id})

    def h_validate_yaml(self) -> None:
        payload = json.loads(self._body())
        content: str = payload["content"]
        errors = []
        if content.startswith("---"):
            header = content.split("---", 2)[1]
            try:
                meta = yaml.safe_load(header) or {}
            except yaml.YAMLError as exc:
                errors.append({"message": f"invalid YAML: {exc}"})
                meta = {}
            if not isinstance(meta.get("license", ""), str):
                errors.append({"message": '"license" must be a string'})
            if not isinstance(meta.get("language", []), (list, str)):
                errors.append({"message": '"language" must be a string or a list'})
        if errors:
            self._send(400, {"errors": errors, "error": "; ".join(e["message"] for e in errors)})
        else:
            self._send(200, {"errors": [], "warnings": []})

    def h_refs(self, repo: str) -> None:
        r = self._repo(repo)
        if r is None:
            return
        self._send(200, {
            "branches": [{"name": "main", "ref": "refs/heads/main", "targetCommit": r.main}],
            "converts": [],
            "tags": [{"name": t, "ref": f"refs/tags/{t}", "targetCommit": oid} for t, oid in sorted(r.tags.items())],
            "pullRequests": [],
        })

    def h_repo_info(self, repo: str, rev: str = "main") -> None:
        r = self._repo(repo)
        if r is None:
            return
        commit = r.resolve(rev)
        if commit is None:
            self._error(404, f"Invalid rev id: {rev}", "RevisionNotFound")
            return
        self._send(200, {
            "id": repo, "author": repo.split("/")[0], "sha": commit.oid, "private": r.private,
            "siblings": [{"rfilename": p} for p in sorted(commit.files)], "tags": [],
        })

    def h_tree(self, repo: str, rev: str, path: str | None = None) -> None:
        r = self._repo(repo)
        if r is None:
            return
        commit = r.resolve(rev)
        if commit is None:
            self._error(404, f"Invalid rev id: {rev}", "RevisionNotFound")
            return
        prefix = (unquote(path).rstrip("/") + "/") if path else ""
        recursive = self.query.get("recursive", ["false"])[0].lower() in ("1", "true")
        entries: list[dict[str, Any]] = []
        folders: set[str] = set()
        for p in sorted(commit.files):
            if not p.startswith(prefix):
                continue
            rest = p[len(prefix):]
            if "/" in rest:
                parts = rest.split("/")
                for k in range(1, len(parts) if recursive else 2):
                    folders.add(prefix + "/".join(parts[:k]))
                if not recursive:
                    continue
            f = commit.files[p]
            entry: dict[str, Any] = {"type": "file", "oid": f.oid, "size": f.size, "path": p}
            if f.lfs_sha256:
                entry["lfs"] = {"oid": f.lfs_sha256, "size": f.size, "pointerSize": 134}
            entries.append(entry)
        entries += [{"type": "directory", "oid": hashlib.sha1(d.encode()).hexdigest(), "size": 0, "path": d} for d in sorted(folders)]
        self._send(200, entries)

    def h_preupload(self, repo: str, rev: str) -> None:
        if self._injected("preupload"):
            return
        r = self._repo(repo)
        if r is None:
            return
        head = r.resolve(rev)
        files = json.loads(self._body())["files"]
        out = []
        for f in files:
            lfs = f["path"].endswith(LFS_SUFFIXES) or f["size"] >= LFS_MIN_BYTES
            entry: dict[str, Any] = {"path": f["path"], "uploadMode": "lfs" if lfs else "regular", "shouldIgnore": False}
            existing = head.files.get(f["path"]) if head else None
            if existing is not None:
                entry["oid"] = existing.lfs_sha256 or existing.oid
            out.append(entry)
        self._send(200, {"files": out, "commitOid": head.oid if head else None})

    def h_lfs_batch(self, repo: str) -> None:
        if self._injected("lfs_batch"):
            return
        if self._repo(repo) is None:
            return
        payload = json.loads(self._body())
        objects = []
        for obj in payload["objects"]:
            entry: dict[str, Any] = {"oid": obj["oid"], "size": obj["size"]}
            if obj["oid"] not in self.state.lfs:
                href = f"{self.server.base_url}/lfs-upload/{obj['oid']}?signature={self.server.sign(obj['oid'])}"
                entry["actions"] = {"upload": {"href": href, "header": {}}}
            objects.append(entry)
        self._send(200, {"transfer": "basic", "objects": objects})

    def h_lfs_upload(self, oid: str) -> None:
        body = self._body()
        if self.query.get("signature", [""])[0] != self.server.sign(oid):
            self._error(403, "upload URL signature does not match (like an expired presigned URL)")
            return
        if self._injected("lfs_upload"):
            return
        if hashlib.sha256(body).hexdigest() != oid:
            self._error(400, f"uploaded content does not match oid {oid}")
            return
        self.state.lfs[oid] = body
        self._send(200, {})

    def h_commit(self, repo: str, rev: str) -> None:
        body = self._body()
        if self._injected("commit"):
            return
        r = self._repo(repo)
        if r is None:
            return
        if unquote(rev) != "main":
            self._error(400, "this loopback Hub commits to main only")
            return
        lines = [json.loads(line) for line in body.splitlines() if line.strip()]
        header = lines[0]["value"]
        parent = header.get("parentCommit")
        if parent is not None and parent != r.main:
            self._error(412, f"A commit has happened since. Please refresh and try again. (head {r.main}, parent {parent})")
            return
        files = dict(r.head().files)
        for line in lines[1:]:
            key, value = line["key"], line["value"]
            path = value["path"]
            if key == "file":
                content = base64.b64decode(value["content"])
                files[path] = StoredFile(len(content), git_blob_oid(content), content)
            elif key == "lfsFile":
                oid = value["oid"]
                if oid not in self.state.lfs:
                    self._error(422, f"LFS object {oid} for {path} was never uploaded")
                    return
                files[path] = StoredFile(value.get("size", len(self.state.lfs[oid])), oid, None, oid)
            elif key == "deletedFile":
                if path not in files:
                    self._error(404, f"A file with this name doesn't exist: {path}", "EntryNotFound")
                    return
                del files[path]
            elif key == "deletedFolder":
                files = {p: f for p, f in files.items() if not p.startswith(path.rstrip("/") + "/")}
            else:
                self._error(400, f"unknown commit operation {key!r}")
                return
        oid = _new_oid(r.main, header["summary"], files)
        r.commits[oid] = Commit(oid, r.main, header["summary"], header.get("description", ""), files)
        r.main = oid
        self._send(200, {"commitUrl": f"{self.server.base_url}/datasets/{repo}/commit/{oid}", "commitOid": oid, "pullRequestUrl": None})

    def h_tag(self, repo: str, rev: str) -> None:
        body = self._body()
        if self._injected("tag"):
            return
        r = self._repo(repo)
        if r is None:
            return
        commit = r.resolve(rev)
        if commit is None:
            self._error(404, f"Invalid rev id: {rev}", "RevisionNotFound")
            return
        tag = json.loads(body)["tag"]
        if tag in r.tags:
            self._error(409, f"Tag {tag} already exists")
            return
        r.tags[tag] = commit.oid
        self._send(200, {})

    def h_resolve(self, repo: str, rev: str, path: str) -> None:
        r = self._repo(repo)
        if r is None:
            return
        commit = r.resolve(rev)
        if commit is None:
            self._error(404, f"Invalid rev id: {rev}", "RevisionNotFound")
            return
        f = commit.files.get(unquote(path))
        if f is None:
            self._error(404, f"Entry not found: {path}", "EntryNotFound")
            return
        content = self.state.lfs[f.lfs_sha256] if f.lfs_sha256 else f.content or b""
        headers = {"X-Repo-Commit": commit.oid, "ETag": f'"{f.lfs_sha256 or f.oid}"'}
        if f.lfs_sha256:
            headers["X-Linked-Etag"] = f'"{f.lfs_sha256}"'
            headers["X-Linked-Size"] = str(f.size)
        self._send(200, raw=content, headers=headers)


class LoopbackHub(ThreadingHTTPServer):
    """The server; ``base_url`` is what ``HF_ENDPOINT`` should be set to."""

    daemon_threads = True

    def __init__(self, token: str | None = None) -> None:
        super().__init__(("127.0.0.1", 0), HubHandler)
        self.state = HubState()
        self.token = token
        self.base_url = f"http://127.0.0.1:{self.server_address[1]}"
        self._thread: threading.Thread | None = None
        self._secret = base64.b16encode(hashlib.sha256(str(id(self)).encode()).digest()).decode()

    def sign(self, oid: str) -> str:
        """The signature of a presigned upload URL (LFS uploads carry no bearer token)."""
        return hashlib.sha256(f"{self._secret}:{oid}".encode()).hexdigest()[:32]

    def start(self) -> "LoopbackHub":
        self._thread = threading.Thread(target=self.serve_forever, name="loopback-hub", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self.shutdown()
        self.server_close()


def serve_hub_for_client(monkeypatch: Any, token: str = "hf_loopback_test_token") -> LoopbackHub:
    """Start a loopback Hub and point the real ``huggingface_hub`` client at it (env and constants,
    restored by ``monkeypatch``); the caller stops it."""
    from huggingface_hub import constants

    hub = LoopbackHub(token=token).start()
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", False)  # only 127.0.0.1 is reached
    monkeypatch.setattr(constants, "HF_HUB_DISABLE_XET", True)
    monkeypatch.setattr(constants, "HF_HUB_DISABLE_PROGRESS_BARS", True)
    monkeypatch.setenv("HF_ENDPOINT", hub.base_url)
    monkeypatch.setenv("HF_TOKEN", token)
    return hub
