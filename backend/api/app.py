"""The FastAPI application: health, OpenAPI, and the resource routers."""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version

from fastapi import FastAPI

from backend.api import login, projects, sources
from backend.api import qa as qa_api
from backend.api import webhooks
from backend.api.errors import install_error_handlers
from backend.api.schemas import Health
from backend.services.setup import database_reachable
from backend.settings import Settings, get_settings


def package_version() -> str:
    try:
        return version("mmcurate")
    except PackageNotFoundError:
        return "0+unknown"


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or get_settings()
    app = FastAPI(
        lifespan=webhooks.lifespan,  # the webhook writer starts and stops with the app
        title="mmcurate",
        version=package_version(),
        description="Curation and annotation of low-resource multimodal sentiment/emotion corpora. "
        "Every route but /health needs 'Authorization: Bearer <token>' (`mmcurate token create NAME`).",
    )
    app.state.settings = settings
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
    # -- end router registration --
    return app
