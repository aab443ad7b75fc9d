"""The FastAPI application: health, OpenAPI, and the resource routers."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from importlib.metadata import PackageNotFoundError, version

from fastapi import FastAPI

from backend.api import gateway, login, projects, sources, webhooks
from backend.api import qa as qa_api
from backend.api.errors import install_error_handlers
from backend.api.schemas import Health
from backend.services.annotation.gateway import Workspaces, reconcile_before_stop
from backend.services.setup import database_reachable
from backend.settings import Settings, get_settings


def package_version() -> str:
    try:
        return version("mmcurate")
    except PackageNotFoundError:
        return "0+unknown"


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    """The webhook writer and the gateway's workspaces (starts, idle stops) live as long as the app."""
    spaces: Workspaces = app.state.workspaces
    spaces.start()
    try:
        async with webhooks.lifespan(app):
            yield
    finally:
        spaces.close()
        client = getattr(app.state, "gateway_client", None)
        if client is not None:
            await client.aclose()


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or get_settings()
    app = FastAPI(
        lifespan=lifespan,
        title="mmcurate",
        version=package_version(),
        description="Curation and annotation of low-resource multimodal sentiment/emotion corpora. "
        "Every route but /health needs 'Authorization: Bearer <token>' (`mmcurate token create NAME`).",
    )
    app.state.settings = settings
    app.state.workspaces = Workspaces(settings, on_stop=reconcile_before_stop(settings))
    install_error_handlers(app)

    @app.get("/health", response_model=Health, tags=["health"])
    def health() -> Health:
        database = "up" if database_reachable(settings) else "down"
        return Health(status="ok" if database == "up" else "degraded", database=database, version=package_version())

    app.include_router(login.router)
    app.include_router(projects.router)
    app.include_router(sources.router)
    # Routers of the stage packages register here.
    # -- router registration (one line each) --
    app.include_router(qa_api.router)
    app.include_router(webhooks.router)  # checks its own shared secret, not a bearer token
    app.include_router(gateway.router)  # annotators: each instance's own login, no mmcurate token
    # -- end router registration --
    return app
