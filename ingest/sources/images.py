"""Image folders in (memes, screenshots): every image under a folder, hashed, with its metadata.

Metadata comes from either place, the per-image one winning:

- a sidecar ``NAME.json`` beside ``NAME.png`` (as ``ingest folder`` reads for media);
- one metadata file at the top of the folder, in the layout of Hugging Face's ``imagefolder``:
  ``metadata.csv`` (header row), ``metadata.jsonl`` (one object a line) or ``metadata.json``
  (an array of objects), each record naming its image by ``file_name`` (relative to the
  folder, ``/`` separated).

Known keys: ``caption`` (or ``text``: the text of the meme as the corpus gives it), ``title``,
``author``, ``licence`` (or ``license``), ``source_url`` (or ``url``), ``language`` (ISO
639-1); anything else is kept in ``extra``. A metadata file that cannot be read refuses the
whole folder with its line (nothing is registered, so nothing is half done); a record naming an
image that is not there is an error too. An image that cannot be read (corrupt, truncated, not
an image) is reported on its own with the reason; the rest go on.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

from backend.domain import ValidationError
from ingest.media import file_sha256
from ingest.sources.folder import read_sidecar

IMAGE_SUFFIXES = frozenset({".png", ".jpg", ".jpeg", ".webp", ".gif", ".bmp", ".tif", ".tiff"})
METADATA_FILES = ("metadata.csv", "metadata.jsonl", "metadata.json")
KNOWN_KEYS = frozenset({"file_name", "caption", "text", "title", "author", "licence", "license", "source_url",
                        "url", "language"})


@dataclass(frozen=True)
class FoundImage:
    """One image of a folder: its hash, size and metadata when readable, else ``error`` says why."""

    path: Path
    relative: str
    content_hash: str | None
    size_bytes: int
    width: int | None = None
    height: int | None = None
    caption: str | None = None
    title: str | None = None
    author: str | None = None
    licence: str | None = None
    source_url: str | None = None
    language: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)
    error: str | None = None


def scan_images(folder: Path | str, on_progress: Callable[[str, int, int], None] | None = None) -> list[FoundImage]:
    """Every image under ``folder`` (recursively, sorted by relative path, hidden files left out)."""
    folder = Path(folder)
    if not folder.is_dir():
        raise ValidationError(f"{folder} is not a folder; give a directory that holds images")
    metadata = read_metadata(folder)
    paths = sorted(p for p in folder.rglob("*") if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES
                   and not any(part.startswith(".") for part in p.relative_to(folder).parts))
    relatives = {p.relative_to(folder).as_posix() for p in paths}
    missing = sorted(set(metadata) - relatives)
    if missing:
        where = metadata[missing[0]]["__line__"]
        raise ValidationError(f"{where}: file_name {missing[0]!r} is not an image in {folder}; fix the metadata "
                              f"({len(missing)} record(s) name no image)")
    found = []
    for done, path in enumerate(paths, start=1):
        found.append(describe_image(path, folder, metadata.get(path.relative_to(folder).as_posix())))
        if on_progress:
            on_progress("scan", done, len(paths))
    return found


def read_metadata(folder: Path) -> dict[str, dict[str, Any]]:
    """The folder's metadata records by ``file_name`` (with ``__line__``: file and line, for errors)."""
    present = [name for name in METADATA_FILES if (folder / name).is_file()]
    if len(present) > 1:
        raise ValidationError(f"{folder} holds {' and '.join(present)}; keep one metadata file")
    if not present:
        return {}
    path = folder / present[0]
    try:
        text = path.read_bytes().decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = path.read_bytes()[: exc.start].count(b"\n") + 1
        raise ValidationError(f"{path.name} line {line}: not UTF-8 text (byte 0x{exc.object[exc.start]:02x})") from None
    records: list[tuple[int, Any]] = []
    if path.suffix == ".csv":
        reader = csv.reader(io.StringIO(text, newline=""))
        try:
            header = next(reader)
        except StopIteration:
            raise ValidationError(f"{path.name} is empty; give a header row with file_name") from None
        header = [h.strip() for h in header]
        for row in reader:
            if not any(cell.strip() for cell in row):
                continue
            if len(row) != len(header):
                raise ValidationError(f"{path.name} line {reader.line_num}: {len(row)} fields, but the header has "
                                      f"{len(header)}; quote values that hold commas")
            records.append((reader.line_num, dict(zip(header, row))))
    elif path.suffix == ".jsonl":
        for number, raw in enumerate(text.split("\n"), start=1):
            if raw.strip():
                try:
                    records.append((number, json.loads(raw)))
                except json.JSONDecodeError as exc:
                    raise ValidationError(f"{path.name} line {number}: not valid JSON ({exc.msg})") from None
    else:
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise ValidationError(f"{path.name} line {exc.lineno}: not valid JSON ({exc.msg})") from None
        if not isinstance(data, list):
            raise ValidationError(f"{path.name} must hold a JSON array of objects with file_name")
        records = [(index + 1, record) for index, record in enumerate(data)]
    unit = "record" if path.suffix == ".json" else "line"
    out: dict[str, dict[str, Any]] = {}
    for number, record in records:
        where = f"{path.name} {unit} {number}"
        if not isinstance(record, dict):
            raise ValidationError(f"{where}: expected an object with file_name, not {type(record).__name__}")
        name = record.get("file_name")
        if not isinstance(name, str) or not name.strip():
            raise ValidationError(f"{where}: 'file_name' is missing or empty")
        posix = PurePosixPath(name.strip().replace("\\", "/"))
        if posix.is_absolute() or ".." in posix.parts:
            raise ValidationError(f"{where}: file_name {name!r} must be relative, inside the folder")
        key = posix.as_posix()
        if key in out:
            raise ValidationError(f"{where}: file_name {key!r} repeats {out[key]['__line__']}")
        out[key] = {**record, "__line__": where}
    return out


def describe_image(path: Path, root: Path, record: dict[str, Any] | None = None) -> FoundImage:
    """Hash, size and metadata of one image; an unreadable one comes back with ``error``, never raised."""
    from PIL import Image, UnidentifiedImageError

    relative = path.relative_to(root).as_posix()
    size = path.stat().st_size
    try:
        digest = file_sha256(path)
        with Image.open(path) as image:
            image.load()
            width, height = image.size
    except OSError as exc:  # UnidentifiedImageError, truncated data, permission
        reason = "not an image Pillow can read" if isinstance(exc, UnidentifiedImageError) else (exc.strerror or str(exc))
        return FoundImage(path, relative, None, size, error=f"{relative}: {reason}; replace the file or remove it")
    except (ValueError, Image.DecompressionBombError) as exc:
        return FoundImage(path, relative, None, size, error=f"{relative}: {exc}")
    meta: dict[str, Any] = {}
    try:
        sidecar = read_sidecar(path)
    except ValidationError as exc:
        return FoundImage(path, relative, digest, size, width, height, error=str(exc))
    meta.update({k: v for k, v in (record or {}).items() if k != "__line__"})
    meta.update(sidecar or {})
    text = lambda *keys: next((str(meta[k]).strip() for k in keys if meta.get(k) not in (None, "")), None)  # noqa: E731
    extra = {k: v for k, v in meta.items() if k not in KNOWN_KEYS}
    return FoundImage(
        path, relative, digest, size, width, height,
        caption=text("caption", "text"), title=text("title"), author=text("author"),
        licence=text("licence", "license"), source_url=text("source_url", "url"), language=text("language"),
        extra=extra,
    )
