"""Secrets mmcurate generates for itself, kept in the data dir (mode 0600) unless set in the env."""

from __future__ import annotations

import json
import os
import secrets
from pathlib import Path

from backend.settings import Settings


def _secrets_file(settings: Settings) -> Path:
    return settings.data_dir / "secrets.json"


def stored_secret(settings: Settings, name: str) -> str:
    """The secret ``name`` from ``<data_dir>/secrets.json``, created on first use."""
    path = _secrets_file(settings)
    values: dict[str, str] = json.loads(path.read_text()) if path.exists() else {}
    if name not in values:
        values[name] = secrets.token_hex(24)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(values, indent=2))
        os.chmod(tmp, 0o600)
        tmp.replace(path)
    return values[name]


def webhook_secret(settings: Settings) -> str:
    """The shared secret Label Studio webhooks must carry (MMCURATE_WEBHOOK_SECRET wins)."""
    return settings.webhook_secret or stored_secret(settings, "webhook_secret")
