"""Replies of different users decoded in one batch (engine/batching.py), on the real model.

Each batched reply must be exactly the reply its user would get alone: same tokens under
that user's factors, whoever else shares the batch, whenever rows join or leave.
"""

from __future__ import annotations

import threading
import time

import numpy as np
import pytest
from sleepmem.engine.backends.base import Factors, text_of
from sleepmem.engine.batching import Batcher
from sleepmem.engine.errors import SleepmemError
from sleepmem.engine.facts import explicit

QUESTIONS = [
    "What is the capital of France?",
    "Tell me a short joke about cats.",
    "Where do I live?",
    "Name three colours.",
    "What should I cook tonight?",
]
TOKENS = 24


@pytest.fixture(params=["backend", "mlx_backend"], scope="module")
def model(request):
    return request.getfixturevalue(request.param)


def random_factors(model, seed: int, rank: int, layers: list[int]) -> Factors:
    """A made-up user edit strong enough to change replies (a real edit is the same shape)."""
    rng = np.random.default_rng(seed)
    return Factors(
        {
            layer: (
                (rng.normal(size=(model.hidden_size, rank)) * 0.3).astype(np.float32),
                (rng.normal(size=(model.intermediate_size, rank)) * 0.3).astype(np.float32),
            )
            for layer in layers
        }
    )


@pytest.fixture(scope="module")
def users(model):
    """Five users: no edit, and four edits of different ranks and layers."""
    return [
        None,
        random_factors(model, 1, 5, [4, 5]),
        random_factors(model, 2, 9, [5, 6, 7]),
        random_factors(model, 3, 3, [4]),
        random_factors(model, 4, 12, [3, 8]),
    ]


@pytest.fixture(scope="module")
def alone(model, users):
    """Each user's reply to their question with nobody else decoding."""
    return [text_of(model.generate(prompt(model, q), TOKENS, f)) for q, f in zip(QUESTIONS, users)]


def prompt(model, question: str) -> str:
    return model.chat_text([{"role": "user", "content": question}])


