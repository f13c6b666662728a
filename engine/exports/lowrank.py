"""A user's factors as LoRA pairs, optionally truncated to a lower rank.

sleepmem stores each layer's update as delta W = R A^T (R (d, n), A (m, n)) and adds
(x @ A) @ R^T to down_proj's output. LoRA engines (PEFT, llama.cpp, vLLM) compute
x @ lora_A^T @ lora_B^T * scaling with lora_B (out, r) = (d, r) and lora_A (r, in) = (r, m),
so the exact pair is lora_B = R, lora_A = A^T with scaling 1.

Truncation goes through the SVD of delta W = U S V^T without forming the d x m matrix:
with R = Q_R T_R and A = Q_A T_A (thin QR), delta W = Q_R (T_R T_A^T) Q_A^T, and the SVD of
the small n x n core gives U = Q_R U_c, V = Q_A V_c. Keeping the top k singular values is the
best rank-k approximation in Frobenius norm (Eckart-Young); ``kept`` reports the share of
||delta W||_F^2 that survives, so a user can see what a rank cap costs before measuring recall.
Where the memory's keys are known (``kept_keys``), a cap instead keeps the directions those
keys' outputs use (``compact``): measured on 10 facts, rank 16 a layer kept 9 of 10 answers
that way and 5 of 10 by plain SVD.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from ..backends.base import Factors
from ..compact import output_directions, projected

NEGLIGIBLE = 1e-6
"""Singular values below this fraction of the largest are float32 noise of the stored factors
(their relative precision is ~1e-7): dropping them changes no output, so a lossless
re-factoring drops them too."""


@dataclass(frozen=True, eq=False)  # eq=False: ndarray fields do not compare with ==
class LoraPair:
    """One layer's update as LoRA sees it: delta W = b @ a.

    b: (d, r) lora_B, out x rank; a: (r, m) lora_A, rank x in; both float32.
    kept: share of the exact update's squared Frobenius norm this pair holds (1.0: exact).
    """

    b: np.ndarray
    a: np.ndarray
    kept: float = 1.0

    @property
    def rank(self) -> int:
        return int(self.a.shape[0])

    def numel(self) -> int:
        return int(self.a.size + self.b.size)


def svd_of_product(r: np.ndarray, a: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """U (d, k), S (k,), V (m, k) with R A^T = U diag(S) V^T, k = min(d, m, n), S descending;
    in float64, never forming the d x m product."""
    q_r, t_r = np.linalg.qr(r.astype(np.float64))  # (d, k1), (k1, n)
    q_a, t_a = np.linalg.qr(a.astype(np.float64))  # (m, k2), (k2, n)
    u_c, s, vt_c = np.linalg.svd(t_r @ t_a.T, full_matrices=False)  # core (k1, k2)
    return q_r @ u_c, s, q_a @ vt_c.T


def weighted_pair(r: np.ndarray, a: np.ndarray, gram: np.ndarray, max_rank: int) -> LoraPair:
    """The update cut to ``max_rank`` on the output directions its keys use most (the
    best rank-k approximation of its outputs on them, ``compact``), balanced; ``kept`` is
    the share of ||delta W K^T||_F^2 it holds."""
    values, u = output_directions(r, a, gram)
    total = float(values.sum())
    k = min(max_rank, int(np.sum(values > values[0] * NEGLIGIBLE)) if total > 0 else 0)
    b, side = projected(r, a, u[:, :k])
    return LoraPair(
        np.ascontiguousarray(b, np.float32),
        np.ascontiguousarray(side.T, np.float32),
        float(values[:k].sum()) / total if total > 0 else 1.0,
    )


def lora_pair(r: np.ndarray, a: np.ndarray, max_rank: int | None = None) -> LoraPair:
    """The LoRA pair of delta W = R A^T.

    Without ``max_rank``, and when the stored rank n is no more than min(d, m), the stored
    factors are used as they are (bit for bit the term sleepmem's own forward adds).
    Otherwise the update is re-factored through its SVD, split as b = U sqrt(S),
    a = sqrt(S) V^T so that both halves have the same scale (a 16-bit export of raw factors
    could underflow one side), and truncated to ``max_rank`` singular values.
    """
    d, n = r.shape
    m = a.shape[0]
    if max_rank is None and n <= min(d, m):
        return LoraPair(np.ascontiguousarray(r, np.float32), np.ascontiguousarray(a.T, np.float32))
    u, s, v = svd_of_product(r, a)
    total = float(np.sum(s**2))
    k = int(np.sum(s > s[0] * NEGLIGIBLE)) if s.size and s[0] > 0 else 0
    if max_rank is not None:
        k = min(k, max_rank)
    root = np.sqrt(s[:k])
    kept = float(np.sum(s[:k] ** 2)) / total if total > 0 else 1.0
    return LoraPair(
        np.ascontiguousarray(u[:, :k] * root, np.float32),
        np.ascontiguousarray((v[:, :k] * root).T, np.float32),
        kept,
    )


def lora_pairs(
    factors: Factors,
    max_rank: int | None = None,
    balanced: bool = False,
    grams: Mapping[int, np.ndarray] | None = None,
) -> dict[int, LoraPair]:
    """Every edited layer's pair (layers whose update is empty are left out: an adapter
    that names them would only add zero tensors). ``balanced`` forces the SVD form even
    without a cap (for 16-bit exports). With ``grams`` (per layer, the sum of k k^T over
    the keys the update was written through) a cap keeps what those keys read
    (``weighted_pair``) instead of the largest singular values."""
    if max_rank is not None and max_rank < 1:
        raise ValueError(f"max_rank must be at least 1, not {max_rank}")
    out: dict[int, LoraPair] = {}
    for layer, (r, a) in sorted(factors.layers.items()):
        if r.shape[1] == 0 or not np.any(r) or not np.any(a):
            continue
        gram = None if grams is None else grams.get(layer)
        if max_rank is not None and max_rank < r.shape[1] and gram is not None:
            out[layer] = weighted_pair(r, a, gram, max_rank)
            continue
        cap = max_rank if max_rank is not None else (r.shape[1] if balanced else None)
        pair = lora_pair(r, a, cap)
        if pair.rank:
            out[layer] = pair
    return out


def as_factors(pairs: dict[int, LoraPair]) -> Factors:
    """The pairs back in sleepmem's own form (R = b, A = a^T), to run an exported or
    truncated adapter through sleepmem's forward (benchmarks, checks)."""
    return Factors({layer: (p.b, np.ascontiguousarray(p.a.T)) for layer, p in pairs.items()})
