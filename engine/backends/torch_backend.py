"""PyTorch backend (CPU or CUDA) for Hugging Face causal LMs with ``model.layers[i].mlp.down_proj``.

Per-user edits never touch the shared weights: a forward hook on each edited down_proj adds
the active user's low-rank term (x @ A) @ R.T. Which factors are active is a ContextVar, so
two threads can generate for two users at once on one model without seeing each other's
memory. The v* problem, the one part that differentiates, is ``torch_values``.
"""

from __future__ import annotations

import contextlib
import contextvars
import inspect
import logging
from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np

from ..errors import BackendUnavailable, ModelError
from ..priority import checkpoint
from .base import (
    Chooser,
    EditPrompt,
    Factors,
    GenerationResponse,
    key_column,
    moment_chunks,
    nll_chunks,
    prompt_batches,
    summed,
    token_pieces,
)

log = logging.getLogger(__name__)

try:
    import torch
except ImportError as exc:  # pragma: no cover - exercised only without torch
    raise BackendUnavailable(
        "the torch backend needs PyTorch and transformers: pip install 'sleepmem[torch]' "
        "(on a CPU-only machine install a CPU build of torch first)"
    ) from exc

from .greedy import greedy_batch  # noqa: E402
from .torch_probe import Probe as _Probe  # noqa: E402
from .torch_rows import TorchRows  # noqa: E402
from .torch_values import TorchValueProblem  # noqa: E402
from .torch_walk import TorchLayerWalk  # noqa: E402


class _StopForward(Exception):
    """Raised by a layer hook to end a forward pass early (see ``_Probe.stop_after``)."""


_active: contextvars.ContextVar[dict[int, tuple[torch.Tensor, torch.Tensor]] | None] = (
    contextvars.ContextVar("sleepmem_torch_factors", default=None)
)
_probe: contextvars.ContextVar[_Probe | None] = contextvars.ContextVar(
    "sleepmem_torch_probe", default=None
)


def _pick_device(device: str) -> str:
    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise ModelError(f"device {device!r} requested but CUDA is not available")
    return device