def ask_together(batcher: Batcher, model, users, stagger: float = 0.0) -> list[str | None]:
    """Every user asks at once (or ``stagger`` seconds apart), each from their own thread."""
    out: list[str | None] = [None] * len(users)

    def ask(i: int) -> None:
        time.sleep(stagger * i)
        ids = model.encode(prompt(model, QUESTIONS[i]))
        out[i] = text_of(batcher.generate(ids, TOKENS, users[i]))

    threads = [threading.Thread(target=ask, args=(i,)) for i in range(len(users))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return out


def test_the_edits_change_the_replies(model, users, alone):
    """Otherwise the tests below could not tell whose factors a row got."""
    for question, reply in zip(QUESTIONS[1:], alone[1:]):
        assert text_of(model.generate(prompt(model, question), TOKENS)) != reply


@pytest.mark.parametrize("stagger", [0.0, 0.15])
def test_each_row_gets_only_its_own_users_edits(model, users, alone, stagger):
    """All at once, and joining one by one while the others decode."""
    batcher = Batcher(model.rows, model.decode, model.stop_ids, max_rows=8)
    try:
        assert ask_together(batcher, model, users, stagger) == alone
        assert batcher.widest >= 2  # they did decode together
    finally:
        batcher.close()


def test_more_users_than_rows_wait_their_turn(model, users, alone):
    batcher = Batcher(model.rows, model.decode, model.stop_ids, max_rows=2)
    try:
        assert ask_together(batcher, model, users) == alone
        assert batcher.widest == 2
    finally:
        batcher.close()


def test_an_abandoned_reply_leaves_and_the_others_go_on(model, users, alone):
    batcher = Batcher(model.rows, model.decode, model.stop_ids, max_rows=8)
    try:
        leaving = batcher.generate(model.encode(prompt(model, QUESTIONS[1])), 200, users[1])
        next(leaving)
        next(leaving)
        out = {}

        def ask(i: int) -> None:
            ids = model.encode(prompt(model, QUESTIONS[i]))
            out[i] = text_of(batcher.generate(ids, TOKENS, users[i]))

        thread = threading.Thread(target=ask, args=(2,))
        thread.start()
        time.sleep(0.2)
        leaving.close()  # a client that hung up
        thread.join()
        assert out[2] == alone[2]
        assert (
            text_of(batcher.generate(model.encode(prompt(model, QUESTIONS[3])), TOKENS, users[3]))
            == alone[3]
        )
    finally:
        batcher.close()


def test_replies_in_flight_end_with_an_error_on_close(model):
    batcher = Batcher(model.rows, model.decode, model.stop_ids, max_rows=8)
    reply = batcher.generate(model.encode(prompt(model, "Write a long story.")), 500)
    next(reply)
    batcher.close()
    with pytest.raises(SleepmemError):
        list(reply)
    with pytest.raises(SleepmemError):
        next(batcher.generate(model.encode(prompt(model, "Hi")), 5))


def test_users_asking_at_once_each_get_their_own_fact(engine):
    """Through the engine, with real edits: alice and bob ask the same question in the
    same batch and each is answered from their own memory only."""
    engine.write("alice", [explicit("Where do I live?", "Quetzaltenango")])
    engine.write("bob", [explicit("Where do I live?", "Ouagadougou")])
    replies: dict[str, str] = {}

    def ask(user: str) -> None:
        messages = [{"role": "user", "content": "Where do I live?"}]
        replies[user] = text_of(engine.reply(user, messages, 16))

    threads = [threading.Thread(target=ask, args=(u,)) for u in ("alice", "bob", "carol")]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert "Quetzaltenango" in replies["alice"] and "Ouagadougou" not in replies["alice"]
    assert "Ouagadougou" in replies["bob"] and "Quetzaltenango" not in replies["bob"]
    assert "Quetzaltenango" not in replies["carol"] and "Ouagadougou" not in replies["carol"]
    assert engine.replies.widest >= 2


def test_stacked_factors_add_each_rows_own_term_and_nothing_else():
    from sleepmem.engine.backends.base import stacked_factors

    rng = np.random.default_rng(0)
    m, d = 6, 4

    def pair(rank: int) -> tuple[np.ndarray, np.ndarray]:
        return rng.normal(size=(d, rank)), rng.normal(size=(m, rank))

    users = [None, Factors({1: pair(2)}), Factors({1: pair(3), 2: pair(1)}), Factors({})]
    stacked = stacked_factors(users, m, d)
    assert sorted(stacked) == [1, 2]
    x = rng.normal(size=(len(users), 5, m))
    for layer, (a, rt) in stacked.items():
        got = (x @ a) @ rt  # what the edited down_proj adds, a user per row
        for i, f in enumerate(users):
            r, a_i = (
                f.layers[layer] if f and layer in f.layers else (np.zeros((d, 0)), np.zeros((m, 0)))
            )
            assert np.allclose(got[i], x[i] @ a_i @ r.T, atol=1e-5)


def test_the_rows_kv_cache_takes_each_token_in_place_and_reads_as_appended():
    """The rows' cache layers write each step's token into spare room and grow when full;
    what a layer holds always equals plain concatenation, through several growths."""
    import torch
    from sleepmem.engine.backends.torch_rows import _cache, _pairs

    keys, values = torch.randn(2, 3, 5, 4), torch.randn(2, 3, 5, 4)
    cache = _cache([(keys, values)])
    for _ in range(80):
        new_keys, new_values = torch.randn(2, 3, 1, 4), torch.randn(2, 3, 1, 4)
        got_keys, got_values = cache.update(new_keys, new_values, 0)
        keys, values = torch.cat([keys, new_keys], 2), torch.cat([values, new_values], 2)
        assert torch.equal(got_keys, keys) and torch.equal(got_values, values)
    assert cache.get_seq_length() == 85
    assert all(torch.equal(a, b) for a, b in zip(_pairs(cache)[0], (keys, values)))
