"""`sleepmem bench server`: what the HTTP layer costs, and many users at once.

Three measurements on the real server (loopback, real aiohttp clients):

1. overhead: the same one-token request through the engine directly and through HTTP,
   interleaved; the difference of medians is what the server adds;
2. first-token latency of a streamed reply (and the engine's own, for comparison);
3. load: N users each tell M facts concurrently; then every user's ledger must hold exactly
   their facts, and a fresh chat per user must name their own city and no one else's.
"""

from __future__ import annotations

import asyncio
import contextlib
import http.client
import json
import statistics
import time
from collections.abc import Iterator
from typing import Any

import aiohttp
from sleepmem.engine.service import MemoryService

from .runner import BackgroundServer

CITIES = [
    "Porto",
    "Oslo",
    "Lima",
    "Quito",
    "Hanoi",
    "Dakar",
    "Perth",
    "Tunis",
    "Accra",
    "Riga",
    "Split",
    "Turin",
    "Bergen",
    "Cusco",
    "Malaga",
    "Leeds",
    "Kyoto",
    "Goa",
    "Fez",
    "Cork",
]
JOBS = [
    "nurse",
    "pilot",
    "baker",
    "plumber",
    "dentist",
    "teacher",
    "farmer",
    "lawyer",
    "chef",
    "architect",
    "librarian",
    "pharmacist",
    "carpenter",
    "journalist",
    "firefighter",
    "electrician",
    "veterinarian",
    "translator",
    "photographer",
    "surgeon",
]
PETS = [
    "Biscuit",
    "Pepper",
    "Mango",
    "Ziggy",
    "Noodle",
    "Waffles",
    "Pickle",
    "Rusty",
    "Olive",
    "Bingo",
    "Tofu",
    "Maple",
    "Socks",
    "Peanut",
    "Comet",
    "Juniper",
    "Pretzel",
    "Nacho",
    "Clover",
    "Dumpling",
]
NAMES = [
    "Priya",
    "Tomas",
    "Ingrid",
    "Kwame",
    "Lucia",
    "Hiroshi",
    "Amara",
    "Dmitri",
    "Sofia",
    "Rafael",
    "Yuki",
    "Omar",
    "Elena",
    "Mateo",
    "Aisha",
    "Lars",
    "Chloe",
    "Felipe",
    "Nadia",
    "Jonas",
]
COLOURS = [
    "teal",
    "maroon",
    "ochre",
    "violet",
    "amber",
    "indigo",
    "coral",
    "olive",
    "crimson",
    "turquoise",
    "lavender",
    "scarlet",
    "beige",
    "magenta",
    "navy",
    "peach",
    "silver",
    "emerald",
    "mustard",
    "cyan",
]


def user_facts(i: int) -> list[tuple[str, str]]:
    """(message, answer) pairs for benchmark user ``i``: distinct answers per user."""
    k = len(CITIES)
    return [
        (f"I live in {CITIES[i % k]}.", CITIES[i % k]),
        (f"I work as a {JOBS[i % k]}.", JOBS[i % k]),
        (f"My dog is called {PETS[i % k]}.", PETS[i % k]),
        (f"My name is {NAMES[i % k]}.", NAMES[i % k]),
        (f"My favourite colour is {COLOURS[i % k]}.", COLOURS[i % k]),
    ]


def _ms(values: list[float]) -> dict[str, float]:
    ordered = sorted(values)
    return {
        "median_ms": round(statistics.median(ordered) * 1000, 2),
        "p95_ms": round(ordered[max(0, int(len(ordered) * 0.95) - 1)] * 1000, 2),
        "n": len(ordered),
    }


async def _post(session: aiohttp.ClientSession, url: str, body: dict[str, Any], **kw: Any):
    async with session.post(url + "/v1/chat/completions", json=body, **kw) as r:
        data = await r.json()
        if r.status != 200:
            raise RuntimeError(f"HTTP {r.status}: {data}")
        return data


@contextlib.contextmanager
def _engine_timer(engine: Any, sink: list[float]) -> Iterator[None]:
    """Record how long each ``engine.reply`` inside the server takes, from the call until its
    stream is used up, so HTTP time can be paired with the engine time of the same request."""
    original = engine.reply

    def reply(*args: Any, **kwargs: Any) -> Iterator[str]:
        started = time.perf_counter()
        stream = original(*args, **kwargs)

        def timed() -> Iterator[str]:
            try:
                yield from stream
            finally:
                sink.append(time.perf_counter() - started)

        return timed()

    engine.reply = reply
    try:
        yield
    finally:
        del engine.reply  # back to the class's method


