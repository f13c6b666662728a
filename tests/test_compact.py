"""Compacting an update onto the outputs its keys use (engine/compact.py), and the edit
file storing compacted factors in int8 or float16 (engine/deltas.py)."""

from __future__ import annotations

import copy
import dataclasses

import numpy as np
import pytest
from sleepmem.engine import deltas
from sleepmem.engine.backends.base import Factors
from sleepmem.engine.compact import (
    INT8_LOSS,
    bounded,
    compact,
    compact_layer,
    int8_scales,
    storable,
)
from sleepmem.engine.deltas import EditBatch, read_delta_file, write_delta_file
from sleepmem.engine.exports import lora_pair, lora_pairs
from sleepmem.engine.kept_keys import key_sums

D, M = 24, 40


def _edit(rng: np.random.Generator, facts: int = 4, rows: int = 6, unused: float = 0.0):
    """An update shaped like a solve's: each fact's rows share one target direction (plus
    a little per-row spread) and keys cluster per fact. Three extra ranks of large norm
    write through input directions no key has (what lambda C^-1 makes of a real solve's
    low-energy directions); ``unused`` adds such directions to every rank's input side."""
    targets = rng.normal(size=(facts, D))
    centres = rng.normal(size=(facts, M))
    keys = np.concatenate([c + 0.3 * rng.normal(size=(rows, M)) for c in centres])
    resid = np.concatenate([t + 0.05 * rng.normal(size=(rows, D)) for t in targets])
    a = np.linalg.lstsq(keys, np.eye(len(keys)), rcond=None)[0]  # (M, n): keys @ a = I
    spare = np.linalg.svd(keys)[2][len(keys) :]  # (M - n, M): directions no key has
    a = a + unused * spare.T @ rng.normal(size=(len(spare), len(keys)))
    r = np.concatenate([resid.T, 10.0 * rng.normal(size=(D, 3))], axis=1)
    a = np.concatenate([a, spare[:3].T], axis=1)
    return r.astype(np.float32), a.astype(np.float32), keys


def test_compact_keeps_the_outputs_on_its_keys_in_fewer_ranks():
    rng = np.random.default_rng(0)
    r, a, keys = _edit(rng)
    exact = keys @ a @ r.T  # (n, d): what the update writes on each key
    new_r, new_a, kept = compact_layer(r, a, keys.T @ keys, 0.99)
    assert new_r.shape[1] < r.shape[1] and new_r.shape[1] == new_a.shape[1]
    assert kept >= 0.99
    approx = keys @ new_a @ new_r.T
    lost = np.linalg.norm(exact - approx) ** 2 / np.linalg.norm(exact) ** 2
    assert lost == pytest.approx(1 - kept, abs=1e-4)


def test_compact_beats_plain_svd_at_the_same_rank():
    rng = np.random.default_rng(1)
    r, a, keys = _edit(rng)
    exact = keys @ a @ r.T
    new_r, new_a, _ = compact_layer(r, a, keys.T @ keys, 0.99)
    plain = lora_pair(r, a, max_rank=new_r.shape[1])
    err_compact = np.linalg.norm(exact - keys @ new_a @ new_r.T)
    err_plain = np.linalg.norm(exact - keys @ plain.a.T @ plain.b.T)
    assert err_compact < 0.2 * err_plain  # plain SVD keeps the large ranks no key reads


def test_compact_never_writes_more_into_any_input():
    rng = np.random.default_rng(2)
    r, a, keys = _edit(rng)
    new_r, new_a, _ = compact_layer(r, a, keys.T @ keys, 0.9)
    probes = rng.normal(size=(200, M))
    before = np.linalg.norm(probes @ a @ r.T, axis=1)
    after = np.linalg.norm(probes @ new_a @ new_r.T, axis=1)
    assert np.all(after <= before * (1 + 1e-3))  # an output projection, up to float16


def _int8_exact(x: np.ndarray) -> bool:
    """Whether every column of ``x`` is int8 codes times one scale, as the edit file holds."""
    scales = int8_scales(x)
    codes = x / np.where(scales > 0, scales, 1.0)
    return bool(np.array_equal(codes, np.rint(codes)) and np.abs(codes).max() <= 127)


def _lost_on_keys(keys, r, a, new_r, new_a) -> float:
    exact = keys @ a.astype(np.float64) @ r.T.astype(np.float64)
    now = keys @ new_a.astype(np.float64) @ new_r.T.astype(np.float64)
    return float(np.linalg.norm(exact - now) ** 2 / np.linalg.norm(exact) ** 2)


