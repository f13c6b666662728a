"""Property-based fuzzing of the real server (hypothesis): random JSON shapes, types, sizes
and unicode against the chat-completions and memory routes. Every request gets a 2xx or an
OpenAI-shaped 4xx, never a 500 or a hang, and nobody's memory changes (wake is off and no
message is a command, so nothing here may write)."""

from __future__ import annotations

import json
import os
import urllib.error
import urllib.request
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

# CI runs 120 per test; SLEEPMEM_FUZZ_EXAMPLES=1700 gives the >= 5,000-request run of issue 14.
EXAMPLES = int(os.environ.get("SLEEPMEM_FUZZ_EXAMPLES", "120"))

# Header values are latin-1 on the wire; the client itself refuses anything else.
header_users = st.none() | st.text(st.characters(min_codepoint=32, max_codepoint=126), max_size=40)

# Anything JSON can carry, nested a little.
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=40),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=12,
)
# Text that never starts a chat command (a command may write the caller's memory).
words = st.text(max_size=200).filter(lambda t: not t.lstrip().startswith("/"))
parts = st.one_of(
    st.fixed_dictionaries({"type": st.just("text"), "text": words}),
    st.fixed_dictionaries(
        {
            "type": st.just("image_url"),
            "image_url": st.fixed_dictionaries({"url": st.text(max_size=30)}),
        }
    ),
    st.dictionaries(st.text(max_size=8), json_values, max_size=3),
)
content = st.one_of(words, st.none(), st.integers(), st.lists(parts, max_size=4), json_values)
roles = st.sampled_from(
    ["user", "assistant", "system", "tool", "developer", "function", ""]
) | st.text(max_size=10)
message = st.fixed_dictionaries(
    {"role": roles, "content": content}, optional={"name": st.text(max_size=10)}
)
chat_body = st.fixed_dictionaries(
    {"messages": st.lists(message, max_size=5) | json_values},
    optional={
        "model": st.sampled_from(["sleepmem", "nope"]) | json_values,
        "max_tokens": st.integers(-5, 10**9) | json_values,
        "n": st.integers(-1, 5),
        "stream": st.booleans() | json_values,
        "user": st.text(max_size=30) | json_values,
        "temperature": json_values,
        "stream_options": json_values,
        "tools": json_values,
    },
)
memory_routes = st.sampled_from(
    [
        ("GET", "/v1/memory"),
        ("GET", "/v1/memory/status"),
        ("GET", "/v1/memory/export"),
        ("POST", "/v1/memory/sleep"),
        ("DELETE", "/v1/memory/facts/{junk}"),
        ("POST", "/v1/memory/command"),
    ]
)


def send(url: str, method: str, path: str, body: bytes | None, user: str | None) -> tuple[int, Any]:
    headers = {"Content-Type": "application/json", "X-Sleepmem-No-Wake": "1"}
    if user is not None:
        headers["X-Sleepmem-User"] = user
    req = urllib.request.Request(url + path, data=body, method=method, headers=headers)
    try:
        with urllib.request.urlopen(req, timeout=120) as r:
            raw = r.read().decode("utf-8", "replace")
            kind = r.headers.get("Content-Type", "")
            status = r.status
    except urllib.error.HTTPError as e:
        raw, kind, status = (
            e.read().decode("utf-8", "replace"),
            e.headers.get("Content-Type", ""),
            e.code,
        )
    if "event-stream" in kind:
        return status, raw
    return status, json.loads(raw) if raw else None


def check(status: int, answer: Any) -> None:
    assert status < 500, answer
    if status >= 400:
        assert isinstance(answer, dict) and isinstance(answer["error"]["message"], str), answer
    elif isinstance(answer, str):  # a stream ends, or reports its failure in-band
        assert answer.rstrip().endswith("data: [DONE]") or '"error"' in answer, answer[-300:]


@pytest.fixture(scope="module")
def fuzz_server(engine_factory, tmp_path_factory, model_dir):
    from conftest import link_models
    from sleepmem.adapters.server.runner import BackgroundServer
    from sleepmem.engine.service import MemoryService

    home = link_models(tmp_path_factory.mktemp("fuzz-home"), model_dir)
    engine = engine_factory(home, **{"server.wake": False, "max_new_tokens": 2})
    from sleepmem.engine.facts import explicit

    engine.write("victim", [explicit("Where do I live?", "Porto")])
    with BackgroundServer(MemoryService(engine)) as server:
        yield server


fuzz = settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


@fuzz
@given(body=chat_body, user=header_users)
def test_chat_completions_never_fail_on_any_shape(fuzz_server, body, user) -> None:
    status, answer = send(
        fuzz_server.url, "POST", "/v1/chat/completions", json.dumps(body).encode(), user
    )
    check(status, answer)


@fuzz
@given(raw=st.binary(max_size=300) | json_values.map(lambda v: json.dumps(v).encode()))
def test_chat_completions_refuse_non_requests(fuzz_server, raw) -> None:
    status, answer = send(fuzz_server.url, "POST", "/v1/chat/completions", raw, "anyone")
    check(status, answer)


@fuzz
@given(
    route=memory_routes,
    body=json_values,
    user=header_users,
    junk=st.text(max_size=20),
)
def test_memory_routes_never_fail_on_any_shape(fuzz_server, route, body, user, junk) -> None:
    method, path = route
    path = path.replace("{junk}", urllib.request.quote(junk, safe="") or "x")
    if path.endswith("/command") and isinstance(body, dict):
        body = {k: v for k, v in body.items() if k != "text"}  # a command could write
    if user == "victim":
        user = "someone else"  # the one user with memory is never the caller here
    data = None if method == "GET" else json.dumps(body).encode()
    status, answer = send(fuzz_server.url, method, path, data, user)
    check(status, answer)


def test_after_the_fuzzing_the_only_memory_is_unchanged(fuzz_server) -> None:
    engine = fuzz_server.service.engine
    fuzz_server.call(fuzz_server.service.drain(), timeout=600)
    assert [f.answer for f in engine.memories("victim")] == ["Porto"]
    others = [u for u in engine.store.users() if u != "victim" and engine.memories(u)]
    assert others == []
