"""What the editor needs from a model runtime, and nothing more.

The MEMIT/AlphaEdit math (``engine/editor.py``) is written once against this protocol; the
torch and mlx backends supply model access. Arrays crossing the boundary are numpy, so
the solves run in float64 whatever the runtime.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Generator, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np

from ..priority import checkpoint


@dataclass(frozen=True)
class Factors:
    """A low-rank update per edited layer: delta W_l = R_l @ A_l.T.

    R_l is (d, r): residual-stream directions; A_l is (m, r): down_proj-input directions.
    The model computes down_proj(x) + (x @ A_l) @ R_l.T, which is exact for any base dtype
    (including 4-bit bases, where folding the update into the weights would erase it).
    """

    layers: dict[int, tuple[np.ndarray, np.ndarray]] = field(default_factory=dict)
    # Per layer, the sum of k k^T over the keys the update was written through, where known:
    # an adapter cut to a lower rank keeps what those keys read (``exports.lowrank``).
    grams: dict[int, np.ndarray] | None = field(default=None, compare=False, repr=False)

    def __bool__(self) -> bool:
        return any(r.shape[1] for r, _ in self.layers.values())


@dataclass(frozen=True)
class EditPrompt:
    """One prompt the editor reads keys from and optimises the target value on.

    text: the full model input up to (not including) the answer, template applied.
    key_index: token index whose down_proj input is the key (negative counts from the end).
    target: the answer text the model must produce after ``text``.
    group: which fact (index into the batch) this prompt belongs to.
    at_name: the name the prompt is keyed at ("Maya" in "Where does Maya live?"), not at
    its question's end (``editor.name_keys``); the spill guard then protects the answer's
    tokens only, and facts about one name share a target value (``engine.subjects``).
    Empty: keyed at the question's end.
    """

    text: str
    key_index: int
    target: str
    group: int
    at_name: str = ""


@dataclass
class AnswerMoments:
    """What ``layer_walk``'s first pass may add up beside the keys: each prompt is read
    with its target after it, and the sums of k k^T at every edited layer over each one's
    tokens after its key (the turn change, then the answer teacher-forced; after its whole
    question where it is keyed at a name, whose tokens carry the edit on and so are its to
    change) are left in ``sums`` (layer -> (m, m) float64), their count in ``tokens``.
    These are the spill guard's sums (``editor.spill_guard``), read under the weights the
    walk starts from and in the pass that reads the first keys anyway: a separate pass
    cost 5 of a 30-fact re-solve's 22 s (measured). After that pass the targets' tokens
    are dropped again."""

    sums: dict[int, np.ndarray] = field(default_factory=dict)
    tokens: int = 0


def nll_chunks(
    texts: Sequence[str],
    encode: Callable[[str], list[int]],
    batch_size: int,
    starts: Sequence[int] | None,
) -> Iterator[tuple[list[int], list[list[int]], list[int]]]:
    """``nlls``' batches, for every backend alike: which texts (indices), their token ids,
    and per text the index of its first prediction counted (the one of token ``starts[i]``,
    else of the second token). Texts of similar length are batched together, so few cells
    are padding. Checks for an interrupt before each batch."""
    seqs = [encode(text) for text in texts]
    order = sorted(range(len(texts)), key=lambda i: len(seqs[i]))
    for begin in range(0, len(order), batch_size):
        checkpoint()
        chunk = order[begin : begin + batch_size]
        firsts = [max((starts[i] if starts is not None else 1) - 1, 0) for i in chunk]
        yield chunk, [seqs[i] for i in chunk], firsts


def summed(each: Sequence[tuple[float, int]]) -> tuple[float, int]:
    """``nlls``' per-text figures as one: the NLL and the token count over all texts."""
    return sum(n for n, _ in each), sum(c for _, c in each)


def key_column(prompt: EditPrompt, n_tokens: int) -> int:
    """The token index of ``prompt``'s key in its text of ``n_tokens`` tokens (a negative
    ``key_index`` counts from the end); ValueError when it lies outside the text."""
    col = prompt.key_index if prompt.key_index >= 0 else n_tokens + prompt.key_index
    if not 0 <= col < n_tokens:
        raise ValueError("an edit prompt's key index lies outside its text")
    return col