def test_compacted_factors_are_balanced_and_float16_exact():
    rng = np.random.default_rng(3)
    r, a, keys = _edit(rng)
    new_r, new_a, _ = compact_layer(r, a, keys.T @ keys, 0.999, precision="float16")
    assert new_r.dtype == new_a.dtype == np.float32
    for x in (new_r, new_a):
        assert np.array_equal(x.astype(np.float16).astype(np.float32), x)
        assert not _int8_exact(x)
    ratio = np.linalg.norm(new_r, axis=0) / np.linalg.norm(new_a, axis=0)
    assert np.allclose(ratio, 1.0, rtol=1e-2)


def _solve_like(rng: np.random.Generator, d: int = 576, m: int = 1536, rank: int = 40):
    """Balanced factors of the default model's down_proj shape and keys they were written
    through: what ``storable`` rounds after a compaction."""
    keys = rng.normal(size=(3 * rank, m))
    r = rng.normal(size=(d, rank)).astype(np.float32)
    a = (rng.normal(size=(m, rank)) / np.sqrt(m)).astype(np.float32)
    return r, a, keys


def test_factors_are_stored_int8_a_rank_where_the_keys_barely_move():
    rng = np.random.default_rng(3)
    r, a, keys = _solve_like(rng)
    new_r, new_a = storable(r, a, keys.T @ keys)
    assert new_r.dtype == new_a.dtype == np.float32
    assert _int8_exact(new_r) and _int8_exact(new_a)
    assert 0 < _lost_on_keys(keys, r, a, new_r, new_a) <= INT8_LOSS
    _, half_a = storable(r, a, keys.T @ keys, "float16")
    assert not _int8_exact(half_a)
    assert np.array_equal(half_a.astype(np.float16).astype(np.float32), half_a)
    with pytest.raises(ValueError, match="precision"):
        storable(r, a, keys.T @ keys, "int4")


def test_int8_is_refused_where_one_value_would_coarsen_its_whole_rank():
    # one input weight 2000x the others sets its rank's scale: the rest of that rank would
    # round to a few codes, so the factors go to float16 instead
    rng = np.random.default_rng(4)
    r, a, keys = _solve_like(rng)
    a[7, :] *= 2000.0
    keys[:, 7] = 0.0  # no key reads that input, so the outlier costs the keys nothing
    _, new_a = storable(r, a, keys.T @ keys)
    assert not _int8_exact(new_a)
    assert np.array_equal(new_a.astype(np.float16).astype(np.float32), new_a)


def test_compaction_rounds_as_storable_does():
    rng = np.random.default_rng(3)
    r, a, keys = _edit(rng)
    new_r, new_a, _ = compact_layer(r, a, keys.T @ keys, 0.999, precision="float16")
    again = storable(new_r, new_a, keys.T @ keys, "float16")
    assert np.array_equal(again[0], new_r) and np.array_equal(again[1], new_a)
    with pytest.raises(ValueError, match="precision"):
        compact_layer(r, a, keys.T @ keys, 0.999, precision="int4")


def test_float16_is_refused_where_it_would_cost_the_keys_precision():
    # an input side 30x larger in directions no key uses: rounding it to float16 would
    # move the outputs on the keys by ~1%, so the factors stay float32
    rng = np.random.default_rng(3)
    r, a, keys = _edit(rng, unused=30.0)
    new_r, new_a, kept = compact_layer(r, a, keys.T @ keys, 0.999)
    assert not np.array_equal(new_a.astype(np.float16).astype(np.float32), new_a)
    exact = keys @ a @ r.T
    lost = np.linalg.norm(exact - keys @ new_a @ new_r.T) ** 2 / np.linalg.norm(exact) ** 2
    assert lost == pytest.approx(1 - kept, abs=1e-5)


def test_compact_leaves_layers_without_keys_and_small_factors_alone():
    rng = np.random.default_rng(4)
    r, a, keys = _edit(rng)
    tiny_r, tiny_a = r[:, :1].copy(), a[:, :1].copy()
    out = compact(
        Factors({3: (r, a), 4: (tiny_r, tiny_a), 5: (r, a)}),
        {3: keys.T @ keys, 4: keys.T @ keys},
        0.99,
    )
    assert out.factors.layers[5][0] is r  # no keys for layer 5
    assert out.factors.layers[4][0] is tiny_r  # rank 1 cannot get smaller
    assert out.ranks[3][1] < out.ranks[3][0]
    with pytest.raises(ValueError, match="share"):
        compact(Factors({3: (r, a)}), {3: keys.T @ keys}, 0.0)


def test_compact_of_an_empty_update_is_the_update():
    r = np.zeros((D, 3), np.float32)
    a = np.ones((M, 3), np.float32)
    out_r, out_a, kept = compact_layer(r, a, np.eye(M), 0.99)
    assert out_r is r and out_a is a and kept == 1.0


