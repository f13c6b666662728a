"""The v* problem on mlx: the frozen prefix computed once, then each step's answer NLL and
its gradient for the facts still optimising.

Apart from ``mlx_backend`` because it is the one part of the backend that differentiates
(``mx.value_and_grad`` over the upper layers, run on a frozen prefix cache sliced to the
active facts' rows each time the active set shrinks).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import mlx.core as mx
import numpy as np
from mlx_lm.models.cache import KVCache

from .base import (
    EditPrompt,
    Factors,
    ValueProblem,
    active_rows,
    attention_allowed,
    narrowed_targets,
    target_tokens,
)


class _FrozenPrefix(KVCache):
    """A KV cache holding a fixed prefix: each call attends over prefix + its own tokens and
    stores nothing, so one prefix computation serves every v* step. Offset, rope position
    and mask come from mlx-lm's KVCache, as in generation with a prompt cache."""

    def __init__(self, keys: mx.array, values: mx.array) -> None:
        super().__init__()
        self._prefix = (keys, values)
        self.offset = keys.shape[2]

    def update_and_fetch(self, keys: mx.array, values: mx.array) -> tuple[mx.array, mx.array]:
        pk, pv = self._prefix
        return mx.concatenate([pk, keys], axis=2), mx.concatenate([pv, values], axis=2)


class MlxValueProblem:
    """The v* half of ``MlxBackend`` (a base class of it), using the model state it loads."""

    dtype: Any
    n_layers: int
    _layers: list[Any]
    _inner: Any
    _pad: int

    if TYPE_CHECKING:  # provided by MlxBackend; declared for the type checker only

        def encode(self, text: str) -> list[int]: ...
        def _factors(self, factors: Factors | None) -> dict[int, tuple[mx.array, mx.array]]: ...
        def _forward(self, factors: dict[int, tuple[mx.array, mx.array]]) -> Any: ...
        def _embed(self, ids: mx.array) -> mx.array: ...
        def _logits(self, normed: mx.array) -> mx.array: ...

    def value_problem(
        self,
        prompts: Sequence[EditPrompt],
        layer: int,
        n_groups: int,
        factors: Factors | None = None,
        precision: str = "float32",
    ) -> ValueProblem:
        """See ``Backend.value_problem``. Runs in the model's own dtype whatever
        ``precision`` says: mlx models on Apple silicon are mostly half precision already,
        and mlx's CPU build multiplies bfloat16 no faster than float32 needs to matter."""
        live = self._factors(factors)
        seqs = [self.encode(p.text) for p in prompts]
        layout = target_tokens(prompts, seqs, self.encode, self._pad)
        ids = mx.array(np.array(layout.sequences, dtype=np.int32))
        p_group = np.array([p.group for p in prompts])
        tokens_per_group = np.maximum(np.bincount(layout.groups, minlength=n_groups), 1)

        upper = range(layer + 1, self.n_layers)
        # Every column before the (aligned) key never sees the delta: layers up to ``layer``
        # run once, and so do the upper layers' keys and values of those prefix tokens.
        split = layout.key_col
        full = mx.array(attention_allowed(layout.valid, 0)[:, None])  # (B, 1, W, W)
        with self._forward(live):
            hidden = self._embed(ids)
            for i in range(layer + 1):
                hidden = self._layers[i](hidden, full, None)
            prefix, caches = hidden[:, :split], []
            for i in upper:
                if not split:
                    caches.append(None)
                    continue
                cache = KVCache()
                prefix = self._layers[i](prefix, full[..., :split, :split], cache)
                keys, values, _ = cache.state
                caches.append(_FrozenPrefix(keys[..., :split, :], values[..., :split, :]))
            mx.eval(hidden, [c._prefix for c in caches if c is not None])
        suffix_mask = mx.array(attention_allowed(layout.valid, split)[:, None])
        cols = np.full(len(prompts), split)

        rows = np.arange(len(prompts))
        h0 = np.array(
            hidden[mx.array(rows), mx.array(cols)].astype(mx.float32), dtype=np.float64
        )  # (n, d), the unedited values
        h0_norm = np.bincount(p_group, np.linalg.norm(h0, axis=-1), minlength=n_groups)
        h0_norm = h0_norm / np.maximum(np.bincount(p_group, minlength=n_groups), 1)
        h0_norm = np.maximum(h0_norm, 1e-6)
        suffix = hidden[:, split:]
        at_key_all = np.arange(suffix.shape[1])[None, :] == (cols - split)[:, None]  # (B, T')
        batches: dict[bytes, Any] = {}

        def batch_of(active: np.ndarray) -> Any:
            """value_and_grad over the active facts' rows, built each time the set shrinks."""
            key = active.tobytes()
            if key in batches:
                return batches[key]
            batches.clear()
            rows = active_rows(p_group, active)
            idx = mx.array(rows)
            targets = narrowed_targets(layout, rows)
            # (groups, target tokens): each group's mean answer NLL as one matmul
            t_group = np.array(targets.groups)
            mean = np.zeros((n_groups, len(t_group)), dtype=np.float32)
            mean[t_group, np.arange(len(t_group))] = 1.0 / tokens_per_group[t_group]
            sub_suffix, sub_mask = suffix[idx], suffix_mask[idx]
            sub_caches = [
                None if c is None else _FrozenPrefix(c._prefix[0][idx], c._prefix[1][idx])
                for c in caches
            ]
            at_key = mx.array(at_key_all[rows][..., None].astype(np.float32), dtype=self.dtype)
            rows_group = mx.array(p_group[rows])
            t_rows_mx = mx.array(targets.rows)
            t_cols_mx = mx.array(np.array(targets.cols) - split)
            t_ids_mx, mean_mx = mx.array(targets.ids), mx.array(mean)

            def nll(delta: mx.array) -> tuple[mx.array, mx.array]:
                h = sub_suffix + at_key * delta[rows_group][:, None, :].astype(self.dtype)
                for i, cache in zip(upper, sub_caches):
                    h = self._layers[i](h, sub_mask, cache)
                h = self._inner.norm(h)[t_rows_mx, t_cols_mx]  # (targets, d)
                logits = self._logits(h).astype(mx.float32)
                picked = mx.take_along_axis(logits, t_ids_mx[:, None], axis=-1)[:, 0]
                per_group = mean_mx @ (mx.logsumexp(logits, axis=-1) - picked)
                return per_group.sum(), per_group

            batches[key] = mx.value_and_grad(nll)
            return batches[key]

        def loss_and_grad(delta: np.ndarray, active: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
            value_and_grad = batch_of(active)
            with self._forward(live):
                (_, per_group), grad = value_and_grad(mx.array(delta.astype(np.float32)))
                mx.eval(per_group, grad)
            return np.array(per_group, dtype=np.float64), np.array(grad, dtype=np.float64)

        return ValueProblem(h0_norm, loss_and_grad)
