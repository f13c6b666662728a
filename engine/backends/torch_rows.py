"""Replies of several users decoded as one batch on torch (see ``engine.batching``).

All rows share one KV cache, left-padded so every row's newest token sits in the last
column; pads are masked out. Rows that arrive together are read in one pass, each prompt
at positions 0..n-1 whatever its padding, so each step feeds every row its own next
position. Each row
adds its own user's low-rank term: the down_proj hook gets the factors stacked per row, zero
where a user has no edit.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import torch

from .base import Factors, stacked_factors

if TYPE_CHECKING:
    from .torch_backend import TorchBackend


def _pairs(cache: Any) -> list[tuple[torch.Tensor, torch.Tensor]]:
    """Each layer's (keys, values), (B, heads, T, head_dim), from transformers' cache."""
    if hasattr(cache, "layers"):
        return [(layer.keys, layer.values) for layer in cache.layers]
    return list(zip(cache.key_cache, cache.value_cache))  # transformers < 4.56


def _cache(pairs: Sequence[tuple[torch.Tensor, torch.Tensor]]) -> Any:
    from transformers import DynamicCache

    cache = DynamicCache()
    if hasattr(cache, "layers"):  # transformers >= 4.56: layers we may supply
        cache.layers = [_roomy_layer(k, v) for k, v in pairs]
        return cache
    if hasattr(DynamicCache, "from_legacy_cache"):
        return DynamicCache.from_legacy_cache(tuple(pairs))
    return DynamicCache(pairs)


def _roomy_layer(keys: torch.Tensor, values: torch.Tensor) -> Any:
    """One layer's keys and values in buffers with room to grow (``_roomy_layer_class``)."""
    layer = _roomy_layer_class()()
    layer.device, layer.is_initialized = keys.device, True
    layer.room_k, layer.room_v = _roomy(keys), _roomy(values)
    layer.keys, layer.values = (
        layer.room_k[:, :, : keys.shape[2]],
        layer.room_v[:, :, : keys.shape[2]],
    )
    return layer


@functools.cache
def _roomy_layer_class() -> type:
    """transformers' DynamicLayer appends each step's token with ``torch.cat``, copying the
    whole cache of every layer every step, which grows with the prompt. This layer writes the
    token into spare room instead, and doubles the buffers when full. Measured, 8 rows on two
    cores: a step under a 541-token persona card 110 -> 97 ms, after a bare question 83 -> 81.
    """
    from transformers.cache_utils import DynamicLayer

    class RoomyLayer(DynamicLayer):
        def update(
            self, new_keys: torch.Tensor, new_values: torch.Tensor, *args: Any, **kwargs: Any
        ) -> tuple[torch.Tensor, torch.Tensor]:
            start = self.keys.shape[2]
            end = start + new_keys.shape[2]
            if end > self.room_k.shape[2]:
                self.room_k, self.room_v = _roomy(self.keys, end), _roomy(self.values, end)
            self.room_k[:, :, start:end] = new_keys
            self.room_v[:, :, start:end] = new_values
            self.keys, self.values = self.room_k[:, :, :end], self.room_v[:, :, :end]
            return self.keys, self.values

    return RoomyLayer


def _roomy(t: torch.Tensor, need: int = 0) -> torch.Tensor:
    """``t`` (B, heads, T, head_dim) copied into a buffer of twice ``max(T, need)`` tokens."""
    room = 2 * max(t.shape[2], need, 16)
    out = t.new_empty((t.shape[0], t.shape[1], room, t.shape[3]))
    out[:, :, : t.shape[2]] = t
    return out


def _left_pad(t: torch.Tensor, width: int) -> torch.Tensor:
    """Pad dim 2 (tokens) of a (B, heads, T, head_dim) tensor on the left to ``width``."""
    missing = width - t.shape[2]
    if missing <= 0:
        return t
    return torch.nn.functional.pad(t, (0, 0, missing, 0))


