"""Each fact's target value (v*), kept beside its facts so a restart does not redo them.

v* is the expensive part of an edit (measured: ~25 s a fact on a 2-core CPU, 80% of a wake
edit) and depends only on the fact and the settings that made it, while every wake re-solves
all of a user's facts from their v*. Held in memory only, a restart made the next wake
re-optimise every fact the person ever told: at 100 facts, most of an hour. So each v* is
also written to the user's ledger, keyed by the fact and by a digest of the model and the
settings it was optimised under; changed settings simply miss and optimise afresh.

A v* encodes its fact's answer, so it leaves with the fact: retiring (forget, correction)
and forgetting everything delete it.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
import threading
import time
from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np

from .store import UserMemory

_SCHEMA = (
    "CREATE TABLE IF NOT EXISTS target_values (fact_id TEXT NOT NULL, settings TEXT NOT NULL, "
    "dim INTEGER NOT NULL, value BLOB NOT NULL, created_at REAL NOT NULL, "
    "PRIMARY KEY (fact_id, settings))"
)


FORMAT = 1
"""Bumped when the way prompts are built or v* is optimised changes: older values miss."""

SUBJECT = "subject:"
"""Ids of subject values (``subjects.Subject.value_id``): this prefix, then their facts'
ids joined by commas."""


def settings_key(model_id: str, settings: Mapping[str, Any]) -> str:
    """Digest of the model and of every setting a v* depends on."""
    text = json.dumps(
        {"format": FORMAT, "model": model_id, **settings}, sort_keys=True, default=str
    )
    return hashlib.sha256(text.encode()).hexdigest()[:24]


class TargetValues:
    """v* of every user's facts under one settings key: memory first, then the ledger."""

    def __init__(self, key: str) -> None:
        self.key = key
        self._held: dict[tuple[str, str], np.ndarray] = {}  # (user, fact) -> (d,) float64
        self._lock = threading.Lock()

    def get(self, memory: UserMemory, fact_ids: Iterable[str]) -> dict[str, np.ndarray]:
        """The v* known for ``fact_ids`` (missing ones are left out)."""
        user, wanted = memory.user_id, list(fact_ids)
        with self._lock:
            found = {f: self._held[(user, f)] for f in wanted if (user, f) in self._held}
        missing = [f for f in wanted if f not in found]
        if not missing:
            return found
        with memory.ledger(create=False, table=_SCHEMA) as conn:
            rows = [] if conn is None else self._select(conn, missing)
        loaded = {
            fid: np.frombuffer(blob, dtype=np.float64, count=dim).copy() for fid, dim, blob in rows
        }
        with self._lock:
            self._held.update({(user, f): v for f, v in loaded.items()})
        return {**found, **loaded}

    def _select(self, conn: sqlite3.Connection, ids: list[str]) -> list[tuple[Any, ...]]:
        rows: list[tuple[Any, ...]] = []
        for start in range(0, len(ids), 500):  # SQLite's bound-parameter limit
            chunk = ids[start : start + 500]
            rows += conn.execute(
                "SELECT fact_id, dim, value FROM target_values WHERE settings = ? AND fact_id "
                f"IN ({', '.join('?' * len(chunk))})",
                [self.key, *chunk],
            ).fetchall()
        return rows

    def put(self, memory: UserMemory, values: Mapping[str, np.ndarray]) -> None:
        """Keep ``values`` (fact id -> (d,)) in memory and in the ledger."""
        if not values:
            return
        arrays = {f: np.asarray(v, dtype=np.float64).ravel() for f, v in values.items()}
        with self._lock:
            self._held.update({(memory.user_id, f): v for f, v in arrays.items()})
        now = time.time()
        with memory.ledger(create=True, table=_SCHEMA) as conn:
            assert conn is not None
            conn.executemany(
                "INSERT OR REPLACE INTO target_values VALUES (?, ?, ?, ?, ?)",
                [(f, self.key, v.size, v.tobytes(), now) for f, v in arrays.items()],
            )

    def drop(self, memory: UserMemory, fact_ids: Iterable[str] | None = None) -> None:
        """Delete the v* of ``fact_ids`` (None: all of the user's), under every settings key,
        and every subject value holding one of them."""
        user = memory.user_id
        ids = None if fact_ids is None else list(fact_ids)
        with self._lock:
            for held in [k for k in self._held if k[0] == user and (ids is None or k[1] in ids)]:
                del self._held[held]
        with memory.ledger(create=False, table=_SCHEMA) as conn:
            if conn is None:
                return
            if ids is None:
                conn.execute("DELETE FROM target_values")
            else:
                conn.executemany("DELETE FROM target_values WHERE fact_id = ?", [(f,) for f in ids])
        if ids:
            self.drop_subjects(memory, ids)

    def drop_subjects(
        self, memory: UserMemory, fact_ids: Iterable[str], keep: Iterable[str] = ()
    ) -> None:
        """Delete the subject values (``SUBJECT``) holding any of ``fact_ids``,
        under every settings key, but those in ``keep``."""
        user, ids, kept = memory.user_id, set(fact_ids), set(keep)

        def holds(value_id: str) -> bool:
            if not value_id.startswith(SUBJECT) or value_id in kept:
                return False
            return bool(ids & set(value_id.removeprefix(SUBJECT).split(",")))

        with self._lock:
            for held in [k for k in self._held if k[0] == user and holds(k[1])]:
                del self._held[held]
        with memory.ledger(create=False, table=_SCHEMA) as conn:
            if conn is None:
                return
            rows = conn.execute(
                "SELECT DISTINCT fact_id FROM target_values WHERE fact_id LIKE ?", (SUBJECT + "%",)
            ).fetchall()
            gone = [(vid,) for (vid,) in rows if holds(vid)]
            conn.executemany("DELETE FROM target_values WHERE fact_id = ?", gone)
