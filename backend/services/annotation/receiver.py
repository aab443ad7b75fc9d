"""The webhook receiver: events recorded durably, then re-read from their instance in batches and stored.

The API route only identifies the sender (``identify``, by the instance's own secret) and
parses the body (``annotation_configs.labelstudio.parse_webhook``). Two threads, owned by the
application's lifespan, do the rest:

- the **recorder** writes each event into ``webhook_events``; events that queue up while it is
  busy share one transaction (group commit), and each request is answered once its event is
  committed — a 200 means "recorded; nothing can lose it now";
- the **refresher** takes the pending events in large batches, looks up the tasks they name
  per instance (only tasks mmcurate gave that instance), re-reads them from the instance with
  its admin token (one request per instance and project, outside any database transaction),
  stores what the instance holds through ``sync.store_instance_annotations`` and marks the
  events processed, in one transaction. An instance that cannot be read keeps its events
  pending with the error, retried on the next rounds (``annotate pull`` repairs them too).

Answering before the re-read keeps Label Studio's own save request (which waits for its
webhook) fast and lets the re-read work in batches of hundreds of tasks, whatever the number
of senders. Both threads survive every error and every request that stopped waiting, and are
started again if they ever die; pending events left by a crash are processed at the next start.
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

from sqlalchemy import insert, select, update

from annotation_configs.labelstudio import instances as ls
from annotation_configs.labelstudio import AnnotationEvent, LsAnnotation
from annotation_configs.registry import SchemeRegistry, shipped_registry
from backend.db.models import WebhookEvent
from backend.db.session import session_factory
from backend.domain import MmcurateError, ValidationError
from backend.services.annotation.home import LabelStudioHome, admin_client, resolve_home, utcnow
from backend.services.annotation.sync import SyncResult, WebhookLookups, store_instance_annotations, tasks_to_refresh
from backend.services.secrets import instance_webhook_secret
from backend.settings import Settings

MAX_GROUP = 500  # events recorded in one transaction
MAX_BATCH = 2000  # pending events re-read in one round
MAX_ATTEMPTS = 5  # an event whose instance failed this often waits for `annotate pull`
RELOAD_EVERY_S = 2.0
STORE_TIMEOUT_S = 120.0
IDLE_WAKE_S = 2.0

# (instance record, Label Studio project id, task ids) -> the annotations the instance holds on those tasks
ReadTasks = Callable[[ls.LabelStudioInstance, int, Sequence[int]], list[LsAnnotation]]


def read_tasks(instance: ls.LabelStudioInstance, ls_project: int, ls_task_ids: Sequence[int]) -> list[LsAnnotation]:
    """What ``instance`` holds now on some tasks of one project, read with its own admin token."""
    return admin_client(instance, timeout_s=60).annotations_of_tasks(ls_project, ls_task_ids)


@dataclass
class _Pending:
    instance: str
    event: AnnotationEvent
    done: Future[int]


def _settle(done: Future[int], result: int | None = None, error: BaseException | None = None) -> None:
    """Resolve a request's future; one whose request stopped waiting (cancelled) is left as it is."""
    try:
        if error is not None:
            done.set_exception(error)
        else:
            done.set_result(result or 0)
    except InvalidStateError:
        pass


