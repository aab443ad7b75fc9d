"""What mmcurate adds on top of bare batched faster-whisper, on the same audio and settings.

Same audio (a long English espeak-ng dialogue made here, voices other than the test set's), same
Whisper base int8 weights, 2 CPU threads, beam 5, word timestamps, batch 8:

- ``bare``: faster-whisper's ``BatchedInferencePipeline.transcribe(audio, batch_size=8, beam_size=5,
  word_timestamps=True, vad_filter=True)`` (its own Silero VAD), model load included;
- ``stage``: mmcurate's ASR stage alone: our Silero VAD regions (timed apart, before) and our
  ``FasterWhisperRecognizer``, model load included;
- ``process``: the whole ``backend.services.speech.process_project`` (prepare → VAD → ASR → diarize
  → utterances → clips) on a fresh SQLite database and data dir, every model load included, with
  the seconds of each stage.

Each side runs in a fresh process (imports are done before its clock starts), the sides in
alternating order over ``--rounds`` rounds; the report keeps every run and the best and median of
each side, the words each found and its WER against the script, and the ratios process/bare and
stage/bare. Writes ``benchmarks/results/asr_overhead.json`` and ``.md``. Usage:

    .venv/bin/python benchmarks/asr_overhead.py [--rounds 2] [--sizes long,short]

``long`` is 8 two-voice dialogues (about 11 minutes), ``short`` three (about 2 minutes, the size
the issue quotes). The machine this runs on is shared: timings move with whatever else runs.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

SETTINGS = {"model": "whisper-base (multilingual, CTranslate2 int8)", "cpu_threads": 2, "beam_size": 5,
            "batch_size": 8, "word_timestamps": True}

# Written for this benchmark (CC0-1.0), as ingest.testmedia's sentences are.
SENTENCES = (
    "Good morning, did you sleep well last night?",
    "Not really, the neighbours were playing music until two.",
    "We should ask them to keep it down during the week.",
    "I already left a note on their door yesterday.",
    "The train to the coast leaves at half past nine.",
    "Then we have time for a coffee before we go.",
    "Remember to bring the tickets and your passport.",
    "They are in the blue folder on the kitchen table.",
    "The weather report says it will rain in the afternoon.",
    "I packed two umbrellas and a warm jacket for each of us.",
    "My sister called to say that she found a new job.",
    "That is wonderful news, where will she be working?",
    "At a small library near the river, three days a week.",
    "She always loved books more than anything else.",
    "Could you help me carry these boxes to the car?",
    "Of course, the heavy one goes in the back seat.",
    "The garden needs water, the flowers look very dry.",
    "I will fill the watering can when we come back.",
    "Have you finished reading the report from the office?",
    "Only the first chapter, the numbers are hard to follow.",
    "The children are building a castle out of old blankets.",
    "Let them play, dinner will not be ready for an hour.",
    "Someone left the front gate open again this morning.",
    "The dog ran into the street and I had to chase him.",
    "Please turn off the lights when you leave the room.",
    "The electricity bill was much higher than last month.",
    "We could walk to the market instead of taking the bus.",
    "It is only fifteen minutes if we cross the park.",
    "The museum opens a new exhibition about old maps on Friday.",
    "I would like to see the map of the city from the year eighteen hundred.",
    "My phone battery is almost empty, do you have a charger?",
    "There is one in the drawer under the television.",
    "The bakery on the corner sells the best bread in town.",
    "Let us buy a loaf on the way home tonight.",
    "I forgot to answer the letter from the bank.",
    "You can write to them tomorrow, it is not urgent.",
    "The concert was cancelled because the singer was ill.",
    "What a shame, we were looking forward to it for months.",
    "Grandmother wants us to visit her next weekend.",
    "Tell her we will come on Saturday after lunch.",
)

# (voice A, voice B) per dialogue: none of them the test set's +m3 / +f3.
VOICE_PAIRS = (
    (("en-us+m1", 40, 155), ("en-gb+f2", 80, 160)),
    (("en-gb-x-rp+m5", 45, 150), ("en-us+f4", 70, 170)),
    (("en-029+m2", 35, 145), ("en-gb-scotland+f1", 75, 160)),
    (("en-us+m4", 50, 160), ("en-gb+f5", 85, 150)),
    (("en-gb+m6", 30, 150), ("en-us+f2", 78, 165)),
    (("en-us+m7", 55, 140), ("en-gb-x-rp+f4", 72, 155)),
    (("en-gb-x-gbclan+m1", 42, 150), ("en-us+f1", 80, 160)),
    (("en-us-nyc+m2", 38, 155), ("en-gb+f3", 65, 165)),
)


def make_audio(out_dir: Path, dialogues: int, lines: int) -> tuple[Path, list[dict]]:
    """``dialogues`` two-voice dialogues of ``lines`` lines each, concatenated into one 16 kHz WAV.

    Returns the WAV and its script (``start``, ``end``, ``speaker``, ``text`` per line, in seconds).
    Same arguments, same bytes.
    """
    import numpy as np
    import soundfile as sf

    from ingest import testmedia

    out_dir.mkdir(parents=True, exist_ok=True)
    wav = out_dir / f"dialogue_{dialogues}x{lines}.wav"
    script_path = wav.with_suffix(".json")
    if wav.is_file() and script_path.is_file():
        return wav, json.loads(script_path.read_text())["lines"]
    pieces, script, offset = [], [], 0.0
    for d in range(dialogues):
        (va, pa, sa), (vb, pb, sb) = VOICE_PAIRS[d % len(VOICE_PAIRS)]
        texts = [SENTENCES[(d * 7 + i) % len(SENTENCES)] for i in range(lines)]
        spec = testmedia.DialogueSpec(
            name=f"long_{d}", language="en",
            voices={"A": testmedia.Voice(va, pa, sa), "B": testmedia.Voice(vb, pb, sb)},
            lines=tuple(testmedia.Line("AB"[i % 2], t, "neutral", "neutral") for i, t in enumerate(texts)),
        )
        made = testmedia.generate(spec, out_dir / "parts", seed=d)
        samples, _ = sf.read(made.media_path, dtype="float32")
        pieces.append(samples)
        for line in json.loads(made.sidecar_path.read_text())["lines"]:
            script.append({"start": round(line["start"] + offset, 3), "end": round(line["end"] + offset, 3),
                           "speaker": f"d{d}{line['speaker']}", "text": line["text"]})
        offset += len(samples) / 16_000
    sf.write(wav, np.concatenate(pieces), 16_000, subtype="PCM_16")
    script_path.write_text(json.dumps({"title": wav.stem, "author": "mmcurate benchmark (espeak-ng voices)",
                                       "licence": "CC0-1.0", "language": "en", "lines": script}, indent=1))
    return wav, script


# --------------------------------------------------------------------------- one side, in its own process


def _clock() -> tuple[float, float]:
    """Wall seconds and CPU seconds (this process's threads and its finished children, e.g. ffmpeg)."""
    import resource

    own, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return time.perf_counter(), own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime


def _since(start: tuple[float, float]) -> dict[str, float]:
    wall, cpu = _clock()
    return {"seconds": round(wall - start[0], 3), "cpu_seconds": round(cpu - start[1], 3)}


def run_bare(wav: Path, model: str) -> dict:
    """faster-whisper's own batched pipeline with its own VAD: the reference."""
    import soundfile as sf
    from faster_whisper import BatchedInferencePipeline, WhisperModel

    start = _clock()
    audio, _ = sf.read(wav, dtype="float32")
    pipeline = BatchedInferencePipeline(WhisperModel(model, device="cpu", compute_type="int8", cpu_threads=2))
    loaded = _since(start)
    segments, info = pipeline.transcribe(audio, batch_size=SETTINGS["batch_size"], beam_size=SETTINGS["beam_size"],
                                         word_timestamps=True, vad_filter=True)
    words = [w.word.strip() for s in segments for w in (s.words or []) if w.word.strip()]
    return {**_since(start), "model_load": loaded, "words": len(words), "text": " ".join(words),
            "language": info.language}


def run_stage(wav: Path, model: str) -> dict:
    """Our VAD regions (timed apart), then our ASR stage: recognizer load + transcribe."""
    from ingest import media, stages
    from ingest.asr import AsrOptions, ModelSpec, load_recognizer
    from ingest.vad import SileroVad

    audio = media.load_audio(wav)
    start = _clock()
    regions = stages.detect_speech(audio, SileroVad()).regions
    vad = _since(start)
    start = _clock()
    recognizer = load_recognizer(ModelSpec(model=model, compute_type="int8", cpu_threads=SETTINGS["cpu_threads"]))
    loaded = _since(start)
    transcript = stages.transcribe(audio, regions, recognizer,
                                   AsrOptions(beam_size=SETTINGS["beam_size"], batch_size=SETTINGS["batch_size"]))
    words = [w.text for s in transcript.segments for w in s.words]
    return {**_since(start), "model_load": loaded, "vad": vad, "regions": len(regions), "words": len(words),
            "text": " ".join(words), "language": transcript.language,
            "languages": sorted({s.language for s in transcript.segments if s.language})}


def run_process(wav: Path, model: str) -> dict:
    """``process_project`` on a fresh SQLite database and data dir (the WAV registered without a sidecar, so
    the language is detected), every model loaded inside; per-stage seconds from the stage ledger."""
    import shutil
    from dataclasses import replace

    from sqlalchemy import select

    from backend.db import migrations
    from backend.db.models import StageRun
    from backend.db.session import session_factory
    from backend.domain import Transcript
    from backend.services import speech
    from backend.services.projects import ProjectSpec, create_project
    from backend.settings import Settings

    data_dir = Path(tempfile.mkdtemp(prefix="asr-overhead-"))
    incoming = data_dir / "incoming"
    incoming.mkdir()
    shutil.copyfile(wav, incoming / wav.name)
    settings = Settings(data_dir=data_dir, asr_model=model, asr_batch_size=SETTINGS["batch_size"],
                        asr_beam_size=SETTINGS["beam_size"])
    settings.ensure_dirs()
    migrations.upgrade(settings.sqlalchemy_url, "head")
    session = session_factory(settings.sqlalchemy_url)()
    project = create_project(session, ProjectSpec(name="bench", languages=("en",)))
    session.commit()
    registered = speech.ingest_folder(session, "bench", incoming)
    config = speech.config_from_settings(settings, project)
    config = replace(config, asr_model=replace(config.asr_model, cpu_threads=SETTINGS["cpu_threads"]))
    start = _clock()
    report = speech.process_project(session, "bench", settings, config)
    total = _since(start)
    runs = session.scalars(select(StageRun).order_by(StageRun.id)).all()
    stage_seconds = {run.stage: round((run.duration_ms or 0) / 1000, 3) for run in runs}
    asr = next(run for run in runs if run.stage == "asr")
    transcript = Transcript.from_json(asr.details["transcript"])
    words = [w.text for s in transcript.segments for w in s.words]
    session.close()
    shutil.rmtree(data_dir, ignore_errors=True)
    return {**total, "stage_seconds": stage_seconds, "sources": len(registered.added), "failed": report.failed,
            "utterances": report.utterances, "batch_size": config.asr.batch_size, "words": len(words),
            "text": " ".join(words), "language": transcript.language,
            "languages": sorted({s.language for s in transcript.segments if s.language})}


SIDES = {"bare": run_bare, "stage": run_stage, "process": run_process}


# --------------------------------------------------------------------------- the comparison


def run_side(side: str, wav: Path, model: str) -> dict:
    """One side in a fresh interpreter; its JSON result (the last line it prints)."""
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "PYANNOTE_METRICS_ENABLED": "false"}
    before = os.getloadavg()[0]
    done = subprocess.run([sys.executable, __file__, "--side", side, "--audio", str(wav), "--model", model],
                          capture_output=True, text=True, env=env, cwd=ROOT)
    if done.returncode != 0:
        raise RuntimeError(f"{side} failed:\n{done.stderr[-3000:]}")
    result = json.loads(done.stdout.strip().splitlines()[-1])
    result["load_average_before"] = round(before, 2)
    result["load_average_after"] = round(os.getloadavg()[0], 2)
    return result


