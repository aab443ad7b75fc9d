"""POST /webhooks/labelstudio: Label Studio's annotation events, checked by a shared secret.

Label Studio sends the secret and the instance name as headers (set when ``annotate push``
creates the webhook). Wrong or missing secret: 401; a body that is not an annotation event:
422; in both cases nothing is stored. Events are stored by one writer thread with group
commit (events arriving together share a transaction; each request is answered after its
own commit), since per-event commits cap a SQLite receiver at ~30 events/s. The route itself
is async and waits on the writer without taking a threadpool thread. The reconciling
``annotate pull`` repairs any event that never arrived.
"""

from __future__ import annotations

import asyncio
import hmac
import json
import queue
import threading
from concurrent.futures import Future
from typing import Any

from fastapi import APIRouter, HTTPException, Request, status

from backend.db.session import session_factory
from backend.services import annotation as annotation_service
from backend.services.secrets import webhook_secret
from backend.settings import Settings

router = APIRouter(prefix="/webhooks", tags=["webhooks"])
MAX_GROUP = 200
STORE_TIMEOUT_S = 120.0


class GroupCommitWriter:
    """One writer thread storing webhook events; events that queue up meanwhile share one transaction.

    Each request is answered only after the transaction holding its event committed, so a 200
    means stored. If any event of a group fails, the group is rolled back and each event is
    retried alone (with the remembered instance and task rows forgotten), so one bad event
    never fails (or loses) the others.
    """

    def __init__(self, database_url: str):
        self._factory = session_factory(database_url)
        self._lookups = annotation_service.WebhookLookups()
        self._queue: queue.Queue[tuple[str, Any, Future[annotation_service.SyncResult]]] = queue.Queue()
        self._thread = threading.Thread(target=self._run, name="webhook-writer", daemon=True)
        self._thread.start()

    def submit(self, instance: str, payload: Any) -> Future[annotation_service.SyncResult]:
        """Queue one event; the future resolves once its transaction committed (or with its error)."""
        done: Future[annotation_service.SyncResult] = Future()
        self._queue.put((instance, payload, done))
        return done

    def store(self, instance: str, payload: Any, timeout_s: float = STORE_TIMEOUT_S) -> annotation_service.SyncResult:
        return self.submit(instance, payload).result(timeout=timeout_s)

    def _ingest(self, session: Any, name: str, payload: Any) -> annotation_service.SyncResult:
        return annotation_service.ingest_webhook(session, name, payload, lookups=self._lookups)

    def _run(self) -> None:
        while True:
            group = [self._queue.get()]
            while len(group) < MAX_GROUP:
                try:
                    group.append(self._queue.get_nowait())
                except queue.Empty:
                    break
            try:
                with self._factory() as session:
                    annotation_service.prefetch_tasks(session, [(name, payload) for name, payload, _ in group],
                                                      self._lookups)
                    results = [self._ingest(session, name, payload) for name, payload, _ in group]
                    session.commit()
                for (_, _, done), result in zip(group, results):
                    done.set_result(result)
            except Exception:  # noqa: BLE001 - retried one by one below, each failure goes to its own request
                self._lookups.clear()
                for name, payload, done in group:
                    try:
                        with self._factory() as session:
                            result = self._ingest(session, name, payload)
                            session.commit()
                        done.set_result(result)
                    except Exception as exc:  # noqa: BLE001 - handed to the waiting request
                        self._lookups.clear()
                        done.set_exception(exc)


_writer_lock = threading.Lock()


def _writer(request: Request, database_url: str) -> GroupCommitWriter:
    """The app's writer (one per app, made on the first event)."""
    with _writer_lock:
        writer = getattr(request.app.state, "webhook_writer", None)
        if writer is None:
            writer = GroupCommitWriter(database_url)
            request.app.state.webhook_writer = writer
        return writer


def _header_doc(name: str, description: str) -> dict[str, Any]:
    return {"name": name, "in": "header", "required": True, "schema": {"type": "string"}, "description": description}


@router.post("/labelstudio", openapi_extra={"parameters": [
    _header_doc(annotation_service.SECRET_HEADER, "the shared webhook secret (401 when missing or wrong)"),
    _header_doc(annotation_service.INSTANCE_HEADER, "the name of the sending Label Studio instance"),
]})
async def labelstudio_webhook(request: Request) -> dict[str, Any]:
    """Store one annotation event (created, updated, deleted) from a Label Studio instance.

    The headers are read directly rather than as FastAPI parameters: this route is the hot path
    of the receiver and per-parameter dependency solving is a measurable share of each request.
    """
    secret = request.headers.get(annotation_service.SECRET_HEADER)
    instance = request.headers.get(annotation_service.INSTANCE_HEADER)
    settings: Settings = request.app.state.settings
    if secret is None or not hmac.compare_digest(secret.encode(), webhook_secret(settings).encode()):
        raise HTTPException(
            status_code=status.HTTP_401_UNAUTHORIZED,
            detail=f"missing or wrong {annotation_service.SECRET_HEADER} header; Label Studio webhooks must carry "
            "the secret mmcurate set when it created them (re-run `mmcurate annotate push` to refresh them)",
        )
    if not instance:
        raise HTTPException(status_code=422, detail=f"missing {annotation_service.INSTANCE_HEADER} header")
    try:
        payload = json.loads(await request.body())
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise HTTPException(status_code=422, detail=f"webhook body is not JSON: {exc}") from None
    stored = _writer(request, settings.sqlalchemy_url).submit(instance, payload)
    result = await asyncio.wait_for(asyncio.wrap_future(stored), STORE_TIMEOUT_S)
    return {"created": result.created, "updated": result.updated, "deleted": result.deleted,
            "unchanged": result.unchanged, "skipped": result.skipped}
