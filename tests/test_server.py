"""The OpenAI-compatible server, over real HTTP on loopback, with the real model.

Clients are the official ``openai`` package and aiohttp; nothing here is mocked. Every test
uses its own server and memory home, so facts cannot leak between tests.
"""

from __future__ import annotations

import asyncio
import json

import aiohttp
import openai
import pytest
from sleepmem.adapters.server.runner import check_bind
from sleepmem.engine.config import load_config
from sleepmem.engine.errors import ConfigError


def client(server, key: str = "none", **headers: str) -> openai.OpenAI:
    return openai.OpenAI(
        base_url=server.url + "/v1", api_key=key, default_headers=headers, max_retries=0
    )


def ask(server, user: str, question: str, **kw) -> str:
    r = client(server).chat.completions.create(
        model="sleepmem",
        messages=[{"role": "user", "content": question}],
        user=user,
        max_tokens=24,
        **kw,
    )
    return r.choices[0].message.content or ""


async def raw(server, method: str, path: str, **kw):
    async with aiohttp.ClientSession() as s, s.request(method, server.url + path, **kw) as r:
        text = await r.text()
        return r.status, (json.loads(text) if text.startswith("{") else text)


def facts_of(server, user: str) -> list[str]:
    return [f.answer for f in server.service.engine.memories(user)]


def test_models_and_chat_streaming_matches_plain(serve):
    server = serve()
    c = client(server)
    assert [m.id for m in c.models.list().data] == ["sleepmem"]
    messages = [{"role": "user", "content": "Name a colour of the sky."}]
    plain = c.chat.completions.create(model="sleepmem", messages=messages, user="u1", max_tokens=12)
    assert plain.object == "chat.completion"
    backend = server.service.engine.backend
    reply = plain.choices[0].message.content
    assert plain.usage.prompt_tokens == backend.token_count(backend.chat_text(messages))
    assert plain.usage.completion_tokens == backend.token_count(reply) > 0
    assert plain.usage.total_tokens == plain.usage.prompt_tokens + plain.usage.completion_tokens
    assert plain.choices[0].finish_reason == (
        "length" if plain.usage.completion_tokens == 12 else "stop"
    )
    chunks = list(
        c.chat.completions.create(
            model="sleepmem",
            messages=messages,
            user="u1",
            max_tokens=12,
            stream=True,
            stream_options={"include_usage": True},
        )
    )
    streamed = "".join(ch.choices[0].delta.content or "" for ch in chunks if ch.choices)
    assert streamed == plain.choices[0].message.content  # greedy: same reply either way
    assert chunks[0].choices[0].delta.role == "assistant"
    assert chunks[-2].choices[0].finish_reason == plain.choices[0].finish_reason
    assert chunks[-1].usage == plain.usage and chunks[-1].choices == []  # OpenAI's shape


def test_wake_after_reply_is_per_user_and_commands_work_in_chat(serve):
    server = serve()
    reply = ask(server, "alice", "I live in Porto.")
    assert reply  # answered before any edit ran
    server.call(server.service.drain(), timeout=300)
    assert facts_of(server, "alice") == ["Porto"]
    assert facts_of(server, "bob") == []
    assert "porto" in ask(server, "alice", "Where do I live?").lower()
    assert "porto" not in ask(server, "bob", "Where do I live?").lower()
    listing = ask(server, "alice", "/memories")
    assert "Porto" in listing
    streamed = client(server).chat.completions.create(
        model="sleepmem",
        messages=[{"role": "user", "content": "/memories"}],
        user="bob",
        stream=True,
    )
    assert "don't remember anything" in "".join(
        ch.choices[0].delta.content or "" for ch in streamed if ch.choices
    )