def walk_sequences(
    encode: Callable[[str], list[int]],
    prompts: Sequence[EditPrompt],
    answers: AnswerMoments | None,
) -> tuple[list[list[int]], list[int], list[tuple[int, int]]]:
    """The tokens ``layer_walk`` reads per prompt, each one's key column, and the span
    [first, end) of its tokens counted in ``answers``' sums (empty without it). A prompt
    whose text and target merge into other tokens at the seam is read alone and counts
    nothing, since its key would no longer be the token it was chosen as."""
    seqs: list[list[int]] = []
    cols: list[int] = []
    spans: list[tuple[int, int]] = []
    for prompt in prompts:
        head = encode(prompt.text)
        col = key_column(prompt, len(head))
        cols.append(col)
        seq, span = head, (0, 0)
        if answers is not None:
            whole = encode(prompt.text + prompt.target)
            if whole[: len(head)] == head:
                seq, span = whole, (len(head) if prompt.at_name else col + 1, len(whole))
        seqs.append(seq)
        spans.append(span)
    return seqs, cols, spans


MOMENT_TOKENS = 512  # tokens of each text a second-moment sum reads


def moment_chunks(
    texts: Sequence[str],
    encode: Callable[[str], list[int]],
    batch_size: int,
    starts: Sequence[int] | None,
) -> Iterator[tuple[list[list[int]], list[int]]]:
    """``second_moments``' batches, for every backend alike: the token ids of up to
    ``batch_size`` texts (each cut to ``MOMENT_TOKENS``) and the first token counted in
    each (``starts``, else 0); texts with no token left to count are skipped. Checks for
    an interrupt before each batch."""
    for begin in range(0, len(texts), batch_size):
        checkpoint()
        chunk = range(begin, min(begin + batch_size, len(texts)))
        seqs = [encode(texts[i])[:MOMENT_TOKENS] for i in chunk]
        firsts = [0 if starts is None else starts[i] for i in chunk]
        kept = [(seq, first) for seq, first in zip(seqs, firsts) if len(seq) > first]
        if kept:
            yield [seq for seq, _ in kept], [first for _, first in kept]


@dataclass(frozen=True)
class GenerationResponse:
    """One step of a streamed reply, as mlx-lm's ``stream_generate`` yields them: the new
    text and the figures an OpenAI ``usage`` block and finish reason need, counted from the
    tokens themselves rather than by re-tokenising.

    A generation yields one response per piece of text (``finish_reason`` None), then one
    last response with empty ``text`` and the finish reason ("stop": the model emitted an
    end-of-turn token; "length": it reached the token limit).
    """

    text: str
    prompt_tokens: int
    completion_tokens: int
    """Tokens generated so far (the whole reply's count on the last response)."""
    finish_reason: str | None = None


def stacked_factors(
    rows: Sequence[Factors | None], m: int, d: int
) -> dict[int, tuple[np.ndarray, np.ndarray]]:
    """Several users' factors for one batched forward, a user per row: per layer any row
    edits, A (rows, m, r) and R^T (rows, r, d), float32, zero columns where a row's rank is
    smaller or its user has no edit at that layer (adding nothing)."""
    users = [f for f in rows if f]
    layers = sorted({layer for f in users for layer, (r, _) in f.layers.items() if r.shape[1]})
    out: dict[int, tuple[np.ndarray, np.ndarray]] = {}
    for layer in layers:
        rank = max(f.layers[layer][0].shape[1] for f in users if layer in f.layers)
        a = np.zeros((len(rows), m, rank), dtype=np.float32)
        rt = np.zeros((len(rows), rank, d), dtype=np.float32)
        for i, f in enumerate(rows):
            if f and layer in f.layers:
                r_i, a_i = f.layers[layer]
                a[i, :, : a_i.shape[1]] = a_i
                rt[i, : r_i.shape[1]] = r_i.T
        out[layer] = (a, rt)
    return out


EDIT_BATCH_CELLS = 1024  # rows x longest sequence per batch of edit prompts


