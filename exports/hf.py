"""Hugging Face dataset shards: ``data/<config>/<split>-NNNNN-of-NNNNN.parquet``, streamed.

Rows are encoded one row group at a time (``ReleaseSpec.row_group_rows`` rows, clip bytes
read from disk only then), so memory stays flat however many clips a release holds; a shard
closes once it passes ``ReleaseSpec.shard_max_bytes``. The parquet schema carries the
``datasets.Features`` in its metadata (as ``datasets`` itself writes it), and the same
Features object feeds the card's ``dataset_info``, so ``load_dataset`` casts cleanly.
Nothing time- or path-dependent is written: the same rows give byte-identical shards.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from backend.domain import MediaError, ValidationError, ValueKind
from exports.records import SPLITS, LabelField, ReleaseRow, ReleaseSpec

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


def _label_feature(field: LabelField) -> Any:
    import datasets

    if field.kind is ValueKind.NOMINAL:
        return datasets.ClassLabel(names=list(field.labels))
    return datasets.Value("int32")


def release_features(spec: ReleaseSpec) -> "datasets.Features":
    """The ``datasets.Features`` of a release: media, text and its profile, provenance, then
    per-field columns.

    The text profile: ``text_normalized`` (string), ``text_language`` (ISO 639-1 code
    identified from the text, beside the item's ``language``), ``scripts`` (list of
    {script: string, share: float64}, largest share first; empty when the text has no letters
    or was not profiled), ``dominant_script`` and ``han_variant`` (strings), ``cmi`` (float64,
    the Code-Mixing Index 0–100). A list of structs rather than a script → share map keeps one
    column type whatever scripts a release holds, so shards of different scripts concatenate
    and ``load_dataset`` casts them without a per-release schema.

    Per field ``f``: ``f`` (ClassLabel for nominal, int32 rank for ordinal), ``f_confidence``,
    ``f_distribution`` (probabilities in the order of the field's labels), ``f_agreement``
    (item-level), ``f_judgements`` (list of {annotator, value, simulated}).
    """
    import datasets

    v = datasets.Value
    columns: dict[str, Any] = {
        "item_id": v("int64"),
        "audio": datasets.Audio(sampling_rate=spec.sampling_rate),
        "video": v("string"),
        "text": v("string"),
        "text_normalized": v("string"),
        "speaker": v("string"),
        "language": v("string"),
        "text_language": v("string"),
        "scripts": _list_of({"script": v("string"), "share": v("float64")}),
        "dominant_script": v("string"),
        "han_variant": v("string"),
        "cmi": v("float64"),
        "dialogue_id": v("string"),
        "utterance_index": v("int32"),
        "start_s": v("float64"),
        "end_s": v("float64"),
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
        columns[f.name] = _label_feature(f)
        columns[f"{f.name}_confidence"] = v("float64")
        columns[f"{f.name}_distribution"] = _list_of(v("float64"))
        columns[f"{f.name}_agreement"] = v("float64")
        columns[f"{f.name}_judgements"] = _list_of(
            {"annotator": v("string"), "value": _label_feature(f), "simulated": v("bool")}
        )
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


def encode_row(row: ReleaseRow, spec: ReleaseSpec, split: str) -> dict[str, Any]:
    """One row as the python values of the release's arrow schema (labels as class indices)."""
    out: dict[str, Any] = {
        "item_id": row.item_id,
        "audio": _audio_value(row, spec),
        "video": video_relpath(row, split),
        **row.descriptive_columns(),
    }
    unknown = sorted(set(row.labels) - {f.name for f in spec.fields})
    if unknown:
        raise ValidationError(f"item {row.item_id} has labels for fields not in the release spec: {unknown!r}")
    for f in spec.fields:
        aggregated = row.labels.get(f.name)
        out[f.name] = f.index(aggregated.value) if aggregated is not None and aggregated.value is not None else None
        out[f"{f.name}_confidence"] = aggregated.confidence if aggregated is not None else None
        dist = dict(aggregated.distribution) if aggregated is not None else {}
        for label in dist:
            f.index(label)
        out[f"{f.name}_distribution"] = [float(dist.get(label, 0.0)) for label in f.labels] if dist else None
        out[f"{f.name}_agreement"] = aggregated.agreement if aggregated is not None else None
        out[f"{f.name}_judgements"] = [
            {"annotator": j.annotator, "value": f.index(j.value), "simulated": j.simulated}
            for j in sorted(row.judgements.get(f.name, ()), key=lambda j: (j.annotator, j.value))
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
