"""`mmcurate labelstudio start | stop | status`: the local Label Studio instances."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timezone

from sqlalchemy.orm import Session

from annotation_configs.labelstudio import instances as ls
from backend.domain import InstanceRole, Progress
from backend.services.annotation.home import (
    LabelStudioHome,
    mirror_instance,
    resolve_home,
)
from backend.services.annotation.lifecycle import ensure_running, last_activity
from backend.services.annotation.serving import serve_instance_tasks
from backend.settings import Settings


@dataclass(frozen=True)
class InstanceStatus:
    """One instance: whose it is, where people open it (``url``), whether it is up, and when it was last used."""

    name: str
    role: str
    annotator: str | None
    url: str
    pid: int | None
    running: bool
    last_used: str | None = None


def _status(instance: ls.LabelStudioInstance, home: LabelStudioHome) -> InstanceStatus:
    running = ls.is_running(instance) if instance.managed else ls.health(instance.url)
    used = last_activity(home, instance.name)
    stamp = datetime.fromtimestamp(used, timezone.utc).isoformat(timespec="seconds") if used else None
    return InstanceStatus(instance.name, instance.role, instance.annotator, home.address(instance),
                          instance.pid if running else None, running, stamp)


def start_instances(
    session: Session, settings: Settings, *, home: LabelStudioHome | None = None, on_progress: Progress | None = None
) -> list[InstanceStatus]:
    """Install Label Studio and its template when missing, then (re)start every instance that is down."""
    home = resolve_home(settings, home)
    install = None
    if not home.shared:
        install = home.install()
        ls.ensure_template(install, home.template_dir, home.media_root, on_progress=on_progress)
    records = list(home.state().load().values())
    out = []
    for done, instance in enumerate(records, start=1):
        if instance.managed:
            instance = ensure_running(home, _moved(session, settings, home, instance))
        mirror_instance(session, instance)
        out.append(_status(instance, home))
        if on_progress:
            on_progress("start instances", done, len(records))
    return out


def _moved(session: Session, settings: Settings, home: LabelStudioHome, instance: ls.LabelStudioInstance
           ) -> ls.LabelStudioInstance:
    """``instance`` serving from a document root of its own (stopped, to restart, when it had to move).

    An instance made before per-instance document roots served the whole data dir: it moves
    to its own root, into which the media of its tasks are linked first. Everything else that
    changed (address, webhook) is applied by ``ensure_running``.
    """
    root = home.document_root(instance.name)
    if instance.media_root == root:
        return instance
    wanted = replace(instance, media_root=root)
    row = mirror_instance(session, instance)
    serve_instance_tasks(session, settings.data_dir, wanted, row.id)
    wanted = ls.stop(wanted)
    home.save(wanted)
    return wanted


def stop_instances(session: Session, settings: Settings, *, home: LabelStudioHome | None = None) -> list[InstanceStatus]:
    """Stop every local instance (shared servers are left alone)."""
    home = resolve_home(settings, home)
    out = []
    for instance in home.state().load().values():
        if instance.managed:
            instance = ls.stop(instance)
            home.save(instance)
        mirror_instance(session, instance)
        out.append(_status(instance, home))
    return out


def instance_statuses(settings: Settings, *, home: LabelStudioHome | None = None) -> list[InstanceStatus]:
    """Each instance, whose it is, and whether it answers."""
    home = resolve_home(settings, home)
    return [_status(i, home) for i in home.state().load().values()]


def new_instance(
    home: LabelStudioHome, name: str, role: str, annotator: str | None, *, webhook_url: str | None = None
) -> ls.LabelStudioInstance:
    if home.shared:
        return ls.LabelStudioInstance(
            name=name, role=InstanceRole.SHARED, port=0, data_dir=home.instances_dir / name, media_root=home.media_root,
            secret_key="", admin_email="", admin_password="", admin_token=home.shared_token or "",
            annotator=annotator, external_url=home.shared_url,
        )
    install = home.install()
    template = ls.ensure_template(install, home.template_dir, home.media_root)
    data_dir = home.instances_dir / name
    if data_dir.exists() and name not in home.state().load():
        import shutil

        shutil.rmtree(data_dir)  # left by a run that failed before recording it
    taken = [i.port for i in home.state().load().values()]
    return ls.create_instance(
        install, template, data_dir, home.document_root(name), name=name, role=role, annotator=annotator,
        avoid_ports=taken, webhook_url=webhook_url, public_url=home.public_url(name), lock_ttl_s=home.lock_ttl_s,
    )