async def test_facts_over_the_budget_are_listed_as_archived_after_a_sleep(serve):
    server = await asyncio.to_thread(serve, max_facts=1)
    told = []
    for text in ("My dog is called Biscuit.", "My cat is called Mochi."):
        status, body = await raw(server, "POST", "/v1/memory/facts?user=cy", json={"text": text})
        assert status == 201, body
        told += body["added"]
    status, body = await raw(server, "POST", "/v1/memory/sleep?user=cy", json={"wait": True})
    assert status == 200 and body["archived"] == [told[0]["id"]], body
    _, body = await raw(server, "GET", "/v1/memory?user=cy")
    assert [f["id"] for f in body["facts"]] == [told[1]["id"]]
    assert [(f["id"], f["status"]) for f in body["archived"]] == [(told[0]["id"], "archived")]
    _, body = await raw(server, "GET", "/v1/memory/status?user=cy")
    assert (body["facts"], body["archived"]) == (1, 1)


async def test_memory_api(serve):
    server = await asyncio.to_thread(
        serve, **{"server.admin_keys": ["adm"], "server.api_keys": {"ka": "alice", "kb": "bob"}}
    )
    a = {"Authorization": "Bearer ka"}
    status, body = await raw(
        server, "POST", "/v1/memory/facts", headers=a, json={"text": "My dog is called Biscuit."}
    )
    assert status == 201, body
    fact = body["added"][0]
    assert fact["answer"] == "Biscuit" and fact["status"] == "active"
    status, body = await raw(server, "GET", "/v1/memory", headers=a)
    assert [f["id"] for f in body["facts"]] == [fact["id"]] and body["user"] == "alice"
    # bob's key sees nothing of alice, even when naming her
    status, body = await raw(
        server,
        "GET",
        "/v1/memory?user=alice",
        headers={"Authorization": "Bearer kb", "X-Sleepmem-User": "alice"},
    )
    assert body == {"user": "bob", "facts": [], "archived": []}
    status, body = await raw(
        server, "DELETE", f"/v1/memory/facts/{fact['id']}", headers={"Authorization": "Bearer kb"}
    )
    assert status == 404 and body["error"]["code"] == "fact_not_found"
    status, body = await raw(server, "GET", "/v1/memory/status", headers=a)
    assert body["facts"] == 1 and body["pending"] == 0 and body["pressure"] > 0
    status, body = await raw(server, "POST", "/v1/memory/sleep", headers=a, json={"wait": True})
    assert status == 200 and body["facts"] == 1, body
    # the report says which facts were audited and which failed (the memory page shows it)
    assert body["audited"] == [fact["id"]] and set(body["failed"]) <= {fact["id"]}
    # a queued sleep reports its steps in the status while it runs, then joins the history
    status, body = await raw(server, "POST", "/v1/memory/sleep", headers=a, json={})
    assert status == 202, body
    seen = []
    for _ in range(6000):
        _, now = await raw(server, "GET", "/v1/memory/status", headers=a)
        if now["sleeping"]:
            seen.append(now["sleep_progress"])
        elif now["pending"] == 0 and now["last_sleep"]["id"] == 2:
            break
        await asyncio.sleep(0.05)
    steps = ["audit", "re-solve", "audit new", "verdict"]
    assert seen and all(p["total"] == 4 and p["done"] == steps[: len(p["done"])] for p in seen)
    assert now["sleep_progress"] is None
    status, body = await raw(server, "GET", "/v1/memory/export", headers=a)
    assert body["model"] and body["facts"][0]["answer"] == "Biscuit"
    assert [s["id"] for s in body["sleeps"]] == [1, 2]
    status, body = await raw(
        server, "POST", "/v1/memory/command", headers=a, json={"text": "/memories"}
    )
    assert "Biscuit" in body["reply"]
    status, body = await raw(server, "GET", "/v1/admin/users", headers=a)
    assert status == 403
    status, body = await raw(
        server, "GET", "/v1/admin/users", headers={"Authorization": "Bearer adm"}
    )
    assert [u["user"] for u in body["users"]] == ["alice"]
    status, body = await raw(server, "DELETE", f"/v1/memory/facts/{fact['id']}", headers=a)
    assert status == 200 and body["forgotten"][0]["id"] == fact["id"]
    assert server.service.engine.memories("alice") == []


