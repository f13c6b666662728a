"""The memory page's files as the server serves them, and the API routes it reads, with no
model: the engine runs on a stand-in backend that never edits or generates. The page
itself is driven in headless Chromium against the real server in tests/e2e/."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from sleepmem.adapters.server.app import create_app
from sleepmem.adapters.server.page import FILES, STATIC
from sleepmem.engine.config import load_config
from sleepmem.engine.memory import Engine
from sleepmem.engine.service import MemoryService
from sleepmem.plugin import manager
from sleepmem.plugin.registry import PluginRegistry


class _Backend:
    n_layers = 64
    model_id = "stand-in"
    context_length = 0


def _app(tmp_path: Path, **overrides: object):
    pm = manager.load_plugins(manager.new_plugin_manager(), allowed=("rules", "commands"))
    config = load_config(overrides={"home": str(tmp_path), **overrides}, discover=False, env={})
    engine = Engine(config, _Backend(), PluginRegistry(pm))  # type: ignore[arg-type]
    return create_app(MemoryService(engine)), engine


async def test_page_and_its_files_are_served_with_a_strict_policy(tmp_path, aiohttp_client):
    app, _ = _app(tmp_path)
    client = await aiohttp_client(app)
    r = await client.get("/memory", allow_redirects=False)
    assert r.status == 308 and r.headers["Location"] == "/memory/"
    r = await client.get("/memory/")
    html = await r.text()
    assert r.status == 200 and r.content_type == "text/html" and "<title>" in html
    csp = r.headers["Content-Security-Policy"]
    assert "default-src 'none'" in csp and "script-src 'self'" in csp and "unsafe" not in csp
    # every file the page and its modules refer to is served, as the right type
    wanted = set(re.findall(r'(?:src|href)="([\w.-]+)"', html))
    for js in STATIC.glob("*.js"):
        wanted |= set(re.findall(r"from '\./([\w.-]+)'", js.read_text()))
    assert wanted == set(FILES) - {""}
    for name in wanted:
        r = await client.get(f"/memory/{name}")
        kind = "text/css" if name.endswith(".css") else "text/javascript"
        assert (r.status, r.content_type) == (200, kind), name
        assert r.headers["X-Content-Type-Options"] == "nosniff"
    for bad in ("/memory/page.py", "/memory/..%2Fpage.py", "/memory/memory.html"):
        r = await client.get(bad)
        assert r.status == 404, bad


async def test_export_holds_the_whole_sleep_history(tmp_path, aiohttp_client):
    app, engine = _app(tmp_path)
    client = await aiohttp_client(app)
    mem = engine.memory("ana")
    mem.record_sleep(1.0, 2.0, {"facts": 1, "audited": ["a"], "failed": ["a"]})
    mem.record_sleep(3.0, 4.0, {"facts": 1, "audited": ["a"], "failed": []})
    r = await client.get("/v1/memory/export?user=ana")
    body = await r.json()
    assert [s["report"]["failed"] for s in body["sleeps"]] == [["a"], []]
    r = await client.get("/v1/memory/status?user=ana")
    assert (await r.json())["sleep_progress"] is None  # awake


def test_the_page_ships_with_the_package():
    tomllib = pytest.importorskip("tomllib")  # Python 3.11+
    pyproject = tomllib.loads((Path(__file__).parents[1] / "pyproject.toml").read_text())
    patterns = pyproject["tool"]["setuptools"]["package-data"]["sleepmem.adapters.server"]
    shipped = {p for pattern in patterns for p in STATIC.glob(pattern.removeprefix("static/"))}
    assert {STATIC / name for name, _ in FILES.values()} <= shipped
