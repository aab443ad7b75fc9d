"""Build a release folder from rows: splits → shards → card → long table → manifest.

The folder is built next to its destination and moved into place at the end, so a failed
build leaves the previous release (if any) untouched; only a previous export of the same
project and format is ever replaced (``exports.targets``).
"""

from __future__ import annotations

import shutil
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from backend.domain import ValidationError, ValueKind
from exports.card import render_card
from exports.formats import (
    MELD_SPLIT_NAMES,
    brighter_field,
    write_brighter_csv,
    write_jsonl,
    write_long_table,
    write_meld_csv,
)
from exports.hf import SplitFiles, ordered_rows, write_shards
from exports.manifest import (
    FORMAT_BRIGHTER_CSV,
    FORMAT_HF,
    FORMAT_MELD_CSV,
    build_manifest,
    code_version,
    folder_manifest,
    inputs_digest,
    write_manifest,
)
from exports.records import CardContext, ReleaseRow, ReleaseSpec
from exports.splits import SplitAssignment, assign_splits
from exports.targets import (
    check_replaceable_folder,
    check_replaceable_jsonl,
    staging_path,
    swap_in,
)

ProgressFn = Callable[[str, int, int], None]
LONG_TABLE_NAME = "annotations.csv"


@dataclass(frozen=True)
class ReleaseBuild:
    """A built release: its folder, splits, shards per split and manifest."""

    folder: Path
    spec: ReleaseSpec
    assignment: SplitAssignment
    written: dict[str, SplitFiles]
    manifest: dict[str, Any]


def check_rows(rows: Sequence[ReleaseRow], *, allow_simulated: bool) -> None:
    """Refuse an empty release, and judgements of simulated annotators unless allowed."""
    if not rows:
        raise ValidationError("nothing to release: no items passed the filters (kept items with allowed licences)")
    simulated = sorted({j.annotator for r in rows for js in r.judgements.values() for j in js if j.simulated})
    if (simulated or any(r.simulated for r in rows)) and not allow_simulated:
        raise ValidationError(
            f"the release holds judgements of simulated annotators ({', '.join(simulated) or 'marked rows'}); "
            "pass --allow-simulated to release them anyway (demo only), or leave them out"
        )


def stratify_field(spec: ReleaseSpec) -> str | None:
    """The field splits are stratified by: the spec's first nominal or ordinal field, else its
    first multi-label field (of either kind); ``None`` when it has only interval and free-text fields."""
    for kinds in ((ValueKind.NOMINAL, ValueKind.ORDINAL), (ValueKind.MULTI_LABEL, ValueKind.MULTI_LABEL_INTENSITY)):
        for f in spec.fields:
            if f.kind in kinds:
                return f.name
    return None


def split_rows(rows: Sequence[ReleaseRow], spec: ReleaseSpec) -> SplitAssignment:
    """The leak-free split assignment every format of a release uses (seed and fractions of
    ``spec``, stratified by ``stratify_field``)."""
    return assign_splits(rows, seed=spec.seed, fractions=spec.split_fractions, stratify_field=stratify_field(spec))


def _staging_for(out_dir: Path, spec: ReleaseSpec, export_format: str) -> Path:
    check_replaceable_folder(out_dir, project=spec.project, export_format=export_format)
    staging = staging_path(out_dir)
    staging.mkdir(parents=True)
    return staging