WEATHER_TOOL = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "The weather in a city.",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}},
    },
}


async def test_bad_input_gets_openai_errors_and_loses_nothing(serve):
    server = await asyncio.to_thread(serve)
    await asyncio.to_thread(server.service.engine.remember, "carol", "I live in Lima.")
    before = facts_of(server, "carol")
    url = "/v1/chat/completions"
    user_msg = [{"role": "user", "content": "hi"}]
    cases = [
        (dict(data=b"{not json", headers={"Content-Type": "application/json"}), 400),
        (dict(json={"model": "sleepmem", "user": "carol"}), 400),  # no messages
        (dict(json={"model": "gpt-9", "messages": user_msg, "user": "carol"}), 404),
        (dict(json={"model": "sleepmem", "messages": user_msg}), 400),  # nobody named
        (dict(json={"model": "sleepmem", "messages": user_msg, "user": "../x"}), 400),
        (dict(json={"model": "sleepmem", "messages": user_msg, "user": "carol", "n": 2}), 400),
        (
            dict(
                json={
                    "model": "sleepmem",
                    "messages": user_msg,
                    "user": "carol",
                    "tools": [WEATHER_TOOL],
                    "tool_choice": "required",  # a call this model can never make
                }
            ),
            400,
        ),
        (
            dict(
                json={
                    "model": "sleepmem",
                    "user": "carol",
                    "messages": [{"role": "user", "content": "x" * 2_000_000}],
                }
            ),
            400,
        ),
        (
            dict(
                json={
                    "model": "sleepmem",
                    "user": "carol",
                    "messages": [{"role": "wizard", "content": "hi"}],
                }
            ),
            400,
        ),
        (dict(data=b"x" * 5_000_000), 413),
    ]
    for kwargs, expected in cases:
        status, body = await raw(server, "POST", url, **kwargs)
        assert status == expected, (kwargs.get("json", "raw"), body)
        assert set(body["error"]) == {"message", "type", "param", "code"}
    status, body = await raw(server, "GET", "/v1/nothing-here")
    assert status == 404 and "error" in body
    # a client that drops a stream halfway: the server carries on serving
    async with (
        aiohttp.ClientSession() as s,
        s.post(
            server.url + url,
            json={
                "model": "sleepmem",
                "messages": [{"role": "user", "content": "Tell me a story."}],
                "user": "carol",
                "stream": True,
                "max_tokens": 200,
            },
        ) as r,
    ):
        assert r.status == 200
        await r.content.readline()
    assert "lima" in (await asyncio.to_thread(ask, server, "carol", "Where do I live?")).lower()
    await asyncio.to_thread(server.call, server.service.drain(), 300)
    assert facts_of(server, "carol") == before
    # Tools merely offered (Open WebUI 0.12 offers its built-in ones with every chat) are
    # not a reason to refuse: the model answers in text from its memory, as without them.
    status, body = await raw(
        server,
        "POST",
        url,
        json={
            "model": "sleepmem",
            "messages": [{"role": "user", "content": "Where do I live?"}],
            "user": "carol",
            "tools": [WEATHER_TOOL],
            "tool_choice": "auto",
            "max_tokens": 12,
        },
    )
    assert status == 200, body
    assert "lima" in body["choices"][0]["message"]["content"].lower()
    assert "tool_calls" not in body["choices"][0]["message"]


async def test_keys_and_open_webui_headers_route_users(serve):
    server = await asyncio.to_thread(serve, **{"server.api_keys": {"kd": "dave", "front": "*"}})
    c = client(server, "wrong")
    with pytest.raises(openai.AuthenticationError):
        c.models.list()
    # a trusted front end names users with Open WebUI's forwarded headers
    front = {"Authorization": "Bearer front", "X-OpenWebUI-User-Id": "owui-1"}
    status, body = await raw(
        server, "POST", "/v1/memory/facts", headers=front, json={"text": "I play the cello."}
    )
    assert status == 201 and body["added"][0]["answer"] == "cello"
    assert facts_of(server, "owui-1") == ["cello"]
    # a per-user key cannot act as anyone else, whatever the headers say
    spoof = {"Authorization": "Bearer kd", "X-OpenWebUI-User-Id": "owui-1"}
    status, body = await raw(server, "DELETE", "/v1/memory", headers=spoof)
    assert status == 200 and body == {"forgotten": 0}
    assert facts_of(server, "owui-1") == ["cello"]


