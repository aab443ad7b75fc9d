"""Licence governance of releases: which source licences a project lets out, and the
licence a release is distributed under."""

from __future__ import annotations

from collections.abc import Iterable

from exports.card import HUB_LICENSES


def licence_allowed(licence: str | None, policy: Iterable[str]) -> bool:
    """Whether a source licence passes the project's policy (an empty policy allows any).

    Compared case-insensitively; a source without a licence passes only an empty policy.
    """
    allowed = {a.strip().lower() for a in policy if a and a.strip()}
    if not allowed:
        return True
    return licence is not None and licence.strip().lower() in allowed


def dataset_licence(policy: Iterable[str], requested: str | None) -> str:
    """The Hub licence id of a release: the one asked for, else the policy's single licence
    when it is a Hub id, else ``other``."""
    if requested:
        return requested
    allowed = [a.strip().lower() for a in policy if a and a.strip()]
    if len(allowed) == 1 and allowed[0] in HUB_LICENSES:
        return allowed[0]
    return "other"
