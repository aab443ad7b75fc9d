"""Workspaces behind the gateway: which instance a path names, started on first request, stopped when idle.

``mmcurate serve`` answers annotators at ``/a/<pseudonym>/`` and proxies to that annotator's
Label Studio on loopback (``backend.api.gateway``). This module decides, without any HTTP, what
a request for a name gets: the running instance, a "starting your workspace" answer while it
starts, or nothing (an unknown name). Starts run on a pool of ``instance_starts`` threads, and
no more than ``max_running`` instances are up at once — when the limit is reached, the least
recently used instance that is idle (no request for two minutes, no task open) is stopped to
make room, or the start waits its turn — so a burst of logins cannot exhaust memory.

A reaper thread stops instances idle for ``idle_s`` (no request through the gateway, no CLI
command using it, no task open in its labeling view). Before stopping one, everything it
holds is reconciled into mmcurate, and the state of its database is recorded, so a later
pull passes over it without starting it. The instance's data stay on disk.
"""

from __future__ import annotations

import enum
import logging
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field

from annotation_configs.labelstudio import instances as ls
from backend.services.annotation import lifecycle
from backend.services.annotation.home import LabelStudioHome, resolve_home
from backend.settings import Settings

log = logging.getLogger(__name__)

INSTANCE_MEMORY_BYTES = 400 * 2**20  # measured 272-380 MB resident per instance; kept on the safe side
EVICTABLE_AFTER_S = 120.0  # an instance unused this long may be stopped early to make room for a start
FAILED_RETRY_S = 30.0  # a failed start is reported this long before the next request tries again


class WorkspaceState(enum.StrEnum):
    UP = "up"
    STARTING = "starting"
    FAILED = "failed"
    UNKNOWN = "unknown"


@dataclass(frozen=True)
class Workspace:
    """What a request for one name gets: the instance to proxy to, or why there is none yet."""

    name: str
    state: WorkspaceState
    instance: ls.LabelStudioInstance | None = None
    waiting: int = 0  # starts queued before this one
    detail: str = ""


