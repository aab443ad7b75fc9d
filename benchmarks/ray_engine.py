"""`process` in-process vs on a local Ray with 2 workers: same files, side by side, 1 → 5 → 20 files.

The generated demo dialogues (en, ta with video, ml, bn, zh) cycled with seeds, so 20 files differ.
For each size, each engine processes the same files into a fresh data dir and database through
``backend.services.speech.process_project`` (models loaded cold in each run: once in-process, once
per actor on Ray; the local Ray itself is started once, outside the runs, as a cluster would be up,
and one unmeasured in-process run first warms the driver's imports, which the actors, new processes
in every run, always pay). For the largest size the in-process engine runs a second time with
CTranslate2 pinned to 2 threads, to see whether its default thread count is what holds it back.
Measured: wall time, RTF (wall / audio seconds), the ledger's time per stage, whether both engines
made the same utterances, the machine's load average around each run (the machine is shared), and
Ray's own scheduling cost per file: the driver's puts and calls for one file (samples put once, three
actor calls, the source's bytes put and one task, a second for video) with no-op work, so what is
left is Ray's overhead alone.

Usage:
    .venv/bin/python benchmarks/ray_engine.py [--sizes 1,5,20] [--workers 2] [--beam 5]
Writes benchmarks/results/ray_engine.json and ray_engine.md.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import platform
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="1,5,20")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--beam", type=int, default=5)
    parser.add_argument("--out", default=str(ROOT / "benchmarks" / "results" / "ray_engine.json"))
    args = parser.parse_args()
    sizes = [int(n) for n in args.sizes.split(",")]

    import ray

    from backend.db import migrations
    from backend.db.session import engine_for
    from ingest import testmedia, whisper_weights

    work = Path(tempfile.mkdtemp(prefix="raybench-"))
    specs = (testmedia.DEMO_SET * 10)[: max(sizes)]
    made = [testmedia.generate(spec, work / "in" / f"{i:02d}", seed=i) for i, spec in enumerate(specs)]
    model = str(whisper_weights.ensure_ct2_base(work / "models"))
    template = work / "template.db"
    migrations.upgrade(f"sqlite:///{template}", "head")
    engine_for(f"sqlite:///{template}").dispose()

    t = time.perf_counter()
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, logging_level=logging.WARNING)
    ray_start_s = time.perf_counter() - t
    results: dict = {
        "machine": f"{platform.machine()}, {os.cpu_count()} CPUs (shared with other jobs)",
        "model": "whisper-base int8 (bundled)", "beam_size": args.beam, "ray_workers": args.workers,
        "ray_start_seconds": round(ray_start_s, 2), "runs": [],
    }
    try:
        warm = work / "sets" / "warm-up"  # the driver's imports (torch, the models' libraries, language ID) once,
        for path in (made[0].media_path, made[0].sidecar_path):  # so no measured run pays them; actors always do
            (warm / "0").mkdir(parents=True, exist_ok=True)
            shutil.copyfile(path, warm / "0" / path.name)
        process(work / "runs" / "warm-up", template, warm, model, args, "local", 0)
        for n in sizes:
            folder = work / "sets" / str(n)
            for i, m in enumerate(made[:n]):
                for path in (m.media_path, m.sidecar_path):
                    target = folder / f"{i:02d}" / path.name
                    target.parent.mkdir(parents=True, exist_ok=True)
                    shutil.copyfile(path, target)
            audio_s = sum(m.duration_s for m in made[:n])
            outputs = {}
            variants = [("local", 0), ("ray", 0)] + ([("local", 2)] if n == max(sizes) else [])
            for engine, threads in variants:
                name = f"{engine}, {threads} ASR threads" if threads else engine
                run, outputs[name] = process(work / "runs" / f"{engine}{threads}-{n}", template, folder, model, args,
                                             engine, threads)
                run.update(engine=name, files=n, audio_seconds=round(audio_s, 2),
                           rtf=round(run["wall_seconds"] / audio_s, 4))
                results["runs"].append(run)
                print(json.dumps(run), flush=True)
            local, on_ray = results["runs"][-len(variants):][:2]
            on_ray["same_utterances_as_local"] = all(made == outputs["local"] for made in outputs.values())
            on_ray["over_local"] = round(on_ray["wall_seconds"] / local["wall_seconds"] - 1, 4)
            on_ray["extra_seconds_per_file"] = round((on_ray["wall_seconds"] - local["wall_seconds"]) / n, 3)
        results["scheduling_ms_per_file"] = scheduling_cost(ray, made)
    finally:
        ray.shutdown()
        shutil.rmtree(work, ignore_errors=True)

    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(results, indent=1) + "\n")
    out.with_suffix(".md").write_text(markdown(results))
    print(markdown(results))
    return 0


def process(root: Path, template: Path, folder: Path, model: str, args: argparse.Namespace,
            engine: str, threads: int) -> tuple[dict, list]:
    """One engine over ``folder`` in a fresh data dir: its timings, and its utterances to compare.
    ``threads``: CTranslate2's threads for the in-process ASR (0: its default, what a user gets)."""
    from dataclasses import replace

    from sqlalchemy import select

    from backend.db.models import Project, StageRun
    from backend.db.session import engine_for, session_factory
    from backend.services import speech
    from backend.services.projects import ProjectSpec, create_project
    from backend.settings import Settings
    from ingest.engine import RayOptions

    data_dir = root / "var"
    data_dir.mkdir(parents=True)
    shutil.copyfile(template, data_dir / "mmcurate.db")
    settings = Settings(data_dir=data_dir, database_url=f"sqlite:///{data_dir / 'mmcurate.db'}", asr_model=model,
                        asr_beam_size=args.beam)
    settings.ensure_dirs()
    with session_factory(settings.sqlalchemy_url)() as session:
        create_project(session, ProjectSpec(name="bench", languages=("en", "ta", "ml", "bn", "zh")))
        speech.ingest_folder(session, "bench", folder)
        config = speech.config_from_settings(settings, session.scalar(select(Project)))
        if threads:
            config = replace(config, asr_model=replace(config.asr_model, cpu_threads=threads))
        load_before = os.getloadavg()[0]
        t = time.perf_counter()
        report = speech.process_project(session, "bench", settings, config, engine=engine,  # type: ignore[arg-type]
                                        ray=RayOptions(workers=args.workers) if engine == "ray" else None)
        wall = time.perf_counter() - t
        load_after = os.getloadavg()[0]
        stage_s: dict[str, float] = {}
        for stage_run in session.scalars(select(StageRun)):
            stage_s[stage_run.stage] = stage_s.get(stage_run.stage, 0.0) + (stage_run.duration_ms or 0) / 1000
        utterances = [(u["source_id"], u["start"], u["end"], u["speaker"], u["text"])
                      for u in speech.list_utterances(session, "bench")]
    engine_for(settings.sqlalchemy_url).dispose()
    run = {"engine": engine, "wall_seconds": round(wall, 2), "failed": len(report.failed),
           "utterances": len(utterances), "stage_seconds_in_ledger": {k: round(v, 2) for k, v in stage_s.items()},
           "load_avg_1min_before_after": [round(load_before, 2), round(load_after, 2)]}
    return run, sorted(utterances)


