"""How a user's edit and the editor's probes act inside an mlx model's forward pass.

mlx has no forward hooks, so each edited layer's ``down_proj`` is wrapped once at load by
``EditedDownProj``. It adds the calling user's exact low-rank term and records its input
(the key) or its second moments when the editor asks. What one forward pass sees is a
``Call`` set by ``scoped`` in a ContextVar around each synchronous forward, never across a
``yield``: concurrent calls from several threads, and interleaved generators in one thread,
each see only their own factors.
"""

from __future__ import annotations

import contextlib
import contextvars
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import mlx.core as mx
import mlx.nn as nn

from .mlx_quant import CpuQuantizedEmbedding, CpuQuantizedLinear


@dataclass
class Call:
    """What one synchronous forward pass sees: the user's factors and what to record.

    factors: layer -> (A (m, r), R^T (r, d)) as model-dtype mx arrays.
    rows/cols: the probed position of each batch row (keys are read there).
    moment_mask: (B, T, 1) 1.0 for tokens that count towards second moments.
    """

    factors: dict[int, tuple[mx.array, mx.array]] = field(default_factory=dict)
    rows: mx.array | None = None
    cols: mx.array | None = None
    key_layers: frozenset[int] = frozenset()
    keys: dict[int, mx.array] = field(default_factory=dict)
    moment_mask: mx.array | None = None
    moment_layers: frozenset[int] = frozenset()
    moments: dict[int, mx.array] = field(default_factory=dict)


_current: contextvars.ContextVar[Call | None] = contextvars.ContextVar(
    "sleepmem_mlx_call", default=None
)


class EditedDownProj(nn.Module):
    """``down_proj`` plus the calling user's exact low-rank term; the base is untouched."""

    def __init__(self, base: nn.Module, index: int) -> None:
        super().__init__()
        self.base = base
        self.index = index

    def __call__(self, x: mx.array) -> mx.array:
        y = self.base(x)
        call = _current.get()
        if call is None:
            return y
        i = self.index
        if i in call.key_layers:
            call.keys[i] = x[call.rows, call.cols]  # (n, m)
        if i in call.moment_layers:
            k = (x * call.moment_mask).reshape(-1, x.shape[-1]).astype(mx.float32)
            call.moments[i] = k.T @ k  # (m, m); padding rows are zero
        pair = call.factors.get(i)
        if pair is not None:
            a, rt = pair
            y = y + (x @ a) @ rt  # (B,T,m)(m,r)(r,d) -> (B,T,d)
        return y


def unwrapped(module: Any) -> Any:
    while isinstance(module, (EditedDownProj, CpuQuantizedLinear, CpuQuantizedEmbedding)):
        module = module.base if isinstance(module, EditedDownProj) else module.inner
    return module


@contextlib.contextmanager
def scoped(call: Call) -> Iterator[Call]:
    """Scope ``call`` to one synchronous forward; never held across a yield."""
    token = _current.set(call)
    try:
        yield call
    finally:
        _current.reset(token)
