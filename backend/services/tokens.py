"""API bearer tokens: shown once, stored as SHA-256, revocable."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from backend.db.models import ApiToken, utcnow
from backend.domain import NotFoundError, ValidationError

TOKEN_PREFIX = "mmc_"


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def create_token(session: Session, name: str) -> tuple[ApiToken, str]:
    """A new token record and its plaintext, which is never stored and cannot be shown again."""
    name = name.strip()
    if not name:
        raise ValidationError("a token needs a non-empty name, e.g. `mmcurate token create ci-bot`")
    plaintext = TOKEN_PREFIX + secrets.token_urlsafe(32)
    record = ApiToken(name=name, token_hash=hash_token(plaintext))
    session.add(record)
    session.flush()
    return record, plaintext


def verify_token(session: Session, plaintext: str) -> ApiToken | None:
    """The live token record matching ``plaintext``, or None."""
    digest = hash_token(plaintext)
    record = session.scalar(select(ApiToken).where(ApiToken.token_hash == digest))
    if record is None or record.revoked_at is not None:
        return None
    if not hmac.compare_digest(record.token_hash, digest):
        return None
    return record


@dataclass(frozen=True)
class TokenHolder:
    """Who is calling the API: the id and name of the live token they presented."""

    id: int
    name: str


def authenticate(session: Session, plaintext: str) -> TokenHolder | None:
    """The holder of the live token ``plaintext`` (bearer header or login cookie), or None when unknown or revoked."""
    record = verify_token(session, plaintext)
    return None if record is None else TokenHolder(record.id, record.name)


def revoke_token(session: Session, token_id: int) -> ApiToken:
    record = session.get(ApiToken, token_id)
    if record is None:
        raise NotFoundError(f"no API token with id {token_id}; see `mmcurate token list`")
    if record.revoked_at is None:
        record.revoked_at = utcnow()
    session.flush()
    return record


def list_tokens(session: Session) -> list[ApiToken]:
    return list(session.scalars(select(ApiToken).order_by(ApiToken.id)))