class WebhookReceiver:
    """Identifies senders by secret, records their events, and stores what the events name (module docstring)."""

    def __init__(self, settings: Settings, *, home: LabelStudioHome | None = None,
                 registry: SchemeRegistry | None = None, read: ReadTasks = read_tasks,
                 timeout_s: float = STORE_TIMEOUT_S):
        self.settings = settings
        self.home = resolve_home(settings, home)
        self.registry = registry or shipped_registry()
        self.read = read
        self.timeout_s = timeout_s  # how long a request waits for its event to be recorded
        self._factory = session_factory(settings.sqlalchemy_url)
        self._lookups = WebhookLookups()
        self._queue: queue.Queue[_Pending | None] = queue.Queue()
        self._wake = threading.Event()
        self._lock = threading.Lock()
        self._threads: dict[str, threading.Thread] = {}
        self._stopping = False
        self._records: dict[str, ls.LabelStudioInstance] = {}
        self._by_secret: dict[bytes, str] = {}
        self._loaded_at = float("-inf")
        self.last_round: SyncResult = SyncResult()

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

    def _record_of(self, name: str) -> ls.LabelStudioInstance | None:
        with self._lock:
            if name not in self._records:
                self._reload()
            return self._records.get(name)

    # -- threads ---------------------------------------------------------------------------

    def start(self) -> None:
        """Start the recorder and the refresher, or start again whichever died."""
        with self._lock:
            self._stopping = False
            for name, target in (("webhook-recorder", self._record_loop), ("webhook-refresher", self._refresh_loop)):
                thread = self._threads.get(name)
                if thread is None or not thread.is_alive():
                    self._threads[name] = threading.Thread(target=target, name=name, daemon=True)
                    self._threads[name].start()

    def stop(self, timeout_s: float = 10.0) -> None:
        self._stopping = True
        self._queue.put(None)
        self._wake.set()
        for thread in list(self._threads.values()):
            thread.join(timeout=timeout_s)

    @property
    def alive(self) -> bool:
        return len(self._threads) == 2 and all(t.is_alive() for t in self._threads.values())

    def submit(self, instance: str, event: AnnotationEvent) -> Future[int]:
        """Queue one event of ``instance`` (already identified by its secret); resolves with its id once recorded."""
        self.start()
        done: Future[int] = Future()
        self._queue.put(_Pending(instance, event, done))
        return done

    def _record_loop(self) -> None:
        while not self._stopping:
            first = self._queue.get()
            group = [first] if first is not None else []
            while len(group) < MAX_GROUP:
                try:
                    more = self._queue.get_nowait()
                except queue.Empty:
                    break
                if more is not None:
                    group.append(more)
            if not group:
                continue
            try:
                ids = self._record(group)
            except BaseException as exc:  # noqa: BLE001 - the thread must outlive anything one group does
                for pending in group:
                    _settle(pending.done, error=exc if isinstance(exc, Exception) else RuntimeError(str(exc)))
                continue
            for pending, event_id in zip(group, ids):
                _settle(pending.done, event_id)
            self._wake.set()

    def _record(self, group: list[_Pending]) -> list[int]:
        rows = [{"instance": p.instance, "action": p.event.action, "annotation_ids": list(p.event.annotation_ids),
                 "task_ids": list(p.event.task_ids), "received_at": utcnow(), "attempts": 0} for p in group]
        with self._factory() as session:
            ids = list(session.execute(insert(WebhookEvent).returning(WebhookEvent.id, sort_by_parameter_order=True),
                                       rows).scalars())
            session.commit()
        return ids

    def _refresh_loop(self) -> None:
        while not self._stopping:
            self._wake.wait(IDLE_WAKE_S)
            self._wake.clear()
            try:
                while not self._stopping and self.refresh_pending():
                    pass
            except BaseException:  # noqa: BLE001 - retried on the next round; the events stay pending
                self._lookups.clear()
                time.sleep(0.5)

    # -- the re-read -----------------------------------------------------------------------

    def refresh_pending(self, limit: int = MAX_BATCH) -> int:
        """Re-read and store what up to ``limit`` pending events name; how many events were settled."""
        with self._factory() as session:
            pending = session.execute(
                select(WebhookEvent.id, WebhookEvent.instance, WebhookEvent.action, WebhookEvent.annotation_ids,
                       WebhookEvent.task_ids)
                .where(WebhookEvent.processed_at.is_(None), WebhookEvent.attempts < MAX_ATTEMPTS)
                .order_by(WebhookEvent.id).limit(limit)).all()
            by_instance: dict[str, list[tuple[int, AnnotationEvent]]] = defaultdict(list)
            for row in pending:
                by_instance[row.instance].append((row.id, AnnotationEvent(
                    row.action, tuple(row.annotation_ids or ()), tuple(row.task_ids or ()))))
            wanted: dict[str, dict[int, set[int]]] = {}
            failed: dict[str, str] = {}
            for name, events in by_instance.items():
                try:
                    if self._record_of(name) is None:
                        raise ValidationError(f"instance {name!r} has no record in {self.home.state_file}")
                    wanted[name] = tasks_to_refresh(session, name, [e for _, e in events], self._lookups)
                except ValidationError as exc:
                    failed[name] = str(exc)
        held: dict[str, tuple[list[int], list[LsAnnotation]]] = {}
        for name, projects in wanted.items():
            record = self._record_of(name)
            assert record is not None
            try:
                annotations = [a for ls_project, ls_task_ids in sorted(projects.items())
                               for a in self.read(record, ls_project, sorted(ls_task_ids))]
            except MmcurateError as exc:
                failed[name] = str(exc)
                continue
            held[name] = ([t for ids in projects.values() for t in ids], annotations)
        result = SyncResult()
        with self._factory() as session:
            for name, (task_ids, annotations) in held.items():
                result.add(store_instance_annotations(session, self._record_of(name),  # type: ignore[arg-type]
                                                      task_ids, annotations, registry=self.registry,
                                                      lookups=self._lookups))
            now = utcnow()
            done_ids = [event_id for name in held for event_id, _ in by_instance[name]]
            if done_ids:
                session.execute(update(WebhookEvent).where(WebhookEvent.id.in_(done_ids))
                                .values(processed_at=now, error=None))
            for name, error in failed.items():
                session.execute(update(WebhookEvent).where(WebhookEvent.id.in_([i for i, _ in by_instance[name]]))
                                .values(attempts=WebhookEvent.attempts + 1, error=error[:2000]))
            session.commit()
        result.unreachable.extend(f"{name}: {error}" for name, error in failed.items())
        self.last_round = result
        return len(done_ids)

    def wait_until_stored(self, timeout_s: float = 30.0) -> bool:
        """True once no event is pending that can still be processed (for tests and the benchmark)."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            with self._factory() as session:
                left = session.scalar(select(WebhookEvent.id).where(
                    WebhookEvent.processed_at.is_(None), WebhookEvent.attempts < MAX_ATTEMPTS).limit(1))
            if left is None:
                return True
            self._wake.set()
            time.sleep(0.05)
        return False
