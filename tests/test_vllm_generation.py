"""``generation: vllm``: sleepmem as the memory control plane in front of a vLLM server.
vLLM cannot run here (GPU and its own wheels), so its adapter routes are served by
transformers + PEFT on loopback (``vllm_peft.py``): the HTTP contract and the adapter math
are real, the engine behind them is PEFT's."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest
from sleepmem.engine.backends.base import text_of
from sleepmem.engine.errors import ModelError
from sleepmem.engine.facts import explicit

pytest.importorskip("peft")

ALICE = ("Where do I live?", "Quetzaltenango")
BOB = ("Where do I live?", "Ouagadougou")
SERVED = "smollm2-base"


@pytest.fixture(scope="module")
def vllm(model_dir: Path):
    from vllm_peft import PeftVllm

    server = PeftVllm(model_dir, SERVED).start()
    yield server
    server.stop()


@pytest.fixture
def vllm_engine(engine_factory, tmp_path: Path, model_dir: Path, vllm):
    from conftest import link_models

    home = link_models(tmp_path / "home", model_dir)
    return engine_factory(
        home,
        generation="vllm",
        generation_url=vllm.url,
        generation_model=SERVED,
        generation_adapters=str(tmp_path / "adapters"),
    )


def ask(engine, user: str, question: str) -> str:
    return text_of(engine.reply(user, [{"role": "user", "content": question}], 16))


def test_each_user_is_answered_through_their_own_adapter(vllm_engine, vllm):
    engine = vllm_engine
    engine.write("alice", [explicit(*ALICE)])
    engine.write("bob", [explicit(*BOB)])
    assert ALICE[1] in ask(engine, "alice", ALICE[0])
    bob = ask(engine, "bob", BOB[0])
    assert BOB[1] in bob and ALICE[1] not in bob
    carol = ask(engine, "carol", ALICE[0])
    assert ALICE[1] not in carol and BOB[1] not in carol
    alice_adapter = engine.replies.adapter(engine.factors("alice"))
    bob_adapter = engine.replies.adapter(engine.factors("bob"))
    # carol has no memory: she is served by the base model, by its served name
    assert vllm.requests[-3:] == [alice_adapter, bob_adapter, SERVED]
    assert {alice_adapter, bob_adapter} <= vllm.loaded


def test_an_edit_loads_a_new_adapter_and_unloads_the_old(vllm_engine, vllm, tmp_path: Path):
    engine = vllm_engine
    engine.write("alice", [explicit(*ALICE)])
    assert ALICE[1] in ask(engine, "alice", ALICE[0])
    first = engine.replies.adapter(engine.factors("alice"))
    engine.write("alice", [explicit("What is my dog called?", "Biscuit")])
    assert "Biscuit" in ask(engine, "alice", "What is my dog called?")
    second = engine.replies.adapter(engine.factors("alice"))
    assert second != first and second in vllm.loaded and first not in vllm.loaded
    assert not (tmp_path / "adapters" / first).exists()
    assert (tmp_path / "adapters" / second / "adapter_config.json").is_file()


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]  # free, and nobody listens once closed


async def test_a_vllm_server_that_is_down_is_a_clear_error(serve):
    """The chat gets a 503 that names vLLM; what the user said still waits to be learned."""
    import aiohttp

    server = serve(
        generation="vllm",
        generation_url=f"http://127.0.0.1:{closed_port()}",
        generation_model=SERVED,
    )
    chat = {
        "model": "sleepmem",
        "user": "alice",
        "messages": [{"role": "user", "content": "I live in Lima."}],
    }
    async with (
        aiohttp.ClientSession() as s,
        s.post(server.url + "/v1/chat/completions", json=chat) as r,
    ):
        body = await r.json()
    assert r.status == 503 and "vLLM" in body["error"]["message"]
    engine = server.service.engine
    assert engine.pending_count("alice") == 1 or "Lima" in [
        f.answer for f in engine.memories("alice")
    ]
    with pytest.raises(ModelError, match="unreachable"):
        ask(engine, "bob", "Hi!")


def test_vllm_generation_needs_a_url(engine_factory, tmp_path: Path, model_dir: Path):
    from conftest import link_models
    from sleepmem.engine.errors import InputError

    with pytest.raises(InputError, match="generation_url"):
        engine_factory(link_models(tmp_path / "home", model_dir), generation="vllm")


def test_adapters_are_cut_to_the_rank_vllm_accepts(
    engine_factory, tmp_path: Path, model_dir: Path, vllm
):
    """vLLM refuses an adapter whose rank is above its --max-lora-rank."""
    import json

    from conftest import link_models

    engine = engine_factory(
        link_models(tmp_path / "home", model_dir),
        generation="vllm",
        generation_url=vllm.url,
        generation_model=SERVED,
        generation_adapters=str(tmp_path / "adapters"),
        generation_max_rank=8,
    )
    engine.write("alice", [explicit(*ALICE), explicit("What is my dog called?", "Biscuit")])
    assert max(r.shape[1] for r, _ in engine.factors("alice").layers.values()) > 8
    # the cut keeps what the edit's own keys read (exports.live), as `sleepmem export` does
    assert set(engine.factors("alice").grams or {}) == set(engine.factors("alice").layers)
    ask(engine, "alice", ALICE[0])
    name = engine.replies.adapter(engine.factors("alice"))
    config = json.loads((tmp_path / "adapters" / name / "adapter_config.json").read_text())
    assert config["r"] == config["lora_alpha"] <= 8
    assert vllm.requests[-1] == name