def scheduling_cost(ray, made) -> dict:
    """What Ray costs the driver per file with the work itself removed: the samples put once and three actor
    calls on them, the source's bytes put and a task on them (a second for a file with video), each waited
    for — the calls ``process --engine ray`` makes per file, with no-op bodies."""
    from ingest import media

    @ray.remote(num_cpus=1)
    class Idle:
        def call(self, work, audio):
            return None

    @ray.remote(num_cpus=0)
    def idle_task(origin, data, *more):
        return None

    actor = Idle.remote()
    ray.get(actor.call.remote(None, None))
    ray.get(idle_task.remote("", b""))
    costs = []
    with tempfile.TemporaryDirectory() as tmp:
        for i, m in enumerate(made):
            samples = media.load_audio(media.extract_audio(m.media_path, Path(tmp) / f"{i}.wav"))
            data = m.media_path.read_bytes()
            t = time.perf_counter()
            ref = ray.put(samples)
            for _ in range(3):
                ray.get(actor.call.remote(None, ref))
            for _ in range(2 if m.media_path.suffix == ".mp4" else 1):
                ray.get(idle_task.remote(str(m.media_path), ray.put(data)))
            costs.append((time.perf_counter() - t) * 1000)
    ray.kill(actor)
    return {"median": round(statistics.median(costs), 1), "mean": round(statistics.fmean(costs), 1),
            "max": round(max(costs), 1), "files": len(costs)}


def markdown(results: dict) -> str:
    lines = ["# In-process engine vs local Ray", "",
             f"Machine: {results['machine']}. Whisper base int8, beam {results['beam_size']}; Ray with "
             f"{results['ray_workers']} model actors (1 CPU and 1 ASR thread each) on `ray.init(num_cpus=2)`, "
             f"started once ({results['ray_start_seconds']} s, not counted). Models load cold in every run (the "
             "driver's imports are warmed by one unmeasured in-process run; the actors import in every run). "
             "In-process: one file and one stage at a time; CTranslate2 with its default threads unless the row "
             "says otherwise.", "",
             "| files | audio s | engine | wall s | RTF | Ray over in-process | extra s per file | same utterances "
             "| load avg before → after |",
             "|---|---|---|---|---|---|---|---|---|"]
    for run in results["runs"]:
        over = f"{run['over_local']:+.1%}" if "over_local" in run else ""
        extra = f"{run['extra_seconds_per_file']:+.2f}" if "extra_seconds_per_file" in run else ""
        same = {True: "yes", False: "NO"}.get(run.get("same_utterances_as_local"), "")
        load = " → ".join(str(x) for x in run["load_avg_1min_before_after"])
        lines.append(f"| {run['files']} | {run['audio_seconds']} | {run['engine']} | {run['wall_seconds']} | "
                     f"{run['rtf']} | {over} | {extra} | {same} | {load} |")
    cost = results["scheduling_ms_per_file"]
    lines += ["", f"Ray's scheduling cost per file (no-op work, the same puts and calls): median {cost['median']} ms, "
              f"mean {cost['mean']} ms, max {cost['max']} ms over {cost['files']} files.", "",
              "Time per stage in the ledger (seconds from a stage's start to its record; on Ray this includes "
              "waiting for a free actor):", ""]
    for run in results["runs"]:
        if run["files"] == max(r["files"] for r in results["runs"]):
            lines.append(f"- {run['engine']}: " + ", ".join(f"{k} {v}" for k, v in run["stage_seconds_in_ledger"].items()))
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    raise SystemExit(main())
