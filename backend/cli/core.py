"""Foundation commands: init, db, serve, token, project."""

from __future__ import annotations

from typing import Annotated

import typer

from backend.cli.context import MaxSpeakersOpt, MinSpeakersOpt, NumSpeakersOpt, db_session, settings, speaker_hint
from backend.cli.output import emit_json_lines, emit_table, json_line
from backend.services import projects as project_service
from backend.services import tokens as token_service
from backend.services import setup as setup_service

db_app = typer.Typer(help="Database migrations (alembic) on the configured database.\n\nExample: mmcurate db upgrade", no_args_is_help=True)
token_app = typer.Typer(help="API bearer tokens.\n\nExample: mmcurate token create ci-bot", no_args_is_help=True)
project_app = typer.Typer(help="Projects (corpora).\n\nExample: mmcurate project create demo --languages ta,ml", no_args_is_help=True)

JsonOption = Annotated[bool, typer.Option("--json", help="One JSON object per line, for scripts.")]


def _split(value: str | None) -> tuple[str, ...]:
    return tuple(part.strip() for part in (value or "").split(",") if part.strip())


def init() -> None:
    """Create the data directory and the database, and apply all migrations; safe to re-run.

    Example: MMCURATE_DATA_DIR=./var mmcurate init
    """
    result = setup_service.initialise(settings())
    typer.echo(f"data dir: {result.data_dir}")
    typer.echo(f"database: {result.database} (revision {result.revision})")


@db_app.command("upgrade")
def db_upgrade(revision: Annotated[str, typer.Argument(help="Target revision.")] = "head") -> None:
    """Apply migrations up to REVISION (default: head).

    Example: mmcurate db upgrade
    """
    typer.echo(f"database at revision {setup_service.upgrade_database(settings(), revision)}")


@db_app.command("downgrade")
def db_downgrade(revision: Annotated[str, typer.Argument(help="Target revision, e.g. base or -1.")]) -> None:
    """Revert migrations down to REVISION.

    Example: mmcurate db downgrade base
    """
    typer.echo(f"database at revision {setup_service.downgrade_database(settings(), revision)}")


@db_app.command("current")
def db_current() -> None:
    """Show the database's revision and the newest one.

    Example: mmcurate db current
    """
    current, head = setup_service.database_revisions(settings())
    typer.echo(f"current: {current}  head: {head}")


def serve(
    host: Annotated[str | None, typer.Option(help="Interface to bind (loopback by default).")] = None,
    port: Annotated[int | None, typer.Option(help="TCP port.")] = None,
) -> None:
    """Run the FastAPI service (OpenAPI at /docs, health at /health) and the annotators' gateway (/a/<pseudonym>/).

    Example: mmcurate serve --port 8765
    """
    import uvicorn

    from backend.api.app import create_app

    config = settings()
    # the annotators' addresses (the gateway at /a/<pseudonym>/) follow the interface and port served here
    config = config.model_copy(update={"api_host": host or config.api_host, "api_port": port or config.api_port})
    setup_service.ensure_initialised(config)
    uvicorn.run(create_app(config), host=config.api_host, port=config.api_port, log_level="info")


@token_app.command("create")
def token_create(name: Annotated[str, typer.Argument(help="What the token is for.")]) -> None:
    """Create an API bearer token; it is shown once and stored only as a hash.

    Example: mmcurate token create ci-bot
    """
    with db_session() as session:
        record, plaintext = token_service.create_token(session, name)
        token_id = record.id
    typer.echo(plaintext)
    typer.echo(f"token {token_id} ({name}) created; store it now, it cannot be shown again", err=True)


@token_app.command("list")
def token_list(as_json: JsonOption = False) -> None:
    """List API tokens (never their values).

    Example: mmcurate token list --json
    """
    with db_session() as session:
        rows = [
            {"id": t.id, "name": t.name, "created_at": t.created_at, "revoked_at": t.revoked_at}
            for t in token_service.list_tokens(session)
        ]
    if as_json:
        emit_json_lines(rows)
    else:
        emit_table(rows, ["id", "name", "created_at", "revoked_at"])


@token_app.command("revoke")
def token_revoke(token_id: Annotated[int, typer.Argument(help="Token id from `mmcurate token list`.")]) -> None:
    """Revoke a token; requests carrying it get 401 from then on.

    Example: mmcurate token revoke 3
    """
    with db_session() as session:
        token_service.revoke_token(session, token_id)
    typer.echo(f"token {token_id} revoked")


