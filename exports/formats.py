"""The field's own formats: MELD-style CSV with clip files, BRIGHTER-style CSV, JSONL, and a
per-annotator long table.

MELD (Poria et al., 2019, "MELD: A Multimodal Multi-Party Dataset for Emotion Recognition in
Conversations", ACL) ships ``{train,dev,test}_sent_emo.csv`` with the columns
``Sr No., Utterance, Speaker, Emotion, Sentiment, Dialogue_ID, Utterance_ID, Season, Episode,
StartTime, EndTime`` and clips named ``dia{Dialogue_ID}_utt{Utterance_ID}.mp4``. We keep its
columns (Season/Episode have no counterpart and are left out), its ``HH:MM:SS,mmm`` times and
its clip naming, number dialogues from 0 in release order, and append our own columns.

BRIGHTER (Muhammad et al., 2025, "BRIGHTER: BRIdging the Gap in Human-Annotated Textual Emotion
Recognition Datasets for 28 Languages", ACL), as released for SemEval-2025 Task 11, ships one CSV
per language and split with the columns ``id,text,Anger,Disgust,Fear,Joy,Sadness,Surprise``:
one capitalised column per emotion, 0/1 in track A (multi-label) and 0–3 in track B
(intensity), the emotion cells left empty in files whose labels are withheld. We write
``train.csv``, ``dev.csv`` and ``test.csv`` in that layout, the emotions being the field's
labels in their order.

Every CSV cell goes through ``csv_cell``, so that no text cell is run as a formula by the
spreadsheet a reader opens it in.
"""

from __future__ import annotations

import csv
import json
import re
import shutil
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from backend.domain import ValidationError, ValueKind
from exports.hf import released_value
from exports.records import SPLITS, LabelField, ReleaseRow, ReleaseSpec, value_text

MELD_COLUMNS: tuple[str, ...] = (
    "Sr No.", "Utterance", "Speaker", "Emotion", "Sentiment", "Dialogue_ID", "Utterance_ID", "StartTime", "EndTime",
)
OUR_COLUMNS: tuple[str, ...] = (
    "item_id", "dialogue_key", "language", "text_language", "dominant_script", "han_variant", "cmi",
    "source_id", "source_url", "licence", "clip", "video", "asr_model", "asr_confidence", "simulated",
)
"""Columns appended after MELD's (readers of MELD select its columns by name). The text
profile gives its one-value columns; the per-script shares and the normalised text are in
the parquet shards and JSONL only."""
MELD_SPLIT_NAMES = {"train": "train", "validation": "dev", "test": "test"}
LONG_TABLE_COLUMNS: tuple[str, ...] = ("item_id", "annotator", "field", "value", "simulated")
FORMULA_STARTS: tuple[str, ...] = ("=", "+", "-", "@", "\t", "\r")
"""First characters that make a spreadsheet read a cell as a formula (OWASP, "CSV Injection")."""
_PLAIN_NUMBER = re.compile(r"[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?")


def csv_cell(value: object) -> object:
    r"""A CSV cell that a spreadsheet shows and never runs.

    Text starting with ``= + - @``, a tab or a carriage return gets a leading ``'`` (the
    escape OWASP recommends), unless it is a plain number such as ``-1`` or ``+0.5``, which
    a spreadsheet reads as that number. Numbers (``int``, ``float``, ``bool``) stay numbers.

    >>> csv_cell('=HYPERLINK("http://evil.example")')
    '\'=HYPERLINK("http://evil.example")'
    >>> csv_cell("-1"), csv_cell(-1.5), csv_cell("-1+2")
    ('-1', -1.5, "'-1+2")
    """
    if isinstance(value, str) and value.startswith(FORMULA_STARTS) and not _PLAIN_NUMBER.fullmatch(value):
        return "'" + value
    return value


def csv_row(cells: Iterable[object]) -> list[object]:
    """``cells`` through ``csv_cell``: what every CSV this package writes passes to ``writerow``."""
    return [csv_cell(c) for c in cells]


def meld_time(seconds: float | None) -> str:
    """Seconds as MELD writes them, ``HH:MM:SS,mmm`` (empty when unknown).

    >>> meld_time(976.059)
    '00:16:16,059'
    """
    if seconds is None:
        return ""
    ms = int(round(seconds * 1000))
    h, rest = divmod(ms, 3_600_000)
    m, rest = divmod(rest, 60_000)
    s, ms = divmod(rest, 1000)
    return f"{h:02d}:{m:02d}:{s:02d},{ms:03d}"


