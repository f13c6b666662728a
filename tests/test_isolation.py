"""Isolation under attack, on the real server over loopback with the real model.

With per-user API keys, a key for alice never reads, changes, sleeps or forgets bob's memory,
whichever route she calls and however she names him: headers, the body's ``user`` field,
``?user=``, a character name. User ids and character names that are paths, hold null bytes
or run to 10,000 characters are refused with an OpenAI-shaped 400 and create nothing.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from sleepmem.engine.facts import explicit

SECRET = "Quetzaltenango"
KEYS = {"ka": "alice", "kb": "bob"}
ALICE = {"Authorization": "Bearer ka"}


async def call(server, method: str, path: str, **kw: Any) -> tuple[int, Any, str]:
    async with aiohttp.ClientSession() as s, s.request(method, server.url + path, **kw) as r:
        text = await r.text()
        body = json.loads(text) if text.startswith(("{", "[")) else text
        return r.status, body, text


def snapshot(server, user: str) -> dict[str, Any]:
    """Everything stored for ``user``: facts in every status, edit batches, sleeps, inbox,
    and the bytes of the edit files."""
    engine = server.service.engine
    mem = engine.memory(user)
    deltas = sorted((mem.path / "deltas").glob("*")) if (mem.path / "deltas").exists() else []
    return {
        "facts": [(f.id, f.answer, f.status) for f in mem.facts(status=None)],
        "batches": [b.id for b in mem.batches()],
        "sleeps": mem.sleeps(),
        "inbox": engine.pending_count(user),
        "files": {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in deltas},
    }


# Every way a request can name a user or a memory, all pointing at bob at once, and each
# one alone: a key mapped to alice must ignore them all.
SPOOFS: dict[str, dict[str, Any]] = {
    "header X-Sleepmem-User": {"headers": {"X-Sleepmem-User": "bob"}},
    "header X-OpenWebUI-User-Id": {"headers": {"X-OpenWebUI-User-Id": "bob"}},
    "body user": {"json": {"user": "bob"}},
    "query user": {"params": {"user": "bob"}},
    "query character": {"params": {"character": "bob"}},
    "header character": {"headers": {"X-Sleepmem-Character": "../bob"}},
}
EVERY_SPOOF = {
    "headers": {"X-Sleepmem-User": "bob", "X-OpenWebUI-User-Id": "bob"},
    "params": {"user": "bob", "character": "bob"},
}


def spoofed(extra_json: dict[str, Any] | None = None, **spoof: Any) -> dict[str, Any]:
    kw: dict[str, Any] = {"headers": {**ALICE, **spoof.get("headers", {})}}
    if "params" in spoof:
        kw["params"] = spoof["params"]
    if extra_json is not None or "json" in spoof:
        kw["json"] = {**(extra_json or {}), **spoof.get("json", {})}
    return kw


@pytest.fixture
def keyed(serve):
    """A server with a key for alice and one for bob; bob remembers where he lives."""
    server = serve(**{"server.api_keys": KEYS, "server.admin_keys": ["adm"]})
    server.service.engine.write("bob", [explicit("Where do I live?", SECRET)])
    return server


async def test_alice_never_reaches_bob_through_any_route(keyed):
    server = keyed
    before = snapshot(server, "bob")
    bob_fact = before["facts"][0][0]
    seen: list[str] = []

    async def attack(method: str, path: str, payload: dict[str, Any] | None, spoof: dict):
        status, body, text = await call(server, method, path, **spoofed(payload, **spoof))
        seen.append(f"{method} {path} -> {status}: {text[:300]}")
        assert status < 500, seen[-1]
        # bob's answer may come back only as an echo of alice's own words ("no memory
        # matches ..."), never from his memory; his fact's id never
        said = json.dumps(payload or {}).casefold().count(SECRET.casefold())
        assert text.casefold().count(SECRET.casefold()) <= said, seen[-1]
        assert bob_fact not in text or bob_fact in path, seen[-1]
        return status, body

    # reads, each way of naming bob alone and all at once
    for spoof in [*SPOOFS.values(), EVERY_SPOOF]:
        # a path as the character name is refused; anything else reads alice's own memory
        refused = "/" in spoof.get("headers", {}).get("X-Sleepmem-Character", "")
        for path in ("/v1/memory", "/v1/memory/status", "/v1/memory/export"):
            status, body = await attack("GET", path, None, spoof)
            if refused:
                assert status == 400 and body["error"]["param"] == "character", body
            else:
                assert status == 200 and body["user"].split("/")[0] == "alice", body
        status, body = await attack("DELETE", f"/v1/memory/facts/{bob_fact}", None, spoof)
        assert status == (400 if refused else 404), body
    # writes, sleeps, commands and chat with every way at once
    chat = {
        "model": "sleepmem",
        "max_tokens": 16,
        "user": "bob",
        "messages": [{"role": "user", "content": "Where do I live?"}],
    }
    writes = [
        ("POST", "/v1/chat/completions", chat),
        ("POST", "/v1/chat/completions", {**chat, "stream": True}),
        ("POST", "/v1/memory/command", {"text": "/memories"}),
        ("POST", "/v1/memory/command", {"text": f"/forget {SECRET}"}),
        ("POST", "/v1/memory/command", {"text": "/sleep"}),
        ("POST", "/v1/memory/sleep", {"wait": True}),
        ("DELETE", "/v1/memory", None),
        ("GET", "/v1/admin/users", None),
    ]
    for method, path, payload in writes:
        await attack(method, path, payload, {**EVERY_SPOOF, "json": {"user": "bob"}})
    forget = {
        **chat,
        "messages": [{"role": "user", "content": f"Please forget that I live in {SECRET}."}],
    }
    await attack("POST", "/v1/chat/completions", forget, EVERY_SPOOF)
    await asyncio.to_thread(server.call, server.service.drain(), 600)  # wake work done
    status, body, _ = await call(server, "GET", "/v1/admin/users", headers=ALICE)
    assert status == 403

    assert snapshot(server, "bob") == before, "\n".join(seen)
    # the control: bob's own key does reach his memory, so the checks above could fail
    status, body, text = await call(
        server, "GET", "/v1/memory", headers={"Authorization": "Bearer kb"}
    )
    assert status == 200 and SECRET in text


@pytest.fixture
def serve_open(serve):
    """A keyless loopback server: users are named by the request (a trusted front end)."""
    server = serve(**{"server.wake": False, "max_new_tokens": 2})
    return server, Path(server.service.engine.config.home)


BAD_IDS = ["../bob", "bob/../../etc", "a\x00b", "x" * 10_000, "..", "\x07bell"]


@pytest.mark.parametrize("bad", BAD_IDS, ids=lambda b: repr(b)[:20])
async def test_bad_user_ids_and_character_names_are_refused_cleanly(serve_open, bad):
    server, home = serve_open
    before = sorted(p.name for p in (home / "users").glob("*")) if (home / "users").exists() else []
    for kw in (
        {"params": {"user": bad}},
        {"json": {"user": bad, "text": "I live in Oslo."}},
        {"params": {"user": "carol", "character": bad}},
    ):
        method, path = ("POST", "/v1/memory/facts") if "json" in kw else ("GET", "/v1/memory")
        status, body, text = await call(server, method, path, **kw)
        assert status == 400, (kw, text[:200])
        assert body["error"]["type"] == "invalid_request_error", body
        chat = {"model": "sleepmem", "messages": [{"role": "user", "content": "hi"}]}
        if "json" in kw:
            chat["user"] = bad
            status, body, _ = await call(server, "POST", "/v1/chat/completions", json=chat)
        else:
            status, body, _ = await call(
                server, "POST", "/v1/chat/completions", json=chat, params=kw["params"]
            )
        assert status == 400, body
    after = sorted(p.name for p in (home / "users").glob("*")) if (home / "users").exists() else []
    assert after == before
    assert not any(Path(home.parent).glob("etc*")) and not (home.parent / "bob").exists()


async def test_a_blank_user_names_nobody_and_a_blank_character_is_no_character(serve_open):
    server, _ = serve_open
    status, body, _ = await call(server, "GET", "/v1/memory", params={"user": "   "})
    assert status == 400 and body["error"]["param"] == "user", body
    params = {"user": "carol", "character": "   "}
    status, body, _ = await call(server, "GET", "/v1/memory", params=params)
    assert status == 200 and body["user"] == "carol", body
