"""When a user's memory sleeps by itself: at cron times, after idleness, under sleep pressure.

Three parts, each usable on its own:

- ``cron.CronExpr``: a five-field cron expression (minute hour day-of-month month
  day-of-week) in local wall-clock time, with classic cron semantics, parsed and searched by
  the ``cronsim`` library.
- Triggers: plain functions ``trigger(state, config, now=...) -> bool`` over a ``UserState``
  and the ``ScheduleConfig``. The built-in "cron", "idle" and "pressure" triggers are
  registered through the ``register_schedules`` hook like any plugin's.
- ``Scheduler``: an asyncio loop that every ``check_seconds`` asks for the users' states,
  picks the first trigger that fires for each user and starts that user's sleep as its own
  task. It only decides *when*; serialising work per user and bounding heavy work across
  users is the caller's (``MemoryService``'s) job.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import logging
import math
import time
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from .config import ScheduleConfig
from .cron import cron
from .errors import ConfigError, SleepmemError

if TYPE_CHECKING:  # the store pulls in numpy/safetensors; a cron parser should not need them
    from .facts import Fact
    from .store import UserMemory

log = logging.getLogger("sleepmem.schedule")

# --------------------------------------------------------------------------- user state


@dataclass(frozen=True)
class UserState:
    """What the triggers see of one user at one check."""

    user_id: str
    facts: int
    """Active facts."""
    last_message_at: float | None
    """Epoch seconds of the user's last chat message in this process; None = none seen."""
    last_sleep_at: float | None
    """When the user's last sleep finished (epoch seconds); None = never slept."""
    pressure: float
    """``sleep_pressure``: edits since the last sleep + 2 per fact whose last audit failed."""
    sleeping: bool = False
    pending: int = 0
    """Memory jobs (wake, /remember, sleep...) queued or running for this user."""
    edits: int | None = None
    """Edits since the last sleep; None = not known (then "something changed since the last
    sleep" means: a message after the last sleep and pressure > 0)."""

    @property
    def changed_since_sleep(self) -> bool:
        """Whether a sleep now could consolidate something the last one did not see.

        Failed audits alone do not count: re-solving the very same facts gives the same
        result, and counting them would put a user with a stubborn fact to sleep again at
        every check.
        """
        if self.edits is not None:
            return self.edits > 0
        if self.last_sleep_at is None:
            return self.pressure > 0
        return (
            self.pressure > 0
            and self.last_message_at is not None
            and self.last_message_at > self.last_sleep_at
        )


PRESSURE_PER_FAILED_AUDIT = 2.0


def _failed_audits(report: Mapping[str, Any]) -> int:
    """Facts whose audit failed in a stored sleep report.

    Reports may list them (``failed``: texts or a count); the engine's ``SleepReport`` only
    stores recall fractions, so otherwise the count is derived from the recall of the edits
    that sleep left in place (the new ones if kept, else the old ones) times the facts.
    """
    failed = report.get("failed")
    if isinstance(failed, (list, tuple)):
        return len(failed)
    if isinstance(failed, int) and not isinstance(failed, bool):
        return max(0, failed)
    n = report.get("facts")
    recall = report.get("audit_after" if report.get("kept_new") else "audit_before")
    if not isinstance(n, (int, float)) or not isinstance(recall, (int, float)):
        return 0
    if not math.isfinite(recall) or n <= 0:
        return 0
    return max(0, min(int(n), round((1.0 - recall) * n)))


def pressure_parts(facts: Iterable[Fact], last_sleep: Mapping[str, Any] | None) -> tuple[int, int]:
    """``(edits since the last sleep, failed audits still relevant)`` for these active facts.

    An edit is an active fact created or updated after the last sleep finished (every
    active fact if the user never slept). Failed audits are capped by the active facts that
    the sleep saw and that are still active: a forgotten fact no longer fails.
    """
    facts = list(facts)
    if last_sleep is None:
        return len(facts), 0
    cutoff = float(last_sleep.get("finished_at") or 0.0)
    edits = sum(1 for f in facts if max(f.created_at, f.updated_at) > cutoff)
    report = last_sleep.get("report")
    failed = _failed_audits(report) if isinstance(report, Mapping) else 0
    return edits, min(failed, len(facts) - edits)


def sleep_pressure(mem: UserMemory) -> float:
    """How much a user's memory needs sleep: edits since the last sleep + 2 per fact whose
    last audit failed (see ``pressure_parts``)."""
    edits, failed = pressure_parts(mem.facts(), mem.last_sleep())
    return edits + PRESSURE_PER_FAILED_AUDIT * failed