def meld_numbering(rows: Sequence[ReleaseRow]) -> dict[int, tuple[int, int]]:
    """(Dialogue_ID, Utterance_ID) per item id: dialogues numbered from 0 in release order,
    utterances from 0 within each dialogue. A row without a dialogue is a dialogue of its
    source."""
    numbering: dict[int, tuple[int, int]] = {}
    dialogue_ids: dict[str, int] = {}
    next_utt: dict[int, int] = {}
    for r in rows:
        key = r.dialogue_id if r.dialogue_id is not None else f"source-{r.source_id}"
        d = dialogue_ids.setdefault(key, len(dialogue_ids))
        u = next_utt.get(d, 0)
        next_utt[d] = u + 1
        numbering[r.item_id] = (d, u)
    return numbering


def _label(row: ReleaseRow, spec: ReleaseSpec, name: str) -> str:
    """The released value of field ``name`` as one cell (``value_text``); empty without one
    or when the spec has no such field."""
    if name not in {f.name for f in spec.fields}:
        return ""
    value = released_value(row, spec.field(name))
    return "" if value is None else value_text(value)


def write_meld_csv(
    rows: Sequence[ReleaseRow], split_of: dict[int, str], spec: ReleaseSpec, out_dir: Path
) -> dict[str, Path]:
    """Write ``out_dir/{train,dev,test}_sent_emo.csv`` and clips ``out_dir/<split>/dia{D}_utt{U}.wav``.

    ``rows`` must be in release order (``exports.hf.ordered_rows``). Emotion and Sentiment
    come from fields named ``emotion`` and ``sentiment`` (empty if the scheme lacks them);
    every other field is appended as its own column. Returns the CSV path per split.
    """
    out_dir.mkdir(parents=True, exist_ok=True)
    numbering = meld_numbering(rows)
    extra_fields = [f.name for f in spec.fields if f.name not in ("emotion", "sentiment")]
    paths: dict[str, Path] = {}
    for split in SPLITS:
        meld_split = MELD_SPLIT_NAMES[split]
        path = out_dir / f"{meld_split}_sent_emo.csv"
        paths[split] = path
        with path.open("w", newline="", encoding="utf-8") as fh:
            writer = csv.writer(fh, lineterminator="\n")
            writer.writerow(csv_row([*MELD_COLUMNS, *OUR_COLUMNS, *extra_fields]))
            sr = 0
            for r in rows:
                if split_of[r.item_id] != split:
                    continue
                sr += 1
                d, u = numbering[r.item_id]
                clip = video = ""
                if r.audio_path is not None:
                    clip = f"{meld_split}/dia{d}_utt{u}{Path(r.audio_path).suffix}"
                    _copy(Path(r.audio_path), out_dir / clip)
                if r.video_path is not None:
                    video = f"{meld_split}/dia{d}_utt{u}{Path(r.video_path).suffix}"
                    _copy(Path(r.video_path), out_dir / video)
                writer.writerow(csv_row([
                    sr, r.text, r.speaker or "", _label(r, spec, "emotion"), _label(r, spec, "sentiment"), d, u,
                    meld_time(r.start_s), meld_time(r.end_s),
                    r.item_id, r.dialogue_id or "", r.language or "", r.text_language or "", r.dominant_script or "",
                    r.han_variant or "", "" if r.cmi is None else r.cmi,
                    r.source_id, r.source_url, r.licence, clip, video,
                    r.asr_model or "", "" if r.asr_confidence is None else r.asr_confidence, int(r.simulated),
                    *(_label(r, spec, name) for name in extra_fields),
                ]))
    return paths


def _copy(src: Path, dest: Path) -> None:
    from backend.domain import MediaError

    if not src.is_file():
        raise MediaError(f"clip {str(src)!r} does not exist; re-run `mmcurate process` to cut it again")
    dest.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(src, dest)


BRIGHTER_SPLIT_NAMES = {"train": "train", "validation": "dev", "test": "test"}


def brighter_field(spec: ReleaseSpec, name: str | None = None) -> LabelField:
    """The multi-label field a BRIGHTER-style CSV is written from: ``name``, or the spec's only
    multi_label / multi_label_intensity field; a ``ValidationError`` naming the choices otherwise."""
    kinds = (ValueKind.MULTI_LABEL, ValueKind.MULTI_LABEL_INTENSITY)
    choices = [f.name for f in spec.fields if f.kind in kinds]
    if name is not None:
        field = spec.field(name)
        if field.kind not in kinds:
            raise ValidationError(
                f"field {name!r} is {field.kind.value}; a BRIGHTER-style CSV needs a multi_label or "
                f"multi_label_intensity field ({', '.join(choices) or 'the project has none'})"
            )
        return field
    if len(choices) != 1:
        raise ValidationError(
            "a BRIGHTER-style CSV needs one multi_label or multi_label_intensity field; "
            + (f"the project has several ({', '.join(choices)}): choose one with --field" if choices else "the project has none")
        )
    return spec.field(choices[0])


