"""The release manifest (``manifest.json``): what went in, which code and models made it,
the seed, and a SHA-256 for every file, so a release can be checked and rebuilt.

It holds no timestamps: the same inputs and code give the same manifest (the database
records when a release was made).
"""

from __future__ import annotations

import hashlib
import json
import subprocess
from collections.abc import Mapping, Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Any

from exports.records import ReleaseRow, ReleaseSpec

MANIFEST_NAME = "manifest.json"
FORMAT_HF = "hf"
FORMAT_MELD_CSV = "meld-csv"
FORMAT_JSONL = "jsonl"
"""Export formats, as ``mmcurate export <format>`` names them and manifests record them."""


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
        (r.item_id, name, j.annotator, j.value) for r in rows for name, js in r.judgements.items() for j in js
    )
    return {
        "items": len(ids),
        "item_ids_sha256": hashlib.sha256(json.dumps(ids).encode()).hexdigest(),
        "sources": sorted({r.source_id for r in rows}),
        "judgements": len(judgements),
        "judgements_sha256": hashlib.sha256(json.dumps(judgements, ensure_ascii=False).encode()).hexdigest(),
        "annotators": sorted({j[2] for j in judgements}),
    }


def build_manifest(
    folder: Path,
    spec: ReleaseSpec,
    rows: Sequence[ReleaseRow],
    split_counts: Mapping[str, int],
    *,
    model_versions: Mapping[str, str],
    code: str,
) -> dict[str, Any]:
    """The manifest as a dict (call after every other file of the release is written)."""
    spec_dict = asdict(spec)
    spec_dict["fields"] = [{"name": f.name, "kind": f.kind.value, "labels": list(f.labels)} for f in spec.fields]
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
        "models": dict(sorted(models.items())),
        "splits": dict(split_counts),
        "files": file_hashes(folder),
    }


def folder_manifest(folder: Path, *, export_format: str, project: str) -> dict[str, Any]:
    """The manifest of a folder export other than a release (MELD-style CSV): its format,
    project and the files written, so a later export can recognise and replace it."""
    return {"format": export_format, "project": project, "files": file_hashes(folder)}


def write_manifest(folder: Path, manifest: Mapping[str, Any]) -> Path:
    path = folder / MANIFEST_NAME
    path.write_text(json.dumps(manifest, indent=2, sort_keys=True, ensure_ascii=False) + "\n", encoding="utf-8")
    return path


def verify_manifest(folder: Path) -> list[str]:
    """Files whose hash differs from the manifest, or that are missing or extra (empty: intact)."""
    manifest = json.loads((folder / MANIFEST_NAME).read_text(encoding="utf-8"))
    recorded = manifest["files"]
    actual = file_hashes(folder)
    problems = [f"missing: {p}" for p in sorted(set(recorded) - set(actual))]
    problems += [f"extra: {p}" for p in sorted(set(actual) - set(recorded))]
    problems += [f"changed: {p}" for p in sorted(set(recorded) & set(actual)) if recorded[p]["sha256"] != actual[p]["sha256"]]
    return problems
