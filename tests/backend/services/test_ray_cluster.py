"""`process --engine ray` on a real two-node Ray cluster on this machine: the work runs on the worker node,
which never touches the driver's disk (media reach it through the object store), and the result is what
the in-process engine makes.

Both nodes share this machine's disk, so the test makes the separation real: every Python process on
the worker node starts with an audit hook (a ``sitecustomize`` on that node's ``PYTHONPATH``) that
refuses — and logs — any open, listing, copy or subprocess that names the driver's data dir or the
folder the sources were ingested from. Actors and tasks ask for a resource only that node has.
"""

from __future__ import annotations

import os

from backend.db.session import engine_for, session_factory
from backend.services import speech
from backend.services.projects import ProjectSpec, create_project
from ingest.engine import RayOptions
from tests.backend.services.speech_world import comparable, ledger, new_world, sources

AUDIT_HOOK = '''
"""Installed on the worker node only: refuse any access to the driver's files (see test_ray_cluster.py)."""
import os
import sys

_ROOTS = tuple(r for r in os.environ.get("MMCURATE_TEST_FORBIDDEN_ROOTS", "").split(os.pathsep) if r)
_LOG = os.environ.get("MMCURATE_TEST_AUDIT_LOG", "")


def _note(line):
    with open(_LOG, "a") as handle:
        handle.write(f"{os.getpid()} {line}\\n")


def _paths(event, args):
    if event in ("open", "os.listdir", "os.scandir"):
        return [args[0]]
    if event == "shutil.copyfile":
        return list(args[:2])
    if event == "subprocess.Popen":
        command = [str(a) for a in (args[1] if isinstance(args[1], (list, tuple)) else [args[1]])]
        _note("ran " + os.path.basename(command[0]))
        return command
    return []


def _hook(event, args):
    for path in _paths(event, args):
        if path is None or isinstance(path, int):
            continue
        text = os.fsdecode(path)
        if any(root in text for root in _ROOTS):
            _note(f"forbidden {event} {text}")
            raise PermissionError(f"the worker node touched the driver's disk: {event} {text}")


if _ROOTS and _LOG:
    sys.addaudithook(_hook)
    _note("armed " + os.path.basename(sys.argv[0] if sys.argv else "?"))
'''


def test_on_two_nodes_the_worker_node_gets_media_through_the_object_store_alone(
        tmp_path, sqlite_template, whisper_base, dialogue_folder, in_process_reference):
    import ray
    from ray.cluster_utils import Cluster

    assert not ray.is_initialized()
    settings = new_world(tmp_path / "driver", sqlite_template, whisper_base)
    audit = tmp_path / "worker-node"
    audit.mkdir()
    (audit / "sitecustomize.py").write_text(AUDIT_HOOK)
    log = audit / "audit.log"
    node_env = {"PYTHONPATH": os.pathsep.join(filter(None, [str(audit), os.environ.get("PYTHONPATH")])),
                "MMCURATE_TEST_FORBIDDEN_ROOTS": os.pathsep.join([str(settings.data_dir), str(dialogue_folder)]),
                "MMCURATE_TEST_AUDIT_LOG": str(log)}
    cluster = Cluster(initialize_head=True, head_node_args={"num_cpus": 1, "include_dashboard": False})
    try:
        cluster.add_node(num_cpus=2, resources={"worker_node": 4}, env_vars=node_env)
        with session_factory(settings.sqlalchemy_url)() as session:
            create_project(session, ProjectSpec(name="talks", languages=("en", "ta")))
            speech.ingest_folder(session, "talks", dialogue_folder)
            report = speech.process_project(
                session, "talks", settings, engine="ray",
                ray=RayOptions(address=cluster.address, workers=1, resources={"worker_node": 1}))
            assert not ray.is_initialized()  # the run connected to the cluster and let go of it
            assert (report.processed, report.failed) == (in_process_reference["report"].processed,
                                                         in_process_reference["report"].failed)
            assert comparable(speech.list_utterances(session, "talks")) == in_process_reference["utterances"]
            assert ledger(session) == in_process_reference["ledger"]
            assert sources(session) == in_process_reference["sources"]
            prepared = list(settings.media_dir.rglob("*.wav"))
            assert len(prepared) == 2  # written by the driver from the bytes the workers returned
        engine_for(settings.sqlalchemy_url).dispose()
    finally:
        ray.shutdown()
        cluster.shutdown()

    events = log.read_text().splitlines()
    assert [e for e in events if " forbidden " in e] == []
    ran = {e.split(" ", 2)[2] for e in events if e.split(" ")[1] == "ran"}
    assert {"ffprobe", "ffmpeg"} <= ran, events  # preparation and MP4 clips ran on the worker node
    assert sum(" armed default_worker.py" in e for e in events) >= 2  # the actor and the task workers were audited