def prompt_batches(
    prompts: Sequence[EditPrompt], count: Callable[[str], int], max_rows: int = 64
) -> list[list[int]]:
    """Indices of edit ``prompts`` in batches of similar length (``length_batches``);
    ``count`` gives a text's token count."""
    return length_batches([count(p.text) for p in prompts], max_rows, EDIT_BATCH_CELLS)


def length_batches(lengths: Sequence[int], max_rows: int, max_cells: int) -> list[list[int]]:
    """Indices of sequences in batches of similar length, shortest first.

    Edit prompts range from a bare question (~30 tokens) to one under a persona card (~200):
    padded side by side in one batch, half of the computed cells were padding (measured on
    one fact's 13 prompts: 2470 cells for 1300 tokens). A batch here grows while its rows
    times its longest sequence stay within ``max_cells`` (one long sequence always fits).
    """
    order = sorted(range(len(lengths)), key=lambda i: lengths[i])
    batches: list[list[int]] = []
    for i in order:
        current = batches[-1] if batches else None
        if current and len(current) < max_rows and (len(current) + 1) * lengths[i] <= max_cells:
            current.append(i)
        else:
            batches.append([i])
    return batches


def token_pieces(
    tokens: Iterable[int], decode: Callable[[list[int]], str], prompt_tokens: int
) -> Generator[GenerationResponse, None, int]:
    """The text of generated ``tokens`` as responses, one per new piece (a piece that ends
    in a partial UTF-8 character waits for the rest); returns how many tokens there were."""
    produced: list[int] = []
    emitted = ""
    for token in tokens:
        produced.append(token)
        decoded = decode(produced)
        if not decoded.endswith("\ufffd") and len(decoded) > len(emitted):
            yield GenerationResponse(decoded[len(emitted) :], prompt_tokens, len(produced))
            emitted = decoded
    return len(produced)


def text_of(responses: Iterable[GenerationResponse]) -> str:
    """The whole text of a generation."""
    return "".join(r.text for r in responses)


def whole(responses: Iterable[GenerationResponse]) -> GenerationResponse:
    """A generation as one response: all its text, with the last response's counts and
    finish reason ("length" and no tokens if it yielded nothing)."""
    parts: list[str] = []
    last = GenerationResponse("", 0, 0, "length")
    for response in responses:
        parts.append(response.text)
        last = response
    return dataclasses.replace(last, text="".join(parts))


Chooser = Callable[[np.ndarray], "int | None"]
"""Picks the next token from one step's logits (float32, vocabulary-sized), or None to end
the reply: how constrained decoding (``engine/constrained.py``) steers ``generate``."""


