"""Speech pipeline speed on the CPU: ASR stage vs bare faster-whisper vs openai-whisper, whole-pipeline overhead.

Same audio (the generated demo dialogues), same Whisper base weights for all three:
- bare faster-whisper: ``WhisperModel.transcribe`` on the whole file (its own Silero VAD),
- our ASR stage: ``FasterWhisperRecognizer`` over our Silero windows,
- openai-whisper: the same weights converted to its checkpoint, run in a separate venv
  (``--openai-python /tmp/owvenv/bin/python``; skipped when absent),
- whole pipeline: prepare + VAD + ASR + diarization + utterances + clips over N files,
  with models loaded once, against the sum of bare inference on the same files.

Writes benchmarks/results/speech_cpu.json. Usage:
    .venv/bin/python benchmarks/speech_pipeline.py [--files 5] [--beam 5] [--openai-python PATH]
"""

from __future__ import annotations

import argparse
import json
import platform
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

OPENAI_SNIPPET = """
import sys, time, json, whisper, torch
torch.set_num_threads(2)
model = whisper.load_model(sys.argv[1], device="cpu")
out = []
for path in sys.argv[3:]:
    t = time.perf_counter()
    r = model.transcribe(path, beam_size=int(sys.argv[2]) if int(sys.argv[2]) > 1 else None, fp16=False,
                         temperature=0.0, condition_on_previous_text=False)
    out.append({"path": path, "seconds": time.perf_counter() - t, "text": r["text"]})
import resource
print(json.dumps({"runs": out, "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=5)
    parser.add_argument("--beam", type=int, default=5)
    parser.add_argument("--openai-python", default="/tmp/owvenv/bin/python")
    parser.add_argument("--openai-files", type=int, default=1,
                        help="compare with openai-whisper on the first N files (the English dialogue first): on "
                             "espeak's ta/ml voices base loops until its token limit and the time measures the loop")
    parser.add_argument("--out", default=str(ROOT / "benchmarks" / "results" / "speech_cpu.json"))
    args = parser.parse_args()

    from faster_whisper import WhisperModel

    from backend.domain import Span
    from ingest import media, stages, testmedia, whisper_weights
    from ingest.align import UtteranceOptions
    from ingest.asr import AsrOptions, ModelSpec, load_recognizer
    from ingest.diarize import DiarizeOptions, EmbeddingDiarizer
    from ingest.vad import SileroVad

    work = Path(tempfile.mkdtemp(prefix="speechbench-"))
    specs = (testmedia.DEMO_SET * 10)[: args.files]
    made = [testmedia.generate(spec, work / f"in{i}", seed=i) for i, spec in enumerate(specs)]
    total_audio = sum(m.duration_s for m in made)
    ct2 = whisper_weights.ensure_ct2_base(work / "models")
    wavs = [media.extract_audio(m.media_path, work / "wav" / f"{i}.wav") for i, m in enumerate(made)]

    results: dict = {"machine": platform.machine(), "cpu_threads": 2, "files": len(made),
                     "audio_seconds": round(total_audio, 2), "beam_size": args.beam, "model": "whisper-base (int8)"}

    # bare faster-whisper, model loaded once
    bare = WhisperModel(str(ct2), device="cpu", compute_type="int8", cpu_threads=2)
    bare.transcribe(media.load_audio(wavs[0])[:16000], beam_size=1)  # warm-up
    t = time.perf_counter()
    for wav in wavs:
        segments, _ = bare.transcribe(str(wav), beam_size=args.beam, vad_filter=True, word_timestamps=True,
                                      condition_on_previous_text=False, temperature=0.0)
        list(segments)
    bare_s = time.perf_counter() - t
    results["bare_faster_whisper"] = {"seconds": round(bare_s, 2), "rtf": round(bare_s / total_audio, 4)}

    # our pipeline, models loaded once
    vad = SileroVad()
    asr = load_recognizer(ModelSpec(model=str(ct2), cpu_threads=2))
    diarizer = EmbeddingDiarizer()
    timings = {k: 0.0 for k in ("prepare", "vad", "asr", "diarize", "utterances", "clips")}
    per_file = []
    asr_per_file: list[float] = []
    t_all = time.perf_counter()
    for i, m in enumerate(made):
        t0 = time.perf_counter()
        t = time.perf_counter()
        prepared = stages.prepare(m.media_path, work / "media")
        timings["prepare"] += time.perf_counter() - t
        audio = media.load_audio(prepared.audio_path)
        t = time.perf_counter()
        regions = stages.detect_speech(audio, vad).regions
        timings["vad"] += time.perf_counter() - t
        t = time.perf_counter()
        transcript = stages.transcribe(audio, regions, asr, AsrOptions(beam_size=args.beam))
        timings["asr"] += time.perf_counter() - t
        asr_per_file.append(time.perf_counter() - t)
        t = time.perf_counter()
        diarization = stages.diarize(audio, regions, diarizer, DiarizeOptions())
        timings["diarize"] += time.perf_counter() - t
        t = time.perf_counter()
        utts = stages.make_utterances(transcript, diarization, UtteranceOptions(), f"d{i}")
        timings["utterances"] += time.perf_counter() - t
        t = time.perf_counter()
        stages.cut_clips(prepared, [Span(u.start, u.end) for u in utts], work / "clips", audio)
        timings["clips"] += time.perf_counter() - t
        per_file.append(round(time.perf_counter() - t0, 2))
    pipeline_s = time.perf_counter() - t_all
    results["asr_stage"] = {"seconds": round(timings["asr"], 2), "rtf": round(timings["asr"] / total_audio, 4)}
    results["pipeline"] = {
        "seconds": round(pipeline_s, 2), "rtf": round(pipeline_s / total_audio, 4),
        "stage_seconds": {k: round(v, 2) for k, v in timings.items()},
        "per_file_seconds": per_file,
        "overhead_over_bare_inference": round(pipeline_s / (timings["asr"] + timings["diarize"] + timings["vad"]) - 1,
                                              4),
        "overhead_over_bare_faster_whisper": round(pipeline_s / bare_s - 1, 4),
    }
    results["peak_rss_mb"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)

    # openai-whisper with the same weights, in its own venv
    if Path(args.openai_python).exists():
        ckpt = whisper_weights.ct2_to_openai_checkpoint(ct2, work / "base-openai.pt")
        chosen = wavs[: args.openai_files]
        ours = sum(asr_per_file[: args.openai_files])
        seconds = sum(m.duration_s for m in made[: args.openai_files])
        done = subprocess.run([args.openai_python, "-c", OPENAI_SNIPPET, str(ckpt), str(args.beam),
                               *map(str, chosen)], capture_output=True, text=True)
        if done.returncode == 0:
            data = json.loads(done.stdout.strip().splitlines()[-1])
            ow_s = sum(r["seconds"] for r in data["runs"])
            results["openai_whisper"] = {"files": len(chosen), "audio_seconds": round(seconds, 2),
                                         "seconds": round(ow_s, 2), "rtf": round(ow_s / seconds, 4),
                                         "asr_stage_seconds_same_files": round(ours, 2),
                                         "asr_stage_rtf_same_files": round(ours / seconds, 4),
                                         "peak_rss_mb": round(data["peak_rss_mb"], 1),
                                         "first_text": data["runs"][0]["text"][:120]}
            results["asr_stage_speedup_vs_openai_whisper"] = round(ow_s / ours, 2)
        else:
            results["openai_whisper"] = {"error": done.stderr[-500:]}
    else:
        results["openai_whisper"] = {"skipped": f"{args.openai_python} not found"}

    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(results, indent=1) + "\n")
    print(json.dumps(results, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
