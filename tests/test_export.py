"""Memories exported as LoRA adapters: the low-rank math, the PEFT and GGUF files, the
command's errors, and, on the real default model, PEFT's forward against sleepmem's own and
llama.cpp answering from a user's adapter (and only that user's)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from safetensors.numpy import load_file
from sleepmem.adapters.cli import main
from sleepmem.engine import paths
from sleepmem.engine.deltas import EditBatch
from sleepmem.engine.errors import InputError
from sleepmem.engine.exports import MANIFEST, as_factors, export_memory, lora_pair, lora_pairs
from sleepmem.engine.exports.gguf_format import write_gguf
from sleepmem.engine.facts import ACTIVE, explicit
from sleepmem.engine.kept_keys import stored_key_sums
from sleepmem.engine.models import ModelSource
from sleepmem.engine.store import MemoryStore

D, M = 24, 40  # a toy model's hidden and MLP widths for the tests without the model


def _factors(rng: np.random.Generator, n: int, scale: float = 1.0):
    r = rng.standard_normal((D, n)).astype(np.float32)
    a = (rng.standard_normal((M, n)) * scale).astype(np.float32)
    return r, a


def _dense(r: np.ndarray, a: np.ndarray) -> np.ndarray:
    return r.astype(np.float64) @ a.T.astype(np.float64)


# --------------------------------------------------------------------------- low-rank math


def test_exact_pair_is_the_stored_factors_bit_for_bit() -> None:
    r, a = _factors(np.random.default_rng(0), 5)
    pair = lora_pair(r, a)
    assert pair.rank == 5 and pair.kept == 1.0
    assert np.array_equal(pair.b, r) and np.array_equal(pair.a, a.T)


def test_truncation_is_the_best_rank_k_approximation() -> None:
    r, a = _factors(np.random.default_rng(1), 12, scale=1e-3)
    dense = _dense(r, a)
    s = np.linalg.svd(dense, compute_uv=False)
    for k in (1, 4, 12):
        pair = lora_pair(r, a, max_rank=k)
        assert pair.rank == k
        err = np.linalg.norm(pair.b.astype(np.float64) @ pair.a - dense)
        # Eckart-Young: the error of the best rank-k approximation is the tail's norm (up
        # to the float32 rounding of the stored halves)
        tail = np.sqrt(np.sum(s[k:] ** 2))
        assert err == pytest.approx(tail, rel=1e-3, abs=1e-6 * np.linalg.norm(dense))
        assert pair.kept == pytest.approx(np.sum(s[:k] ** 2) / np.sum(s**2), rel=1e-6)
        # the two halves carry the same scale (sqrt(S) on each side), so 16 bits hold both
        assert np.allclose(np.linalg.norm(pair.b, axis=0), np.linalg.norm(pair.a, axis=1))


def test_more_key_rows_than_dimensions_are_refactored_losslessly() -> None:
    r, a = _factors(np.random.default_rng(2), D + 10)  # n > d: rank is at most d
    pair = lora_pair(r, a)
    assert pair.rank == D
    assert np.allclose(pair.b.astype(np.float64) @ pair.a, _dense(r, a), atol=1e-4)


def test_empty_layers_are_left_out_and_round_trip() -> None:
    rng = np.random.default_rng(3)
    factors = {3: _factors(rng, 4), 4: (np.zeros((D, 2), np.float32), np.ones((M, 2), np.float32))}
    from sleepmem.engine.backends.base import Factors

    pairs = lora_pairs(Factors(factors))
    assert sorted(pairs) == [3]
    back = as_factors(pairs).layers[3]
    assert np.array_equal(_dense(*back), _dense(*factors[3]))
    with pytest.raises(ValueError):
        lora_pairs(Factors(factors), max_rank=0)


# --------------------------------------------------------------------------- files


def test_gguf_file_has_the_keys_and_shapes_llama_cpp_checks(tmp_path: Path) -> None:
    gguf = pytest.importorskip("gguf")
    rng = np.random.default_rng(4)
    pairs = {2: lora_pair(*_factors(rng, 6)), 5: lora_pair(*_factors(rng, 6), max_rank=3)}
    [path] = write_gguf(pairs, tmp_path, "llama", np.dtype(np.float32))
    reader = gguf.GGUFReader(str(path))

    def value(key: str):
        field = reader.get_field(key)
        data = field.parts[field.data[0]]
        return bytes(data).decode() if field.types[0] == gguf.GGUFValueType.STRING else data[0]

    assert value("general.type") == "adapter"
    assert value("general.architecture") == "llama"
    assert value("adapter.type") == "lora"
    alpha = float(value("adapter.lora.alpha"))
    assert alpha == 6
    tensors = {t.name: t for t in reader.tensors}
    assert sorted(tensors) == [
        "blk.2.ffn_down.weight.lora_a",
        "blk.2.ffn_down.weight.lora_b",
        "blk.5.ffn_down.weight.lora_a",
        "blk.5.ffn_down.weight.lora_b",
    ]
    # ggml order (innermost first): base ffn_down is [m, d]; lora_a [m, r], lora_b [r, d]
    assert list(tensors["blk.5.ffn_down.weight.lora_a"].shape) == [M, 3]
    assert list(tensors["blk.5.ffn_down.weight.lora_b"].shape) == [3, D]
    # llama.cpp scales each pair by alpha / its rank; the file folds that back out
    for layer, pair in pairs.items():
        a = np.asarray(tensors[f"blk.{layer}.ffn_down.weight.lora_a"].data)
        b = np.asarray(tensors[f"blk.{layer}.ffn_down.weight.lora_b"].data)
        applied = alpha / pair.rank * (b.astype(np.float64) @ a)
        assert np.allclose(applied, pair.b.astype(np.float64) @ pair.a, atol=1e-5)


def _memory(home: Path, user: str, model_id: str, layers: dict | None, n_facts: int = 1) -> None:
    """A user's ledger and edit written through the real store (no model needed)."""
    store = MemoryStore(paths.users_dir(home))
    mem = store.user(user, model_id)
    facts = [
        explicit(f"What is fact {i}?", f"answer {i}").with_status(ACTIVE) for i in range(n_facts)
    ]
    batches = [EditBatch.new([f.id for f in facts], layers, "wake")] if layers else []
    mem.commit(add_facts=facts, add_batches=batches)
    store.close()


