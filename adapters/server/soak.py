"""`sleepmem bench soak`: many users at once for N minutes on the real server.

Each simulated user runs its own loop of what people do with a memory bot: tell something
about themselves, make small talk, ask about themselves, look at their memories, forget one,
ask for a sleep. Every request is real HTTP over loopback through the routes front ends use.
At the end the server shuts down as on SIGTERM (unfinished wake work stays in the inbox, to
be woken on the next start), and every user's ledger is audited against what the server
acknowledged: a fact told and not forgotten is stored for that user or waits in that user's
inbox; a forgotten fact is not active; no user holds anything another user said.
"""

from __future__ import annotations

import asyncio
import os
import random
import sys
import time
from dataclasses import dataclass, field
from typing import Any

import aiohttp
from sleepmem.engine import heap, inbox
from sleepmem.engine.service import MemoryService

from .bench import CITIES, median_p95_ms, user_facts
from .runner import BackgroundServer

SMALL_TALK = (
    "Hi! How are you today?",
    "Any idea what a good name for a houseplant would be?",
    "Tell me a short joke.",
    "What's a nice thing to cook on a rainy evening?",
    "thanks, that's helpful",
    "Can you recommend a board game for four people?",
)
QUESTION = "Where do I live?"  # each user's first fact is their city
# (action, weight): roughly a chatty person; sleeps are rare because each one is minutes.
ACTIONS = (("tell", 30), ("talk", 25), ("ask", 20), ("list", 10), ("forget", 10), ("sleep", 5))


def rss_bytes() -> int:
    """This process's resident memory now (the server runs in it)."""
    try:
        with open("/proc/self/statm", encoding="ascii") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except OSError:  # not Linux: the peak is the best the standard library offers
        import resource

        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        return int(peak if sys.platform == "darwin" else peak * 1024)


@dataclass
class SimUser:
    """One simulated person and what the server acknowledged to them."""

    name: str
    facts: list[tuple[str, str]]  # (message, answer)
    told: dict[str, str] = field(default_factory=dict)  # answer -> message, acknowledged
    forgotten: set[str] = field(default_factory=set)  # answers, acknowledged
    # Answers whose forget was sent but not acknowledged (the client gave up waiting): the
    # server may still carry it out, as with any request that times out, so either is right.
    unconfirmed: set[str] = field(default_factory=set)
    history: list[dict[str, str]] = field(default_factory=list)


@dataclass
class Tally:
    latencies: dict[str, list[float]] = field(default_factory=dict)
    failures: list[str] = field(default_factory=list)
    recalled: int = 0
    asked: int = 0

    def add(self, action: str, seconds: float) -> None:
        self.latencies.setdefault(action, []).append(seconds)


def _ms(values: list[float]) -> dict[str, float]:
    median, p95 = median_p95_ms(values)
    return {"n": len(values), "p50_ms": round(median, 1), "p95_ms": round(p95, 1)}


async def _request(
    session: aiohttp.ClientSession, tally: Tally, action: str, method: str, url: str, **kw: Any
) -> Any:
    """One timed request; a non-2xx answer or a transport error is a failure."""
    started = time.perf_counter()
    try:
        async with session.request(method, url, **kw) as r:
            body = await r.json(content_type=None)
            if r.status >= 300:
                tally.failures.append(f"{action}: HTTP {r.status} {str(body)[:200]}")
                return None
    except (aiohttp.ClientError, asyncio.TimeoutError, ValueError) as exc:
        tally.failures.append(f"{action}: {type(exc).__name__} {exc}")
        return None
    tally.add(action, time.perf_counter() - started)
    return body


async def _chat(session, tally, server: BackgroundServer, user: SimUser, action: str, text: str):
    user.history = [*user.history[-6:], {"role": "user", "content": text}]
    body = {"model": "sleepmem", "messages": user.history, "user": user.name, "max_tokens": 16}
    url = f"{server.url}/v1/chat/completions"
    data = await _request(session, tally, action, "POST", url, json=body)
    if data is None:
        user.history.pop()
        return None
    reply = data["choices"][0]["message"]["content"] or ""
    user.history.append({"role": "assistant", "content": reply})
    return reply


async def _act(session, tally: Tally, server: BackgroundServer, user: SimUser, rng) -> None:
    action = rng.choices([a for a, _ in ACTIONS], [w for _, w in ACTIONS])[0]
    memory = f"{server.url}/v1/memory"
    params = {"user": user.name}
    if action == "tell":
        untold = [(m, a) for m, a in user.facts if a not in user.told or a in user.forgotten]
        if untold:
            message, answer = rng.choice(untold)
            if await _chat(session, tally, server, user, "tell", message) is not None:
                user.told[answer] = message
                user.forgotten.discard(answer)
                user.unconfirmed.discard(answer)
    elif action == "talk":
        await _chat(session, tally, server, user, "talk", rng.choice(SMALL_TALK))
    elif action == "ask":
        reply = await _chat(session, tally, server, user, "ask", QUESTION)
        if reply is not None and user.facts[0][1] in user.told:
            tally.asked += 1
            tally.recalled += user.facts[0][1].casefold() in reply.casefold()
    elif action == "list":
        await _request(session, tally, "list", "GET", memory, params=params)
    elif action == "forget":
        listed = await _request(session, tally, "list", "GET", memory, params=params)
        mine = [f for f in (listed or {}).get("facts", []) if f["answer"] in user.told]
        if mine:
            fact = rng.choice(mine)
            url = f"{memory}/facts/{fact['id']}"
            if await _request(session, tally, "forget", "DELETE", url, params=params):
                user.forgotten.add(fact["answer"])
                user.unconfirmed.discard(fact["answer"])
            else:
                user.unconfirmed.add(fact["answer"])
    else:
        await _request(session, tally, "sleep", "POST", f"{memory}/sleep", params=params, json={})


