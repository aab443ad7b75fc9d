"""`mmcurate export hf | meld-csv | brighter-csv | jsonl`: release folders from gathered inputs.

``build`` records each Hugging Face release with its items (so a takedown can name the
releases that held a source) and is idempotent by the digest of its inputs
(``exports.manifest.inputs_digest``), which every manifest records: the inputs are compared,
not rebuilt, to decide whether anything changed.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy.orm import Session

from backend.db.models import Release, ReleaseItem
from backend.domain import ConflictError, Progress, ValidationError
from backend.services.release.inputs import ReleaseInputs, gather
from backend.services.release.licences import dataset_licence
from backend.services.release.versions import find_release, latest_release, next_version
from exports.build import build_release, check_rows, split_rows
from exports.build import export_brighter as write_brighter
from exports.build import export_jsonl as write_jsonl
from exports.build import export_meld as write_meld
from exports.manifest import holds_release, inputs_digest, recorded_digest
from exports.records import SPLITS, ReleaseSpec

DRAFT_VERSION = "0.0.0"
"""The version written into MELD-style CSV and JSONL exports when none is given (they are not recorded)."""


@dataclass(frozen=True)
class ReleaseOptions:
    """What a user asks of a release (CLI flags and API fields share these names)."""

    project: str
    out_dir: Path | None = None
    version: str | None = None
    allow_simulated: bool = False
    licence: str | None = None
    seed: int = 0
    shard_max_bytes: int = 256 * 1024 * 1024
    fields: tuple[str, ...] = ()


@dataclass(frozen=True)
class ReleaseSummary:
    """A recorded release: where it is and what it holds. ``created`` is false when the
    inputs were those of a release already recorded (that release is returned)."""

    release_id: int
    project: str
    version: str
    path: Path
    items: int
    splits: dict[str, int]
    unbalanced: tuple[str, ...]
    excluded: dict[str, int]
    created: bool

    def to_dict(self) -> dict[str, Any]:
        return {
            "release_id": self.release_id, "project": self.project, "version": self.version, "path": str(self.path),
            "items": self.items, "splits": self.splits, "unbalanced": list(self.unbalanced),
            "excluded": self.excluded, "created": self.created,
        }


def release_spec(inputs: ReleaseInputs, options: ReleaseOptions, version: str) -> ReleaseSpec:
    """What to build for ``version`` of the gathered inputs (the card names it ``<project> <version>``)."""
    project = inputs.project
    return ReleaseSpec(
        project=project.name,
        version=version,
        licence=dataset_licence(project.allowed_licences or [], options.licence),
        fields=inputs.fields,
        languages=tuple(project.languages or ()),
        seed=options.seed,
        shard_max_bytes=options.shard_max_bytes,
    )


def build(session: Session, options: ReleaseOptions, *, data_dir: Path, on_progress: Progress | None = None) -> ReleaseSummary:
    """Build a release folder for ``options.project`` and record it with its items.

    The digest of the gathered inputs decides, before anything is built:

    - without ``options.version``: equal to the latest release's → that release is returned
      (``created`` false); otherwise the next version is built and recorded;
    - with ``options.version`` of a recorded release: equal → that release is returned;
      different, or recorded before manifests held a digest → ``ConflictError``.

    A release returned is rebuilt (same files) only when its folder is not at the requested
    place (``options.out_dir``, else ``<data dir>/releases/<project>/<version>``) or no longer
    holds it; its recorded path follows the folder.
    """
    inputs = gather(session, options.project, data_dir=data_dir, field_names=options.fields)
    check_rows(inputs.rows, allow_simulated=options.allow_simulated)
    project = inputs.project
    if options.version:
        spec = release_spec(inputs, options, options.version)
        digest = inputs_digest(inputs.rows, spec, inputs.context)
        existing = find_release(session, project, options.version)
        if existing is not None:
            recorded = recorded_digest(existing.manifest)
            if recorded != digest:
                raise ConflictError(_conflict(existing, project.name, next_version(session, project), legacy=recorded is None))
            return _reuse(existing, inputs, spec, digest, options, data_dir=data_dir, on_progress=on_progress)
    else:
        latest = latest_release(session, project)
        spec = release_spec(inputs, options, latest.version if latest is not None else next_version(session, project))
        digest = inputs_digest(inputs.rows, spec, inputs.context)
        if latest is not None:
            if recorded_digest(latest.manifest) == digest:
                return _reuse(latest, inputs, spec, digest, options, data_dir=data_dir, on_progress=on_progress)
            spec = release_spec(inputs, options, next_version(session, project))  # the digest leaves the version out
    return _record(session, inputs, spec, digest, options, data_dir=data_dir, on_progress=on_progress)


def _conflict(existing: Release, project_name: str, next_free: str, *, legacy: bool) -> str:
    if legacy:
        return (
            f"release {existing.version} of {project_name!r} was built before releases recorded the digest of their "
            f"inputs (built at {existing.path}), so it cannot be compared; give a new --version (next: {next_free})"
        )
    return (
        f"release {existing.version} of {project_name!r} already exists with different content "
        f"(built at {existing.path}); give a new --version (next: {next_free})"
    )


def _out_dir(options: ReleaseOptions, data_dir: Path, project_name: str, version: str) -> Path:
    return Path(options.out_dir) if options.out_dir else data_dir / "releases" / project_name / version


def _reuse(
    release: Release, inputs: ReleaseInputs, spec: ReleaseSpec, digest: str, options: ReleaseOptions, *,
    data_dir: Path, on_progress: Progress | None,
) -> ReleaseSummary:
    """The recorded ``release`` of these inputs, its folder put back where asked if it is not there."""
    target = _out_dir(options, data_dir, inputs.project.name, release.version).resolve()
    if holds_release(target, version=release.version, digest=digest):
        assignment = split_rows(inputs.rows, spec)
        folder, splits = target, {s: assignment.statistics.items[s] for s in SPLITS}
    else:
        built = build_release(inputs.rows, spec, inputs.context, target, allow_simulated=options.allow_simulated,
                              digest=digest, on_progress=on_progress)
        assignment, folder = built.assignment, built.folder
        splits = {s: w.num_rows for s, w in built.written.items()}
    release.path = str(folder)
    return _summary(release, inputs, folder, splits, assignment.unbalanced, created=False)


def _record(
    session: Session, inputs: ReleaseInputs, spec: ReleaseSpec, digest: str, options: ReleaseOptions, *,
    data_dir: Path, on_progress: Progress | None,
) -> ReleaseSummary:
    """Build a new version and record it with the split of every item."""
    out_dir = _out_dir(options, data_dir, inputs.project.name, spec.version)
    built = build_release(inputs.rows, spec, inputs.context, out_dir, allow_simulated=options.allow_simulated,
                          digest=digest, on_progress=on_progress)
    release = Release(project_id=inputs.project.id, version=spec.version, path=str(built.folder), manifest=built.manifest)
    session.add(release)
    session.flush()
    session.add_all(
        ReleaseItem(release_id=release.id, item_id=r.item_id, source_id=r.source_id, split=built.assignment.split_of[r.item_id])
        for r in inputs.rows
    )
    session.flush()
    splits = {s: w.num_rows for s, w in built.written.items()}
    return _summary(release, inputs, built.folder, splits, built.assignment.unbalanced, created=True)


def _summary(
    release: Release, inputs: ReleaseInputs, folder: Path, splits: dict[str, int], unbalanced: tuple[str, ...], *, created: bool,
) -> ReleaseSummary:
    return ReleaseSummary(
        release_id=release.id, project=inputs.project.name, version=release.version, path=folder, items=len(inputs.rows),
        splits=splits, unbalanced=unbalanced, excluded=inputs.excluded, created=created,
    )


def _draft_spec(inputs: ReleaseInputs, options: ReleaseOptions) -> ReleaseSpec:
    return ReleaseSpec(project=inputs.project.name, version=options.version or DRAFT_VERSION, licence="other",
                       fields=inputs.fields, seed=options.seed)


def export_meld_csv(session: Session, options: ReleaseOptions, *, data_dir: Path) -> dict[str, Path]:
    """MELD-style CSVs and clips of the releasable items into ``options.out_dir``."""
    if options.out_dir is None:
        raise ValidationError("give --out DIR for the MELD-style CSV export")
    inputs = gather(session, options.project, data_dir=data_dir, field_names=options.fields)
    return write_meld(inputs.rows, _draft_spec(inputs, options), Path(options.out_dir), allow_simulated=options.allow_simulated)


def export_brighter_csv(session: Session, options: ReleaseOptions, *, data_dir: Path, field: str | None = None) -> dict[str, Path]:
    """BRIGHTER-style ``train.csv``, ``dev.csv`` and ``test.csv`` into ``options.out_dir``: the
    items labelled in ``field`` (default: the project's only multi-label field, of either kind)."""
    if options.out_dir is None:
        raise ValidationError("give --out DIR for the BRIGHTER-style CSV export")
    inputs = gather(session, options.project, data_dir=data_dir, field_names=(field,) if field else options.fields)
    return write_brighter(inputs.rows, _draft_spec(inputs, options), Path(options.out_dir), field=field,
                          allow_simulated=options.allow_simulated)


def export_jsonl(session: Session, options: ReleaseOptions, *, data_dir: Path) -> tuple[Path, int]:
    """All releasable items as JSONL at ``options.out_dir`` (a file path, or a folder → ``items.jsonl``)."""
    if options.out_dir is None:
        raise ValidationError("give --out FILE.jsonl (or a folder) for the JSONL export")
    inputs = gather(session, options.project, data_dir=data_dir, field_names=options.fields)
    path = Path(options.out_dir)
    if path.suffix != ".jsonl":
        path = path / "items.jsonl"
    return path, write_jsonl(inputs.rows, _draft_spec(inputs, options), path, allow_simulated=options.allow_simulated)
