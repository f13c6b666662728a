"""`sleepmem bench server`'s concurrency section: requests/s and tokens/s of chat replies
for 1, 4, 8 and 20 users at once, under three ways of generating, on one warm server:

- ``threads``: the server before batched decoding: 4 chat threads (the old default), each
  decoding its own reply with ``Backend.generate``, sharing the cores;
- ``batch_1``: one reply at a time through the batcher;
- ``batch_N``: up to N replies decoded together, one token of each per step (the default);
- ``llamacpp``: llama.cpp on the model's GGUF file with each user's memory as a LoRA adapter
  (``generation: llamacpp``), when llama-cpp-python and the GGUF file are installed.

Each user chats as people do, one request after another: a small-talk question (a reply
of up to ``max_tokens``), then, in a fresh chat, where they live (a short answer). Users who
told the load section their city must name it, and nobody may name another user's city.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
import time
from collections.abc import Iterator, Sequence
from typing import Any

import aiohttp
from sleepmem.engine.batching import Batcher
from sleepmem.engine.errors import SleepmemError

from .bench import CITIES, _ms, _post
from .runner import BackgroundServer

OLD_CHAT_WORKERS = 4  # the server's chat threads before batched decoding
WHERE = "Where do I live?"
SMALL_TALK = [
    "What should I cook tonight?",
    "Any ideas for a rainy weekend?",
    "Tell me something interesting about the sea.",
    "How do I get better at running?",
    "What's a good book for a long train ride?",
]


class _ThreadEach:
    """Replies as the server made them before batching: each chat thread decodes its own
    reply, at most ``OLD_CHAT_WORKERS`` at once."""

    def __init__(self, backend: Any) -> None:
        self._backend = backend
        self._slots = threading.Semaphore(OLD_CHAT_WORKERS)

    def generate(self, ids: Sequence[int], limit: int, factors: Any = None) -> Iterator[Any]:
        text = self._backend.tokenizer.decode(list(ids), skip_special_tokens=False)
        with self._slots:
            yield from self._backend.generate(text, limit, factors)


def _llamacpp(engine: Any) -> Any:
    from sleepmem.engine.llamacpp_replies import LlamaCppReplies, gguf_base

    backend = engine.backend
    base = gguf_base(engine.config, engine.home)
    return LlamaCppReplies(base, backend.decode, backend.stop_ids, backend.context_length or 2048)


def _llamacpp_missing(engine: Any) -> str | None:
    """Why the llamacpp mode cannot run here, or None when it can."""
    import importlib.util

    from sleepmem.engine.llamacpp_replies import gguf_base

    if importlib.util.find_spec("llama_cpp") is None:
        return (
            "llama-cpp-python is not installed "
            "(CMAKE_ARGS=\"-DGGML_OPENMP=OFF\" pip install -e '.[llamacpp]')"
        )
    try:
        gguf_base(engine.config, engine.home)
    except SleepmemError as exc:
        return str(exc)
    return None


@contextlib.contextmanager
def _generating(engine: Any, mode: str, rows: int) -> Iterator[None]:
    batcher = engine.replies
    if not isinstance(batcher, Batcher):
        raise SleepmemError("the concurrency bench needs generation: backend with batched rows")
    widest, max_rows = batcher.widest, batcher.max_rows
    other = None
    try:
        if mode == "threads":
            engine.replies = _ThreadEach(engine.backend)
        elif mode == "llamacpp":
            engine.replies = other = _llamacpp(engine)
        else:
            batcher.max_rows, batcher.widest = rows, 0
        yield
    finally:
        engine.replies = batcher
        batcher.max_rows, batcher.widest = max_rows, widest
        if other is not None:
            other.close()


async def _round(
    server: BackgroundServer, users: int, asks: int, max_tokens: int, cities: dict[str, str]
) -> dict[str, Any]:
    name = server.service.engine.config.server.model_name
    latencies: list[float] = []
    tokens = 0
    failures: list[str] = []
    recalled = asked_known = 0
    crossed: list[str] = []

    async def one_user(session: aiohttp.ClientSession, i: int) -> None:
        nonlocal tokens, recalled, asked_known
        user = f"bench-{i}"
        for n in range(asks * 2):
            small_talk = n % 2 == 0
            question = SMALL_TALK[(i + n // 2) % len(SMALL_TALK)] if small_talk else WHERE
            body = {
                "model": name,
                "messages": [{"role": "user", "content": question}],
                "user": user,
                "max_tokens": max_tokens if small_talk else 16,
            }
            started = time.perf_counter()
            try:
                data = await _post(session, server.url, body)
            except (RuntimeError, aiohttp.ClientError) as exc:
                failures.append(str(exc))
                return
            latencies.append(time.perf_counter() - started)
            tokens += data["usage"]["completion_tokens"]
            answer = data["choices"][0]["message"]["content"].lower()
            if small_talk:
                continue
            if user in cities:
                asked_known += 1
                recalled += cities[user].lower() in answer
            crossed.extend(
                f"{user} answered {city}"
                for other, city in cities.items()
                if other != user and city.lower() in answer and city != cities.get(user)
            )

    started = time.perf_counter()
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=None)) as session:
        await asyncio.gather(*(one_user(session, i) for i in range(users)))
    wall = time.perf_counter() - started
    requests = len(latencies)
    return {
        "users": users,
        "requests": requests,
        "failed_requests": len(failures),
        "failures": failures[:3],
        "wall_s": round(wall, 2),
        "requests_per_s": round(requests / wall, 3),
        "tokens_per_s": round(tokens / wall, 2),
        "latency": _ms(latencies) if latencies else None,
        "own_city_recall": round(recalled / asked_known, 3) if asked_known else None,
        "cross_user_answers": crossed,
    }


def run_concurrency(
    server: BackgroundServer,
    concurrency: Sequence[int] = (1, 4, 8, 20),
    asks: int = 2,
    max_tokens: int = 96,
    cities: dict[str, str] | None = None,
) -> dict[str, Any]:
    """Each mode at each number of users at once, on the running ``server``; ``cities``
    maps the users that told the load section where they live to their city."""
    engine = server.service.engine
    cities = cities or {}
    rows = engine.config.reply_batch
    modes = ["threads", "batch_1"] + ([f"batch_{rows}"] if rows > 1 else [])
    missing = _llamacpp_missing(engine)
    if missing is None:
        modes.append("llamacpp")
    result: dict[str, Any] = {"modes": {}, "kv_bytes_per_token_per_row": _kv_bytes(engine)}
    if missing:
        result["llamacpp_skipped"] = missing
    for mode in modes:
        width = int(mode.split("_")[1]) if mode.startswith("batch") else 1
        runs = []
        with _generating(engine, mode, width):
            # A warm-up reply, so no mode pays for its first call's one-off costs.
            asyncio.run(_round(server, 1, 1, 4, {}))
            for users in concurrency:
                run = asyncio.run(_round(server, users, asks, max_tokens, cities))
                run["widest_batch"] = engine.replies.widest if mode.startswith("batch") else None
                runs.append(run)
                print(
                    f"  {mode:>8} {users:>3} users: {run['requests_per_s']:.2f} requests/s, "
                    f"{run['tokens_per_s']:.1f} tokens/s, "
                    f"median {run['latency']['median_ms'] / 1000 if run['latency'] else 0:.1f} s",
                    flush=True,
                )
        result["modes"][mode] = runs
    base = {r["users"]: r["requests_per_s"] for r in result["modes"]["threads"]}
    result["speedup_vs_threads"] = {
        mode: {
            str(r["users"]): round(r["requests_per_s"] / base[r["users"]], 2)
            for r in runs
            if base.get(r["users"])
        }
        for mode, runs in result["modes"].items()
    }
    held = [engine.factors(u) for u in cities]
    result["factor_bytes_per_user"] = (
        round(sum(_factor_bytes(f) for f in held) / len(held)) if held else None
    )
    return result


def city_users(users: int, messages: int) -> dict[str, str]:
    """The load section's users and the city each told (their first fact)."""
    return {f"bench-{i}": CITIES[i % len(CITIES)] for i in range(users)} if messages else {}


def _factor_bytes(factors: Any) -> int:
    return sum(r.nbytes + a.nbytes for r, a in factors.layers.values())


def _kv_bytes(engine: Any) -> int | None:
    """Bytes of KV cache one row holds per token (keys and values of every layer)."""
    config = getattr(getattr(engine.backend, "model", None), "config", None)
    if config is None or not hasattr(config, "num_key_value_heads"):
        return None
    head = getattr(config, "head_dim", None) or config.hidden_size // config.num_attention_heads
    width = 2 if "16" in str(getattr(engine.backend, "dtype", "")) else 4
    return 2 * config.num_hidden_layers * config.num_key_value_heads * head * width