def word_error_rate(script: list[dict], text: str) -> float:
    from backend.language.metrics import error_rates

    return round(error_rates(" ".join(line["text"] for line in script), text, "en").wer, 4)


def summarise(runs: dict[str, list[dict]], script: list[dict]) -> dict:
    out: dict = {}
    for side, found in runs.items():
        walls = [r["seconds"] for r in found]
        cpus = [r["cpu_seconds"] for r in found]
        out[side] = {"seconds_best": min(walls), "seconds_median": round(statistics.median(walls), 3),
                     "cpu_seconds_best": min(cpus), "cpu_seconds_median": round(statistics.median(cpus), 3),
                     "words": found[0]["words"], "wer": word_error_rate(script, found[0]["text"]),
                     "language": found[0]["language"]}
        if side == "process":
            out[side]["stage_seconds_median"] = {
                stage: round(statistics.median(r["stage_seconds"][stage] for r in found), 3)
                for stage in found[0]["stage_seconds"]}
            out[side]["utterances"] = found[0]["utterances"]
        if side == "stage":
            out[side]["vad_seconds_median"] = round(statistics.median(r["vad"]["seconds"] for r in found), 3)
    bare = out["bare"]
    for side in ("stage", "process"):
        out[f"{side}_over_bare"] = {
            "median_wall": round(out[side]["seconds_median"] / bare["seconds_median"], 3),
            "best_wall": round(out[side]["seconds_best"] / bare["seconds_best"], 3),
            "median_cpu": round(out[side]["cpu_seconds_median"] / bare["cpu_seconds_median"], 3),
        }
    return out