def test_the_edit_file_stores_int8_factors_in_a_quarter_of_the_bytes(tmp_path):
    rng = np.random.default_rng(9)
    r, a, keys = _solve_like(rng)
    big_r, big_a = storable(r, a, keys.T @ keys)
    assert _int8_exact(big_r) and _int8_exact(big_a)
    full, small = tmp_path / "full.safetensors", tmp_path / "int8.safetensors"
    write_delta_file(full, "m", [EditBatch.new(["f"], {3: (big_r + 1e-4, big_a + 1e-4)}, "wake")])
    write_delta_file(small, "m", [EditBatch.new(["f"], {3: (big_r, big_a)}, "wake")])
    assert small.stat().st_size < 0.3 * full.stat().st_size
    (batch,) = read_delta_file(small, "m")
    got_r, got_a = batch.layers[3]
    assert got_r.dtype == got_a.dtype == np.float32
    assert np.array_equal(got_r, big_r) and np.array_equal(got_a, big_a)  # nothing rounded


def test_an_edit_file_of_the_float_only_format_still_reads(tmp_path, monkeypatch):
    rng = np.random.default_rng(10)
    r = rng.normal(size=(D, 4)).astype(np.float16).astype(np.float32)
    a = rng.normal(size=(M, 4)).astype(np.float32)
    path = tmp_path / "old.safetensors"
    monkeypatch.setattr(deltas, "DELTA_FORMAT", 1)
    write_delta_file(path, "m", [EditBatch.new(["f"], {3: (r, a)}, "wake")])
    monkeypatch.undo()
    (batch,) = read_delta_file(path, "m")
    assert np.array_equal(batch.layers[3][0], r) and np.array_equal(batch.layers[3][1], a)


def test_the_edit_file_stores_compacted_factors_in_half_the_bytes(tmp_path):
    rng = np.random.default_rng(5)
    r = rng.normal(size=(576, 20)).astype(np.float16).astype(np.float32)
    a = rng.normal(size=(1536, 20)).astype(np.float16).astype(np.float32)
    full, half = tmp_path / "full.safetensors", tmp_path / "half.safetensors"
    write_delta_file(full, "m", [EditBatch.new(["f"], {3: (r + 1e-4, a + 1e-4)}, "wake")])
    write_delta_file(half, "m", [EditBatch.new(["f"], {3: (r, a)}, "wake")])
    assert half.stat().st_size < 0.55 * full.stat().st_size
    (batch,) = read_delta_file(half, "m")
    got_r, got_a = batch.layers[3]
    assert got_r.dtype == got_a.dtype == np.float32
    assert np.array_equal(got_r, r) and np.array_equal(got_a, a)
    (batch,) = read_delta_file(full, "m")
    assert np.array_equal(batch.layers[3][0], r + np.float32(1e-4))  # float32 kept as is


def test_key_sums_of_the_rows_are_what_compact_weighs():
    rng = np.random.default_rng(6)
    r, a, keys = _edit(rng)
    by_sums = compact(Factors({3: (r, a)}), key_sums({3: keys}), 0.99)
    by_gram = compact_layer(r, a, keys.T @ keys, 0.99)
    assert np.allclose(by_sums.factors.layers[3][0], by_gram[0])


def test_an_export_cut_weighed_by_the_keys_keeps_what_they_read():
    rng = np.random.default_rng(7)
    r, a, keys = _edit(rng)
    exact = keys @ a @ r.T
    weighed = lora_pairs(Factors({3: (r, a)}), max_rank=4, grams={3: keys.T @ keys})[3]
    plain = lora_pairs(Factors({3: (r, a)}), max_rank=4)[3]
    assert weighed.rank == plain.rank == 4
    err_weighed = np.linalg.norm(exact - keys @ weighed.a.T @ weighed.b.T)
    err_plain = np.linalg.norm(exact - keys @ plain.a.T @ plain.b.T)
    assert err_weighed < 0.2 * err_plain
    assert weighed.kept == pytest.approx(1 - err_weighed**2 / np.linalg.norm(exact) ** 2, abs=1e-3)
    # without a cap nothing is cut, keys or not
    whole = lora_pairs(Factors({3: (r, a)}), grams={3: keys.T @ keys})[3]
    assert whole.kept == 1.0
    np.testing.assert_allclose(whole.b @ whole.a, r @ a.T, rtol=1e-4, atol=1e-4)