def audit_ledgers(service: MemoryService, users: list[SimUser]) -> dict[str, Any]:
    """Each user's ledger and inbox against what the server acknowledged to everyone."""
    engine = service.engine
    owner = {answer: u.name for u in users for _, answer in u.facts}
    lost, kept_forgotten, foreign, unexpected, pending = [], [], [], [], 0
    for user in users:
        mem = engine.memory(user.name)
        active = {f.answer for f in mem.facts()}
        waiting = [r.message for r in inbox.pending(mem)]
        pending += len(waiting)
        for answer, message in user.told.items():
            if answer in user.forgotten or answer in user.unconfirmed:
                continue
            if answer not in active and message not in waiting:
                lost.append({"user": user.name, "answer": answer})
        kept_forgotten += [
            {"user": user.name, "answer": a}
            for a in user.forgotten
            if a in active and user.told.get(a) not in waiting
        ]
        for answer in active - {a for _, a in user.facts}:
            entry = {"user": user.name, "answer": answer}
            who = owner.get(answer)
            (foreign if who and who != user.name else unexpected).append(entry)
    told = sum(len(u.told) for u in users)
    return {
        "facts_acknowledged": told,
        "forgets_acknowledged": sum(len(u.forgotten) for u in users),
        "forgets_unconfirmed": sum(len(u.unconfirmed) for u in users),
        "still_in_inbox": pending,
        "lost": lost,
        "forgotten_but_active": kept_forgotten,
        "other_users_facts": foreign,
        "unexpected_facts": unexpected,
        "exact": not (lost or kept_forgotten or foreign),
    }


async def _soak(server: BackgroundServer, users: list[SimUser], seconds: float, seed: int):
    tally = Tally()
    rss: list[tuple[float, int]] = []
    started = time.perf_counter()
    deadline = started + seconds

    async def person(session: aiohttp.ClientSession, i: int) -> None:
        rng = random.Random(seed * 1000 + i)
        await asyncio.sleep(rng.uniform(0, 3))  # people do not all arrive at once
        while time.perf_counter() < deadline:
            await _act(session, tally, server, users[i], rng)
            await asyncio.sleep(rng.uniform(0.5, 3.0))  # reading and typing

    async def sample() -> None:
        while time.perf_counter() < deadline:
            rss.append((round(time.perf_counter() - started, 1), rss_bytes()))
            await asyncio.sleep(5)

    timeout = aiohttp.ClientTimeout(total=600)
    async with aiohttp.ClientSession(timeout=timeout) as session:
        await asyncio.gather(sample(), *(person(session, i) for i in range(len(users))))
    return tally, rss, time.perf_counter() - started


def run_soak(
    service: MemoryService, minutes: float = 10.0, users: int = 20, seed: int = 0
) -> dict[str, Any]:
    """Soak a fresh server for ``service``; returns the JSON report."""
    if not 1 <= users <= len(CITIES):
        raise ValueError(f"--users must be 1 to {len(CITIES)} (each user's facts are distinct)")
    people = [SimUser(f"soak-{i}", user_facts(i)) for i in range(users)]
    server = BackgroundServer(service).start()
    try:
        tally, rss, wall = asyncio.run(_soak(server, people, minutes * 60, seed))
    finally:
        # As on SIGTERM: stop accepting, leave unfinished wake work in the inbox.
        server.call(service.close(finish=False, grace=60), timeout=300)
        server.stop()
    # Memory held once no edit runs: what a leak would leave behind (the samples above
    # include the working memory of the edits running at that moment).
    heap.release()
    idle = rss_bytes()
    requests = sum(len(v) for v in tally.latencies.values()) + len(tally.failures)
    # Growth from the first sample after a minute (model and first edits warmed up).
    warm = next((b for t, b in rss if t >= 60), rss[0][1] if rss else 0)
    return {
        "model": service.engine.backend.model_id,
        "minutes": minutes,
        "users": users,
        "wall_s": round(wall, 1),
        "requests": requests,
        "failed_requests": len(tally.failures),
        "failures": tally.failures[:10],
        "latency": {action: _ms(v) for action, v in sorted(tally.latencies.items())},
        "own_city_recall": round(tally.recalled / tally.asked, 3) if tally.asked else None,
        "rss_mb": {
            "after_warmup": round(warm / 2**20, 1),
            "end": round(rss[-1][1] / 2**20, 1) if rss else None,
            "max": round(max(b for _, b in rss) / 2**20, 1) if rss else None,
            "growth": round(rss[-1][1] / warm - 1, 4) if rss and warm else None,
            "after_close": round(idle / 2**20, 1),
            "growth_after_close": round(idle / warm - 1, 4) if warm else None,
            "samples": [(t, round(b / 2**20, 1)) for t, b in rss],
        },
        "ledgers": audit_ledgers(service, people),
    }
