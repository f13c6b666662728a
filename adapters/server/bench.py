"""`sleepmem bench server`: what the HTTP layer costs, and many users at once.

Three measurements on the real server over loopback:

1. overhead: a one-token request over HTTP from a client process, paired with the engine's
   own time for that request inside the server; beside it, the same for a bare aiohttp
   route around the same engine call (this machine's floor for any such server);
2. first-token latency of a streamed reply at a client process, paired likewise with the
   engine's own first piece;
3. load: N users each tell M facts concurrently; then every user's ledger must hold exactly
   their facts, and a fresh chat per user must name their own city and no one else's;
4. concurrency (``bench_batch``): requests/s and tokens/s with 1 to 20 users asking at once,
   replies decoded one per thread (the old server), one at a time, or together in a batch.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import statistics
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import aiohttp
from aiohttp import web
from sleepmem.engine.backends.base import GenerationResponse, text_of
from sleepmem.engine.service import MemoryService

from . import bench_client
from .runner import BackgroundServer, listen

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


def median_p95_ms(values: list[float]) -> tuple[float, float]:
    """The median and the 95th percentile (nearest rank) of seconds, in milliseconds."""
    ordered = sorted(values)
    return statistics.median(ordered) * 1000, ordered[max(0, int(len(ordered) * 0.95) - 1)] * 1000


def _ms(values: list[float]) -> dict[str, float]:
    median, p95 = median_p95_ms(values)
    return {"median_ms": round(median, 2), "p95_ms": round(p95, 2), "n": len(values)}


async def _post(session: aiohttp.ClientSession, url: str, body: dict[str, Any], **kw: Any):
    async with session.post(url + "/v1/chat/completions", json=body, **kw) as r:
        data = await r.json()
        if r.status != 200:
            raise RuntimeError(f"HTTP {r.status}: {data}")
        return data


@contextlib.contextmanager
def _engine_timer(engine: Any, sink: list[tuple[float, float]]) -> Iterator[None]:
    """Record each ``engine.reply`` inside the server: seconds from the call to its first
    piece and to the end of its stream, so HTTP times can be paired with the engine's own
    times for the same request."""
    original = engine.reply

    def reply(*args: Any, **kwargs: Any) -> Iterator[GenerationResponse]:
        started = time.perf_counter()
        stream = original(*args, **kwargs)

        def timed() -> Iterator[GenerationResponse]:
            first = None
            try:
                for response in stream:
                    if response.text:  # the first piece, not the closing response
                        first = first or time.perf_counter()
                    yield response
            finally:
                ended = time.perf_counter()
                sink.append(((first or ended) - started, ended - started))

        return timed()

    engine.reply = reply
    try:
        yield
    finally:
        del engine.reply  # back to the class's method


async def _start_floor(engine: Any, pool: ThreadPoolExecutor) -> tuple[web.AppRunner, str]:
    """The least any aiohttp server can do around the same engine call: read the JSON, run
    the reply on a thread, answer JSON. What it costs is this machine's floor, not ours."""

    async def handle(request: web.Request) -> web.Response:
        body = await request.json()

        def generate() -> str:
            return text_of(engine.reply(body["user"], body["messages"], body["max_tokens"]))

        text = await asyncio.get_running_loop().run_in_executor(pool, generate)
        message = {"role": "assistant", "content": text}
        return web.json_response({"choices": [{"index": 0, "message": message}]})

    app = web.Application()
    app.router.add_post("/floor", handle)
    runner, url = await listen(app, "127.0.0.1", 0)
    return runner, url + "/floor"


def _python_after_idle() -> dict[str, float]:
    """How long a few microseconds of Python take right after 100 ms of doing something
    else, against back to back. On a shared VM the first is often 100x the second: caches
    and predictors were taken by other tenants. Every hop of a request pays it once."""

    def work() -> str:
        return json.dumps({"choices": [{"message": {"content": str(sum(range(50)))}}]})

    after_idle, hot = [], []
    for _ in range(10):
        time.sleep(0.1)
        t = time.perf_counter()
        work()
        after_idle.append(time.perf_counter() - t)
        t = time.perf_counter()
        work()
        hot.append(time.perf_counter() - t)
    return {
        "after_100ms_idle_us": round(statistics.median(after_idle) * 1e6, 1),
        "back_to_back_us": round(statistics.median(hot) * 1e6, 1),
    }


