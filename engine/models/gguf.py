"""GGUF files as dense Hugging Face weights: the from_pretrained arguments that dequantise
a GGUF, the check that nothing stayed packed, the conversion of the default model's GGUF
into a float32 folder, and the config keys older readers of that folder need."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from ..errors import BackendUnavailable, ModelError
from .folders import weight_files


def dense_gguf_kwargs(gguf_file: str) -> dict[str, Any]:
    """from_pretrained kwargs that load a GGUF file as plain dense weights.

    Newer transformers (5.x) attach a GGUF "quantizer" and may keep weights packed in GGUF
    blocks; the editor needs dense weights it can add deltas to, and a model with that
    quantizer attached refuses ``save_pretrained``. ``GgufConfig(dequantize=True)`` asks
    for dense weights and makes transformers drop the quantizer after loading. Older
    transformers have no GgufConfig and always dequantise.
    """
    kwargs: dict[str, Any] = {"gguf_file": gguf_file}
    try:
        from transformers import GgufConfig  # type: ignore[attr-defined]
    except ImportError:
        return kwargs
    kwargs["quantization_config"] = GgufConfig(dequantize=True)
    return kwargs


def detach_gguf_quantizer(model: Any) -> None:
    """Make a GGUF-loaded model a plain dense model (savable, editable), or fail loudly if
    any weight is still packed."""
    quantizer = getattr(model, "hf_quantizer", None)
    if quantizer is None:
        return
    packed = [n for n, m in model.named_modules() if "gguf" in type(m).__name__.lower()]
    packed += [n for n, p in model.named_parameters() if not p.is_floating_point()]
    if packed:
        raise ModelError(
            f"transformers kept GGUF weights packed ({', '.join(packed[:3])}...); "
            "sleepmem needs dense weights"
        )
    quantizer.remove_quantization_config(model)


def convert_gguf(gguf: Path, out: Path) -> dict[str, str]:
    """Dequantise a GGUF file into a float32 Hugging Face folder (safetensors + tokenizer).

    float32 rather than the GGUF's 4-bit: the editor computes weight deltas in float, and
    a plain folder loads in a second without gguf/accelerate, in transformers or mlx-lm.
    Returns library versions for the marker.
    """
    try:
        import torch
        import transformers
        from transformers import AutoModelForCausalLM, AutoTokenizer
    except ImportError as e:
        raise BackendUnavailable(
            f"converting the default model needs torch, transformers and gguf ({e}); "
            "install them with: pip install 'sleepmem[torch]'"
        ) from e
    try:
        tokenizer = AutoTokenizer.from_pretrained(str(gguf.parent), gguf_file=gguf.name)
        model = AutoModelForCausalLM.from_pretrained(
            str(gguf.parent), dtype=torch.float32, **dense_gguf_kwargs(gguf.name)
        )
        detach_gguf_quantizer(model)
    except ModelError:
        raise
    except ImportError as e:
        raise BackendUnavailable(
            f"converting the default model needs gguf and accelerate ({e}); "
            "install them with: pip install 'sleepmem[torch]'"
        ) from e
    except Exception as e:
        raise ModelError(f"could not read {gguf.name}: {type(e).__name__}: {e}") from e
    if not getattr(tokenizer, "chat_template", None):
        raise ModelError(f"{gguf.name} carries no chat template; sleepmem needs one")
    try:
        model.save_pretrained(str(out))
        tokenizer.save_pretrained(str(out))
    except Exception as e:
        raise ModelError(f"could not save the converted model: {type(e).__name__}: {e}") from e
    if not (out / "config.json").is_file() or not weight_files(out):
        raise ModelError(f"saving the converted model into {out} produced no weights")
    add_legacy_config_keys(out / "config.json")
    return {"torch": str(torch.__version__), "transformers": str(transformers.__version__)}


def add_legacy_config_keys(config_json: Path) -> bool:
    """Also write RoPE settings the pre-transformers-5 way (top-level ``rope_theta`` and
    ``rope_scaling``), keeping ``rope_parameters``. transformers 5 saves only the nested
    ``rope_parameters``; mlx-lm and transformers 4.x read the top-level keys and would
    silently fall back to rope_theta=10000 (SmolLM2 uses 100000), giving a model that loads
    but talks nonsense. Returns whether the file changed; safe to call repeatedly."""
    cfg = json.loads(config_json.read_text(encoding="utf-8"))
    rope = cfg.get("rope_parameters")
    if not isinstance(rope, dict) or "rope_theta" not in rope:
        return False  # nested per-layer-type or absent: nothing the old format can say
    changed = False
    if "rope_theta" not in cfg:
        cfg["rope_theta"] = rope["rope_theta"]
        changed = True
    if rope.get("rope_type", "default") != "default" and "rope_scaling" not in cfg:
        cfg["rope_scaling"] = {k: v for k, v in rope.items() if k != "rope_theta"}
        changed = True
    if changed:
        tmp = config_json.with_suffix(".json.tmp")
        tmp.write_text(json.dumps(cfg, indent=2, sort_keys=True) + "\n", encoding="utf-8")
        os.replace(tmp, config_json)
    return changed
