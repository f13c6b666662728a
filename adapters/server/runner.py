"""Binding and running the server: in the foreground (``sleepmem serve``) or in a thread.

The loopback rule lives here: a server that would be reachable from other machines must
have API keys, since without them anyone on the network could read and rewrite every
user's memory.
"""

from __future__ import annotations

import asyncio
import ipaddress
import logging
import socket
import threading
from typing import Any

from aiohttp import web
from sleepmem.engine.config import EngineConfig
from sleepmem.engine.errors import ConfigError
from sleepmem.engine.service import MemoryService, leave_if_work_abandoned

from .app import create_app

log = logging.getLogger(__name__)


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False  # a hostname could resolve anywhere


def check_bind(config: EngineConfig) -> None:
    server = config.server
    if not is_loopback(server.host) and not (server.api_keys or server.admin_keys):
        raise ConfigError(
            f"refusing to listen on {server.host}: it is reachable from other machines and "
            "no API keys are configured. Set server.api_keys (and admin_keys), or bind "
            "127.0.0.1."
        )
    if "*" in server.cors_origins and not (server.api_keys or server.admin_keys):
        raise ConfigError(
            "server.cors_origins '*' without API keys would let any web page read memories"
        )


def base_url(host: str, port: int) -> str:
    shown = f"[{host}]" if ":" in host else host  # an IPv6 literal goes in brackets
    return f"http://{shown}:{port}"


async def start_site(service: MemoryService, host: str, port: int) -> tuple[web.AppRunner, str]:
    """Start the app on ``host:port`` (0 = any free port); returns the runner and base URL."""
    return await listen(create_app(service), host, port)


# aiohttp answers a request line or header over 8 KiB with a plain-text 400 before any
# route runs; with room up to 64 KiB, a 10,000-character user id in a query or header
# reaches the validator and gets the OpenAI-shaped error that clients parse.
PARSER_LIMITS = {"max_line_size": 65536, "max_field_size": 65536}


async def listen(app: web.Application, host: str, port: int) -> tuple[web.AppRunner, str]:
    """Serve ``app`` on ``host:port`` (0 = any free port); returns the runner and base URL."""
    runner = web.AppRunner(app, access_log=log if log.isEnabledFor(10) else None, **PARSER_LIMITS)
    await runner.setup()
    site = web.TCPSite(runner, host, port)
    await site.start()
    sockets = [s for s in (site._server.sockets if site._server else [])]
    bound = sockets[0].getsockname()[1] if sockets else port
    return runner, base_url(host, bound)


STREAM_GRACE = 6.0
"""Seconds a shutdown waits for replies in flight before cancelling them; aiohttp then waits
as long again for a cancelled handler, and the service up to ``MemoryService.close``'s
grace for running edits to stop: 6 + 6 + 10 s stays under the 30 s service managers give."""


def serve(service: MemoryService) -> None:
    """Run until SIGTERM or SIGINT (Ctrl-C), then shut down cleanly, well within 30 s.

    aiohttp's ``run_app`` handles both signals: it stops accepting connections, lets
    replies in flight finish for ``STREAM_GRACE`` seconds, then runs the app's cleanup,
    which stops background edits at their next step (``MemoryService.close``). Nothing a
    reply acknowledged is lost: the wake inbox holds it for the next start.
    """
    config = service.engine.config
    check_bind(config)
    host, port = config.server.host, config.server.port
    # Bound here rather than by run_app so the printed address is the real one (port 0).
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host.strip("[]"), port))
    except OSError as exc:
        sock.close()
        raise ConfigError(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from None
    # Listening already: the address is announced on startup, a moment before aiohttp
    # starts accepting, and a client that connects in between just waits in the backlog.
    sock.listen(128)
    bound = sock.getsockname()[1]
    url = base_url(host, bound)
    app = create_app(service, finish_on_close=False)

    async def announce(_app: web.Application) -> None:
        log.info(
            "sleepmem serving %s at %s/v1 (model %s)",
            config.server.model_name,
            url,
            service.engine.backend.model_id,
        )
        print(
            f"sleepmem: OpenAI-compatible API at {url}/v1  (model {config.server.model_name})",
            flush=True,
        )

    app.on_startup.append(announce)
    web.run_app(
        app,
        sock=sock,
        print=None,
        shutdown_timeout=STREAM_GRACE,
        access_log=log if log.isEnabledFor(10) else None,
        handle_signals=True,
        **PARSER_LIMITS,
    )
    log.info("sleepmem stopped")
    leave_if_work_abandoned(service)


class BackgroundServer:
    """The real server on its own event loop in a thread: for tests, benchmarks and
    embedding into programs that are not asyncio."""

    def __init__(self, service: MemoryService, host: str = "127.0.0.1", port: int = 0) -> None:
        self.service = service
        self.host, self.port = host, port
        self.url = ""
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self._runner: web.AppRunner | None = None

    def start(self) -> BackgroundServer:
        check_bind(self.service.engine.config)
        self._thread.start()
        future = asyncio.run_coroutine_threadsafe(
            start_site(self.service, self.host, self.port), self.loop
        )
        self._runner, self.url = future.result(timeout=60)
        return self

    def call(self, coro: Any, timeout: float | None = None) -> Any:
        """Run ``coro`` on the server's loop (e.g. ``service.drain()``) and wait for it."""
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    def stop(self) -> None:
        if self._runner is not None:
            self.call(self._runner.cleanup(), timeout=600)
            self._runner = None
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(timeout=30)

    def __enter__(self) -> BackgroundServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
