"""The mlx backend on the real default model (mlx's CPU build), checked against the torch
backend: the same text, the same greedy answers, the same keys, the same edits, and one
user's memory file serving both. Also the 4-bit copy made by mlx-lm's own converter, and
architectures the editor must refuse. Nothing is mocked.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
import sys
import threading
from pathlib import Path

import numpy as np
import pytest
from sleepmem.engine.backends.base import Factors, text_of
from sleepmem.engine.config import load_config
from sleepmem.engine.errors import ModelError
from sleepmem.engine.memory import Engine
from sleepmem.engine.models import resolve
from sleepmem.engine.prompts import reply_target
from sleepmem.engine.statistics import question_prompt
from sleepmem.plugin.registry import load_registry

QUESTION = "Where do I live?"

# Float32 everywhere, different kernels (MKL/OpenBLAS GEMMs and PyTorch's attention against
# mlx's GEMM and fused SDPA). One float32 op is exact to ~1e-7 relative; through nine layers
# of sums over 576-1536 terms the two runtimes were measured to agree to ~2e-6 on keys and
# residuals and ~3e-5 on summed NLL. 1e-4 leaves a 5-50x margin, while every real fault
# (a wrong mask, position offset, rope base, missing norm, a key read one token off)
# moves these numbers by 1e-2 or more.
ACTIVATION_RTOL = 1e-4

# A whole edit through the engine: v* is 25 Adam steps at lr 0.5 on the fact's six
# questions, which amplify the ~1e-6 activation differences; the MEMIT solve is linear in
# v*, keys and residuals, so delta W inherits that. Measured on four facts (home, dog, job,
# colour): 0.2-0.6% relative (Frobenius) per layer, the same answer every time. 3% leaves
# a 5x margin; a broken backend (wrong keys, layer or side term) differs by order 1. (With
# a single question per fact an oscillating Adam run drifted to 11%, so one-prompt v* is
# not a fair parity probe; the engine never runs one.)
EDIT_RTOL = 0.03


def _rel(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.linalg.norm(a - b) / np.linalg.norm(b))


def _dense(factors: Factors) -> dict[int, np.ndarray]:
    return {layer: r.astype(np.float64) @ a.T for layer, (r, a) in factors.layers.items()}


def link_models(home: Path, model_dir: Path) -> Path:
    home.mkdir(parents=True, exist_ok=True)
    (home / "models").symlink_to(model_dir.parent, target_is_directory=True)
    return home


# torch's v* may run in bfloat16 (editor.v_precision auto); mlx's runs in the model's dtype
FLOAT32 = {"editor.v_precision": "float32"}


def _mlx_engine(backend, torch_engine_factory, home: Path) -> Engine:
    """An mlx engine for the default model on ``home``. Statistics are cached by model id,
    and the id is the same under both backends, so the session's torch-computed statistics
    are what this engine reads from a shared cache; the mlx backend's own second moments
    and keys are checked in test_activations_match_torch."""
    torch_engine = torch_engine_factory(home, **FLOAT32)  # the suite's config, on this home
    engine = Engine(torch_engine.config, backend, torch_engine.plugins)
    engine._stats = torch_engine.statistics()
    return engine


@pytest.fixture(scope="module")
def edited(tmp_path_factory, model_dir, engine_factory, mlx_backend):
    """The same fact told to ana once under each backend, each in its own home, both
    optimising v* in float32 (mlx's only precision), so the edits can be compared."""
    out = {}
    for name in ("torch", "mlx"):
        home = link_models(tmp_path_factory.mktemp(f"home-{name}"), model_dir)
        if name == "torch":
            engine = engine_factory(home, **FLOAT32)
        else:
            engine = _mlx_engine(mlx_backend, engine_factory, home)
        report = engine.remember("ana", "I live in Porto")
        assert [f.answer for f in report.added] == ["Porto"]
        out[name] = {
            "home": home,
            "engine": engine,
            "factors": engine.factors("ana"),
            "answer": engine.ask("ana", QUESTION),
        }
    yield out
    out["mlx"]["engine"].close()


def test_model_id_template_and_tokens_match_torch(mlx_backend, backend):
    # The same id files a user's memory under the same deltas/<model>.safetensors.
    assert mlx_backend.model_id == backend.model_id
    messages = [
        {"role": "user", "content": "Hi, I'm Ana."},
        {"role": "assistant", "content": "Hello Ana!"},
        {"role": "user", "content": QUESTION},
    ]
    text = mlx_backend.chat_text(messages)
    assert text == backend.chat_text(messages)
    assert mlx_backend.token_count(text) == backend.token_count(text)
    assert mlx_backend.chat_text(messages, add_generation_prompt=False) == backend.chat_text(
        messages, add_generation_prompt=False
    )


@pytest.mark.parametrize(
    "question", ["What is the capital of France?", "Write a haiku about the sea."]
)
def test_greedy_generation_matches_torch(mlx_backend, backend, question):
    text = backend.chat_text([{"role": "user", "content": question}])
    pieces = [r.text for r in mlx_backend.generate(text, 40) if r.text]
    assert len(pieces) > 3  # streamed piece by piece, not returned at the end
    assert "".join(pieces) == text_of(backend.generate(text, 40))


def test_generation_stops_at_end_of_turn(mlx_backend):
    text = mlx_backend.chat_text([{"role": "user", "content": "What is the capital of France?"}])
    reply = text_of(mlx_backend.generate(text, 200))
    assert "Paris" in reply
    assert mlx_backend.token_count(reply) < 30  # stopped at <|im_end|>, not at the limit
    (only,) = mlx_backend.generate(text, 0)  # nothing generated: just the closing response
    assert (only.text, only.completion_tokens, only.finish_reason) == ("", 0, "length")


@pytest.mark.model  # the model fixture is looked up by name, which conftest cannot see
@pytest.mark.parametrize("which", ["backend", "mlx_backend"])
def test_generation_counts_its_tokens_and_says_why_it_ended(which, request):
    model = request.getfixturevalue(which)
    text = model.chat_text([{"role": "user", "content": "What is the capital of France?"}])
    responses = list(model.generate(text, 200))
    *pieces, last = responses
    reply = text_of(responses)
    assert pieces and all(r.text and r.finish_reason is None for r in pieces)
    counts = [r.completion_tokens for r in responses]
    assert counts == sorted(counts)  # tokens so far, growing with each piece
    assert last.text == ""  # the closing response only carries the figures
    assert last.prompt_tokens == model.token_count(text)
    assert last.completion_tokens == model.token_count(reply) > 0
    assert last.finish_reason == "stop"  # the end-of-turn token, not the limit
    *_, cut = model.generate(text, 2)
    assert (cut.completion_tokens, cut.finish_reason) == (2, "length")


def test_activations_match_torch(mlx_backend, backend):
    questions = [QUESTION, "What is my dog's name?", "What is the capital of Japan?"]
    answers = ["Porto.", "Rex.", "Tokyo."]
    prompts = [
        question_prompt(backend, q, reply_target(backend, q, a), group)
        for group, (q, a) in enumerate(zip(questions, answers))
    ]
    keys_m, resid_m = mlx_backend.activations(prompts, [4, 8], 8)
    keys_t, resid_t = backend.activations(prompts, [4, 8], 8)
    for layer in (4, 8):
        assert keys_m[layer].shape == (3, backend.intermediate_size)
        assert _rel(keys_m[layer], keys_t[layer]) < ACTIVATION_RTOL
    assert _rel(resid_m, resid_t) < ACTIVATION_RTOL
    # keys read at the same token: a one-token shift is far outside the tolerance
    shifted = [question_prompt(backend, q) for q in questions]
    shifted = [type(p)(p.text, p.key_index - 1, p.target, p.group) for p in shifted]
    assert _rel(mlx_backend.keys(shifted, [4])[4], keys_t[4]) > 100 * ACTIVATION_RTOL

    texts = ["The cat sat on the mat.", "Porto is a city in the north of Portugal, by the sea."]
    nll_m, count_m = mlx_backend.nll(texts)
    nll_t, count_t = backend.nll(texts)
    assert count_m == count_t
    assert abs(nll_m - nll_t) / nll_t < ACTIVATION_RTOL
    # per text from a token on, the same on both backends
    each_m = mlx_backend.nlls(texts, starts=[4, 9])
    each_t = backend.nlls(texts, starts=[4, 9])
    assert [c for _, c in each_m] == [c for _, c in each_t]
    assert all(abs(a - b) / b < ACTIVATION_RTOL for (a, _), (b, _) in zip(each_m, each_t))
    moments_m, tokens_m = mlx_backend.second_moments(texts, [4, 6])
    moments_t, tokens_t = backend.second_moments(texts, [4, 6])
    assert tokens_m == tokens_t
    for layer in (4, 6):
        assert _rel(moments_m[layer], moments_t[layer]) < ACTIVATION_RTOL
    # from a token on: only the tokens past it count, the same on both backends, and a
    # text shorter than its start counts nothing
    starts = [3, 100]
    tail_m, count_tail_m = mlx_backend.second_moments(texts, [4], starts=starts)
    tail_t, count_tail_t = backend.second_moments(texts, [4], starts=starts)
    assert count_tail_m == count_tail_t == backend.token_count(texts[0]) - 3
    assert _rel(tail_m[4], tail_t[4]) < ACTIVATION_RTOL
    head_t, _ = backend.second_moments(texts[:1], [4], starts=[0])
    assert np.trace(tail_t[4]) < np.trace(head_t[4])


def test_same_edit_under_both_backends(edited, test_editor):
    torch_dw, mlx_dw = _dense(edited["torch"]["factors"]), _dense(edited["mlx"]["factors"])
    layers = test_editor["editor.layers"]
    assert sorted(torch_dw) == sorted(mlx_dw) == layers
    for layer in torch_dw:
        assert _rel(mlx_dw[layer], torch_dw[layer]) < EDIT_RTOL, layer
    assert "Porto" in edited["torch"]["answer"]
    assert edited["mlx"]["answer"] == edited["torch"]["answer"]


def test_memory_written_under_one_backend_answers_under_the_other(
    edited, engine_factory, mlx_backend
):
    # torch wrote it, mlx reads it: same delta file, same factors, same answer
    torch_home = edited["torch"]["home"]
    reader = _mlx_engine(mlx_backend, engine_factory, torch_home)
    try:
        stored = reader.factors("ana")
        for layer, (r, a) in edited["torch"]["factors"].layers.items():
            np.testing.assert_array_equal(stored.layers[layer][0], r)
            np.testing.assert_array_equal(stored.layers[layer][1], a)
        assert reader.ask("ana", QUESTION) == edited["torch"]["answer"]
        assert reader.memory("ana").unwritten_facts() == []  # nothing to heal: it is written
    finally:
        reader.close()
    # mlx wrote it, torch reads it
    torch_reader = engine_factory(edited["mlx"]["home"])
    assert "Porto" in torch_reader.ask("ana", QUESTION)
    assert [f.answer for f in torch_reader.memories("ana")] == ["Porto"]


def test_mlx_engine_edit_recall_isolation_forget(tmp_path, model_dir, engine_factory, mlx_backend):
    engine = _mlx_engine(mlx_backend, engine_factory, link_models(tmp_path / "home", model_dir))
    try:
        question = "What is my dog's name?"
        assert "Rex" not in engine.ask("ana", question)
        report = engine.observe("ana", "My dog is called Rex.")
        assert [f.answer for f in report.added] == ["Rex"]
        assert "Rex" in engine.ask("ana", question)
        assert "Rex" not in engine.ask("bo", question)  # another user on the same model
        assert "Paris" in engine.ask("ana", "What is the capital of France?")
        engine.forget("ana", "Rex")
        assert "Rex" not in engine.ask("ana", question)
        assert engine.memory("ana").batches() == []
    finally:
        engine.close()


def test_concurrent_calls_each_see_their_own_factors(edited, mlx_backend):
    ana = edited["mlx"]["factors"]
    text = mlx_backend.chat_text([{"role": "user", "content": QUESTION}])
    expected = {
        "ana": text_of(mlx_backend.generate(text, 24, ana)),
        "none": text_of(mlx_backend.generate(text, 24, None)),
    }
    assert "Porto" in expected["ana"] and "Porto" not in expected["none"]

    # interleaved generators in one thread
    streams = {"ana": mlx_backend.generate(text, 24, ana), "none": mlx_backend.generate(text, 24)}
    got = {name: "" for name in streams}
    while streams:
        for name, stream in list(streams.items()):
            response = next(stream, None)
            if response is None:
                del streams[name]
            else:
                got[name] += response.text
    assert got == expected

    # several threads at once
    results: dict[int, str] = {}
    barrier = threading.Barrier(4)

    def run(slot: int) -> None:
        barrier.wait()
        results[slot] = text_of(mlx_backend.generate(text, 24, ana if slot % 2 else None))

    threads = [threading.Thread(target=run, args=(slot,)) for slot in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert results == {slot: expected["ana" if slot % 2 else "none"] for slot in range(4)}


# --------------------------------------------------------------------------- 4-bit


@pytest.fixture(scope="module")
def quantised(tmp_path_factory, model_dir):
    """The default model quantised to 4 bits by mlx-lm's converter, once, in a tmp home."""
    from sleepmem.engine.backends.mlx_backend import MlxBackend
    from sleepmem.engine.models import quantize_mlx

    home = tmp_path_factory.mktemp("q-home")
    folder = quantize_mlx(str(model_dir), bits=4, base=home, progress=False)
    return home, folder, MlxBackend.from_source(resolve(str(folder)), device="cpu")


def _packed(backend) -> str:
    from sleepmem.engine.backends.mlx_edited import unwrapped

    digest = hashlib.sha256()
    for layer in backend._layers:
        base = unwrapped(layer.mlp.down_proj)
        for name in ("weight", "scales", "biases"):
            digest.update(np.array(base[name]).tobytes())
    return digest.hexdigest()


def test_quantised_model_edit_is_recalled_and_base_stays_quantised(quantised, model_dir):
    import mlx.core as mx
    import mlx.nn as nn
    from sleepmem.engine.backends.mlx_edited import unwrapped

    home, folder, backend = quantised
    config = json.loads((folder / "config.json").read_text())
    assert config["quantization"]["bits"] == 4
    assert backend.model_id != resolve(str(model_dir)).model_id  # other weights, other file
    assert backend.quantized_layers() == list(range(backend.n_layers))
    before = _packed(backend)
    # Fewer statistics tokens than the default keep this test short; one fact needs no more.
    cfg = load_config(
        overrides={"home": str(home), "editor.stats_tokens": 6000}, discover=False, env={}
    )
    engine = Engine(cfg, backend, load_registry(cfg))
    try:
        assert "Porto" not in engine.ask("ana", QUESTION)
        engine.remember("ana", "I live in Porto")
        assert "Porto" in engine.ask("ana", QUESTION)
        assert "Porto" not in engine.ask("bo", QUESTION)
        factors = engine.factors("ana")
        assert all(
            r.dtype == np.float32 and a.dtype == np.float32 for r, a in factors.layers.values()
        )
    finally:
        engine.close()
    # the edit lives beside the packed weights, which no edit has touched
    assert _packed(backend) == before
    for layer in backend._layers:
        base = unwrapped(layer.mlp.down_proj)
        assert isinstance(base, nn.QuantizedLinear) and base.weight.dtype == mx.uint32


def test_torch_refuses_an_mlx_quantised_folder(quantised):
    from sleepmem.engine.backends.torch_backend import TorchBackend

    _, folder, _ = quantised
    with pytest.raises(ModelError, match="--backend mlx"):
        TorchBackend.from_source(resolve(str(folder)), device="cpu")


# --------------------------------------------------------------------------- refusals


def _tiny_model(folder: Path, model_dir: Path, config: dict) -> Path:
    """A randomly initialised mlx-lm model of another architecture, with the default
    model's tokenizer, saved as a real model folder."""
    import mlx.core as mx
    from mlx.utils import tree_flatten
    from mlx_lm.utils import _get_classes

    folder.mkdir()
    model_class, args_class = _get_classes(config)
    model = model_class(args_class.from_dict(config))
    mx.save_safetensors(str(folder / "model.safetensors"), dict(tree_flatten(model.parameters())))
    (folder / "config.json").write_text(json.dumps(config))
    for item in model_dir.iterdir():
        if item.name.startswith(("tokenizer", "special_tokens", "chat_template")):
            shutil.copy(item, folder / item.name)
    return folder


def test_architecture_without_down_proj_is_refused_at_load(tmp_path, model_dir, mlx_backend):
    from sleepmem.engine.backends.mlx_backend import MlxBackend

    gpt2 = {
        "model_type": "gpt2",
        "n_ctx": 128,
        "n_embd": 64,
        "n_head": 4,
        "n_layer": 2,
        "n_positions": 128,
        "layer_norm_epsilon": 1e-5,
        "vocab_size": 49152,
    }
    folder = _tiny_model(tmp_path / "gpt2", model_dir, gpt2)
    with pytest.raises(ModelError, match="not supported by the editor"):
        MlxBackend.from_source(resolve(str(folder)), device="cpu")


def test_forward_that_is_not_a_plain_layer_loop_is_refused(tmp_path, model_dir, mlx_backend):
    from sleepmem.engine.backends.mlx_backend import MlxBackend

    # Gemma has mlp.down_proj but scales its embeddings by sqrt(d) before the first layer:
    # an editor running a plain loop would compute other activations than the model.
    gemma = {
        "model_type": "gemma",
        "hidden_size": 64,
        "num_hidden_layers": 2,
        "intermediate_size": 128,
        "num_attention_heads": 4,
        "head_dim": 16,
        "rms_norm_eps": 1e-6,
        "vocab_size": 49152,
        "num_key_value_heads": 4,
    }
    folder = _tiny_model(tmp_path / "gemma", model_dir, gemma)
    with pytest.raises(ModelError, match="not supported by the editor"):
        MlxBackend.from_source(resolve(str(folder)), device="cpu")


def test_gguf_and_unknown_device_are_refused(tmp_path, mlx_backend, model_dir):
    from sleepmem.engine.backends.mlx_backend import MlxBackend

    gguf = tmp_path / "model.gguf"
    gguf.write_bytes(b"GGUF" + bytes(64))
    with pytest.raises(ModelError, match=r"not \.gguf"):
        MlxBackend.from_source(resolve(str(gguf)), device="cpu")
    with pytest.raises(ModelError, match="device"):
        MlxBackend.from_source(resolve(str(model_dir)), device="tpu")


def test_missing_mlx_says_how_to_install():
    # A fresh interpreter in which mlx cannot be imported (as on a machine without it).
    code = (
        "import sys; sys.modules['mlx'] = None\n"
        "from sleepmem.engine.errors import BackendUnavailable\n"
        "try:\n"
        "    import sleepmem.engine.backends.mlx_backend\n"
        "except BackendUnavailable as exc:\n"
        "    print(exc)\n"
    )
    said = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True
    ).stdout
    assert "pip install 'sleepmem[mlx]'" in said


def test_quantize_rejects_bad_requests_before_any_work(tmp_path, model_dir):
    from sleepmem.adapters.cli import main
    from sleepmem.engine.models import mlx_quantization, quantize_mlx

    with pytest.raises(ModelError, match="bits"):
        quantize_mlx(str(model_dir), bits=7, base=tmp_path)
    with pytest.raises(ModelError, match="group size"):
        quantize_mlx(str(model_dir), group_size=16, base=tmp_path)
    gguf = tmp_path / "m.gguf"
    gguf.write_bytes(b"GGUF")
    with pytest.raises(ModelError, match=r"not \.gguf"):
        quantize_mlx(str(gguf), base=tmp_path)
    # a folder of the same name that sleepmem did not finish is never overwritten
    squatter = tmp_path / "models" / "SmolLM2-135M-Instruct-mlx-4bit"
    squatter.mkdir(parents=True)
    (squatter / "notes.txt").write_text("mine")
    with pytest.raises(ModelError, match="exists"):
        quantize_mlx(str(model_dir), base=tmp_path)
    assert (squatter / "notes.txt").read_text() == "mine"
    assert mlx_quantization(model_dir) is None
    assert main(["model", "quantize", "--bits", "7"]) == 2


def test_server_on_mlx_serves_two_users_editing_at_once(
    tmp_path, model_dir, engine_factory, mlx_backend
):
    """`sleepmem --backend mlx serve`: the real HTTP server on the mlx engine; two users'
    wake edits run at the same time and each recalls only their own fact."""
    import openai
    from sleepmem.adapters.server.runner import BackgroundServer
    from sleepmem.engine.service import MemoryService

    engine = _mlx_engine(mlx_backend, engine_factory, link_models(tmp_path / "home", model_dir))
    server = BackgroundServer(MemoryService(engine)).start()
    try:
        api = openai.OpenAI(base_url=server.url + "/v1", api_key="none", max_retries=0)
        told = {"ana": ("Porto", "I live in Porto."), "bo": ("Oslo", "I live in Oslo.")}

        def tell(user: str) -> None:
            api.chat.completions.create(
                model="sleepmem",
                messages=[{"role": "user", "content": told[user][1]}],
                user=user,
                max_tokens=8,
            )

        threads = [threading.Thread(target=tell, args=(user,)) for user in told]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=120)
        server.call(server.service.drain(), 600)
        for user, (city, _) in told.items():
            assert [f.answer for f in engine.memories(user)] == [city]
            stream = api.chat.completions.create(
                model="sleepmem",
                messages=[{"role": "user", "content": QUESTION}],
                user=user,
                max_tokens=16,
                stream=True,
            )
            answer = "".join(c.choices[0].delta.content or "" for c in stream if c.choices)
            other = "Oslo" if city == "Porto" else "Porto"
            assert city in answer and other not in answer, answer
    finally:
        server.stop()
        engine.close()