def default_max_running() -> int:
    """As many instances as the memory available now holds (at least two)."""
    try:
        for line in open("/proc/meminfo"):
            if line.startswith("MemAvailable:"):
                return max(2, int(line.split()[1]) * 1024 // INSTANCE_MEMORY_BYTES)
    except OSError:
        pass
    return 8


@dataclass
class _Start:
    future: Future[None]
    queued_at: float = field(default_factory=time.monotonic)


class Workspaces:
    """The gateway's view of every managed instance; thread-safe; one per ``mmcurate serve`` process."""

    def __init__(self, settings: Settings, home: LabelStudioHome | None = None, *,
                 on_stop: Callable[[ls.LabelStudioInstance], set[int] | None] | None = None,
                 clock: Callable[[], float] = time.time):
        self.settings = settings
        self.home = resolve_home(settings, home)
        self.idle_s = self.home.idle_s
        self.max_running = settings.max_running_instances or default_max_running()
        self._on_stop = on_stop
        self._clock = clock
        self._lock = threading.Lock()
        self._records: dict[str, ls.LabelStudioInstance] = {}
        self._records_stamp: tuple[int, int] | None = None
        self._up: dict[str, ls.LabelStudioInstance] = {}
        self._starting: dict[str, _Start] = {}
        self._failed: dict[str, tuple[float, str]] = {}
        self._touched: dict[str, float] = {}
        self._first_seen: dict[str, float] = {}
        self._room = threading.Lock()  # one room check at a time
        self._reserved = 0  # starts past the room check, not yet recorded as running
        self._pool = ThreadPoolExecutor(max_workers=settings.instance_starts, thread_name_prefix="mmcurate-ls-start")
        self._closing = threading.Event()
        self._reaper: threading.Thread | None = None

    # -- records -------------------------------------------------------------------------------------------
    def records(self) -> dict[str, ls.LabelStudioInstance]:
        """The instance records, re-read when the state file changed (the CLI writes it too)."""
        try:
            stat = self.home.state_file.stat()
            stamp = (stat.st_mtime_ns, stat.st_size)
        except FileNotFoundError:
            return {}
        with self._lock:
            if stamp != self._records_stamp:
                self._records = self.home.state().load()
                self._records_stamp = stamp
            return dict(self._records)

    # -- requests ------------------------------------------------------------------------------------------
    def lookup(self, name: str) -> Workspace:
        """Where a request for ``name`` goes now; starts the instance when it is down."""
        record = self.records().get(name)
        if record is None or not record.managed:
            return Workspace(name, WorkspaceState.UNKNOWN)
        with self._lock:
            up = self._up.get(name)
            if up is not None and ls.pid_alive(up.pid):
                return Workspace(name, WorkspaceState.UP, up)
            self._up.pop(name, None)
            if name in self._starting:
                return self._starting_answer(name)
        if ls.pid_alive(record.pid) and lifecycle.desired(self.home, record) == record and ls.health(record.url):
            with self._lock:  # started by someone else (a CLI command, an earlier serve)
                self._up[name] = record
                self._first_seen.setdefault(name, self._clock())
            return Workspace(name, WorkspaceState.UP, record)
        with self._lock:
            failed = self._failed.get(name)
            if failed and time.monotonic() - failed[0] < FAILED_RETRY_S:
                return Workspace(name, WorkspaceState.FAILED, detail=failed[1])
            if name not in self._starting and not self._closing.is_set():
                self._failed.pop(name, None)
                self._starting[name] = _Start(self._pool.submit(self._start, name))
            return self._starting_answer(name)

    def _starting_answer(self, name: str) -> Workspace:
        mine = self._starting[name].queued_at
        ahead = sum(1 for s in self._starting.values() if s.queued_at < mine and not s.future.running())
        return Workspace(name, WorkspaceState.STARTING, waiting=ahead)

    def mark_down(self, name: str) -> None:
        """The instance did not answer (stopped by another process): the next lookup starts it."""
        with self._lock:
            self._up.pop(name, None)

    def touch(self, name: str) -> None:
        """A request for ``name`` passed: it is in use (written to its activity file at most every 5 s)."""
        now = self._clock()
        with self._lock:
            if now - self._touched.get(name, 0.0) < 5.0:
                return
            self._touched[name] = now
        lifecycle.touch(self.home, name)

    def wait_started(self, name: str, timeout_s: float = 120.0) -> Workspace:
        """Block until ``name`` is up or failed (tests, benchmarks)."""
        deadline = time.monotonic() + timeout_s
        while True:
            found = self.lookup(name)
            if found.state in (WorkspaceState.UP, WorkspaceState.FAILED, WorkspaceState.UNKNOWN):
                return found
            if time.monotonic() >= deadline:
                return found
            time.sleep(0.1)

    # -- starting ------------------------------------------------------------------------------------------
    def _start(self, name: str) -> None:
        reserved = False
        try:
            while not self._closing.is_set():
                if self._room_for_one():
                    reserved = True
                    break
                time.sleep(1.0)  # every instance is busy: wait for one to go idle
            if not reserved:  # the app is closing: start nothing after it
                return
            record = self.records()[name]
            started = lifecycle.ensure_running(self.home, record)
            self._touched.pop(name, None)
            with self._lock:
                self._up[name] = started
                self._first_seen[name] = self._clock()
        except Exception as exc:  # reported to the person waiting, then retried on a later request
            log.exception("starting Label Studio instance %s failed", name)
            with self._lock:
                self._failed[name] = (time.monotonic(), f"{type(exc).__name__}: {exc}".splitlines()[0][:300])
        finally:
            with self._lock:
                self._starting.pop(name, None)
                if reserved:
                    self._reserved -= 1

    def running(self) -> list[ls.LabelStudioInstance]:
        """Managed instances whose process is alive (whoever started them)."""
        return [r for r in self.records().values() if r.managed and ls.pid_alive(r.pid)]

    def _room_for_one(self) -> bool:
        """True (and a place reserved) when one more instance may start; stops the least recently used idle one
        when needed. Starts in progress count as running, so parallel starts cannot pass the limit together."""
        with self._room:
            running = self.running()
            if len(running) + self._reserved < self.max_running:
                self._reserved += 1
                return True
            now = self._clock()
            candidates = sorted(((self._last_used(r.name, now), r) for r in running), key=lambda pair: pair[0])
            for used, record in candidates:
                if now - used >= EVICTABLE_AFTER_S and lifecycle.open_tasks(record) == 0:
                    log.info("stopping %s (unused %.0f s) to make room for a start", record.name, now - used)
                    self._stop(record)
                    self._reserved += 1
                    return True
            return False

    # -- stopping ------------------------------------------------------------------------------------------
    def _last_used(self, name: str, now: float) -> float:
        used = lifecycle.last_activity(self.home, name)
        seen = self._first_seen.setdefault(name, now)
        return max(used or 0.0, seen if used is None else used)

    def idle(self, now: float | None = None) -> list[ls.LabelStudioInstance]:
        """Running instances unused for the idle time, with no task open (or unused four times as long)."""
        now = self._clock() if now is None else now
        out = []
        for record in self.running():
            with self._lock:
                if record.name in self._starting:
                    continue
            quiet = now - self._last_used(record.name, now)
            if quiet >= self.idle_s and (quiet >= 4 * self.idle_s or lifecycle.open_tasks(record) == 0):
                out.append(record)
        return out

    def reap(self, now: float | None = None) -> list[str]:
        """Stop every idle instance (see ``idle``); the names stopped."""
        stopped = []
        for record in self.idle(now):
            self._stop(record)
            stopped.append(record.name)
        return stopped

    def _stop(self, record: ls.LabelStudioInstance) -> None:
        projects: set[int] | None = None
        if self._on_stop is not None:
            try:
                projects = self._on_stop(record)
            except Exception:  # the data stay in the instance; the next pull starts it and reads them
                log.exception("reconciling %s before stopping it failed", record.name)
        with self._lock:
            self._up.pop(record.name, None)
            self._first_seen.pop(record.name, None)
        stopped = lifecycle.stop_instance(self.home, record)
        if projects is not None:
            lifecycle.record_synced(self.home, stopped, projects)
        log.info("stopped idle Label Studio instance %s", record.name)

    # -- the reaper thread ---------------------------------------------------------------------------------
    def start(self) -> None:
        """Start the reaper (every idle/8 s, between 5 s and 60 s)."""
        if self._reaper is not None:
            return
        interval = min(60.0, max(5.0, self.idle_s / 8))

        def loop() -> None:
            while not self._closing.wait(interval):
                try:
                    self.reap()
                except Exception:
                    log.exception("the idle reaper failed; it tries again in %.0f s", interval)

        self._reaper = threading.Thread(target=loop, name="mmcurate-ls-reaper", daemon=True)
        self._reaper.start()

    def close(self) -> None:
        """Stop the reaper and the start pool (instances keep running; the next serve adopts them)."""
        self._closing.set()
        if self._reaper is not None:
            self._reaper.join(timeout=10)
        self._pool.shutdown(wait=False, cancel_futures=True)


def reconcile_before_stop(settings: Settings) -> Callable[[ls.LabelStudioInstance], set[int]]:
    """The ``on_stop`` of the service: store what the instance holds, in a session of its own."""
    from backend.db.session import session_factory
    from backend.services.annotation.sync import reconcile_running_instance

    def run(instance: ls.LabelStudioInstance) -> set[int]:
        session = session_factory(settings.sqlalchemy_url)()
        try:
            _, projects = reconcile_running_instance(session, instance)
            session.commit()
            return projects
        except BaseException:
            session.rollback()
            raise
        finally:
            session.close()

    return run
