"""The engine for long-running front ends: async, per-user queues, sleep on a schedule.

One ``MemoryService`` per process wraps one ``Engine`` (one loaded model). The HTTP server and
the Discord bot both talk to it, never to the engine's blocking methods directly, because:

- replies stream from a thread pool of their own, so a user's edit or sleep never delays
  anyone's answer (edits and sleep run on a separate, smaller pool);
- every piece of memory work for one user (wake, /remember, /forget, sleep) goes through
  that user's queue, so it is serialised for them; work somebody waits for goes before
  background edits (``workpool``);
- wake is coalesced: messages that arrive while a user's previous edit is still running are
  extracted together and written in one joint solve, instead of one solve each;
- replies during a user's sleep use the memory from before the sleep (the engine swaps the
  factors only when the new ones are verified).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import sys
import threading
import time
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, TypeVar

from .backends.base import GenerationResponse, whole
from .commands import is_command, split_command
from .errors import InputError, Interrupted, SleepmemError, Yielded
from .facts import Fact, describe_forgotten
from .memory import Engine
from .priority import FOREGROUND, yielding_to
from .reports import SleepReport, WakeReport
from .store import validate_user_id
from .workpool import Turns, WorkPool

log = logging.getLogger(__name__)
T = TypeVar("T")

WORK_THREADS = 2
"""Edits and sleeps in flight at once across all users: each saturates the CPU cores of a
small machine, so more would only slow every one of them down. The pool keeps one more
thread for work somebody waits on (``WorkPool``)."""


FIRST_PIECE_WAIT = 0.05
"""Longest a streamed reply's generation waits for the consumer to take its first piece."""


def memory_key(user_id: str, character: str | None = None, guild: str | None = None) -> str:
    """The id a memory is stored under: ``alice``, ``alice/guild:42/character:Seraphina``.

    Front ends validate user ids to exclude "/" (see ``check_external_user_id``), so a
    composed key never collides with a plain user's id.
    """
    key = validate_user_id(user_id)
    if guild:
        key += f"/guild:{guild}"
    if character:
        key += f"/character:{character}"
    return validate_user_id(key)


def check_external_user_id(user_id: object) -> str:
    """A user id that came from outside (a request, a header): no path-like or composed ids."""
    value = validate_user_id(user_id)
    if "/" in value or "\\" in value or value in (".", ".."):
        raise InputError(f"user id {value!r} may not contain '/' or '\\' or be '.' or '..'")
    return value


def last_user_message(messages: Sequence[dict[str, str]]) -> tuple[str, list[dict[str, str]]]:
    """The last user message and the conversation before it."""
    for i in range(len(messages) - 1, -1, -1):
        if messages[i].get("role") == "user":
            return messages[i].get("content", ""), list(messages[:i])
    raise InputError("the conversation has no user message")


def history_pairs(history: Sequence[dict[str, str]]) -> list[tuple[str, str]]:
    """Chat messages as the (role, content) pairs the engine's wake reads."""
    return [(m.get("role", ""), m.get("content", "")) for m in history]


@dataclass
class _UserWork:
    """Per-user bookkeeping: whose turn it is, queued wake messages and activity times."""

    turns: Turns = field(default_factory=Turns)
    pending: int = 0
    last_message_at: float | None = None
    last_wake: WakeReport | None = None
    last_error: str | None = None
    sleep_steps: list[str] = field(default_factory=list)  # of the sleep running now