@project_app.command("create")
def project_create(
    name: Annotated[str, typer.Argument(help="Project name, e.g. dravidian-reviews.")],
    languages: Annotated[str, typer.Option(help="Comma-separated ISO 639 codes, e.g. ta,ml.")] = "",
    schemes: Annotated[str, typer.Option(help="Comma-separated annotation scheme names, e.g. sentiment3,emotion7.")] = "",
    licences: Annotated[str, typer.Option(help="Licences allowed in releases, comma-separated (empty: any).")] = "",
    description: Annotated[str | None, typer.Option(help="Free text.")] = None,
    chinese: Annotated[str | None, typer.Option("--chinese", help="Normalise Chinese text to simplified or traditional (the raw text is kept).")] = None,
    allow_romanized: Annotated[bool, typer.Option("--allow-romanized", help="Keep transcripts in Latin script for languages with their own script.")] = False,
    exist_ok: Annotated[bool, typer.Option("--exist-ok", help="Succeed if the project already exists.")] = False,
    num_speakers: NumSpeakersOpt = None,
    min_speakers: MinSpeakersOpt = None,
    max_speakers: MaxSpeakersOpt = None,
    as_json: JsonOption = False,
) -> None:
    """Create a project (a corpus under curation).

    --num-speakers/--min-speakers/--max-speakers are the project's speaker-count hints for
    diarization (a source's own hint and `process` options take precedence).

    Example: mmcurate project create demo --languages ta,ml,bn,zh,en --schemes sentiment3,emotion7
    """
    spec = project_service.ProjectSpec(
        name=name, languages=_split(languages), schemes=_split(schemes),
        allowed_licences=_split(licences), description=description, han_target=chinese,
        allow_romanized=allow_romanized, speakers=speaker_hint(num_speakers, min_speakers, max_speakers),
    )
    with db_session() as session:
        if exist_ok:
            project, created = project_service.ensure_project(session, spec)
        else:
            project, created = project_service.create_project(session, spec), True
        record = project_service.project_as_dict(project)
    if as_json:
        typer.echo(json_line(record))
    else:
        typer.echo(f"project {record['name']} (id {record['id']}) {'created' if created else 'already exists'}")


@project_app.command("speakers")
def project_speakers(
    name: Annotated[str, typer.Argument(help="Project name or id.")],
    num_speakers: NumSpeakersOpt = None,
    min_speakers: MinSpeakersOpt = None,
    max_speakers: MaxSpeakersOpt = None,
    clear: Annotated[bool, typer.Option("--clear", help="Remove the hint: estimate the count in every recording.")] = False,
) -> None:
    """Set (or --clear) the project's speaker-count hint for diarization; the next `process` re-runs only diarization and what follows it.

    A source's own hint (sidecar or manifest `num_speakers`/`min_speakers`/`max_speakers`) and the
    options of `process` take precedence, field by field.

    Example: mmcurate project speakers meld-ta --min-speakers 2 --max-speakers 5
    """
    from backend.domain import ValidationError

    hint = speaker_hint(num_speakers, min_speakers, max_speakers)
    if clear == (not hint.empty):
        raise ValidationError("give --num-speakers, --min-speakers and/or --max-speakers, or --clear (not both)")
    with db_session() as session:
        project = project_service.update_project(
            session, name, project_service.ProjectChanges(speakers=hint, fields_set=frozenset({"speakers"})))
        shown = project_service.project_as_dict(project)["speakers"]
    typer.echo(f"project {name}: speakers {shown or 'estimated (no hint)'}")


@project_app.command("list")
def project_list(as_json: JsonOption = False) -> None:
    """List projects.

    Example: mmcurate project list --json
    """
    with db_session() as session:
        rows, _total = project_service.list_projects(session, limit=10_000)
        records = [project_service.project_as_dict(p) for p in rows]
    if as_json:
        emit_json_lines(records)
    else:
        emit_table(records, ["id", "name", "languages", "schemes", "allowed_licences"])


@project_app.command("show")
def project_show(name: Annotated[str, typer.Argument(help="Project name or id.")]) -> None:
    """Show one project as JSON.

    Example: mmcurate project show demo
    """
    with db_session() as session:
        typer.echo(json_line(project_service.project_as_dict(project_service.get_project(session, name))))


@project_app.command("delete")
def project_delete(
    name: Annotated[str, typer.Argument(help="Project name or id.")],
    yes: Annotated[bool, typer.Option("--yes", help="Do not ask for confirmation.")] = False,
    delete_annotations: Annotated[bool, typer.Option(
        "--delete-annotations",
        help="Also delete the project's judgements, adjudications, aggregated labels and release records; "
             "without it a project holding any is refused.")] = False,
) -> None:
    """Delete a project and everything recorded for it (media files on disk stay).

    A project whose items carry judgements is refused unless --delete-annotations is given.

    Example: mmcurate project delete old-pilot --yes
    """
    if not yes:
        what = "all its records, judgements included" if delete_annotations else "all its records"
        typer.confirm(f"delete project {name!r} and {what}?", abort=True)
    with db_session() as session:
        work = project_service.delete_project(session, name, delete_annotations=delete_annotations)
    typer.echo(f"project {name} deleted" + (f", with {work.describe()}" if work.total else ""))


def register(app: typer.Typer) -> None:
    app.command("init")(init)
    app.command("serve")(serve)
    app.add_typer(db_app, name="db")
    app.add_typer(token_app, name="token")
    app.add_typer(project_app, name="project")
