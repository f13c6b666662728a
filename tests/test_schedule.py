"""The sleep schedule: cron parsing, sleep pressure from a real ledger, triggers, the Scheduler.

No model is loaded here. Times are built as naive local datetimes under TZ=UTC (the
``utc`` fixture), so the results do not depend on the machine's zone or its DST rules.
"""

from __future__ import annotations

import asyncio
import logging
import os
import time
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from sleepmem.engine.config import ScheduleConfig
from sleepmem.engine.cron import CronExpr
from sleepmem.engine.errors import ConfigError, SleepmemError
from sleepmem.engine.facts import ACTIVE, FORGOTTEN, Fact
from sleepmem.engine.schedule import (
    Scheduler,
    UserState,
    cron_trigger,
    idle_trigger,
    pressure_trigger,
    sleep_pressure,
    user_state,
)
from sleepmem.engine.store import MemoryStore
from sleepmem.plugin import manager

MODEL = "test-model"


@pytest.fixture
def utc():
    """Local time = UTC for the test, restored afterwards."""
    old = os.environ.get("TZ")
    os.environ["TZ"] = "UTC0"  # POSIX rule, needs no zoneinfo files
    time.tzset()
    yield
    if old is None:
        os.environ.pop("TZ", None)
    else:
        os.environ["TZ"] = old
    time.tzset()


def ts(*args: int) -> float:
    return datetime(*args).timestamp()


# --------------------------------------------------------------------------- cron parsing


def minutes_of(expr: str, day: datetime = datetime(2024, 1, 1)) -> list[datetime]:
    """Every time ``expr`` matches on ``day``."""
    e = CronExpr.parse(expr)
    out, t = [], day - timedelta(minutes=1)
    while (t := e.next_after(t)) < day + timedelta(days=1):
        out.append(t)
    return out


def test_parse_fields_steps_ranges_lists():
    times = minutes_of("*/15 9-17/4 * * *")
    assert {(t.hour, t.minute) for t in times} == {
        (h, m) for h in (9, 13, 17) for m in (0, 15, 30, 45)
    }
    days = CronExpr.parse("0 0 1,15,20-22 * *")
    assert [d for d in range(1, 32) if days.matches(datetime(2024, 1, d))] == [1, 15, 20, 21, 22]
    assert [t.minute for t in minutes_of("5/20 0 * * *")] == [5, 25, 45]  # a/n = a-max/n
    assert CronExpr.parse("59 23 31 12 6").matches(datetime(2022, 12, 31, 23, 59))


def test_names_any_case_and_sunday_as_seven():
    e = CronExpr.parse("0 9 * Jan-MAR,dec mon-fri")
    months = {m for m in range(1, 13) if e.next_after(datetime(2024, m, 1)).month == m}
    assert months == {1, 2, 3, 12}
    week = [datetime(2024, 1, d, 9) for d in range(7, 14)]  # Sunday Jan 7 .. Saturday Jan 13
    assert [e.matches(d) for d in week] == [False, True, True, True, True, True, False]
    sunday = datetime(2024, 6, 2, 0, 0)  # a Sunday
    for expr in ("0 0 * * 7", "0 0 * * 0", "0 0 * * sun", "0 0 * * 5-7"):
        assert CronExpr.parse(expr).matches(sunday), expr
    assert CronExpr.parse("0 0 * * 5-7").matches(sunday + timedelta(days=5))  # Friday
    assert not CronExpr.parse("0 0 * * 5-7").matches(sunday + timedelta(days=1))
    assert not CronExpr.parse("0 0 * * 1").matches(sunday)


def test_aliases():
    assert CronExpr.parse("@daily").next_after(datetime(2024, 1, 1, 5)) == datetime(2024, 1, 2)
    assert CronExpr.parse("@hourly").next_after(datetime(2024, 1, 1, 5, 1)) == datetime(
        2024, 1, 1, 6
    )
    assert CronExpr.parse("@weekly").next_after(datetime(2024, 6, 3)) == datetime(2024, 6, 9)


