"""Compact a user's update onto the output directions its own keys use.

A solve writes each layer's update as delta W = R A^T with one rank per prompt (13 a fact
by default), float32: 858 KiB a fact at the default model. Most of that rank carries
nothing the edit's keys read back. The prompts of one fact share its target, so the
outputs delta W k of its keys span about one or two directions, and A = (lambda C + K^T K
+ ...)^-1 K spends much of ||delta W||_F on input directions where ordinary text and the
fact keys are both small. Plain SVD truncation (the best rank-r approximation in Frobenius
norm) keeps those and drops what the facts need: measured on 10 facts, rank 16 a layer kept
52% of ||delta W||_F^2 and 5 of 10 answers.

So each layer is re-factored onto the top eigenvectors U of delta W G delta W^T, where G is
the sum of k k^T over the keys the update was written through (``kept_keys``):
    delta W' = U U^T delta W
For a fixed rank this is the best approximation of delta W's outputs on those keys
(Eckart-Young on delta W K^T), and since it only projects the output, it never writes more
into any other input than delta W did. The rank is the smallest that keeps ``share`` of
||delta W K^T||_F^2. The factors are balanced (both halves of a rank the same norm) and
rounded to values the edit file holds exactly (``storable``): int8 per rank with one scale,
a quarter of float32's bytes, where that moves the outputs on the keys by no more than
``INT8_LOSS``; else float16 where that costs nothing measurable; else float32. So a restart
reads back exactly the update the engine was using, with no second rounding (``deltas``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from .backends.base import Factors
from .priority import checkpoint

FLOAT16_MAX = 6.0e4  # beneath float16's largest finite value (65504), with margin


@dataclass(frozen=True)
class Compacted:
    factors: Factors
    kept: dict[int, float]  # layer -> share of ||delta W K^T||_F^2 the compact update keeps
    ranks: dict[int, tuple[int, int]]  # layer -> (rank before, rank after)


def output_directions(
    r: np.ndarray, a: np.ndarray, gram: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Eigenvalues (descending) and eigenvectors U (d, k) of delta W G delta W^T, with
    delta W = R A^T, computed in the rank's space (never a d x m or d x d product): with
    R = Q T (thin QR), delta W G delta W^T = Q (T A^T G A T^T) Q^T."""
    r64, a64 = r.astype(np.float64), a.astype(np.float64)
    q, t = np.linalg.qr(r64)  # (d, k), (k, n)
    core = a64.T @ gram @ a64  # (n, n)
    small = t @ core @ t.T  # (k, k)
    values, vectors = np.linalg.eigh((small + small.T) / 2)
    order = np.argsort(values)[::-1]
    return np.maximum(values[order], 0.0), q @ vectors[:, order]


def compact_layer(
    r: np.ndarray,
    a: np.ndarray,
    gram: np.ndarray,
    share: float,
    rows: np.ndarray | None = None,
    precision: str = "int8",
) -> tuple[np.ndarray, np.ndarray, float]:
    """(R' (d, k), A' (m, k), kept share) for one layer; see the module docstring.

    ``rows`` (keys, (n, m)), when given, must each keep ``share`` of their own output too:
    the total alone lets a prompt whose output is small next to the others' go. Measured:
    three facts kept 99.5% of the total at rank 3-7 and lost one trained wording of the
    third ("What do I do for work?" -> "Ireland.").
    """
    values, u = output_directions(r, a, gram)
    total = float(values.sum())
    if total <= 0:
        return r, a, 1.0
    rank = int(np.searchsorted(np.cumsum(values) / total, share) + 1)
    if rows is not None and len(rows):
        rank = max(rank, _rank_for_every_row(r, a, u, rows, share))
    rank = min(rank, values.size)
    if rank >= r.shape[1]:
        return r, a, 1.0  # nothing to gain: the stored factors are already this small
    new_r, new_a = projected(r, a, u[:, :rank])
    kept = float(values[:rank].sum()) / total
    return (*storable(new_r, new_a, gram, precision), kept)