def user_state(
    mem: UserMemory,
    *,
    last_message_at: float | None = None,
    sleeping: bool = False,
    pending: int = 0,
) -> UserState:
    """A user's ``UserState`` from their memory (one read of facts and the last sleep)."""
    facts = mem.facts()
    last = mem.last_sleep()
    edits, failed = pressure_parts(facts, last)
    return UserState(
        user_id=mem.user_id,
        facts=len(facts),
        last_message_at=last_message_at,
        last_sleep_at=float(last["finished_at"]) if last else None,
        pressure=edits + PRESSURE_PER_FAILED_AUDIT * failed,
        sleeping=sleeping,
        pending=pending,
        edits=edits,
    )


# --------------------------------------------------------------------------- triggers

Trigger = Callable[..., bool]
"""``trigger(state, config, now=...) -> bool``; ``now`` may be left out of the signature."""


def _now(now: float | None) -> float:
    return time.time() if now is None else now


def cron_window(config: ScheduleConfig) -> float:
    """How far back (seconds) the cron trigger looks for a cron time it has not acted on.

    Two check intervals, at least a minute: a check that runs late (a busy event loop)
    still sees the cron time; sleeping since that time is what stops a second firing.
    """
    return max(2.0 * config.check_seconds, 60.0)


def cron_trigger(state: UserState, config: ScheduleConfig, now: float | None = None) -> bool:
    """A cron time passed recently, the user has not slept since, and has something to
    consolidate (facts and pressure > 0)."""
    if config.cron is None or state.facts <= 0 or state.pressure <= 0:
        return False
    now = _now(now)
    fired = cron(config.cron).latest_in(now - cron_window(config), now)
    if fired is None:
        return False
    return state.last_sleep_at is None or state.last_sleep_at < fired


def idle_trigger(state: UserState, config: ScheduleConfig, now: float | None = None) -> bool:
    """No message for ``idle_minutes`` and edits since the last sleep."""
    if config.idle_minutes is None or state.last_message_at is None or state.facts <= 0:
        return False
    idle = _now(now) - state.last_message_at >= config.idle_minutes * 60.0
    return idle and state.changed_since_sleep


def pressure_trigger(state: UserState, config: ScheduleConfig, now: float | None = None) -> bool:
    """Sleep pressure reached ``config.pressure`` and something changed since the last sleep
    (failed audits alone would re-run the same sleep at every check)."""
    if config.pressure is None or state.facts <= 0:
        return False
    return state.pressure >= config.pressure and state.changed_since_sleep


BUILTIN_TRIGGERS: dict[str, Trigger] = {
    "cron": cron_trigger,
    "idle": idle_trigger,
    "pressure": pressure_trigger,
}


def check_schedule(config: ScheduleConfig) -> None:
    """Raise ConfigError now for a bad ``cron`` rather than at every check."""
    if config.cron is not None:
        try:
            cron(config.cron)
        except ConfigError as e:
            raise ConfigError(f"schedule.cron: {e}") from None


# --------------------------------------------------------------------------- scheduler


def _accepts_now(fn: Callable[..., Any]) -> bool:
    try:
        params = inspect.signature(fn).parameters.values()
    except (TypeError, ValueError):
        return False
    return any(
        p.kind is p.VAR_KEYWORD
        or (p.name == "now" and p.kind in (p.KEYWORD_ONLY, p.POSITIONAL_OR_KEYWORD))
        for p in params
    )


