"""MEMIT-style closed-form edits of ``mlp.down_proj`` with an AlphaEdit null-space constraint.

Symbols (one edited layer l; W is down_proj's weight, shape (d, m) = (out, in)):
    d      hidden size (residual stream), m: MLP width (down_proj input)
    K      (n, m)  keys: down_proj inputs at the key token of each of the n edit prompts
    Z      (n, d)  target residuals at the last edited layer L, Z = h_L + delta* (v*)
    H      (n, d)  current residuals at layer L with the updates of earlier layers applied
    R      (n, d)  = (Z - H) / (layers left), the share of the residual layer l must write
    C      (m, m)  E[k k^T] over ordinary text and chat (statistics.py), per token
    Cp     (m, m)  sum of k k^T over keys of facts to keep (earlier edits of this user)

MEMIT (Meng et al. 2023, "Mass-Editing Memory in a Transformer"), eq. 14:
    delta_W = R^T K (lambda C + Cp + K^T K)^-1
AlphaEdit (Fang et al. 2025, "AlphaEdit: Null-Space Constrained Knowledge Editing"), with
U (m, r) an orthonormal basis of the low-energy eigenspace of C, P = U U^T:
    delta_W = R^T K U (U^T (K^T K + Cp) U + l2 I_r)^-1 U^T
Both are written as factors delta_W = R^T A^T with A (m, n), so an update costs (d + m) n
numbers instead of d m, and the base weights are never modified (backends add
(x @ A) @ R^T). All solves run in float64: fp16/fp32 solves of ill-conditioned C diverge.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field, replace

import numpy as np

from . import vstar
from .backends.base import (
    AnswerMoments,
    Backend,
    EditPrompt,
    Factors,
    VStarSettings,
)
from .priority import checkpoint

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class EditSettings:
    layers: tuple[int, ...]
    v_layer: int
    vstar: VStarSettings
    mom2_weight: float  # lambda in MEMIT
    nullspace: bool
    l2: float  # ridge term of the AlphaEdit solve


@dataclass
class Protection:
    """What an edit must not disturb, per layer: the null-space basis and kept keys' Cp."""

    cov: dict[int, np.ndarray]  # layer -> C (m, m), per-token second moment
    basis: dict[int, np.ndarray] = field(default_factory=dict)  # layer -> U (m, r)
    kept: dict[int, np.ndarray] = field(default_factory=dict)  # layer -> Cp (m, m)
    # ``editor.spill_guard``: ``spread`` adds this times the key sums at its prompts'
    # tokens after their keys (the turn change, then the answer) to ``kept``
    spill: float = 0.0

    def add_kept(self, layer: int, keys: np.ndarray) -> None:
        update = keys.T @ keys  # (m, n)(n, m) -> (m, m)
        self.kept[layer] = self.kept.get(layer, 0) + update


def protected_for(settings: EditSettings, facts: int, per: int | None) -> EditSettings:
    """``settings`` with lambda scaled to an edit holding ``facts`` facts: x facts / ``per``
    past ``per`` (``editor.mom2_facts``), as is where ``per`` is None. The keys' K^T K grows
    with every fact while lambda C stays, so a fixed lambda protects less and less of
    ordinary text as the memory grows."""
    if per is None or facts <= per:
        return settings
    return replace(settings, mom2_weight=settings.mom2_weight * facts / per)


def nullspace_basis(cov: np.ndarray, energy: float) -> np.ndarray:
    """Eigenvectors of C whose eigenvalues together hold the lowest (1 - energy) of its trace.

    An absolute eigenvalue threshold (AlphaEdit's 1e-2) depends on the model's activation
    scale; a fraction of total energy transfers across models and layers.
    """
    values, vectors = np.linalg.eigh(cov)  # ascending
    cumulative = np.cumsum(values) / values.sum()
    keep = cumulative <= (1.0 - energy)
    return vectors[:, keep]  # (m, r)


def solve_layer(
    keys: np.ndarray,
    resid: np.ndarray,
    layer: int,
    protection: Protection,
    settings: EditSettings,
) -> tuple[np.ndarray, np.ndarray]:
    """Factors (R^T (d, n), A (m, n)) of one layer's update, float64 solve."""
    k = keys.astype(np.float64)  # (n, m)
    kept = protection.kept.get(layer)
    if settings.nullspace:
        u = protection.basis[layer]  # (m, r)
        ku = k @ u  # (n, r)
        gram = ku.T @ ku  # (r, r)
        if kept is not None:
            gram = gram + u.T @ kept @ u
        gram[np.diag_indices_from(gram)] += settings.l2
        a = u @ np.linalg.solve(gram, ku.T)  # (m, r)(r, n) -> (m, n)
    else:
        lhs = settings.mom2_weight * protection.cov[layer] + k.T @ k  # (m, m)
        if kept is not None:
            lhs = lhs + kept
        a = np.linalg.solve(lhs, k.T)  # (m, n); lhs symmetric so this is (lhs^-1 K^T)
    return resid.T.astype(np.float32), a.astype(np.float32)


