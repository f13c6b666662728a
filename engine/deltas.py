"""The edit file: low-rank edit batches of one user for one model, in safetensors.

A batch's arrays are validated before they are stored and frozen once loaded, because the
engine shares loaded batches across threads. The file is replaced atomically (write, fsync,
rename), carries a checksum and the model it belongs to, and anything unreadable raises
instead of reading as "no edits".
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import time
import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from safetensors import safe_open
from safetensors.numpy import save_file

from .compact import int8_codes
from .errors import EditError, StoreError, UnknownFact

DELTA_FORMAT = 2  # 2: a factor may be int8 codes with a ".scale" per column (1: floats only)
READABLE_FORMATS = ("1", "2")
BATCH_KINDS = ("wake", "sleep")
Layers = dict[int, tuple[np.ndarray, np.ndarray]]  # layer -> (R (d, r), A (m, r)), float32
_BATCH_ID = re.compile(r"^[0-9a-f]{1,32}$")


def new_batch_id() -> str:
    """Short lowercase hex: it is embedded in tensor names, so it must stay dot-free."""
    return uuid.uuid4().hex[:12]


@dataclass(frozen=True, eq=False)  # eq=False: comparing ndarray fields with == is ambiguous
class EditBatch:
    """Low-rank edits written together; per layer, delta W of ``mlp.down_proj`` is R @ A.T."""

    id: str
    fact_ids: tuple[str, ...]
    layers: Layers  # layer -> (R (d, r), A (m, r)), float32
    kind: str
    created_at: float

    @classmethod
    def new(cls, fact_ids: Iterable[str], layers: Layers, kind: str) -> EditBatch:
        """A batch with a fresh id and the current time."""
        return cls(new_batch_id(), tuple(fact_ids), dict(layers), kind, time.time())


def _fsync(path: Path, flags: int) -> None:
    fd = os.open(path, flags)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def frozen(a: np.ndarray) -> np.ndarray:
    a = np.array(a, dtype=np.float32, order="C", copy=True)
    a.setflags(write=False)  # cached batches are shared; nobody may change them in place
    return a


def _digest(tensors: Mapping[str, np.ndarray]) -> str:
    h = hashlib.sha256()
    for name in sorted(tensors):
        t = tensors[name]
        h.update(f"{name}|{t.dtype.str}|{t.shape}|".encode())
        h.update(np.ascontiguousarray(t).tobytes())
    return h.hexdigest()


def _stored(name: str, x: np.ndarray) -> dict[str, np.ndarray]:
    """The tensors that hold ``x`` exactly in the fewest bytes: int8 codes with one float32
    scale per column (``name`` and ``name.scale``), float16, else float32 as it is
    (compacted factors are rounded to one of these: ``compact.storable``); reading widens
    each back to the same float32 values."""
    codes, scales = int8_codes(x)
    if np.array_equal(codes * scales, x):
        return {name: np.ascontiguousarray(codes.astype(np.int8)), name + SCALE: scales}
    half = x.astype(np.float16)
    if np.array_equal(half.astype(np.float32), x):
        return {name: np.ascontiguousarray(half)}
    return {name: np.ascontiguousarray(x)}


SCALE = ".scale"


def _read_factor(tensors: Mapping[str, np.ndarray], name: str) -> np.ndarray:
    x = tensors[name]
    if x.dtype == np.int8:
        return x.astype(np.float32) * tensors[name + SCALE].astype(np.float32)
    return x


def _encode(model_id: str, batches: Sequence[EditBatch]) -> tuple[dict[str, Any], dict[str, str]]:
    tensors: dict[str, np.ndarray] = {}
    meta = []
    for b in batches:
        for layer, (r, a) in sorted(b.layers.items()):
            tensors.update(_stored(f"b.{b.id}.{layer}.R", r))
            tensors.update(_stored(f"b.{b.id}.{layer}.A", a))
        fields = {"id": b.id, "fact_ids": list(b.fact_ids), "kind": b.kind}
        meta.append({**fields, "created_at": b.created_at, "layers": sorted(b.layers)})
    header = {"format": str(DELTA_FORMAT), "model_id": model_id, "batches": json.dumps(meta)}
    return tensors, {**header, "digest": _digest(tensors)}


def write_delta_file(path: Path, model_id: str, batches: Sequence[EditBatch]) -> None:
    """Replace the delta file atomically, so a reader sees the old or the new list, never half."""
    tensors, metadata = _encode(model_id, batches)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    try:
        save_file(tensors, str(tmp), metadata=metadata)
        _fsync(tmp, os.O_RDWR)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    with contextlib.suppress(OSError):  # make the rename durable (not possible on every OS)
        _fsync(path.parent, os.O_RDONLY)


def read_delta_file(path: Path, model_id: str) -> list[EditBatch]:
    """Load batches; a missing file means none, anything unreadable raises (never 'empty')."""
    if not path.exists():
        return []
    try:
        with safe_open(str(path), framework="np") as f:
            metadata = f.metadata() or {}
            tensors = {name: f.get_tensor(name) for name in f.keys()}  # noqa: SIM118
    except Exception as e:
        raise StoreError(f"delta file {path} is unreadable ({e}); it was left as it is") from e
    try:
        if metadata.get("format") not in READABLE_FORMATS:
            raise ValueError(f"unknown format {metadata.get('format')!r}")
        if (owner := metadata.get("model_id")) != model_id:
            raise StoreError(f"delta file {path} is for model {owner!r}, not {model_id!r}")
        if metadata.get("digest") != _digest(tensors):
            raise ValueError("checksum mismatch")
        batches, seen = [], set()
        for m in json.loads(metadata["batches"]):
            layers = {}
            for layer in m["layers"]:
                names = (f"b.{m['id']}.{layer}.R", f"b.{m['id']}.{layer}.A")
                seen.update(n for n in (*names, *(x + SCALE for x in names)) if n in tensors)
                r, a = (_read_factor(tensors, n) for n in names)
                layers[int(layer)] = (frozen(r), frozen(a))
            ids = tuple(map(str, m["fact_ids"]))
            batches.append(EditBatch(m["id"], ids, layers, m["kind"], float(m["created_at"])))
        if seen != set(tensors):
            raise ValueError("tensors and batch list disagree")
    except StoreError:
        raise
    except Exception as e:
        raise StoreError(f"delta file {path} is corrupt ({e}); it was left as it is") from e
    return batches


def checked_batch(
    b: EditBatch, known: set[str], shapes: dict[int, tuple[int, int]], ids: set[str]
) -> EditBatch:
    """Validate one batch against the ``known`` fact ids, the ``shapes`` per layer and the batch
    ``ids`` so far (both updated), and return a copy whose arrays nobody can mutate."""
    if not isinstance(b, EditBatch) or not isinstance(b.id, str) or not _BATCH_ID.match(b.id):
        raise EditError(f"batch id must be short lowercase hex, got {getattr(b, 'id', b)!r}")
    if b.id in ids:
        raise EditError(f"batch {b.id} already exists")
    if b.kind not in BATCH_KINDS:
        raise EditError(f"batch {b.id}: kind must be one of {BATCH_KINDS}, got {b.kind!r}")
    missing = [f for f in b.fact_ids if f not in known]
    if not b.fact_ids or missing:
        raise UnknownFact(f"batch {b.id} names unknown facts {missing} (or none at all)")
    if not b.layers:
        raise EditError(f"batch {b.id} has no layers")
    layers = {}
    for layer, pair in b.layers.items():
        pair = pair if isinstance(pair, tuple) else ()
        arrays = [x for x in pair if isinstance(x, np.ndarray) and x.ndim == 2]
        if not (isinstance(layer, int) and layer >= 0 and len(arrays) == len(pair) == 2):
            raise EditError(f"batch {b.id} layer {layer!r}: need (R (d, r), A (m, r)) arrays")
        r, a = arrays
        if r.dtype != np.float32 or a.dtype != np.float32 or not r.shape[1] == a.shape[1] > 0:
            raise EditError(f"batch {b.id} layer {layer}: R, A must be float32 with same r")
        if shapes.setdefault(layer, (r.shape[0], a.shape[0])) != (r.shape[0], a.shape[0]):
            raise EditError(f"batch {b.id} layer {layer}: shape differs from other batches")
        if not (np.isfinite(r).all() and np.isfinite(a).all()):
            raise EditError(f"batch {b.id} layer {layer}: non-finite values")
        layers[layer] = (frozen(r), frozen(a))
    ids.add(b.id)
    return EditBatch(b.id, tuple(b.fact_ids), layers, b.kind, float(b.created_at))