class Scheduler:
    """Starts users' sleeps when a trigger fires; one loop, one task per started sleep.

    ``states`` returns the current ``UserState`` of every user; it runs in a worker thread
    (it reads every user's ledger), so it must be thread-safe; pass
    ``states_in_thread=False`` to call it on the event loop. ``sleep(user_id, reason)`` is
    awaited in a task of its own per user, so one user's long sleep never delays the
    decisions for, or the sleeps of, others.
    """

    def __init__(
        self,
        triggers: Mapping[str, Trigger],
        config: ScheduleConfig,
        states: Callable[[], Iterable[UserState]],
        sleep: Callable[[str, str], Awaitable[Any]],
        clock: Callable[[], float] = time.time,
        *,
        states_in_thread: bool = True,
    ) -> None:
        check_schedule(config)
        self.config = config
        self._triggers = [(name, fn, _accepts_now(fn)) for name, fn in triggers.items()]
        self._states = states
        self._sleep = sleep
        self._clock = clock
        self._states_in_thread = states_in_thread
        self._running: dict[str, asyncio.Task[None]] = {}
        self._last_started: dict[str, float] = {}
        self._loop_task: asyncio.Task[None] | None = None

    @property
    def triggers(self) -> list[str]:
        """Trigger names in the order they are tried."""
        return [name for name, _, _ in self._triggers]

    @property
    def running(self) -> set[str]:
        """Users whose scheduled sleep is in flight."""
        return set(self._running)

    @property
    def started(self) -> bool:
        """Whether the check loop is running."""
        return self._loop_task is not None and not self._loop_task.done()

    # ---- decisions ----------------------------------------------------------------------
    def _decide(self, state: UserState, now: float) -> str | None:
        """The first trigger that fires for this user, or None (also when it must wait)."""
        uid = state.user_id
        if state.sleeping or uid in self._running:
            return None
        times = [t for t in (state.last_sleep_at, self._last_started.get(uid)) if t is not None]
        if times and now - max(times) < self.config.min_interval_minutes * 60.0:
            return None
        for name, fn, accepts_now in self._triggers:
            try:
                fired = fn(state, self.config, now=now) if accepts_now else fn(state, self.config)
            except Exception:
                log.exception("schedule trigger %s failed for user=%s", name, uid)
                continue
            if fired:
                return name
        return None

    async def _read_states(self) -> list[UserState]:
        if self._states_in_thread:
            return list(await asyncio.to_thread(lambda: list(self._states())))
        return list(self._states())

    async def tick(self, now: float | None = None) -> list[tuple[str, str]]:
        """Check every user once; start the sleeps that are due. Never raises.

        Returns ``(user_id, reason)`` for each sleep started (the sleeps themselves run on
        in their own tasks).
        """
        now = self._clock() if now is None else now
        try:
            states = await self._read_states()
        except Exception:
            log.exception("schedule: could not read the users' states")
            return []
        started: list[tuple[str, str]] = []
        for state in states:
            try:
                reason = self._decide(state, now)
                if reason is not None:
                    self._start(state, reason, now)
                    started.append((state.user_id, reason))
            except Exception:
                log.exception("schedule: checking user=%s failed", state.user_id)
        return started

    def _start(self, state: UserState, reason: str, now: float) -> None:
        uid = state.user_id
        log.info(
            "schedule sleep user=%s reason=%s pressure=%.1f facts=%d pending=%d",
            uid,
            reason,
            state.pressure,
            state.facts,
            state.pending,
        )
        self._last_started[uid] = now
        self._running[uid] = asyncio.get_running_loop().create_task(
            self._run(uid, reason), name=f"sleepmem-sleep:{uid}"
        )

    async def _run(self, user_id: str, reason: str) -> None:
        started = time.monotonic()
        try:
            await self._sleep(user_id, reason)
        except SleepmemError as e:
            log.warning("schedule sleep failed user=%s reason=%s: %s", user_id, reason, e)
        except Exception:
            log.exception("schedule sleep failed user=%s reason=%s", user_id, reason)
        else:
            seconds = time.monotonic() - started
            log.info("schedule sleep done user=%s reason=%s seconds=%.1f", user_id, reason, seconds)
        finally:
            if self._running.get(user_id) is asyncio.current_task():
                del self._running[user_id]

    # ---- loop ---------------------------------------------------------------------------
    async def start(self) -> None:
        """Start checking every ``check_seconds`` (the first check after one interval, so a
        restart does not put every user to sleep at once). Starting twice is a no-op."""
        if self.started:
            return
        self._loop_task = asyncio.get_running_loop().create_task(
            self._loop(), name="sleepmem-schedule"
        )
        log.info(
            "schedule started triggers=%s check_seconds=%g min_interval_minutes=%g",
            ",".join(self.triggers) or "-",
            self.config.check_seconds,
            self.config.min_interval_minutes,
        )

    async def _loop(self) -> None:
        while True:
            await asyncio.sleep(self.config.check_seconds)
            try:
                await self.tick()
            except Exception:  # tick catches everything; this keeps the loop alive regardless
                log.exception("schedule check failed")

    async def stop(self, *, wait: bool = True) -> None:
        """Stop checking. ``wait``: let the sleeps in flight finish; else cancel them (the
        work they already handed to a thread still finishes there)."""
        task, self._loop_task = self._loop_task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        running = list(self._running.values())
        if not wait:
            for t in running:
                t.cancel()
        if running:
            await asyncio.gather(*running, return_exceptions=True)
        log.info("schedule stopped")

    async def wait_idle(self) -> None:
        """Wait until no scheduled sleep is in flight."""
        while self._running:
            await asyncio.gather(*list(self._running.values()), return_exceptions=True)
