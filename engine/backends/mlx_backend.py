"""MLX backend (Apple silicon, or mlx's CPU build elsewhere) for mlx-lm causal LMs with
``model.layers[i].mlp.down_proj``.

MLX has no forward hooks, so the backend owns the model's forward pass:
- each edited layer's ``down_proj`` is wrapped once at load by ``EditedDownProj``
  (``mlx_edited``), which adds the calling user's low-rank term ``(x @ A) @ R.T`` and
  records its input (the key) when a probe asks. The base module inside stays what mlx-lm
  loaded: a dense Linear or a 4-bit QuantizedLinear, never touched, so an edit can never
  be quantised away;
- which factors and probe a forward sees is a ContextVar set around each synchronous
  forward call (never across a ``yield``), so concurrent calls from several threads, and
  interleaved generators in one thread, each see only their own factors;
- keys, residuals, second moments and v* (``mlx_values``) run a layer loop written here,
  with the causal mask built by mlx-lm's own ``create_attention_mask``. A check at load
  compares that loop with the model's own forward, so an architecture whose forward is not
  a plain layer loop is refused with a clear error instead of being edited wrongly.

Arrays crossing into the editor are numpy float64, so the solves run in float64 on any
device. Model identity (``model_id``) comes from ``models.resolve``, exactly as for the
torch backend, so one user's memory file serves both backends.
"""

from __future__ import annotations

import contextlib
import json
import logging
import sys
from collections.abc import Generator, Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import BackendUnavailable, ModelError
from ..priority import checkpoint
from .base import (
    EDIT_BATCH_CELLS,
    AnswerMoments,
    Chooser,
    EditPrompt,
    Factors,
    GenerationResponse,
    key_column,
    length_batches,
    moment_chunks,
    nll_chunks,
    prompt_batches,
    summed,
    token_pieces,
    walk_sequences,
)
from .mlx_blas import BLAS, BLAS_ENV  # noqa: F401  (before mlx: it picks the BLAS)

log = logging.getLogger(__name__)

try:
    import mlx.core as mx
    import mlx.nn as nn
    from mlx_lm.models.base import create_attention_mask
    from mlx_lm.models.cache import make_prompt_cache
except ImportError as exc:  # pragma: no cover - exercised only without mlx
    hint = "pip install 'sleepmem[mlx]'" + ("" if sys.platform == "darwin" else " 'mlx[cpu]'")
    raise BackendUnavailable(f"the mlx backend needs mlx and mlx-lm ({exc}): {hint}") from exc

from .greedy import greedy_batch  # noqa: E402
from .mlx_edited import Call, EditedDownProj, scoped, unwrapped  # noqa: E402
from .mlx_quant import batch_dense_on_cpu  # noqa: E402
from .mlx_rows import MlxRows  # noqa: E402
from .mlx_values import MlxValueProblem  # noqa: E402

_DTYPES = {"float32": mx.float32, "float16": mx.float16, "bfloat16": mx.bfloat16}

# Model conventions for "end of turn" besides the configured eos ids.
_END_OF_TURN = ("<|im_end|>", "<|eot_id|>", "<|end_of_text|>", "<end_of_turn>")


def _pick_device(device: str) -> Any:
    name = (device or "auto").strip().lower()
    if name == "auto":
        return mx.default_device()
    if name == "cpu":
        return mx.Device(mx.cpu)
    if name in {"gpu", "mps", "metal"} or name.startswith("cuda"):
        if not mx.is_available(mx.gpu):
            raise ModelError(
                f"device {device!r} requested but this mlx build has no GPU; use 'cpu' or 'auto'"
            )
        return mx.Device(mx.gpu)
    raise ModelError(f"unknown device {device!r} for the mlx backend; use auto, cpu or gpu")


