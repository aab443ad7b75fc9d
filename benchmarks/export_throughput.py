"""Export throughput and peak memory of a release build, against a plain datasets baseline.

For N short synthetic WAV clips (16 kHz mono, 16-bit), it times
  * ``exports.build.build_release`` (streamed shards, card, long table, manifest), and
  * the baseline: read every clip into one ``datasets.Dataset.from_dict({...})`` with the same
    Features, then ``.to_parquet`` — the obvious in-memory way,
each in a fresh subprocess so peak RSS (``ru_maxrss``) is per run. Results go to
``benchmarks/results/export_throughput.json`` (and a markdown table next to it).

    .venv/bin/python benchmarks/export_throughput.py --clips 1000 5000 10000 --seconds 0.5
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"


def make_clips(folder: Path, n: int, seconds: float) -> None:
    """N distinct WAV files (a tone whose pitch depends on the index, plus noise)."""
    import numpy as np
    import soundfile

    folder.mkdir(parents=True, exist_ok=True)
    rate = 16_000
    t = np.arange(int(seconds * rate)) / rate
    rng = np.random.default_rng(0)
    for i in range(n):
        path = folder / f"{i + 1}.wav"
        if path.exists():
            continue
        x = 0.3 * np.sin(2 * np.pi * (200 + (i % 400)) * t) + 0.02 * rng.standard_normal(t.size)
        soundfile.write(str(path), x.astype(np.float32), rate, subtype="PCM_16")


def rows_for(clips: Path, n: int):
    sys.path.insert(0, str(ROOT))
    from backend.domain import ValueKind
    from exports.records import AggregatedLabel, AnnotatorJudgement, LabelField, ReleaseRow, ReleaseSpec

    field = LabelField("sentiment", ValueKind.NOMINAL, ("negative", "neutral", "positive"))
    rows = []
    for i in range(1, n + 1):
        label = field.labels[i % 3]
        rows.append(ReleaseRow(
            item_id=i, source_id=i // 20, source_uri=f"https://example.org/{i // 20}", licence="cc-by-4.0",
            text=f"utterance {i}", audio_path=clips / f"{i}.wav", speaker_label=f"S{i % 2}", language=("ta", "ml", "bn", "zh")[i % 4],
            dialogue_id=f"d{i // 20}", utterance_index=i % 20, start_s=float(i % 20), end_s=float(i % 20) + 0.5,
            asr_model="faster-whisper-base", asr_confidence=0.9,
            labels={"sentiment": AggregatedLabel(label, 1.0, {label: 1.0}, 1.0, 3)},
            judgements={"sentiment": tuple(AnnotatorJudgement(f"ann-00{k}", label) for k in (1, 2, 3))},
        ))
    spec = ReleaseSpec(project="bench", version="1.0.0", licence="cc-by-4.0", fields=(field,), languages=("ta",))
    return rows, spec


def run_ours(clips: Path, n: int, out: Path) -> dict:
    from exports.build import build_release
    from exports.records import CardContext

    rows, spec = rows_for(clips, n)
    start = time.perf_counter()
    build = build_release(rows, spec, CardContext(), out, code="bench")
    elapsed = time.perf_counter() - start
    return {"seconds": elapsed, "parquet_bytes": sum(w.num_bytes for w in build.written.values())}


def run_baseline(clips: Path, n: int, out: Path) -> dict:
    import datasets

    from exports.hf import encode_row, release_features

    rows, spec = rows_for(clips, n)
    features = release_features(spec)
    start = time.perf_counter()
    encoded = [encode_row(r, spec, "train") for r in rows]
    columns = {name: [e[name] for e in encoded] for name in features}
    ds = datasets.Dataset.from_dict(columns, features=features)
    out.mkdir(parents=True, exist_ok=True)
    ds.to_parquet(str(out / "train.parquet"))
    elapsed = time.perf_counter() - start
    return {"seconds": elapsed, "parquet_bytes": (out / "train.parquet").stat().st_size}


def child(mode: str, clips: Path, n: int, out: Path) -> None:
    import resource

    import datasets  # noqa: F401 — imported before timing in both modes (torch alone takes seconds)
    import huggingface_hub  # noqa: F401
    import torchcodec  # noqa: F401 — the baseline's Audio encoding loads it

    before = _rss_mb()
    result = (run_ours if mode == "ours" else run_baseline)(clips, n, out)
    result["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    result["rss_after_imports_mb"] = before
    print(json.dumps(result))


def _rss_mb() -> float:
    """Resident memory now (VmRSS), in MiB."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clips", type=int, nargs="+", default=[1000, 5000, 10000])
    parser.add_argument("--seconds", type=float, default=0.5, help="length of each synthetic clip")
    parser.add_argument("--repeat", type=int, default=3, help="runs per point; the median time is reported")
    parser.add_argument("--work", type=Path, default=Path("/tmp/mmcurate-export-bench"))
    parser.add_argument("--child", nargs=3, metavar=("MODE", "CLIPS", "OUT"), help=argparse.SUPPRESS)
    parser.add_argument("--n", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        sys.path.insert(0, str(ROOT))
        child(args.child[0], Path(args.child[1]), args.n, Path(args.child[2]))
        return
    clips = args.work / f"clips-{args.seconds}s"
    make_clips(clips, max(args.clips), args.seconds)
    audio_bytes = {n: sum((clips / f"{i}.wav").stat().st_size for i in range(1, n + 1)) for n in args.clips}
    runs = []
    for n in args.clips:
        for mode in ("ours", "baseline"):
            out = args.work / f"out-{mode}-{n}"
            results = []
            for _ in range(args.repeat):
                subprocess.run(["rm", "-rf", str(out)], check=True)
                proc = subprocess.run(
                    [sys.executable, __file__, "--child", mode, str(clips), str(out), "--n", str(n)],
                    capture_output=True, text=True, check=True,
                )
                results.append(json.loads(proc.stdout.strip().splitlines()[-1]))
            subprocess.run(["rm", "-rf", str(out)], check=True)
            seconds = statistics.median(r["seconds"] for r in results)
            mb = audio_bytes[n] / 1e6
            runs.append({
                "mode": mode, "clips": n, "clip_seconds": args.seconds, "audio_mb": round(mb, 2), "repeats": args.repeat,
                "seconds": round(seconds, 3), "seconds_all": [round(r["seconds"], 3) for r in results],
                "clips_per_s": round(n / seconds, 1), "mb_per_s": round(mb / seconds, 2),
                "peak_rss_mb": round(max(r["peak_rss_mb"] for r in results), 1),
                "peak_growth_mb": round(max(r["peak_rss_mb"] - r["rss_after_imports_mb"] for r in results), 1),
                "parquet_mb": round(results[0]["parquet_bytes"] / 1e6, 2),
            })
            print(json.dumps(runs[-1]), flush=True)
    RESULTS.mkdir(parents=True, exist_ok=True)
    meta = {"python": platform.python_version(), "machine": platform.machine(), "cpus": _cpus()}
    (RESULTS / "export_throughput.json").write_text(json.dumps({"meta": meta, "runs": runs}, indent=2) + "\n")
    lines = ["| mode | clips | audio MB | s (median) | clips/s | MB/s | peak RSS MB | peak growth MB |", "|---|---|---|---|---|---|---|---|"]
    lines += [
        f"| {r['mode']} | {r['clips']} | {r['audio_mb']} | {r['seconds']} | {r['clips_per_s']} | {r['mb_per_s']} | {r['peak_rss_mb']} | {r['peak_growth_mb']} |"
        for r in runs
    ]
    note = (
        f"\n\n{max(args.clips)} clips of {args.seconds} s, 16 kHz 16-bit WAV; ours = `exports.build.build_release` "
        "(streamed shards + card + long table + manifest); baseline = `datasets.Dataset.from_dict(...)` with the same "
        "Features, then `.to_parquet`. Median of the repeats; peak RSS is the largest, peak growth is peak RSS minus RSS after the imports, each run in a fresh process "
        f"(imports of datasets, huggingface_hub and torchcodec excluded from the time). Machine: {meta['cpus']} CPUs, shared.\n"
    )
    (RESULTS / "export_throughput.md").write_text("# Export throughput\n\n" + "\n".join(lines) + note)


def _cpus() -> int:
    import os

    return len(os.sched_getaffinity(0))


if __name__ == "__main__":
    main()
