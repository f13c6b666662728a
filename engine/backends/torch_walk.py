"""``layer_walk`` on torch: the passes of a layer-by-layer edit, each batch's hidden states
waiting at the input of the next edited layer, and prompts under one context read through
that context once.

An edit's prompts ask each fact under a family of contexts (app prompts, persona cards,
small talk), so most of their tokens are a few contexts repeated: a 30-fact re-solve reads
180 prompts of 11,718 tokens, 6,901 of them a context another prompt of its group already
read. A group's shared beginning runs through each layer once (one row), and its prompts'
own tokens attend to its keys and values there (``_PrefixKV``). The shared part always
ends before every member's key token, so keys and residuals are read from the rows.
"""

from __future__ import annotations

from collections.abc import Generator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import torch

from ..priority import checkpoint
from .base import (
    EDIT_BATCH_CELLS,
    AnswerMoments,
    EditPrompt,
    Factors,
    length_batches,
    walk_sequences,
)
from .prefixes import MIN_SHARED, shared_groups
from .torch_probe import Probe

MAX_ROWS = 64  # rows of one batch of grouped prompts
PACK_SLACK = 1.15  # padded cells a batch of groups may hold per real token


class _PrefixKV:
    """What an attention layer is handed as its cache: while ``reading``, the prefixes'
    keys and values are kept per layer; after, each row attends to its own group's
    (``group``: the prefix of each row) ahead of its own tokens."""

    def __init__(self, group: torch.Tensor) -> None:
        self.kv: dict[int, tuple[torch.Tensor, torch.Tensor]] = {}
        self.group = group
        self.reading = True

    def update(
        self, keys: torch.Tensor, values: torch.Tensor, layer_idx: int, *_: Any, **__: Any
    ) -> tuple[torch.Tensor, torch.Tensor]:
        if self.reading:
            self.kv[layer_idx] = (keys, values)
            return keys, values
        before_k, before_v = self.kv[layer_idx]
        return (
            torch.cat([before_k[self.group], keys], dim=2),
            torch.cat([before_v[self.group], values], dim=2),
        )


@dataclass
class _Part:
    """One batch of the walk: its prompts' rows, their tokens' hidden states (after their
    shared prefix, if any) and the layer those wait at the input of. A part may hold
    several groups: their prefixes are the rows of ``prefix``, right-padded, and
    ``shared[j]`` is how many tokens row j's group shares."""

    rows: list[int]
    probe: Probe | None
    hidden: torch.Tensor
    mask: torch.Tensor
    pos: tuple[torch.Tensor, torch.Tensor]
    shared: list[int] | None = None
    group: torch.Tensor | None = None  # (rows,) the prefix row of each row
    prefix: torch.Tensor | None = None  # (groups, longest prefix, d)
    prefix_mask: torch.Tensor | None = None
    prefix_pos: tuple[torch.Tensor, torch.Tensor] | None = None
    at: int = 0
    counted: torch.Tensor | None = None  # (rows, own width) tokens ``AnswerMoments`` sums
    needed: int = 0  # own columns read after the first pass: up to the last key


