"""The aiohttp application: routes, middlewares and the service's lifecycle."""

from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import Any

from aiohttp import web
from sleepmem.engine import paths
from sleepmem.engine.config import EngineConfig
from sleepmem.engine.service import MemoryService

from . import memory_api, openai_api, page
from .errors import error_middleware

log = logging.getLogger(__name__)

CORS_HEADERS = (
    "Authorization, Content-Type, X-Api-Key, X-Sleepmem-User, X-Sleepmem-Character, "
    "X-Sleepmem-No-Wake, X-OpenWebUI-User-Id, X-OpenWebUI-User-Name"
)


def load_personas(config: EngineConfig) -> dict[str, Any]:
    """Character cards served as models: ``{"sleepmem/<card>": Character}``."""
    folder = config.server.characters_dir
    path = Path(folder).expanduser() if folder else paths.home(config.home) / "characters"
    if not path.is_dir():
        return {}
    from sleepmem.adapters.characters.cards import load_cards

    return {f"{config.server.model_name}/{name}": c for name, c in load_cards(path).items()}


@web.middleware
async def cors_middleware(request: web.Request, handler: Any) -> web.StreamResponse:
    allowed = request.app["config"].server.cors_origins
    origin = request.headers.get("Origin")
    ok = origin is not None and ("*" in allowed or origin in allowed)
    if request.method == "OPTIONS" and ok:
        response: web.StreamResponse = web.Response(status=204)
    else:
        response = await handler(request)
    if ok and not response.prepared:
        response.headers["Access-Control-Allow-Origin"] = origin or "*"
        response.headers["Access-Control-Allow-Headers"] = CORS_HEADERS
        response.headers["Access-Control-Allow-Methods"] = "GET, POST, DELETE, OPTIONS"
        response.headers["Vary"] = "Origin"
    return response


async def health(request: web.Request) -> web.Response:
    service: MemoryService = request.app["service"]
    return web.json_response({"status": "ok", "model": service.engine.backend.model_id})


def create_app(
    service: MemoryService, *, manage_service: bool = True, finish_on_close: bool = True
) -> web.Application:
    """The server for ``service``. With ``manage_service`` the app starts the service
    (inbox replay, scheduler) on startup and closes it on cleanup: after finishing every
    queued job, or with ``finish_on_close`` False (a shutdown) after stopping them, their
    messages left in the inbox for the next start."""
    config = service.engine.config
    # Without CORS origins configured the CORS middleware would only pass requests through.
    cors = [cors_middleware] if config.server.cors_origins else []
    app = web.Application(
        middlewares=[*cors, error_middleware],
        client_max_size=config.server.max_body_bytes,
    )
    app["service"] = service
    app["config"] = config
    app["started"] = int(time.time())
    app["personas"] = load_personas(config)
    app.router.add_get("/health", health)
    app.router.add_get("/v1/models", openai_api.list_models)
    app.router.add_get("/v1/models/{model:.+}", openai_api.get_model)
    app.router.add_post("/v1/chat/completions", openai_api.chat_completions)
    memory_api.add_routes(app)
    page.add_routes(app)
    if manage_service:

        async def start(_app: web.Application) -> None:
            await service.start()

        async def stop(_app: web.Application) -> None:
            await service.close(finish=finish_on_close)

        app.on_startup.append(start)
        app.on_cleanup.append(stop)
    return app
