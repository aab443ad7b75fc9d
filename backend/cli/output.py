"""How the CLI talks: JSON lines for scripts, one-line errors with exit codes, progress bars."""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import date, datetime
from pathlib import Path
from typing import Any

import typer
from typer.core import TyperGroup

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


class CommandGroup(TyperGroup):
    """The top-level command group: a reader that closes our stdout early ends the command quietly.

    ``mmcurate annotations list | head`` or ``... --json | grep -q X`` close the pipe before
    everything is written; the write raises BrokenPipeError, which click would turn into exit
    status 1 (failing ``set -o pipefail``). Every subcommand runs inside this ``invoke``.
    """

    def invoke(self, ctx):  # type: ignore[no-untyped-def]
        try:
            return super().invoke(ctx)
        except BrokenPipeError:
            ctx.exit(stdout_closed())


def stdout_closed() -> int:
    """The reader of stdout went away: drop what is still buffered and return exit status 0.

    Stopping early is what the reader asked for (``head -n 1`` and ``grep -q`` read no further),
    so it is a success, as `set -o pipefail` needs. Stdout is pointed at /dev/null so the
    interpreter's final flush cannot raise a second BrokenPipeError at exit (Python's recipe
    in the ``signal`` module's documentation, with status 0 instead of 1).
    """
    try:
        fd = sys.stdout.fileno()
    except (AttributeError, OSError, ValueError):  # an in-process runner's stdout has no descriptor
        return 0
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, fd)
    finally:
        os.close(devnull)
    return 0


def run_cli(app: typer.Typer, args: list[str] | None = None) -> int:
    """Run ``app``; a MmcurateError prints ``error: <message>`` on stderr and returns its exit code.

    Usage errors and ``--help`` are handled by Typer itself (standalone mode) and come back as
    their exit status. A closed stdout (``| head``) ends the command with status 0, silently.
    """
    try:
        code = _run(app, args)
        sys.stdout.flush()
    except BrokenPipeError:
        return stdout_closed()
    return code


def _run(app: typer.Typer, args: list[str] | None) -> int:
    try:
        app(args=args, prog_name="mmcurate")
    except BrokenPipeError:
        return stdout_closed()
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
