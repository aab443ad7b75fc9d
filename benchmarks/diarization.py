"""Diarization on the speech sets: DER and its parts, speaker counts and time, per file, condition and set.

Measurement, not tuning. The product's own stages run on every file of a set made by
benchmarks/speech_sets.py (generated first when the ``--data`` folder is empty): ``SileroVad``
finds speech, then the diarizer (``EmbeddingDiarizer``, or ``PyannoteDiarizer`` from a local
pipeline folder), models loaded once, runs twice:

- ``estimated``: ``DiarizeOptions()``, the speaker count estimated;
- ``given``: ``DiarizeOptions(num_speakers=<truth>)``.

Scoring, declared before any number was seen (see the issue 16 contract): pyannote.metrics
``DiarizationErrorRate(collar=0.0, skip_overlap=False)`` is the primary figure, collar 0.25 s is
reported beside it, each over the whole file (UEM 0..duration). A set's or a condition's DER is
total errors / total reference speech (pyannote's ``abs(metric)`` after accumulating); missed
speech, false alarm and confusion are fractions of the same reference speech, so they add up to
the DER. Speaker-count accuracy is the fraction of files whose found count equals the truth.
Seconds are VAD + diarization per file, models already loaded and warmed up.

Tune on ``--set tuning`` only; ``--set heldout`` is for the numbers you report.

Writes benchmarks/results/diarization_<set>[_quick][_pyannote].json and a .md table beside it.
Run: .venv/bin/python benchmarks/diarization.py --set heldout
     .venv/bin/python benchmarks/diarization.py --set tuning --quick
     .venv/bin/python benchmarks/diarization.py --set heldout --backend pyannote --pyannote-folder DIR
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Callable, Iterable, Sequence

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from benchmarks import speech_sets  # noqa: E402

COLLARS = (0.0, 0.25)
Segments = tuple[tuple[float, float, str], ...]
Progress = Callable[[str, int, int], None]


@dataclass(frozen=True)
class FileResult:
    """One file diarized: the truth and hypothesis segments (start s, end s, speaker) and the time it took."""

    name: str
    condition: str
    duration_s: float
    num_speakers: int  # truth
    found_speakers: int
    reference: Segments
    hypothesis: Segments
    vad_s: float = 0.0
    diarize_s: float = 0.0


def read_rttm(path: Path | str) -> Segments:
    """(start, end, speaker) of every SPEAKER line of an RTTM file, in file order."""
    out = []
    for line in Path(path).read_text().splitlines():
        parts = line.split()
        if parts and parts[0] == "SPEAKER":
            start, duration = float(parts[3]), float(parts[4])
            out.append((start, round(start + duration, 3), parts[7]))
    return tuple(out)


def set_files(folder: Path | str) -> list[dict[str, Any]]:
    """The files ``index.json`` of a speech-set folder lists, in order."""
    index = Path(folder) / "index.json"
    if not index.is_file():
        raise FileNotFoundError(f"{folder} has no index.json; make it with benchmarks/speech_sets.py")
    return json.loads(index.read_text())["files"]


def evaluate(folder: Path | str, diarizer: Any, vad: Any, given: bool, *, options: Any = None,
             vad_options: Any = None, names: Iterable[str] | None = None,
             on_progress: Progress | None = None) -> list[FileResult]:
    """Run ``vad`` then ``diarizer`` on every file of the set in ``folder`` (or only ``names``).

    ``options`` (default ``DiarizeOptions()``) is used as it is when ``given`` is false; when true,
    with ``num_speakers`` set to each file's truth.
    """
    from ingest import media
    from ingest.diarize import DiarizeOptions
    from ingest.vad import VadOptions

    folder = Path(folder)
    base = options if options is not None else DiarizeOptions()
    vad_options = vad_options if vad_options is not None else VadOptions()
    wanted = set(names) if names is not None else None
    files = [f for f in set_files(folder) if wanted is None or f["name"] in wanted]
    if wanted is not None and len(files) != len(wanted):
        missing = sorted(wanted - {f["name"] for f in files})
        raise ValueError(f"not in {folder}/index.json: {', '.join(missing)}")
    results = []
    for i, entry in enumerate(files):
        sidecar = json.loads((folder / entry["json"]).read_text())
        truth = int(sidecar["num_speakers"])
        audio = media.load_audio(folder / entry["wav"])
        t0 = time.perf_counter()
        regions = vad.detect(audio, vad_options)
        t1 = time.perf_counter()
        run_options = replace(base, num_speakers=truth) if given else base
        diarization = diarizer.diarize(audio, regions, run_options)
        t2 = time.perf_counter()
        duration = len(audio) / speech_sets.SAMPLE_RATE
        hypothesis = tuple((t.start, min(t.end, duration), t.speaker) for t in diarization.turns
                           if min(t.end, duration) > t.start)
        results.append(FileResult(entry["name"], entry["condition"], round(duration, 3), truth,
                                  diarization.num_speakers, read_rttm(folder / entry["rttm"]), hypothesis,
                                  round(t1 - t0, 3), round(t2 - t1, 3)))
        if on_progress:
            on_progress(entry["name"], i + 1, len(files))
    return results


def _annotation(segments: Segments) -> Any:
    from pyannote.core import Annotation, Segment

    annotation = Annotation()
    for i, (start, end, speaker) in enumerate(segments):
        annotation[Segment(start, end), i] = speaker
    return annotation


def _parts(components: dict[str, float]) -> dict[str, float]:
    total = components["total"]
    missed, false_alarm, confusion = (components[k] for k in ("missed detection", "false alarm", "confusion"))
    share = (lambda x: x / total) if total > 0 else (lambda x: 0.0 if x == 0 else float("inf"))
    return {"der": share(missed + false_alarm + confusion), "missed": share(missed),
            "false_alarm": share(false_alarm), "confusion": share(confusion)}


def _suffix(collar: float) -> str:
    return "" if collar == 0 else f"_c{int(round(collar * 100))}"


def _counts(results: Sequence[FileResult]) -> dict[str, Any]:
    n = len(results)
    return {
        "files": n,
        "audio_s": round(sum(r.duration_s for r in results), 2),
        "speaker_count_accuracy": sum(r.found_speakers == r.num_speakers for r in results) / n if n else 0.0,
        "count_error_mean": sum(r.found_speakers - r.num_speakers for r in results) / n if n else 0.0,
        "count_abs_error_mean": sum(abs(r.found_speakers - r.num_speakers) for r in results) / n if n else 0.0,
        "seconds": round(sum(r.vad_s + r.diarize_s for r in results), 3),
    }


def score_set(results: Sequence[FileResult]) -> dict[str, Any]:
    """DER (collar 0 and 0.25 s) and its parts per file, per condition and overall, plus speaker counts and time.

    Keys without a suffix are collar 0; ``_c25`` is collar 0.25 s. Fractions of reference speech:
    ``der = missed + false_alarm + confusion``. Condition and overall values are accumulated over
    their files (total errors / total reference speech), not means of per-file rates.
    """
    from pyannote.core import Segment, Timeline
    from pyannote.metrics.diarization import DiarizationErrorRate

    conditions = [c for c in speech_sets.CONDITIONS if any(r.condition == c for r in results)]
    conditions += sorted({r.condition for r in results} - set(conditions))
    metrics = {collar: {"overall": DiarizationErrorRate(collar=collar, skip_overlap=False),
                        **{c: DiarizationErrorRate(collar=collar, skip_overlap=False) for c in conditions}}
               for collar in COLLARS}
    files = []
    for r in results:
        reference, hypothesis = _annotation(r.reference), _annotation(r.hypothesis)
        uem = Timeline([Segment(0.0, r.duration_s)])
        row: dict[str, Any] = {"name": r.name, "condition": r.condition, "duration_s": r.duration_s,
                               "num_speakers": r.num_speakers, "found_speakers": r.found_speakers}
        for collar in COLLARS:
            components = metrics[collar]["overall"](reference, hypothesis, uem=uem, detailed=True)
            metrics[collar][r.condition](reference, hypothesis, uem=uem)
            row.update({f"{k}{_suffix(collar)}": v for k, v in _parts(components).items()})
            if collar == 0:
                row["reference_speech_s"] = round(components["total"], 3)
        row.update({"vad_s": r.vad_s, "diarize_s": r.diarize_s})
        files.append(row)

    def summary(key: str, members: Sequence[FileResult]) -> dict[str, Any]:
        out: dict[str, Any] = _counts(members)
        for collar in COLLARS:
            accumulated = metrics[collar][key].accumulated_
            if accumulated.get("total", 0) > 0:
                out.update({f"{k}{_suffix(collar)}": v for k, v in _parts(accumulated).items()})
                if collar == 0:
                    out["reference_speech_s"] = round(accumulated["total"], 3)
                    out["der_pyannote"] = abs(metrics[collar][key])
        return out

    return {
        "files": files,
        "conditions": {c: summary(c, [r for r in results if r.condition == c]) for c in conditions},
        "overall": summary("overall", list(results)),
    }


def _pct(value: float) -> str:
    return f"{100 * value:.1f}"


def markdown(result: dict[str, Any]) -> str:
    """The per-condition and per-file tables of a result."""
    est, giv = result["runs"]["estimated"], result["runs"]["given"]
    lines = [
        f"# Diarization on the {result['set']} speech set{' (quick)' if result['quick'] else ''}",
        "",
        f"Backend {result['diarizer']} ({result['diarizer_version']}), VAD {result['vad']}; "
        f"{est['overall']['files']} files, {est['overall']['audio_s'] / 60:.1f} min. DER in % of reference "
        "speech, collar 0 (primary) and 0.25 s; parts at collar 0. `est`: speaker count estimated; "
        "`given`: the true count passed.",
        "",
        "| condition | files | min | DER est | DER est c.25 | miss | FA | conf | count acc | found−truth "
        "| DER given | DER given c.25 | conf given | s (est) |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    rows = list(est["conditions"].items()) + [("**all**", est["overall"])]
    for name, e in rows:
        g = giv["overall"] if name == "**all**" else giv["conditions"][name]
        lines.append(
            f"| {name} | {e['files']} | {e['audio_s'] / 60:.1f} | {_pct(e['der'])} | {_pct(e['der_c25'])} | "
            f"{_pct(e['missed'])} | {_pct(e['false_alarm'])} | {_pct(e['confusion'])} | "
            f"{e['speaker_count_accuracy']:.2f} | {e['count_error_mean']:+.2f} | {_pct(g['der'])} | "
            f"{_pct(g['der_c25'])} | {_pct(g['confusion'])} | {e['seconds']:.1f} |")
    lines += ["", "| file | condition | truth | found est | DER est | miss | FA | conf | found given | DER given "
              "| conf given | s |", "|---|---|---|---|---|---|---|---|---|---|---|---|"]
    given_by_name = {f["name"]: f for f in giv["files"]}
    for f in est["files"]:
        g = given_by_name[f["name"]]
        lines.append(
            f"| {f['name']} | {f['condition']} | {f['num_speakers']} | {f['found_speakers']} | {_pct(f['der'])} | "
            f"{_pct(f['missed'])} | {_pct(f['false_alarm'])} | {_pct(f['confusion'])} | {g['found_speakers']} | "
            f"{_pct(g['der'])} | "
            f"{_pct(g['confusion'])} | {f['vad_s'] + f['diarize_s']:.1f} |")
    lines += ["", f"Machine: {result['machine']}; torch threads {result['torch_threads']}; models loaded in "
              f"{result['load_s']:.1f} s; "
              + (f"set generated in {result['generation_s']} s" if result["generation_s"] is not None
                 else "set read from its cache folder")
              + ". Timings on a shared machine are noisy.", ""]
    return "\n".join(lines)


def load_backend(backend: str, pyannote_folder: Path | None) -> Any:
    from ingest.diarize import EmbeddingDiarizer, PyannoteDiarizer

    if backend == "embedding":
        return EmbeddingDiarizer()
    if pyannote_folder is None:
        raise SystemExit("--backend pyannote needs --pyannote-folder DIR (a local pipeline folder with config.yaml)")
    return PyannoteDiarizer(pyannote_folder)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description="Diarization DER on a generated speech set (estimated and given speaker counts).",
        epilog="example: .venv/bin/python benchmarks/diarization.py --set heldout")
    parser.add_argument("--set", dest="set_name", choices=speech_sets.SETS, required=True)
    parser.add_argument("--data", type=Path, help="set folder (default /tmp/mmcurate-speech-sets/<set>[-quick])")
    parser.add_argument("--quick", action="store_true", help="six ~30 s files, for smoke runs")
    parser.add_argument("--seed", type=int, default=0, help="speech-set seed (default 0)")
    parser.add_argument("--out", type=Path, help="results JSON (default benchmarks/results/diarization_<set>.json)")
    parser.add_argument("--backend", choices=("embedding", "pyannote"), default="embedding")
    parser.add_argument("--pyannote-folder", type=Path, help="local pyannote pipeline folder (config.yaml)")
    args = parser.parse_args(argv)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("PYANNOTE_METRICS_ENABLED", "false")

    tag = f"{args.set_name}{'_quick' if args.quick else ''}{'_pyannote' if args.backend == 'pyannote' else ''}"
    data = args.data or Path("/tmp/mmcurate-speech-sets") / f"{args.set_name}{'-quick' if args.quick else ''}"
    out = args.out or ROOT / "benchmarks" / "results" / f"diarization_{tag}.json"

    def show(step: str, done: int, total: int) -> None:
        print(f"  [{done}/{total}] {step}", flush=True)

    cached = speech_sets.is_current(data, args.set_name, quick=args.quick, seed=args.seed)
    started = time.perf_counter()
    index = speech_sets.ensure_set(data, args.set_name, quick=args.quick, seed=args.seed, on_progress=show)
    generation_s = None if cached else round(time.perf_counter() - started, 1)

    import torch

    from ingest import media
    from ingest.vad import SileroVad

    t0 = time.perf_counter()
    vad = SileroVad()
    diarizer = load_backend(args.backend, args.pyannote_folder)
    load_s = time.perf_counter() - t0
    warm = media.load_audio(data / index["files"][0]["wav"])[: 10 * speech_sets.SAMPLE_RATE]
    diarizer.diarize(warm, vad.detect(warm))  # warm-up, not timed

    runs, hypotheses = {}, {}
    for run, given in (("estimated", False), ("given", True)):
        print(f"{run} speaker count:", flush=True)
        results = evaluate(data, diarizer, vad, given, on_progress=show)
        runs[run] = score_set(results)
        hypotheses[run] = {r.name: [list(t) for t in r.hypothesis] for r in results}
        overall = runs[run]["overall"]
        print(f"{run}: DER {_pct(overall['der'])} % (collar 0.25: {_pct(overall['der_c25'])} %), "
              f"speaker-count accuracy {overall['speaker_count_accuracy']:.2f}, {overall['seconds']:.1f} s")
    from importlib.metadata import version

    result = {
        "set": args.set_name,
        "quick": args.quick,
        "data": str(data),
        "generator_sha256": index["generator_sha256"],
        "generation_s": generation_s,
        "real_recording": index["real_recording"],
        "diarizer": diarizer.name,
        "diarizer_version": diarizer.version,
        "vad": f"{vad.name} {vad.version}",
        "pyannote_metrics": version("pyannote.metrics"),
        "scoring": "pyannote.metrics DiarizationErrorRate(collar=0.0, skip_overlap=False) primary, collar 0.25 "
                   "beside; UEM = whole file; set/condition DER accumulated over files",
        "machine": f"{platform.machine()}, {os.cpu_count()} CPUs (shared with other work; timings are noisy)",
        "torch_threads": torch.get_num_threads(),
        "load_s": round(load_s, 2),
        "runs": runs,
        "hypotheses": hypotheses,
    }
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=1) + "\n")
    out.with_suffix(".md").write_text(markdown(result))
    print(f"wrote {out} and {out.with_suffix('.md')}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
