"""The threads that run memory work (edits, sleeps, forgets), people's requests first.

Wake edits are background work: nobody waits on them, and on a busy shared bot they pile up
(minutes each on a small CPU). A ``/forget`` or ``/remember`` is somebody waiting for an
answer. In a plain FIFO pool such a request queued behind every other user's edits; a soak of
20 users saw forgets wait past ten minutes. So this pool:

- runs urgent jobs before background ones, whatever their order of arrival;
- keeps one thread for urgent jobs only, so an urgent job starts at once even while every
  other thread is deep in a long edit;
- lifts a user's queued background jobs to urgent while an urgent job of that user waits
  (``urge``): a user's jobs run one at a time (``Turns``), so a command that waits for the
  same user's earlier wake must have that wake run first, or it would wait behind everyone
  else's edits after all.

Each user's own jobs take turns (``Turns``, one at a time, so no two solves of one user's
facts overlap), and there a job that cuts in goes before that user's queued jobs; the
service also makes the user's running background job give way to it (``priority``).

Order among jobs of equal standing stays first come, first served. After each job the
heap's freed pages go back to the system (``heap.release``).
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections import Counter
from collections.abc import AsyncIterator, Callable
from concurrent.futures import Future
from dataclasses import dataclass
from typing import Any, TypeVar

from . import heap

T = TypeVar("T")


@dataclass
class _Job:
    user: str
    urgent: bool
    fn: Callable[..., Any]
    args: tuple[Any, ...]
    future: Future[Any]


class WorkPool:
    def __init__(self, threads: int, name: str = "sleepmem-work") -> None:
        """``threads`` threads take any job; one more takes urgent ones only."""
        if threads < 1:
            raise ValueError("a work pool needs at least one thread")
        self._cond = threading.Condition()
        self._queue: list[_Job] = []
        self._urged: Counter[str] = Counter()
        self._closed = False
        self._busy = 0
        self._threads = [
            threading.Thread(target=self._worker, args=(False,), name=f"{name}-{i}", daemon=True)
            for i in range(threads)
        ]
        self._threads.append(
            threading.Thread(target=self._worker, args=(True,), name=f"{name}-urgent", daemon=True)
        )
        for thread in self._threads:
            thread.start()

    def submit(self, user: str, urgent: bool, fn: Callable[..., T], *args: Any) -> Future[T]:
        future: Future[T] = Future()
        with self._cond:
            if self._closed:
                raise RuntimeError("the work pool is shut down")
            self._queue.append(_Job(user, urgent, fn, args, future))
            self._cond.notify_all()
        return future

    def urge(self, user: str, by: int = 1) -> None:
        """Count an urgent job of ``user`` that waits (``by=-1`` when it no longer does)."""
        with self._cond:
            self._urged[user] += by
            if self._urged[user] <= 0:
                del self._urged[user]
            self._cond.notify_all()

    def _is_urgent(self, job: _Job) -> bool:
        return job.urgent or self._urged[job.user] > 0

    def _take(self, urgent_only: bool) -> _Job | None:
        """The next job for a worker (under the lock): the oldest urgent one, else (for a
        general worker) the oldest of all."""
        for i, job in enumerate(self._queue):
            if self._is_urgent(job):
                return self._queue.pop(i)
        if not urgent_only and self._queue:
            return self._queue.pop(0)
        return None

    def _worker(self, urgent_only: bool) -> None:
        while True:
            with self._cond:
                job = self._take(urgent_only)
                while job is None:
                    if self._closed:
                        return
                    self._cond.wait()
                    job = self._take(urgent_only)
            if not job.future.set_running_or_notify_cancel():
                continue
            with self._cond:
                self._busy += 1
            try:
                result = job.fn(*job.args)
            except BaseException as exc:  # handed to whoever awaits the future
                job.future.set_exception(exc)
            else:
                job.future.set_result(result)
            finally:
                heap.release()
                with self._cond:
                    self._busy -= 1
                    self._cond.notify_all()

    @property
    def busy(self) -> int:
        """How many jobs are running now."""
        with self._cond:
            return self._busy

    def shutdown(self, wait: bool = True, cancel_futures: bool = False) -> None:
        """Take no more jobs; with ``cancel_futures`` drop the queued ones, with ``wait``
        return only once the running ones (and, without cancelling, the queued ones) end."""
        with self._cond:
            self._closed = True
            if cancel_futures:
                for job in self._queue:
                    job.future.cancel()
                self._queue.clear()
            self._cond.notify_all()
        if wait:
            for thread in self._threads:
                if thread is not threading.current_thread():
                    thread.join()


class Turns:
    """One user's memory work, one job at a time (asyncio): waiters that cut in first, then
    the others in order of arrival."""

    def __init__(self) -> None:
        self._busy = False
        self._waiting: list[tuple[bool, asyncio.Future[None]]] = []

    @property
    def waiting(self) -> int:
        return len(self._waiting)

    @property
    def cut_in_waiting(self) -> bool:
        """Is a job that cuts in waiting? (Read from worker threads: one list scan.)"""
        return any(cut_in for cut_in, _ in list(self._waiting))

    @contextlib.asynccontextmanager
    async def turn(self, cut_in: bool = False) -> AsyncIterator[None]:
        if self._busy or self._waiting:
            entry = (cut_in, asyncio.get_running_loop().create_future())
            self._waiting.append(entry)
            try:
                await entry[1]  # resolved by _pass_on, which hands the turn over
            except asyncio.CancelledError:
                if entry in self._waiting:
                    self._waiting.remove(entry)
                elif entry[1].done() and not entry[1].cancelled():
                    self._pass_on()  # the turn was handed over as the waiter was cancelled
                raise
        self._busy = True
        try:
            yield
        finally:
            self._pass_on()

    def _pass_on(self) -> None:
        self._busy = False
        pick = next((e for e in self._waiting if e[0]), None) or next(iter(self._waiting), None)
        if pick is not None:
            self._waiting.remove(pick)
            self._busy = True
            pick[1].set_result(None)