def test_non_loopback_bind_needs_keys():
    cfg = load_config(discover=False, env={}, overrides={"server.host": "0.0.0.0"})
    with pytest.raises(ConfigError, match="no API keys"):
        check_bind(cfg)
    check_bind(
        load_config(
            discover=False,
            env={},
            overrides={"server.host": "0.0.0.0", "server.api_keys": {"k": "u"}},
        )
    )
    check_bind(load_config(discover=False, env={}, overrides={"server.host": "::1"}))


async def test_concurrent_users_each_keep_their_own_facts(serve):
    server = await asyncio.to_thread(serve)
    people = {"ua": ("Porto", "nurse"), "ub": ("Oslo", "pilot"), "uc": ("Lima", "baker")}
    api = openai.AsyncOpenAI(base_url=server.url + "/v1", api_key="none", max_retries=0)

    async def talk(user: str, city: str, job: str) -> None:
        history: list[dict[str, str]] = []
        for text in (f"I live in {city}.", f"I work as a {job}."):
            history.append({"role": "user", "content": text})
            r = await api.chat.completions.create(
                model="sleepmem", messages=history, user=user, max_tokens=8
            )
            history.append({"role": "assistant", "content": r.choices[0].message.content})

    await asyncio.gather(*(talk(u, *p) for u, p in people.items()))
    await asyncio.to_thread(server.call, server.service.drain(), 600)
    for user, (city, job) in people.items():
        assert sorted(facts_of(server, user)) == sorted([city, job])
        answer = (await asyncio.to_thread(ask, server, user, "Where do I live?")).lower()
        others = [p[0].lower() for u, p in people.items() if u != user]
        assert city.lower() in answer and not any(o in answer for o in others)


async def test_chat_during_sleep_is_answered_from_pre_sleep_memory(serve):
    """While alice sleeps, her chats are answered with the memory she had, her new facts
    wait for the sleep to finish, and bob is not held up at all."""
    server = await asyncio.to_thread(serve)
    engine = server.service.engine
    await asyncio.to_thread(engine.remember, "alice", "I live in Porto.")
    status, body = await raw(server, "POST", "/v1/memory/sleep?user=alice", json={})
    assert status == 202 and body["status"] == "queued"
    for _ in range(100):  # the sleep starts on alice's queue within a moment
        if server.service.status("alice")["sleeping"]:
            break
        await asyncio.sleep(0.05)
    assert server.service.status("alice")["sleeping"]
    answer = await asyncio.to_thread(ask, server, "alice", "Where do I live?")
    told = await asyncio.to_thread(ask, server, "alice", "My dog is called Biscuit.")
    other = await asyncio.to_thread(ask, server, "bob", "Where do I live?")
    # All three were answered while the sleep was still running.
    assert server.service.status("alice")["sleeping"], "sleep ended too soon to prove anything"
    assert "porto" in answer.lower() and told and "porto" not in other.lower()
    assert server.service.status("alice")["pending"] >= 2  # the sleep, then her wake jobs
    await asyncio.to_thread(server.call, server.service.drain(), 600)
    assert sorted(facts_of(server, "alice")) == ["Biscuit", "Porto"]
    assert facts_of(server, "bob") == []
    assert engine.memory("alice").last_sleep() is not None