class TorchLayerWalk:
    """The layer walk half of ``TorchBackend`` (a base class of it)."""

    model: Any
    device: Any
    intermediate_size: int
    hidden_size: int
    _layers: Any

    if TYPE_CHECKING:  # provided by TorchBackend; declared for the type checker only

        def encode(self, text: str) -> list[int]: ...
        def _batch(self, sequences: Sequence[list[int]]) -> tuple[torch.Tensor, torch.Tensor]: ...
        def _additive_mask(self, allowed: np.ndarray) -> torch.Tensor: ...
        def _run_layers(self, *args: Any) -> torch.Tensor: ...
        def _factors(self, factors: Factors | None) -> Any: ...
        def _probing(self, probe: Any) -> Any: ...

    def layer_walk(
        self,
        prompts: Sequence[EditPrompt],
        layers: Sequence[int],
        residual_layer: int,
        base: Factors | None = None,
        answers: AnswerMoments | None = None,
    ) -> Generator[tuple[np.ndarray, np.ndarray], Factors | None, None]:
        """See ``Backend.layer_walk``: each batch's hidden states wait at the input of the
        next edited layer, so a step runs only the layers from there up."""
        n, order = len(prompts), sorted(layers)
        with torch.inference_mode():
            parts = self._walk_parts(prompts, answers)
        m = self.intermediate_size
        moments = {  # 150 MB at this model: only when asked
            layer: torch.zeros((m, m), dtype=torch.float64, device=self.device)
            for layer in (order if answers is not None else ())
        }
        factors = base
        for step, layer in enumerate(order):
            keys, resid = np.zeros((n, self.intermediate_size)), np.zeros((n, self.hidden_size))
            with torch.inference_mode(), self._factors(factors):
                for part in parts:
                    checkpoint()
                    probe = part.probe
                    assert probe is not None
                    probe.key_layers, probe.keys = (layer,), {}
                    probe.residual_layer = residual_layer
                    counting = step == 0 and part.counted is not None
                    probe.moments = moments if counting else None
                    probe.moment_mask = part.counted if counting else None
                    waiting = self._through(part, part.at, layer, probe)
                    self._through(part, layer, residual_layer + 1, probe, waiting)
                    part.prefix, part.hidden = waiting
                    part.at = layer
                    if counting:
                        self._drop_answers(part)
                    keys[part.rows] = probe.keys[layer].to(torch.float64).cpu().numpy()
                    resid[part.rows] = probe.residuals.to(torch.float64).cpu().numpy()
            if step == 0 and answers is not None:
                answers.sums = {layer: mom.cpu().numpy() for layer, mom in moments.items()}
                answers.tokens = sum(int(p.counted.sum()) for p in parts if p.counted is not None)
            factors = yield keys, resid

    def _walk_parts(
        self, prompts: Sequence[EditPrompt], answers: AnswerMoments | None = None
    ) -> list[_Part]:
        """Prompts under a shared context in batches of several groups, the rest in
        batches of similar length. Each part's probe reads its rows' key tokens; with
        ``answers``, its ``counted`` marks the tokens those sums count."""
        seqs, cols, spans = walk_sequences(self.encode, prompts, answers)
        packed, alone = self._packed(seqs, cols)
        parts = [self._shared_part(seqs, groups) for groups in packed]
        for batch in length_batches([len(seqs[i]) for i in alone], 64, EDIT_BATCH_CELLS):
            parts.append(self._plain_part(seqs, [alone[i] for i in batch]))
        for part in parts:
            shared = part.shared or [0] * len(part.rows)
            own = [cols[i] - k for i, k in zip(part.rows, shared)]
            part.probe = self._key_probe(own)
            part.needed = max(own) + 1
            if answers is not None:
                width = part.hidden.shape[1]
                at = torch.arange(width, device=self.device)[None, :]
                first, end = (
                    torch.tensor([spans[i][j] - k for i, k in zip(part.rows, shared)])[:, None]
                    for j in (0, 1)
                )
                part.counted = (at >= first.to(self.device)) & (at < end.to(self.device))
        return parts

    @staticmethod
    def _drop_answers(part: _Part) -> None:
        """After the first pass, the columns past the last key are read by no one: the
        causal mask lets no earlier token see them, so cutting them changes nothing."""
        w = part.needed
        part.hidden = part.hidden[:, :w]
        prefix = 0 if part.prefix is None else part.prefix.shape[1]
        part.mask = part.mask[:, :, :w, : prefix + w]
        part.pos = (part.pos[0][:, :w], part.pos[1][:, :w])

    @staticmethod
    def _packed(
        seqs: Sequence[list[int]], firsts: Sequence[int]
    ) -> tuple[list[list[tuple[int, list[int]]]], list[int]]:
        """Groups of sequences that share at least ``MIN_SHARED`` tokens before each one's
        ``firsts`` (the first token read from it) as (shared, rows), packed by prefix
        length into batches of at most ``MAX_ROWS`` rows; and the rows left alone."""
        groups: list[tuple[int, list[int]]] = []
        alone: list[int] = []
        for shared, members in shared_groups(seqs):
            shared = min([shared, *(firsts[i] for i in members)])
            if shared < MIN_SHARED:
                alone += members
                continue
            groups += [
                (shared, members[s : s + MAX_ROWS]) for s in range(0, len(members), MAX_ROWS)
            ]

        # groups side by side pad to the longest prefix and the longest own part: a batch
        # grows only while padding stays within ``PACK_SLACK`` of the real tokens (mixed
        # freely, 180 prompts of a 30-fact re-solve ran no faster than unshared, measured)
        def cells(batch: list[tuple[int, list[int]]]) -> tuple[int, int]:
            padded = len(batch) * max(k for k, _ in batch) + sum(len(m) for _, m in batch) * max(
                len(seqs[i]) - k for k, m in batch for i in m
            )
            real = sum(k + sum(len(seqs[i]) - k for i in m) for k, m in batch)
            return padded, real

        def own(group: tuple[int, list[int]]) -> int:
            return max(len(seqs[i]) for i in group[1]) - group[0]

        packed: list[list[tuple[int, list[int]]]] = []
        for group in sorted(groups, key=lambda g: (own(g), g[0])):
            if packed:
                trial = [*packed[-1], group]
                padded, real = cells(trial)
                if sum(len(m) for _, m in trial) <= MAX_ROWS and padded <= PACK_SLACK * real:
                    packed[-1] = trial
                    continue
            packed.append([group])
        return packed, alone

    def _plain_part(self, seqs: Sequence[list[int]], rows: list[int]) -> _Part:
        ids, _ = self._batch([seqs[i] for i in rows])  # right padding: causal alone is exact
        hidden = self.model.model.embed_tokens(ids)
        width = ids.shape[1]
        allowed = np.tril(np.ones((1, width, width), dtype=bool))
        return _Part(rows, None, hidden, self._additive_mask(allowed), self._rotary(hidden, width))

    def _shared_part(self, seqs: Sequence[list[int]], groups: list[tuple[int, list[int]]]) -> _Part:
        """One batch of groups: each group's prefix a row of its own, and each prompt's own
        tokens at its group's next positions, attending to that prefix only."""
        rows = [i for _, members in groups for i in members]
        shared = [k for k, members in groups for _ in members]
        group = [g for g, (_, members) in enumerate(groups) for _ in members]
        prefix_ids, _ = self._batch([seqs[members[0]][:k] for k, members in groups])
        ids, _ = self._batch([seqs[i][k:] for i, k in zip(rows, shared)])
        embed = self.model.model.embed_tokens
        hidden, prefix = embed(ids), embed(prefix_ids)
        longest, own = prefix_ids.shape[1], ids.shape[1]
        allowed = np.zeros((len(rows), own, longest + own), dtype=bool)
        for j, k in enumerate(shared):
            allowed[j, :, :k] = True  # its group's prefix, not the padding after it
        allowed[:, :, longest:] = np.tril(np.ones((own, own), dtype=bool))
        at = torch.tensor(shared, device=self.device)[:, None]
        positions = at + torch.arange(own, device=self.device)[None, :]
        return _Part(
            rows,
            None,
            hidden,
            self._additive_mask(allowed),
            self.model.model.rotary_emb(hidden, position_ids=positions),
            shared=shared,
            group=torch.tensor(group, device=self.device),
            prefix=prefix,
            prefix_mask=self._additive_mask(np.tril(np.ones((1, longest, longest), dtype=bool))),
            prefix_pos=self._rotary(prefix, longest),
        )

    def _key_probe(self, cols: Sequence[int]) -> Probe:
        return Probe(
            rows=torch.arange(len(cols), device=self.device),
            cols=torch.tensor(list(cols), device=self.device),
        )

    def _rotary(self, hidden: torch.Tensor, width: int) -> tuple[torch.Tensor, torch.Tensor]:
        positions = torch.arange(width, device=self.device).unsqueeze(0)
        return self.model.model.rotary_emb(hidden, position_ids=positions)

    def _through(
        self,
        part: _Part,
        start: int,
        stop: int,
        probe: Probe,
        state: tuple[torch.Tensor | None, torch.Tensor] | None = None,
    ) -> tuple[torch.Tensor | None, torch.Tensor]:
        """``part``'s (prefix, rows) hidden states (``state``, else its waiting ones) run
        through layers ``start``..``stop`` - 1, the rows under ``probe``."""
        prefix, hidden = state if state is not None else (part.prefix, part.hidden)
        layers = self._layers[start:stop]
        if part.group is None:
            with self._probing(probe):
                return None, self._run_layers(hidden, layers, part.mask, 0, part.pos)
        cache = _PrefixKV(part.group)
        for layer in layers:
            cache.reading = True
            with self._probing(None):  # the prefixes hold no key: nothing to read there
                prefix = self._run_layers(
                    prefix, [layer], part.prefix_mask, 0, part.prefix_pos, cache
                )
            cache.reading = False
            with self._probing(probe):
                hidden = self._run_layers(hidden, [layer], part.mask, 0, part.pos, cache)
        return prefix, hidden