def test_matches_ignores_seconds():
    e = CronExpr.parse("30 3 * * *")
    assert e.matches(datetime(2024, 5, 1, 3, 30, 59))
    assert not e.matches(datetime(2024, 5, 1, 3, 31))
    assert not e.matches(datetime(2024, 5, 1, 4, 30))


def test_day_of_month_or_day_of_week_when_both_restricted():
    e = CronExpr.parse("0 0 13 * fri")
    assert e.matches(datetime(2024, 9, 13))  # Friday the 13th
    assert e.matches(datetime(2024, 11, 13))  # a Wednesday: the 13th is enough
    assert e.matches(datetime(2024, 11, 1))  # a Friday: Friday is enough
    assert not e.matches(datetime(2024, 11, 14))  # Thursday the 14th
    # One field starting with '*' means AND (classic cron's rule), even with a step.
    only_13th = CronExpr.parse("0 0 13 * *")
    assert not only_13th.matches(datetime(2024, 11, 1))
    fridays = CronExpr.parse("0 0 * * fri")
    assert fridays.matches(datetime(2024, 11, 1)) and not fridays.matches(datetime(2024, 11, 13))
    odd_fridays = CronExpr.parse("0 0 */2 * fri")
    assert odd_fridays.matches(datetime(2024, 11, 1))  # 1st: odd day and Friday
    assert not odd_fridays.matches(datetime(2024, 11, 8))  # Friday, even day
    assert not odd_fridays.matches(datetime(2024, 11, 3))  # odd day, Sunday
    assert CronExpr.parse("0 0 13 * fri").next_after(datetime(2024, 11, 2)) == datetime(2024, 11, 8)


# --------------------------------------------------------------------------- next_after


@pytest.mark.parametrize(
    ("expr", "after", "expected"),
    [
        ("* * * * *", datetime(2024, 5, 1, 10, 0, 30), datetime(2024, 5, 1, 10, 1)),
        ("* * * * *", datetime(2024, 5, 1, 10, 0), datetime(2024, 5, 1, 10, 1)),  # strictly after
        ("0 0 31 * *", datetime(2024, 4, 1), datetime(2024, 5, 31)),  # April has no 31st
        ("0 0 31 * *", datetime(2024, 5, 31), datetime(2024, 7, 31)),  # nor June
        ("0 0 1 * *", datetime(2024, 1, 31, 23, 59, 59), datetime(2024, 2, 1)),
        ("59 23 31 12 *", datetime(2024, 12, 31, 23, 59), datetime(2025, 12, 31, 23, 59)),
        ("0 0 1 1 *", datetime(2024, 12, 31, 23, 59, 30), datetime(2025, 1, 1)),
        ("0 12 29 2 *", datetime(2023, 3, 1), datetime(2024, 2, 29, 12)),  # leap year
        ("0 12 29 2 *", datetime(2024, 3, 1), datetime(2028, 2, 29, 12)),
        ("0 12 29 2 *", datetime(2096, 3, 1), datetime(2104, 2, 29, 12)),  # 2100 is not leap
        ("0 0 28-31 2 *", datetime(2023, 2, 28), datetime(2024, 2, 28)),
        ("30 2 * * mon-fri", datetime(2024, 6, 7, 3), datetime(2024, 6, 10, 2, 30)),  # Fri->Mon
        ("0 0 29 2 */7", datetime(2024, 3, 1), datetime(2032, 2, 29)),  # Feb 29 on a Sunday
        ("*/20 22-23 * * *", datetime(2024, 6, 30, 23, 45), datetime(2024, 7, 1, 22)),
    ],
)
def test_next_after(expr: str, after: datetime, expected: datetime):
    got = CronExpr.parse(expr).next_after(after)
    assert got == expected
    assert CronExpr.parse(expr).matches(got)


@pytest.mark.parametrize(
    "expr",
    ["*/7 */5 * * *", "15,45 8-18 * * mon-fri", "0 0 13 * fri", "0 */6 1,15 * *", "5 4 * 2 *"],
)
def test_next_after_agrees_with_minute_by_minute_search(expr: str):
    e = CronExpr.parse(expr)
    t = datetime(2024, 1, 28, 22, 13, 40)
    for _ in range(25):
        brute = t.replace(second=0) + timedelta(minutes=1)
        while not e.matches(brute):
            brute += timedelta(minutes=1)
        assert e.next_after(t) == brute
        t = brute


