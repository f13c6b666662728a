"""The wake inbox: every message wake will read, durable before the reply ends.

Wake runs after the reply, in the background, and an edit takes minutes on a small CPU; a
restart in between (SIGTERM from a service manager, Ctrl-C, a crash) must not lose what
the person just said. So each message is committed to its user's ledger first, pending, and
leaves the inbox only once wake has written its facts or found none. On start, pending
messages are woken again in the order they arrived, before anything new.

A row leaves the inbox in its own transaction after the facts' commit. A crash between the
two wakes the message again, which writes nothing new: a fact already known is skipped
(``facts.slot_writes``), a forget request matches nothing any more. Done rows are deleted,
not kept: the ledger keeps facts, not transcripts.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass

from .store import UserMemory

# A message whose wake fails this many times (not counting shutdowns) is dropped with a
# log line, so one bad message cannot block every later one.
MAX_ATTEMPTS = 3

_SCHEMA = (
    "CREATE TABLE IF NOT EXISTS inbox (seq INTEGER PRIMARY KEY AUTOINCREMENT, "
    "message TEXT NOT NULL, history TEXT NOT NULL, received_at REAL NOT NULL, "
    "attempts INTEGER NOT NULL DEFAULT 0)"
)


@dataclass(frozen=True)
class Received:
    seq: int
    message: str
    history: tuple[tuple[str, str], ...]
    attempts: int


def receive(memory: UserMemory, message: str, history: tuple[tuple[str, str], ...]) -> int:
    """Commit ``message`` (with the conversation before it) as pending; returns its seq."""
    with memory.ledger(create=True, table=_SCHEMA) as conn:
        assert conn is not None
        cur = conn.execute(
            "INSERT INTO inbox (message, history, received_at) VALUES (?, ?, ?)",
            (message, json.dumps([list(p) for p in history]), time.time()),
        )
        return int(cur.lastrowid or 0)


def pending(memory: UserMemory) -> list[Received]:
    """The user's pending messages, oldest first."""
    with memory.ledger(create=False, table=_SCHEMA) as conn:
        if conn is None:
            return []
        rows = conn.execute(
            "SELECT seq, message, history, attempts FROM inbox ORDER BY seq"
        ).fetchall()
    return [
        Received(seq, message, tuple((r, c) for r, c in json.loads(history)), attempts)
        for seq, message, history, attempts in rows
    ]


def count(memory: UserMemory) -> int:
    with memory.ledger(create=False, table=_SCHEMA) as conn:
        if conn is None:
            return 0
        return int(conn.execute("SELECT COUNT(*) FROM inbox").fetchone()[0])


def done(memory: UserMemory, seqs: list[int]) -> None:
    """Take woken messages out of the inbox."""
    if not seqs:
        return
    with memory.ledger(create=True, table=_SCHEMA) as conn:
        assert conn is not None
        conn.executemany("DELETE FROM inbox WHERE seq = ?", [(s,) for s in seqs])


def failed(memory: UserMemory, seqs: list[int]) -> list[int]:
    """Count a failed wake of ``seqs``; returns those dropped for failing too often."""
    if not seqs:
        return []
    with memory.ledger(create=True, table=_SCHEMA) as conn:
        assert conn is not None
        conn.executemany(
            "UPDATE inbox SET attempts = attempts + 1 WHERE seq = ?", [(s,) for s in seqs]
        )
        marks = ",".join("?" * len(seqs))
        dropped = [
            int(r[0])
            for r in conn.execute(
                f"SELECT seq FROM inbox WHERE seq IN ({marks}) AND attempts >= ?",
                (*seqs, MAX_ATTEMPTS),
            )
        ]
        conn.executemany("DELETE FROM inbox WHERE seq = ?", [(s,) for s in dropped])
    return dropped


def clear(memory: UserMemory) -> None:
    """Drop every pending message (the user asked to forget everything)."""
    with memory.ledger(create=False, table=_SCHEMA) as conn:
        if conn is not None:
            conn.execute("DELETE FROM inbox")