@pytest.fixture
def toy(tmp_path: Path) -> tuple[Path, ModelSource, dict]:
    """A home with a toy "model" folder (resolve only reads its config) and two memories."""
    home = tmp_path / "home"
    folder = paths.models_dir(home) / "toy"
    folder.mkdir(parents=True)
    (folder / "config.json").write_text(json.dumps({"model_type": "llama"}), "utf-8")
    (folder / "model.safetensors").write_bytes(b"")
    from sleepmem.engine.models import resolve

    source = resolve(str(folder), base=home)
    rng = np.random.default_rng(5)
    layers = {3: _factors(rng, 7), 4: _factors(rng, 7)}
    _memory(home, "ana", source.model_id, layers)
    _memory(home, "ana/character:Seraphina", source.model_id, {4: _factors(rng, 2)})
    return home, source, layers


def test_peft_folder_targets_only_the_edited_down_projs(toy, tmp_path: Path) -> None:
    home, source, _ = toy
    result = export_memory(home, source, "ana", tmp_path / "out", "peft", max_rank=5)
    config = json.loads((tmp_path / "out" / "adapter_config.json").read_text("utf-8"))
    names = ["model.layers.3.mlp.down_proj", "model.layers.4.mlp.down_proj"]
    assert config["peft_type"] == "LORA" and config["task_type"] == "CAUSAL_LM"
    assert config["target_modules"] == names
    assert config["rank_pattern"] == config["alpha_pattern"] == dict.fromkeys(names, 5)
    assert config["r"] == config["lora_alpha"] == 5
    weights = load_file(str(tmp_path / "out" / "adapter_model.safetensors"))
    key = "base_model.model.model.layers.3.mlp.down_proj"
    assert weights[f"{key}.lora_A.weight"].shape == (5, M)  # (r, in)
    assert weights[f"{key}.lora_B.weight"].shape == (D, 5)  # (out, r)
    assert result.ranks == {3: 5, 4: 5} and all(0 < k < 1 for k in result.kept.values())
    manifest = json.loads((tmp_path / "out" / MANIFEST).read_text("utf-8"))
    assert manifest["user"] == "ana" and manifest["layers"]["3"]["rank"] == 5