class MemoryService:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._chat_pool = ThreadPoolExecutor(
            engine.config.server.chat_workers, thread_name_prefix="sleepmem-chat"
        )
        self._work_pool = WorkPool(WORK_THREADS)
        self._users: dict[str, _UserWork] = {}
        self._tasks: set[asyncio.Task[Any]] = set()
        # Edits and sleeps running on the work pool, whoever awaits them: a request that
        # started one may be cancelled (a client gone, a shutdown), its thread runs on.
        self._running: set[asyncio.Future[Any]] = set()
        self._scheduler: Any = None
        self._closed = False
        self._accepting = True  # False once shutdown starts: new wake work stays in the inbox

    # ------------------------------------------------------------------ lifecycle
    async def start(self) -> None:
        """Wake what the last run left in the inboxes, then start the sleep scheduler (the
        triggers come from ``register_schedules``). The replays are queued before any
        request can be, so each user's old messages are woken before new ones."""
        from .schedule import Scheduler

        for user_id in await asyncio.to_thread(self.engine.pending_users):
            log.info("waking messages left pending by the last run user=%s", user_id)
            self._spawn(self._wake(user_id))
        triggers = self.engine.plugins.schedules()
        self._scheduler = Scheduler(
            triggers=triggers,
            config=self.engine.config.schedule,
            states=self.user_states,
            sleep=self._scheduled_sleep,
        )
        await self._scheduler.start()

    async def close(self, finish: bool = True, grace: float = 10.0) -> None:
        """Stop the scheduler and the thread pools. With ``finish`` every queued job runs
        to its end first; without (shutdown), running edits and sleeps stop at their next
        step, within ``grace`` seconds, storing nothing: their messages stay in the inbox
        and are woken on the next start."""
        if self._closed:
            return
        self._accepting = False
        if self._scheduler is not None:
            await self._scheduler.stop()
            self._scheduler = None
        if finish:
            await self.drain()
        else:
            FOREGROUND.stop_background()
            try:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self.drain(), grace)
            finally:
                FOREGROUND.stop_background(False)
        self._closed = True
        self._chat_pool.shutdown(wait=finish, cancel_futures=True)
        self._work_pool.shutdown(wait=finish, cancel_futures=True)
        if self.work_running():
            log.warning(
                "memory work still running %.0f s into the shutdown; it is abandoned and its "
                "messages stay in the inbox for the next start",
                grace,
            )

    def work_running(self) -> bool:
        """Whether an edit or sleep is still running on the work pool: after ``close``, one
        that did not reach a checkpoint within the grace."""
        return self._work_pool.busy > 0

    async def drain(self) -> None:
        """Wait until every queued wake and sleep job has finished, and every edit or sleep
        running on the work pool, also those whose request was cancelled."""
        while self._tasks or self._running:
            await asyncio.gather(*self._tasks, *self._running, return_exceptions=True)

    # ------------------------------------------------------------------ plumbing
    def _user(self, key: str) -> _UserWork:
        work = self._users.get(key)
        if work is None:
            work = self._users[key] = _UserWork()
        return work

    def _notify(self, hook: str, **kwargs: Any) -> None:
        self.engine.plugins.notify(hook, **kwargs)

    def _check_open(self) -> None:
        if self._closed:
            raise SleepmemError("the memory service is shut down")

    async def _in_pool(self, pool: ThreadPoolExecutor, fn: Callable[..., T], *args: Any) -> T:
        self._check_open()
        return await asyncio.get_running_loop().run_in_executor(pool, fn, *args)

    async def _queued(
        self,
        user_id: str,
        fn: Callable[..., T],
        *args: Any,
        urgent: bool = False,
        cut_in: bool = False,
    ) -> T:
        """Run ``fn`` on the work pool after this user's earlier jobs (one at a time).

        ``urgent``: somebody waits for the answer, so the job, and this user's jobs ahead of
        it, go before other users' background work (``WorkPool``). ``cut_in``: the job
        does not depend on what the user said before (a stored fact deleted, everything
        forgotten): it goes before this user's queued jobs, and their running background
        job stops at its next checkpoint, storing nothing, and runs again after it.
        """
        work = self._user(user_id)
        work.pending += 1
        if urgent:
            self._work_pool.urge(user_id)
        try:
            while True:
                async with work.turns.turn(cut_in):
                    if not self._accepting:  # shutting down: queued work waits for next start
                        raise Interrupted("the memory service is shutting down")
                    self._check_open()
                    call = fn if urgent else self._giving_way(work, fn)
                    future = self._work_pool.submit(user_id, urgent, call, *args)
                    job = asyncio.wrap_future(future)
                    self._running.add(job)
                    job.add_done_callback(self._running.discard)
                    try:
                        # Shielded: cancelling the caller must not hide a job whose thread
                        # still runs, or shutdown would not wait for its next checkpoint.
                        return await asyncio.shield(job)
                    except Yielded:
                        # A request of this user cut in: it runs now, this job after it.
                        log.info("memory work of user=%s gave way to a request", user_id)
        finally:
            work.pending -= 1
            if urgent:
                self._work_pool.urge(user_id, -1)

    @staticmethod
    def _giving_way(work: _UserWork, fn: Callable[..., T]) -> Callable[..., T]:
        """``fn`` as background work that stops at its next checkpoint, storing nothing,
        while a job of the same user waits to cut in."""

        def run(*args: Any) -> T:
            with yielding_to(lambda: work.turns.cut_in_waiting):
                return fn(*args)

        return run

    def _spawn(self, coro: Any) -> asyncio.Task[Any]:
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    # ------------------------------------------------------------------ chat
    def _generation(
        self,
        user_id: str,
        messages: list[dict[str, str]],
        max_new_tokens: int | None,
        stop: threading.Event,
    ) -> Iterator[GenerationResponse]:
        """Check the request now, on the caller's thread (so a bad one is refused before any
        chat thread is used), and return the reply's responses for a chat thread to produce:
        ``user_message`` fires first and background edits and sleeps pause meanwhile;
        ``stop`` ends it after the current token."""
        user_id = validate_user_id(user_id)
        message, history = last_user_message(messages)
        self._user(user_id).last_message_at = time.time()

        def pieces() -> Iterator[GenerationResponse]:
            self._notify("user_message", user_id=user_id, message=message, history=history)
            gone = self._forget_requested(user_id, message, history)
            if gone:
                # Forgotten before any reply, so the reply cannot repeat it; the answer says
                # what went, as /forget's does. No model ran: no tokens; the finish reason
                # stays "length", what the server has always reported for this answer.
                yield GenerationResponse(describe_forgotten(gone), 0, 0)
                yield GenerationResponse("", 0, 0, "length")
                return
            with FOREGROUND.reply():
                for response in self.engine.reply(user_id, messages, max_new_tokens):
                    if stop.is_set():
                        return
                    yield response

        return pieces()

    def _forget_requested(
        self, user_id: str, message: str, history: list[dict[str, str]]
    ) -> list[Fact]:
        """Forget what ``message`` asks to forget in plain words (wake on; no command)."""
        if not self.engine.config.server.wake or is_command(message):
            return []
        pairs = history_pairs(history)
        try:
            return self.engine.forget_requested(user_id, message, pairs)
        except SleepmemError as exc:  # the reply goes on; wake tries the request again
            log.warning("forget request failed user=%s: %s", user_id, exc)
            return []

    async def stream_reply(
        self,
        user_id: str,
        messages: list[dict[str, str]],
        max_new_tokens: int | None = None,
    ) -> AsyncIterator[GenerationResponse]:
        """Stream the reply with ``user_id``'s memory live: the engine's responses, one per
        piece of text, then the last one with the token counts and the finish reason.

        Generation runs in a chat thread; pieces cross to the event loop through a queue.
        When the consumer stops early (a client that hung up), the thread is told to stop
        after its current token rather than generating the rest for nobody.
        """
        loop = asyncio.get_running_loop()
        queue: asyncio.Queue[tuple[str, Any]] = asyncio.Queue()
        stop = threading.Event()
        first_taken = threading.Event()
        pieces = self._generation(user_id, messages, max_new_tokens, stop)

        def produce() -> None:
            try:
                for n, piece in enumerate(pieces):
                    loop.call_soon_threadsafe(queue.put_nowait, ("piece", piece))
                    if n == 0:
                        # The model takes every core of a small CPU: computing the next
                        # token while the event loop sends the first one delays that send
                        # by milliseconds. Let the consumer have it first, within bounds.
                        first_taken.wait(FIRST_PIECE_WAIT)
            except BaseException as exc:  # handed to the consumer, which re-raises it
                loop.call_soon_threadsafe(queue.put_nowait, ("error", exc))
            else:
                loop.call_soon_threadsafe(queue.put_nowait, ("done", None))

        producer_task = loop.create_task(self._in_pool(self._chat_pool, produce))
        try:
            while True:
                kind, value = await queue.get()
                if kind == "piece":
                    yield value
                    first_taken.set()  # the consumer is back for more: it has handled it
                elif kind == "error":
                    raise value
                else:
                    break
        finally:
            stop.set()
            first_taken.set()
            with contextlib.suppress(Exception):
                await producer_task

    async def reply(
        self,
        user_id: str,
        messages: list[dict[str, str]],
        max_new_tokens: int | None = None,
    ) -> GenerationResponse:
        """The whole reply as one response (its text, token counts and finish reason).
        Generated in one chat-thread call, so the event loop is woken once at the end
        instead of once per piece."""
        stop = threading.Event()
        pieces = self._generation(user_id, messages, max_new_tokens, stop)
        try:
            return await self._in_pool(self._chat_pool, whole, pieces)
        except asyncio.CancelledError:
            stop.set()  # nobody is waiting for the rest
            raise

    async def receive(self, user_id: str, messages: list[dict[str, str]]) -> None:
        """Commit the conversation's last user message to the user's wake inbox: front ends
        call this before the reply ends, so a restart cannot lose what was said."""
        if not self.engine.config.server.wake:
            return
        user_id = validate_user_id(user_id)
        message, history = last_user_message(messages)
        pairs = history_pairs(history)
        await asyncio.to_thread(self.engine.receive, user_id, message, pairs)

    def after_reply(self, user_id: str, messages: list[dict[str, str]], reply: str) -> None:
        """Fire ``assistant_reply`` and queue wake of the user's inbox; returns at once.

        Messages that pile up behind a running edit are woken together in one edit.
        """
        user_id = validate_user_id(user_id)
        self._spawn(self._wake(user_id, (list(messages), reply)))

    async def _wake(
        self, user_id: str, replied: tuple[list[dict[str, str]], str] | None = None
    ) -> None:
        work = self._user(user_id)

        def run() -> WakeReport | None:
            if replied is not None:
                messages, reply = replied
                self._notify("assistant_reply", user_id=user_id, messages=messages, reply=reply)
            if not self._accepting or not self.engine.config.server.wake:
                return None
            return self.engine.wake_pending(user_id)

        try:
            report = await self._queued(user_id, run)
        except Interrupted:
            log.info("wake stopped for shutdown user=%s; the inbox keeps it", user_id)
            return
        except SleepmemError as exc:
            work.last_error = str(exc)
            log.warning("wake failed user=%s: %s", user_id, exc)
            return
        if report is not None and (report.added or report.forgotten or report.superseded):
            work.last_wake = report

    # ------------------------------------------------------------------ memory work
    async def command(self, user_id: str, text: str) -> str | None:
        """Run a chat command on the user's queue; None when ``text`` is not a command.

        Every command, /sleep included, runs from the plugins' command table
        (``Engine.command``), so the server and Discord answer what the terminal does.
        """
        if not is_command(text):
            return None
        user_id = validate_user_id(user_id)
        try:
            # A sleep is long and nobody needs it to jump the queue; other commands answer
            # a person who is waiting. Commands keep their place in the user's line: a
            # "/forget" must see what the user said just before it.
            urgent = (split_command(text) or ("", ""))[0].lower() != "sleep"
            return await self._queued(user_id, self.engine.command, user_id, text, urgent=urgent)
        except SleepmemError as exc:
            return str(exc)

    async def remember(self, user_id: str, text: str) -> WakeReport:
        # In line: a fact told in chat just before must not supersede this one afterwards.
        return await self._queued(user_id, self.engine.remember, user_id, text, urgent=True)

    async def forget(self, user_id: str, query: str) -> list[Fact]:
        job = self.engine.forget
        return await self._queued(user_id, job, user_id, query, urgent=True, cut_in=True)

    async def forget_all(self, user_id: str) -> int:
        # Cutting in is safe: forgetting everything empties the inbox too.
        job = self.engine.forget_all
        return await self._queued(user_id, job, user_id, urgent=True, cut_in=True)

    async def sleep(self, user_id: str, reason: str = "api") -> SleepReport:
        user_id = validate_user_id(user_id)

        steps = self._user(user_id).sleep_steps

        def run() -> SleepReport:
            steps.clear()  # this sleep's steps, not the last one's
            try:
                return self.engine.sleep(
                    user_id,
                    max_drift=self.engine.config.schedule.max_drift,
                    reason=reason,
                    progress=steps.append,  # read by status() while the sleep runs
                )
            finally:
                steps.clear()

        return await self._queued(user_id, run)

    def queue_sleep(self, user_id: str, reason: str = "api") -> None:
        """Start a sleep in the background (the REST API's ``"wait": false``)."""
        self._spawn(self._background_sleep(user_id, reason))

    async def _background_sleep(self, user_id: str, reason: str) -> None:
        try:
            await self.sleep(user_id, reason)
        except SleepmemError as exc:
            self._user(user_id).last_error = str(exc)
            log.warning("sleep failed user=%s: %s", user_id, exc)

    async def _scheduled_sleep(self, user_id: str, reason: str) -> None:
        await self._background_sleep(user_id, reason)

    # ------------------------------------------------------------------ status
    def status(self, user_id: str) -> dict[str, Any]:
        from .schedule import sleep_pressure

        user_id = validate_user_id(user_id)
        mem = self.engine.memory(user_id)
        work = self._users.get(user_id) or _UserWork()
        last = mem.last_sleep()
        sleeping = self.engine.is_sleeping(user_id)
        return {
            "user": user_id,
            "facts": len(mem.facts()),
            "archived": len(self.engine.archived(user_id)),
            "last_sleep": last,
            "pending": work.pending,
            "inbox": self.engine.pending_count(user_id),
            "sleeping": sleeping,
            # Steps of a running sleep done so far, for progress bars (None when awake).
            "sleep_progress": {
                "done": list(work.sleep_steps),
                "total": self.engine.SLEEP_STEPS,
            }
            if sleeping
            else None,
            "pressure": sleep_pressure(mem),
            "last_message_at": work.last_message_at,
            "last_error": work.last_error,
        }

    def users(self) -> list[str]:
        """Every user with a ledger or activity in this process."""
        return sorted(set(self.engine.store.users()) | set(self._users))

    def user_states(self) -> list[Any]:
        """Every user's ``UserState`` for the scheduler (runs in a worker thread)."""
        from .schedule import user_state

        states = []
        for user_id in self.users():
            work = self._users.get(user_id) or _UserWork()
            states.append(
                user_state(
                    self.engine.memory(user_id),
                    last_message_at=work.last_message_at,
                    sleeping=self.engine.is_sleeping(user_id),
                    pending=work.pending,
                )
            )
        return states


def leave_if_work_abandoned(service: MemoryService) -> None:
    """End the process now if ``service``, closed, left memory work running: a thread still
    inside the model races the interpreter's teardown, which aborts the process (SIGABRT,
    seen in CI). Nothing is lost: stored files are replaced atomically, and what the
    thread was learning waits in the inbox. For front ends that own their process."""
    if not service.work_running():
        return
    logging.shutdown()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)
