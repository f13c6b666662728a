"""exports.live: an adapter per live factors object, made once, released when the object
is gone (an edit or a sleep replaced it). No model: the adapter is a stand-in name."""

from __future__ import annotations

import gc

import numpy as np
from sleepmem.engine.backends.base import Factors
from sleepmem.engine.exports.live import LiveAdapters


def factors(seed: int, rank: int = 3) -> Factors:
    rng = np.random.default_rng(seed)
    return Factors({4: (rng.normal(size=(8, rank)), rng.normal(size=(16, rank)))})


def test_one_adapter_per_factors_object_released_when_it_is_gone():
    made: list[dict] = []
    released: list[str] = []

    def make(pairs):
        made.append(pairs)
        return f"adapter-{len(made)}"

    live = LiveAdapters(make, released.append)
    alice, bob = factors(1), factors(2)
    assert live.of(alice) == "adapter-1" and live.of(alice) == "adapter-1"
    assert live.of(bob) == "adapter-2" and len(made) == 2
    assert live.of(None) is None and live.of(Factors({})) is None
    del alice  # alice's edit replaced: her old factors are gone
    gc.collect()
    assert released == []  # released at the next use, not from a finaliser thread
    assert live.of(bob) == "adapter-2" and released == ["adapter-1"]
    live.release_all()
    assert released == ["adapter-1", "adapter-2"]


def test_adapters_are_cut_to_max_rank():
    ranks = []
    live = LiveAdapters(lambda pairs: ranks.append(pairs[4].rank), lambda _: None, max_rank=2)
    f = factors(3, rank=5)
    live.of(f)
    assert ranks == [2]


def test_a_cut_keeps_what_the_memorys_keys_read_where_they_are_known():
    """With the keys' sums on the factors, the cut is the export's key-weighted one (it
    kept 10/10 answers at rank 32 where plain SVD kept 8, README), not the plain SVD."""
    from sleepmem.engine.exports.lowrank import lora_pair, weighted_pair

    made = []
    live = LiveAdapters(lambda pairs: made.append(pairs[4]), lambda _: None, max_rank=2)
    plain = factors(4, rank=5)
    rng = np.random.default_rng(5)
    keys = rng.normal(size=(3, 16)) * [[5.0], [1.0], [0.2]]
    known = Factors(plain.layers, grams={4: keys.T @ keys})
    live.of(plain)
    live.of(known)
    r, a = plain.layers[4]
    want_plain, want_weighted = lora_pair(r, a, 2), weighted_pair(r, a, keys.T @ keys, 2)
    assert np.allclose(made[0].b @ made[0].a, want_plain.b @ want_plain.a)
    assert np.allclose(made[1].b @ made[1].a, want_weighted.b @ want_weighted.a)
    assert not np.allclose(made[0].b @ made[0].a, made[1].b @ made[1].a)