def markdown(results: dict) -> str:
    lines = [
        "# ASR overhead: mmcurate vs bare batched faster-whisper",
        "",
        f"Written by `benchmarks/asr_overhead.py` on {results['date']}; {results['machine']}. "
        f"Settings: {results['settings']['model']}, {results['settings']['cpu_threads']} CPU threads, "
        f"beam {results['settings']['beam_size']}, batch {results['settings']['batch_size']}, word timestamps. "
        "Each side in a fresh process, sides in alternating order; model loads included, imports not. "
        "CPU seconds count every thread (and ffmpeg); they move less than wall seconds when other work "
        "shares the machine.",
        "",
        "- **bare**: `BatchedInferencePipeline.transcribe(audio, batch_size=8, beam_size=5, word_timestamps=True, "
        "vad_filter=True)` (its own Silero ONNX VAD, one language for the file).",
        "- **stage**: our ASR stage alone (recognizer load + transcribe over our Silero VAD regions; the VAD is "
        "timed apart).",
        "- **process**: `backend.services.speech.process_project` on a fresh SQLite database: prepare, VAD, ASR "
        "(language per window), diarization, utterances, clips.",
        "",
    ]
    for size, res in results["sizes"].items():
        s = res["summary"]
        lines += [
            f"## {size}: {res['audio_seconds']:.0f} s of audio ({res['lines']} lines, {res['script_words']} words "
            f"in the script), {res['rounds']} rounds",
            "",
            "| side | wall s (median) | wall s (best) | CPU s (median) | words | WER "
            "| over bare: median wall / best wall / median CPU |",
            "|---|---|---|---|---|---|---|",
        ]
        for side in ("bare", "stage", "process"):
            ratio = s.get(f"{side}_over_bare")
            over = (f"{ratio['median_wall']:.2f}× / {ratio['best_wall']:.2f}× / {ratio['median_cpu']:.2f}×"
                    if ratio else "1")
            lines.append(f"| {side} | {s[side]['seconds_median']:.1f} | {s[side]['seconds_best']:.1f} | "
                         f"{s[side]['cpu_seconds_median']:.1f} | {s[side]['words']} | {s[side]['wer']:.3f} | {over} |")
        stages = s["process"]["stage_seconds_median"]
        lines += ["", "process, seconds per stage (median; model loads inside their stage): "
                  + ", ".join(f"{k} {v:.2f}" for k, v in stages.items())
                  + f"; our VAD alone (stage side): {s['stage']['vad_seconds_median']:.2f} s.", ""]
        loads = [r["load_average_before"] for runs in res["runs"].values() for r in runs]
        lines += [f"Load average (1 min) before each run: {min(loads):.1f}–{max(loads):.1f} on "
                  f"{os.cpu_count()} CPUs.", ""]
    return "\n".join(lines) + "\n"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--side", choices=sorted(SIDES), help=argparse.SUPPRESS)
    parser.add_argument("--audio", help=argparse.SUPPRESS)
    parser.add_argument("--model", help=argparse.SUPPRESS)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--sizes", default="long,short", help="long (8 dialogues, ~11 min), short (3, ~2 min)")
    parser.add_argument("--work", default=str(Path(tempfile.gettempdir()) / "mmcurate-asr-overhead"),
                        help="where the audio and the joined model are kept between runs")
    parser.add_argument("--out", default=str(ROOT / "benchmarks" / "results" / "asr_overhead.json"))
    args = parser.parse_args()
    if args.side:
        print(json.dumps(SIDES[args.side](Path(args.audio), args.model)))
        return 0

    from ingest import whisper_weights

    work = Path(args.work)
    model = str(whisper_weights.ensure_ct2_base(work / "models"))
    shapes = {"long": (8, 22), "short": (3, 10)}
    results: dict = {"date": time.strftime("%Y-%m-%d"), "machine": f"{platform.machine()}, {os.cpu_count()} CPUs",
                     "settings": SETTINGS, "sizes": {}}
    for size in args.sizes.split(","):
        wav, script = make_audio(work / "audio", *shapes[size])
        import soundfile as sf

        runs: dict[str, list[dict]] = {side: [] for side in SIDES}
        for r in range(args.rounds):
            order = list(SIDES) if r % 2 == 0 else list(reversed(SIDES))
            for side in order:
                result = run_side(side, wav, model)
                print(f"{size} round {r + 1} {side}: {result['seconds']:.1f} s wall, {result['cpu_seconds']:.1f} s "
                      f"CPU, {result['words']} words", flush=True)
                runs[side].append(result)
        results["sizes"][size] = {
            "audio_seconds": round(sf.info(wav).duration, 2), "lines": len(script),
            "script_words": sum(len(line["text"].split()) for line in script), "rounds": args.rounds,
            "summary": summarise(runs, script),
            "runs": {side: [{k: v for k, v in r.items() if k != "text"} for r in found] for side, found in runs.items()},
        }
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(results, indent=1) + "\n")
    out.with_suffix(".md").write_text(markdown(results))
    print(markdown(results))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