def brighter_columns(field: LabelField) -> tuple[str, ...]:
    """``id``, ``text``, then one column per label, capitalised as BRIGHTER's files write them.

    >>> brighter_columns(LabelField("emotion", ValueKind.MULTI_LABEL, ("anger", "joy")))
    ('id', 'text', 'Anger', 'Joy')
    """
    return ("id", "text", *(label.capitalize() for label in field.labels))


def brighter_cells(row: ReleaseRow, field: LabelField) -> list[object]:
    """One emotion cell per label: 0/1 (multi_label), the intensity (multi_label_intensity), or
    all empty when the row has no value for ``field``."""
    value = released_value(row, field)
    if value is None:
        return [""] * len(field.labels)
    if field.kind is ValueKind.MULTI_LABEL:
        return [int(label in value) for label in field.labels]  # type: ignore[operator]
    return [int(value[label]) for label in field.labels]  # type: ignore[index]


def write_brighter_csv(
    rows: Sequence[ReleaseRow], split_of: dict[int, str], field: LabelField, out_dir: Path
) -> dict[str, Path]:
    """Write ``out_dir/{train,dev,test}.csv`` in BRIGHTER's layout (``brighter_columns``).

    ``id`` is the item's ``external_id`` when it has one (e.g. the SemEval row id it was
    imported with), else its item id; ``text`` is the item's text, or for an image without one
    its OCR text. ``rows`` in release order. Returns the CSV path per split.
    """
    out_dir.mkdir(parents=True, exist_ok=True)
    paths: dict[str, Path] = {}
    for split in SPLITS:
        path = paths[split] = out_dir / f"{BRIGHTER_SPLIT_NAMES[split]}.csv"
        with path.open("w", newline="", encoding="utf-8") as fh:
            writer = csv.writer(fh, lineterminator="\n")
            writer.writerow(csv_row(brighter_columns(field)))
            for r in rows:
                if split_of[r.item_id] == split:
                    row_id = r.external_id if r.external_id is not None else str(r.item_id)
                    writer.writerow(csv_row([row_id, r.text or r.ocr_text, *brighter_cells(r, field)]))
    return paths


def row_json(row: ReleaseRow, split: str, project: str) -> dict[str, Any]:
    """A row as one JSON object: its project, labels by name, every judgement, clip paths as given."""
    return {
        "project": project,
        "item_id": row.item_id,
        "split": split,
        "audio_path": str(row.audio_path) if row.audio_path is not None else None,
        "video_path": str(row.video_path) if row.video_path is not None else None,
        "image_path": str(row.image_path) if row.image_path is not None else None,
        "attachment_paths": [str(p) for p in row.attachment_paths],
        **row.descriptive_columns(),
        "labels": {
            name: {
                "value": _json_value(g.value),
                "confidence": g.confidence,
                "distribution": dict(sorted(g.distribution.items())),
                "agreement": g.agreement,
            }
            for name, g in sorted(row.labels.items())
        },
        "judgements": {
            name: [{"annotator": j.annotator, "value": _json_value(j.value), "simulated": j.simulated}
                   for j in sorted(js, key=lambda j: j.annotator)]
            for name, js in sorted(row.judgements.items())
        },
    }


def _json_value(value: object) -> object:
    if isinstance(value, tuple):
        return list(value)
    if isinstance(value, Mapping):
        return dict(value)
    return value


def write_jsonl(rows: Iterable[ReleaseRow], split_of: dict[int, str], path: Path, *, project: str) -> int:
    """One JSON object per line (UTF-8, keys in a fixed order); returns the number of lines."""
    path.parent.mkdir(parents=True, exist_ok=True)
    n = 0
    with path.open("w", encoding="utf-8") as fh:
        for r in rows:
            fh.write(json.dumps(row_json(r, split_of[r.item_id], project), ensure_ascii=False) + "\n")
            n += 1
    return n


def write_long_table(rows: Iterable[ReleaseRow], path: Path) -> int:
    """Every raw judgement as ``item_id, annotator, field, value, simulated`` (CSV); returns the count.
    A value that is not a label or text is written as compact JSON (``value_text``).

    The shape agreement tools expect (one judgement per line), for people who recompute
    agreement themselves.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    n = 0
    with path.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh, lineterminator="\n")
        writer.writerow(csv_row(LONG_TABLE_COLUMNS))
        for r in rows:
            for name in sorted(r.judgements):
                for j in sorted(r.judgements[name], key=lambda j: (j.annotator, value_text(j.value))):
                    writer.writerow(csv_row([r.item_id, j.annotator, name, value_text(j.value), int(j.simulated)]))
                    n += 1
    return n