class MlxBackend(MlxValueProblem):
    name = "mlx"

    def __init__(
        self,
        model: Any,
        tokenizer: Any,
        model_id: str,
        device: Any = None,
        generation_eos: Sequence[int] = (),
    ) -> None:
        inner = getattr(model, "model", None)
        layers = getattr(inner, "layers", None)
        if (
            not layers
            or not hasattr(inner, "embed_tokens")
            or not hasattr(inner, "norm")
            or not all(hasattr(getattr(layer, "mlp", None), "down_proj") for layer in layers)
        ):
            raise ModelError(
                f"{type(model).__module__} is not supported by the editor: it needs "
                "model.model.layers[i].mlp.down_proj (Llama, Qwen, Mistral style)"
            )
        self.model = model
        self.tokenizer = tokenizer
        self.model_id = model_id
        self.device = device if device is not None else mx.default_device()
        if self.device.type == mx.cpu:
            batch_dense_on_cpu(model)
        self._inner = inner
        self._layers = list(layers)
        self.n_layers = len(layers)
        # The final norm's weight is (d,) and never quantised, unlike the embedding.
        self.hidden_size = int(inner.norm.weight.shape[-1])
        for i, layer in enumerate(self._layers):
            if not isinstance(layer.mlp.down_proj, EditedDownProj):
                layer.mlp.down_proj = EditedDownProj(layer.mlp.down_proj, i)
        self.intermediate_size = _input_dims(unwrapped(self._layers[0].mlp.down_proj))
        self.dtype = self._inner.norm.weight.dtype
        args = getattr(model, "args", None)
        self.context_length = int(getattr(args, "max_position_embeddings", 0) or 0) or None
        self._window = getattr(inner, "sliding_window", None)
        self._pad = tokenizer.pad_token_id
        if self._pad is None:
            self._pad = tokenizer.eos_token_id
        self.stop_ids = self._stop_tokens(generation_eos)
        model.eval()
        self._check_layer_loop()

    # ------------------------------------------------------------------ loading
    @classmethod
    def from_source(cls, source: Any, device: str = "auto", dtype: str = "float32") -> MlxBackend:
        """Load a resolved ``models.ModelSource`` (a Hugging Face or mlx-lm folder, or a hub
        id mlx-lm can fetch) with mlx-lm."""
        from mlx_lm import load

        if dtype not in _DTYPES:
            raise ModelError(f"unsupported dtype {dtype!r}; use one of {', '.join(_DTYPES)}")
        if source.kind == "gguf":
            raise ModelError(
                f"the mlx backend loads model folders, not .gguf files ({source.gguf_file}); "
                "use the torch backend for it, or a Hugging Face / mlx-lm folder"
            )
        mx_device = _pick_device(device)
        try:
            with mx.stream(mx_device):
                model, tokenizer = load(source.location)
        except Exception as exc:  # mlx-lm raises ValueError, FileNotFoundError, hub errors...
            if source.kind == "hub":
                from ..models.resolve import hub_error

                raise hub_error(source.location, f"{type(exc).__name__}: {exc}") from exc
            raise ModelError(
                f"mlx-lm could not load {source.location}: {type(exc).__name__}: {exc}"
            ) from exc
        if not getattr(tokenizer, "chat_template", None):
            raise ModelError(f"{source.location} has no chat template; sleepmem needs a chat model")
        want = _DTYPES[dtype]
        # Only float parameters change; packed 4-bit weights keep their integer dtype.
        model.set_dtype(want)
        return cls(
            model,
            tokenizer,
            model_id=source.model_id,
            device=mx_device,
            generation_eos=_generation_eos(source.path),
        )

    def _stop_tokens(self, generation_eos: Sequence[int]) -> set[int]:
        stops = set(getattr(self.tokenizer, "eos_token_ids", ()) or ()) | set(generation_eos)
        if isinstance(self.tokenizer.eos_token_id, int):
            stops.add(self.tokenizer.eos_token_id)
        vocab = self.tokenizer.get_vocab()
        stops.update(vocab[name] for name in _END_OF_TURN if name in vocab)
        return stops

    def _check_layer_loop(self) -> None:
        """The editor runs its own layer loop; it must reproduce the model's forward."""
        ids = mx.array([self.encode("The capital of France is Paris. It lies on the Seine.")])
        with self._on_device():
            expected = self.model(ids)
            hidden = self._embed(ids)
            for i in range(self.n_layers):
                hidden = self._layer(i, hidden)
            got = self._logits(self._inner.norm(hidden))
            mx.eval(expected, got)
        scale = float(mx.abs(expected).max()) or 1.0
        diff = float(mx.abs(expected - got).max()) / scale
        if not np.isfinite(diff) or diff > 1e-3:
            raise ModelError(
                f"{type(self.model).__module__} is not supported by the editor: its forward "
                f"pass is not a plain embed -> layers -> norm loop (relative difference {diff:.2e})"
            )

    # ------------------------------------------------------------------ plumbing
    def _on_device(self) -> Any:
        return mx.stream(self.device)

    @contextlib.contextmanager
    def _forward(self, factors: dict[int, tuple[mx.array, mx.array]]) -> Iterator[None]:
        """One synchronous forward on this backend's device with these live factors added."""
        with self._on_device(), scoped(Call(factors=factors)):
            yield

    def _factors(self, factors: Factors | None) -> dict[int, tuple[mx.array, mx.array]]:
        if not factors:
            return {}
        return {
            layer: (
                mx.array(np.ascontiguousarray(a), dtype=self.dtype),  # (m, r)
                mx.array(np.ascontiguousarray(r.T), dtype=self.dtype),  # (r, d)
            )
            for layer, (r, a) in factors.layers.items()
            if r.shape[1]
        }

    def rows(self) -> MlxRows:
        """An empty set of rows to decode several users' replies in one batch."""
        return MlxRows(self)

    def _embed(self, ids: mx.array) -> mx.array:
        return self._inner.embed_tokens(ids)

    def _layer(self, index: int, hidden: mx.array, cache: Any = None) -> mx.array:
        layer = self._layers[index]
        window = self._window if getattr(layer, "use_sliding", False) else None
        mask = create_attention_mask(hidden, cache, window_size=window)
        return layer(hidden, mask, cache)

    def _logits(self, normed: mx.array) -> mx.array:
        head = getattr(self.model, "lm_head", None)
        if head is not None:
            return head(normed)
        return self._inner.embed_tokens.as_linear(normed)

    def _batch(self, sequences: Sequence[list[int]]) -> tuple[mx.array, np.ndarray]:
        """Right-padded ids and lengths. Right padding keeps every real token's causal view
        intact, so the plain causal mask is exact for all real tokens."""
        lengths = np.array([len(s) for s in sequences])
        ids = np.full((len(sequences), int(lengths.max())), self._pad, dtype=np.int32)
        for i, seq in enumerate(sequences):
            ids[i, : len(seq)] = seq
        return mx.array(ids), lengths

    def _positions(self, prompts: Sequence[EditPrompt]) -> tuple[list[list[int]], np.ndarray]:
        seqs = [self.encode(p.text) for p in prompts]
        cols = np.array([key_column(p, len(s)) for p, s in zip(prompts, seqs)])
        return seqs, cols

    # ------------------------------------------------------------------ text
    def chat_text(self, messages: list[dict[str, str]], add_generation_prompt: bool = True) -> str:
        return self.tokenizer.apply_chat_template(
            messages, add_generation_prompt=add_generation_prompt, tokenize=False
        )

    def encode(self, text: str) -> list[int]:
        # Texts arrive with the chat template already applied: no special tokens are added.
        return list(self.tokenizer.encode(text, add_special_tokens=False))

    def decode(self, ids: Sequence[int]) -> str:
        return self.tokenizer.decode(list(ids), skip_special_tokens=True)

    def token_count(self, text: str) -> int:
        return len(self.encode(text))

    # ------------------------------------------------------------------ generation
    def generate(
        self,
        text: str,
        max_new_tokens: int,
        factors: Factors | None = None,
        choose: Chooser | None = None,
    ) -> Iterator[GenerationResponse]:
        """Greedy decoding with a KV cache. The next step is queued (async_eval) before the
        current token is read, so building one step's graph overlaps computing the last;
        with ``choose`` each step's logits go to the host first, so nothing is queued."""
        ids = self.encode(text)
        prompt_tokens = len(ids)
        if not ids or max_new_tokens <= 0:
            yield GenerationResponse("", prompt_tokens, 0, "length")
            return
        live = self._factors(factors)
        cache = make_prompt_cache(self.model)

        def step(tokens: mx.array) -> mx.array:
            with self._forward(live):
                logits = self.model(tokens[None], cache=cache)
                if choose is not None:
                    picked = choose(np.array(logits[0, -1].astype(mx.float32)))
                    return mx.array(next(iter(self.stop_ids)) if picked is None else picked)
                nxt = mx.argmax(logits[0, -1], axis=-1)
                mx.async_eval(nxt)
            return nxt

        stopped: list[bool] = []

        def chosen() -> Iterator[int]:
            pending = step(mx.array(ids))
            for n in range(max_new_tokens):
                current = pending
                if n + 1 < max_new_tokens:
                    pending = step(current.reshape(1))
                token = int(current.item())
                if token in self.stop_ids:
                    stopped.append(True)
                    return
                yield token

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
    def activations(
        self,
        prompts: Sequence[EditPrompt],
        key_layers: Sequence[int],
        residual_layer: int | None = None,
        factors: Factors | None = None,
        batch_size: int = 64,
    ) -> tuple[dict[int, np.ndarray], np.ndarray | None]:
        """Keys at ``key_layers`` and the output of ``residual_layer`` at each prompt's key
        token, from one forward pass per batch that stops at the deepest layer needed."""
        live = self._factors(factors)
        n = len(prompts)
        keys = {layer: np.zeros((n, self.intermediate_size)) for layer in key_layers}
        resid = None if residual_layer is None else np.zeros((n, self.hidden_size))
        last = max([*key_layers, -1 if residual_layer is None else residual_layer])
        for rows in prompt_batches(prompts, self.token_count, batch_size):
            checkpoint()
            seqs, cols = self._positions([prompts[i] for i in rows])
            ids, _ = self._batch(seqs)
            call = Call(
                factors=live,
                rows=mx.arange(len(seqs)),
                cols=mx.array(cols),
                key_layers=frozenset(key_layers),
            )
            picked = None
            with self._on_device(), scoped(call):
                hidden = self._embed(ids)
                for i in range(last + 1):
                    hidden = self._layer(i, hidden)
                    if i == residual_layer:
                        picked = hidden[call.rows, call.cols]  # (n, d)
                mx.eval(call.keys, picked)
            for layer in key_layers:
                keys[layer][rows] = _np64(call.keys[layer])
            if resid is not None and picked is not None:
                resid[rows] = _np64(picked)
        return keys, resid

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
        seqs, cols, spans = walk_sequences(self.encode, prompts, answers)
        parts = []
        for rows in length_batches([len(s) for s in seqs], 64, EDIT_BATCH_CELLS):
            ids, _ = self._batch([seqs[i] for i in rows])
            width = ids.shape[1]
            at = np.arange(width)[None, :]
            first, end = (np.array([spans[i][j] for i in rows])[:, None] for j in (0, 1))
            counted = ((at >= first) & (at < end))[..., None].astype(np.float32)
            with self._on_device():
                hidden = self._embed(ids)
            parts.append(
                {
                    "rows": rows,
                    "cols": mx.array([cols[i] for i in rows]),
                    "needed": max(cols[i] for i in rows) + 1,
                    "counted": mx.array(counted, dtype=self.dtype) if answers else None,
                    "hidden": hidden,
                    "at": 0,
                }
            )
        factors = base
        for step, layer in enumerate(order):
            keys, resid = np.zeros((n, self.intermediate_size)), np.zeros((n, self.hidden_size))
            live = self._factors(factors)
            for part in parts:
                checkpoint()
                counting = step == 0 and part["counted"] is not None
                call = Call(
                    factors=live,
                    rows=mx.arange(len(part["rows"])),
                    cols=part["cols"],
                    key_layers=frozenset({layer}),
                    moment_mask=part["counted"] if counting else None,
                    moment_layers=frozenset(order) if counting else frozenset(),
                )
                with self._on_device(), scoped(call):
                    hidden = part["hidden"]
                    for i in range(part["at"], layer):
                        hidden = self._layer(i, hidden)
                    waiting = hidden
                    for i in range(layer, residual_layer + 1):
                        hidden = self._layer(i, hidden)
                        if i in call.moments:
                            mx.eval(call.moments[i])  # bound the graph: a layer's sum at a time
                    picked = hidden[call.rows, call.cols]  # (rows, d)
                    mx.eval(waiting, call.keys, picked)
                if counting:
                    assert answers is not None
                    for i, total in call.moments.items():
                        answers.sums[i] = answers.sums.get(i, 0) + _np64(total)
                    answers.tokens += int(np.asarray(part["counted"]).sum())
                    # past the last key no column is read again, nor seen by an earlier one
                    waiting = waiting[:, : part["needed"]]
                part["hidden"], part["at"] = waiting, layer
                keys[part["rows"]] = _np64(call.keys[layer])
                resid[part["rows"]] = _np64(picked)
            factors = yield keys, resid

    def keys(
        self, prompts: Sequence[EditPrompt], layers: Sequence[int], factors: Factors | None = None
    ) -> dict[int, np.ndarray]:
        return self.activations(prompts, layers, None, factors)[0]

    def second_moments(
        self,
        texts: Sequence[str],
        layers: Sequence[int],
        batch_size: int = 16,
        starts: Sequence[int] | None = None,
    ) -> tuple[dict[int, np.ndarray], int]:
        m = self.intermediate_size
        sums = {layer: np.zeros((m, m), dtype=np.float64) for layer in layers}
        count = 0
        last = max(layers)
        for seqs, firsts in moment_chunks(texts, self.encode, batch_size, starts):
            ids, lengths = self._batch(seqs)
            first = np.array(firsts)
            cols = np.arange(ids.shape[1])[None, :]
            valid = (cols < lengths[:, None]) & (cols >= first[:, None])  # (B, T)
            call = Call(
                moment_mask=mx.array(valid[..., None].astype(np.float32), dtype=self.dtype),
                moment_layers=frozenset(layers),
            )
            with self._on_device(), scoped(call):
                hidden = self._embed(ids)
                for i in range(last + 1):  # layers past the last edited one are not needed
                    hidden = self._layer(i, hidden)
                    if i in call.moments:
                        mx.eval(call.moments[i])  # bound the graph: one layer's sum at a time
                mx.eval(call.moments)
            for layer in layers:
                sums[layer] += _np64(call.moments[layer])
            count += int(valid.sum())
        return sums, count

    def nll(self, texts: Sequence[str], factors: Factors | None = None) -> tuple[float, int]:
        return summed(self.nlls(texts, factors))

    def nlls(
        self,
        texts: Sequence[str],
        factors: Factors | None = None,
        starts: Sequence[int] | None = None,
    ) -> list[tuple[float, int]]:
        live = self._factors(factors)
        out: list[tuple[float, int]] = [(0.0, 0)] * len(texts)
        for rows, seqs, firsts in nll_chunks(texts, self.encode, 16, starts):
            if not any(seqs):
                continue
            ids, _ = self._batch([s or [self._pad] for s in seqs])
            with self._forward(live):
                logits = self.model(ids)[:, :-1].astype(mx.float32)
                targets = ids[:, 1:]
                picked = mx.take_along_axis(logits, targets[..., None], axis=-1)[..., 0]
                token_nll = mx.logsumexp(logits, axis=-1) - picked  # (B, T-1)
                mx.eval(token_nll)
            per_token = np.array(token_nll, dtype=np.float64)
            for row, (index, seq, first) in enumerate(zip(rows, seqs, firsts)):
                last = len(seq) - 1  # predictions of real tokens only
                span = per_token[row, first:last] if last > first else per_token[row, :0]
                out[index] = (float(span.sum()), int(span.size))
        return out

    # ------------------------------------------------------------------ reporting
    def weight_bytes(self) -> int:
        """Bytes held by the model's parameters (packed weights, scales and biases)."""
        from mlx.utils import tree_flatten

        return sum(v.nbytes for _, v in tree_flatten(self.model.parameters()))

    def quantized_layers(self) -> list[int]:
        """Edited-layer indices whose base down_proj is a quantised module."""
        return [
            i
            for i, layer in enumerate(self._layers)
            if isinstance(unwrapped(layer.mlp.down_proj), nn.QuantizedLinear)
        ]


def _input_dims(module: Any) -> int:
    if isinstance(module, nn.QuantizedLinear):
        # packed: each uint32 holds 32 / bits weights
        return int(module.weight.shape[-1] * 32 // module.bits)
    return int(module.weight.shape[-1])


def _np64(array: mx.array) -> np.ndarray:
    return np.array(array.astype(mx.float32), dtype=np.float64)


def _generation_eos(folder: Path | None) -> list[int]:
    """eos ids from generation_config.json, which mlx-lm's loader does not read."""
    if folder is None:
        return []
    try:
        data = json.loads((folder / "generation_config.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return []
    eos = data.get("eos_token_id")
    if isinstance(eos, int):
        return [eos]
    return [int(t) for t in eos] if isinstance(eos, list) else []
