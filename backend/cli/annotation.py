"""`mmcurate labelstudio`, `annotators`, `annotate`, `annotations`: the annotation loop from the shell."""

from __future__ import annotations

from dataclasses import asdict
from typing import Annotated

import typer

from backend.cli.context import db_session, settings
from backend.cli.output import emit_json_lines, emit_table, exit_code_for, json_line, progress_bar
from backend.domain import ServiceUnavailableError
from backend.services import annotation as service

labelstudio_app = typer.Typer(
    help="Local Label Studio instances, one per annotator.\n\nExample: mmcurate labelstudio start", no_args_is_help=True)
annotators_app = typer.Typer(
    help="Annotators and their own Label Studio logins.\n\nExample: mmcurate annotators add ravi@example.org --languages ta",
    no_args_is_help=True)
annotate_app = typer.Typer(
    help="Batches out to Label Studio, judgements back.\n\nExample: mmcurate annotate push --project demo --scheme emotion7 --k 3",
    no_args_is_help=True)
annotations_app = typer.Typer(
    help="Judgements collected from Label Studio.\n\nExample: mmcurate annotations list --project demo --json",
    no_args_is_help=True)

JsonOption = Annotated[bool, typer.Option("--json", help="One JSON object per line, for scripts.")]
ProjectOption = Annotated[str, typer.Option("--project", help="Project name or id.")]


def _split(value: str | None) -> tuple[str, ...]:
    return tuple(part.strip() for part in (value or "").split(",") if part.strip())


def _emit_statuses(rows: list[service.InstanceStatus], as_json: bool) -> None:
    records = [asdict(r) for r in rows]
    if as_json:
        emit_json_lines(records)
    else:
        emit_table(records, ["name", "role", "annotator", "url", "pid", "running", "last_used"])


@labelstudio_app.command("start")
def labelstudio_start(as_json: JsonOption = False) -> None:
    """Install Label Studio if needed (its own venv) and start every instance that is down.

    Example: mmcurate labelstudio start
    """
    with db_session() as session, progress_bar("labelstudio") as on_progress:
        rows = service.start_instances(session, settings(), on_progress=on_progress)
    _emit_statuses(rows, as_json)


@labelstudio_app.command("stop")
def labelstudio_stop(as_json: JsonOption = False) -> None:
    """Stop every local Label Studio instance.

    Example: mmcurate labelstudio stop
    """
    with db_session() as session:
        rows = service.stop_instances(session, settings())
    _emit_statuses(rows, as_json)


@labelstudio_app.command("status")
def labelstudio_status(as_json: JsonOption = False) -> None:
    """Each instance, whose it is, its address on the gateway, whether it is up (with its PID), and when it was last used.

    Instances start when their annotator opens their address (``mmcurate serve`` runs the gateway) or a
    command needs them, and stop after MMCURATE_INSTANCE_IDLE_MINUTES without use.

    Example: mmcurate labelstudio status --json
    """
    _emit_statuses(service.instance_statuses(settings()), as_json)


@annotators_app.command("add")
def annotators_add(
    email: Annotated[str, typer.Argument(help="The annotator's email (their Label Studio login).")],
    languages: Annotated[str, typer.Option("--languages", help="Comma-separated ISO 639 codes they label.")] = "",
    exist_ok: Annotated[bool, typer.Option("--exist-ok", help="Succeed if the annotator exists already.")] = False,
    as_json: JsonOption = False,
) -> None:
    """Add an annotator: their own Label Studio instance and a login, printed once.

    Example: mmcurate annotators add ravi@example.org --languages ta,ml --exist-ok
    """
    with db_session() as session:
        if exist_ok:
            login, added = service.ensure_annotator(session, settings(), email, _split(languages))
        else:
            login, added = service.add_annotator(session, settings(), email, _split(languages)), True
    if as_json:
        typer.echo(json_line({**asdict(login), "added": added}))
        return
    if not added:
        typer.echo(f"annotator {login.pseudonym} ({login.email}) already exists: open {login.url}")
        return
    typer.echo(f"annotator {login.pseudonym}: open {login.url} and log in as {login.email} / {login.password}")
    typer.echo("(the password is shown only this once)")


@annotators_app.command("list")
def annotators_list(as_json: JsonOption = False) -> None:
    """Every annotator, pseudonym, languages and Label Studio URL (never passwords).

    Example: mmcurate annotators list --json
    """
    with db_session() as session:
        rows = service.list_annotators(session, settings())
    if as_json:
        emit_json_lines(rows)
    else:
        emit_table(rows, ["pseudonym", "email", "languages", "simulated", "url"])