class TorchRows:
    """The rows decoding now; a row's index is its place in ``add`` order among the kept."""

    def __init__(self, backend: TorchBackend) -> None:
        self._backend = backend
        self._cache: Any = None
        self._mask = torch.zeros((0, 0), dtype=torch.long, device=backend.device)
        self._factors: list[Factors | None] = []
        self._stacked: dict[int, tuple[torch.Tensor, torch.Tensor]] = {}

    def __len__(self) -> int:
        return len(self._factors)

    @torch.inference_mode()
    def add(
        self, prompts: Sequence[tuple[Sequence[int], Factors | None]], prefix: Sequence[int] = ()
    ) -> torch.Tensor:
        """Read new rows' prompts, each with its user's factors, in one left-padded pass,
        and join them to the batch. Returns (new rows, vocab) logits of their first token.

        ``prefix``: tokens every one of these prompts begins with, read once for all of
        them (the prompts then hold what follows it); they must share one user's factors.
        """
        b = self._backend
        new_factors = [f for _, f in prompts]
        live = self._stack(new_factors)
        cache, before = None, len(prefix)
        if before:
            if any(f is not new_factors[0] for f in new_factors):
                raise ValueError("rows read after one prefix must share one user's factors")
            with b._live(live):
                read = b.model(
                    input_ids=torch.tensor([list(prefix)], device=b.device),
                    use_cache=True,
                    logits_to_keep=1,
                )
            n = len(prompts)
            cache = _cache(
                [
                    (k.expand(n, -1, -1, -1), v.expand(n, -1, -1, -1))
                    for k, v in _pairs(getattr(read, b._cache_kw))
                ]
            )
        width = max(len(ids) for ids, _ in prompts)
        ids = torch.full((len(prompts), width), b.tokenizer.pad_token_id, dtype=torch.long)
        mask = torch.zeros((len(prompts), width), dtype=torch.long)
        for i, (row, _) in enumerate(prompts):
            ids[i, width - len(row) :] = torch.tensor(list(row))
            mask[i, width - len(row) :] = 1
        ids, mask = ids.to(b.device), mask.to(b.device)
        # each row's tokens at positions before..n-1, whatever the padding between
        positions = before + (mask.cumsum(dim=1) - 1).clamp(min=0)
        if before:
            mask = torch.cat([mask.new_ones((len(prompts), before)), mask], dim=1)
        with b._live(live):
            out = b.model(
                input_ids=ids,
                attention_mask=mask,
                position_ids=positions,
                use_cache=True,
                logits_to_keep=1,
                **({b._cache_kw: cache} if cache is not None else {}),
            )
        pairs = _pairs(getattr(out, b._cache_kw))
        width = mask.shape[1]
        if self._factors:
            span = max(self._mask.shape[1], width)
            pairs = [
                (
                    torch.cat([_left_pad(k, span), _left_pad(nk, span)]),
                    torch.cat([_left_pad(v, span), _left_pad(nv, span)]),
                )
                for (k, v), (nk, nv) in zip(_pairs(self._cache), pairs)
            ]
            old = torch.nn.functional.pad(self._mask, (span - self._mask.shape[1], 0))
            mask = torch.cat([old, torch.nn.functional.pad(mask, (span - width, 0))])
        self._cache = _cache(pairs)
        self._mask = mask
        self._factors += new_factors
        self._stacked = self._stack(self._factors)
        return out.logits[:, -1]

    @torch.inference_mode()
    def step(self, tokens: Sequence[int]) -> torch.Tensor:
        """Feed each row its last token (in row order); (rows, vocab) logits of the next."""
        b = self._backend
        mask = torch.nn.functional.pad(self._mask, (0, 1), value=1)
        with b._live(self._stacked):
            out = b.model(
                input_ids=torch.tensor([[t] for t in tokens], device=b.device),
                attention_mask=mask,
                # each row's own next position: its prompt was read at 0..n-1, unpadded
                position_ids=self._mask.sum(dim=1, keepdim=True),
                use_cache=True,
                **{b._cache_kw: self._cache},
            )
        self._cache = getattr(out, b._cache_kw)
        self._mask = mask
        return out.logits[:, -1]

    def keep(self, rows: Sequence[int]) -> None:
        """Keep only ``rows`` (their order), dropping columns that are padding for all."""
        self._factors = [self._factors[i] for i in rows]
        if not rows:
            self._cache, self._mask = None, self._mask[:0, :0]
        else:
            index = torch.tensor(list(rows), dtype=torch.long, device=self._backend.device)
            mask = self._mask.index_select(0, index)
            start = int(mask.any(dim=0).nonzero()[0])
            self._mask = mask[:, start:]
            self._cache = _cache(
                [
                    (k.index_select(0, index)[:, :, start:], v.index_select(0, index)[:, :, start:])
                    for k, v in _pairs(self._cache)
                ]
            )
        self._stacked = self._stack(self._factors)

    def _stack(
        self, factors: Sequence[Factors | None]
    ) -> dict[int, tuple[torch.Tensor, torch.Tensor]] | None:
        b = self._backend
        if factors and all(f is factors[0] for f in factors):
            # one user's rows (an audit): the plain factors broadcast over the rows, where
            # a stacked copy per row would be read from memory at every step
            return b._live_factors(factors[0])
        rows = stacked_factors(factors, b.intermediate_size, b.hidden_size)
        return {layer: (b._tensor(a), b._tensor(rt)) for layer, (a, rt) in rows.items()}
