"""What a generation yields (``GenerationResponse``) and how the OpenAI routes turn it into
``usage`` and ``finish_reason``. No model: a stand-in backend plays back scripted pieces."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sleepmem.engine.backends.base import GenerationResponse, text_of, whole
from sleepmem.engine.config import load_config
from sleepmem.engine.memory import Engine
from sleepmem.plugin import manager
from sleepmem.plugin.registry import PluginRegistry

PIECES = ["Hel", "lo", " there"]


class _Backend:
    """Generates PIECES (one token each) and ends as the script says."""

    n_layers = 64
    model_id = "stand-in"
    context_length = 0

    def __init__(self, finish: str = "stop") -> None:
        self.finish = finish
        self.asked: list[int] = []

    def chat_text(self, messages: list[dict[str, str]], add_generation_prompt: bool = True) -> str:
        return " ".join(m["content"] for m in messages)

    def token_count(self, text: str) -> int:
        return len(text.split())

    def generate(self, text: str, max_new_tokens: int, factors: Any = None):
        self.asked.append(max_new_tokens)
        prompt = self.token_count(text)
        for n, piece in enumerate(PIECES, 1):
            yield GenerationResponse(piece, prompt, n)
        yield GenerationResponse("", prompt, len(PIECES), self.finish)


def _engine(tmp_path: Path, backend: _Backend) -> Engine:
    pm = manager.load_plugins(manager.new_plugin_manager(), allowed=("rules", "commands"))
    overrides = {"home": str(tmp_path), "server.wake": False}
    config = load_config(overrides=overrides, discover=False, env={})
    return Engine(config, backend, PluginRegistry(pm))  # type: ignore[arg-type]


def test_whole_and_text_of() -> None:
    responses = [GenerationResponse("a", 4, 1), GenerationResponse("", 4, 1, "length")]
    assert text_of(responses) == "a"
    assert whole(responses) == GenerationResponse("a", 4, 1, "length")
    assert whole([]) == GenerationResponse("", 0, 0, "length")


def test_engine_reply_streams_the_backends_responses(tmp_path: Path) -> None:
    backend = _Backend()
    responses: Iterator[GenerationResponse] = _engine(tmp_path, backend).reply(
        "ana", [{"role": "user", "content": "say hello"}], 8
    )
    *pieces, last = list(responses)
    assert [r.text for r in pieces] == PIECES and backend.asked == [8]
    assert (last.prompt_tokens, last.completion_tokens, last.finish_reason) == (2, 3, "stop")


@pytest.mark.parametrize("finish", ["stop", "length"])
async def test_chat_completion_usage_and_finish_reason(
    tmp_path: Path, aiohttp_client, finish: str
) -> None:
    from sleepmem.adapters.server.app import create_app
    from sleepmem.engine.service import MemoryService

    client = await aiohttp_client(create_app(MemoryService(_engine(tmp_path, _Backend(finish)))))
    chat = {"model": "sleepmem", "user": "ana", "messages": [{"role": "user", "content": "hi you"}]}
    body = await (await client.post("/v1/chat/completions", json=chat)).json()
    (choice,) = body["choices"]
    assert choice["message"]["content"] == "".join(PIECES)
    assert choice["finish_reason"] == finish
    assert body["usage"] == {"prompt_tokens": 2, "completion_tokens": 3, "total_tokens": 5}

    streamed = dict(chat, stream=True, stream_options={"include_usage": True})
    raw = await (await client.post("/v1/chat/completions", json=streamed)).text()
    events = [line[len("data: ") :] for line in raw.split("\n\n") if line]
    assert events[-1] == "[DONE]"
    chunks = [json.loads(e) for e in events[:-1]]
    deltas = [c["choices"][0]["delta"] for c in chunks if c["choices"]]
    # The first piece rides on the role chunk; the closing response adds no empty content.
    assert deltas == [
        {"role": "assistant", "content": "Hel"},
        {"content": "lo"},
        {"content": " there"},
        {},
    ]
    finishes = [c["choices"][0]["finish_reason"] for c in chunks if c["choices"]]
    assert finishes == [None, None, None, finish]
    assert chunks[-1]["choices"] == [] and chunks[-1]["usage"] == body["usage"]


async def test_a_command_counts_no_tokens_and_stops(tmp_path: Path, aiohttp_client) -> None:
    from sleepmem.adapters.server.app import create_app
    from sleepmem.engine.service import MemoryService

    backend = _Backend()
    client = await aiohttp_client(create_app(MemoryService(_engine(tmp_path, backend))))
    chat = {"model": "sleepmem", "user": "ana", "messages": [{"role": "user", "content": "/help"}]}
    body = await (await client.post("/v1/chat/completions", json=chat)).json()
    assert body["choices"][0]["finish_reason"] == "stop"
    assert body["usage"] == {"prompt_tokens": 0, "completion_tokens": 0, "total_tokens": 0}
    streamed = dict(chat, stream=True, stream_options={"include_usage": True})
    raw = await (await client.post("/v1/chat/completions", json=streamed)).text()
    chunks = [json.loads(e[6:]) for e in raw.split("\n\n") if e and e != "data: [DONE]"]
    assert chunks[-2]["choices"][0]["finish_reason"] == "stop"
    assert chunks[-1]["usage"]["total_tokens"] == 0
    assert backend.asked == []  # no model ran