class Backend(Protocol):
    """Model access for the engine. Implementations: torch_backend, mlx_backend."""

    name: str
    model_id: str
    n_layers: int
    hidden_size: int  # d
    intermediate_size: int  # m
    context_length: int | None  # tokens the model was trained to read; None = unknown
    stop_ids: set[int]  # tokens that end a reply

    def chat_text(self, messages: list[dict[str, str]], add_generation_prompt: bool = True) -> str:
        """The chat template applied to messages, as text."""

    def token_count(self, text: str) -> int:
        """Number of tokens ``text`` encodes to (special tokens included as the model sees them)."""

    def encode(self, text: str) -> list[int]:
        """Token ids of ``text`` as the model reads it (no special tokens added)."""

    def decode(self, ids: Sequence[int]) -> str:
        """The text of token ids, special tokens left out."""

    def generate(
        self,
        text: str,
        max_new_tokens: int,
        factors: Factors | None = None,
        choose: Chooser | None = None,
    ) -> Iterator[GenerationResponse]:
        """Greedy continuation of ``text`` with ``factors`` active, one response per piece
        of text and a last one with the finish reason (see ``GenerationResponse``).
        ``choose``, when given, picks each token from the step's logits instead of argmax
        (None ends the reply with finish reason "stop")."""

    def generate_batch(
        self,
        texts: Sequence[str],
        max_new_tokens: int,
        factors: Factors | None = None,
        stop_at: Sequence[str] | None = None,
    ) -> list[str]:
        """Greedy replies to every text with one set of ``factors`` (audits, benchmarks).
        A reply may end once it holds ``stop_at[i]`` (case-folded) where given: whoever
        asks only wants to know whether it does (``greedy.greedy_batch``)."""

    def rows(self) -> Any:
        """An empty ``batching.Rows``: replies of several users decoded in one batch.
        Optional: the engine generates each reply on its own thread without it."""

    def second_moments(
        self,
        texts: Sequence[str],
        layers: Sequence[int],
        batch_size: int = 16,
        starts: Sequence[int] | None = None,
    ) -> tuple[dict[int, np.ndarray], int]:
        """Sum of k k^T of down_proj inputs per layer over the tokens of ``texts`` (from
        token ``starts[i]`` of text i on, when given), and the token count."""

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

    def layer_walk(
        self,
        prompts: Sequence[EditPrompt],
        layers: Sequence[int],
        residual_layer: int,
        base: Factors | None = None,
        answers: AnswerMoments | None = None,
    ) -> Generator[tuple[np.ndarray, np.ndarray], Factors | None, None]:
        """The passes of a layer-by-layer edit, each from where the last one changed.

        The first ``next`` gives, with ``base`` applied, the keys at the lowest layer of
        ``layers`` ((n, m)) and the output of ``residual_layer`` ((n, d)) at each prompt's
        key token, and fills ``answers`` (``AnswerMoments``) if given. Each
        ``send(factors)`` (the update so far: ``base`` and the layers solved up to the
        previous one) gives the same for the next layer of ``layers``. The result equals
        ``activations`` with those factors, but a step re-runs only the layers from the one
        last solved upwards: the hidden states below it cannot have changed."""

    def keys(
        self, prompts: Sequence[EditPrompt], layers: Sequence[int], factors: Factors | None = None
    ) -> dict[int, np.ndarray]:
        """``activations`` without the residual."""

    def value_problem(
        self,
        prompts: Sequence[EditPrompt],
        layer: int,
        n_groups: int,
        factors: Factors | None = None,
        precision: str = "float32",
    ) -> ValueProblem:
        """The v* problem of ``prompts``: one delta per group, added to layer ``layer``'s
        output at the key token of each of the group's prompts, scored by how well the
        model then produces the prompts' targets (``engine/vstar.py`` solves it).
        ``precision`` (``editor.v_precision``) is the dtype the layers above ``layer`` run
        in; a backend may keep its model's own where it has no faster one."""

    def weight_bytes(self) -> int:
        """Bytes held by the model's weights (packed ones count as packed)."""

    def nll(self, texts: Sequence[str], factors: Factors | None = None) -> tuple[float, int]:
        """Summed negative log-likelihood of texts and the number of predicted tokens
        (``summed`` of ``nlls``)."""

    def nlls(
        self,
        texts: Sequence[str],
        factors: Factors | None = None,
        starts: Sequence[int] | None = None,
    ) -> list[tuple[float, int]]:
        """Per text, the summed negative log-likelihood of its tokens from index
        ``starts[i]`` on (default 1: every token but the first, which nothing predicts) and
        how many those are; texts are run in batches."""


@dataclass(frozen=True)
class VStarSettings:
    """Optimisation settings for target values (see EditorConfig for meanings)."""

    lr: float
    steps: int
    loss_stop: float
    clamp_factor: float
    weight_decay: float
    precision: str = "float32"  # the upper layers' dtype while optimising (editor.v_precision)