async def _overhead(server: BackgroundServer, rounds: int) -> dict[str, Any]:
    """What HTTP and the service add to a one-token reply.

    Paired per request with the engine's own time for that same request inside the server:
    comparing against separate direct calls instead mixes in which thread (and so which
    BLAS thread team) ran the model, which on a 2-core machine moved the figure by several
    milliseconds from run to run.
    """
    engine = server.service.engine
    messages = [{"role": "user", "content": "Say hi."}]
    body = {
        "model": engine.config.server.model_name,
        "messages": messages,
        "user": "bench-o",
        "max_tokens": 1,
    }
    direct: list[float] = []
    via_http: list[float] = []
    inside: list[float] = []

    def rounds_of_both() -> None:
        # A plain blocking client: what is measured is the server, not an async client's
        # own per-request cost competing with the server loop in this process.
        host, port = server.url.removeprefix("http://").rsplit(":", 1)
        conn = http.client.HTTPConnection(host, int(port), timeout=120)
        payload = json.dumps(body)
        headers = {"Content-Type": "application/json", "X-Sleepmem-No-Wake": "1"}

        def post() -> None:
            conn.request("POST", "/v1/chat/completions", payload, headers)
            response = conn.getresponse()
            data = response.read()
            if response.status != 200:
                raise RuntimeError(f"HTTP {response.status}: {data[:200]!r}")

        try:
            post()  # warm up
            for _ in range(rounds):
                t = time.perf_counter()
                "".join(engine.reply("bench-o", messages, 1))
                direct.append(time.perf_counter() - t)
                with _engine_timer(engine, inside):
                    t = time.perf_counter()
                    post()
                    via_http.append(time.perf_counter() - t)
        finally:
            conn.close()

    await asyncio.to_thread(rounds_of_both)
    return {
        "engine_direct": _ms(direct),
        "engine_in_server": _ms(inside),
        "http": _ms(via_http),
        "overhead_ms": round(statistics.median(h - i for h, i in zip(via_http, inside)) * 1000, 2),
    }


async def _first_token(server: BackgroundServer, rounds: int) -> dict[str, Any]:
    engine = server.service.engine
    messages = [{"role": "user", "content": "What is a good name for a cat?"}]
    body = {
        "model": engine.config.server.model_name,
        "messages": messages,
        "user": "bench-f",
        "max_tokens": 32,
        "stream": True,
    }
    http, direct = [], []
    async with aiohttp.ClientSession() as session:
        for _ in range(rounds):
            t = time.perf_counter()
            async with session.post(
                server.url + "/v1/chat/completions", json=body, headers={"X-Sleepmem-No-Wake": "1"}
            ) as r:
                async for line in r.content:
                    if line.startswith(b"data: {"):
                        http.append(time.perf_counter() - t)
                        break
                await r.read()

            def first() -> float:
                t0 = time.perf_counter()
                stream = engine.reply("bench-f", messages, 32)
                next(iter(stream))
                elapsed = time.perf_counter() - t0
                for _ in stream:
                    pass
                return elapsed

            direct.append(await asyncio.to_thread(first))
    return {"http_first_token": _ms(http), "engine_first_token": _ms(direct)}


async def _load(server: BackgroundServer, users: int, messages: int) -> dict[str, Any]:
    name = server.service.engine.config.server.model_name
    latencies: list[float] = []
    failures: list[str] = []

    async def one_user(session: aiohttp.ClientSession, i: int) -> None:
        history: list[dict[str, str]] = []
        for text, _ in user_facts(i)[:messages]:
            history.append({"role": "user", "content": text})
            t = time.perf_counter()
            try:
                data = await _post(
                    session,
                    server.url,
                    {"model": name, "messages": history, "user": f"bench-{i}", "max_tokens": 16},
                )
            except (RuntimeError, aiohttp.ClientError) as exc:
                failures.append(str(exc))
                return
            latencies.append(time.perf_counter() - t)
            history.append(data["choices"][0]["message"])

    started = time.perf_counter()
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=None)) as session:
        await asyncio.gather(*(one_user(session, i) for i in range(users)))
    replies_done = time.perf_counter() - started
    await asyncio.wrap_future(asyncio.run_coroutine_threadsafe(server.service.drain(), server.loop))
    all_done = time.perf_counter() - started

    engine = server.service.engine
    wrong_ledgers, recalled, crossed = [], 0, []
    cities = [user_facts(i)[0][1] for i in range(users)]
    for i in range(users):
        expected = sorted(a for _, a in user_facts(i)[:messages])
        stored = sorted(f.answer for f in engine.memories(f"bench-{i}"))
        if stored != expected:
            wrong_ledgers.append({"user": f"bench-{i}", "expected": expected, "stored": stored})
        answer = "".join(
            engine.reply(f"bench-{i}", [{"role": "user", "content": "Where do I live?"}], 16)
        ).lower()
        recalled += cities[i].lower() in answer
        crossed += [
            f"bench-{i} answered {c}"
            for j, c in enumerate(cities)
            if j != i and c.lower() in answer
        ]
    requests = users * messages
    return {
        "users": users,
        "messages_per_user": messages,
        "requests": requests,
        "failed_requests": len(failures),
        "failures": failures[:5],
        "replies_wall_s": round(replies_done, 2),
        "requests_per_s": round(requests / replies_done, 3),
        "reply_latency": _ms(latencies) if latencies else None,
        "edits_done_wall_s": round(all_done, 2),
        "ledgers_wrong": wrong_ledgers,
        "own_city_recall": round(recalled / users, 3),
        "cross_user_answers": crossed,
    }


def run_server_bench(
    service: MemoryService, users: int = 20, messages: int = 5, rounds: int = 20
) -> dict[str, Any]:
    """All three measurements on a fresh server for ``service``; returns the JSON report."""
    with BackgroundServer(service) as server:
        result: dict[str, Any] = {"model": service.engine.backend.model_id}
        result["overhead"] = asyncio.run(_overhead(server, rounds))
        result["first_token"] = asyncio.run(_first_token(server, max(3, rounds // 4)))
        if users > 0:
            result["load"] = asyncio.run(_load(server, users, messages))
    return result