def test_next_after_skips_instead_of_walking_minutes():
    e = CronExpr.parse("0 0 29 2 mon")  # OR rule: every Monday and every Feb 29
    rare = CronExpr.parse("0 0 29 2 */7")  # AND rule: Feb 29 on a Sunday (every ~28 years)
    started = time.perf_counter()
    for year in range(2000, 2100, 7):
        e.next_after(datetime(year, 3, 1))
        rare.next_after(datetime(year, 3, 1))
    assert time.perf_counter() - started < 1.0


@pytest.mark.parametrize(
    ("expr", "words"),
    [
        ("61 * * * *", ["minute", "'61'", "0-59"]),
        ("* 24 * * *", ["hour", "0-23"]),
        ("* * 0 * *", ["day-of-month", "1-31"]),
        ("* * * 13 *", ["month", "1-12"]),
        ("* * * * 8", ["day-of-week", "0-7"]),
        ("* * * foo *", ["month", "'foo'"]),
        ("jan * * * *", ["minute", "'jan'"]),
        ("*/0 * * * *", ["minute", "'*/0'"]),
        ("*/x * * * *", ["minute", "'*/x'"]),
        ("30-10 * * * *", ["minute", "'30-10'"]),
        ("1,,2 * * * *", ["minute", "'1,,2'"]),
        ("-5 * * * *", ["minute"]),
        ("* * *", ["3 fields", "expected 5"]),
        ("* * * * * *", ["6 fields"]),  # cronsim would read six fields as seconds first
        ("", ["0 fields"]),
        ("@sometimes", ["alias"]),
        ("0 0 31 2 *", ["never", "'31'", "'2'"]),
        ("0 0 30,31 2 *", ["never"]),
        ("0 0 31 apr,jun,sep,nov *", ["never"]),
    ],
)
def test_parse_errors_name_the_field(expr: str, words: list[str]):
    with pytest.raises(ConfigError) as info:
        CronExpr.parse(expr)
    message = str(info.value)
    for word in words:
        assert word in message, message


def test_or_rule_makes_impossible_day_possible():
    # Feb 31 never exists, but with a restricted weekday the OR rule runs on Mondays in Feb.
    e = CronExpr.parse("0 0 31 2 mon")
    assert e.next_after(datetime(2024, 1, 1)) == datetime(2024, 2, 5)


# --------------------------------------------------------------------------- sleep pressure


def make_fact(text: str, at: float, status: str = ACTIVE) -> Fact:
    return Fact(
        text=text,
        subject="my " + text,
        relation="is",
        object=text,
        answer=text,
        questions=(f"What is my {text}?",),
        status=status,
        created_at=at,
        updated_at=at,
    )


@pytest.fixture
def store(tmp_path: Path):
    s = MemoryStore(tmp_path)
    yield s
    s.close()


def test_pressure_counts_edits_and_failed_audits(store: MemoryStore):
    alice = store.user("alice", MODEL)
    bob = store.user("bob", MODEL)
    assert sleep_pressure(alice) == 0.0
    alice.commit(add_facts=[make_fact(f"fact{i}", 1000.0 + i) for i in range(4)])
    assert sleep_pressure(alice) == 4.0  # never slept: every active fact is an edit
    assert sleep_pressure(bob) == 0.0  # another user's facts never count

    report = {"facts": 4, "audit_before": 0.5, "audit_after": 0.75, "kept_new": True}
    alice.record_sleep(1100.0, 1200.0, report)
    assert sleep_pressure(alice) == 2.0  # 1 of 4 failed the kept (new) edits' audit

    alice.commit(add_facts=[make_fact("late1", 1300.0), make_fact("late2", 1301.0)])
    assert sleep_pressure(alice) == 2.0 + 2.0  # two edits since the sleep + 2 per failure

    state = user_state(alice, last_message_at=1302.0, pending=1)
    assert state == UserState(
        user_id="alice",
        facts=6,
        last_message_at=1302.0,
        last_sleep_at=1200.0,
        pressure=4.0,
        sleeping=False,
        pending=1,
        edits=2,
    )


