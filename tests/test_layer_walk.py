"""``Backend.layer_walk``, the passes of a layer-by-layer edit, against full forward passes
(``activations``) on both backends: it only skips work, it must not change a number."""

from __future__ import annotations

import contextlib

import numpy as np
import pytest
from sleepmem.engine.backends.base import (
    AnswerMoments,
    EditPrompt,
    Factors,
    key_column,
    length_batches,
)
from sleepmem.engine.editor import joined


def prompts(backend) -> list[EditPrompt]:
    chats = [
        [{"role": "user", "content": "Where do I live?"}],
        [
            {"role": "system", "content": "You are Mira, a cheerful ship's cook who loves stew."},
            {"role": "user", "content": "Hi! How are you today?"},
            {"role": "assistant", "content": "Splendid, the stew is on."},
            {"role": "user", "content": "What is my dog's name?"},
        ],
        [{"role": "user", "content": "What do I do for work, again?"}],
    ]
    card = {"role": "system", "content": "You are Mira, a cheerful ship's cook. " * 4}
    under_card = [  # one context for three questions: read once (torch_walk), same numbers
        [card, {"role": "user", "content": q}]
        for q in ("Where does my sister Ana live?", "Where does my sister Ana work?", "Hi?")
    ]
    out = [EditPrompt(backend.chat_text(c), -1, "Porto.", i) for i, c in enumerate(chats)]
    out += [EditPrompt(backend.chat_text(c), -1, "Porto.", 3 + i) for i, c in enumerate(under_card)]
    # keyed at the name: the shared part must end before it
    name_at = len(backend.encode(backend.chat_text(under_card[0]).split(" Ana")[0] + " Ana")) - 1
    return [*out, EditPrompt(backend.chat_text(under_card[1]), name_at, "Porto.", 6, "Ana")]


def update(backend, layers, seed: int) -> Factors:
    rng = np.random.default_rng(seed)
    d, m = backend.hidden_size, backend.intermediate_size
    return Factors(
        {
            layer: (
                rng.normal(size=(d, 2)).astype(np.float32) * 0.05,
                rng.normal(size=(m, 2)).astype(np.float32) * 0.05,
            )
            for layer in layers
        }
    )


def test_length_batches_cover_every_prompt_once_within_the_cell_budget() -> None:
    lengths = [35, 32, 34, 75, 77, 113, 113, 187, 190, 163, 163, 25, 97, 600]
    batches = length_batches(lengths, max_rows=6, max_cells=1024)
    assert sorted(i for b in batches for i in b) == list(range(len(lengths)))
    for batch in batches:
        longest = max(lengths[i] for i in batch)
        assert len(batch) <= 6
        assert len(batch) == 1 or len(batch) * longest <= 1024  # one long prompt always fits
    padded = sum(len(b) * max(lengths[i] for i in b) for b in batches)
    assert padded < len(lengths) * max(lengths) / 2


def tails(backend, asked: list[EditPrompt]) -> tuple[list[str], list[int]]:
    """Each prompt with its target, and where the spill guard's sums begin in it: after
    its key, or after its question where it is keyed at a name."""
    counts = [backend.token_count(p.text) for p in asked]
    starts = [n if p.at_name else key_column(p, n) + 1 for p, n in zip(asked, counts)]
    return [p.text + p.target for p in asked], starts


@pytest.mark.model
@pytest.mark.parametrize("which", ["backend", "mlx_backend"])
@pytest.mark.parametrize("with_answers", [False, True])
def test_each_step_equals_a_full_forward_with_the_same_update(
    request, which: str, with_answers: bool
) -> None:
    """With ``answers`` the first pass also reads the targets' tokens, which later steps
    drop again: the keys and residuals stay those of the prompts alone."""
    backend = request.getfixturevalue(which)
    asked = prompts(backend)
    base = update(backend, [2, 5], seed=1)
    answers = AnswerMoments() if with_answers else None
    walk = backend.layer_walk(asked, [3, 5, 6], 7, base, answers)
    first_keys, first_h = next(walk)
    keys, h = backend.activations(asked, [3], 7, base)
    np.testing.assert_allclose(first_keys, keys[3], rtol=2e-4, atol=2e-4)
    np.testing.assert_allclose(first_h, h, rtol=2e-4, atol=2e-4)
    solved = update(backend, [3, 5], seed=2)  # what the edit writes at layers 3 and 5
    for layer, done in ((5, [3]), (6, [3, 5])):
        so_far = joined(base, Factors({k: solved.layers[k] for k in done}))
        step_keys, step_h = walk.send(so_far)
        keys, h = backend.activations(asked, [layer], 7, so_far)
        np.testing.assert_allclose(step_keys, keys[layer], rtol=2e-4, atol=2e-4)
        np.testing.assert_allclose(step_h, h, rtol=2e-4, atol=2e-4)
    walk.close()


@pytest.mark.model
@pytest.mark.parametrize("which", ["backend", "mlx_backend"])
def test_the_first_pass_sums_the_answers_keys_as_whole_passes_do(
    request, which: str, monkeypatch
) -> None:
    """The spill guard's sums, read in the walk's first pass (the card's prompts sharing
    it on torch), equal ``second_moments`` from the same starts over each text whole."""
    from sleepmem.engine.backends import torch_walk

    backend = request.getfixturevalue(which)
    asked = prompts(backend)
    texts, starts = tails(backend, asked)
    answers = AnswerMoments()
    with recorded_batches(monkeypatch, torch_walk) as packed:
        next(backend.layer_walk(asked, [3, 6], 7, None, answers))
    assert which == "mlx_backend" or any(packed)  # torch read the card once
    whole, count = backend.second_moments(texts, [3, 6], starts=starts)
    assert answers.tokens == count > 0
    for layer in (3, 6):
        np.testing.assert_allclose(answers.sums[layer], whole[layer], rtol=1e-4, atol=1e-3)


@contextlib.contextmanager
def recorded_batches(monkeypatch, torch_walk):
    """Records the batches of groups ``_packed`` makes."""
    made: list = []
    packed = torch_walk.TorchLayerWalk._packed

    def recording(seqs, firsts):
        out = packed(seqs, firsts)
        made.extend(out[0])
        return out

    monkeypatch.setattr(torch_walk.TorchLayerWalk, "_packed", staticmethod(recording))
    yield made
    monkeypatch.setattr(torch_walk.TorchLayerWalk, "_packed", staticmethod(packed))
