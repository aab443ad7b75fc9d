"""Local folder ingest: every audio/video file under a folder, hashed, with sidecar metadata.

A sidecar is ``NAME.json`` beside ``NAME.ext`` (as the test media generator writes); its
``title``/``author``/``licence`` become provenance, everything else is kept in ``extra``
(``language`` and the speaker-count hints ``num_speakers``/``min_speakers``/``max_speakers``
reach the ASR and diarize stages from there).
A file that cannot be read or whose sidecar is broken is reported with a reason, never raised,
so one bad file does not stop a folder.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable

from backend.domain import Provenance, SpeakerCountHint, ValidationError
from ingest.media import file_sha256

MEDIA_SUFFIXES = frozenset({
    ".wav", ".mp3", ".flac", ".ogg", ".opus", ".m4a", ".aac", ".wma", ".webm",
    ".mp4", ".mkv", ".mov", ".avi", ".mpg", ".mpeg", ".ts", ".3gp",
})


@dataclass(frozen=True)
class FoundMedia:
    """One media file found in a folder: provenance when readable, else the reason it is not."""

    path: Path
    provenance: Provenance | None
    size_bytes: int
    sidecar: dict[str, Any] | None = None
    error: str | None = None


def read_sidecar(media: Path) -> dict[str, Any] | None:
    """The JSON object beside ``media`` (same stem, ``.json``), or None when there is none."""
    path = media.with_suffix(".json")
    if not path.is_file():
        return None
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ValidationError(f"{path.name} is not valid JSON ({exc}); fix or remove the sidecar") from exc
    if not isinstance(data, dict):
        raise ValidationError(f"{path.name} must hold a JSON object, not {type(data).__name__}")
    return data


def scan_folder(folder: Path | str, on_progress: Callable[[str, int, int], None] | None = None) -> list[FoundMedia]:
    """Every media file under ``folder`` (recursively, sorted), hashed, with its sidecar."""
    folder = Path(folder)
    if not folder.is_dir():
        raise ValidationError(f"{folder} is not a folder; give a directory that holds audio or video files")
    paths = sorted(p for p in folder.rglob("*") if p.is_file() and p.suffix.lower() in MEDIA_SUFFIXES
                   and not any(part.startswith(".") for part in p.relative_to(folder).parts))
    found: list[FoundMedia] = []
    for done, path in enumerate(paths, start=1):
        found.append(describe(path, folder))
        if on_progress:
            on_progress("scan", done, len(paths))
    return found


def describe(path: Path, root: Path) -> FoundMedia:
    """Provenance for one file; problems become ``error``, never exceptions."""
    size = path.stat().st_size
    try:
        digest = file_sha256(path)
    except OSError as exc:
        return FoundMedia(path, None, size, None, f"{path.name} cannot be read ({exc.strerror})")
    try:
        sidecar = read_sidecar(path)
        SpeakerCountHint.from_mapping(sidecar, where=path.with_suffix(".json").name)  # checked now, used by diarize
    except ValidationError as exc:
        return FoundMedia(path, None, size, None, str(exc))
    meta = sidecar or {}
    extra = {"relative_path": str(path.relative_to(root)), "suffix": path.suffix.lower()}
    if sidecar is not None:
        extra["sidecar"] = path.with_suffix(".json").name
        extra.update({k: v for k, v in meta.items() if k not in {"title", "author", "licence", "lines"}})
    provenance = Provenance(
        uri=path.resolve().as_uri(),
        title=_text(meta.get("title")) or path.stem,
        author=_text(meta.get("author")),
        licence=_text(meta.get("licence") or meta.get("license")),
        fetched_at=datetime.now(timezone.utc),
        content_hash=digest,
        extra=extra,
    )
    return FoundMedia(path, provenance, size, sidecar)


def _text(value: Any) -> str | None:
    return None if value is None else str(value)
