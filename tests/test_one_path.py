"""One path through the code: the engine knows plugins only through ``hooks.Plugins``, every
front end runs commands from the one table and wakes through ``Engine.wake``, and
``/remember`` reads text with the configured extractors. No model is loaded: the engine
runs on a stand-in backend, and every fact is vetoed before a solve would need one.
"""

from __future__ import annotations

import asyncio
import subprocess
import sys
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from sleepmem.engine.commands import is_command, split_command
from sleepmem.engine.config import load_config
from sleepmem.engine.errors import InputError
from sleepmem.engine.facts import Fact, explicit
from sleepmem.engine.memory import Engine
from sleepmem.engine.service import MemoryService
from sleepmem.plugin import hookimpl, manager
from sleepmem.plugin.registry import PluginRegistry

ROOT = Path(__file__).resolve().parents[1]


class _Backend:
    """Enough of a backend for an engine that never solves an edit or generates."""

    n_layers = 64
    model_id = "stand-in"
    context_length = 0


class Scripted:
    """An extractor that finds one known fact in one known message."""

    name = "scripted"

    def __init__(self) -> None:
        self.seen: list[str] = []

    def extract(self, message: str, context: Any) -> list[Fact]:
        self.seen.append(message)
        if message == "I keep bees":
            return [
                replace(explicit("What do I keep?", "bees", "I keep bees."), extractor=self.name)
            ]
        return []


class Gate:
    """Records every fact that would be edited and vetoes it (so nothing is solved), and
    registers the scripted extractor."""

    def __init__(self) -> None:
        self.facts: list[Fact] = []
        self.extractor = Scripted()

    @hookimpl
    def register_extractors(self, register) -> None:  # type: ignore[no-untyped-def]
        register(self.extractor)

    @hookimpl
    def before_edit(self, fact: Fact) -> bool:
        self.facts.append(fact)
        return False


class Dream:
    """A third-party /sleep that replaces the built-in one, and notes whether a sleep ran."""

    def __init__(self) -> None:
        self.asked: list[tuple[str, str]] = []
        self.slept: list[str] = []

    def sleep(self, engine: Any, user_id: str, arg: str) -> str:
        self.asked.append((user_id, arg))
        return "dreamt instead"

    @hookimpl
    def register_commands(self, register) -> None:  # type: ignore[no-untyped-def]
        register("sleep", self.sleep, "/sleep: dream")

    @hookimpl
    def before_sleep(self, user_id: str) -> None:
        self.slept.append(user_id)


def _engine(tmp_path: Path, *plugins: Any, builtins=("rules", "commands"), **overrides) -> Engine:
    pm = manager.load_plugins(manager.new_plugin_manager(), allowed=builtins)
    for i, plugin in enumerate(plugins):
        pm.register(plugin, name=f"test-plugin-{i}")
    config = load_config(overrides={"home": str(tmp_path), **overrides}, discover=False, env={})
    return Engine(config, _Backend(), PluginRegistry(pm))  # type: ignore[arg-type]


