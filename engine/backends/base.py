"""What the editor needs from a model runtime, and nothing more.

The MEMIT/AlphaEdit math (``engine/editor.py``) is written once against this protocol; the
torch and mlx backends supply model access. Arrays crossing the boundary are numpy, so
the solves run in float64 whatever the runtime.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Protocol

import numpy as np


@dataclass(frozen=True)
class Factors:
    """A low-rank update per edited layer: delta W_l = R_l @ A_l.T.

    R_l is (d, r): residual-stream directions; A_l is (m, r): down_proj-input directions.
    The model computes down_proj(x) + (x @ A_l) @ R_l.T, which is exact for any base dtype
    (including 4-bit bases, where folding the update into the weights would erase it).
    """

    layers: dict[int, tuple[np.ndarray, np.ndarray]] = field(default_factory=dict)

    @staticmethod
    def concat(parts: Sequence[Factors]) -> Factors:
        """Sum of updates = concatenation of their factors along the rank axis."""
        merged: dict[int, list[tuple[np.ndarray, np.ndarray]]] = {}
        for part in parts:
            for layer, pair in part.layers.items():
                merged.setdefault(layer, []).append(pair)
        return Factors(
            {
                layer: (
                    np.concatenate([r for r, _ in pairs], axis=1),
                    np.concatenate([a for _, a in pairs], axis=1),
                )
                for layer, pairs in merged.items()
            }
        )

    def __bool__(self) -> bool:
        return any(r.shape[1] for r, _ in self.layers.values())


@dataclass(frozen=True)
class EditPrompt:
    """One prompt the editor reads keys from and optimises the target value on.

    text: the full model input up to (not including) the answer, template applied.
    key_index: token index whose down_proj input is the key (negative counts from the end).
    target: the answer text the model must produce after ``text``.
    group: which fact (index into the batch) this prompt belongs to.
    """

    text: str
    key_index: int
    target: str
    group: int


@dataclass
class GenerationStats:
    """Filled in by ``generate`` while it runs: the figures an OpenAI ``usage`` block and
    finish reason need, counted from the tokens themselves rather than by re-tokenising."""

    prompt_tokens: int = 0
    completion_tokens: int = 0
    finish_reason: str = "length"  # "stop" once the model emits an end-of-turn token


class Backend(Protocol):
    """Model access for the engine. Implementations: torch_backend, mlx_backend."""

    name: str
    model_id: str
    n_layers: int
    hidden_size: int  # d
    intermediate_size: int  # m

    def chat_text(self, messages: list[dict[str, str]], add_generation_prompt: bool = True) -> str:
        """The chat template applied to messages, as text."""

    def token_count(self, text: str) -> int:
        """Number of tokens ``text`` encodes to (special tokens included as the model sees them)."""

    def generate(
        self,
        text: str,
        max_new_tokens: int,
        factors: Factors | None = None,
        stats: GenerationStats | None = None,
    ) -> Iterator[str]:
        """Greedy continuation of ``text``, yielded piece by piece, with ``factors`` active;
        token counts and the finish reason go into ``stats`` as they happen."""

    def second_moments(
        self, texts: Sequence[str], layers: Sequence[int], batch_size: int = 16
    ) -> tuple[dict[int, np.ndarray], int]:
        """Sum of k k^T of down_proj inputs per layer over all tokens, and the token count."""

    def activations(
        self,
        prompts: Sequence[EditPrompt],
        key_layers: Sequence[int],
        residual_layer: int | None = None,
        factors: Factors | None = None,
    ) -> tuple[dict[int, np.ndarray], np.ndarray | None]:
        """One forward pass: down_proj inputs at the key token per layer in ``key_layers``
        ((n, m) each) and, if asked, the output of decoder layer ``residual_layer`` there
        ((n, d))."""

    def keys(
        self, prompts: Sequence[EditPrompt], layers: Sequence[int], factors: Factors | None = None
    ) -> dict[int, np.ndarray]:
        """``activations`` without the residual."""

    def optimise_values(
        self,
        prompts: Sequence[EditPrompt],
        layer: int,
        n_groups: int,
        settings: VStarSettings,
        factors: Factors | None = None,
    ) -> tuple[np.ndarray, list[float]]:
        """Per group, a delta (n_groups, d) that, added to layer ``layer``'s output at the
        key token of each of the group's prompts, makes the model produce the targets.
        Returns the deltas and the final loss per group."""

    def weight_bytes(self) -> int:
        """Bytes held by the model's weights (packed ones count as packed)."""

    def nll(self, texts: Sequence[str], factors: Factors | None = None) -> tuple[float, int]:
        """Summed negative log-likelihood of texts and the number of predicted tokens."""


@dataclass(frozen=True)
class VStarSettings:
    """Optimisation settings for target values (see EditorConfig for meanings)."""

    lr: float
    steps: int
    loss_stop: float
    clamp_factor: float
    weight_decay: float


@dataclass(frozen=True)
class TargetTokens:
    """Where each target token of a v* batch sits: row ``p`` is prompt ``p``'s tokens
    followed by its target's, and the logits at ``cols[i]`` of row ``rows[i]`` must predict
    ``ids[i]``, a token of group ``groups[i]``'s answer."""

    sequences: list[list[int]]
    rows: list[int]
    cols: list[int]
    ids: list[int]
    groups: list[int]


def target_tokens(
    prompts: Sequence[EditPrompt],
    prompt_ids: Sequence[list[int]],
    encode: Callable[[str], list[int]],
) -> TargetTokens:
    """Lay out the targets of ``prompts`` (token ids ``prompt_ids``) for one batched v* run."""
    out = TargetTokens([], [], [], [], [])
    for row, (prompt, ids) in enumerate(zip(prompts, prompt_ids)):
        target = encode(prompt.target)
        out.sequences.append(list(ids) + target)
        for j, token in enumerate(target):
            out.rows.append(row)
            out.cols.append(len(ids) + j - 1)  # logits at t predict token t + 1
            out.ids.append(token)
            out.groups.append(prompt.group)
    if not out.ids:
        raise ValueError("the edit prompts have no target tokens")
    return out
