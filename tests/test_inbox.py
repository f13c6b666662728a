"""The wake inbox (engine/inbox.py): what people say is committed before its edit runs and
woken again after a restart or a shutdown; nothing is woken twice. No model is loaded: the
engine runs on a stand-in backend and facts are vetoed before a solve would need one."""

from __future__ import annotations

import asyncio
import sqlite3
import threading
import time
from pathlib import Path
from typing import Any

import pytest
from sleepmem.engine import inbox
from sleepmem.engine.errors import EditError, Interrupted
from sleepmem.engine.facts import Fact
from sleepmem.engine.priority import FOREGROUND, checkpoint
from sleepmem.engine.service import MemoryService
from sleepmem.engine.store import UserMemory
from sleepmem.plugin import hookimpl
from test_one_path import Gate, _engine


def test_messages_wait_in_order_and_leave_when_done(tmp_path: Path) -> None:
    mem = UserMemory(tmp_path, "ana", "m")
    assert inbox.pending(mem) == [] and inbox.count(mem) == 0  # no ledger yet: none made
    assert not mem.path.exists()
    first = inbox.receive(mem, "I keep bees", (("assistant", "Hi!"),))
    second = inbox.receive(mem, "and goats", ())
    got = inbox.pending(mem)
    assert [r.seq for r in got] == [first, second]
    assert got[0].message == "I keep bees" and got[0].history == (("assistant", "Hi!"),)
    inbox.done(mem, [first])
    assert [r.message for r in inbox.pending(mem)] == ["and goats"]


def test_a_message_failing_again_and_again_is_dropped(tmp_path: Path) -> None:
    mem = UserMemory(tmp_path, "ana", "m")
    seq = inbox.receive(mem, "poison", ())
    for _ in range(inbox.MAX_ATTEMPTS - 1):
        assert inbox.failed(mem, [seq]) == []
    assert inbox.pending(mem)[0].attempts == inbox.MAX_ATTEMPTS - 1
    assert inbox.failed(mem, [seq]) == [seq]
    assert inbox.pending(mem) == []


def test_a_ledger_from_before_the_inbox_gains_it(tmp_path: Path) -> None:
    mem = UserMemory(tmp_path, "ana", "m")
    mem.record_sleep(0.0, 1.0, {})  # creates the ledger with the older schema only
    mem.close()
    conn = sqlite3.connect(mem.path / "ledger.sqlite")
    assert "inbox" not in {r[0] for r in conn.execute("SELECT name FROM sqlite_master")}
    conn.close()
    again = UserMemory(tmp_path, "ana", "m")
    inbox.receive(again, "hello", ())
    assert inbox.count(again) == 1


def test_a_restart_wakes_what_the_last_run_only_received(tmp_path: Path) -> None:
    gate = Gate()
    first = _engine(tmp_path, gate, extractors=["scripted"])
    assert first.receive("ana", "I keep bees") is not None
    assert first.receive("ana", "/memories") is None  # commands are never facts
    assert first.receive("bob", "hello there") is not None
    first.close()  # the process dies before any wake ran

    gate = Gate()
    second = _engine(tmp_path, gate, extractors=["scripted"])
    assert second.pending_users() == ["ana", "bob"]
    second.wake_pending("ana")
    assert [f.answer for f in gate.facts] == ["bees"]
    assert gate.extractor.seen == ["I keep bees"]
    assert second.pending_users() == ["bob"]  # bob's message is his own
    second.wake_pending("ana")  # nothing left: not woken twice
    assert gate.extractor.seen == ["I keep bees"]


class Slow:
    """An extractor that takes long enough to be stopped: it signals when it starts, then
    keeps reaching the checkpoints long loops reach."""

    name = "slow"

    def __init__(self) -> None:
        self.started = threading.Event()
        self.finished = 0

    @hookimpl
    def register_extractors(self, register) -> None:  # type: ignore[no-untyped-def]
        register(self)

    def extract(self, message: str, context: Any) -> list[Fact]:
        self.started.set()
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            checkpoint()
            time.sleep(0.01)
        self.finished += 1
        return []


def test_a_stopped_wake_keeps_its_messages_without_counting_a_failure(tmp_path: Path) -> None:
    engine = _engine(tmp_path, Slow(), extractors=["slow"])
    engine.receive("ana", "I keep bees")
    FOREGROUND.stop_background()
    try:
        with pytest.raises(Interrupted):
            engine.wake_pending("ana")
    finally:
        FOREGROUND.stop_background(False)
    [waiting] = inbox.pending(engine.memory("ana"))
    assert waiting.attempts == 0


def test_a_failed_wake_leaves_the_message_for_the_next_try(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    engine = _engine(tmp_path, Gate(), extractors=["scripted"])
    engine.receive("ana", "I keep bees")

    def broken(*_args: Any) -> Any:
        raise EditError("solve failed")

    monkeypatch.setattr(engine, "wake", broken)
    with pytest.raises(EditError):
        engine.wake_pending("ana")
    assert inbox.pending(engine.memory("ana"))[0].attempts == 1


def test_shutdown_stops_a_running_wake_within_the_grace_and_keeps_the_message(
    tmp_path: Path,
) -> None:
    slow = Slow()
    engine = _engine(tmp_path, slow, extractors=["slow"])
    said = [{"role": "user", "content": "I keep bees"}]

    async def run() -> float:
        service = MemoryService(engine)
        await service.receive("ana", said)
        service.after_reply("ana", said, "Nice!")
        await asyncio.to_thread(slow.started.wait, 10)
        started = time.monotonic()
        await service.close(finish=False, grace=10)
        return time.monotonic() - started

    took = asyncio.run(run())
    assert took < 5 and slow.finished == 0
    assert [r.message for r in inbox.pending(engine.memory("ana"))] == ["I keep bees"]
    assert engine.pending_users() == ["ana"]


def test_the_next_service_start_wakes_the_inbox_before_new_messages(tmp_path: Path) -> None:
    first = _engine(tmp_path, Gate(), extractors=["scripted"])
    first.receive("ana", "I keep bees")
    first.close()
    gate = Gate()
    engine = _engine(tmp_path, gate, extractors=["scripted"])

    async def run() -> dict[str, Any]:
        service = MemoryService(engine)
        await service.start()
        try:
            await service.drain()
            return service.status("ana")
        finally:
            await service.close()

    status = asyncio.run(run())
    assert [f.answer for f in gate.facts] == ["bees"]
    assert status["inbox"] == 0 and engine.pending_users() == []


def test_forgetting_everything_empties_the_inbox_too(tmp_path: Path) -> None:
    engine = _engine(tmp_path, Gate(), extractors=["scripted"])
    engine.receive("ana", "I keep bees")
    engine.forget_all("ana")
    assert engine.pending_count("ana") == 0
