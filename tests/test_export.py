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
from sleepmem.engine.errors import InputError
from sleepmem.engine.exports import MANIFEST, as_factors, export_memory, lora_pair, lora_pairs
from sleepmem.engine.exports.gguf_format import write_gguf
from sleepmem.engine.facts import ACTIVE, explicit
from sleepmem.engine.models import ModelSource
from sleepmem.engine.store import EditBatch, MemoryStore

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
