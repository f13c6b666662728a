"""Memory work: urgent jobs (a forget, a command) go ahead of background edits."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from sleepmem.engine.errors import UnknownFact
from sleepmem.engine.facts import Fact
from sleepmem.engine.priority import checkpoint
from sleepmem.engine.service import MemoryService
from sleepmem.engine.workpool import Turns, WorkPool
from sleepmem.plugin import hookimpl
from test_one_path import _engine


class Gate:
    """Jobs that block until released, recording the order they started in."""

    def __init__(self) -> None:
        self.started: list[str] = []
        self.release = threading.Event()
        self._lock = threading.Lock()

    def job(self, name: str, block: bool = True) -> Callable[[], str]:
        def run() -> str:
            with self._lock:
                self.started.append(name)
            if block:
                assert self.release.wait(10)
            return name

        return run

    def wait_started(self, n: int) -> None:
        deadline = time.monotonic() + 5
        while len(self.started) < n and time.monotonic() < deadline:
            time.sleep(0.005)
        assert len(self.started) >= n, self.started


@pytest.fixture
def pool() -> Iterator[WorkPool]:
    pool = WorkPool(1)
    yield pool
    pool.shutdown(wait=True, cancel_futures=True)


def test_an_urgent_job_starts_while_background_work_holds_every_thread(pool: WorkPool) -> None:
    gate = Gate()
    pool.submit("bob", False, gate.job("bob edit"))
    queued = pool.submit("carol", False, gate.job("carol edit", block=False))
    gate.wait_started(1)
    forget = pool.submit("alice", True, gate.job("alice forget", block=False))
    assert forget.result(5) == "alice forget"
    assert gate.started == ["bob edit", "alice forget"]
    assert not queued.done()  # background work waits for a general thread
    gate.release.set()
    assert queued.result(5) == "carol edit"


def test_urgent_jobs_go_before_earlier_background_ones(pool: WorkPool) -> None:
    gate = Gate()
    pool.submit("y", False, gate.job("general thread busy"))
    gate.wait_started(1)
    pool.submit("x", True, gate.job("urgent lane busy"))
    gate.wait_started(2)
    later = [
        pool.submit("a", False, gate.job("a edit", block=False)),
        pool.submit("b", False, gate.job("b edit", block=False)),
        pool.submit("c", True, gate.job("c forget", block=False)),
    ]
    gate.release.set()
    for future in later:
        future.result(5)
    assert gate.started[2] == "c forget"
    assert gate.started[3:] == ["a edit", "b edit"]  # first come, first served among equals


def test_a_user_waiting_urgently_lifts_their_own_queued_background_job(pool: WorkPool) -> None:
    gate = Gate()
    pool.submit("x", False, gate.job("general thread busy"))
    gate.wait_started(1)
    others = pool.submit("bob", False, gate.job("bob edit", block=False))
    own = pool.submit("alice", False, gate.job("alice wake", block=False))
    # alice's forget waits for her own earlier wake (the service's per-user FIFO): the
    # wake must not wait behind bob's edit, so it takes the urgent thread
    pool.urge("alice")
    assert own.result(5) == "alice wake"
    assert not others.done()
    pool.urge("alice", -1)
    gate.release.set()
    assert others.result(5) == "bob edit"


def test_errors_reach_the_caller_and_the_thread_goes_on(pool: WorkPool) -> None:
    def broken() -> None:
        raise ValueError("bad fact")

    with pytest.raises(ValueError, match="bad fact"):
        pool.submit("a", False, broken).result(5)
    assert pool.submit("a", False, lambda: 7).result(5) == 7


def test_shutdown_drops_queued_jobs_when_asked_and_refuses_new_ones() -> None:
    pool = WorkPool(1)
    gate = Gate()
    running = pool.submit("a", False, gate.job("running"))
    gate.wait_started(1)
    queued = pool.submit("b", False, gate.job("queued", block=False))
    closer = threading.Thread(target=pool.shutdown, kwargs={"cancel_futures": True})
    closer.start()
    time.sleep(0.05)
    gate.release.set()
    closer.join(5)
    assert running.result(5) == "running"
    assert queued.cancelled()
    with pytest.raises(RuntimeError):
        pool.submit("c", False, lambda: None)


def test_busy_counts_running_jobs_also_after_a_shutdown_that_did_not_wait() -> None:
    """What a server's exit asks: is memory work still running past the grace?"""
    pool = WorkPool(1)
    gate = Gate()
    assert pool.busy == 0
    running = pool.submit("a", False, gate.job("running"))
    gate.wait_started(1)
    pool.shutdown(wait=False, cancel_futures=True)
    assert pool.busy == 1
    gate.release.set()
    assert running.result(5) == "running"
    deadline = time.monotonic() + 5
    while pool.busy and time.monotonic() < deadline:
        time.sleep(0.005)
    assert pool.busy == 0


