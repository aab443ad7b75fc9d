"""Where an export lands: a new or empty folder, or a previous mmcurate export of the same
project and format, and nothing else.

An export is written into a staging folder beside its destination and swapped in when
complete. Before that, the destination is checked: a folder (or JSONL file) that holds
anything an export of this project did not write is refused with what is there, and
nothing is deleted. A folder export is recognised by its ``manifest.json`` (project, format
and the files it wrote); a JSONL export by the ``project`` of every line.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

from backend.domain import ConflictError
from exports.manifest import FORMAT_HF, MANIFEST_NAME

_SHOWN = 5
_NOTHING_DELETED = "nothing was deleted"


def _listing(names: list[str]) -> str:
    shown = ", ".join(names[:_SHOWN])
    return shown + (f" and {len(names) - _SHOWN} more" if len(names) > _SHOWN else "")


def folder_entries(folder: Path) -> list[str]:
    """Every file, folder and link under ``folder`` as sorted relative POSIX paths (links not followed)."""
    entries: list[str] = []
    for root, dirs, files in os.walk(folder, followlinks=False):
        rel_root = Path(root).relative_to(folder)
        entries += [(rel_root / name).as_posix() for name in [*dirs, *files]]
    return sorted(entries)


def _expected_entries(files: list[str]) -> set[str]:
    expected = {MANIFEST_NAME, *files}
    for rel in files:
        expected.update(p.as_posix() for p in Path(rel).parents if p.as_posix() != ".")
    return expected


def _read_manifest(folder: Path) -> dict | None:
    try:
        manifest = json.loads((folder / MANIFEST_NAME).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError):
        return None
    if not isinstance(manifest, dict) or not isinstance(manifest.get("files"), dict) or "project" not in manifest:
        return None
    return manifest


def check_replaceable_folder(out_dir: Path, *, project: str, export_format: str) -> None:
    """Refuse ``out_dir`` unless it is absent, empty, or a previous ``export_format`` export of
    ``project`` holding only the files its manifest lists (links count as foreign)."""
    where = repr(str(out_dir))
    if out_dir.is_symlink() or (out_dir.exists() and not out_dir.is_dir()):
        raise ConflictError(f"{where} is not a folder; give a new or empty folder with --out ({_NOTHING_DELETED})")
    if not out_dir.exists():
        return
    entries = folder_entries(out_dir)
    if not entries:
        return
    manifest = _read_manifest(out_dir) if (out_dir / MANIFEST_NAME).is_file() else None
    if manifest is None:
        raise ConflictError(
            f"{where} is not empty and holds no release manifest (it holds {_listing(entries)}); refusing to overwrite it "
            f"and {_NOTHING_DELETED} — give an empty or new folder with --out"
        )
    found_format = manifest.get("format", FORMAT_HF)
    if manifest["project"] != project or found_format != export_format:
        raise ConflictError(
            f"{where} holds a {found_format} export of project {manifest['project']!r}, not a {export_format} export of "
            f"{project!r}; {_NOTHING_DELETED} — give another folder with --out"
        )
    links = [e for e in entries if (out_dir / e).is_symlink()]
    extra = sorted((set(entries) - _expected_entries(list(manifest["files"]))) | set(links))
    if extra:
        raise ConflictError(
            f"{where} holds a {export_format} export of {project!r} plus files an export does not write "
            f"({_listing(extra)}); {_NOTHING_DELETED} — move them out of the folder or give another folder with --out"
        )


def check_replaceable_jsonl(path: Path, *, project: str) -> None:
    """Refuse ``path`` unless it is absent or a JSONL export of ``project`` (every line an
    object with ``"project": project`` and an ``item_id``)."""
    where = repr(str(path))
    if path.is_symlink() or (path.exists() and not path.is_file()):
        raise ConflictError(f"{where} is not a plain file; give a new .jsonl file with --out ({_NOTHING_DELETED})")
    if not path.exists():
        return
    try:
        with path.open(encoding="utf-8") as fh:
            for number, line in enumerate(fh, start=1):
                record = json.loads(line)
                if not isinstance(record, dict) or record.get("project") != project or "item_id" not in record:
                    raise ValueError(f"line {number} is not an item of project {project!r}")
    except (UnicodeDecodeError, ValueError) as exc:
        raise ConflictError(
            f"{where} exists and is not a JSONL export of project {project!r} ({exc}); {_NOTHING_DELETED} — "
            "give a new file with --out, or move it away"
        ) from None


def staging_path(target: Path) -> Path:
    """A fresh sibling of ``target`` to build into (removed first if a crashed run left it)."""
    staging = target.parent / f".{target.name}.building-{os.getpid()}"
    if staging.is_dir() and not staging.is_symlink():
        shutil.rmtree(staging)
    elif staging.exists() or staging.is_symlink():
        staging.unlink()
    return staging


def swap_in(staging: Path, target: Path) -> None:
    """Replace ``target`` (checked replaceable) by the finished ``staging`` file or folder."""
    if target.is_dir():
        old = target.parent / f".{target.name}.old-{os.getpid()}"
        os.replace(target, old)
        os.replace(staging, target)
        shutil.rmtree(old)
    else:
        os.replace(staging, target)
