"""Hugging Face dataset shards: ``data/<config>/<split>-NNNNN-of-NNNNN.parquet``, streamed.

Rows are encoded one row group at a time (``ReleaseSpec.row_group_rows`` rows, clip and image
bytes read from disk only then), so memory stays flat however many clips a release holds; a shard
closes once it passes ``ReleaseSpec.shard_max_bytes``. The parquet schema carries the
``datasets.Features`` in its metadata (as ``datasets`` itself writes it), and the same
Features object feeds the card's ``dataset_info``, so ``load_dataset`` casts cleanly.
Nothing time- or path-dependent is written: the same rows give byte-identical shards.
"""

from __future__ import annotations

import os
import shutil
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from backend.domain import MediaError, ValidationError, ValueKind
from exports.records import (
    SPLITS,
    LabelField,
    LabelValue,
    ReleaseRow,
    ReleaseSpec,
    free_text_medoid,
    value_text,
)

if TYPE_CHECKING:
    import datasets
    import pyarrow as pa

ProgressFn = Callable[[str, int, int], None]

VIDEO_DIR = "videos"


@dataclass(frozen=True)
class ShardFile:
    """One written shard: its path relative to the release folder, rows and bytes."""

    path: str
    split: str
    num_rows: int
    num_bytes: int


@dataclass(frozen=True)
class SplitFiles:
    """What was written for one split."""

    split: str
    shards: tuple[ShardFile, ...]
    num_rows: int
    num_bytes: int


def _list_of(feature: Any) -> Any:
    import datasets

    list_type = getattr(datasets, "List", None)
    return list_type(feature) if list_type is not None else datasets.Sequence(feature)


def value_feature(field: LabelField) -> Any:
    """The feature of one value of ``field`` (its column, and ``value`` in its judgements)."""
    import datasets

    v = datasets.Value
    kind = field.kind
    if kind is ValueKind.NOMINAL:
        return datasets.ClassLabel(names=list(field.labels))
    if kind is ValueKind.ORDINAL:
        return v("int32")
    if kind is ValueKind.INTERVAL:
        return v("float64")
    if kind is ValueKind.MULTI_LABEL:
        return _list_of(datasets.ClassLabel(names=list(field.labels)))
    if kind is ValueKind.MULTI_LABEL_INTENSITY:
        return {label: v("int32") for label in field.labels}
    return v("string")


def distribution_feature(field: LabelField) -> Any:
    """The feature of ``<field>_distribution`` (see ``release_features``)."""
    import datasets

    v = datasets.Value
    if field.kind is ValueKind.INTERVAL:
        return {"mean": v("float64"), "std": v("float64")}
    if field.kind is ValueKind.FREE_TEXT:
        return _list_of({"text": v("string"), "share": v("float64")})
    return _list_of(v("float64"))


