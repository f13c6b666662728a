"""v*: the target value of each fact, found by gradient descent on the answer's likelihood.

The loop is written once here; a backend only states the problem (``Backend.value_problem``):
for a batch of deltas, one added at the key token of each of a fact's prompts at layer L,
the mean answer NLL of every fact and its gradient. The optimiser, the norm penalty, the
clamp and early stopping live here, in numpy on (facts, d) arrays, which are tiny next to
the forward and backward passes the backend runs.

Per fact g, with h0_g the mean norm of its prompts' unedited hidden states at the key:
    loss_g = NLL_g(delta_g) + weight_decay * |delta_g| / |h0_g|^2
    |delta_g| <= clamp_factor * |h0_g| after every step (one fact cannot blow up a layer)
Adam (Kingma and Ba 2015) with bias correction, the optimiser MEMIT and ROME use for v*.
"""

from __future__ import annotations

import numpy as np

from .backends.base import ValueProblem, VStarSettings
from .priority import checkpoint

ADAM_BETAS = (0.9, 0.999)
ADAM_EPS = 1e-8


def norm_penalty_grad(delta: np.ndarray, h0_norm: np.ndarray, weight: float) -> np.ndarray:
    """Gradient of sum_g weight * |delta_g| / |h0_g|^2; zero where delta_g is zero."""
    norms = np.linalg.norm(delta, axis=-1, keepdims=True)
    safe = np.where(norms > 0, norms, 1.0)
    return np.where(norms > 0, weight * delta / (safe * h0_norm[:, None] ** 2), 0.0)


def optimise(
    problem: ValueProblem,
    n_groups: int,
    hidden_size: int,
    settings: VStarSettings,
    start: np.ndarray | None = None,
) -> tuple[np.ndarray, list[float]]:
    """Deltas (groups, d) and each fact's last measured answer NLL, from ``start`` (a
    delta per group, clamped) or from zero.

    Each fact stops on its own once its NLL is below ``settings.loss_stop``, and its prompts
    leave the batch: measured on two users' facts, facts reach the threshold between steps
    17 and 37, and a batch run until its slowest fact is done spends a third of its rows on
    finished ones. Facts never share a prompt row, so the others go on exactly as before.
    """
    h0_norm = np.maximum(np.asarray(problem.h0_norm, dtype=np.float64), 1e-6)
    limit = settings.clamp_factor * h0_norm
    delta = np.zeros((n_groups, hidden_size), dtype=np.float32)
    if start is not None:
        norms = np.maximum(np.linalg.norm(start, axis=-1), 1e-12)
        delta[:] = start * np.minimum(limit / norms, 1.0)[:, None]
    first = np.zeros_like(delta, dtype=np.float64)
    second = np.zeros_like(delta, dtype=np.float64)
    losses = np.full(n_groups, np.inf)
    active = np.ones(n_groups, dtype=bool)
    beta1, beta2 = ADAM_BETAS
    for step in range(1, settings.steps + 1):
        checkpoint()
        measured, grad = problem.loss_and_grad(delta, active)
        losses[active] = np.asarray(measured, dtype=np.float64)[active]
        active &= losses >= settings.loss_stop
        if not active.any():
            break
        grad = np.asarray(grad, dtype=np.float64)[active]
        now = delta[active].astype(np.float64)
        grad = grad + norm_penalty_grad(now, h0_norm[active], settings.weight_decay)
        first[active] = beta1 * first[active] + (1 - beta1) * grad
        second[active] = beta2 * second[active] + (1 - beta2) * grad * grad
        m_hat = first[active] / (1 - beta1**step)
        v_hat = second[active] / (1 - beta2**step)
        moved = now - settings.lr * m_hat / (np.sqrt(v_hat) + ADAM_EPS)
        norms = np.maximum(np.linalg.norm(moved, axis=-1), 1e-12)
        delta[active] = moved * np.minimum(limit[active] / norms, 1.0)[:, None]
    return delta.astype(np.float64), losses.tolist()