def target_values(
    backend: Backend,
    prompts: Sequence[EditPrompt],
    n_groups: int,
    settings: EditSettings,
    start: np.ndarray | None = None,
) -> tuple[np.ndarray, list[float]]:
    """v*: per fact, the residual delta (n_groups, d) at the last edited layer that makes
    the base model produce the fact's answers, optimised from ``start`` (or zero). On the
    base weights, so it can be cached and reused by every later joint solve."""
    problem = backend.value_problem(
        prompts, settings.v_layer, n_groups, precision=settings.vstar.precision
    )
    return vstar.optimise(problem, n_groups, backend.hidden_size, settings.vstar, start)


@dataclass
class Solved:
    """An update and the keys it was written through: (n, m) per layer, one row per prompt,
    each read with the updates of the layers below it applied, as the solve saw them."""

    factors: Factors
    keys: dict[int, np.ndarray]
    on_top: bool = False  # the increment over a live update, not a solve from the base
    seconds: dict[str, float] = field(default_factory=dict)  # phase -> wall seconds
    # the share of the keys' outputs compaction kept (``Engine._compacted``); None: uncompacted
    compact_share: float | None = None


def joined(first: Factors, second: Factors) -> Factors:
    """One update doing what ``first`` and ``second`` do together: ranks side by side."""
    layers = dict(first.layers)
    for layer, (r2, a2) in second.layers.items():
        if layer in layers:
            r1, a1 = layers[layer]
            layers[layer] = (np.concatenate([r1, r2], axis=1), np.concatenate([a1, a2], axis=1))
        else:
            layers[layer] = (r2, a2)
    return Factors(layers)


def spread(
    backend: Backend,
    prompts: Sequence[EditPrompt],
    deltas: np.ndarray,
    settings: EditSettings,
    protection: Protection,
    base: Factors | None = None,
) -> Solved:
    """Write target values into ``settings.layers`` (MEMIT eq. 14).

    Without ``base``, from the base weights: every fact of the user solved together
    (question keys of one person's facts are alike, and sequential edits that each preserve
    the others overwrite one another: 10% recall after ten sequential wake edits, 90%
    jointly, measured). With ``base``, the user's live update, only ``prompts`` (new facts)
    are written, on top of it: the keys and residuals are read with ``base`` applied, and
    ``protection.kept`` must hold the keys ``base`` was written through. With fixed keys
    that is the joint solve exactly: the normal equations of all facts together, minus
    those ``base`` already satisfies, leave (R_new - base K_new) K_new^T on the right and
    the same matrix on the left, but for the earlier facts' spill guard
    (``editor.spill_guard``): their answers' key sums are not kept (a few MB a fact), so an
    increment guards only its own facts' answers; sleep's re-solve guards them all. The
    returned factors are the increment alone.
    """
    groups = np.array([p.group for p in prompts])
    layers = sorted(settings.layers)
    if settings.v_layer < layers[-1]:
        raise ValueError(f"v* layer {settings.v_layer} lies below edited layer {layers[-1]}")
    answers = AnswerMoments() if protection.spill > 0 else None
    walk = backend.layer_walk(prompts, layers, settings.v_layer, base, answers)
    keys, h_now = next(walk)
    if answers is not None:
        for layer, total in answers.sums.items():
            protection.kept[layer] = protection.kept.get(layer, 0) + protection.spill * total
    h_start = h_now
    if base is not None:  # v* was optimised on the base weights: targets are from there
        h_start = backend.activations(prompts, [], settings.v_layer)[1]
    targets = h_start + deltas[groups]  # (n, d)
    read: dict[int, np.ndarray] = {}
    new_layers: dict[int, tuple[np.ndarray, np.ndarray]] = {}
    for i, layer in enumerate(layers):
        checkpoint()
        read[layer] = keys
        resid = (targets - h_now) / (len(layers) - i)  # (n, d)
        new_layers[layer] = solve_layer(keys, resid, layer, protection, settings)
        if i + 1 < len(layers):
            # the next layer's keys and the residual it must still close, with the
            # updates so far applied
            applied = Factors(dict(new_layers))
            keys, h_now = walk.send(applied if base is None else joined(base, applied))
    walk.close()
    return Solved(Factors(new_layers), read, on_top=base is not None)
