"""A llama.cpp LoRA adapter file, written with the ``gguf`` package's GGUFWriter.

What llama.cpp's adapter loader (``llama_adapter_lora_init``) checks, as its converter
``convert_lora_to_gguf.py`` writes it: ``general.type = adapter``, ``general.architecture``
equal to the base model's, ``adapter.type = lora``, ``adapter.lora.alpha``, and per target
tensor a pair ``<base tensor>.lora_a`` / ``.lora_b``. In ggml's shape order (innermost
first) the base ``blk.N.ffn_down.weight`` is [m, d], lora_a must be [m, r] and lora_b [r, d]:
as numpy arrays (outermost first) that is lora_a (r, m) and lora_b (d, r), the same
orientation as PEFT's lora_A and lora_B.

llama.cpp scales every pair by alpha / (that pair's rank) with one alpha for the whole
file. When all layers share a rank, alpha = rank and the scale is 1; when ranks differ,
alpha is the largest rank and each smaller pair's lora_b is multiplied by its rank / alpha,
which makes its scale 1 too.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from ..errors import BackendUnavailable, InputError
from .files import atomic_write
from .lowrank import LoraPair

ADAPTER = "adapter.gguf"
FILES = (ADAPTER,)

ARCHITECTURES = {
    "llama": "llama",
    "mistral": "llama",  # llama.cpp converts Mistral checkpoints to its llama architecture
    "qwen2": "qwen2",
    "qwen3": "qwen3",
    "gemma": "gemma",
    "gemma2": "gemma2",
    "gemma3": "gemma3",
    "phi3": "phi3",
}
"""Hugging Face ``model_type`` -> llama.cpp architecture name, for the families the torch
backend edits; any other is read from a base GGUF file (``--base-gguf``)."""


def _gguf():
    try:
        import gguf
    except ImportError as exc:
        raise BackendUnavailable(
            "the GGUF export needs the gguf package: pip install 'sleepmem[torch]'"
        ) from exc
    return gguf


def tensor_name(layer: int) -> str:
    """llama.cpp's name for layer ``layer``'s down_proj weight."""
    return f"blk.{layer}.ffn_down.weight"


def architecture_of_gguf(path: Path) -> tuple[str, dict[str, tuple[int, ...]]]:
    """A GGUF model's ``general.architecture`` and its ffn_down shapes (ggml order), to
    check an adapter against the base it is meant for."""
    gguf = _gguf()
    try:
        reader = gguf.GGUFReader(str(path))
    except (OSError, ValueError) as exc:
        raise InputError(f"could not read GGUF file {path}: {exc}") from exc
    field = reader.get_field("general.architecture")
    if field is None:
        raise InputError(f"{path} has no general.architecture; is it a model GGUF?")
    arch = bytes(field.parts[field.data[0]]).decode("utf-8")
    shapes = {
        t.name: tuple(int(n) for n in t.shape) for t in reader.tensors if "ffn_down" in t.name
    }
    return arch, shapes


def architecture_of_folder(folder: Path) -> str:
    """The llama.cpp architecture of a Hugging Face folder, from its config.json."""
    try:
        model_type = json.loads((folder / "config.json").read_text("utf-8")).get("model_type")
    except (OSError, ValueError) as exc:
        raise InputError(f"could not read {folder / 'config.json'}: {exc}") from exc
    arch = ARCHITECTURES.get(str(model_type))
    if arch is None:
        raise InputError(
            f"don't know llama.cpp's name for model type {model_type!r}; pass the base "
            "model's GGUF file with --base-gguf"
        )
    return arch


def check_base(pairs: dict[int, LoraPair], shapes: dict[str, tuple[int, ...]], base: Path) -> None:
    """Refuse an adapter whose layers the base GGUF lacks or shapes differently (llama.cpp
    would refuse it at load time with a less telling message)."""
    for layer, pair in pairs.items():
        want = (pair.a.shape[1], pair.b.shape[0])  # [m, d] in ggml order
        have = shapes.get(tensor_name(layer))
        if have != want:
            raise InputError(
                f"{base} does not fit this memory: {tensor_name(layer)} is "
                f"{list(have) if have else 'missing'}, the adapter needs {list(want)}"
            )


def write_gguf(
    pairs: dict[int, LoraPair],
    folder: Path,
    arch: str,
    dtype: np.dtype,
    name: str = "sleepmem memory",
) -> list[Path]:
    """Write ``folder/adapter.gguf``; returns the files written."""
    if not pairs:
        raise ValueError("an adapter needs at least one layer")
    gguf = _gguf()
    alpha = max(p.rank for p in pairs.values())
    path = folder / ADAPTER
    with atomic_write(path) as tmp:
        writer = gguf.GGUFWriter(str(tmp), arch)
        try:
            writer.add_type(gguf.GGUFType.ADAPTER)
            writer.add_name(name)
            writer.add_string(gguf.Keys.Adapter.TYPE, "lora")
            writer.add_float32(gguf.Keys.Adapter.LORA_ALPHA, float(alpha))
            for layer, pair in sorted(pairs.items()):
                fold = pair.rank / alpha  # llama.cpp multiplies by alpha / rank; undo it
                b = pair.b if fold == 1 else pair.b * np.float32(fold)
                name = tensor_name(layer)
                writer.add_tensor(f"{name}.lora_a", np.ascontiguousarray(pair.a, dtype))
                writer.add_tensor(f"{name}.lora_b", np.ascontiguousarray(b, dtype))
            writer.write_header_to_file()
            writer.write_kv_data_to_file()
            writer.write_tensors_to_file()
        finally:
            writer.close()
    return [path]