def test_pressure_uses_old_recall_when_sleep_kept_old_edits(store: MemoryStore):
    mem = store.user("carol", MODEL)
    mem.commit(add_facts=[make_fact(f"f{i}", 1000.0 + i) for i in range(4)])
    mem.record_sleep(
        1100.0, 1200.0, {"facts": 4, "audit_before": 0.5, "audit_after": 1.0, "kept_new": False}
    )
    assert sleep_pressure(mem) == 2 * 2.0  # the old edits stayed: 2 of 4 still fail


def test_pressure_prefers_an_explicit_failed_list_and_caps_by_live_facts(store: MemoryStore):
    mem = store.user("dave", MODEL)
    facts = [make_fact(f"f{i}", 1000.0 + i) for i in range(3)]
    mem.commit(add_facts=facts)
    mem.record_sleep(1100.0, 1200.0, {"facts": 3, "failed": ["f0", "f1"], "audit_after": 1.0})
    assert sleep_pressure(mem) == 4.0
    # Forgetting facts after the sleep: a forgotten fact cannot still be failing.
    forgotten = {facts[0].id: FORGOTTEN, facts[1].id: FORGOTTEN}
    mem.commit(set_status=forgotten)
    assert sleep_pressure(mem) == 2.0  # one live fact from that sleep left: at most 1 failure


def test_pressure_ignores_a_malformed_report(store: MemoryStore):
    mem = store.user("erin", MODEL)
    mem.commit(add_facts=[make_fact("x", 1000.0)])
    mem.record_sleep(1100.0, 1200.0, {"facts": "many", "audit_after": None})
    assert sleep_pressure(mem) == 0.0


# --------------------------------------------------------------------------- triggers


def state(**kw) -> UserState:
    base = dict(
        user_id="alice",
        facts=3,
        last_message_at=None,
        last_sleep_at=None,
        pressure=1.0,
        sleeping=False,
        pending=0,
        edits=1,
    )
    base.update(kw)
    return UserState(**base)


OFF = ScheduleConfig(cron=None, idle_minutes=None, pressure=None)


def test_cron_trigger(utc):
    cfg = ScheduleConfig(cron="0 3 * * *", idle_minutes=None, pressure=None, check_seconds=30)
    at_3 = ts(2024, 5, 10, 3, 0)
    assert cron_trigger(state(), cfg, now=at_3 + 10)
    assert cron_trigger(state(), cfg, now=at_3)  # the cron minute itself
    assert not cron_trigger(state(), cfg, now=at_3 - 1)
    assert not cron_trigger(state(), cfg, now=at_3 + 61)  # passed longer ago than 2 checks
    assert not cron_trigger(state(facts=0, pressure=0.0), cfg, now=at_3 + 10)
    assert not cron_trigger(state(pressure=0.0), cfg, now=at_3 + 10)  # nothing to consolidate
    assert not cron_trigger(state(last_sleep_at=at_3 + 5), cfg, now=at_3 + 10)  # already slept
    assert cron_trigger(state(last_sleep_at=at_3 - 86400), cfg, now=at_3 + 10)
    assert not cron_trigger(state(), OFF, now=at_3 + 10)
    slow = ScheduleConfig(cron="0 3 * * *", check_seconds=300)  # window = 2 checks
    assert cron_trigger(state(), slow, now=at_3 + 590)
    assert not cron_trigger(state(), slow, now=at_3 + 610)


def test_cron_trigger_uses_local_time():
    # 03:00 local is a different epoch second in each zone; the trigger follows local time.
    old = os.environ.get("TZ")
    cfg = ScheduleConfig(cron="0 3 * * *", idle_minutes=None, pressure=None)
    try:
        fired = {}
        for zone in ("UTC0", "XYZ-5"):  # POSIX rules (no zoneinfo needed); XYZ-5 is UTC+5
            os.environ["TZ"] = zone
            time.tzset()
            now = ts(2024, 5, 10, 3, 0) + 10
            fired[zone] = now
            assert cron_trigger(state(), cfg, now=now)
        assert fired["UTC0"] - fired["XYZ-5"] == 5 * 3600
        os.environ["TZ"] = "UTC0"
        time.tzset()
        assert not cron_trigger(state(), cfg, now=fired["XYZ-5"])
    finally:
        if old is None:
            os.environ.pop("TZ", None)
        else:
            os.environ["TZ"] = old
        time.tzset()