def _client(body: dict[str, Any], rounds: int, *urls: str) -> dict[str, list[list[float]]]:
    """Run ``bench_client`` in its own process: per URL, ``[first event, end]`` seconds."""
    done = subprocess.run(
        [sys.executable, "-m", bench_client.__name__, str(rounds), *urls],
        input=json.dumps(body).encode(),
        capture_output=True,
    )
    if done.returncode:
        raise RuntimeError(f"the benchmark client failed: {done.stderr.decode()[-2000:]}")
    return json.loads(done.stdout)


def _request(engine: Any, user: str, question: str, max_tokens: int, **extra: Any):
    return {
        "model": engine.config.server.model_name,
        "messages": [{"role": "user", "content": question}],
        "user": user,
        "max_tokens": max_tokens,
        **extra,
    }


def _overhead(server: BackgroundServer, rounds: int) -> dict[str, Any]:
    """What HTTP and the service add to a one-token reply, and this machine's floor for it.

    Each request is paired with the engine's own time for that same request inside the
    server (separate direct calls differ by which thread, and so which BLAS thread team,
    ran the model: milliseconds on a 2-core machine). The client is its own process, as
    real clients are. The floor is a bare aiohttp route around the same engine call,
    interleaved request by request with ours so both see the same machine.
    """
    engine = server.service.engine
    body = _request(engine, "bench-o", "Say hi.", 1)
    ours = server.url + "/v1/chat/completions"
    inside: list[tuple[float, float]] = []
    with ThreadPoolExecutor(1, thread_name_prefix="bench-floor") as pool:
        runner, floor = server.call(_start_floor(engine, pool), timeout=60)
        try:
            with _engine_timer(engine, inside):
                times = _client(body, rounds, ours, floor)
        finally:
            server.call(runner.cleanup(), timeout=60)
    engine_ours = [total for _, total in inside[2::2]]  # the first two warmed up
    engine_floor = [total for _, total in inside[3::2]]
    ours_added = [h - e for (_, h), e in zip(times[ours], engine_ours)]
    floor_added = [h - e for (_, h), e in zip(times[floor], engine_floor)]
    return {
        "engine_in_server": _ms(engine_ours),
        "http": _ms([total for _, total in times[ours]]),
        "overhead_ms": round(statistics.median(ours_added) * 1000, 2),
        "floor_overhead_ms": round(statistics.median(floor_added) * 1000, 2),
        "sleepmem_over_floor_ms": round(
            statistics.median(o - f for o, f in zip(ours_added, floor_added)) * 1000, 2
        ),
        "python_after_idle": _python_after_idle(),
    }


def _first_token(server: BackgroundServer, rounds: int) -> dict[str, Any]:
    """A streamed 32-token reply: the first event's arrival at a client process, against the
    engine's own first piece for the same request."""
    engine = server.service.engine
    body = _request(engine, "bench-f", "What is a good name for a cat?", 32, stream=True)
    url = server.url + "/v1/chat/completions"
    inside: list[tuple[float, float]] = []
    with _engine_timer(engine, inside):
        times = _client(body, rounds, url)[url]
    engine_first = [first for first, _ in inside[1:]]
    http_first = [first for first, _ in times]
    return {
        "http_first_token": _ms(http_first),
        "engine_first_token": _ms(engine_first),
        "added_ms": round(
            statistics.median(h - e for h, e in zip(http_first, engine_first)) * 1000, 2
        ),
    }


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
        answer = text_of(
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
    service: MemoryService,
    users: int = 20,
    messages: int = 5,
    rounds: int = 40,
    concurrency: Sequence[int] = (1, 4, 8, 20),
) -> dict[str, Any]:
    """The measurements on a fresh server for ``service``; returns the JSON report. The
    concurrency section (``bench_batch``) runs last, on the load section's memories."""
    from .bench_batch import city_users, run_concurrency

    with BackgroundServer(service) as server:
        result: dict[str, Any] = {"model": service.engine.backend.model_id}
        if rounds > 0:
            result["overhead"] = _overhead(server, rounds)
            result["first_token"] = _first_token(server, max(3, rounds // 4))
        if users > 0:
            result["load"] = asyncio.run(_load(server, users, messages))
        if concurrency:
            cities = city_users(users, messages)
            result["concurrency"] = run_concurrency(server, concurrency, cities=cities)
    return result
