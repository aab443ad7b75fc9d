"""Instances up only while they are used: started on demand, stopped when idle, nothing lost either way.

An idle Label Studio holds ~275 MB; a campaign of a hundred annotators cannot keep them all
up. So an instance runs while someone uses it — a request through the gateway, or a CLI
command (push, pull, simulate, adjudicate) — and is stopped after ``idle_s`` without use.
Its data stay on disk; a stopped instance starts again in ~5 s.

Shared between processes (the gateway in ``mmcurate serve`` and any CLI command) through
files under the Label Studio dir: a lock per instance around start and stop, an *activity*
file per instance whose modification time is its last use, and a *synced* record per
instance saying which mmcurate projects were reconciled at which state of its database —
so a pull passes over a stopped instance that changed nothing since, instead of starting it.
"""

from __future__ import annotations

import fcntl
import json
import os
import sqlite3
import time
from collections.abc import Collection, Iterator
from contextlib import contextmanager
from dataclasses import replace
from datetime import datetime, timezone

from annotation_configs.labelstudio import instances as ls
from backend.domain import ValidationError
from backend.services.annotation.home import LabelStudioHome

DATABASE = "label_studio.sqlite3"


def desired(home: LabelStudioHome, instance: ls.LabelStudioInstance) -> ls.LabelStudioInstance:
    """``instance`` as this configuration runs it: its document root, webhook, gateway address and lock time."""
    if not instance.managed:
        return instance
    return replace(instance, media_root=home.document_root(instance.name), webhook_url=home.webhook_url,
                   public_url=home.public_url(instance.name), lock_ttl_s=home.lock_ttl_s)


@contextmanager
def instance_lock(home: LabelStudioHome, name: str) -> Iterator[None]:
    """Held around every start and stop of instance ``name``, by every process."""
    home.instances_dir.mkdir(parents=True, exist_ok=True)
    with open(home.instances_dir / f".{name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        yield


def touch(home: LabelStudioHome, name: str) -> float:
    """Mark instance ``name`` used now; returns the time written."""
    home.activity_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    path = home.activity_dir / name
    path.touch()
    now = time.time()
    os.utime(path, (now, now))
    return now


def last_activity(home: LabelStudioHome, name: str) -> float | None:
    """When instance ``name`` was last used (seconds since the epoch), None when never."""
    try:
        return (home.activity_dir / name).stat().st_mtime
    except FileNotFoundError:
        return None


def ensure_running(home: LabelStudioHome, instance: ls.LabelStudioInstance) -> ls.LabelStudioInstance:
    """``instance`` up with this configuration: started when down, restarted when its settings changed.

    An instance made before per-instance document roots must be moved first
    (``mmcurate labelstudio start`` does, with the database at hand).
    """
    if not instance.managed:
        return instance
    with instance_lock(home, instance.name):
        current = home.state().load().get(instance.name, instance)
        wanted = desired(home, current)
        if wanted.media_root != current.media_root:
            raise ValidationError(
                f"instance {current.name!r} still serves the whole data dir (made by an earlier mmcurate); run "
                "`mmcurate labelstudio start` once to move it to a document root of its own")
        if ls.is_running(current):
            if wanted == current:
                touch(home, current.name)
                return current
            current = ls.stop(current)  # its address, webhook or lock time changed: restart with them
        wanted = replace(wanted, pid=None)
        if not ls.port_is_free(wanted.port) and not ls.stragglers(wanted.data_dir):
            # something else took the port while the instance was stopped: it moves to a free one
            taken = [r.port for r in home.state().load().values()]
            wanted = replace(wanted, port=ls.free_port(taken))
        started = ls.start(home.install(), wanted)
        home.save(started)
        touch(home, started.name)
        if started.public_url != current.public_url:  # a new address: its tasks' media URLs follow
            from backend.services.annotation.home import admin_client
            from backend.services.annotation.serving import repair_media_urls

            repair_media_urls(admin_client(started), started)
        return started


def stop_instance(home: LabelStudioHome, instance: ls.LabelStudioInstance) -> ls.LabelStudioInstance:
    """Stop ``instance`` under its lock and record it stopped; returns the record."""
    if not instance.managed:
        return instance
    with instance_lock(home, instance.name):
        current = home.state().load().get(instance.name, instance)
        stopped = ls.stop(current)
        home.save(stopped)
        return stopped


@contextmanager
def in_use(home: LabelStudioHome, instance: ls.LabelStudioInstance) -> Iterator[ls.LabelStudioInstance]:
    """``instance`` running for the block; stopped after it when it was down before and nobody else used it since.

    "Somebody else" is the gateway (an annotator who logged in meanwhile) or another command:
    their use moves the activity time past the one this block wrote.
    """
    was_up = instance.managed and ls.is_running(home.state().load().get(instance.name, instance))
    running = ensure_running(home, instance)
    mine = last_activity(home, instance.name)
    try:
        yield running
    finally:
        if instance.managed and not was_up and last_activity(home, instance.name) == mine:
            stop_instance(home, running)


def open_tasks(instance: ls.LabelStudioInstance) -> int:
    """Tasks the annotator has open in the labeling view (Label Studio's unexpired task locks).

    Read from the instance's own database, read-only. A database that cannot be read now
    (locked) counts as one open task: an instance is never stopped on a guess.
    """
    database = instance.data_dir / DATABASE
    if not database.is_file():
        return 0
    now = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M:%S.%f")
    try:
        connection = sqlite3.connect(f"file:{database}?mode=ro", uri=True, timeout=2.0)
    except sqlite3.Error:
        return 1
    try:
        return int(connection.execute("SELECT COUNT(*) FROM tasks_tasklock WHERE expire_at > ?", (now,)).fetchone()[0])
    except sqlite3.OperationalError as exc:
        return 0 if "no such table" in str(exc) else 1
    finally:
        connection.close()


def database_fingerprint(instance: ls.LabelStudioInstance) -> str | None:
    """Size and modification time of the instance's database files: any write changes it."""
    parts = []
    for suffix in ("", "-wal"):
        try:
            stat = (instance.data_dir / f"{DATABASE}{suffix}").stat()
        except FileNotFoundError:
            continue
        parts.append(f"{stat.st_size}:{stat.st_mtime_ns}")
    return "/".join(parts) or None


def record_synced(home: LabelStudioHome, instance: ls.LabelStudioInstance, projects: Collection[int]) -> None:
    """Record that mmcurate ``projects`` hold everything the (stopped) instance's database holds now."""
    fingerprint = database_fingerprint(instance)
    if fingerprint is None:
        return
    home.synced_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    path = home.synced_dir / f"{instance.name}.json"
    tmp = path.with_suffix(f".{os.getpid()}.tmp")
    tmp.write_text(json.dumps({"fingerprint": fingerprint, "projects": sorted(set(projects))}))
    tmp.replace(path)


def synced_projects(home: LabelStudioHome, instance: ls.LabelStudioInstance) -> set[int]:
    """The mmcurate projects that hold all of the instance's judgements (empty once its database changed)."""
    path = home.synced_dir / f"{instance.name}.json"
    try:
        raw = json.loads(path.read_text())
    except (FileNotFoundError, json.JSONDecodeError):
        return set()
    if raw.get("fingerprint") != database_fingerprint(instance):
        return set()
    return {int(p) for p in raw.get("projects", [])}

