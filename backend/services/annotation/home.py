"""Where the local Label Studio setup lives (venv, template, instances, state file) and the admin client of an instance."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from annotation_configs.labelstudio import instances as ls
from annotation_configs.labelstudio.install import (
    LABEL_STUDIO_VERSION,
    LabelStudioInstall,
    ensure_installed,
)
from annotation_configs.labelstudio import LabelStudioClient
from backend.db.models import LabelStudioInstanceRow
from backend.domain import InstanceRunStatus
from backend.settings import Settings

ADJUDICATION_INSTANCE = "adjudication"
WEBHOOK_PATH = "/webhooks/labelstudio"
SECRET_HEADER = "X-Mmcurate-Secret"
INSTANCE_HEADER = "X-Mmcurate-Instance"
GATEWAY_PREFIX = "/a"


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


@dataclass(frozen=True)
class LabelStudioHome:
    """Folders of the local Label Studio setup: venv, template, instances, their secrets and document roots.

    ``media_root`` is where mmcurate's media live (the data dir); each instance serves only
    what is linked into its own document root under ``serve_root`` (default: ``serve`` beside
    ``instances_dir``), see ``serving``.
    """

    venv: Path
    template_dir: Path
    instances_dir: Path
    state_file: Path
    media_root: Path
    shared_url: str | None = None
    shared_token: str | None = None
    serve_root: Path | None = None
    gateway_url: str | None = None
    idle_s: float = 1800.0
    webhook_url: str | None = None

    @classmethod
    def from_settings(cls, settings: Settings) -> "LabelStudioHome":
        venv = settings.labelstudio_venv_dir
        return cls(
            venv=venv,
            template_dir=venv.parent / f"labelstudio-template-{LABEL_STUDIO_VERSION}",
            instances_dir=settings.labelstudio_dir / "instances",
            state_file=settings.labelstudio_dir / "instances.json",
            media_root=settings.data_dir,
            shared_url=settings.labelstudio_url,
            shared_token=settings.labelstudio_token,
            serve_root=settings.labelstudio_dir / "serve",
            gateway_url=settings.gateway_url,
            idle_s=settings.instance_idle_minutes * 60,
            webhook_url=receiver_url(settings),
        )

    def document_root(self, name: str) -> Path:
        """The only folder instance ``name`` serves files from."""
        return (self.serve_root or self.instances_dir.parent / "serve") / name

    def public_url(self, name: str) -> str | None:
        """Where people open instance ``name``: its path on the gateway (None in shared mode)."""
        return None if self.shared or not self.gateway_url else f"{self.gateway_url.rstrip('/')}{GATEWAY_PREFIX}/{name}"

    def address(self, instance: ls.LabelStudioInstance) -> str:
        """Where a person opens ``instance`` under this configuration (the instance follows on its next start)."""
        url = self.public_url(instance.name) if instance.managed else None
        return f"{url}/" if url else instance.address

    @property
    def lock_ttl_s(self) -> int:
        """How long a task an annotator opened holds their instance up without a request (4 x the idle time)."""
        return int(self.idle_s * 4)

    @property
    def activity_dir(self) -> Path:
        """One file per instance whose modification time is its last use (gateway requests, CLI commands)."""
        return self.instances_dir.parent / "activity"

    @property
    def synced_dir(self) -> Path:
        """What was last reconciled of each stopped instance (see ``lifecycle``)."""
        return self.instances_dir.parent / "synced"

    @property
    def shared(self) -> bool:
        """Shared mode: one Label Studio the deployment runs (and enforces roles in) itself."""
        return self.shared_url is not None

    def install(self) -> LabelStudioInstall:
        return ensure_installed(self.venv)

    def state(self) -> ls.InstanceState:
        return ls.InstanceState(self.state_file)

    def save(self, instance: ls.LabelStudioInstance) -> None:
        self.state().put(instance)


def receiver_url(settings: Settings) -> str | None:
    """Where instances send webhooks (None when ``MMCURATE_PUBLIC_URL`` is unset: then only pulls sync)."""
    return settings.public_url.rstrip("/") + WEBHOOK_PATH if settings.public_url else None


def resolve_home(settings: Settings, home: LabelStudioHome | None) -> LabelStudioHome:
    return home or LabelStudioHome.from_settings(settings)


def mirror_instance(session: Session, instance: ls.LabelStudioInstance, annotator_id: int | None = None) -> LabelStudioInstanceRow:
    """Write ``instance``'s public fields into the labelstudio_instances table."""
    row = session.scalar(select(LabelStudioInstanceRow).where(LabelStudioInstanceRow.name == instance.name))
    if row is None:
        row = LabelStudioInstanceRow(name=instance.name, role=instance.role, url=instance.url)
        session.add(row)
    row.role = instance.role
    row.url = instance.url
    row.port = instance.port if instance.managed else None
    row.pid = instance.pid
    row.data_dir = str(instance.data_dir) if instance.managed else None
    row.admin_email = instance.admin_email
    running = ls.is_running(instance) if instance.managed else True
    row.status = InstanceRunStatus.RUNNING if running else InstanceRunStatus.STOPPED
    if running and row.started_at is None:
        row.started_at = utcnow()
    if not running:
        row.started_at = None
    if annotator_id is not None:
        row.annotator_id = annotator_id
    session.flush()
    return row


def admin_client(instance: ls.LabelStudioInstance, *, timeout_s: float = 120.0) -> LabelStudioClient:
    return LabelStudioClient(instance.url, instance.admin_token, timeout_s=timeout_s)