@dataclass(frozen=True)
class ValueProblem:
    """One batched v* problem as a backend sets it up, its frozen prefix computed once;
    the optimisation loop that solves it is the editor's (``engine/vstar.py``).

    h0_norm: (groups,) mean norm of each fact's unedited hidden states at its keys.
    loss_and_grad(delta (groups, d), active (groups,) bool) -> (each active fact's mean
    answer NLL (groups,), the gradient of their sum with respect to delta (groups, d)),
    delta added at every key token. Only the active facts' prompts are run; the others'
    entries are zero. Facts never share a prompt row, so a fact's loss does not depend on
    which others are active.
    """

    h0_norm: np.ndarray
    loss_and_grad: Callable[[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]


def active_rows(prompt_groups: np.ndarray, active: np.ndarray) -> np.ndarray:
    """Indices of the prompt rows whose fact is active."""
    return np.flatnonzero(active[prompt_groups])


def narrowed_targets(layout: TargetTokens, rows: np.ndarray) -> TargetTokens:
    """``layout``'s target entries of prompt ``rows`` only, renumbered to those rows."""
    new_index = np.full(len(layout.sequences), -1)
    new_index[rows] = np.arange(len(rows))
    keep = [i for i, r in enumerate(layout.rows) if new_index[r] >= 0]
    return dataclasses.replace(
        layout,
        rows=[int(new_index[layout.rows[i]]) for i in keep],
        cols=[layout.cols[i] for i in keep],
        ids=[layout.ids[i] for i in keep],
        groups=[layout.groups[i] for i in keep],
    )


@dataclass(frozen=True)
class TargetTokens:
    """A v* batch laid out so that every prompt's key token sits in one column, ``key_col``.

    Row ``p`` holds prompt ``p``'s tokens followed by its target's, shifted right by
    ``offsets[p]`` pad tokens; ``valid`` marks real tokens. The logits at column ``cols[i]``
    of row ``rows[i]`` must predict ``ids[i]``, a token of group ``groups[i]``'s answer.

    Why left-align at the key: the delta only changes tokens from the key on, so every
    column before ``key_col`` is computed once and each optimisation step runs just the few
    template and answer tokens after it, however long the conversation before the question.
    Positions stay plain column indices: rotary attention depends only on the distance
    between tokens, so a row shifted right by pads (masked out) computes what it would alone.
    """

    sequences: list[list[int]]  # padded to one width
    valid: np.ndarray  # (B, width) bool
    key_col: int
    offsets: list[int]
    rows: list[int]
    cols: list[int]
    ids: list[int]
    groups: list[int]


def target_tokens(
    prompts: Sequence[EditPrompt],
    prompt_ids: Sequence[list[int]],
    encode: Callable[[str], list[int]],
    pad_id: int,
) -> TargetTokens:
    """Lay out the targets of ``prompts`` (token ids ``prompt_ids``) for one batched v* run."""
    cols = [
        p.key_index if p.key_index >= 0 else len(ids) + p.key_index
        for p, ids in zip(prompts, prompt_ids)
    ]
    if any(not 0 <= c < len(ids) for c, ids in zip(cols, prompt_ids)):
        raise ValueError("an edit prompt's key index lies outside its text")
    key_col = max(cols)
    offsets = [key_col - c for c in cols]
    rows_ids = [list(ids) + encode(p.target) for p, ids in zip(prompts, prompt_ids)]
    width = max(o + len(r) for o, r in zip(offsets, rows_ids))
    valid = np.zeros((len(prompts), width), dtype=bool)
    out = TargetTokens([], valid, key_col, offsets, [], [], [], [])
    for row, (prompt, ids, seq, off) in enumerate(zip(prompts, prompt_ids, rows_ids, offsets)):
        out.sequences.append([pad_id] * off + seq + [pad_id] * (width - off - len(seq)))
        valid[row, off : off + len(seq)] = True
        for j in range(len(seq) - len(ids)):
            out.rows.append(row)
            out.cols.append(off + len(ids) + j - 1)  # logits at t predict token t + 1
            out.ids.append(seq[len(ids) + j])
            out.groups.append(prompt.group)
    if not out.ids:
        raise ValueError("the edit prompts have no target tokens")
    return out


def attention_allowed(valid: np.ndarray, start: int) -> np.ndarray:
    """(B, width - start, width) bool: query column ``start + i`` may attend to column j.

    Causal, pads hidden; a pad still sees itself so that no row of the softmax is empty
    (an empty row is NaN, and NaN times a zero weight still spreads)."""
    width = valid.shape[1]
    q = np.arange(start, width)[:, None]
    k = np.arange(width)[None, :]
    causal = k <= q  # (q, width)
    return causal[None] & (valid[:, None, :] | (k == q)[None])
