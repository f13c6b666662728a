"""The v* problem on torch: the frozen prefix computed once, then each step's answer NLL
and its gradient for the facts still optimising.

Apart from ``torch_backend`` because it is the one part of the backend that differentiates:
it runs the upper layers over a cached prefix (a transformers ``DynamicCache`` sliced to the
active facts' rows each time the active set shrinks) and backpropagates to the delta only.

The upper layers may run in bfloat16 (``editor.v_precision``) from a copy of them made once:
on a CPU with bfloat16 matrix units its matmuls are several times faster, and v* only has to
find a direction that makes the answer likely, which the float32 solve and checks then use.
"""

from __future__ import annotations

import copy
import functools
import logging
import time
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

log = logging.getLogger(__name__)

# "auto" takes bfloat16 on a CPU only where its matmuls beat float32 by this much (measured
# once per process): emulated bfloat16 is slower than float32, and a small gain would not pay
# for the copy of the upper layers.
BF16_MIN_GAIN = 1.5


class TorchValueProblem:
    """The v* half of ``TorchBackend`` (a base class of it), using the model it loads."""

    model: Any
    tokenizer: Any
    device: Any
    dtype: torch.dtype

    hidden_size: int
    intermediate_size: int

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
        precision: str = "float32",
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
        lower = base.layers[: layer + 1]
        dtype = self.value_dtype(precision)
        if factors is not None and any(i > layer for i in factors.layers):
            dtype = self.dtype  # the copy carries no live edit of its own layers
        upper, norm, lm_head = self._upper(layer, dtype)

        # Every column before the key is the same in every step: layers up to ``layer`` run
        # once over the whole batch, the upper layers once over the prefix (into a cache).
        with torch.no_grad(), self._factors(factors):
            hidden = base.embed_tokens(ids)
            positions = torch.arange(ids.shape[1], device=dev).unsqueeze(0)
            pos_emb = base.rotary_emb(hidden, position_ids=positions)
            full = self._additive_mask(attention_allowed(layout.valid, 0))
            hidden_at = self._run_layers(hidden, lower, full, 0, pos_emb)
            # The original value at the key bounds how far the delta may move it.
            h0 = hidden_at[:, split].float()  # (n, d)
            pos_emb = (pos_emb[0].to(dtype), pos_emb[1].to(dtype))
            full, hidden_at = full.to(dtype), hidden_at.to(dtype)
            prefix = DynamicCache(config=self.model.config)
            if split:
                prefix_mask = full[:, :, :split, :split]
                self._run_layers(hidden_at[:, :split], upper, prefix_mask, 0, pos_emb, prefix)
        suffix_mask = self._additive_mask(attention_allowed(layout.valid, split)).to(dtype)
        h0_norm = torch.zeros(n_groups, device=dev).index_add_(0, p_group, h0.norm(dim=-1))
        h0_norm = h0_norm / torch.bincount(p_group, minlength=n_groups).clamp(min=1)
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
                shift = delta[b["p_group"]].to(dtype)
                h = b["suffix"].index_put(b["at_key"], shift, accumulate=True)
                try:
                    h = self._run_layers(h, upper, b["mask"], split, pos_emb, b["cache"])
                finally:
                    if split:
                        b["cache"].crop(-(ids.shape[1] - split))  # keep only the prefix
                        _detach_cache(b["cache"])
                    else:
                        b["cache"] = DynamicCache(config=self.model.config)
                h = norm(h)
                logits = lm_head(h[b["t_rows"], b["t_cols"]]).float()  # (targets, vocab)
                nll = torch.nn.functional.cross_entropy(logits, b["t_ids"], reduction="none")
                per_group = torch.zeros(n_groups, device=dev).index_add_(0, b["t_group"], nll)
                per_group = per_group / tokens_per_group
                per_group.sum().backward()
            assert delta.grad is not None
            return per_group.detach().cpu().numpy(), delta.grad.cpu().numpy()

        return ValueProblem(h0_norm.cpu().numpy(), loss_and_grad)

    def value_dtype(self, precision: str) -> torch.dtype:
        """The dtype v* runs its upper layers in for ``editor.v_precision``."""
        if precision == "float32" or self.dtype != torch.float32:
            return self.dtype  # a half-precision model is used as it is
        if precision == "bfloat16":
            return torch.bfloat16
        return self._faster_dtype

    @functools.cached_property
    def _on_cuda(self) -> bool:
        return str(self.device).startswith("cuda")

    @functools.cached_property
    def _value_copies(self) -> dict[tuple[int, torch.dtype], tuple[Any, Any, Any]]:
        """(v* layer, dtype) -> the upper layers, norm and head copied in that dtype."""
        return {}

    @functools.cached_property
    def _faster_dtype(self) -> torch.dtype:
        """bfloat16 where the device multiplies in it well, else float32 (decided once)."""
        if self._on_cuda:
            return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float32
        rates = {
            dt: _matmul_seconds(self.hidden_size, self.intermediate_size, dt)
            for dt in (torch.float32, torch.bfloat16)
        }
        gain = rates[torch.float32] / rates[torch.bfloat16]
        chosen = torch.bfloat16 if gain >= BF16_MIN_GAIN else torch.float32
        log.info(
            "v* precision auto: bfloat16 matmuls %.1fx float32 here, using %s",
            gain,
            str(chosen).removeprefix("torch."),
        )
        return chosen

    def _upper(self, layer: int, dtype: torch.dtype) -> tuple[Any, Any, Any]:
        """The layers above ``layer``, the final norm and the output head, in ``dtype``: the
        model's own, or a copy made once (the frozen weights do not change); the model's own
        where the copy would take more than half the memory the machine has free."""
        base = self.model.model
        own = (base.layers[layer + 1 :], base.norm, self.model.get_output_embeddings())
        if dtype == self.dtype:
            return own
        key = (layer, dtype)
        if key not in self._value_copies:
            self._value_copies.clear()  # one v* layer at a time: never hold two copies
            size = sum(p.numel() for m in own for p in m.parameters()) * dtype.itemsize
            free = _free_memory()
            if not self._on_cuda and free is not None and size > free / 2:
                log.info(
                    "v* in the model's dtype: a %s copy (%d MB) would not fit", dtype, size >> 20
                )
                return own
            # a layer at a time, so only one layer's float32 copy exists at once
            upper = torch.nn.ModuleList(copy.deepcopy(m).to(dtype) for m in own[0])
            norm, head = (copy.deepcopy(m).to(dtype) for m in own[1:])
            if not self._on_cuda:
                # torch's fused CPU attention backpropagates slowly in bfloat16 (measured
                # 4.5 s of a 13 s v*); the plain matmul form does not
                for m in upper:
                    m.self_attn.config._attn_implementation = "eager"
            self._value_copies[key] = (upper, norm, head)
        return self._value_copies[key]


def _free_memory() -> int | None:
    """Bytes of memory available now (Linux's MemAvailable, page cache counted as free);
    None where the platform does not say."""
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return None


def _matmul_seconds(d: int, m: int, dtype: torch.dtype, rows: int = 256, reps: int = 8) -> float:
    """Best of ``reps`` times of an MLP-shaped product pair in ``dtype`` (a few ms)."""
    x, w = torch.randn(rows, d, dtype=dtype), torch.randn(m, d, dtype=dtype)
    best = float("inf")
    for _ in range(reps + 2):  # the first calls pick kernels
        started = time.perf_counter()
        (x @ w.T) @ w
        best = min(best, time.perf_counter() - started)
    return best


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
