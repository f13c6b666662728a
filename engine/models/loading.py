"""Loading a resolved model with transformers (for the torch backend)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ..errors import BackendUnavailable, ModelError
from .gguf import dense_gguf_kwargs, detach_gguf_quantizer
from .quantize import mlx_quantization
from .resolve import ModelSource, hub_error

_DTYPES = ("float32", "float16", "bfloat16")


def load_transformers(
    source: ModelSource, *, dtype: str = "float32", device: str = "cpu"
) -> tuple[Any, Any]:
    """Load ``(model, tokenizer)`` with transformers, turning every failure into a
    ModelError a user can act on (hub unreachable -> use a local path)."""
    if dtype not in _DTYPES:
        raise ModelError(f"unsupported dtype {dtype!r}; use one of {', '.join(_DTYPES)}")
    try:
        import torch
        from transformers import AutoModelForCausalLM, AutoTokenizer
    except ImportError as e:
        raise BackendUnavailable(
            f"loading models needs torch and transformers ({e}); "
            "install them with: pip install 'sleepmem[torch]'"
        ) from e
    if source.kind == "folder" and mlx_quantization(Path(source.location)):
        raise ModelError(
            f"{source.location} is quantised in mlx-lm's format; load it with --backend mlx"
        )
    name, kwargs = source.from_pretrained_args()
    model_kwargs = dense_gguf_kwargs(kwargs["gguf_file"]) if source.kind == "gguf" else {}
    try:
        tokenizer = AutoTokenizer.from_pretrained(name, **kwargs)
        model = AutoModelForCausalLM.from_pretrained(
            name, dtype=getattr(torch, dtype), **model_kwargs
        )
        detach_gguf_quantizer(model)
    except ModelError:
        raise
    except ImportError as e:  # e.g. gguf or accelerate missing
        raise BackendUnavailable(f"cannot load {name}: {e}") from e
    except Exception as e:  # transformers raises OSError, ValueError, HTTP errors...
        if source.kind == "hub":
            raise hub_error(name, f"{type(e).__name__}: {e}") from e
        raise ModelError(f"could not load model from {name}: {type(e).__name__}: {e}") from e
    model.to(device)
    model.eval()
    return model, tokenizer
