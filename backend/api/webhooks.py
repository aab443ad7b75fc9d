"""POST /webhooks/labelstudio: Label Studio's annotation events, each instance identified by its own secret.

The route identifies the sending instance by the secret it presents (each instance's
webhooks carry a secret of their own; a header naming an instance is never trusted), parses
the body into the ids it names, and hands the event to the app's ``WebhookReceiver``, which
records it durably and later re-reads those tasks from that instance and stores what the
instance holds (see ``backend.services.annotation.receiver``). No or unknown secret: 401; a
body that is not an annotation event: 422; recording took too long (a busy database): 503 —
in each case nothing is recorded, and ``annotate pull`` repairs whatever never arrived. A 200
means recorded (committed): nothing can lose the event any more.
"""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import APIRouter, FastAPI, HTTPException, Request, status

from annotation_configs.labelstudio import parse_webhook
from backend.domain import ServiceUnavailableError, ValidationError
from backend.services.annotation import INSTANCE_HEADER, SECRET_HEADER
from backend.services.annotation.receiver import WebhookReceiver
from backend.settings import Settings

router = APIRouter(prefix="/webhooks", tags=["webhooks"])
_receiver_lock = threading.Lock()


def receiver(app: FastAPI) -> WebhookReceiver:
    """The app's receiver: made by the lifespan, or on the first event when the app runs without one."""
    with _receiver_lock:
        found = getattr(app.state, "webhook_receiver", None)
        if found is None:
            settings: Settings = app.state.settings
            found = WebhookReceiver(settings)
            app.state.webhook_receiver = found
        return found


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    """Start the webhook writer with the app and stop it with the app."""
    receiver(app).start()
    try:
        yield
    finally:
        receiver(app).stop()


def _header_doc(name: str, description: str, required: bool = True) -> dict[str, Any]:
    return {"name": name, "in": "header", "required": required, "schema": {"type": "string"},
            "description": description}


@router.post("/labelstudio", openapi_extra={"parameters": [
    _header_doc(SECRET_HEADER, "the sending instance's own webhook secret (401 when missing or unknown)"),
    _header_doc(INSTANCE_HEADER, "the sending instance's name; must match the secret's instance", required=False),
]})
async def labelstudio_webhook(request: Request) -> dict[str, Any]:
    """Record one annotation event; the tasks it names are re-read from the sender and stored shortly after.

    The headers are read directly rather than as FastAPI parameters: this route is the hot path
    of the receiver and per-parameter dependency solving is a measurable share of each request.
    """
    writer = receiver(request.app)
    instance = writer.identify(request.headers.get(SECRET_HEADER))
    claimed = request.headers.get(INSTANCE_HEADER)
    if instance is None or (claimed and claimed != instance):
        raise HTTPException(
            status_code=status.HTTP_401_UNAUTHORIZED,
            detail=f"missing or unknown {SECRET_HEADER} header; Label Studio webhooks must carry the secret mmcurate "
            "set for their instance when it created them (re-run `mmcurate annotate push` to repair them)",
        )
    try:
        event = parse_webhook(json.loads(await request.body()))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise HTTPException(status_code=422, detail=f"webhook body is not JSON: {exc}") from None
    except ValidationError as exc:
        raise HTTPException(status_code=422, detail=str(exc)) from None
    if not event.annotation_ids and not event.task_ids:
        return {"recorded": 0, "detail": f"{event.action} names no annotation; nothing to re-read"}
    recorded = writer.submit(instance, event)
    try:
        event_id = await asyncio.wait_for(asyncio.wrap_future(recorded), writer.timeout_s)
    except TimeoutError:
        raise ServiceUnavailableError(f"the event from {instance!r} was not recorded within {writer.timeout_s:.0f} s "
                                      "(the database is busy); `mmcurate annotate pull` will fetch it") from None
    return {"recorded": 1, "event": event_id}
