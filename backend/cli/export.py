"""`mmcurate export hf|meld-csv|brighter-csv|jsonl`, `mmcurate release publish|list`, `mmcurate source takedown`."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from backend.cli.context import db_session, settings
from backend.cli.output import emit_json_lines, emit_table, json_line, progress_bar
from backend.services import release as release_service
from backend.services import takedown as takedown_service
from backend.services.release.exporting import export_brighter_csv as brighter_service

export_app = typer.Typer(
    help="Release folders: Hugging Face dataset, MELD-style CSV, BRIGHTER-style CSV, JSONL.\n\n"
    "Example: mmcurate export hf --project demo --out ./release --allow-simulated",
    no_args_is_help=True,
)
release_app = typer.Typer(
    help="Recorded releases and Hub publishing.\n\nExample: mmcurate release publish --project demo --repo my-org/demo-corpus",
    no_args_is_help=True,
)
source_app = typer.Typer(
    help="Source governance.\n\nExample: mmcurate source takedown 12",
    no_args_is_help=True,
)

ProjectOption = Annotated[str, typer.Option("--project", help="Project name or id.")]
AllowSimulated = Annotated[
    bool, typer.Option("--allow-simulated", help="Release judgements of simulated annotators (demo only).")
]
VersionOption = Annotated[str | None, typer.Option("--version", help="Release version, e.g. 1.0.0 (default: the next one).")]
FieldsOption = Annotated[str | None, typer.Option("--fields", help="Comma-separated fields to release (default: all labelled).")]
SeedOption = Annotated[int, typer.Option("--seed", help="Seed of the train/validation/test assignment.")]
JsonOption = Annotated[bool, typer.Option("--json", help="One JSON object per line, for scripts.")]


def _fields(value: str | None) -> tuple[str, ...]:
    return tuple(p.strip() for p in (value or "").split(",") if p.strip())


@export_app.command("hf")
def export_hf(
    project: ProjectOption,
    out: Annotated[Path | None, typer.Option("--out", help="Release folder (default: <data dir>/releases/<project>/<version>).")] = None,
    allow_simulated: AllowSimulated = False,
    version: VersionOption = None,
    licence: Annotated[str | None, typer.Option("--licence", help="Hub licence id of the dataset, e.g. cc-by-4.0.")] = None,
    fields: FieldsOption = None,
    seed: SeedOption = 0,
    shard_mb: Annotated[int, typer.Option("--shard-mb", help="Upper bound of one parquet shard, in MB.")] = 256,
    as_json: JsonOption = False,
) -> None:
    """Build a Hugging Face dataset folder (parquet shards, dataset card, manifest) and record it.

    Example: mmcurate export hf --project demo --out ./release --allow-simulated
    """
    options = release_service.ReleaseOptions(
        project=project, out_dir=out, version=version, allow_simulated=allow_simulated, licence=licence,
        seed=seed, shard_max_bytes=shard_mb * 1024 * 1024, fields=_fields(fields),
    )
    config = settings()
    with db_session() as session, progress_bar("export") as on_progress:
        summary = release_service.build(session, options, data_dir=config.data_dir, on_progress=None if as_json else on_progress)
    if as_json:
        typer.echo(json_line(summary.to_dict()))
        return
    verb = "built" if summary.created else "rebuilt (unchanged)"
    typer.echo(f"release {summary.version} of {summary.project} {verb} at {summary.path}: {summary.items} items "
               + ", ".join(f"{s} {n}" for s, n in summary.splits.items()))
    for key, n in sorted(summary.excluded.items()):
        typer.echo(f"left out: {n} items ({key.replace('_', ' ')})")
    for note in summary.unbalanced:
        typer.echo(f"not balanced: {note}")


@export_app.command("meld-csv")
def export_meld_csv(
    project: ProjectOption,
    out: Annotated[Path, typer.Option("--out", help="Folder for {train,dev,test}_sent_emo.csv and clips.")],
    allow_simulated: AllowSimulated = False,
    fields: FieldsOption = None,
    seed: SeedOption = 0,
) -> None:
    """Write MELD-style CSVs (Sr No., Utterance, Speaker, Emotion, Sentiment, ...) with dia{D}_utt{U} clips.

    Example: mmcurate export meld-csv --project demo --out ./meld --allow-simulated
    """
    options = release_service.ReleaseOptions(project=project, out_dir=out, allow_simulated=allow_simulated, seed=seed, fields=_fields(fields))
    with db_session() as session:
        paths = release_service.export_meld_csv(session, options, data_dir=settings().data_dir)
    for split, path in paths.items():
        typer.echo(f"{split}: {path}")


@export_app.command("brighter-csv")
def export_brighter_csv(
    project: ProjectOption,
    out: Annotated[Path, typer.Option("--out", help="Folder for train.csv, dev.csv and test.csv.")],
    field: Annotated[str | None, typer.Option("--field", help="The multi-label field (default: the project's only one).")] = None,
    allow_simulated: AllowSimulated = False,
    seed: SeedOption = 0,
) -> None:
    """Write BRIGHTER / SemEval-2025 Task 11 style CSVs: id, text, one 0/1 (or 0-3 intensity) column per emotion.

    Example: mmcurate export brighter-csv --project demo --out ./brighter --field emotion_intensity
    """
    options = release_service.ReleaseOptions(project=project, out_dir=out, allow_simulated=allow_simulated, seed=seed)
    with db_session() as session:
        paths = brighter_service(session, options, data_dir=settings().data_dir, field=field)
    for split, path in paths.items():
        typer.echo(f"{split}: {path}")


@export_app.command("jsonl")
def export_jsonl(
    project: ProjectOption,
    out: Annotated[Path, typer.Option("--out", help="A .jsonl file, or a folder for items.jsonl.")],
    allow_simulated: AllowSimulated = False,
    fields: FieldsOption = None,
    seed: SeedOption = 0,
) -> None:
    """Write every releasable item as one JSON object per line (labels, judgements, provenance, split).

    Example: mmcurate export jsonl --project demo --out ./demo.jsonl --allow-simulated
    """
    options = release_service.ReleaseOptions(project=project, out_dir=out, allow_simulated=allow_simulated, seed=seed, fields=_fields(fields))
    with db_session() as session:
        path, n = release_service.export_jsonl(session, options, data_dir=settings().data_dir)
    typer.echo(f"{n} items written to {path}")


@release_app.command("publish")
def release_publish(
    project: ProjectOption,
    repo: Annotated[str, typer.Option("--repo", help="Hub dataset repository ORG/NAME.")],
    version: Annotated[str | None, typer.Option("--version", help="Release version (default: the latest).")] = None,
    public: Annotated[bool, typer.Option("--public", help="Create the repository public (default: private).")] = False,
    as_json: JsonOption = False,
) -> None:
    """Push a release to a Hugging Face Hub as one commit plus a version tag (HF_ENDPOINT, HF_TOKEN).

    Example: HF_TOKEN=hf_... mmcurate release publish --project demo --repo my-org/demo-corpus
    """
    with db_session() as session, progress_bar("publish") as on_progress:
        result = release_service.publish(session, project, repo, version=version, private=not public,
                                         on_progress=None if as_json else on_progress)
    if as_json:
        typer.echo(json_line(result))
    elif result["created"]:
        typer.echo(f"published {result['project']} {result['version']} to {result['repo']} (tag {result['tag']}, commit {result['commit'][:12]})")
    else:
        typer.echo(f"{result['repo']} already has {result['version']} (commit {result['commit'][:12]}); nothing changed")


@release_app.command("list")
def release_list(project: ProjectOption, as_json: JsonOption = False) -> None:
    """List the recorded releases of a project, where each was published, and the taken-down
    sources each still holds (those are not published again).

    Example: mmcurate release list --project demo --json
    """
    with db_session() as session:
        records = release_service.list_releases(session, project)
    if as_json:
        emit_json_lines(records)
    else:
        emit_table(records, ["id", "version", "items", "published_repo", "published_revision", "taken_down_sources", "path"])


@source_app.command("takedown")
def source_takedown(
    source_id: Annotated[int, typer.Argument(help="Id of the source (see `mmcurate sources list`).")],
    reason: Annotated[str | None, typer.Option("--reason", help="Why (kept with the source).")] = None,
    as_json: JsonOption = False,
) -> None:
    """Exclude a source from every future release and list the past releases (and Hub revisions) that contained it.

    Example: mmcurate source takedown 12 --reason "uploader asked for removal"
    """
    with db_session() as session:
        result = takedown_service.takedown(session, source_id, reason=reason)
    if as_json:
        typer.echo(json_line(result.to_dict()))
        return
    state = "was already taken down" if result.already else "taken down"
    typer.echo(f"source {result.source_id} ({result.uri}) {state} at {result.taken_down_at.isoformat()}; excluded from future releases")
    if not result.releases:
        typer.echo("no past release contained it")
        return
    typer.echo(f"past releases containing it (they will not be published again; build a new one with "
               f"`mmcurate export hf --project {result.project}`):")
    emit_table(list(result.releases), ["version", "items", "published_repo", "published_revision", "path"])
    for r in result.published:
        typer.echo(f"still on the Hub: {r['published_repo']} at revision {r['published_revision']} (tag {r['version']}); "
                   "a new release replaces main but not this tag — delete the tag (or the repository) on the Hub to withdraw it")


def register(app: typer.Typer) -> None:
    app.add_typer(export_app, name="export")
    app.add_typer(release_app, name="release")
    app.add_typer(source_app, name="source")