def test_export_errors_a_user_can_act_on(toy, tmp_path: Path) -> None:
    home, source, _ = toy
    with pytest.raises(InputError, match=r"no memory for user 'bo'.*'ana'"):
        export_memory(home, source, "bo", tmp_path / "o1")
    _memory(home, "cy", source.model_id, None)  # facts, but no edit for this model
    with pytest.raises(InputError, match="none is written into"):
        export_memory(home, source, "cy", tmp_path / "o2")
    assert not (tmp_path / "o1").exists() and not (tmp_path / "o2").exists()
    busy = tmp_path / "busy"
    busy.mkdir()
    (busy / "keep.txt").write_text("mine", "utf-8")
    with pytest.raises(InputError, match="not empty; pass --force"):
        export_memory(home, source, "ana", busy)
    export_memory(home, source, "ana", busy, force=True)
    assert (busy / "keep.txt").read_text("utf-8") == "mine"  # --force removes only its own
    assert (busy / "adapter_model.safetensors").is_file()


def test_cli_names_a_character_memory_as_the_server_does(
    toy, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    home, source, _ = toy
    base = ["--home", str(home), "--model", str(source.location)]
    out = tmp_path / "sera"
    code = main(["export", *base, "--user", "ana", "--character", "Seraphina", str(out)])
    printed = capsys.readouterr().out
    assert code == 0, printed
    assert "'ana/character:Seraphina'" in printed
    weights = load_file(str(out / "adapter_model.safetensors"))
    assert sorted(weights) == [
        "base_model.model.model.layers.4.mlp.down_proj.lora_A.weight",
        "base_model.model.model.layers.4.mlp.down_proj.lora_B.weight",
    ]
    code = main(["export", *base, "--user", "nobody", str(tmp_path / "x")])
    assert code == 2
    assert "no memory for user 'nobody'" in capsys.readouterr().err
    code = main(["export", *base, "--user", "ana", "--format", "gguf", str(tmp_path / "g")])
    assert code == 0 and (tmp_path / "g" / "adapter.gguf").is_file()


# --------------------------------------------------------------------------- real model

ANA = ("What is my dog's name?", "Biscuit")
BO = ("Which city do I live in?", "Porto")
LOGIT_TOLERANCE = 1e-3
"""Largest |logit| difference allowed between PEFT's forward and sleepmem's (logits here
span about +-30): both run the same float32 ops, only summed in another order."""


@pytest.fixture(scope="module")
def told(engine_factory, model_dir: Path, tmp_path_factory: pytest.TempPathFactory):
    """One engine on its own home with two users, one explicit fact each (small edits)."""
    from conftest import link_models

    engine = engine_factory(link_models(tmp_path_factory.mktemp("export-home"), model_dir))
    engine.write("ana", [explicit(*ANA)])
    engine.write("bo", [explicit(*BO)])
    return engine


@pytest.fixture(scope="module")
def source(model_dir: Path) -> ModelSource:
    from sleepmem.engine.models import resolve

    return resolve(str(model_dir))


@pytest.fixture(scope="module")
def peft_model(model_dir: Path):
    """A second copy of the model for PEFT to wrap (the shared backend's must not change)."""
    pytest.importorskip("peft")
    import torch
    from transformers import AutoModelForCausalLM

    return AutoModelForCausalLM.from_pretrained(str(model_dir), dtype=torch.float32).eval()


def _prompt(backend, question: str) -> str:
    return backend.chat_text([{"role": "user", "content": question}])


def _greedy(model, tokenizer, text: str, tokens: int = 16) -> str:
    import torch

    ids = torch.tensor([tokenizer(text, add_special_tokens=False).input_ids])
    with torch.inference_mode():
        out = model.generate(input_ids=ids, max_new_tokens=tokens, do_sample=False)
    return tokenizer.decode(out[0, ids.shape[1] :], skip_special_tokens=True)


def _peft_logits(model, tokenizer, text: str) -> np.ndarray:
    import torch

    ids = torch.tensor([tokenizer(text, add_special_tokens=False).input_ids])
    with torch.inference_mode():
        return model(input_ids=ids).logits[0].float().numpy()


def test_peft_adapter_matches_sleepmems_forward_and_recalls(
    told, source, peft_model, tmp_path: Path
) -> None:
    from peft import PeftModel

    backend = told.backend
    out = export_memory(told.home, source, "ana", tmp_path / "ana")
    model = PeftModel.from_pretrained(peft_model, str(out.folder), adapter_name="ana")
    try:
        factors = told.factors("ana")
        for question in (ANA[0], BO[0], "What is the capital of France?"):
            text = _prompt(backend, question)
            ours = backend.logits(text, factors)
            theirs = _peft_logits(model, backend.tokenizer, text)
            diff = float(np.abs(ours - theirs).max())
            assert diff <= LOGIT_TOLERANCE, f"{question}: max |logit diff| {diff}"
            assert np.array_equal(ours.argmax(-1), theirs.argmax(-1))
        # the adapter really changes the model: without it the logits move and the fact goes
        with model.disable_adapter():
            bare = _peft_logits(model, backend.tokenizer, _prompt(backend, ANA[0]))
            assert ANA[1] not in _greedy(model, backend.tokenizer, _prompt(backend, ANA[0]))
        assert float(np.abs(bare - backend.logits(_prompt(backend, ANA[0]), factors)).max()) > 1
        assert ANA[1] in _greedy(model, backend.tokenizer, _prompt(backend, ANA[0]))
    finally:
        model.unload()  # give the module its plain down_projs back for the next test


def test_truncated_adapter_has_the_rank_it_says_and_is_that_update(
    told, source, peft_model, tmp_path: Path
) -> None:
    from peft import PeftModel

    backend = told.backend
    full = export_memory(told.home, source, "ana", tmp_path / "full")
    cut = export_memory(told.home, source, "ana", tmp_path / "cut", max_rank=2)
    assert max(full.ranks.values()) > 2  # stored compacted: one fact needs 1 to ~8 a layer
    # a layer whose update has fewer than 2 singular values above float32 noise keeps fewer
    assert max(cut.ranks.values()) == 2 and min(cut.ranks.values()) >= 1
    assert all(cut.ranks[layer] <= full.ranks[layer] for layer in cut.ranks)
    weights = load_file(str(cut.folder / "adapter_model.safetensors"))
    ranks = {k.split(".")[4]: w.shape[0] for k, w in weights.items() if "lora_A" in k}
    assert ranks == {str(layer): rank for layer, rank in cut.ranks.items()}
    assert cut.bytes < full.bytes
    assert all(0 < k <= 1 for k in cut.kept.values())
    # what PEFT runs is exactly the truncated update sleepmem reports
    mem = told.memory("ana")
    grams = stored_key_sums(mem, mem.edit().id)
    assert grams is not None  # the cut was weighed by the keys the edit was written through
    pairs = lora_pairs(told.factors("ana"), max_rank=2, grams=grams)
    model = PeftModel.from_pretrained(peft_model, str(cut.folder))
    try:
        text = _prompt(backend, ANA[0])
        ours = backend.logits(text, as_factors(pairs))
        diff = float(np.abs(ours - _peft_logits(model, backend.tokenizer, text)).max())
        assert diff <= LOGIT_TOLERANCE
    finally:
        model.unload()


@pytest.fixture(scope="module")
def llama(model_dir: Path):
    """The default model's GGUF base (Q4_1, the file the folder was converted from) in
    llama.cpp; skipped without llama-cpp-python."""
    pytest.importorskip("llama_cpp")
    from sleepmem.engine.llamacpp import LlamaCpp
    from sleepmem.engine.models import pull_default_gguf

    runtime = LlamaCpp(pull_default_gguf(progress=False, base=model_dir.parent.parent))
    yield runtime
    runtime.close()


def test_llama_cpp_answers_from_this_users_adapter_only(
    told, source, llama, tmp_path: Path
) -> None:
    backend = told.backend
    adapters = {
        user: export_memory(told.home, source, user, tmp_path / user, "gguf").files[0]
        for user in ("ana", "bo")
    }

    def ask(question: str, adapter: Path | None) -> str:
        ids = backend.encode(_prompt(backend, question))
        new = list(llama.generate(ids, 16, adapter, frozenset(backend.stop_ids)))
        return backend.tokenizer.decode(new, skip_special_tokens=True)

    assert ANA[1] in ask(ANA[0], adapters["ana"])
    # the same question right after, on the same context: bo's adapter, then none
    assert ANA[1] not in ask(ANA[0], adapters["bo"])
    assert ANA[1] not in ask(ANA[0], None)
    assert BO[1] in ask(BO[0], adapters["bo"])
    assert BO[1] not in ask(BO[0], adapters["ana"])
    assert ANA[1] in ask(ANA[0], adapters["ana"])  # swapping back still works