class TorchBackend(TorchValueProblem, TorchLayerWalk):
    name = "torch"

    def __init__(
        self,
        model: Any,
        tokenizer: Any,
        model_id: str,
        device: str = "cpu",
    ) -> None:
        self.model = model.eval()
        self.tokenizer = tokenizer
        self.model_id = model_id
        self.device = device
        self.dtype = next(model.parameters()).dtype
        layers = _decoder_layers(model)
        self._layers = layers
        self.n_layers = len(layers)
        self.hidden_size = int(model.config.hidden_size)
        self.intermediate_size = int(layers[0].mlp.down_proj.in_features)
        self.context_length = getattr(model.config, "max_position_embeddings", None)
        if tokenizer.pad_token_id is None:
            tokenizer.pad_token = tokenizer.eos_token
        self.stop_ids = _stop_token_ids(tokenizer, model)
        # transformers 5 renamed past_key_values to cache; accept either generation.
        params = inspect.signature(model.forward).parameters
        self._cache_kw = "cache" if "cache" in params else "past_key_values"
        for i, layer in enumerate(layers):
            layer.mlp.down_proj.register_forward_hook(self._down_proj_hook(i))
            layer.register_forward_hook(self._layer_hook(i))
        for p in model.parameters():
            p.requires_grad_(False)

    # ------------------------------------------------------------------ loading
    @classmethod
    def from_source(cls, source: Any, device: str = "auto", dtype: str = "float32") -> TorchBackend:
        """Load a resolved ``models.ModelSource`` (folder, GGUF file or hub id)."""
        from ..models import load_transformers

        device = _pick_device(device)
        model, tokenizer = load_transformers(source, dtype=dtype, device=device)
        if not getattr(tokenizer, "chat_template", None):
            raise ModelError(f"{source.location} has no chat template; sleepmem needs a chat model")
        return cls(model, tokenizer, model_id=source.model_id, device=device)

    # ------------------------------------------------------------------ hooks
    def _down_proj_hook(self, index: int):
        def hook(_module: Any, inputs: tuple[torch.Tensor, ...], output: torch.Tensor):
            x = inputs[0]
            probe = _probe.get()
            if probe is not None:
                if index in probe.key_layers:
                    probe.keys[index] = x[probe.rows, probe.cols].detach()
                if probe.moments is not None and index in probe.moments:
                    k = x[probe.moment_mask].to(torch.float32)  # (tokens, m)
                    probe.moments[index] += (k.T @ k).to(torch.float64)
            active = _active.get()
            if active is not None and index in active:
                a, rt = active[index]  # (m, r), (r, d); or per row (B, m, r), (B, r, d)
                output = output + (x @ a) @ rt  # (B,T,m)(..,m,r)(..,r,d) -> (B,T,d)
            return output

        return hook

    def _layer_hook(self, index: int):
        def hook(_module: Any, _inputs: Any, output: Any):
            probe = _probe.get()
            if probe is None:
                return None
            hidden = output[0] if isinstance(output, tuple) else output
            if probe.residual_layer == index:
                probe.residuals = hidden[probe.rows, probe.cols].detach()
            if probe.stop_after == index:
                raise _StopForward
            return None

        return hook

    @contextlib.contextmanager
    def _factors(self, factors: Factors | None) -> Iterator[None]:
        with self._live(self._live_factors(factors)):
            yield

    def _live_factors(
        self, factors: Factors | None
    ) -> dict[int, tuple[torch.Tensor, torch.Tensor]] | None:
        """``factors`` as the down_proj hook adds them: layer -> (A, R^T)."""
        if not factors:
            return None
        return {
            layer: (self._tensor(a), self._tensor(r).T) for layer, (r, a) in factors.layers.items()
        }

    @contextlib.contextmanager
    def _live(self, live: dict[int, tuple[torch.Tensor, torch.Tensor]] | None) -> Iterator[None]:
        """Add these terms in this thread's forwards: layer -> (A, R^T), as (m, r) and
        (r, d) for one user, or stacked (rows, m, r) and (rows, r, d), a user per row."""
        token = _active.set(live)
        try:
            yield
        finally:
            _active.reset(token)

    def rows(self) -> TorchRows:
        """An empty set of rows to decode several users' replies in one batch."""
        return TorchRows(self)

    @contextlib.contextmanager
    def _probing(self, probe: _Probe) -> Iterator[_Probe]:
        token = _probe.set(probe)
        try:
            yield probe
        finally:
            _probe.reset(token)

    def _run_through(
        self, ids: torch.Tensor, mask: torch.Tensor, last_layer: int, probe: _Probe
    ) -> None:
        """Run the decoder through ``last_layer`` only, feeding ``probe``.

        The pass is ended by a hook, not by truncating the layer list: the model is shared by
        threads serving other users, so its modules must never change during a call.
        """
        probe.stop_after = last_layer
        with self._probing(probe), contextlib.suppress(_StopForward):
            self.model.model(input_ids=ids, attention_mask=mask)

    def weight_bytes(self) -> int:
        """Bytes held by the model's parameters."""
        return sum(p.numel() * p.element_size() for p in self.model.parameters())

    def _tensor(self, array: np.ndarray) -> torch.Tensor:
        # cached statistics arrive read-only, which torch.from_numpy warns about
        return torch.from_numpy(np.require(array, requirements=["C", "W"])).to(
            self.device, self.dtype
        )

    # ------------------------------------------------------------------ text
    def chat_text(self, messages: list[dict[str, str]], add_generation_prompt: bool = True) -> str:
        return self.tokenizer.apply_chat_template(
            messages, add_generation_prompt=add_generation_prompt, tokenize=False
        )

    def encode(self, text: str) -> list[int]:
        # Texts arrive with the chat template already applied, so no special tokens are added.
        return self.tokenizer(text, add_special_tokens=False).input_ids

    def decode(self, ids: Sequence[int]) -> str:
        return self.tokenizer.decode(list(ids), skip_special_tokens=True)

    def token_count(self, text: str) -> int:
        return len(self.encode(text))

    def _batch(self, sequences: Sequence[list[int]]) -> tuple[torch.Tensor, torch.Tensor]:
        """Right-padded ids and mask. Right padding keeps every real token's causal view intact."""
        width = max(len(s) for s in sequences)
        pad = self.tokenizer.pad_token_id
        ids = torch.full((len(sequences), width), pad, dtype=torch.long)
        mask = torch.zeros((len(sequences), width), dtype=torch.long)
        for i, seq in enumerate(sequences):
            ids[i, : len(seq)] = torch.tensor(seq)
            mask[i, : len(seq)] = 1
        return ids.to(self.device), mask.to(self.device)

    # ------------------------------------------------------------------ generation
    @torch.inference_mode()
    def generate(
        self,
        text: str,
        max_new_tokens: int,
        factors: Factors | None = None,
        choose: Chooser | None = None,
    ) -> Iterator[GenerationResponse]:
        ids = torch.tensor([self.encode(text)], device=self.device)
        prompt_tokens = ids.shape[1]
        stopped: list[bool] = []

        def chosen() -> Iterator[int]:
            with self._factors(factors):
                past = None
                step_input = ids
                for _ in range(max_new_tokens):
                    out = self.model(input_ids=step_input, use_cache=True, **{self._cache_kw: past})
                    past = getattr(out, self._cache_kw)
                    if choose is None:
                        next_id = int(out.logits[0, -1].argmax())
                    else:
                        picked = choose(out.logits[0, -1].float().cpu().numpy())
                        next_id = next(iter(self.stop_ids)) if picked is None else picked
                    if next_id in self.stop_ids:
                        stopped.append(True)
                        return
                    yield next_id
                    step_input = torch.tensor([[next_id]], device=self.device)

        count = yield from token_pieces(chosen(), self.decode, prompt_tokens)
        yield GenerationResponse("", prompt_tokens, count, "stop" if stopped else "length")

    def generate_batch(
        self,
        texts: Sequence[str],
        max_new_tokens: int,
        factors: Factors | None = None,
        stop_at: Sequence[str] | None = None,
    ) -> list[str]:
        return greedy_batch(self, texts, max_new_tokens, factors, stop_at)

    # ------------------------------------------------------------------ editor access
    def _positions(self, prompts: Sequence[EditPrompt]) -> tuple[list[list[int]], _Probe]:
        seqs = [self.encode(p.text) for p in prompts]
        return seqs, self._key_probe([key_column(p, len(s)) for p, s in zip(prompts, seqs)])

    @torch.inference_mode()
    def activations(
        self,
        prompts: Sequence[EditPrompt],
        key_layers: Sequence[int],
        residual_layer: int | None = None,
        factors: Factors | None = None,
        batch_size: int = 64,
    ) -> tuple[dict[int, np.ndarray], np.ndarray | None]:
        """Keys at ``key_layers`` and the residual after ``residual_layer`` at each prompt's
        key token, from one forward pass per batch that stops at the deepest layer needed."""
        n = len(prompts)
        keys = {layer: np.zeros((n, self.intermediate_size)) for layer in key_layers}
        resid = None if residual_layer is None else np.zeros((n, self.hidden_size))
        last = max([*key_layers, -1 if residual_layer is None else residual_layer])
        for rows in prompt_batches(prompts, self.token_count, batch_size):
            checkpoint()
            seqs, probe = self._positions([prompts[i] for i in rows])
            probe.key_layers, probe.keys = tuple(key_layers), {}
            probe.residual_layer = residual_layer
            ids, mask = self._batch(seqs)
            with self._factors(factors):
                self._run_through(ids, mask, last, probe)
            for layer in key_layers:
                keys[layer][rows] = probe.keys[layer].to(torch.float64).cpu().numpy()
            if resid is not None:
                resid[rows] = probe.residuals.to(torch.float64).cpu().numpy()
        return keys, resid

    def keys(
        self, prompts: Sequence[EditPrompt], layers: Sequence[int], factors: Factors | None = None
    ) -> dict[int, np.ndarray]:
        return self.activations(prompts, layers, None, factors)[0]

    @torch.inference_mode()
    def second_moments(
        self,
        texts: Sequence[str],
        layers: Sequence[int],
        batch_size: int = 16,
        starts: Sequence[int] | None = None,
    ) -> tuple[dict[int, np.ndarray], int]:
        m = self.intermediate_size
        moments = {
            layer: torch.zeros((m, m), dtype=torch.float64, device=self.device) for layer in layers
        }
        last = max(layers)
        count = 0
        for seqs, firsts in moment_chunks(texts, self.encode, batch_size, starts):
            ids, mask = self._batch(seqs)
            first = torch.tensor(firsts, device=self.device)
            counted = torch.arange(ids.shape[1], device=self.device)[None, :] >= first[:, None]
            # the attention mask stays whole: tokens before a start still give context
            counts = mask.bool() & counted
            probe = _Probe(moments=moments, moment_mask=counts)
            with self._factors(None):
                self._run_through(ids, mask, last, probe)
            count += int(counts.sum())
        return {layer: mom.cpu().numpy() for layer, mom in moments.items()}, count

    def _additive_mask(self, allowed: np.ndarray) -> torch.Tensor:
        """(B, 1, q, k) additive attention mask from a boolean ``allowed`` (B, q, k)."""
        mask = torch.zeros(allowed.shape, dtype=self.dtype, device=self.device)
        mask.masked_fill_(~torch.from_numpy(allowed).to(self.device), torch.finfo(self.dtype).min)
        return mask[:, None]

    def _run_layers(
        self,
        hidden: torch.Tensor,
        layers: Sequence[Any],
        mask: torch.Tensor,
        start: int,
        pos_emb: tuple[torch.Tensor, torch.Tensor],
        cache: Any = None,
    ) -> torch.Tensor:
        """``hidden`` (columns ``start``.. of the batch) through ``layers`` under ``mask``."""
        q = hidden.shape[1]
        positions = torch.arange(start, start + q, device=self.device).unsqueeze(0)
        emb = (pos_emb[0][:, start : start + q], pos_emb[1][:, start : start + q])
        for layer in layers:
            out = layer(
                hidden,
                attention_mask=mask,
                position_ids=positions,
                position_embeddings=emb,
                cache=cache,
                use_cache=cache is not None,
            )
            hidden = out[0] if isinstance(out, tuple) else out
        return hidden

    @torch.inference_mode()
    def logits(self, text: str, factors: Factors | None = None) -> np.ndarray:
        """(tokens, vocab) float32 logits of ``text`` with ``factors`` active: what other
        runtimes loading an exported adapter are checked against."""
        ids = torch.tensor([self.encode(text)], device=self.device)
        with self._factors(factors):
            out = self.model(input_ids=ids).logits[0]
        return out.float().cpu().numpy()

    def nll(self, texts: Sequence[str], factors: Factors | None = None) -> tuple[float, int]:
        return summed(self.nlls(texts, factors))

    @torch.inference_mode()
    def nlls(
        self,
        texts: Sequence[str],
        factors: Factors | None = None,
        starts: Sequence[int] | None = None,
    ) -> list[tuple[float, int]]:
        out: list[tuple[float, int]] = [(0.0, 0)] * len(texts)
        with self._factors(factors):
            for rows, seqs, firsts in nll_chunks(texts, self.encode, 16, starts):
                ids, mask = self._batch(seqs)
                counted = mask[:, 1:].bool()  # predictions of real tokens, from each first
                for row, first in enumerate(firsts):
                    counted[row, :first] = False
                logits = self.model(input_ids=ids, attention_mask=mask).logits[:, :-1]
                each = torch.nn.functional.cross_entropy(
                    logits[counted].float(), ids[:, 1:][counted], reduction="none"
                )
                per_row = torch.zeros(len(seqs), dtype=torch.float64, device=self.device)
                per_row.index_add_(0, counted.nonzero()[:, 0], each.double())
                for row, index in enumerate(rows):
                    out[index] = (float(per_row[row]), int(counted[row].sum()))
        return out


def _decoder_layers(model: Any) -> Any:
    base = getattr(model, "model", None)
    layers = getattr(base, "layers", None)
    if layers is None or not hasattr(getattr(layers[0], "mlp", None), "down_proj"):
        raise ModelError(
            f"{type(model).__name__} is not supported by the editor: it needs "
            "model.layers[i].mlp.down_proj (Llama, Qwen, Mistral, Gemma style)"
        )
    return layers


def _stop_token_ids(tokenizer: Any, model: Any) -> set[int]:
    stops = set()
    for tid in (tokenizer.eos_token_id, getattr(model.generation_config, "eos_token_id", None)):
        if isinstance(tid, int):
            stops.add(tid)
        elif isinstance(tid, list):
            stops.update(tid)
    for name in ("<|im_end|>", "<|eot_id|>", "<|end_of_text|>", "<end_of_turn>"):
        tid = tokenizer.convert_tokens_to_ids(name)
        if isinstance(tid, int) and tid != tokenizer.unk_token_id:
            stops.add(tid)
    return stops