def test_idle_trigger():
    cfg = ScheduleConfig(cron=None, idle_minutes=30, pressure=None)
    now = 100_000.0
    assert idle_trigger(state(last_message_at=now - 31 * 60), cfg, now=now)
    assert idle_trigger(state(last_message_at=now - 30 * 60), cfg, now=now)
    assert not idle_trigger(state(last_message_at=now - 29 * 60), cfg, now=now)
    assert not idle_trigger(state(last_message_at=now - 31 * 60, edits=0), cfg, now=now)
    assert not idle_trigger(state(last_message_at=None), cfg, now=now)
    assert not idle_trigger(state(last_message_at=now - 31 * 60), OFF, now=now)
    # edits unknown: a message after the last sleep plus pressure stands for "new edits"
    unknown = dict(edits=None, last_message_at=now - 40 * 60)
    assert idle_trigger(state(**unknown, last_sleep_at=now - 50 * 60), cfg, now=now)
    assert not idle_trigger(state(**unknown, last_sleep_at=now - 35 * 60), cfg, now=now)
    assert not idle_trigger(state(**unknown, last_sleep_at=now - 50 * 60, pressure=0), cfg, now=now)


def test_pressure_trigger():
    cfg = ScheduleConfig(cron=None, idle_minutes=None, pressure=8)
    assert pressure_trigger(state(pressure=8.0), cfg, now=0)
    assert pressure_trigger(state(pressure=12.5), cfg)
    assert not pressure_trigger(state(pressure=7.9), cfg, now=0)
    # Failed audits alone: re-running the same sleep would not help, so do not loop on it.
    assert not pressure_trigger(state(pressure=10.0, edits=0, last_sleep_at=5.0), cfg, now=0)
    assert not pressure_trigger(state(pressure=100.0), OFF, now=0)


def test_builtin_plugin_registers_the_triggers_like_a_third_party():
    from sleepmem.plugin.builtins import schedules

    pm = manager.new_plugin_manager()
    pm.register(schedules, name="schedules")
    table = manager.schedules(pm)
    assert table == {"cron": cron_trigger, "idle": idle_trigger, "pressure": pressure_trigger}


# --------------------------------------------------------------------------- Scheduler


class Sleeper:
    """A real async sleep: records calls and holds each one until released."""

    def __init__(self, hold: float = 0.05) -> None:
        self.calls: list[tuple[str, str]] = []
        self.done: list[str] = []
        self.hold = hold
        self.gate = asyncio.Event()
        self.gate.set()
        self.active = 0
        self.max_active = 0

    async def __call__(self, user_id: str, reason: str) -> dict[str, str]:
        self.calls.append((user_id, reason))
        self.active += 1
        self.max_active = max(self.max_active, self.active)
        try:
            await asyncio.sleep(self.hold)
            await self.gate.wait()
        finally:
            self.active -= 1
        self.done.append(user_id)
        return {"user": user_id}


PRESSURE_ONLY = ScheduleConfig(
    cron=None, idle_minutes=None, pressure=5, min_interval_minutes=10, check_seconds=30
)
TRIGGERS = {"cron": cron_trigger, "idle": idle_trigger, "pressure": pressure_trigger}


def scheduler(states, sleeper, config=PRESSURE_ONLY, triggers=TRIGGERS, **kw) -> Scheduler:
    return Scheduler(
        triggers=triggers, config=config, states=lambda: list(states), sleep=sleeper, **kw
    )


