"""POST /webhooks/labelstudio: Label Studio's annotation events, checked by a shared secret.

Label Studio sends the secret and the instance name as headers (set when ``annotate push``
creates the webhook). Wrong or missing secret: 401; a body that is not an annotation event:
422; in both cases nothing is stored. Events are stored by one writer thread with group
commit (events arriving together share a transaction; each request is answered after its
own commit), since per-event commits cap a SQLite receiver at ~30 events/s. The reconciling
``annotate pull`` repairs any event that never arrived.
"""

from __future__ import annotations

import hmac
import json
import queue
import threading
from concurrent.futures import Future
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header, HTTPException, Request, status

from backend.api.deps import SettingsDep
from backend.db.session import session_factory
from backend.services import annotation as annotation_service
from backend.services.secrets import webhook_secret

router = APIRouter(prefix="/webhooks", tags=["webhooks"])
MAX_GROUP = 200


class GroupCommitWriter:
    """One writer thread storing webhook events; events that queue up meanwhile share one transaction.

    Each request is answered only after the transaction holding its event committed, so a 200
    means stored. If any event of a group fails, the group is rolled back and each event is
    retried alone, so one bad event never fails (or loses) the others.
    """

    def __init__(self, database_url: str):
        self._factory = session_factory(database_url)
        self._queue: queue.Queue[tuple[str, Any, Future[annotation_service.SyncResult]]] = queue.Queue()
        self._thread = threading.Thread(target=self._run, name="webhook-writer", daemon=True)
        self._thread.start()

    def store(self, instance: str, payload: Any, timeout_s: float = 120.0) -> annotation_service.SyncResult:
        done: Future[annotation_service.SyncResult] = Future()
        self._queue.put((instance, payload, done))
        return done.result(timeout=timeout_s)

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
                    results = [annotation_service.ingest_webhook(session, name, payload) for name, payload, _ in group]
                    session.commit()
                for (_, _, done), result in zip(group, results):
                    done.set_result(result)
            except Exception:  # noqa: BLE001 - retried one by one below, each failure goes to its own request
                for name, payload, done in group:
                    try:
                        with self._factory() as session:
                            result = annotation_service.ingest_webhook(session, name, payload)
                            session.commit()
                        done.set_result(result)
                    except Exception as exc:  # noqa: BLE001 - handed to the waiting request
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


async def _raw_body(request: Request) -> bytes:
    return await request.body()


@router.post("/labelstudio")
def labelstudio_webhook(
    request: Request,
    settings: SettingsDep,
    body: Annotated[bytes, Depends(_raw_body)],
    secret: Annotated[str | None, Header(alias=annotation_service.SECRET_HEADER)] = None,
    instance: Annotated[str | None, Header(alias=annotation_service.INSTANCE_HEADER)] = None,
) -> dict[str, Any]:
    """Store one annotation event (created, updated, deleted) from a Label Studio instance."""
    if secret is None or not hmac.compare_digest(secret.encode(), webhook_secret(settings).encode()):
        raise HTTPException(
            status_code=status.HTTP_401_UNAUTHORIZED,
            detail=f"missing or wrong {annotation_service.SECRET_HEADER} header; Label Studio webhooks must carry "
            "the secret mmcurate set when it created them (re-run `mmcurate annotate push` to refresh them)",
        )
    if not instance:
        raise HTTPException(status_code=422, detail=f"missing {annotation_service.INSTANCE_HEADER} header")
    try:
        payload = json.loads(body)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise HTTPException(status_code=422, detail=f"webhook body is not JSON: {exc}") from None
    result = _writer(request, settings.sqlalchemy_url).store(instance, payload)
    return {"created": result.created, "updated": result.updated, "deleted": result.deleted,
            "unchanged": result.unchanged, "skipped": result.skipped}
