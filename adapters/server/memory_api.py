"""The REST memory API: what a user's memory holds, and the levers to change it.

Every route acts on the caller's own memory (see ``identity``); admin keys may name any
user with ``?user=``. ``?character=`` (or ``X-Sleepmem-Character``) selects the memory a
user has with one character when memory is kept per character.
"""

from __future__ import annotations

import time
from dataclasses import asdict
from typing import Any

from aiohttp import web
from sleepmem.engine.commands import is_command
from sleepmem.engine.facts import Fact
from sleepmem.engine.service import MemoryService, memory_key

from .errors import ApiError, json_body
from .identity import identify, requested_character, require_admin, require_user

FACT_FIELDS = (
    "id",
    "text",
    "subject",
    "relation",
    "object",
    "answer",
    "status",
    "source",
    "created_at",
    "updated_at",
)


def fact_json(fact: Fact) -> dict[str, Any]:
    data = asdict(fact)
    return {k: data.get(k) for k in FACT_FIELDS}


def _service(request: web.Request) -> MemoryService:
    return request.app["service"]


async def _key(request: web.Request, body: dict[str, Any] | None = None) -> str:
    caller = identify(request, body, request.app["config"].server)
    user = require_user(caller)
    character = requested_character(request)
    if character and request.app["config"].server.per_character_memory:
        return memory_key(user, character=character)
    return user


async def list_facts(request: web.Request) -> web.Response:
    key = await _key(request)
    engine = _service(request).engine
    return web.json_response(
        {
            "user": key,
            "facts": [fact_json(f) for f in engine.memories(key)],
            "archived": [fact_json(f) for f in engine.archived(key)],  # over the fact budget
        }
    )


async def export(request: web.Request) -> web.Response:
    key = await _key(request)
    engine = _service(request).engine
    mem = engine.memory(key)
    data = {
        "user": key,
        "model": engine.backend.model_id,
        "exported_at": time.time(),
        "facts": [fact_json(f) for f in mem.facts(status=None)],
        "sleeps": mem.sleeps(),  # the whole history, oldest first
    }
    return web.json_response(
        data, headers={"Content-Disposition": 'attachment; filename="sleepmem-memory.json"'}
    )


async def add_fact(request: web.Request) -> web.Response:
    body = await json_body(request)
    key = await _key(request, body)
    text = body.get("text")
    if not isinstance(text, str) or not text.strip():
        raise ApiError(400, "'text' must be a non-empty string", param="text")
    report = await _service(request).remember(key, text)
    return web.json_response(
        {
            "added": [fact_json(f) for f in report.added],
            "superseded": [fact_json(f) for f in report.superseded],
            "skipped": report.skipped,
        },
        status=201 if report.added else 200,
    )


async def forget_fact(request: web.Request) -> web.Response:
    key = await _key(request)
    fact_id = request.match_info["fact_id"]
    service = _service(request)
    mem = service.engine.memory(key)
    # Only an exact id of this user's own active fact: a DELETE by id never matches text.
    if not any(f.id == fact_id for f in mem.facts()):
        raise ApiError(404, f"no active fact {fact_id!r} in this memory", code="fact_not_found")
    gone = await service.forget(key, fact_id)
    return web.json_response({"forgotten": [fact_json(f) for f in gone]})


async def forget_all(request: web.Request) -> web.Response:
    key = await _key(request)
    return web.json_response({"forgotten": await _service(request).forget_all(key)})


async def sleep(request: web.Request) -> web.Response:
    body = await json_body(request) if request.can_read_body else {}
    key = await _key(request, body)
    service = _service(request)
    if body.get("wait"):
        report = await service.sleep(key, reason="api")
        return web.json_response(report.as_dict())
    service.queue_sleep(key, reason="api")
    return web.json_response({"status": "queued", "user": key}, status=202)


async def status(request: web.Request) -> web.Response:
    key = await _key(request)
    return web.json_response(_service(request).status(key))


async def command(request: web.Request) -> web.Response:
    body = await json_body(request)
    key = await _key(request, body)
    text = body.get("text")
    if not is_command(text):
        raise ApiError(400, "'text' must be a chat command such as '/memories'", param="text")
    reply = await _service(request).command(key, text)
    return web.json_response({"reply": reply})


async def admin_users(request: web.Request) -> web.Response:
    require_admin(identify(request, None, request.app["config"].server))
    service = _service(request)
    return web.json_response({"users": [service.status(u) for u in service.users()]})


def add_routes(app: web.Application) -> None:
    app.router.add_get("/v1/memory", list_facts)
    app.router.add_delete("/v1/memory", forget_all)
    app.router.add_get("/v1/memory/export", export)
    app.router.add_post("/v1/memory/facts", add_fact)
    app.router.add_delete("/v1/memory/facts/{fact_id}", forget_fact)
    app.router.add_post("/v1/memory/sleep", sleep)
    app.router.add_get("/v1/memory/status", status)
    app.router.add_post("/v1/memory/command", command)
    app.router.add_get("/v1/admin/users", admin_users)