async def test_tick_never_starts_a_second_sleep_while_one_runs():
    sleeper = Sleeper()
    sleeper.gate.clear()
    users = [state(user_id="alice", pressure=6.0)]
    s = scheduler(users, sleeper)
    now = 1_000_000.0
    assert await s.tick(now) == [("alice", "pressure")]
    await asyncio.sleep(0.01)
    assert sleeper.calls == [("alice", "pressure")]
    assert s.running == {"alice"}
    # min-interval off, so only the in-flight sleep keeps the second tick from starting one
    s.config = ScheduleConfig(cron=None, idle_minutes=None, pressure=5, min_interval_minutes=0)
    assert await s.tick(now + 1) == []
    sleeper.gate.set()
    await s.wait_idle()
    assert s.running == set() and sleeper.done == ["alice"]
    assert await s.tick(now + 2) == [("alice", "pressure")]  # free again once it finished
    await s.wait_idle()
    assert len(sleeper.calls) == 2


async def test_tick_skips_a_user_the_service_reports_as_sleeping():
    sleeper = Sleeper()
    s = scheduler([state(pressure=9.0, sleeping=True)], sleeper)
    assert await s.tick(1_000_000.0) == []
    assert sleeper.calls == []


async def test_min_interval_counts_from_last_sleep_and_from_last_start():
    sleeper = Sleeper(hold=0.0)
    now = 1_000_000.0
    users = [state(user_id="a", pressure=9.0, last_sleep_at=now - 5 * 60)]
    s = scheduler(users, sleeper)
    assert await s.tick(now) == []  # slept 5 minutes ago, interval is 10
    assert await s.tick(now + 5 * 60 + 1) == [("a", "pressure")]
    await s.wait_idle()
    # The state still says "slept at now-5min" (e.g. the sleep failed and recorded nothing):
    # the scheduler's own start time keeps it from retrying within the interval.
    assert await s.tick(now + 10 * 60) == []
    assert await s.tick(now + 15 * 60 + 2) == [("a", "pressure")]
    await s.wait_idle()
    assert [c[0] for c in sleeper.calls] == ["a", "a"]


async def test_users_sleep_in_separate_tasks_at_once():
    sleeper = Sleeper()
    sleeper.gate.clear()
    users = [state(user_id=u, pressure=9.0) for u in ("u1", "u2", "u3")]
    users.append(state(user_id="calm", pressure=1.0))
    s = scheduler(users, sleeper)
    started = await s.tick(1_000_000.0)
    assert sorted(started) == [("u1", "pressure"), ("u2", "pressure"), ("u3", "pressure")]
    await asyncio.sleep(0.1)
    assert sleeper.max_active == 3  # all three running, none waiting for another
    sleeper.gate.set()
    await s.wait_idle()
    assert sorted(sleeper.done) == ["u1", "u2", "u3"]


async def test_first_trigger_in_order_wins_and_reasons_are_names(utc):
    cfg = ScheduleConfig(cron="0 3 * * *", idle_minutes=30, pressure=5, min_interval_minutes=0)
    at_3 = ts(2024, 5, 10, 3, 0) + 5
    users = [
        state(user_id="cron+pressure", pressure=9.0),
        state(user_id="idle", pressure=1.0, last_message_at=at_3 - 3600, last_sleep_at=at_3 - 1),
        state(user_id="pressure", pressure=9.0, last_sleep_at=at_3 - 1),
    ]
    sleeper = Sleeper(hold=0.0)
    s = scheduler(users, sleeper, config=cfg)
    assert await s.tick(at_3) == [
        ("cron+pressure", "cron"),
        ("idle", "idle"),
        ("pressure", "pressure"),
    ]
    await s.wait_idle()


async def test_a_failing_trigger_is_logged_and_others_still_run(caplog):
    def broken(state: UserState, config: ScheduleConfig, now: float) -> bool:
        raise RuntimeError("plugin bug")

    def two_args(state: UserState, config: ScheduleConfig) -> bool:  # the old signature
        return state.user_id == "old-style"

    triggers = {"broken": broken, "legacy": two_args, "pressure": pressure_trigger}
    users = [state(user_id="alice", pressure=9.0), state(user_id="old-style", pressure=0.0)]
    sleeper = Sleeper(hold=0.0)
    s = scheduler(users, sleeper, triggers=triggers)
    with caplog.at_level(logging.INFO, logger="sleepmem.schedule"):
        started = await s.tick(1_000_000.0)
        await s.wait_idle()
    assert started == [("alice", "pressure"), ("old-style", "legacy")]
    errors = [r for r in caplog.records if r.levelno == logging.ERROR]
    assert len(errors) == 2 and all("broken" in r.getMessage() for r in errors)
    assert errors[0].exc_info is not None
    lines = [r.getMessage() for r in caplog.records]
    assert "schedule sleep user=alice reason=pressure pressure=9.0 facts=3 pending=0" in lines


