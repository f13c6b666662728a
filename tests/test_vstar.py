"""The v* loop (engine/vstar.py) on problems whose answer is known, no model needed.

Each problem is a per-fact quadratic NLL around a target point, so the optimum, the clamp
and the stopping rule can be checked exactly; the backends' real problems are exercised by
the editing tests in test_engine.py and test_mlx.py."""

from __future__ import annotations

import numpy as np
import pytest
from sleepmem.engine.backends.base import ValueProblem, VStarSettings
from sleepmem.engine.vstar import norm_penalty_grad, optimise


def quadratic(targets: np.ndarray, h0_norm: np.ndarray, calls: list[int]) -> ValueProblem:
    """Per fact, NLL = |delta - target|^2; ``calls`` records how many facts each call ran,
    and inactive facts get zeros, as a backend that leaves their prompts out returns."""

    def loss_and_grad(delta: np.ndarray, active: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        calls.append(int(active.sum()))
        diff = (delta - targets) * active[:, None]
        return (diff**2).sum(axis=-1), 2 * diff

    return ValueProblem(h0_norm, loss_and_grad)


def settings(**kw: float) -> VStarSettings:
    base = dict(lr=0.1, steps=400, loss_stop=1e-4, clamp_factor=10.0, weight_decay=0.0)
    return VStarSettings(**{**base, **kw})  # type: ignore[arg-type]


def test_reaches_each_facts_target_and_stops_early() -> None:
    targets = np.array([[1.0, -2.0, 0.5], [0.0, 0.3, -0.7]])
    calls: list[int] = []
    delta, losses = optimise(quadratic(targets, np.ones(2), calls), 2, 3, settings())
    assert delta.shape == (2, 3)
    np.testing.assert_allclose(delta, targets, atol=0.02)
    assert max(losses) < 1e-4
    assert len(calls) < 400  # stopped once every fact was below loss_stop


def test_each_fact_stops_on_its_own_and_the_others_go_on_unchanged() -> None:
    near, far = np.full((1, 2), 0.005), np.full((1, 2), 3.0)
    calls: list[int] = []
    delta, losses = optimise(quadratic(np.vstack([near, far]), np.ones(2), calls), 2, 2, settings())
    assert calls[0] == 2 and calls[-1] == 1  # the near fact left the batch
    assert calls.count(2) < len(calls) / 2
    np.testing.assert_allclose(delta[0], 0.0)  # done before its first step
    alone_calls: list[int] = []
    alone, _ = optimise(quadratic(far, np.ones(1), alone_calls), 1, 2, settings())
    np.testing.assert_allclose(delta[1], alone[0], rtol=1e-6)
    assert len(alone_calls) == len(calls)
    assert max(losses) < 1e-4


def test_clamp_bounds_each_delta_by_its_own_hidden_norm() -> None:
    targets = np.array([[10.0, 0.0], [0.0, 10.0]])
    h0 = np.array([1.0, 2.0])
    delta, losses = optimise(
        quadratic(targets, h0, []), 2, 2, settings(clamp_factor=1.5, steps=300, lr=0.5)
    )
    np.testing.assert_allclose(np.linalg.norm(delta, axis=-1), 1.5 * h0, rtol=1e-4)
    assert min(losses) > 1.0  # the targets lie beyond the clamp


def test_norm_penalty_pulls_towards_zero() -> None:
    targets = np.array([[1.0, 1.0]])
    free, _ = optimise(quadratic(targets, np.ones(1), []), 1, 2, settings(loss_stop=0.0))
    held, _ = optimise(
        quadratic(targets, np.ones(1), []), 1, 2, settings(loss_stop=0.0, weight_decay=1.0)
    )
    assert np.linalg.norm(held) < np.linalg.norm(free) - 0.2


def test_penalty_gradient_matches_finite_differences_and_is_zero_at_zero() -> None:
    rng = np.random.default_rng(0)
    delta = rng.normal(size=(3, 4))
    h0 = np.array([0.5, 1.0, 2.0])
    grad = norm_penalty_grad(delta, h0, 0.3)
    eps = 1e-6
    for g in range(3):
        for j in range(4):
            bumped = delta.copy()
            bumped[g, j] += eps
            f = lambda d: (0.3 * np.linalg.norm(d, axis=-1) / h0**2).sum()  # noqa: E731
            assert grad[g, j] == pytest.approx((f(bumped) - f(delta)) / eps, rel=1e-4)
    assert not norm_penalty_grad(np.zeros((2, 4)), np.ones(2), 1.0).any()


# ----------------------------------------------------------------- the backends' problems

FACTS = [
    ("Where do I live?", "Bergen."),
    ("What is my dog called?", "Pepper."),
    ("What do I do for a living?", "I'm a carpenter."),
]


def narrowing_matches_the_full_batch(backend) -> None:
    """A fact's NLL and gradient are the same whether the other facts' prompts are in the
    batch or were left out, on the real model: narrowing only drops rows."""
    from sleepmem.engine.contexts import family
    from sleepmem.engine.prompts import reply_target
    from sleepmem.engine.statistics import question_prompt

    prompts = [
        question_prompt(backend, q, reply_target(backend, q, a), group, context)
        for group, (q, a) in enumerate(FACTS)
        for context in family(q, 2)
    ]
    problem = backend.value_problem(prompts, 8, len(FACTS))
    assert problem.h0_norm.shape == (len(FACTS),) and (problem.h0_norm > 0).all()
    delta = np.random.default_rng(0).normal(size=(len(FACTS), backend.hidden_size))
    delta = (delta * 0.5).astype(np.float32)
    every = np.ones(len(FACTS), dtype=bool)
    loss_all, grad_all = problem.loss_and_grad(delta, every)
    some = np.array([True, False, True])
    loss_some, grad_some = problem.loss_and_grad(delta, some)
    np.testing.assert_allclose(loss_some[some], loss_all[some], rtol=1e-4)
    np.testing.assert_allclose(grad_some[some], grad_all[some], rtol=1e-3, atol=1e-6)
    assert not loss_some[~some].any() and not grad_some[~some].any()
    again, _ = problem.loss_and_grad(delta, every)  # a wider batch after a narrow one
    np.testing.assert_allclose(again, loss_all, rtol=1e-5)


def test_narrowed_batch_torch(backend) -> None:
    narrowing_matches_the_full_batch(backend)


def test_narrowed_batch_mlx(mlx_backend) -> None:
    narrowing_matches_the_full_batch(mlx_backend)


def test_bfloat16_upper_layers_find_a_v_star_that_holds_in_float32(backend) -> None:
    """editor.v_precision bfloat16: the same losses and gradient directions as float32 at a
    given delta, and the v* it finds answers in the float32 model; the model itself (its
    dtype, its attention) is left as it was."""
    import torch
    from sleepmem.engine.contexts import family
    from sleepmem.engine.prompts import reply_target
    from sleepmem.engine.statistics import question_prompt

    q, a = FACTS[0]
    prompts = [
        question_prompt(backend, q, reply_target(backend, q, a), 0, context)
        for context in family(q, 2)
    ]
    attention = backend.model.config._attn_implementation
    full = backend.value_problem(prompts, 8, 1)
    half = backend.value_problem(prompts, 8, 1, precision="bfloat16")
    assert backend.model.config._attn_implementation == attention
    assert next(backend.model.parameters()).dtype == torch.float32
    delta = np.random.default_rng(1).normal(size=(1, backend.hidden_size)).astype(np.float32)
    one = np.ones(1, dtype=bool)
    loss32, grad32 = full.loss_and_grad(delta, one)
    loss16, grad16 = half.loss_and_grad(delta, one)
    assert loss16[0] == pytest.approx(loss32[0], rel=0.05)
    cosine = float(grad16[0] @ grad32[0] / np.linalg.norm(grad16[0]) / np.linalg.norm(grad32[0]))
    assert cosine > 0.95
    found, losses = optimise(
        half, 1, backend.hidden_size, settings(lr=0.5, steps=40, loss_stop=0.05)
    )
    assert losses[0] < 0.05
    assert full.loss_and_grad(found.astype(np.float32), one)[0][0] < 0.15


def test_a_warm_start_at_the_answer_stops_at_once_and_elsewhere_still_converges() -> None:
    """A repair starts from the fact's kept v*: one already right costs one evaluation, one
    that moved on (new prompts) still ends at the new target; the start is clamped."""
    targets = np.array([[1.0, -2.0], [0.5, 0.5]])
    calls: list[int] = []
    start = np.array([[1.0, -2.0], [-1.0, 2.0]])
    delta, losses = optimise(quadratic(targets, np.ones(2), calls), 2, 2, settings(), start)
    assert calls[0] == 2 and calls[1] == 1  # the first fact was done before any step
    np.testing.assert_allclose(delta[0], targets[0])
    np.testing.assert_allclose(delta[1], targets[1], atol=0.02)
    assert max(losses) < 1e-4
    far = np.array([[30.0, 40.0]])
    clamped, _ = optimise(
        quadratic(far, np.ones(1), []), 1, 2, settings(clamp_factor=2.0, steps=1), far
    )
    assert np.linalg.norm(clamped) <= 2.0 + 1e-6


def test_no_bfloat16_copy_where_memory_is_short(backend, monkeypatch) -> None:
    """A copy of the upper layers that would take more than half the free memory is not
    made: v* then runs on the model's own float32 layers."""
    import torch
    from sleepmem.engine.backends import torch_values

    monkeypatch.setattr(torch_values, "_free_memory", lambda: 0)
    monkeypatch.setattr(backend, "_value_copies", {})
    upper, _norm, _head = backend._upper(8, torch.bfloat16)
    assert upper[0] is backend.model.model.layers[9]
    assert not backend._value_copies