def projected(r: np.ndarray, a: np.ndarray, u: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Factors (d, k), (m, k) of U U^T R A^T for orthonormal U (d, k), balanced: both
    halves of each rank have the same norm (float64)."""
    side = a.astype(np.float64) @ (r.astype(np.float64).T @ u)  # (m, k): (U^T R A^T)^T
    norms = np.linalg.norm(side, axis=0)
    scale = np.sqrt(np.where(norms > 0, norms, 1.0))
    return u * scale, side / scale


def _rank_for_every_row(
    r: np.ndarray, a: np.ndarray, u: np.ndarray, rows: np.ndarray, share: float
) -> int:
    """The fewest leading directions of ``u`` that keep ``share`` of each row's output."""
    out = (rows.astype(np.float64) @ a.astype(np.float64)) @ r.T.astype(np.float64)  # (n, d)
    own = np.sum(out**2, axis=1)  # (n,)
    kept = np.cumsum((out @ u) ** 2, axis=1)  # (n, k): energy in the first j+1 directions
    enough = np.all(kept >= share * own[:, None], axis=0)
    return int(np.argmax(enough)) + 1 if enough.any() else u.shape[1]


PRECISIONS = ("int8", "float16")
"""The narrowest form ``storable`` may round factors to (``editor.store_precision``)."""

INT8_LOSS = 1e-3
"""Rounding each rank to int8 with one scale is taken only when it moves the outputs on the
keys by at most this share of their energy: a fifth of what compaction at its default share
(0.995) already gives up. Balanced factors of the default model's solves moved by ~1e-4
(an rms error of ~0.8% a factor, spread over every input direction, not only the keys')."""

HALF_LOSS = 1e-5
"""Rounding to float16 is taken only when it moves the outputs on the keys by at most this
share of their energy. On the default model's solves it moved them by 5e-8 (both halves
are balanced and of order 1); an input side dominated by directions the keys barely use would
lose precision where it matters, and stays float32."""

SCALE_BITS = 15
"""Explicit mantissa bits an int8 scale keeps: a product of a 7-bit magnitude and a 16-bit
significand fits float32's 24, so q * scale is exact in float32 and the edit file can hold a
column as its int8 codes and one scale with nothing lost (``deltas``)."""


def int8_scales(x: np.ndarray) -> np.ndarray:
    """Per column of ``x``, the smallest float32 at or above max|x| / 127 whose mantissa
    fits ``SCALE_BITS`` (so codes stay within +-127); 0 for an all-zero column."""
    need = (np.abs(x.astype(np.float64)).max(axis=0) / 127.0).astype(np.float32)
    bits = need.view(np.uint32).astype(np.uint64)
    drop = np.uint64((1 << (23 - SCALE_BITS)) - 1)
    up = (((bits + drop) & ~drop) & np.uint64(0xFFFFFFFF)).astype(np.uint32).view(np.float32)
    return np.where(need > 0, up, np.float32(0.0))


def int8_codes(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``x``'s nearest int8 codes (within +-127, as float32) and the scale of each column
    (``int8_scales``): codes * scales is what the edit file can hold of ``x``."""
    scales = int8_scales(x)
    safe = np.where(scales > 0, scales, 1.0).astype(np.float64)
    codes = np.clip(np.rint(x.astype(np.float64) / safe), -127, 127).astype(np.float32)
    return codes, scales


def _int8(x: np.ndarray) -> np.ndarray:
    """The float32 values nearest ``x`` that an int8 code per value and one scale per column
    hold exactly."""
    codes, scales = int8_codes(x)
    return codes * scales


def storable(
    r: np.ndarray, a: np.ndarray, gram: np.ndarray, precision: str = "int8"
) -> tuple[np.ndarray, np.ndarray]:
    """``r``, ``a`` rounded to the narrowest form the edit file holds exactly that keeps
    the outputs on the keys of ``gram``: int8 (with ``precision`` "int8", within
    ``INT8_LOSS``), float16 (within ``HALF_LOSS``), else float32 as they are."""
    if precision not in PRECISIONS:
        raise ValueError(f"precision must be one of {PRECISIONS}, not {precision!r}")
    total = _energy_on_keys(r, a, gram)
    if precision == "int8" and np.abs(r).max(initial=0.0) > 0:
        small_r, small_a = _int8(r), _int8(a)
        if _loss_on_keys(r, a, small_r, small_a, gram) <= INT8_LOSS * total:
            return small_r, small_a
    half_r, half_a = _half(r), _half(a)
    if _loss_on_keys(r, a, half_r, half_a, gram) <= HALF_LOSS * total:
        return half_r, half_a
    return r.astype(np.float32), a.astype(np.float32)


def _energy_on_keys(r: np.ndarray, a: np.ndarray, gram: np.ndarray) -> float:
    """||R A^T K^T||_F^2 from the key sum G = K^T K, in factor form."""
    r64, a64 = r.astype(np.float64), a.astype(np.float64)
    return float(np.sum((r64.T @ r64) * (a64.T @ gram @ a64)))


def _half(x: np.ndarray) -> np.ndarray:
    """The float32 values nearest ``x`` that float16 holds exactly (``x`` itself where
    float16 would overflow)."""
    if np.abs(x).max(initial=0.0) > FLOAT16_MAX:
        return x.astype(np.float32)
    return x.astype(np.float16).astype(np.float32)


def _loss_on_keys(
    r: np.ndarray, a: np.ndarray, r2: np.ndarray, a2: np.ndarray, gram: np.ndarray
) -> float:
    """||(R A^T - R2 A2^T) K^T||_F^2 from the key sum G = K^T K, in factor form:
    with B = [R, R2] and C = [A, -A2], it is trace(B^T B C^T G C)."""
    return _energy_on_keys(np.concatenate([r, r2], axis=1), np.concatenate([a, -a2], axis=1), gram)


def compact(
    factors: Factors,
    grams: Mapping[int, np.ndarray],
    share: float,
    rows: Mapping[int, np.ndarray] | None = None,
    precision: str = "int8",
) -> Compacted:
    """Every layer of ``factors`` that has keys in ``grams`` compacted to ``share`` (and to
    ``share`` of each of ``rows``' outputs) and rounded for storage no finer than
    ``precision`` allows (``storable``); layers without keys are left as they are."""
    if not 0 < share <= 1:
        raise ValueError(f"share must be in (0, 1], not {share}")
    layers: dict[int, tuple[np.ndarray, np.ndarray]] = {}
    kept: dict[int, float] = {}
    ranks: dict[int, tuple[int, int]] = {}
    for layer, (r, a) in factors.layers.items():
        checkpoint()
        gram = grams.get(layer)
        if gram is None or r.shape[1] == 0:
            layers[layer] = (r, a)
            continue
        some = None if rows is None else rows.get(layer)
        new_r, new_a, kept[layer] = compact_layer(r, a, gram, share, some, precision)
        layers[layer] = (new_r, new_a)
        ranks[layer] = (r.shape[1], new_r.shape[1])
    return Compacted(Factors(layers), kept, ranks)


def bounded(factors: Factors, grams: Mapping[int, np.ndarray], precision: str = "int8") -> Factors:
    """``factors`` with every layer whose rank exceeds its output width d re-factored
    exactly at rank d (U U^T delta W with U an orthonormal basis of all d outputs, so the
    update is unchanged but for the rounding ``storable`` allows on the keys in ``grams``;
    float32 for a layer without keys there).

    A d x m update never needs more than d ranks, but ranks add up: each wake increment
    joins its own beside the live edit's, and an edit the compaction guard stores whole
    keeps one a prompt. At 100 facts the stored update held ~1300 ranks a layer of the
    default model's 576 (451 KiB a fact, measured), more than the dense matrix."""
    layers: dict[int, tuple[np.ndarray, np.ndarray]] = {}
    for layer, (r, a) in factors.layers.items():
        d = r.shape[0]
        if r.shape[1] <= d:
            layers[layer] = (r, a)
            continue
        checkpoint()
        r64 = r.astype(np.float64)
        u = np.linalg.qr(r64)[0]  # (d, d): spans every output direction
        new_r, new_a = projected(r, a, u)
        gram = grams.get(layer)
        if gram is None:
            layers[layer] = (new_r.astype(np.float32), new_a.astype(np.float32))
        else:
            layers[layer] = storable(new_r, new_a, gram, precision)
    return Factors(layers, factors.grams)