def release_features(spec: ReleaseSpec) -> "datasets.Features":
    """The ``datasets.Features`` of a release: the item, its media, text and its profile,
    conversation and provenance (``exports.records.RESERVED_COLUMNS``, in that order), then
    per-field columns.

    Item and media: ``kind`` (``clip``, ``image``, ``chat_turn``, ``text``); ``audio`` (Audio,
    clip bytes embedded); ``video`` (path of the clip in the release folder); ``image`` (Image,
    bytes embedded, path ``<item_id><suffix>``); ``attachments`` (list of Image: a chat turn's
    stickers and photos in order, path ``<item_id>-<k><suffix>``); ``ocr_text`` (what OCR read
    in an image). Conversation: ``dialogue_id`` (conversation), ``utterance_index`` (turn),
    ``reply_to_item_id`` (int64, the turn answered), ``author`` (pseudonym), ``posted_at``
    (timestamp[us, tz=UTC], loads as an aware ``datetime``). ``external_id`` is the id in the
    source corpus; ``duplicate_group`` the near-duplicate group.

    The text profile: ``text_normalized`` (string), ``text_language`` (ISO 639-1 code
    identified from the text, beside the item's ``language``), ``scripts`` (list of
    {script: string, share: float64}, largest share first; empty when the text has no letters
    or was not profiled), ``dominant_script`` and ``han_variant`` (strings), ``cmi`` (float64,
    the Code-Mixing Index 0–100). A list of structs rather than a script → share map keeps one
    column type whatever scripts a release holds, so shards of different scripts concatenate
    and ``load_dataset`` casts them without a per-release schema.

    Per field ``f`` (columns named after ``LabelField.column``), one arrow type per field:

    - ``f``: nominal ClassLabel; ordinal int32 rank in label order; interval float64;
      multi_label list of ClassLabel (in label order); multi_label_intensity struct
      {label: int32} over every label in order (0 = absent … the field's maximum); free_text
      string (the adjudicated text, else the medoid judgement, ``free_text_medoid``).
    - ``f_confidence`` (float64): QA's confidence in the aggregated value; empty for a medoid.
    - ``f_distribution``: nominal/ordinal list of float64, the probability of each label in
      label order; multi_label list of float64, the share of judgements holding each label;
      multi_label_intensity list of float64, the mean intensity of each label; interval struct
      {mean, std} of the judgements; free_text list of {text, share}, each distinct judged
      text with its share of judgements, most frequent first (ties by text).
    - ``f_agreement`` (float64 in [0, 1], item-level, over annotator pairs): the share of
      identical pairs for nominal, ordinal and free text; 1 − MASI distance, averaged, for
      multi_label; 1 − |a − b| / (max − min) for interval, and 1 − the mean per-label
      |a − b| / max intensity for multi_label_intensity, averaged over pairs.
    - ``f_judgements``: list of {annotator, value (typed as ``f``), simulated}.
    """
    import datasets

    v = datasets.Value
    columns: dict[str, Any] = {
        "item_id": v("int64"),
        "kind": v("string"),
        "audio": datasets.Audio(sampling_rate=spec.sampling_rate),
        "video": v("string"),
        "image": datasets.Image(),
        "attachments": _list_of(datasets.Image()),
        "text": v("string"),
        "text_normalized": v("string"),
        "ocr_text": v("string"),
        "speaker": v("string"),
        "author": v("string"),
        "language": v("string"),
        "text_language": v("string"),
        "scripts": _list_of({"script": v("string"), "share": v("float64")}),
        "dominant_script": v("string"),
        "han_variant": v("string"),
        "cmi": v("float64"),
        "dialogue_id": v("string"),
        "utterance_index": v("int32"),
        "reply_to_item_id": v("int64"),
        "posted_at": v("timestamp[us, tz=UTC]"),
        "start_s": v("float64"),
        "end_s": v("float64"),
        "external_id": v("string"),
        "duplicate_group": v("string"),
        "source_id": v("int64"),
        "source_url": v("string"),
        "source_title": v("string"),
        "source_author": v("string"),
        "licence": v("string"),
        "asr_model": v("string"),
        "asr_confidence": v("float64"),
        "simulated": v("bool"),
    }
    for f in spec.fields:
        value, confidence, distribution, agreement, judgements = f.columns
        columns[value] = value_feature(f)
        columns[confidence] = v("float64")
        columns[distribution] = distribution_feature(f)
        columns[agreement] = v("float64")
        columns[judgements] = _list_of({"annotator": v("string"), "value": value_feature(f), "simulated": v("bool")})
    return datasets.Features(columns)


def video_relpath(row: ReleaseRow, split: str) -> str | None:
    """Where a row's video clip lives inside the release folder (referenced from the row)."""
    if row.video_path is None:
        return None
    return f"{VIDEO_DIR}/{split}/{row.item_id}{Path(row.video_path).suffix or '.mp4'}"


def wav_sample_rate(data: bytes) -> int | None:
    """Sample rate from a RIFF/WAVE header (``None`` if ``data`` is not a WAV file)."""
    if len(data) < 12 or data[:4] != b"RIFF" or data[8:12] != b"WAVE":
        return None
    pos = 12
    while pos + 8 <= len(data):
        chunk, size = data[pos:pos + 4], int.from_bytes(data[pos + 4:pos + 8], "little")
        if chunk == b"fmt " and pos + 16 <= len(data):
            return int.from_bytes(data[pos + 12:pos + 16], "little")
        pos += 8 + size + (size & 1)
    return None


def _audio_value(row: ReleaseRow, spec: ReleaseSpec) -> dict[str, Any] | None:
    if row.audio_path is None:
        return None
    path = Path(row.audio_path)
    if not path.is_file():
        raise MediaError(f"clip {str(path)!r} of item {row.item_id} does not exist; re-run `mmcurate process` to cut it again")
    data = path.read_bytes()
    rate = wav_sample_rate(data)
    if rate is None:
        import io

        import soundfile

        try:
            rate = soundfile.info(io.BytesIO(data)).samplerate
        except RuntimeError as exc:
            raise MediaError(f"clip {str(path)!r} of item {row.item_id} is not readable audio ({exc}); re-cut it") from None
    if rate != spec.sampling_rate:
        raise MediaError(
            f"clip {str(path)!r} of item {row.item_id} is {rate} Hz but the release is {spec.sampling_rate} Hz; "
            "re-cut the clip or set the release sampling rate"
        )
    return {"bytes": data, "path": f"{row.item_id}{path.suffix}"}


