"""A memory as a LoRA adapter other inference engines load.

One concern per module: ``lowrank`` (factors -> LoRA pairs, SVD truncation), ``peft_format``
(a PEFT adapter folder), ``gguf_format`` (a llama.cpp adapter GGUF), ``files`` (safe writes
into the output folder) and ``user`` (finding a memory's edit and exporting it).
"""

from .lowrank import LoraPair, as_factors, lora_pair, lora_pairs, svd_of_product
from .user import DTYPES, FORMATS, MANIFEST, ExportResult, export_memory, memory_factors

__all__ = [
    "DTYPES",
    "FORMATS",
    "MANIFEST",
    "ExportResult",
    "LoraPair",
    "as_factors",
    "export_memory",
    "lora_pair",
    "lora_pairs",
    "memory_factors",
    "svd_of_product",
]
