"""How the CLI talks: JSON lines for scripts, one-line errors with exit codes, progress bars."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import date, datetime
from pathlib import Path
from typing import Any

import typer

from backend.domain import MmcurateError, NotFoundError, ServiceUnavailableError, ValidationError

EXIT_CODES: list[tuple[type[MmcurateError], int]] = [
    (ValidationError, 2),
    (NotFoundError, 3),
    (ServiceUnavailableError, 4),
    (MmcurateError, 1),
]


def exit_code_for(error: MmcurateError) -> int:
    for error_type, code in EXIT_CODES:
        if isinstance(error, error_type):
            return code
    return 1


def run_cli(app: typer.Typer, args: list[str] | None = None) -> int:
    """Run ``app``; a MmcurateError prints ``error: <message>`` on stderr and returns its exit code.

    Usage errors and ``--help`` are handled by Typer itself (standalone mode) and come back as
    their exit status.
    """
    try:
        app(args=args, prog_name="mmcurate")
    except MmcurateError as exc:
        typer.echo(f"error: {exc}", err=True)
        return exit_code_for(exc)
    except SystemExit as exc:
        code = exc.code
        if code is None:
            return 0
        return code if isinstance(code, int) else 1
    return 0


def _default(value: Any) -> Any:
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, (set, frozenset, tuple)):
        return list(value)
    raise TypeError(f"cannot encode {type(value).__name__} as JSON")


def json_line(record: dict[str, Any]) -> str:
    return json.dumps(record, ensure_ascii=False, default=_default, sort_keys=False)


def emit_json_lines(records: list[dict[str, Any]] | Iterator[dict[str, Any]]) -> None:
    for record in records:
        typer.echo(json_line(record))


def emit_table(rows: list[dict[str, Any]], columns: list[str]) -> None:
    """A plain aligned table for people (``--json`` is for scripts)."""
    if not rows:
        typer.echo("(none)")
        return
    cells = [[_cell(row.get(c)) for c in columns] for row in rows]
    widths = [max(len(c), *(len(r[i]) for r in cells)) for i, c in enumerate(columns)]
    typer.echo("  ".join(c.ljust(w) for c, w in zip(columns, widths)).rstrip())
    for row in cells:
        typer.echo("  ".join(v.ljust(w) for v, w in zip(row, widths)).rstrip())


def _cell(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, (list, tuple)):
        return ",".join(str(v) for v in value)
    if isinstance(value, float):
        return f"{value:.3f}"
    text = str(value)
    return text if len(text) <= 60 else text[:57] + "..."


@contextmanager
def progress_bar(label: str) -> Iterator[Callable[[str, int, int], None]]:
    """An ``on_progress(step, done, total)`` callback drawing a bar on stderr."""
    bars: dict[str, Any] = {}

    def on_progress(step: str, done: int, total: int) -> None:
        bar = bars.get(step)
        if bar is None:
            bar = typer.progressbar(length=max(total, 1), label=f"{label}: {step}", file=sys.stderr)
            bar.__enter__()
            bars[step] = bar
        bar.update(done - bar.pos)

    try:
        yield on_progress
    finally:
        for bar in bars.values():
            bar.__exit__(None, None, None)
