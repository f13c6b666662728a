"""``generation: llamacpp``: replies from llama.cpp on the default model's GGUF file, each
user's memory applied as an adapter exported from their live edit; edits stay on torch.
Skipped without llama-cpp-python (``pip install -e '.[llamacpp]'``, built from source)."""

from __future__ import annotations

from pathlib import Path

import pytest
from sleepmem.engine.backends.base import text_of
from sleepmem.engine.facts import explicit

pytest.importorskip("llama_cpp")

ALICE = ("Where do I live?", "Quetzaltenango")
BOB = ("Where do I live?", "Ouagadougou")


@pytest.fixture(scope="module")
def gguf(model_dir: Path) -> Path:
    from sleepmem.engine.models import pull_default_gguf

    return pull_default_gguf(progress=False, base=model_dir.parent.parent)


@pytest.fixture
def llama_engine(engine_factory, tmp_path: Path, model_dir: Path, gguf: Path):
    from conftest import link_models

    home = link_models(tmp_path / "home", model_dir)
    return engine_factory(home, generation="llamacpp", generation_gguf=str(gguf))


def ask(engine, user: str, question: str) -> str:
    return text_of(engine.reply(user, [{"role": "user", "content": question}], 16))


def test_each_user_is_answered_from_their_own_memory_through_llama_cpp(llama_engine):
    from sleepmem.engine.llamacpp_replies import LlamaCppReplies

    engine = llama_engine
    assert isinstance(engine.replies, LlamaCppReplies)
    engine.write("alice", [explicit(*ALICE)])
    engine.write("bob", [explicit(*BOB)])
    assert ALICE[1] in ask(engine, "alice", ALICE[0])
    bob = ask(engine, "bob", BOB[0])
    assert BOB[1] in bob and ALICE[1] not in bob
    carol = ask(engine, "carol", ALICE[0])
    assert ALICE[1] not in carol and BOB[1] not in carol
    assert ALICE[1] in ask(engine, "alice", ALICE[0])  # and back, on the same context


def test_an_edit_is_live_in_llama_cpp_at_the_next_reply(llama_engine):
    """No restart and no export step: the next reply after an edit uses the new memory,
    and the old export is freed."""
    engine = llama_engine
    engine.write("alice", [explicit(*ALICE)])
    assert ALICE[1] in ask(engine, "alice", ALICE[0])
    first = engine.replies.adapter(engine.factors("alice"))
    engine.write("alice", [explicit("What is my dog called?", "Biscuit")])
    assert "Biscuit" in ask(engine, "alice", "What is my dog called?")
    second = engine.replies.adapter(engine.factors("alice"))
    assert second != first
    ask(engine, "bob", "Hi!")  # any later reply frees exports nobody holds
    assert not first.exists() and second.exists()


def test_the_bare_model_in_llama_cpp_replies_as_torch_does(llama_engine):
    """The GGUF base holds the weights torch runs, so greedy replies begin with the same
    tokens; llama.cpp's Q8 activations let them drift apart later (measured: after the sixth
    token of the first question). Its AMX path on a Xeon once answered other text from the
    second token on."""
    engine = llama_engine
    for question in ("What should I cook tonight?", "Tell me something about the sea."):
        text = engine.backend.chat_text([{"role": "user", "content": question}])
        llama = text_of(engine.replies.generate(engine.backend.encode(text), 4))
        assert llama == text_of(engine.backend.generate(text, 4))


def test_on_an_f16_copy_of_the_base_llama_cpp_replies_exactly_as_torch_does(
    engine_factory, tmp_path: Path, model_dir: Path, gguf: Path
):
    """The Q4_1 runtime's 8-bit activations are what part its replies from torch's: on an
    F16 copy of the same weights whole replies agree, with and without a memory."""
    from conftest import link_models
    from sleepmem.engine.llamacpp import float16_copy

    f16 = float16_copy(gguf, tmp_path / "base.F16.gguf")
    assert f16.is_file() and float16_copy(gguf, f16) == f16  # written once
    home = link_models(tmp_path / "home", model_dir)
    engine = engine_factory(home, generation="llamacpp", generation_gguf=str(f16))
    engine.write("alice", [explicit(*ALICE)])
    for user, question in [
        (None, "What should I cook tonight?"),
        (None, "Tell me something about the sea."),
        ("alice", ALICE[0]),
    ]:
        text = engine.backend.chat_text([{"role": "user", "content": question}])
        factors = engine.factors(user) if user else None
        llama = text_of(engine.replies.generate(engine.backend.encode(text), 16, factors))
        assert llama == text_of(engine.backend.generate(text, 16, factors))
    assert ALICE[1] in ask(engine, "alice", ALICE[0])


def test_replies_stream_with_counts_and_a_finish_reason(llama_engine):
    engine = llama_engine
    *pieces, last = list(engine.reply("dan", [{"role": "user", "content": "Hi!"}], 6))
    assert pieces and all(p.text for p in pieces)
    assert last.finish_reason in ("stop", "length") and last.completion_tokens <= 6
    assert last.prompt_tokens == engine.backend.token_count(
        engine.backend.chat_text([{"role": "user", "content": "Hi!"}])
    )


def test_a_missing_gguf_is_a_clear_error(engine_factory, tmp_path: Path, model_dir: Path):
    from conftest import link_models
    from sleepmem.engine.errors import InputError

    home = link_models(tmp_path / "home", model_dir)
    with pytest.raises(InputError, match="generation_gguf"):
        engine_factory(home, generation="llamacpp", generation_gguf=str(tmp_path / "no.gguf"))
