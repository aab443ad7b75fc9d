"""Annotators: a pseudonym, their own Label Studio instance and a login there."""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from backend.db.models import (
    Annotator,
)
from backend.domain import (
    ConflictError,
    InstanceRole,
    ValidationError,
)
from backend.services.annotation.home import (
    LabelStudioHome,
    admin_client,
    mirror_instance,
    receiver_url,
    resolve_home,
)
from backend.services.annotation.instances import new_instance
from backend.services.annotation.lifecycle import record_synced, stop_instance
from backend.services.projects import validate_languages
from backend.settings import Settings


@dataclass(frozen=True)
class AnnotatorLogin:
    """What a new annotator needs, shown once: their own Label Studio and their login (no password when they existed)."""

    pseudonym: str
    email: str
    password: str | None
    url: str
    languages: tuple[str, ...]
    simulated: bool


def add_annotator(
    session: Session,
    settings: Settings,
    email: str,
    languages: Sequence[str] = (),
    *,
    simulated: bool = False,
    password: str | None = None,
    home: LabelStudioHome | None = None,
    keep_running: bool = False,
) -> AnnotatorLogin:
    """A pseudonymous annotator with their own Label Studio instance and a user there who can log in.

    The instance is stopped once the login exists (unless ``keep_running``): it starts when the
    annotator first opens their address on the gateway, or when a command needs it.
    """
    home = resolve_home(settings, home)
    email = email.strip()
    if "@" not in email or " " in email:
        raise ValidationError(f"{email!r} is not an email address; give one like ravi@example.org")
    langs = validate_languages(list(languages))
    if session.scalar(select(Annotator).where(Annotator.email == email)) is not None:
        raise ConflictError(f"an annotator with email {email!r} exists; see `mmcurate annotators list`")
    count = session.scalar(select(func.count()).select_from(Annotator)) or 0
    pseudonym = f"ann-{count + 1:03d}"
    while session.scalar(select(Annotator).where(Annotator.pseudonym == pseudonym)) is not None:
        count += 1
        pseudonym = f"ann-{count + 1:03d}"
    annotator = Annotator(pseudonym=pseudonym, email=email, languages=list(langs), simulated=simulated)
    session.add(annotator)
    session.flush()
    instance = new_instance(home, pseudonym, InstanceRole.ANNOTATOR, pseudonym, webhook_url=receiver_url(settings))
    home.save(instance)
    secret = password or secrets.token_urlsafe(12)
    try:
        login = admin_client(instance).create_login(email, secret)
    except BaseException:
        stop_instance(home, instance)  # nothing stays up for a login that was never made
        raise
    instance = replace(instance, user_email=email, user_id=login.user_id, user_token=login.token)
    home.save(instance)
    if not keep_running and instance.managed:
        instance = stop_instance(home, instance)
        record_synced(home, instance, ())  # a new instance holds no judgements: no pull needs to start it
    mirror_instance(session, instance, annotator_id=annotator.id)
    return AnnotatorLogin(pseudonym, email, secret, home.address(instance), langs, simulated)


def ensure_annotator(
    session: Session,
    settings: Settings,
    email: str,
    languages: Sequence[str] = (),
    *,
    home: LabelStudioHome | None = None,
) -> tuple[AnnotatorLogin, bool]:
    """The annotator with ``email``, added when missing; True when added (an existing one's password is never shown)."""
    found = session.scalar(select(Annotator).where(Annotator.email == email.strip()))
    if found is None:
        return add_annotator(session, settings, email, languages, home=home), True
    home = resolve_home(settings, home)
    instance = home.state().load().get(found.pseudonym)
    url = home.address(instance) if instance else ""
    return AnnotatorLogin(found.pseudonym, found.email, None, url, tuple(found.languages or ()), found.simulated), False


def list_annotators(session: Session, settings: Settings, *, home: LabelStudioHome | None = None) -> list[dict[str, Any]]:
    """Every annotator with their instance URL (never their password)."""
    home = resolve_home(settings, home)
    records = home.state().load()
    out = []
    for annotator in session.scalars(select(Annotator).order_by(Annotator.id)):
        instance = records.get(annotator.pseudonym)
        out.append({
            "id": annotator.id, "pseudonym": annotator.pseudonym, "email": annotator.email,
            "languages": list(annotator.languages or []), "simulated": annotator.simulated,
            "active": annotator.active, "url": home.address(instance) if instance else None,
        })
    return out
