"""The webhook receiver's writer: events identified by their secret, re-read from their instance, group-committed.

The API route only identifies the sender (``identify``) and parses the body
(``annotation_configs.labelstudio.parse_webhook``); everything else happens on one writer
thread owned by the application's lifespan: events that queue up while the writer is busy
form a group; the tasks they name are looked up per instance (only tasks mmcurate gave that
instance), re-read from the instance with its admin token (one request per instance and
project, outside any database transaction), and stored in one transaction through
``sync.store_instance_annotations``. Each waiting request is answered after its group
committed, so a 200 means stored; if a group fails, each event is retried alone so one bad
event never fails (or loses) the others. The thread survives every error and every request
that stopped waiting, and is started again if it ever dies.
"""

from __future__ import annotations

import hashlib
import queue
import threading
import time
from collections import defaultdict
from collections.abc import Callable, Sequence
from concurrent.futures import Future, InvalidStateError
from dataclasses import dataclass

from annotation_configs import instances as ls
from annotation_configs.labelstudio import AnnotationEvent, LsAnnotation
from annotation_configs.registry import SchemeRegistry, shipped_registry
from backend.db.session import session_factory
from backend.domain import MmcurateError, ServiceUnavailableError, ValidationError
from backend.services.annotation.home import LabelStudioHome, admin_client, resolve_home
from backend.services.annotation.sync import SyncResult, WebhookLookups, store_instance_annotations, tasks_to_refresh
from backend.services.secrets import instance_webhook_secret
from backend.settings import Settings

MAX_GROUP = 200
RELOAD_EVERY_S = 2.0
STORE_TIMEOUT_S = 120.0

# (instance record, Label Studio project id, task ids) -> the annotations the instance holds on those tasks
ReadTasks = Callable[[ls.LabelStudioInstance, int, Sequence[int]], list[LsAnnotation]]


def read_tasks(instance: ls.LabelStudioInstance, ls_project: int, ls_task_ids: Sequence[int]) -> list[LsAnnotation]:
    """What ``instance`` holds now on some tasks of one project, read with its own admin token."""
    return admin_client(instance, timeout_s=60).annotations_of_tasks(ls_project, ls_task_ids)


@dataclass
class _Pending:
    instance: str
    event: AnnotationEvent
    done: Future[SyncResult]


def _settle(done: Future[SyncResult], result: SyncResult | None = None, error: BaseException | None = None) -> None:
    """Resolve a request's future; one whose request stopped waiting (cancelled) is left as it is."""
    try:
        if error is not None:
            done.set_exception(error)
        else:
            done.set_result(result or SyncResult())
    except InvalidStateError:
        pass