@pytest.fixture(autouse=True)
def _no_env_plugins(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(manager.ENV_LOAD, raising=False)


# --------------------------------------------------------------------------- the engine alone


def test_the_engine_never_imports_the_plugin_layer() -> None:
    """Importing every engine module, and the service the server and Discord run, loads
    nothing from ``sleepmem.plugin``: plugins reach the engine only through its caller."""
    code = (
        "import sys, pkgutil, importlib\n"
        "import sleepmem.engine as e\n"
        "for m in pkgutil.iter_modules(e.__path__):\n"
        "    importlib.import_module('sleepmem.engine.' + m.name)\n"
        "print(sorted(n for n in sys.modules if n.startswith('sleepmem.plugin')))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True
    ).stdout
    assert out.strip() == "[]"
    for path in (ROOT / "engine").rglob("*.py"):
        assert "sleepmem.plugin" not in path.read_text(encoding="utf-8"), path


@pytest.mark.parametrize(
    ("text", "parsed"),
    [
        ("/sleep", ("sleep", "")),
        ("  /Forget  my dog ", ("Forget", "my dog")),
        ("/", ("", "")),
        ("sleep now", None),
        ("", None),
        ("I said /sleep", None),
    ],
)
def test_one_rule_says_what_a_command_is(text: str, parsed: tuple[str, str] | None) -> None:
    assert is_command(text) is (parsed is not None)
    assert split_command(text) == parsed


# --------------------------------------------------------------------------- commands


def test_a_plugin_replacing_sleep_answers_the_terminal_and_the_service(tmp_path: Path) -> None:
    dream = Dream()
    engine = _engine(tmp_path, dream)
    assert engine.command("ana", "/sleep") == "dreamt instead"  # the terminal's path

    async def through_service() -> str | None:
        service = MemoryService(engine)
        try:
            return await service.command("ana", "/sleep deeply")
        finally:
            await service.close()

    assert asyncio.run(through_service()) == "dreamt instead"  # the server's and Discord's
    assert dream.asked == [("ana", ""), ("ana", "deeply")]
    assert dream.slept == []  # the built-in sleep never ran


async def test_a_plugin_replacing_sleep_answers_over_http(tmp_path: Path, aiohttp_client) -> None:
    """Both HTTP routes a command arrives by: the memory API and a chat message."""
    from sleepmem.adapters.server.app import create_app

    dream = Dream()
    client = await aiohttp_client(create_app(MemoryService(_engine(tmp_path, dream))))
    r = await client.post("/v1/memory/command?user=ana", json={"text": "/sleep"})
    assert (r.status, (await r.json())["reply"]) == (200, "dreamt instead")
    chat = {"model": "sleepmem", "user": "bo", "messages": [{"role": "user", "content": "/sleep"}]}
    r = await client.post("/v1/chat/completions", json=chat)
    assert (await r.json())["choices"][0]["message"]["content"] == "dreamt instead"
    assert dream.asked == [("ana", ""), ("bo", "")] and dream.slept == []


def test_the_built_in_sleep_marks_the_user_as_sleeping_on_any_path(tmp_path: Path) -> None:
    """/sleep from the command table shows in the service status while it runs, as the
    service's own sleep did when /sleep was wired there."""
    seen: dict[str, Any] = {}

    class Watch:
        @hookimpl
        def before_sleep(self, user_id: str) -> None:
            seen["engine"] = engine.is_sleeping(user_id)
            seen["status"] = service.status(user_id)["sleeping"]

    engine = _engine(tmp_path, Watch())
    service = MemoryService(engine)
    try:
        assert engine.command("ana", "/sleep") == "Nothing to consolidate yet."
    finally:
        service._chat_pool.shutdown()
        service._work_pool.shutdown()
    assert seen == {"engine": True, "status": True}
    assert not engine.is_sleeping("ana")


# --------------------------------------------------------------------------- /remember


def test_remember_reads_the_text_with_the_configured_extractors(tmp_path: Path) -> None:
    gate = Gate()
    engine = _engine(tmp_path, gate, extractors=["scripted"])
    assert engine.command("ana", "/remember I keep bees") == "Not stored: a plugin refused it."
    assert gate.extractor.seen == ["I keep bees"]
    assert [(f.answer, f.extractor) for f in gate.facts] == [("bees", "scripted")]


def test_remember_falls_back_to_the_plugins_explicit_statement(tmp_path: Path) -> None:
    """Nothing the extractors know: the rules plugin still keeps the statement, as a note."""
    gate = Gate()
    engine = _engine(tmp_path, gate, extractors=["scripted"])
    engine.remember("ana", "I have a meeting with Tom on Friday")
    assert gate.extractor.seen == ["I have a meeting with Tom on Friday"]
    (note,) = gate.facts
    assert note.slot.startswith("note:") and note.answer == "meeting with Tom on Friday"


def test_remember_without_a_plugin_to_keep_it_says_so(tmp_path: Path) -> None:
    engine = _engine(tmp_path, Gate(), builtins=("commands",), extractors=["scripted"])
    with pytest.raises(InputError, match="could not turn"):
        engine.remember("ana", "I have a meeting with Tom on Friday")


# --------------------------------------------------------------------------- wake


def test_the_service_wakes_through_engine_wake(tmp_path: Path, monkeypatch) -> None:
    """Messages queued behind one edit are woken together, commands left out, through the
    same ``Engine.wake`` the terminal's ``observe`` calls."""
    gate = Gate()
    engine = _engine(tmp_path, gate, extractors=["scripted"])
    calls: list[list[str]] = []
    real_wake = engine.wake

    def spy(user_id: str, turns: Any) -> Any:
        calls.append([message for message, _ in turns])
        return real_wake(user_id, turns)

    monkeypatch.setattr(engine, "wake", spy)
    engine.observe("ana", "I keep bees")
    assert calls == [["I keep bees"]] and len(gate.facts) == 1

    async def through_service() -> None:
        service = MemoryService(engine)
        try:
            said = [{"role": "user", "content": "I keep bees"}]
            await service.receive("ana", [{"role": "user", "content": "/memories"}])
            await service.receive("ana", said)
            service.after_reply("ana", said, "Nice!")
            await service.drain()
        finally:
            await service.close()

    asyncio.run(through_service())
    assert calls[1] == ["I keep bees"]  # a command never enters the inbox
    assert len(gate.facts) == 2  # the command gave no fact; the message did