def _image_value(path: Path, item_id: int, name: str, what: str) -> dict[str, Any]:
    """An image's bytes for an ``Image`` column, after checking that they decode."""
    import io

    from PIL import Image

    if not path.is_file():
        raise MediaError(f"{what} {str(path)!r} of item {item_id} does not exist; restore the file or leave the item out")
    data = path.read_bytes()
    try:
        with Image.open(io.BytesIO(data)) as image:
            image.verify()
        with Image.open(io.BytesIO(data)) as image:
            image.load()
    except (OSError, SyntaxError, ValueError) as exc:
        raise MediaError(
            f"{what} {str(path)!r} of item {item_id} is not a readable image ({exc}); replace the file or leave the item out"
        ) from None
    return {"bytes": data, "path": name}


def released_value(row: ReleaseRow, field: LabelField) -> LabelValue | None:
    """The value a release writes for ``field`` of ``row``: the aggregated one (checked by
    ``LabelField.normalise``), or for free text without one the medoid judgement
    (``free_text_medoid``); ``None`` otherwise."""
    aggregated = row.labels.get(field.name)
    if aggregated is not None and aggregated.value is not None:
        return field.normalise(aggregated.value)
    if field.kind is ValueKind.FREE_TEXT:
        medoid = free_text_medoid(row.judgements.get(field.name, ()), row.language)
        return None if medoid is None else medoid.value
    return None


def encode_value(field: LabelField, value: object) -> Any:
    """A field value as the python value of its arrow column (labels as class indices)."""
    if value is None:
        return None
    value = field.normalise(value)
    if field.kind in (ValueKind.NOMINAL, ValueKind.ORDINAL):
        return field.index(value)  # type: ignore[arg-type]
    if field.kind is ValueKind.MULTI_LABEL:
        return [field.index(label) for label in value]  # type: ignore[union-attr]
    if field.kind is ValueKind.MULTI_LABEL_INTENSITY:
        return dict(value)  # type: ignore[arg-type]
    return value


def _distribution(field: LabelField, row: ReleaseRow) -> Any:
    if field.kind is ValueKind.FREE_TEXT:
        texts = Counter(j.value for j in row.judgements.get(field.name, ()) if isinstance(j.value, str))
        n = sum(texts.values())
        return [{"text": t, "share": c / n} for t, c in sorted(texts.items(), key=lambda tc: (-tc[1], tc[0]))] or None
    aggregated = row.labels.get(field.name)
    dist = dict(aggregated.distribution) if aggregated is not None else {}
    if not dist:
        return None
    if field.kind is ValueKind.INTERVAL:
        unknown = sorted(set(dist) - {"mean", "std"})
        if unknown:
            raise ValidationError(
                f"item {row.item_id}: the distribution of interval field {field.name!r} holds {unknown!r}; "
                "it takes only 'mean' and 'std'"
            )
        return {k: None if dist.get(k) is None else float(dist[k]) for k in ("mean", "std")}
    for label in dist:
        field.index(label)
    return [float(dist.get(label, 0.0)) for label in field.labels]


def encode_row(row: ReleaseRow, spec: ReleaseSpec, split: str) -> dict[str, Any]:
    """One row as the python values of the release's arrow schema (labels as class indices)."""
    out: dict[str, Any] = {
        "item_id": row.item_id,
        "audio": _audio_value(row, spec),
        "video": video_relpath(row, split),
        "image": None if row.image_path is None else _image_value(
            Path(row.image_path), row.item_id, f"{row.item_id}{Path(row.image_path).suffix}", "image"),
        "attachments": [
            _image_value(Path(p), row.item_id, f"{row.item_id}-{k}{Path(p).suffix}", f"attachment {k}")
            for k, p in enumerate(row.attachment_paths)
        ],
        **row.descriptive_columns(),
        "posted_at": row.posted_at_utc,
    }
    unknown = sorted(set(row.labels) - {f.name for f in spec.fields})
    if unknown:
        raise ValidationError(f"item {row.item_id} has labels for fields not in the release spec: {unknown!r}")
    for f in spec.fields:
        value, confidence, distribution, agreement, judgements = f.columns
        aggregated = row.labels.get(f.name)
        out[value] = encode_value(f, released_value(row, f))
        out[confidence] = aggregated.confidence if aggregated is not None else None
        out[distribution] = _distribution(f, row)
        out[agreement] = aggregated.agreement if aggregated is not None else None
        out[judgements] = [
            {"annotator": j.annotator, "value": encode_value(f, j.value), "simulated": j.simulated}
            for j in sorted(row.judgements.get(f.name, ()), key=lambda j: (j.annotator, value_text(j.value)))
        ]
    return out


