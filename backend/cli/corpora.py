"""`mmcurate ingest images|chat|text`: memes, chat exports and text corpora in, as items of their kind."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from backend.cli.context import db_session, settings
from backend.cli.output import progress_bar
from backend.services import ingest as corpora
from backend.services.ingest import IngestSummary

ProjectOpt = Annotated[str, typer.Option("--project", help="Project name or id.")]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print the summary as one JSON object.")]
LanguageOpt = Annotated[str | None, typer.Option("--language", help="Language of the items (ISO 639-1); default the project's when it has one.")]
LicenceOpt = Annotated[str | None, typer.Option("--licence", help="Licence of the whole input (e.g. CC-BY-4.0).")]


def _report(summary: IngestSummary, as_json: bool) -> None:
    if as_json:
        typer.echo(json.dumps(summary.as_json(), ensure_ascii=False, default=str))
    else:
        line = (f"{summary.items_created} new {summary.kind} items, {summary.items_existing} already in, "
                f"{summary.already_registered} input(s) registered before, {len(summary.failed)} refused")
        if summary.attachments:
            line += f", {summary.attachments} attached images"
        if summary.duplicate_groups:
            line += (f"; {summary.duplicate_groups} near-duplicate groups ({summary.duplicate_members} items "
                     "not annotated on their own)")
        typer.echo(line)
        if summary.skipped:
            typer.echo("left out: " + ", ".join(f"{n} {reason}" for reason, n in sorted(summary.skipped.items())))
        if summary.labels:
            labels = summary.labels
            typer.echo(f"labels of {labels['items']} items stored as annotations of {labels['annotator']} "
                       f"(scheme {labels['scheme']}, fields {', '.join(labels['fields'])}, batch {labels['batch_id']})")
    for where, reason in summary.failed:
        typer.echo(f"refused {where}: {reason}", err=True)


def register(ingest_app: typer.Typer) -> None:
    @ingest_app.command("images")
    def ingest_images(
        folder: Annotated[Path, typer.Argument(help="Folder searched recursively for images (png, jpg, webp, gif, ...).")],
        project: ProjectOpt,
        ocr: Annotated[bool, typer.Option("--ocr/--no-ocr", help="Read the text in each image with tesseract (the project's languages together).")] = True,
        psm: Annotated[int, typer.Option("--psm", help="Tesseract page segmentation mode (3 automatic, 11 sparse text, 6 one block).")] = 3,
        as_json: JsonOpt = False,
    ) -> None:
        """Register every image under FOLDER as an image item with its OCR text and provenance.

        Metadata: NAME.json beside NAME.png, or one metadata.csv / metadata.jsonl / metadata.json at the top
        of the folder with a file_name column (caption, title, author, licence, source_url, language).

        Example: mmcurate ingest images memes/ --project memes
        """
        with db_session() as session, progress_bar("images") as on_progress:
            summary = corpora.ingest_images(session, settings(), project, folder, ocr=ocr, psm=psm,
                                            on_progress=on_progress)
        _report(summary, as_json)

    @ingest_app.command("chat")
    def ingest_chat(
        file: Annotated[Path, typer.Argument(help="Telegram Desktop result.json, WhatsApp exported .txt, or JSONL.")],
        project: ProjectOpt,
        format: Annotated[str | None, typer.Option("--format", help="telegram, whatsapp or jsonl (default: detected).")] = None,
        dayfirst: Annotated[bool | None, typer.Option("--dayfirst/--monthfirst", help="WhatsApp date order when the export cannot tell.")] = None,
        language: LanguageOpt = None,
        licence: LicenceOpt = None,
        scheme: Annotated[str | None, typer.Option("--scheme", help="Scheme the turns' labels answer (JSONL 'labels'; default: the project's scheme that has their fields).")] = None,
        labels_as: Annotated[str, typer.Option("--labels-as", help="Name of the annotator set the export's labels are stored under (imported:NAME).")] = "corpus",
        as_json: JsonOpt = False,
    ) -> None:
        """Register a chat export: one chat_turn item per message, authors pseudonymised, stickers as images.

        Example: mmcurate ingest chat export/result.json --project chats --language zh
        """
        with db_session() as session, progress_bar("chat") as on_progress:
            summary = corpora.ingest_chat(session, settings(), project, file, format=format, dayfirst=dayfirst,
                                          language=language, licence=licence, scheme=scheme, labels_as=labels_as,
                                          on_progress=on_progress)
        _report(summary, as_json)

    @ingest_app.command("text")
    def ingest_text(
        file: Annotated[Path, typer.Argument(help="CSV, TSV or JSONL: an id column, a text column, label columns.")],
        project: ProjectOpt,
        format: Annotated[str | None, typer.Option("--format", help="csv, tsv or jsonl (default: from the suffix).")] = None,
        id_column: Annotated[str | None, typer.Option("--id-column", help="Column of the text ids (default id).")] = None,
        text_column: Annotated[str | None, typer.Option("--text-column", help="Column of the texts (default text).")] = None,
        scheme: Annotated[str | None, typer.Option("--scheme", help="Scheme the label columns answer (default: the project's scheme they match).")] = None,
        labels_as: Annotated[str, typer.Option("--labels-as", help="Name of the annotator set the file's labels are stored under (imported:NAME).")] = "corpus",
        language: LanguageOpt = None,
        licence: LicenceOpt = None,
        as_json: JsonOpt = False,
    ) -> None:
        """Register a text corpus (e.g. BRIGHTER / SemEval-2025 Task 11 CSV), its labels as imported annotations.

        Example: mmcurate ingest text eng_train.csv --project brighter --scheme brighter --labels-as semeval
        """
        with db_session() as session, progress_bar("text") as on_progress:
            summary = corpora.ingest_text(session, settings(), project, file, format=format, id_column=id_column,
                                          text_column=text_column, language=language, scheme=scheme,
                                          labels_as=labels_as, licence=licence, on_progress=on_progress)
        _report(summary, as_json)
