"""Exporting one memory (a user, or a user's per-character or per-guild memory) as a LoRA
adapter for another inference engine: find the memory's edit for the model, turn it into
LoRA pairs (optionally truncated), write the chosen format and a manifest beside it.

Nothing here loads the model: the edit is read from the store and the model is only
resolved (its id keys the edit; its folder or GGUF names the base the adapter is for).
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from .. import paths
from ..backends.base import Factors
from ..errors import InputError
from ..kept_keys import Grams, stored_key_sums
from ..models import ModelSource, default_gguf_path, default_model_dir
from ..store import MemoryStore
from . import gguf_format, peft_format
from .files import atomic_write, prepare_folder
from .lowrank import LoraPair, lora_pairs

FORMATS = ("peft", "gguf")
DTYPES: dict[str, type[np.floating]] = {"float32": np.float32, "float16": np.float16}
MANIFEST = "sleepmem-export.json"
"""Written beside the adapter: whose memory, for which model, which facts, what ranks."""


@dataclass(frozen=True)
class ExportResult:
    user: str
    model_id: str
    format: str
    folder: Path
    files: list[Path]
    facts: int
    unwritten: int  # active facts the stored edit does not cover yet (not in the adapter)
    ranks: dict[int, int]
    kept: dict[int, float]  # per layer, share of the update the adapter holds (lowrank)
    dtype: str
    max_rank: int | None
    bytes: int = 0
    notes: list[str] = field(default_factory=list)

    def describe(self) -> str:
        ranks = sorted(set(self.ranks.values()))
        rank = str(ranks[0]) if len(ranks) == 1 else f"{ranks[0]}-{ranks[-1]}"
        lowest = min(self.kept.values())
        layers = ", ".join(str(layer) for layer in sorted(self.ranks))
        line = (
            f"{self.format} adapter of {self.user!r} ({self.facts} facts) for {self.model_id}: "
            f"layers {layers}, rank {rank}, {self.dtype}, {self.bytes} bytes in {self.folder}"
        )
        if self.max_rank is not None:
            line += f"; truncation kept >= {lowest:.1%} of each layer's update"
        return line


def memory_factors(root: Path, user: str, model_id: str) -> tuple[Factors, int, int, Grams | None]:
    """The memory's live factors for ``model_id``, its active fact count, how many of
    them the edit does not cover, and the key sums the edit was written through (None if
    the ledger has not kept them). Unknown users and users with nothing written are errors
    a user can act on."""
    store = MemoryStore(root)
    try:
        known = store.users()
        if user not in known:
            listed = ", ".join(repr(u) for u in known[:10]) + (" ..." if len(known) > 10 else "")
            raise InputError(
                f"no memory for user {user!r}"
                + (f"; users with memory: {listed}" if known else "; no user has memory yet")
            )
        mem = store.user(user, model_id)
        facts = mem.facts()
        if not facts:
            raise InputError(f"user {user!r} has no memories to export")
        edit = mem.edit()
        factors = Factors(dict(edit.layers)) if edit is not None else Factors()
        if not factors:
            raise InputError(
                f"user {user!r} has {len(facts)} facts but none is written into {model_id} "
                "yet: chat with this model once (it re-edits them) or run `sleepmem sleep "
                "--user` on it, then export"
            )
        assert edit is not None
        grams = stored_key_sums(mem, edit.id)
        return factors, len(facts), len(mem.unwritten_facts()), grams
    finally:
        store.close()


def _gguf_arch(
    home: Path, source: ModelSource, pairs: dict[int, LoraPair], base_gguf: Path | None
) -> str:
    """llama.cpp's architecture for the adapter, checked against a base GGUF when one is
    known: the one given, the model itself if it is a GGUF, or the default model's GGUF
    when it was kept beside the default folder (``sleepmem model pull --gguf``)."""
    if base_gguf is None and source.kind == "gguf":
        base_gguf = source.path
    if base_gguf is None and source.path is not None:
        kept = default_gguf_path(home)
        if source.path.resolve() == default_model_dir(home).resolve() and kept.is_file():
            base_gguf = kept
    if base_gguf is not None:
        arch, shapes = gguf_format.architecture_of_gguf(base_gguf)
        gguf_format.check_base(pairs, shapes, base_gguf)
        return arch
    if source.kind != "folder" or source.path is None:
        raise InputError("a GGUF export of a hub model needs its GGUF file: pass --base-gguf")
    return gguf_format.architecture_of_folder(source.path)


def export_memory(
    home: Path,
    source: ModelSource,
    user: str,
    out: Path,
    fmt: str = "peft",
    *,
    max_rank: int | None = None,
    dtype: str = "float32",
    force: bool = False,
    base_gguf: Path | None = None,
) -> ExportResult:
    """Write ``user``'s memory for ``source`` as a ``fmt`` adapter into the folder ``out``.

    ``home``: the sleepmem home (its users folder holds the memory). ``max_rank``
    truncates each layer, on the directions the memory's keys use where the ledger kept
    them, else by SVD; ``dtype`` float16 halves the size (the SVD form is used so
    neither half underflows). Errors a user can act on are InputError; nothing is written before the
    memory is found and the adapter built.
    """
    if fmt not in FORMATS:
        raise InputError(f"unknown export format {fmt!r}; choose from {', '.join(FORMATS)}")
    if dtype not in DTYPES:
        raise InputError(f"unknown dtype {dtype!r}; choose from {', '.join(DTYPES)}")
    if max_rank is not None and max_rank < 1:
        raise InputError(f"--max-rank must be at least 1, not {max_rank}")
    found = memory_factors(paths.users_dir(home), user, source.model_id)
    factors, n_facts, unwritten, grams = found
    pairs = lora_pairs(factors, max_rank, balanced=dtype != "float32", grams=grams)
    if not pairs:
        raise InputError(f"user {user!r}'s edit is all zeros; there is nothing to export")
    arch = _gguf_arch(home, source, pairs, base_gguf) if fmt == "gguf" else None
    owned = (*(peft_format.FILES if fmt == "peft" else gguf_format.FILES), MANIFEST)
    folder = prepare_folder(out, force, owned)
    np_dtype = np.dtype(DTYPES[dtype])
    if fmt == "peft":
        base = source.location if source.kind != "gguf" else str(source.path)
        files = peft_format.write_peft(pairs, folder, base, np_dtype, {"sleepmem_user": user})
    else:
        assert arch is not None
        files = gguf_format.write_gguf(pairs, folder, arch, np_dtype, name=f"sleepmem {user}")
    result = ExportResult(
        user=user,
        model_id=source.model_id,
        format=fmt,
        folder=folder,
        files=files,
        facts=n_facts,
        unwritten=unwritten,
        ranks={layer: p.rank for layer, p in pairs.items()},
        kept={layer: p.kept for layer, p in pairs.items()},
        dtype=dtype,
        max_rank=max_rank,
        bytes=sum(f.stat().st_size for f in files),
    )
    if unwritten:
        result.notes.append(
            f"{unwritten} of the {n_facts} facts are not written into this model yet and are "
            "not in the adapter"
        )
    _write_manifest(result, arch)
    return result


def _write_manifest(result: ExportResult, arch: str | None) -> None:
    data: dict[str, Any] = {
        "user": result.user,
        "model_id": result.model_id,
        "format": result.format,
        "architecture": arch,
        "dtype": result.dtype,
        "max_rank": result.max_rank,
        "facts": result.facts,
        "unwritten_facts": result.unwritten,
        "layers": {
            str(layer): {"rank": rank, "kept": round(result.kept[layer], 6)}
            for layer, rank in sorted(result.ranks.items())
        },
        "files": [f.name for f in result.files],
        "bytes": result.bytes,
        "exported_at": time.time(),
    }
    path = result.folder / MANIFEST
    with atomic_write(path) as tmp:
        tmp.write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")
    result.files.append(path)
