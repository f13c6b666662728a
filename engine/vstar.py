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
    problem: ValueProblem, n_groups: int, hidden_size: int, settings: VStarSettings
) -> tuple[np.ndarray, list[float]]:
    """Deltas (groups, d) and each fact's last measured answer NLL.

    Stops once every fact's NLL is below ``settings.loss_stop``: the facts of one batch
    share the forward passes, so the batch runs until its slowest fact is done.
    """
    h0_norm = np.maximum(np.asarray(problem.h0_norm, dtype=np.float64), 1e-6)
    limit = settings.clamp_factor * h0_norm
    delta = np.zeros((n_groups, hidden_size), dtype=np.float32)
    first = np.zeros_like(delta, dtype=np.float64)
    second = np.zeros_like(delta, dtype=np.float64)
    losses = np.full(n_groups, np.inf)
    beta1, beta2 = ADAM_BETAS
    for step in range(1, settings.steps + 1):
        checkpoint()
        losses, grad = problem.loss_and_grad(delta)
        losses = np.asarray(losses, dtype=np.float64)
        if float(losses.max()) < settings.loss_stop:
            break
        grad = np.asarray(grad, dtype=np.float64)
        grad = grad + norm_penalty_grad(delta.astype(np.float64), h0_norm, settings.weight_decay)
        first = beta1 * first + (1 - beta1) * grad
        second = beta2 * second + (1 - beta2) * grad * grad
        m_hat = first / (1 - beta1**step)
        v_hat = second / (1 - beta2**step)
        moved = delta - settings.lr * m_hat / (np.sqrt(v_hat) + ADAM_EPS)
        norms = np.maximum(np.linalg.norm(moved, axis=-1), 1e-12)
        delta = (moved * np.minimum(limit / norms, 1.0)[:, None]).astype(np.float32)
    return delta.astype(np.float64), losses.tolist()
