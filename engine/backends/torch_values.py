"""The v* problem on torch: the frozen prefix computed once, then each step's answer NLL
and its gradient for the facts still optimising.

Apart from ``torch_backend`` because it is the one part of the backend that differentiates:
it runs the upper layers over a cached prefix (a transformers ``DynamicCache`` sliced to the
active facts' rows each time the active set shrinks) and backpropagates to the delta only.
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import torch

from .base import (
    EditPrompt,
    Factors,
    ValueProblem,
    active_rows,
    attention_allowed,
    narrowed_targets,
    target_tokens,
)


class TorchValueProblem:
    """The v* half of ``TorchBackend`` (a base class of it), using the model it loads."""

    model: Any
    tokenizer: Any
    device: Any
    dtype: torch.dtype

    if TYPE_CHECKING:  # provided by TorchBackend; declared for the type checker only

        def encode(self, text: str) -> list[int]: ...
        def _factors(self, factors: Factors | None) -> Any: ...
        def _additive_mask(self, allowed: np.ndarray) -> torch.Tensor: ...
        def _run_layers(self, *args: Any) -> torch.Tensor: ...

    def value_problem(
        self,
        prompts: Sequence[EditPrompt],
        layer: int,
        n_groups: int,
        factors: Factors | None = None,
    ) -> ValueProblem:
        """See ``Backend.value_problem``."""
        from transformers import DynamicCache  # imported when an edit runs, not at load

        seqs = [self.encode(p.text) for p in prompts]
        layout = target_tokens(prompts, seqs, self.encode, self.tokenizer.pad_token_id)
        dev = self.device
        groups = np.array([p.group for p in prompts])
        p_group = torch.from_numpy(groups).to(dev)
        t_group_all = torch.tensor(layout.groups, device=dev)
        tokens_per_group = torch.bincount(t_group_all, minlength=n_groups).clamp(min=1).float()
        ids = torch.tensor(layout.sequences, device=dev)
        split = layout.key_col
        base = self.model.model
        lower, upper = base.layers[: layer + 1], base.layers[layer + 1 :]

        # Every column before the key is the same in every step: layers up to ``layer`` run
        # once over the whole batch, the upper layers once over the prefix (into a cache).
        with torch.no_grad(), self._factors(factors):
            hidden = base.embed_tokens(ids)
            positions = torch.arange(ids.shape[1], device=dev).unsqueeze(0)
            pos_emb = base.rotary_emb(hidden, position_ids=positions)
            full = self._additive_mask(attention_allowed(layout.valid, 0))
            hidden_at = self._run_layers(hidden, lower, full, 0, pos_emb)
            prefix = DynamicCache(config=self.model.config)
            if split:
                prefix_mask = full[:, :, :split, :split]
                self._run_layers(hidden_at[:, :split], upper, prefix_mask, 0, pos_emb, prefix)
        suffix_mask = self._additive_mask(attention_allowed(layout.valid, split))

        # The original value at the key bounds how far the delta may move it.
        h0 = hidden_at[:, split].float()  # (n, d)
        h0_norm = torch.zeros(n_groups, device=dev).index_add_(0, p_group, h0.norm(dim=-1))
        h0_norm = h0_norm / torch.bincount(p_group, minlength=n_groups).clamp(min=1)
        lm_head = self.model.get_output_embeddings()
        suffix = hidden_at[:, split:]
        batches: dict[bytes, dict[str, Any]] = {}

        def batch_of(active: np.ndarray) -> dict[str, Any]:
            """The rows of the active facts: sliced once each time the active set shrinks."""
            key = active.tobytes()
            if key not in batches:
                batches.clear()
                rows = active_rows(groups, active)
                idx = torch.from_numpy(rows).to(dev)
                cache = prefix
                if len(rows) < len(prompts):
                    cache = copy.deepcopy(prefix)
                    cache.batch_select_indices(idx)
                targets = narrowed_targets(layout, rows)
                batches[key] = {
                    "suffix": suffix[idx],
                    "mask": suffix_mask[idx],
                    "cache": cache,
                    "p_group": p_group[idx],
                    "at_key": (torch.arange(len(rows), device=dev), torch.zeros_like(idx)),
                    "t_rows": torch.tensor(targets.rows, device=dev),
                    "t_cols": torch.tensor(targets.cols, device=dev) - split,
                    "t_ids": torch.tensor(targets.ids, device=dev),
                    "t_group": torch.tensor(targets.groups, device=dev),
                }
            return batches[key]

        def loss_and_grad(
            delta_np: np.ndarray, active: np.ndarray
        ) -> tuple[np.ndarray, np.ndarray]:
            b = batch_of(active)
            delta = torch.tensor(delta_np, dtype=torch.float32, device=dev, requires_grad=True)
            with self._factors(factors):
                shift = delta[b["p_group"]].to(self.dtype)
                h = b["suffix"].index_put(b["at_key"], shift, accumulate=True)
                try:
                    h = self._run_layers(h, upper, b["mask"], split, pos_emb, b["cache"])
                finally:
                    if split:
                        b["cache"].crop(-(ids.shape[1] - split))  # keep only the prefix
                        _detach_cache(b["cache"])
                    else:
                        b["cache"] = DynamicCache(config=self.model.config)
                h = base.norm(h)
                logits = lm_head(h[b["t_rows"], b["t_cols"]]).float()  # (targets, vocab)
                nll = torch.nn.functional.cross_entropy(logits, b["t_ids"], reduction="none")
                per_group = torch.zeros(n_groups, device=dev).index_add_(0, b["t_group"], nll)
                per_group = per_group / tokens_per_group
                per_group.sum().backward()
            assert delta.grad is not None
            return per_group.detach().cpu().numpy(), delta.grad.cpu().numpy()

        return ValueProblem(h0_norm.cpu().numpy(), loss_and_grad)


def _detach_cache(cache: Any) -> None:
    """Cut the cropped prefix loose from the last step's graph (crop returns views of it)."""
    if hasattr(cache, "layers"):  # transformers >= 4.56
        for entry in cache.layers:
            if getattr(entry, "keys", None) is not None:
                entry.keys = entry.keys.detach()
                entry.values = entry.values.detach()
    else:
        cache.key_cache = [k.detach() for k in cache.key_cache]
        cache.value_cache = [v.detach() for v in cache.value_cache]