class WebhookReceiver:
    """Identifies senders by secret and stores their events on one writer thread (see the module docstring)."""

    def __init__(self, settings: Settings, *, home: LabelStudioHome | None = None,
                 registry: SchemeRegistry | None = None, read: ReadTasks = read_tasks,
                 timeout_s: float = STORE_TIMEOUT_S):
        self.settings = settings
        self.timeout_s = timeout_s  # how long a request waits for its event to be stored
        self.home = resolve_home(settings, home)
        self.registry = registry or shipped_registry()
        self.read = read
        self._factory = session_factory(settings.sqlalchemy_url)
        self._lookups = WebhookLookups()
        self._queue: queue.Queue[_Pending] = queue.Queue()
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._stopping = False
        self._records: dict[str, ls.LabelStudioInstance] = {}
        self._by_secret: dict[bytes, str] = {}
        self._loaded_at = float("-inf")

    # -- who sent it -----------------------------------------------------------------------

    def _reload(self) -> None:
        self._records = self.home.state().load()
        self._by_secret = {hashlib.sha256(instance_webhook_secret(self.settings, name).encode()).digest(): name
                           for name in self._records}
        self._loaded_at = time.monotonic()

    def identify(self, secret: str | None) -> str | None:
        """The instance whose webhooks carry ``secret``, or None. Instances added since are found (reloads at
        most every 2 s, so a stream of wrong secrets cannot make it reread the state file each time)."""
        if not secret:
            return None
        key = hashlib.sha256(secret.encode()).digest()
        with self._lock:
            name = self._by_secret.get(key)
            if name is None and time.monotonic() - self._loaded_at >= RELOAD_EVERY_S:
                self._reload()
                name = self._by_secret.get(key)
        return name

    def _record(self, name: str) -> ls.LabelStudioInstance:
        with self._lock:
            if name not in self._records:
                self._reload()
            if name not in self._records:
                raise ValidationError(f"instance {name!r} has no record in {self.home.state_file}")
            return self._records[name]

    # -- the writer thread -----------------------------------------------------------------

    def start(self) -> None:
        """Start the writer thread, or start it again if it died."""
        with self._lock:
            if self._thread is None or not self._thread.is_alive():
                self._stopping = False
                self._thread = threading.Thread(target=self._run, name="webhook-writer", daemon=True)
                self._thread.start()

    def stop(self, timeout_s: float = 10.0) -> None:
        self._stopping = True
        self._queue.put(_Pending("", AnnotationEvent("STOP"), Future()))
        if self._thread is not None:
            self._thread.join(timeout=timeout_s)

    @property
    def alive(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def submit(self, instance: str, event: AnnotationEvent) -> Future[SyncResult]:
        """Queue one event of ``instance`` (already identified by its secret); resolves once stored."""
        self.start()
        done: Future[SyncResult] = Future()
        self._queue.put(_Pending(instance, event, done))
        return done

    def _run(self) -> None:
        while not self._stopping:
            group = [self._queue.get()]
            while len(group) < MAX_GROUP:
                try:
                    group.append(self._queue.get_nowait())
                except queue.Empty:
                    break
            group = [p for p in group if p.instance]  # the stop marker
            try:
                self._store(group)
            except BaseException as exc:  # noqa: BLE001 - the thread must outlive anything one group does
                for pending in group:
                    _settle(pending.done, error=exc if isinstance(exc, Exception) else ServiceUnavailableError(str(exc)))

    def _store(self, group: list[_Pending]) -> None:
        if not group:
            return
        try:
            results = self._store_together(group)
        except Exception:  # noqa: BLE001 - retried one by one below, each failure goes to its own request
            self._lookups.clear()
            for pending in group:
                try:
                    result = self._store_together([pending])[0]
                except Exception as exc:  # noqa: BLE001 - handed to the waiting request
                    self._lookups.clear()
                    _settle(pending.done, error=exc)
                else:
                    _settle(pending.done, result)
            return
        for pending, result in zip(group, results):
            _settle(pending.done, result)

    def _store_together(self, group: list[_Pending]) -> list[SyncResult]:
        by_instance: dict[str, list[_Pending]] = defaultdict(list)
        for pending in group:
            by_instance[pending.instance].append(pending)
        # 1. which of our tasks each instance's events name (a short read)
        with self._factory() as session:
            wanted = {name: tasks_to_refresh(session, name, [p.event for p in items], self._lookups)
                      for name, items in by_instance.items()}
        # 2. what the instances hold on them now (no database transaction open meanwhile)
        held: dict[str, tuple[list[int], list[LsAnnotation]]] = {}
        for name, projects in wanted.items():
            record = self._record(name)
            task_ids: list[int] = []
            annotations: list[LsAnnotation] = []
            for ls_project, ls_task_ids in sorted(projects.items()):
                try:
                    annotations.extend(self.read(record, ls_project, sorted(ls_task_ids)))
                except MmcurateError as exc:
                    raise ServiceUnavailableError(f"instance {name!r} could not be read back ({exc}); "
                                                  "`mmcurate annotate pull` will fetch it later") from None
                task_ids.extend(ls_task_ids)
            held[name] = (task_ids, annotations)
        # 3. one transaction for the whole group
        stored: dict[str, SyncResult] = {}
        with self._factory() as session:
            for name, (task_ids, annotations) in held.items():
                stored[name] = store_instance_annotations(session, self._record(name), task_ids, annotations,
                                                          registry=self.registry, lookups=self._lookups)
            session.commit()
        # the instance's outcome goes to its first event; the others of a group are answered 'unchanged'
        out: list[SyncResult] = []
        answered: set[str] = set()
        for pending in group:
            if pending.instance in answered:
                out.append(SyncResult(unchanged=1))
            else:
                answered.add(pending.instance)
                out.append(stored[pending.instance])
        return out
