"""Greedy replies to many prompts decoded as rows (engine/backends/greedy.py): prompts that
begin alike are read once for the group, and every reply must be exactly the reply its
prompt gets alone, on both backends."""

from __future__ import annotations

import numpy as np
import pytest
from sleepmem.engine.backends.base import Factors, text_of
from sleepmem.engine.backends.greedy import greedy_batch
from sleepmem.engine.backends.prefixes import MIN_SHARED, shared_groups

PERSONA = (
    "You are Captain Mirela Osei, a retired sea captain who runs a lighthouse café on a "
    "windy island. You speak warmly, tell short stories about storms and ships, and always "
    "offer the guest a cup of something hot. Never break character."
)
SMALL_TALK = [
    {"role": "user", "content": "hey, how's it going?"},
    {"role": "assistant", "content": "Doing well, thanks! What's on your mind today?"},
]
QUESTIONS = ["Where do I live?", "What is the capital of France?", "what's my job again?"]


def conversations() -> list[list[dict[str, str]]]:
    """Each question bare, under a persona, after small talk, and under both."""
    out = []
    for q in QUESTIONS:
        ask = {"role": "user", "content": q}
        out += [
            [ask],
            [{"role": "system", "content": PERSONA}, ask],
            [*SMALL_TALK, ask],
            [{"role": "system", "content": PERSONA}, *SMALL_TALK, ask],
        ]
    return out


def test_prompts_that_begin_alike_are_one_group() -> None:
    card = list(range(100, 160))
    seqs = [[*card, 1, 2], [*card, 3], [*card, 4, 5, 6], [7, 8], [*card[:20], 9, 9]]
    groups = {tuple(members): shared for shared, members in shared_groups(seqs)}
    assert groups[(0, 1, 2)] == len(card)  # the card is read once for the three
    assert groups[(3,)] == 0  # alone: nothing to share
    # it shares 20 tokens with the card, but would shrink the group's 60: its own group
    assert groups[(4,)] == 0


def test_a_group_leaves_each_prompt_a_token_of_its_own() -> None:
    same = list(range(40))
    for shared, members in shared_groups([same, same, [*same, 1]]):
        assert shared >= MIN_SHARED
        assert all(shared < len([same, same, [*same, 1]][i]) for i in members)


@pytest.fixture(params=["backend", "mlx_backend"], scope="module")
def model(request):
    return request.getfixturevalue(request.param)


@pytest.fixture(scope="module")
def factors(model) -> Factors:
    """A made-up edit strong enough to change replies (a real edit is the same shape)."""
    rng = np.random.default_rng(7)
    return Factors(
        {
            layer: (
                (rng.normal(size=(model.hidden_size, 6)) * 0.3).astype(np.float32),
                (rng.normal(size=(model.intermediate_size, 6)) * 0.3).astype(np.float32),
            )
            for layer in (4, 6)
        }
    )


@pytest.mark.parametrize("edited", [False, True])
def test_batched_replies_are_the_replies_alone(model, factors, edited) -> None:
    f = factors if edited else None
    texts = [model.chat_text(c) for c in conversations()]
    alone = [text_of(model.generate(t, 20, f)) for t in texts]
    # rows=5 splits the groups across batches as a long audit does
    assert greedy_batch(model, texts, 20, f, rows=5) == alone
    assert model.generate_batch(texts, 20, f) == alone


def test_a_reply_stops_once_it_holds_what_was_asked_for(model) -> None:
    texts = [model.chat_text(c) for c in conversations()]
    full = model.generate_batch(texts, 24)
    words = [reply.split()[1] if len(reply.split()) > 2 else "" for reply in full]
    cut = model.generate_batch(texts, 24, stop_at=words)
    for whole, short, word in zip(full, cut, words):
        assert whole.startswith(short)
        if word:
            assert word.casefold() in short.casefold()
            assert len(short) < len(whole)
        else:
            assert short == whole