def test_an_edit_is_stored_at_the_first_share_that_keeps_every_answer(engine, monkeypatch):
    """The configured share, else the next finer one of the ladder, else the full update:
    whichever first loses each checked answer no more than ``editor.compact_slack`` nats;
    with no slack set, the configured share unchecked."""
    from sleepmem.engine.facts import explicit
    from sleepmem.engine.prompts import fact_prompts

    facts = [explicit("Where do I live?", "Hobart"), explicit("What is my dog called?", "Pepper")]
    solved = engine._solve("ana", facts)
    checks = fact_prompts(engine.backend, facts, 1)
    full = engine._answer_nll(checks, solved.factors)
    first, *ladder = [engine.config.editor.compact, *engine.COMPACT_LADDER]

    def lost(share: float, precision: str = "int8") -> float:
        small = compact(solved.factors, key_sums(solved.keys), share, solved.keys, precision)
        return max(np.subtract(engine._answer_nll(checks, small.factors), full))

    def slack(nats: float | None) -> None:
        # set on a copy past the config's check: a negative slack is this test's own
        editor = copy.copy(engine.config.editor)
        object.__setattr__(editor, "compact_slack", nats)
        monkeypatch.setattr(engine, "config", dataclasses.replace(engine.config, editor=editor))

    slack(None)
    unchecked = engine._compacted(solved, facts)
    assert solved.compact_share == first
    slack(np.inf)
    stored = engine._compacted(solved, facts)
    for layer, (r, a) in unchecked.layers.items():  # an infinite slack takes the first share
        np.testing.assert_array_equal(stored.layers[layer][0], r)
        np.testing.assert_array_equal(stored.layers[layer][1], a)
    assert solved.compact_share == first
    assert sum(r.shape[1] for r, _ in stored.layers.values()) < sum(
        r.shape[1] for r, _ in solved.factors.layers.values()
    )
    coarse, fine = lost(first), lost(ladder[0])
    if fine < coarse:  # a slack only the finer share meets
        slack((coarse + fine) / 2)
        engine._compacted(solved, facts)
        assert solved.compact_share == ladder[0]
    # int8 rounding that costs an answer at every share falls back to float16, not whole
    in_int8 = min(lost(level) for level in [first, *ladder])
    in_half = {level: lost(level, "float16") for level in [first, *ladder]}
    if min(in_half.values()) < in_int8:
        slack((min(in_half.values()) + in_int8) / 2)
        stored = engine._compacted(solved, facts)
        assert in_half[solved.compact_share] <= (min(in_half.values()) + in_int8) / 2
        for _, a in stored.layers.values():
            assert np.array_equal(a.astype(np.float16).astype(np.float32), a)
    slack(-np.inf)  # no compaction is good enough
    stored = engine._compacted(solved, facts)
    assert solved.compact_share is None
    for layer, (r, a) in solved.factors.layers.items():
        assert stored.layers[layer][0] is r and stored.layers[layer][1] is a


def _wide(rng: np.random.Generator, ranks: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Factors of more ranks than the layer has outputs (increments joined side by side),
    float16-exact as stored, and the keys they were written through."""
    keys = rng.normal(size=(ranks, M))
    r = rng.normal(size=(D, ranks)).astype(np.float16).astype(np.float32)
    a = (0.1 * rng.normal(size=(M, ranks))).astype(np.float16).astype(np.float32)
    return r, a, keys


def test_bounded_refactors_a_layer_past_its_width_exactly():
    rng = np.random.default_rng(7)
    r, a, keys = _wide(rng, 3 * D)
    small_r, small_a = r[:, :5].copy(), a[:, :5].copy()
    out = bounded(Factors({3: (r, a), 4: (small_r, small_a)}), {3: keys.T @ keys})
    new_r, new_a = out.layers[3]
    assert new_r.shape == (D, D) and new_a.shape == (M, D)
    exact = r.astype(np.float64) @ a.T.astype(np.float64)
    moved = exact - new_r.astype(np.float64) @ new_a.T.astype(np.float64)
    lost = np.linalg.norm(keys @ moved.T) ** 2 / np.linalg.norm(keys @ exact.T) ** 2
    assert 0 < lost <= INT8_LOSS
    assert _int8_exact(new_r) and _int8_exact(new_a)  # rounding that small: a byte a value
    assert out.layers[4][0] is small_r  # within its width: left as it was
    half_r, half_a = bounded(Factors({3: (r, a)}), {3: keys.T @ keys}, "float16").layers[3]
    moved = exact - half_r.astype(np.float64) @ half_a.T.astype(np.float64)
    assert np.linalg.norm(keys @ moved.T) ** 2 <= 1e-5 * np.linalg.norm(keys @ exact.T) ** 2
    for x in (half_r, half_a):
        assert np.array_equal(x.astype(np.float16).astype(np.float32), x)


def test_bounded_keeps_float32_without_keys_to_weigh_the_rounding():
    rng = np.random.default_rng(8)
    r, a, _ = _wide(rng, 2 * D)
    new_r, new_a = bounded(Factors({3: (r, a)}), {}).layers[3]
    assert new_r.shape[1] == D
    assert not np.array_equal(new_a.astype(np.float16).astype(np.float32), new_a)
    exact = r.astype(np.float64) @ a.T.astype(np.float64)
    assert np.allclose(new_r.astype(np.float64) @ new_a.T, exact, atol=1e-5)
