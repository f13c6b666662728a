"""Replies of several users decoded as one batch on mlx (see ``engine.batching``).

mlx-lm's ``BatchKVCache`` keeps the rows left-padded with each row's own position, which
is what joining rows mid-decode needs: the prompts that arrive together are read in one
left-padded pass into a cache of their own that ``extend`` pads into the batch, and
``filter`` drops finished rows and the padding columns nobody needs any more. Each row adds
its own user's low-rank term: the edited down_proj gets the factors stacked per row
(``EditedDownProj`` broadcasts over rows), zero where a user has no edit.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import mlx.core as mx
import numpy as np
from mlx_lm.models.cache import BatchKVCache

from .base import Factors, stacked_factors

if TYPE_CHECKING:
    from .mlx_backend import MlxBackend


class MlxRows:
    """The rows decoding now; a row's index is its place in ``add`` order among the kept."""

    def __init__(self, backend: MlxBackend) -> None:
        self._backend = backend
        self._caches: list[BatchKVCache] | None = None
        self._factors: list[Factors | None] = []
        self._stacked: dict[int, tuple[mx.array, mx.array]] = {}

    def __len__(self) -> int:
        return len(self._factors)

    def add(
        self, prompts: Sequence[tuple[Sequence[int], Factors | None]], prefix: Sequence[int] = ()
    ) -> mx.array:
        """Read new rows' prompts, each with its user's factors, in one left-padded pass,
        and join them to the batch. Returns (new rows, vocab) logits of their first token.

        ``prefix``: tokens every one of these prompts begins with (the prompts then hold
        what follows it). Here it is read with each row: ``BatchKVCache`` keeps a row's
        padding before all its tokens, so a prefix read once cannot sit above padding
        that differs per row.
        """
        b = self._backend
        if prefix:
            prompts = [([*prefix, *ids], f) for ids, f in prompts]
        width = max(len(ids) for ids, _ in prompts)
        pads = [width - len(ids) for ids, _ in prompts]
        ids = np.full((len(prompts), width), b._pad, dtype=np.int32)
        for i, (row, _) in enumerate(prompts):
            ids[i, pads[i] :] = row
        caches = [BatchKVCache(pads) for _ in range(b.n_layers)]
        new_factors = [f for _, f in prompts]
        with b._forward(self._stack(new_factors)):
            logits = b.model(mx.array(ids), cache=caches)[:, -1]
            mx.eval(logits, *(c.state[:2] for c in caches))
        if self._caches is None:
            self._caches = caches
        else:
            for mine, new in zip(self._caches, caches):
                mine.extend(new)
        self._factors += new_factors
        self._stacked = self._stack(self._factors)
        return logits

    def step(self, tokens: Sequence[int]) -> mx.array:
        """Feed each row its last token (in row order); (rows, vocab) logits of the next."""
        b = self._backend
        with b._forward(self._stacked):
            logits = b.model(mx.array([[t] for t in tokens]), cache=self._caches)[:, -1]
            mx.eval(logits)
        return logits

    def keep(self, rows: Sequence[int]) -> None:
        """Keep only ``rows`` (their order), dropping columns that are padding for all."""
        self._factors = [self._factors[i] for i in rows]
        if not rows:
            self._caches = None
        elif self._caches is not None:
            index = mx.array(list(rows))
            for cache in self._caches:
                cache.filter(index)
        self._stacked = self._stack(self._factors)

    def _stack(self, factors: Sequence[Factors | None]) -> dict[int, tuple[mx.array, mx.array]]:
        b = self._backend
        if factors and all(f is factors[0] for f in factors):
            # one user's rows (an audit): the plain factors broadcast over the rows
            return b._factors(factors[0])
        rows = stacked_factors(factors, b.intermediate_size, b.hidden_size)
        return {
            layer: (mx.array(a, dtype=b.dtype), mx.array(rt, dtype=b.dtype))
            for layer, (a, rt) in rows.items()
        }