def test_plain_model_keeps_memory_per_named_character(serve):
    """SillyTavern names its character with ?character= / X-Sleepmem-Character on the plain
    model; memory is then per user per character, and a path-like name is refused."""
    server = serve()
    sera = client(server, **{"X-Sleepmem-Character": "Seraphina"})
    r = sera.chat.completions.create(
        model="sleepmem",
        messages=[{"role": "user", "content": "/remember I live in Porto."}],
        user="alice",
    )
    assert "Porto" in r.choices[0].message.content
    assert facts_of(server, "alice/character:Seraphina") == ["Porto"]
    assert facts_of(server, "alice") == []
    bad = client(server, **{"X-Sleepmem-Character": "../bob"})
    with pytest.raises(openai.BadRequestError) as err:
        bad.chat.completions.create(
            model="sleepmem", messages=[{"role": "user", "content": "hi"}], user="alice"
        )
    assert err.value.body["param"] == "character"


def test_server_bench_reports_overhead_floor_and_a_clean_load(serve):
    from sleepmem.adapters.server.bench import run_server_bench
    from sleepmem.engine.service import MemoryService

    engine = serve().service.engine  # a fresh engine; the bench starts its own server on it
    report = run_server_bench(MemoryService(engine), users=2, messages=1, rounds=3, concurrency=())
    overhead = report["overhead"]
    assert overhead["http"]["n"] == overhead["engine_in_server"]["n"] == 3
    # HTTP time contains the engine's own time for the same request, so neither is negative.
    assert overhead["overhead_ms"] > 0 and overhead["floor_overhead_ms"] > 0
    assert report["first_token"]["http_first_token"]["n"] == 3
    load = report["load"]
    assert (load["requests"], load["failed_requests"], load["ledgers_wrong"]) == (2, 0, [])
    assert load["cross_user_answers"] == []


def test_server_bench_concurrency_runs_every_mode(serve):
    from sleepmem.adapters.server.bench_batch import run_concurrency

    server = serve()
    report = run_concurrency(server, (2,), asks=1, max_tokens=8)
    modes = report["modes"]
    assert {"threads", "batch_1", "batch_8"} <= set(modes)
    assert ("llamacpp" in modes) != bool(report.get("llamacpp_skipped"))
    for runs in modes.values():
        (run,) = runs
        assert (run["users"], run["requests"], run["failed_requests"]) == (2, 4, 0)
        assert run["cross_user_answers"] == []
    assert modes["batch_1"][0]["widest_batch"] == 1 and modes["batch_8"][0]["widest_batch"] >= 1
    assert server.service.engine.replies.max_rows == 8  # the bench puts the batcher back


def test_stream_hands_the_first_piece_over_before_computing_the_next(serve, monkeypatch):
    from sleepmem.engine import service as service_module
    from sleepmem.engine.backends.base import text_of

    monkeypatch.setattr(service_module, "FIRST_PIECE_WAIT", 30.0)  # no timeout in this test
    server = serve()
    engine = server.service.engine
    messages = [{"role": "user", "content": "Write a haiku about the sea."}]
    # Tokens the backend has generated so far, seen live (a response only says how many
    # there were when it was yielded).
    computed = {"tokens": 0}
    generate = engine.backend.generate

    def watched(*args, **kwargs):
        for response in generate(*args, **kwargs):
            computed["tokens"] = response.completion_tokens
            yield response

    monkeypatch.setattr(engine.backend, "generate", watched)
    # Where the reply is generated on the chat thread itself (a backend without batched
    # rows, llama.cpp, vLLM); batched rows decode on a thread of their own for everyone.
    monkeypatch.setattr(engine, "replies", None)

    async def consume() -> tuple[int, int, str]:
        responses = server.service.stream_reply("u1", messages, 24)
        first = await anext(responses)
        text = first.text
        await asyncio.sleep(0.5)  # several tokens' time: generation must be waiting for us
        held = computed["tokens"]
        last = first
        async for last in responses:  # the last one has the whole count
            text += last.text
        return held, last.completion_tokens, text

    held, total, text = server.call(consume(), timeout=120)
    monkeypatch.undo()  # the session's backend, unwatched, for the reference reply
    assert held == 1 < total  # one token computed until the first piece was taken
    assert text == text_of(engine.reply("u1", messages, 24))  # the reply is unchanged
