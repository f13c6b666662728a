"""Adapters of the memories in use, for an engine that generates from exported adapters
(llama.cpp, vLLM): made the first time a reply needs a user's live factors, released once
nobody holds those factors any more.

An edit or a sleep replaces the user's factors object, so the next reply finds no adapter
for the new object and makes one, and the old object's adapter is released. The adapter is
keyed by the object itself (through a weak reference), never by the user: a reply always
gets exactly the factors it was given.
"""

from __future__ import annotations

import threading
import weakref
from collections.abc import Callable
from typing import Generic, TypeVar

from ..backends.base import Factors
from .lowrank import LoraPair, lora_pairs

Handle = TypeVar("Handle")


class LiveAdapters(Generic[Handle]):
    """``make(pairs)`` builds an adapter (a file, a name on a server); ``release`` undoes it."""

    def __init__(
        self,
        make: Callable[[dict[int, LoraPair]], Handle],
        release: Callable[[Handle], None],
        max_rank: int | None = None,
    ) -> None:
        self._make = make
        self._release = release
        self._max_rank = max_rank
        self._made: dict[int, tuple[weakref.ref[Factors], Handle]] = {}
        self._lock = threading.Lock()

    def of(self, factors: Factors | None) -> Handle | None:
        """The adapter of ``factors`` (None: no edit), made on first use. Adapters of
        factors nobody holds any more are released first."""
        with self._lock:
            for key, (ref, handle) in list(self._made.items()):
                if ref() is None:
                    del self._made[key]
                    self._release(handle)
            if not factors:
                return None
            known = self._made.get(id(factors))
            if known is not None and known[0]() is factors:
                return known[1]
            pairs = lora_pairs(factors, self._max_rank, grams=factors.grams)
            if not pairs:
                return None
            handle = self._make(pairs)
            self._made[id(factors)] = (weakref.ref(factors), handle)
            return handle

    def release_all(self) -> None:
        with self._lock:
            for _, handle in self._made.values():
                self._release(handle)
            self._made.clear()
