"""The memory page: ``/memory/``, static HTML, JavaScript and CSS shipped with the package.

The page talks to the REST memory API with the caller's own API key, exactly as any other
client does, so it can show nothing the key could not already read. Its files are served
with a strict Content-Security-Policy: the page holds an API key, so it must never run or
load anything but its own files.
"""

from __future__ import annotations

from pathlib import Path

from aiohttp import web

STATIC = Path(__file__).with_name("static")
FILES = {
    "": ("memory.html", "text/html"),
    "memory.js": ("memory.js", "text/javascript"),
    "api.js": ("api.js", "text/javascript"),
    "chart.js": ("chart.js", "text/javascript"),
    "memory.css": ("memory.css", "text/css"),
}
HEADERS = {
    "Content-Security-Policy": (
        "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; "
        "img-src 'self' data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-cache",
}


async def redirect(request: web.Request) -> web.StreamResponse:
    # The page's links are relative (memory.js, ../v1/...), so it must live at /memory/:
    # that also keeps it working behind a proxy that mounts the server under a prefix.
    raise web.HTTPPermanentRedirect(request.path + "/")


async def static_file(request: web.Request) -> web.StreamResponse:
    entry = FILES.get(request.match_info.get("name", ""))
    if entry is None:
        raise web.HTTPNotFound()
    name, content_type = entry
    return web.Response(
        body=(STATIC / name).read_bytes(),
        content_type=content_type,
        charset="utf-8",
        headers=HEADERS,
    )


def add_routes(app: web.Application) -> None:
    app.router.add_get("/memory", redirect)
    app.router.add_get("/memory/", static_file)
    app.router.add_get("/memory/{name}", static_file)