def build_release(
    rows: Sequence[ReleaseRow],
    spec: ReleaseSpec,
    context: CardContext,
    out_dir: Path,
    *,
    allow_simulated: bool = False,
    code: str | None = None,
    digest: str | None = None,
    on_progress: ProgressFn | None = None,
) -> ReleaseBuild:
    """Write a Hub-ready release folder for ``rows`` into ``out_dir``.

    Layout: ``README.md`` (card), ``data/<config>/<split>-NNNNN-of-NNNNN.parquet`` (images and
    attachments embedded),
    ``videos/<split>/<item_id>.mp4`` (when any row has video), ``annotations.csv`` (one raw
    judgement per line) and ``manifest.json``. Same rows, spec and code → same bytes.
    The manifest records ``inputs_digest(rows, spec, context)``; a caller that has just
    computed it passes it as ``digest`` so the clips are not read for it twice.
    """
    check_rows(rows, allow_simulated=allow_simulated)
    out_dir = Path(out_dir).resolve()
    if digest is None:
        digest = inputs_digest(rows, spec, context)
    assignment = split_rows(rows, spec)
    ordered = ordered_rows(rows)
    staging = _staging_for(out_dir, spec, FORMAT_HF)
    try:
        written = write_shards(ordered, assignment.split_of, spec, staging, on_progress=on_progress, total=len(ordered))
        card = render_card(spec, ordered, assignment, written, context)
        (staging / "README.md").write_text(card, encoding="utf-8")
        write_long_table(ordered, staging / LONG_TABLE_NAME)
        manifest = build_manifest(
            staging, spec, ordered, {s: w.num_rows for s, w in written.items()},
            model_versions=context.model_versions, code=code if code is not None else code_version(), digest=digest,
        )
        write_manifest(staging, manifest)
        swap_in(staging, out_dir)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    if on_progress is not None:
        on_progress("release", len(ordered), len(ordered))
    return ReleaseBuild(folder=out_dir, spec=spec, assignment=assignment, written=written, manifest=manifest)


def export_meld(rows: Sequence[ReleaseRow], spec: ReleaseSpec, out_dir: Path, *, allow_simulated: bool = False) -> dict[str, Path]:
    """MELD-style CSVs and clips, with the same leak-free splits a release would use, plus a
    ``manifest.json`` naming the project, so that only this export is ever replaced by the next."""
    check_rows(rows, allow_simulated=allow_simulated)
    assignment = split_rows(rows, spec)
    out_dir = Path(out_dir).resolve()
    staging = _staging_for(out_dir, spec, FORMAT_MELD_CSV)
    try:
        write_meld_csv(ordered_rows(rows), assignment.split_of, spec, staging)
        write_manifest(staging, folder_manifest(staging, export_format=FORMAT_MELD_CSV, project=spec.project))
        swap_in(staging, out_dir)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return {split: out_dir / f"{meld}_sent_emo.csv" for split, meld in MELD_SPLIT_NAMES.items()}


def export_brighter(
    rows: Sequence[ReleaseRow], spec: ReleaseSpec, out_dir: Path, *, field: str | None = None, allow_simulated: bool = False,
) -> dict[str, Path]:
    """BRIGHTER-style ``train.csv``, ``dev.csv`` and ``test.csv`` (``exports.formats.write_brighter_csv``)
    of the multi-label field ``field`` (default: the spec's only one), with the same leak-free
    splits a release would use, plus a ``manifest.json`` naming the project, so that only this
    export is ever replaced by the next."""
    chosen = brighter_field(spec, field)
    check_rows(rows, allow_simulated=allow_simulated)
    assignment = split_rows(rows, spec)
    out_dir = Path(out_dir).resolve()
    staging = _staging_for(out_dir, spec, FORMAT_BRIGHTER_CSV)
    try:
        written = write_brighter_csv(ordered_rows(rows), assignment.split_of, chosen, staging)
        write_manifest(staging, folder_manifest(staging, export_format=FORMAT_BRIGHTER_CSV, project=spec.project))
        swap_in(staging, out_dir)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return {split: out_dir / path.name for split, path in written.items()}


def export_jsonl(rows: Sequence[ReleaseRow], spec: ReleaseSpec, path: Path, *, allow_simulated: bool = False) -> int:
    """All rows as JSONL (with their split and project), plus nothing else; returns the line
    count. An existing file is replaced only if it is a JSONL export of the same project."""
    check_rows(rows, allow_simulated=allow_simulated)
    assignment = split_rows(rows, spec)
    path = Path(path).resolve()
    check_replaceable_jsonl(path, project=spec.project)
    path.parent.mkdir(parents=True, exist_ok=True)
    staging = staging_path(path)
    try:
        n = write_jsonl(ordered_rows(rows), assignment.split_of, staging, project=spec.project)
        swap_in(staging, path)
    except BaseException:
        staging.unlink(missing_ok=True)
        raise
    return n
