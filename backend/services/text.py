"""Every stored text gets its profile: the one place items' text meets ``backend.language``.

The raw text stays in ``Item.text``; the normalised form (under the project's Chinese policy),
the script shares, the language identified from the text, the word-level language tags and
the Code-Mixing Index are stored beside it, so listings can filter on them, Label Studio can
show them and releases can carry them.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from typing import Any

from backend.db.models import Item, Project
from backend.domain import ValidationError
from backend.language import HanTarget, TextProfile, profile_text


def han_target(project: Project) -> HanTarget | None:
    """The variant the project normalises Chinese to, or None to keep it as written."""
    return HanTarget(project.han_target) if project.han_target else None


def expected_languages(item: Item, project: Project) -> Sequence[str]:
    """The languages a text may be in: the item's own and English (what these corpora mix in) when
    the item's language is known, else the project's. With one Indic language among them,
    romanised words count as that language (``backend.language.identify``)."""
    return list(dict.fromkeys([item.language, "en"])) if item.language else list(project.languages or [])


def apply_text_profile(item: Item, project: Project) -> TextProfile | None:
    """Set ``item``'s normalised text and profile from its raw text (cleared when it has none)."""
    if not item.text:
        item.text_normalized, item.dominant_script, item.cmi, item.text_profile = None, None, None, None
        return None
    profile = profile_text(item.text, expected_languages=expected_languages(item, project),
                           han_target=han_target(project))
    item.text_normalized, item.dominant_script, item.cmi = profile.normalized, profile.dominant_script, profile.cmi
    item.text_profile = profile.stored()
    return profile


def profile_lines(lines: Iterable[bytes], *, languages: Sequence[str] = (),
                  han: str | None = None) -> Iterator[dict[str, Any]]:
    """One profile per input line (``mmcurate text profile``): ``{"line": n, **profile}``, or
    ``{"line": n, "error": why}`` for a line that is not valid UTF-8 text; the rest go on."""
    target = HanTarget(han) if han else None
    for number, raw in enumerate(lines, start=1):
        try:
            text = raw.decode("utf-8").rstrip("\r\n")
        except UnicodeDecodeError as exc:
            yield {"line": number, "error": f"line {number} is not valid UTF-8: byte 0x{raw[exc.start]:02x} "
                                            f"at column {exc.start + 1} ({exc.reason})"}
            continue
        try:
            profile = profile_text(text, expected_languages=languages, han_target=target)
        except ValidationError as exc:
            yield {"line": number, "error": f"line {number}: {exc}"}
            continue
        yield {"line": number, **profile.as_json()}