async def test_failing_sleeps_and_states_are_logged_not_raised(caplog):
    async def bad_sleep(user_id: str, reason: str) -> None:
        await asyncio.sleep(0.01)
        if user_id == "known":
            raise SleepmemError("nothing to consolidate")
        raise RuntimeError("disk on fire")

    cfg = ScheduleConfig(cron=None, idle_minutes=None, pressure=5, min_interval_minutes=0)
    users = [state(user_id="known", pressure=9.0), state(user_id="bug", pressure=9.0)]
    s = scheduler(users, bad_sleep, config=cfg)
    with caplog.at_level(logging.INFO, logger="sleepmem.schedule"):
        assert len(await s.tick(1.0)) == 2
        await s.wait_idle()
        assert s.running == set()
        assert len(await s.tick(2.0)) == 2  # failures do not leave users stuck as "running"
        await s.wait_idle()
    messages = [(r.levelno, r.getMessage()) for r in caplog.records]
    assert (logging.WARNING, "schedule sleep failed user=known reason=pressure: "
            "nothing to consolidate") in messages  # fmt: skip
    assert any(level == logging.ERROR and "user=bug" in m for level, m in messages)

    def broken_states() -> list[UserState]:
        raise OSError("ledger gone")

    s2 = Scheduler(triggers=TRIGGERS, config=cfg, states=broken_states, sleep=bad_sleep)
    with caplog.at_level(logging.ERROR, logger="sleepmem.schedule"):
        assert await s2.tick(3.0) == []
    assert "could not read the users' states" in caplog.records[-1].getMessage()


def test_a_bad_cron_in_config_fails_at_construction():
    async def never(user_id: str, reason: str) -> None:  # pragma: no cover - never called
        raise AssertionError

    cfg = ScheduleConfig(cron="0 25 * * *")
    with pytest.raises(ConfigError, match=r"schedule\.cron.*hour"):
        Scheduler(triggers=TRIGGERS, config=cfg, states=list, sleep=never)


async def test_start_runs_the_loop_and_stop_ends_it():
    calls = {"states": 0}
    sleeper = Sleeper(hold=0.05)
    now = [1_000_000.0]

    def states() -> list[UserState]:
        calls["states"] += 1
        return [state(user_id="alice", pressure=9.0)]

    cfg = ScheduleConfig(
        cron=None, idle_minutes=None, pressure=5, min_interval_minutes=0, check_seconds=0.01
    )
    s = Scheduler(triggers=TRIGGERS, config=cfg, states=states, sleep=sleeper, clock=lambda: now[0])
    await s.start()
    await s.start()  # a second start is a no-op
    assert s.started
    deadline = time.monotonic() + 5
    while len(sleeper.calls) < 2 and time.monotonic() < deadline:
        await asyncio.sleep(0.01)
    assert sleeper.calls[:2] == [("alice", "pressure")] * 2
    assert sleeper.max_active == 1  # ticks during a sleep never start another for alice
    await s.stop()  # waits for the sleep in flight
    assert not s.started and s.running == set()
    assert len(sleeper.done) == len(sleeper.calls)
    seen = calls["states"]
    await asyncio.sleep(0.05)
    assert calls["states"] == seen  # no more checks after stop


async def test_stop_without_wait_cancels_sleeps_in_flight():
    sleeper = Sleeper()
    sleeper.gate.clear()
    s = scheduler([state(pressure=9.0)], sleeper)
    await s.tick(1_000_000.0)
    await asyncio.sleep(0.01)
    await s.stop(wait=False)
    assert s.running == set() and sleeper.done == []
