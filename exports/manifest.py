"""The release manifest (``manifest.json``): what went in, which code and models made it,
the seed, a SHA-256 for every file, and the digest of the release's inputs, so a release
can be checked and rebuilt, and a rebuild of the same inputs recognised before it starts.

It holds no timestamps: the same inputs and code give the same manifest (the database
records when a release was made).
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import subprocess
from collections.abc import Mapping, Sequence
from dataclasses import asdict
from datetime import datetime
from enum import Enum
from pathlib import Path
from typing import Any

from exports.records import CardContext, ReleaseRow, ReleaseSpec, value_text

MANIFEST_NAME = "manifest.json"
FORMAT_HF = "hf"
FORMAT_MELD_CSV = "meld-csv"
FORMAT_JSONL = "jsonl"
FORMAT_BRIGHTER_CSV = "brighter-csv"
"""Export formats, as ``mmcurate export <format>`` names them and manifests record them."""

RELEASE_FORMAT = 3
"""Version of what ``exports.build.build_release`` writes for given inputs, part of every
inputs digest. Bump it with any change that makes the same rows, spec and card context give
different files (a new column, other card prose), so that releases made before count as
changed and are rebuilt under a new version. 3: fields of every kind; image, attachment,
chat and near-duplicate columns."""


def code_version(repo_root: Path | None = None) -> str:
    """``git describe --always --dirty --tags`` of the code, or ``unknown`` outside a git checkout."""
    root = repo_root or Path(__file__).resolve().parents[1]
    try:
        out = subprocess.run(
            ["git", "describe", "--always", "--dirty", "--tags"],
            cwd=root, capture_output=True, text=True, timeout=10, check=False,
        )
    except (OSError, subprocess.TimeoutExpired):
        return "unknown"
    return out.stdout.strip() if out.returncode == 0 and out.stdout.strip() else "unknown"


def file_sha256(path: Path, chunk_bytes: int = 1 << 20) -> str:
    h = hashlib.sha256()
    with path.open("rb") as fh:
        while chunk := fh.read(chunk_bytes):
            h.update(chunk)
    return h.hexdigest()


def file_hashes(folder: Path) -> dict[str, dict[str, Any]]:
    """``{relative path: {sha256, bytes}}`` for every file under ``folder`` but the manifest, sorted."""
    out: dict[str, dict[str, Any]] = {}
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        rel = path.relative_to(folder).as_posix()
        if rel == MANIFEST_NAME:
            continue
        out[rel] = {"sha256": file_sha256(path), "bytes": path.stat().st_size}
    return out


def input_summary(rows: Sequence[ReleaseRow]) -> dict[str, Any]:
    """Counts and a digest of the item ids, sources and judgements that went in."""
    ids = sorted(r.item_id for r in rows)
    judgements = sorted(
        (r.item_id, name, j.annotator, value_text(j.value)) for r in rows for name, js in r.judgements.items() for j in js
    )
    return {
        "items": len(ids),
        "item_ids_sha256": hashlib.sha256(json.dumps(ids).encode()).hexdigest(),
        "sources": sorted({r.source_id for r in rows}),
        "judgements": len(judgements),
        "judgements_sha256": hashlib.sha256(json.dumps(judgements, ensure_ascii=False).encode()).hexdigest(),
        "annotators": sorted({j[2] for j in judgements}),
    }


def _canonical(value: Any) -> Any:
    """``value`` as plain JSON values; a path (a clip, an image) as its suffix and content
    SHA-256; a time as ISO 8601."""
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, Path):
        return {"suffix": value.suffix, "sha256": file_sha256(value) if value.is_file() else None}
    if isinstance(value, Enum):
        return value.value
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: _canonical(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, Mapping):
        return {str(k): _canonical(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_canonical(v) for v in value]
    if value is None or isinstance(value, (str, int, float)):
        return value
    raise TypeError(f"{type(value).__name__} {value!r} has no place in a release's inputs digest")


def inputs_digest(rows: Sequence[ReleaseRow], spec: ReleaseSpec, context: CardContext) -> str:
    """SHA-256 (hex) of everything that decides a release's files, except its version.

    Covers ``RELEASE_FORMAT``, the spec (fields and their labels, licence, languages, seed,
    split fractions, shard and row-group sizes, …; ``version`` left out), the card context
    (sources, schemes, agreement, annotator counts, models) and every row in order — text,
    provenance, aggregated labels, judgements — with each clip by its suffix and the SHA-256 of its
    bytes (so moving the data folder changes nothing, and a clip cut again does; a missing
    clip counts as ``None``). Reads every clip once; builds nothing.

    The same digest means the same files for the same version: a release whose manifest
    records this digest already holds these inputs.
    """
    spec_values = _canonical(spec)
    del spec_values["version"]
    payload = {"format": RELEASE_FORMAT, "spec": spec_values, "context": _canonical(context), "rows": _canonical(list(rows))}
    text = json.dumps(payload, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def build_manifest(
    folder: Path,
    spec: ReleaseSpec,
    rows: Sequence[ReleaseRow],
    split_counts: Mapping[str, int],
    *,
    model_versions: Mapping[str, str],
    code: str,
    digest: str,
) -> dict[str, Any]:
    """The manifest as a dict (call after every other file of the release is written);
    ``digest`` is ``inputs_digest`` of the rows, spec and card context it was built from."""
    spec_dict = asdict(spec)
    spec_dict["fields"] = [
        {"name": f.name, "kind": f.kind.value, "labels": list(f.labels), "column": f.column,
         **({"minimum": f.minimum, "maximum": f.maximum} if f.minimum is not None or f.maximum is not None else {}),
         **({"max_intensity": f.max_intensity} if f.max_intensity is not None else {})}
        for f in spec.fields
    ]
    spec_dict["pretty_name"] = spec.display_name
    models = dict(model_versions)
    for asr in sorted({r.asr_model for r in rows if r.asr_model}):
        models.setdefault(f"asr:{asr}", asr)
    return {
        "format": FORMAT_HF,
        "project": spec.project,
        "version": spec.version,
        "seed": spec.seed,
        "code_version": code,
        "spec": spec_dict,
        "inputs": input_summary(rows),
        "inputs_digest": digest,
        "models": dict(sorted(models.items())),
        "splits": dict(split_counts),
        "files": file_hashes(folder),
    }


def folder_manifest(folder: Path, *, export_format: str, project: str) -> dict[str, Any]:
    """The manifest of a folder export other than a release (MELD- or BRIGHTER-style CSV): its format,
    project and the files written, so a later export can recognise and replace it."""
    return {"format": export_format, "project": project, "files": file_hashes(folder)}


def write_manifest(folder: Path, manifest: Mapping[str, Any]) -> Path:
    path = folder / MANIFEST_NAME
    path.write_text(json.dumps(manifest, indent=2, sort_keys=True, ensure_ascii=False) + "\n", encoding="utf-8")
    return path


def recorded_digest(manifest: Mapping[str, Any] | None) -> str | None:
    """The inputs digest a release's manifest records (``None`` for releases made before
    manifests recorded one)."""
    digest = (manifest or {}).get("inputs_digest")
    return digest if isinstance(digest, str) else None


def holds_release(folder: Path, *, version: str, digest: str) -> bool:
    """Whether ``folder`` holds the built release ``version`` of the inputs ``digest``: its
    manifest says so, and every file the manifest lists is there at its recorded size, with
    no other file beside them. Sizes only, so the check costs no read of the data
    (``verify_manifest`` hashes every file)."""
    folder = Path(folder)
    path = folder / MANIFEST_NAME
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT_HF:
        return False
    if manifest.get("version") != version or recorded_digest(manifest) != digest:
        return False
    recorded = manifest.get("files")
    if not isinstance(recorded, dict):
        return False
    present = {p.relative_to(folder).as_posix(): p for p in folder.rglob("*") if p.is_file()}
    present.pop(MANIFEST_NAME, None)
    if set(present) != set(recorded):
        return False
    return all(isinstance(recorded[rel], dict) and present[rel].stat().st_size == recorded[rel].get("bytes") for rel in present)


def verify_manifest(folder: Path) -> list[str]:
    """Files whose hash differs from the manifest, or that are missing or extra (empty: intact)."""
    manifest = json.loads((folder / MANIFEST_NAME).read_text(encoding="utf-8"))
    recorded = manifest["files"]
    actual = file_hashes(folder)
    problems = [f"missing: {p}" for p in sorted(set(recorded) - set(actual))]
    problems += [f"extra: {p}" for p in sorted(set(actual) - set(recorded))]
    problems += [f"changed: {p}" for p in sorted(set(recorded) & set(actual)) if recorded[p]["sha256"] != actual[p]["sha256"]]
    return problems