@annotate_app.command("push")
def annotate_push(
    project: ProjectOption,
    scheme: Annotated[str, typer.Option("--scheme", help="Labeling scheme, e.g. sentiment3, emotion7, utterance.")],
    k: Annotated[int, typer.Option("--k", help="Annotators per item.")] = 3,
    size: Annotated[int | None, typer.Option("--size", help="At most this many items (stratified by language and source).")] = None,
    language: Annotated[str | None, typer.Option("--language", help="Only items in this language.")] = None,
    source: Annotated[int | None, typer.Option("--source", help="Only items of this source id.")] = None,
    speaker: Annotated[str | None, typer.Option("--speaker", help="Only utterances of this speaker label.")] = None,
    kind: Annotated[str | None, typer.Option("--kind", help="Only items of this kind: clip, image, chat_turn or text.")] = None,
    gold_rate: Annotated[float, typer.Option("--gold-rate", help="Share of gold items mixed in (shown to everyone).")] = 0.0,
    annotators: Annotated[str | None, typer.Option("--annotators", help="Comma-separated pseudonyms (default: all).")] = None,
    seed: Annotated[int, typer.Option(help="Seed of the sample and the assignment.")] = 0,
) -> None:
    """Send items to Label Studio, each to k annotators in their own instances; re-running adds no duplicates.

    Example: mmcurate annotate push --project demo --scheme emotion7 --k 3 --size 200 --language ta
    """
    options = service.PushOptions(project=project, scheme=scheme, k=k, size=size, language=language,
                                  source_id=source, speaker=speaker, kind=kind, gold_rate=gold_rate,
                                  annotators=_split(annotators), seed=seed)
    with db_session() as session, progress_bar("push") as on_progress:
        result = service.push(session, settings(), options, on_progress=on_progress)
    typer.echo(json_line(asdict(result)))


@annotate_app.command("pull")
def annotate_pull(project: ProjectOption) -> None:
    """Reconcile with every Label Studio instance: new, changed and deleted annotations.

    Example: mmcurate annotate pull --project demo
    """
    with db_session() as session, progress_bar("pull") as on_progress:
        result = service.pull(session, settings(), project, on_progress=on_progress)
    typer.echo(json_line(asdict(result)))
    if result.unreachable:  # what was reachable is stored (committed above); say whose judgements are still out
        for line in result.unreachable:
            typer.echo(f"error: not pulled: {line}", err=True)
        raise typer.Exit(exit_code_for(ServiceUnavailableError("")))


@annotate_app.command("simulate")
def annotate_simulate(
    project: ProjectOption,
    scheme: Annotated[str, typer.Option("--scheme", help="Labeling scheme the simulated annotators answer.")],
    count: Annotated[int | None, typer.Option("--count", help="How many simulated annotators (default 3).")] = None,
    accuracy: Annotated[str, typer.Option("--accuracy", help="Comma-separated accuracies, one per annotator.")] = "0.9,0.8,0.4",
    k: Annotated[int | None, typer.Option("--k", help="Annotators per item (default: all of them).")] = None,
    size: Annotated[int | None, typer.Option("--size", help="At most this many items.")] = None,
    seed: Annotated[int, typer.Option(help="Seed of answers and lead times.")] = 0,
    annotators: Annotated[int | None, typer.Option(
        "--annotators", hidden=True, help="Deprecated spelling of --count, still accepted.")] = None,
) -> None:
    """Simulated annotators (real Label Studio users, marked simulated) label the items through Label Studio's API.

    Example: mmcurate annotate simulate --project demo --scheme emotion7 --count 3 --accuracy 0.9,0.8,0.4
    """
    from backend.domain import ValidationError

    if annotators is not None:
        if count is not None and count != annotators:
            raise ValidationError(f"--count {count} and --annotators {annotators} disagree; give only --count")
        typer.echo("warning: `annotate simulate --annotators N` is deprecated; use --count N", err=True)
    count = count if count is not None else annotators if annotators is not None else 3
    try:
        accuracies = tuple(float(a) for a in _split(accuracy))
    except ValueError:
        raise ValidationError(f"--accuracy {accuracy!r} must be comma-separated numbers like 0.9,0.8,0.4") from None
    if len(accuracies) != count:
        raise ValidationError(f"--accuracy gives {len(accuracies)} values for --count {count}; give one each")
    options = service.SimulateOptions(project=project, scheme=scheme, accuracies=accuracies, k=k, size=size, seed=seed)
    with db_session() as session, progress_bar("simulate") as on_progress:
        result = service.simulate(session, settings(), options, on_progress=on_progress)
    typer.echo(json_line({"annotators": list(result.annotators), "simulated": True, "submitted": result.submitted,
                          "already_done": result.already_done, "push": asdict(result.push)}))


@annotate_app.command("adjudicate")
def annotate_adjudicate(
    project: ProjectOption,
    adjudicator: Annotated[str, typer.Option("--adjudicator", help="Email of the adjudicator.")] = "adjudicator@example.org",
) -> None:
    """Items the QA gate sent back become review tasks showing all k answers, in the adjudication instance.

    Example: mmcurate annotate adjudicate --project demo
    """
    with db_session() as session:
        result = service.push_adjudications(session, settings(), project, adjudicator_email=adjudicator)
    typer.echo(f"{result.sent} review task(s) at {result.url}")
    if result.login:
        typer.echo(f"adjudicator login (shown once): {result.login.email} / {result.login.password}")


@annotations_app.command("list")
def annotations_list(
    project: ProjectOption,
    deleted: Annotated[bool, typer.Option("--deleted", help="Include deleted annotations.")] = False,
    as_json: JsonOption = False,
) -> None:
    """Every judgement, normalised per scheme field, one per line with --json.

    Example: mmcurate annotations list --project demo --json
    """
    with db_session() as session:
        rows = service.list_annotations(session, project, include_deleted=deleted)
    if as_json:
        emit_json_lines(rows)
    else:
        emit_table(rows, ["id", "item_id", "annotator", "simulated", "scheme", "values", "lead_time_s"])


def register(app: typer.Typer) -> None:
    app.add_typer(labelstudio_app, name="labelstudio")
    app.add_typer(annotators_app, name="annotators")
    app.add_typer(annotate_app, name="annotate")
    app.add_typer(annotations_app, name="annotations")
