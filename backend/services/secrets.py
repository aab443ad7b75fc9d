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
        tmp.unlink(missing_ok=True)
        with os.fdopen(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600), "w") as handle:  # never readable by others
            handle.write(json.dumps(values, indent=2))
        tmp.replace(path)
    return values[name]


def webhook_secret(settings: Settings) -> str:
    """The shared secret Label Studio webhooks must carry (MMCURATE_WEBHOOK_SECRET wins)."""
    return settings.webhook_secret or stored_secret(settings, "webhook_secret")


def instance_webhook_secret(settings: Settings, instance_name: str) -> str:
    """The secret the webhooks of one Label Studio instance carry.

    Derived from the master secret and the instance's name, so it names its sender (the
    receiver identifies the instance by the secret alone, never by a header the sender
    chooses) and an annotator who reads it in their own instance learns nothing that opens
    another instance.
    """
    import hashlib
    import hmac

    return hmac.new(webhook_secret(settings).encode(), f"labelstudio-webhook:{instance_name}".encode(),
                    hashlib.sha256).hexdigest()