class _ShardWriter:
    """Writes one split's rows into size-bounded shards, one row group at a time."""

    def __init__(self, folder: Path, spec: ReleaseSpec, split: str, schema: "pa.Schema") -> None:
        self.folder, self.spec, self.split, self.schema = folder, spec, split, schema
        self.tmp_paths: list[Path] = []
        self.rows_per_shard: list[int] = []
        self._writer: Any = None
        self._rows = 0

    def _open(self) -> None:
        import pyarrow.parquet as pq

        path = self.folder / f".{self.split}-{len(self.tmp_paths):05d}.parquet.part"
        self.tmp_paths.append(path)
        self.rows_per_shard.append(0)
        self._writer = pq.ParquetWriter(
            str(path), self.schema, compression="zstd", write_statistics=True, use_dictionary=True,
            write_page_index=False,
        )

    def write(self, encoded: list[dict[str, Any]]) -> None:
        import pyarrow as pa

        if not encoded:
            return
        if self._writer is None:
            self._open()
        table = pa.Table.from_pylist(encoded, schema=self.schema)
        self._writer.write_table(table, row_group_size=len(encoded))
        self.rows_per_shard[-1] += len(encoded)
        if self.tmp_paths[-1].stat().st_size >= self.spec.shard_max_bytes:
            self._close()

    def _close(self) -> None:
        if self._writer is not None:
            self._writer.close()
            self._writer = None

    def finish(self) -> list[ShardFile]:
        self._close()
        n = len(self.tmp_paths)
        shards = []
        for k, (tmp, rows) in enumerate(zip(self.tmp_paths, self.rows_per_shard, strict=True)):
            final = self.folder / f"{self.split}-{k:05d}-of-{n:05d}.parquet"
            os.replace(tmp, final)
            shards.append(ShardFile(path=final.as_posix(), split=self.split, num_rows=rows, num_bytes=final.stat().st_size))
        return shards


def write_shards(
    rows: Iterable[ReleaseRow],
    split_of: dict[int, str],
    spec: ReleaseSpec,
    out_dir: Path,
    *,
    on_progress: ProgressFn | None = None,
    total: int | None = None,
) -> dict[str, SplitFiles]:
    """Write ``rows`` into ``out_dir/data/<config>/`` shards per split, and copy video clips.

    ``rows`` is consumed once, in order; rows of each split keep that order. Returns what was
    written per split (paths relative to ``out_dir``). An existing ``data/<config>`` folder
    is replaced.
    """
    features = release_features(spec)
    schema = features.arrow_schema
    data_dir = out_dir / "data" / spec.config_name
    if data_dir.exists():
        shutil.rmtree(data_dir)
    data_dir.mkdir(parents=True)
    writers = {s: _ShardWriter(data_dir, spec, s, schema) for s in SPLITS}
    pending: dict[str, list[dict[str, Any]]] = {s: [] for s in SPLITS}
    done = 0
    for row in rows:
        split = split_of.get(row.item_id)
        if split not in writers:
            raise ValidationError(f"item {row.item_id} has no split assigned ({split!r}); assign splits for every row first")
        pending[split].append(encode_row(row, spec, split))
        if row.video_path is not None:
            _copy_video(row, out_dir, split)
        if len(pending[split]) >= spec.row_group_rows:
            writers[split].write(pending[split])
            pending[split] = []
        done += 1
        if on_progress is not None:
            on_progress("shards", done, total if total is not None else done)
    result: dict[str, SplitFiles] = {}
    for split in SPLITS:
        writers[split].write(pending[split])
        shards = [
            ShardFile(Path(s.path).relative_to(out_dir).as_posix(), s.split, s.num_rows, s.num_bytes)
            for s in writers[split].finish()
        ]
        result[split] = SplitFiles(split, tuple(shards), sum(s.num_rows for s in shards), sum(s.num_bytes for s in shards))
    return result


def _copy_video(row: ReleaseRow, out_dir: Path, split: str) -> None:
    src = Path(row.video_path)  # type: ignore[arg-type]
    if not src.is_file():
        raise MediaError(f"video clip {str(src)!r} of item {row.item_id} does not exist; re-run `mmcurate process` to cut it again")
    dest = out_dir / f"{VIDEO_DIR}/{split}/{row.item_id}{src.suffix or '.mp4'}"
    dest.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(src, dest)


def data_files_config(spec: ReleaseSpec, written: dict[str, SplitFiles]) -> list[dict[str, Any]]:
    """The card's ``configs`` entry: one glob per split that has rows."""
    return [
        {
            "config_name": spec.config_name,
            "data_files": [
                {"split": s, "path": f"data/{spec.config_name}/{s}-*"}
                for s in SPLITS
                if written[s].num_rows > 0
            ],
        }
    ]


def ordered_rows(rows: Sequence[ReleaseRow]) -> list[ReleaseRow]:
    """Rows in the order a release writes them: by dialogue/source, then utterance, then item id."""
    return sorted(rows, key=lambda r: (r.source_id, r.dialogue_id or "", r.utterance_index, r.start_s or 0.0, r.item_id))
