"""Replies first: background memory work pauses while a reply is being generated.

On a small CPU an edit (seconds of v* steps, key passes, drift checks) and a reply share the
same cores, and a reply waiting on an edit is exactly the delay wake must never cause. So
the service marks reply generation as foreground, and the backends' long loops call
``checkpoint()`` between steps: it returns at once when no reply is running, otherwise it
waits until none is, for at most ``max_wait`` seconds per call, so memory work still
advances under a constant stream of chats. Results are unchanged; only timing moves.

The same points let shutdown stop background work: after ``stop_background()`` the next
``checkpoint()`` raises ``Interrupted``, and since an edit stores nothing until its solve is
done, the user's memory stays as it was and the message stays in the wake inbox. And they
let a person's request overtake their own background work: inside ``yielding_to(check)``
a checkpoint raises ``Yielded`` once ``check()`` is true, and the caller runs the work again
after the request (a forget waits seconds instead of a whole sleep).
"""

from __future__ import annotations

import contextlib
import contextvars
import threading
import time
from collections.abc import Callable, Iterator

from .errors import Interrupted, Yielded

_in_foreground: contextvars.ContextVar[bool] = contextvars.ContextVar(
    "sleepmem_foreground", default=False
)
_yield_when: contextvars.ContextVar[Callable[[], bool] | None] = contextvars.ContextVar(
    "sleepmem_yield_when", default=None
)


@contextlib.contextmanager
def yielding_to(check: Callable[[], bool]) -> Iterator[None]:
    """Run the block as work that gives way: its checkpoints raise ``Yielded`` once
    ``check()`` is true (called from the working thread; it must be cheap and thread-safe)."""
    token = _yield_when.set(check)
    try:
        yield
    finally:
        _yield_when.reset(token)


class Foreground:
    def __init__(self, max_wait: float = 1.0) -> None:
        self.max_wait = max_wait
        self.paused_seconds = 0.0  # total time background work spent waiting (for benchmarks)
        self._active = 0
        self._cond = threading.Condition()
        self._stopping = False

    @property
    def active(self) -> int:
        return self._active

    @contextlib.contextmanager
    def reply(self) -> Iterator[None]:
        """Mark the calling thread as generating a reply until the block ends."""
        token = _in_foreground.set(True)
        with self._cond:
            self._active += 1
        try:
            yield
        finally:
            with self._cond:
                self._active -= 1
                if not self._active:
                    self._cond.notify_all()
            _in_foreground.reset(token)

    def stop_background(self, stopping: bool = True) -> None:
        """Make every later ``checkpoint`` outside a reply raise ``Interrupted`` (shutdown);
        ``stop_background(False)`` lets background work run again."""
        with self._cond:
            self._stopping = stopping
            self._cond.notify_all()

    def checkpoint(self) -> None:
        """Called by background loops between steps; never waits inside a reply itself."""
        if _in_foreground.get():
            return
        if self._stopping:
            raise Interrupted("memory work stopped for shutdown; it resumes on the next start")
        check = _yield_when.get()
        if check is not None and check():
            raise Yielded("memory work gave way to a request of the same user")
        if not self._active:
            return
        with self._cond:
            started = time.monotonic()
            self._cond.wait_for(lambda: not self._active or self._stopping, timeout=self.max_wait)
            # Under the lock: several background threads may pause at once.
            self.paused_seconds += time.monotonic() - started


FOREGROUND = Foreground()
checkpoint = FOREGROUND.checkpoint
