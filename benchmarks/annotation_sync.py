"""Annotation loop throughput against a real Label Studio: push, webhook receiver, reconciling pull.

Targets (issues 6 and 10): push 10,000 tasks < 60 s (batched imports); the webhook receiver
stores >= 200 annotations/s from a loopback load generator with none lost (counted in the
database) — each event re-read from the Label Studio instance its secret belongs to, as in
production; a reconciling pull of 10,000 annotations < 60 s.

    .venv/bin/python benchmarks/annotation_sync.py [--tasks 10000] [--events 2000] [--database-url URL]

Writes benchmarks/results/annotation_sync.json. Uses the cached Label Studio venv and template
(.cache/, or MMCURATE_LABELSTUDIO_VENV) and a throw-away data dir and SQLite database.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", type=int, default=10_000)
    parser.add_argument("--events", type=int, default=2_000)
    parser.add_argument("--senders", type=int, default=4, help="concurrent webhook senders")
    parser.add_argument("--workers", type=int, default=1,
                        help="uvicorn worker processes of the receiver; 0 runs it in a thread of this process, "
                             "sharing the interpreter with the load generator")
    parser.add_argument("--database-url", help="mmcurate's database, e.g. postgresql+psycopg://postgres@127.0.0.1:5432/"
                        "bench (an empty database); default a throw-away SQLite file")
    parser.add_argument("--out", type=Path, default=REPO / "benchmarks" / "results" / "annotation_sync.json")
    args = parser.parse_args()

    from sqlalchemy import select

    from annotation_configs.labelstudio import instances as ls
    from annotation_configs.labelstudio.install import LABEL_STUDIO_VERSION, ensure_installed
    from annotation_configs.labelstudio.results import result_from_values
    from annotation_configs.registry import load_registry
    from backend.db import migrations
    from backend.db.models import Item, MediaAsset, Project, Source, UtteranceRow
    from backend.db.session import session_factory
    from backend.services import annotation as service
    from backend.settings import Settings

    venv = Path(os.environ.get("MMCURATE_LABELSTUDIO_VENV") or REPO / ".cache" / "labelstudio-venv")
    install = ensure_installed(venv)
    work = Path(tempfile.mkdtemp(prefix="mmcurate-bench-"))
    data_dir = work / "var"
    (data_dir / "clips").mkdir(parents=True)
    url = args.database_url or f"sqlite:///{data_dir / 'mmcurate.db'}"
    migrations.upgrade(url, "head")
    port = ls.free_port()
    settings = Settings(data_dir=data_dir, database_url=url, public_url=None, webhook_secret="bench-secret",
                        labelstudio_venv=install.venv)
    home = service.LabelStudioHome.from_settings(settings)  # the layout the receiver process finds too
    clips = []
    for n in range(20):
        path = data_dir / "clips" / f"c{n}.wav"
        subprocess.run(["ffmpeg", "-loglevel", "error", "-y", "-f", "lavfi", "-i", f"sine=frequency={200 + 20 * n}:duration=0.3",
                        "-ar", "16000", str(path)], check=True)
        clips.append(path)
    factory = session_factory(url)
    results: dict[str, object] = {
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version(), "label_studio": LABEL_STUDIO_VERSION},
        "tasks": args.tasks,
    }
    try:
        with factory() as session:
            project = Project(name="bench", languages=["ta"], schemes=["sentiment3"])
            session.add(project)
            session.flush()
            source = Source(project_id=project.id, kind="file", uri="file:///bench.wav", content_hash="b")
            session.add(source)
            session.flush()
            asset = MediaAsset(project_id=project.id, source_id=source.id, content_hash="b", path="bench.wav")
            session.add(asset)
            session.flush()
            for n in range(args.tasks):
                clip = clips[n % len(clips)]
                item = Item(project_id=project.id, source_id=source.id, kind="clip", dialogue_id=f"d{n // 50}",
                            turn_index=n % 50, text=f"வாக்கியம் {n}", language="ta", media_path=str(clip))
                session.add(item)
                session.flush()
                session.add(UtteranceRow(item_id=item.id, asset_id=asset.id, start_ms=n * 1000, end_ms=n * 1000 + 300,
                                      speaker_label=f"SPEAKER_0{n % 2}", clip_audio_path=str(clip)))
            started = time.perf_counter()
            login = service.add_annotator(session, settings, "bench@example.org", ["ta"], home=home)
            results["instance_start_and_login_s"] = round(time.perf_counter() - started, 2)
            session.commit()

        # 1. push
        with factory() as session:
            started = time.perf_counter()
            pushed = service.push(session, settings, service.PushOptions("bench", "sentiment3", k=1), home=home)
            session.commit()
            results["push"] = {"tasks_created": pushed.tasks_created, "seconds": round(time.perf_counter() - started, 2),
                               "target_s": 60}
        print("push", results["push"], flush=True)

        # 2. 10,000 annotations in Label Studio, then the reconciling pull. Community Label Studio has no
        # bulk-annotate API and one POST per annotation would dominate the run, so the annotated tasks are
        # imported with their annotations into a second project and recorded as push records them.
        instance = home.state().load()[login.pseudonym]
        from annotation_configs.labelstudio import LabelStudioClient
        from backend.db.models import AnnotationBatch, Annotator, LabelStudioInstanceRow, Task
        from annotation_configs.xml import MediaKind, label_config, task_data

        admin = LabelStudioClient(instance.url, instance.admin_token, timeout_s=600)
        scheme = load_registry()["sentiment3"]
        ls_project = admin.create_project("bench pull", label_config(scheme, MediaKind.AUDIO))
        started = time.perf_counter()
        with factory() as session:
            items = list(session.scalars(select(Item).order_by(Item.id)))
            batch = AnnotationBatch(project_id=items[0].project_id, scheme="sentiment3", overlap_k=1, gold_rate=0.0,
                                    selection={"benchmark": "pull"})
            session.add(batch)
            session.flush()
            annotator_id = session.scalar(select(Annotator.id).where(Annotator.pseudonym == login.pseudonym))
            row_id = session.scalar(select(LabelStudioInstanceRow.id).where(LabelStudioInstanceRow.name == instance.name))
            payload = []
            for n, item in enumerate(items):
                label = scheme.field("sentiment").keys[n % 3]
                payload.append({
                    "data": task_data(MediaKind.AUDIO, f"/data/local-files/?d=clips/c{n % 20}.wav", item_id=item.id),
                    "annotations": [{"result": result_from_values(scheme, {"sentiment": label}, "audio"),
                                     "completed_by": instance.user_id, "lead_time": 5.0}],
                })
            task_ids = admin.import_tasks(ls_project, payload)
            for item, ls_task_id in zip(items, task_ids):
                session.add(Task(batch_id=batch.id, item_id=item.id, annotator_id=annotator_id, instance_id=row_id,
                                 ls_project_id=ls_project, ls_task_id=ls_task_id))
            session.commit()
        results["import_annotated_tasks_s"] = round(time.perf_counter() - started, 2)
        with factory() as session:
            started = time.perf_counter()
            pulled = service.pull(session, settings, "bench", home=home)
            session.commit()
            results["pull"] = {"created": pulled.created, "seconds": round(time.perf_counter() - started, 2), "target_s": 60}
        with factory() as session:
            started = time.perf_counter()
            again = service.pull(session, settings, "bench", home=home)
            results["pull_again_unchanged"] = {"unchanged": again.unchanged,
                                               "seconds": round(time.perf_counter() - started, 2)}
        print("pull", results["pull"], results["pull_again_unchanged"], flush=True)

        # 3. webhook receiver
        results["webhooks"] = webhook_bench(settings, factory, port, instance.name, admin, ls_project, task_ids,
                                            args.events, args.senders, args.workers)
        print("webhooks", results["webhooks"], flush=True)
    finally:
        ls.stop_all(home.state().load().values())
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=2) + "\n")
    print(f"wrote {args.out}")
    return 0


def webhook_bench(settings, factory, port: int, instance_name: str, admin, ls_project: int, task_ids: list[int],
                  events: int, senders: int, workers: int = 1) -> dict[str, object]:
    """The real app on uvicorn and a loopback load generator of ANNOTATION_CREATED events; stored rows counted.

    The tasks' annotations exist in Label Studio (imported with them) and were pulled; they are
    removed from mmcurate's database first, so each event makes the receiver re-read its task
    from the instance and store the annotation again. With ``workers`` >= 1 the receiver runs as
    its own uvicorn process(es), as deployed; with 0 it runs in a thread here, and the load
    generator's Python competes with it for one interpreter lock.
    """
    import http.client

    from sqlalchemy import delete, func, select

    from backend.db.models import Annotation, AnnotationHistory
    from backend.services import annotation as service
    from backend.services.secrets import instance_webhook_secret

    events = min(events, len(task_ids))
    held = {a.task_id: a for a in admin.annotations(ls_project)}
    with factory() as session:
        session.execute(delete(AnnotationHistory))
        session.execute(delete(Annotation))
        session.commit()
    stop = _start_receiver(settings, port, workers)
    headers = {service.SECRET_HEADER: instance_webhook_secret(settings, instance_name), "Content-Type": "application/json"}

    def send(n: int, connection: http.client.HTTPConnection) -> int:
        annotation = held[task_ids[n]]
        body = {"action": "ANNOTATION_CREATED", "project": {"id": ls_project},
                "annotation": {"id": annotation.id, "task": annotation.task_id, "result": annotation.result}}
        connection.request("POST", "/webhooks/labelstudio", body=json.dumps(body).encode(), headers=headers)
        response = connection.getresponse()
        response.read()
        return response.status

    # http.client rather than httpx: on a 2-core machine the generator's own CPU comes out of the
    # receiver's share, and httpx spent ~2 ms of CPU per request here to http.client's ~0.6 ms.
    local = threading.local()

    def send_on_own_connection(n: int) -> int:
        if not hasattr(local, "connection"):
            local.connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        return send(n, local.connection)

    def stored_now() -> int:
        with factory() as session:
            return session.scalar(select(func.count()).select_from(Annotation)) or 0

    try:
        started = time.perf_counter()
        with ThreadPoolExecutor(senders) as pool:
            codes = list(pool.map(send_on_own_connection, range(events)))
        recorded_s = time.perf_counter() - started
        deadline = time.monotonic() + 600
        while stored_now() < events and time.monotonic() < deadline:
            time.sleep(0.1)
        stored_s = time.perf_counter() - started
    finally:
        stop()
    stored = stored_now()
    return {"sent": events, "http_200": codes.count(200), "stored": stored, "lost": events - stored,
            "recorded_seconds": round(recorded_s, 2), "recorded_per_second": round(events / recorded_s, 1),
            "stored_seconds": round(stored_s, 2), "per_second": round(stored / stored_s, 1), "senders": senders,
            "receiver": f"{workers} uvicorn worker process(es)" if workers else "uvicorn in a thread of the load generator",
            "target_per_second": 200, "database": settings.sqlalchemy_url.split(":")[0],
            "re_read": "every event's task read back from its Label Studio instance, in batches, before storing"}


def _start_receiver(settings, port: int, workers: int):
    """Start the app on 127.0.0.1:``port``, wait until it answers /health; return a function that stops it."""
    import httpx

    if workers == 0:
        import uvicorn

        from backend.api.app import create_app

        server = uvicorn.Server(uvicorn.Config(create_app(settings), host="127.0.0.1", port=port,
                                               log_level="warning", access_log=False))
        thread = threading.Thread(target=server.run, daemon=True)
        thread.start()
        while not server.started:
            time.sleep(0.05)

        def stop_thread() -> None:
            server.should_exit = True
            thread.join(timeout=20)

        return stop_thread
    env = {**os.environ, "MMCURATE_DATA_DIR": str(settings.data_dir), "MMCURATE_DATABASE_URL": settings.sqlalchemy_url,
           "MMCURATE_WEBHOOK_SECRET": settings.webhook_secret or "",
           "MMCURATE_LABELSTUDIO_VENV": str(settings.labelstudio_venv_dir)}
    process = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", "backend.api.app:create_app", "--factory", "--host", "127.0.0.1",
         "--port", str(port), "--workers", str(workers), "--log-level", "warning", "--no-access-log"],
        cwd=REPO, env=env)
    deadline = time.monotonic() + 60
    while True:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/health", timeout=2).status_code == 200:
                break
        except httpx.HTTPError:
            pass
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            raise RuntimeError(f"the receiver did not start on port {port} (exit status {process.poll()})")
        time.sleep(0.2)

    def stop_process() -> None:
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()

    return stop_process


if __name__ == "__main__":
    raise SystemExit(main())