def test_shutdown_without_cancelling_finishes_the_queue() -> None:
    pool = WorkPool(1)
    futures = [pool.submit("a", i % 2 == 0, lambda i=i: i) for i in range(6)]
    pool.shutdown(wait=True)
    assert [f.result(0) for f in futures] == list(range(6))


# --------------------------------------------------------------------------- through the service


class Held:
    """An extractor that holds messages mentioning bees until released (a long edit)."""

    name = "held"

    def __init__(self) -> None:
        self.release = threading.Event()
        self.holding = 0
        self.calls: list[tuple[float, str]] = []
        self._lock = threading.Lock()

    @hookimpl
    def register_extractors(self, register) -> None:  # type: ignore[no-untyped-def]
        register(self)

    def extract(self, message: str, context: Any) -> list[Fact]:
        with self._lock:
            self.calls.append((time.monotonic(), message))
        if "bees" in message:
            with self._lock:
                self.holding += 1
            deadline = time.monotonic() + 30
            try:
                while not self.release.is_set():  # a long edit: it reaches checkpoints
                    assert time.monotonic() < deadline
                    checkpoint()
                    time.sleep(0.01)
            finally:
                with self._lock:
                    self.holding -= 1
        return []

    def wait_holding(self, n: int) -> None:
        deadline = time.monotonic() + 10
        while self.holding < n and time.monotonic() < deadline:
            time.sleep(0.01)
        assert self.holding >= n


def _tell(service: MemoryService, user: str, text: str) -> Any:
    said = [{"role": "user", "content": text}]

    async def go() -> None:
        await service.receive(user, said)
        service.after_reply(user, said, "Nice!")

    return go()


def test_a_forget_is_answered_while_other_users_edits_hold_every_thread(tmp_path: Path) -> None:
    held = Held()
    engine = _engine(tmp_path, held, extractors=["held"])

    async def run() -> tuple[str, list[int], int]:
        service = MemoryService(engine)
        try:
            for user in ("bob", "carol"):  # as many long edits as the pool has threads
                await _tell(service, user, "I keep bees")
            await asyncio.to_thread(held.wait_holding, 2)
            # alice's own message is queued behind them; her forget must wait for it
            # (her work is first in, first out) but not for bob's and carol's edits
            await _tell(service, "alice", "I keep goats")
            # nothing was stored (the stand-in extractor finds no fact): "not found" is
            # the answer, and it must come now
            with pytest.raises(UnknownFact) as answer:
                await asyncio.wait_for(service.forget("alice", "goats"), 10)
            gone = str(answer.value)
            still = [service.status(u)["inbox"] for u in ("bob", "carol")]
            return gone, still, service.status("alice")["inbox"]
        finally:
            held.release.set()
            await service.close()

    gone, still, alice_inbox = asyncio.run(run())
    assert "goats" in gone
    assert still == [1, 1]  # bob's and carol's edits were still running
    assert alice_inbox == 0  # her earlier message was woken before the forget ran


def test_a_forget_overtakes_the_users_own_edits_which_run_again_after_it(
    tmp_path: Path,
) -> None:
    held = Held()
    engine = _engine(tmp_path, held, extractors=["held"])

    async def run() -> float:
        service = MemoryService(engine)
        try:
            await _tell(service, "alice", "I keep bees")
            await asyncio.to_thread(held.wait_holding, 1)
            await _tell(service, "alice", "I keep goats")  # queued behind the running edit
            await asyncio.sleep(0.1)
            # the running edit stops at its next checkpoint, storing nothing
            with pytest.raises(UnknownFact):
                await asyncio.wait_for(service.forget("alice", "bees"), 10)
            answered = time.monotonic()
            held.release.set()
            await service.drain()
            assert service.status("alice")["inbox"] == 0  # both messages woken after all
            return answered
        finally:
            held.release.set()
            await service.close()

    answered = asyncio.run(run())
    bees = [t for t, message in held.calls if "bees" in message]
    goats = [t for t, message in held.calls if "goats" in message]
    assert len(bees) == 2 and bees[0] < answered < bees[1]  # stopped, then run again
    assert goats and min(goats) > answered


def test_turns_go_to_waiters_that_cut_in_first_then_in_order() -> None:
    async def run() -> list[str]:
        turns = Turns()
        order: list[str] = []
        release = asyncio.Event()

        async def job(name: str, cut_in: bool = False, hold: bool = False) -> None:
            async with turns.turn(cut_in):
                order.append(name)
                if hold:
                    await release.wait()

        first = asyncio.ensure_future(job("running", hold=True))
        await asyncio.sleep(0)
        rest = [
            asyncio.ensure_future(job("wake 1")),
            asyncio.ensure_future(job("wake 2")),
            asyncio.ensure_future(job("forget", cut_in=True)),
        ]
        cancelled = asyncio.ensure_future(job("gone", cut_in=True))
        await asyncio.sleep(0)
        assert turns.waiting == 4
        cancelled.cancel()
        await asyncio.sleep(0)
        release.set()
        await asyncio.gather(first, *rest)
        return order

    assert asyncio.run(run()) == ["running", "forget", "wake 1", "wake 2"]
