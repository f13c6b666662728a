"""A PEFT LoRA adapter folder: ``adapter_config.json`` and ``adapter_model.safetensors``.

Written with json and safetensors only, so exporting needs no peft install; loading it is
``PeftModel.from_pretrained(model, folder)`` (or vLLM's ``--lora-modules``). Only the
down_proj of the edited layers is targeted, named by its full module path so no other
module matches; each layer's rank is in ``rank_pattern`` and its alpha (= its rank) in
``alpha_pattern``, so PEFT's scaling alpha / r is exactly 1 everywhere.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
from safetensors.numpy import save_file

from .files import atomic_write
from .lowrank import LoraPair

CONFIG = "adapter_config.json"
WEIGHTS = "adapter_model.safetensors"
FILES = (CONFIG, WEIGHTS)


def module_name(layer: int) -> str:
    """down_proj's module path in a Hugging Face causal LM of the architectures the torch
    backend edits (``model.layers[i].mlp.down_proj``)."""
    return f"model.layers.{layer}.mlp.down_proj"


def adapter_config(pairs: dict[int, LoraPair], base_model: str | None) -> dict[str, Any]:
    """The adapter_config.json content (the fields every PEFT version since 0.6 reads)."""
    if not pairs:
        raise ValueError("an adapter needs at least one layer")
    top = max(p.rank for p in pairs.values())
    names = {layer: module_name(layer) for layer in pairs}
    return {
        "peft_type": "LORA",
        "task_type": "CAUSAL_LM",
        "base_model_name_or_path": base_model,
        "inference_mode": True,
        "r": top,
        "lora_alpha": top,
        "target_modules": [names[layer] for layer in sorted(pairs)],
        "rank_pattern": {names[layer]: p.rank for layer, p in sorted(pairs.items())},
        "alpha_pattern": {names[layer]: p.rank for layer, p in sorted(pairs.items())},
        "lora_dropout": 0.0,
        "fan_in_fan_out": False,
        "bias": "none",
        "use_rslora": False,
        "use_dora": False,
        "init_lora_weights": True,
        "modules_to_save": None,
        "layers_to_transform": None,
        "layers_pattern": None,
    }


def tensors(pairs: dict[int, LoraPair], dtype: np.dtype) -> dict[str, np.ndarray]:
    """State-dict entries under the names ``PeftModel`` saves (``base_model.model.`` + the
    module path + ``.lora_A.weight``; the adapter name is not part of saved keys)."""
    out: dict[str, np.ndarray] = {}
    for layer, pair in sorted(pairs.items()):
        prefix = f"base_model.model.{module_name(layer)}"
        out[f"{prefix}.lora_A.weight"] = np.ascontiguousarray(pair.a, dtype=dtype)  # (r, m)
        out[f"{prefix}.lora_B.weight"] = np.ascontiguousarray(pair.b, dtype=dtype)  # (d, r)
    return out


def write_peft(
    pairs: dict[int, LoraPair],
    folder: Path,
    base_model: str | None,
    dtype: np.dtype,
    metadata: dict[str, str] | None = None,
) -> list[Path]:
    """Write the adapter into ``folder`` (which must exist); returns the files written."""
    config = json.dumps(adapter_config(pairs, base_model), indent=2) + "\n"
    weights = folder / WEIGHTS
    with atomic_write(weights) as tmp:
        save_file(tensors(pairs, dtype), str(tmp), metadata={"format": "pt", **(metadata or {})})
    with atomic_write(folder / CONFIG) as tmp:
        tmp.write_text(config, encoding="utf-8")
    return [folder / CONFIG, weights]
