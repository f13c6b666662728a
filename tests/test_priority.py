"""Replies before memory work: background loops pause at checkpoints while a reply runs."""

from __future__ import annotations

import threading
import time

from sleepmem.engine.priority import Foreground


def _background(gate: Foreground, steps: int, stamps: list[float]) -> threading.Thread:
    def run() -> None:
        for _ in range(steps):
            gate.checkpoint()
            stamps.append(time.monotonic())
            time.sleep(0.01)

    thread = threading.Thread(target=run)
    thread.start()
    return thread


def test_background_waits_while_a_reply_runs_and_resumes_after() -> None:
    gate = Foreground(max_wait=10.0)
    stamps: list[float] = []
    with gate.reply():
        held_from = time.monotonic()
        worker = _background(gate, 5, stamps)
        time.sleep(0.3)
        assert stamps == []  # not one step while the reply was generating
        held_to = time.monotonic()
    worker.join(5)
    assert len(stamps) == 5 and stamps[0] >= held_to > held_from
    assert gate.paused_seconds >= 0.25


def test_background_still_advances_under_constant_replies() -> None:
    gate = Foreground(max_wait=0.05)
    stamps: list[float] = []
    with gate.reply():
        worker = _background(gate, 4, stamps)
        worker.join(5)
    assert len(stamps) == 4  # each checkpoint waited at most max_wait


def test_a_reply_never_waits_on_its_own_checkpoint() -> None:
    gate = Foreground(max_wait=10.0)
    with gate.reply():
        started = time.monotonic()
        gate.checkpoint()  # e.g. a plugin hook doing memory work inside the reply
        assert time.monotonic() - started < 0.5
    assert gate.active == 0
