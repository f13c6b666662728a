"""The keys a user's live edit was written through, so the next wake edit can add to it.

A wake edit that re-solved every fact of the user from the base weights cost in proportion
to everything the person ever said (measured: 19 s at one fact, 47 s at five). Adding new
facts on top of the live update instead (``editor.spread`` with ``base``) costs the same at
any size, but the solve must still keep every earlier fact's keys mapped where they are:
the sum of k k^T over the keys the live update was written through, per layer.

Each edit batch records only the rows it added, with its parent batch (None for a batch
solved from the base weights), in the user's ledger, so a restart does not lose them; the
per-layer sum is held in memory for the few users editing lately. The rows belong to the
batch: a batch the engine replaces (sleep, a correction, a forget) leaves its chain, and its
rows are deleted with the next record. A missing or foreign chain is simply a miss: the
caller solves from the base weights, which records a fresh chain.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Mapping

import numpy as np

from .store import UserMemory

_SCHEMA = (
    "CREATE TABLE IF NOT EXISTS kept_keys (batch_id TEXT NOT NULL, parent TEXT, "
    "settings TEXT NOT NULL, layer INTEGER NOT NULL, rows INTEGER NOT NULL, "
    "cols INTEGER NOT NULL, keys BLOB NOT NULL, PRIMARY KEY (batch_id, layer))"
)

Grams = dict[int, np.ndarray]  # layer -> (m, m) float64, sum of k k^T


class KeptKeys:
    """Per user, the summed key outer products of their live edit batch."""

    HELD_USERS = 4  # (m, m) float64 per layer: 19 MB a layer at the default model

    def __init__(self, settings_key: str) -> None:
        self.key = settings_key
        self._held: OrderedDict[str, tuple[str, Grams]] = OrderedDict()
        self._lock = threading.Lock()

    def grams(self, memory: UserMemory, batch_id: str) -> Grams | None:
        """The sums for ``batch_id``, the user's live batch, or None if its chain is unknown."""
        user = memory.user_id
        with self._lock:
            held = self._held.get(user)
            if held is not None and held[0] == batch_id:
                self._held.move_to_end(user)
                return held[1]
        chain = _chain(memory, batch_id, self.key)
        if chain is None:
            return None
        grams: Grams = {}
        for keys in chain:
            _accumulate(grams, keys)
        self._hold(user, batch_id, grams)
        return grams

    def record(
        self,
        memory: UserMemory,
        batch_id: str,
        parent: str | None,
        keys: Mapping[int, np.ndarray],
        parent_grams: Grams | None = None,
    ) -> None:
        """Keep the rows ``batch_id`` added on top of ``parent`` and drop every row that is
        no longer in the live chain. ``parent_grams`` (the parent's sums) saves a reload."""
        # float16, as stored, for the held sums too: a reload then rebuilds them exactly
        half = {layer: np.asarray(k, dtype=np.float16) for layer, k in keys.items()}
        rows = [
            (batch_id, parent, self.key, layer, *k.shape, k.tobytes()) for layer, k in half.items()
        ]
        with memory.ledger(create=True, table=_SCHEMA) as conn:
            assert conn is not None
            conn.executemany("INSERT OR REPLACE INTO kept_keys VALUES (?, ?, ?, ?, ?, ?, ?)", rows)
            links = dict(conn.execute("SELECT DISTINCT batch_id, parent FROM kept_keys"))
            live, at = set(), batch_id
            while at is not None and at not in live:
                live.add(at)
                at = links.get(at)
            stale = [(b,) for b in links if b not in live]
            conn.executemany("DELETE FROM kept_keys WHERE batch_id = ?", stale)
        if stale:
            memory.reclaim()
        grams: Grams = {}
        if parent is not None:
            base = parent_grams if parent_grams is not None else self.grams(memory, parent)
            if base is None:
                return  # nothing to add to: the next call rebuilds from the ledger
            grams = {layer: g.copy() for layer, g in base.items()}
        _accumulate(grams, half)
        self._hold(memory.user_id, batch_id, grams)

    def drop(self, memory: UserMemory) -> None:
        """Forget the user's rows (everything they told is being deleted)."""
        with self._lock:
            self._held.pop(memory.user_id, None)
        with memory.ledger(create=False, table=_SCHEMA) as conn:
            if conn is not None:
                conn.execute("DELETE FROM kept_keys")

    def _hold(self, user: str, batch_id: str, grams: Grams) -> None:
        with self._lock:
            self._held[user] = (batch_id, grams)
            self._held.move_to_end(user)
            while len(self._held) > self.HELD_USERS:
                self._held.popitem(last=False)


def stored_key_sums(memory: UserMemory, batch_id: str) -> Grams | None:
    """The sums of ``batch_id``'s chain whatever settings it was made under (batch ids are
    unique), for readers without an engine: the export weighs its truncation by them."""
    chain = _chain(memory, batch_id, None)
    if chain is None:
        return None
    grams: Grams = {}
    for keys in chain:
        _accumulate(grams, keys)
    return grams


def _chain(
    memory: UserMemory, batch_id: str, settings: str | None
) -> list[dict[int, np.ndarray]] | None:
    with memory.ledger(create=False, table=_SCHEMA) as conn:
        if conn is None:
            return None
        found = conn.execute(
            "SELECT batch_id, parent, layer, rows, cols, keys FROM kept_keys "
            "WHERE settings = ? OR ? IS NULL",
            (settings, settings),
        ).fetchall()
    by_batch: dict[str, tuple[str | None, dict[int, np.ndarray]]] = {}
    for bid, parent, layer, n, m, blob in found:
        keys = np.frombuffer(blob, dtype=np.float16, count=n * m).reshape(n, m)
        by_batch.setdefault(bid, (parent, {}))[1][layer] = keys
    chain, at, seen = [], batch_id, set()
    while at is not None:
        if at not in by_batch or at in seen:
            return None
        seen.add(at)
        parent, keys = by_batch[at]
        chain.append(keys)
        at = parent
    return chain


def key_sums(keys: Mapping[int, np.ndarray]) -> Grams:
    """Per layer, the sum of k k^T over ``keys`` ((n, m) each)."""
    grams: Grams = {}
    _accumulate(grams, keys)
    return grams


def _accumulate(grams: Grams, keys: Mapping[int, np.ndarray]) -> None:
    for layer, k in keys.items():
        k64 = np.asarray(k, dtype=np.float64)
        update = k64.T @ k64  # (m, n)(n, m) -> (m, m)
        grams[layer] = grams[layer] + update if layer in grams else update
