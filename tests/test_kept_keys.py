"""Wake edits added on top of the live edit: the kept keys (engine/kept_keys.py) on real
ledgers, the algebra that makes the increment equal the joint solve, and the engine."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from sleepmem.engine.editor import EditSettings, Protection, protected_for, solve_layer
from sleepmem.engine.kept_keys import KeptKeys, stored_key_sums
from sleepmem.engine.store import MemoryStore
from sleepmem.engine.values import settings_key

MODEL = "smollm2-test"
KEY = settings_key(MODEL, {"layers": [4, 5]})


def memory(root: Path, user: str):
    return MemoryStore(root).user(user, MODEL)


def keys(seed: int, rows: int, m: int = 16) -> dict[int, np.ndarray]:
    rng = np.random.default_rng(seed)
    return {layer: rng.normal(size=(rows, m)) for layer in (4, 5)}


def gram(*parts: dict[int, np.ndarray]) -> dict[int, np.ndarray]:
    out = {}
    for layer in (4, 5):
        k = np.concatenate([p[layer] for p in parts]).astype(np.float16).astype(np.float64)
        out[layer] = k.T @ k
    return out


def test_a_chain_outlives_the_process_and_sums_every_batch(tmp_path: Path) -> None:
    first, second = keys(1, 3), keys(2, 4)
    kept = KeptKeys(KEY)
    kept.record(memory(tmp_path, "ana"), "b1", None, first)
    kept.record(memory(tmp_path, "ana"), "b2", "b1", second)
    held = kept.grams(memory(tmp_path, "ana"), "b2")
    reloaded = KeptKeys(KEY).grams(memory(tmp_path, "ana"), "b2")  # a restart
    assert held is not None and reloaded is not None
    for layer, expected in gram(first, second).items():
        np.testing.assert_allclose(held[layer], expected, rtol=1e-10)
        np.testing.assert_allclose(reloaded[layer], expected, rtol=1e-10)


def test_readers_without_the_settings_find_the_sums_of_a_batch(tmp_path: Path) -> None:
    first, second = keys(1, 3), keys(2, 4)
    kept = KeptKeys(KEY)
    kept.record(memory(tmp_path, "ana"), "b1", None, first)
    kept.record(memory(tmp_path, "ana"), "b2", "b1", second)
    assert (
        KeptKeys(settings_key(MODEL, {"layers": [9]})).grams(memory(tmp_path, "ana"), "b2") is None
    )
    found = stored_key_sums(memory(tmp_path, "ana"), "b2")  # what an export reads
    assert found is not None
    for layer, expected in gram(first, second).items():
        np.testing.assert_allclose(found[layer], expected, rtol=1e-10)
    assert stored_key_sums(memory(tmp_path, "ana"), "nope") is None
    assert stored_key_sums(memory(tmp_path, "bo"), "b2") is None  # no ledger at all


def test_a_new_root_drops_the_old_chain(tmp_path: Path) -> None:
    mem = memory(tmp_path, "ana")
    kept = KeptKeys(KEY)
    kept.record(mem, "b1", None, keys(1, 3))
    kept.record(mem, "b2", "b1", keys(2, 3))
    kept.record(mem, "s1", None, keys(3, 5))  # a sleep or a correction re-solved everything
    assert KeptKeys(KEY).grams(mem, "b2") is None
    with mem.ledger(create=False) as conn:
        assert conn is not None
        batches = {row[0] for row in conn.execute("SELECT batch_id FROM kept_keys")}
    assert batches == {"s1"}


def test_the_pages_of_a_dropped_chain_go_back_to_the_file_system(tmp_path: Path) -> None:
    """A sleep replaces MBs of kept keys: the ledger shrinks back instead of keeping them
    as free pages, and its write-ahead log does not stay at the size of that write."""
    mem = memory(tmp_path, "ana")
    kept = KeptKeys(KEY)
    kept.record(mem, "b1", None, keys(1, 2000, m=256))  # 2 MB of rows
    kept.record(mem, "b2", "b1", keys(2, 2000, m=256))
    grown = mem.ledger_bytes()
    kept.record(mem, "s1", None, keys(3, 10, m=256))  # re-solved: the chain is dropped
    with mem.ledger(create=False) as conn:
        assert conn is not None
        assert conn.execute("PRAGMA freelist_count").fetchone()[0] == 0
    assert mem.ledger_bytes() < grown / 4


def test_misses_are_none_not_errors(tmp_path: Path) -> None:
    mem = memory(tmp_path, "ana")
    assert KeptKeys(KEY).grams(mem, "b1") is None  # no ledger at all
    KeptKeys(KEY).record(mem, "b1", None, keys(1, 2))
    assert KeptKeys(KEY).grams(mem, "nope") is None
    assert KeptKeys(settings_key(MODEL, {"layers": [4]})).grams(mem, "b1") is None
    assert KeptKeys(KEY).grams(memory(tmp_path, "bo"), "b1") is None
    orphan = KeptKeys(KEY)
    orphan.record(mem, "b3", "lost", keys(2, 2))  # parent rows never written
    assert KeptKeys(KEY).grams(mem, "b3") is None


def test_drop_forgets_rows_and_held_sums(tmp_path: Path) -> None:
    mem = memory(tmp_path, "ana")
    kept = KeptKeys(KEY)
    kept.record(mem, "b1", None, keys(1, 2))
    kept.drop(mem)
    assert kept.grams(mem, "b1") is None


def test_the_increment_on_a_live_edit_is_the_joint_solve() -> None:
    """One layer, fixed keys: old facts solved, then new ones solved on top with the old
    keys kept and the old update's output subtracted, equals all solved together."""
    rng = np.random.default_rng(0)
    m, d = 24, 8
    basis = rng.normal(size=(m, m))
    protection = Protection(cov={0: basis @ basis.T / m}, kept={0: np.eye(m) * 0.1})
    settings = EditSettings((0,), 0, None, mom2_weight=3.0, nullspace=False, l2=1.0)  # type: ignore[arg-type]
    k_old, k_new = rng.normal(size=(5, m)), rng.normal(size=(3, m))
    r_old, r_new = rng.normal(size=(5, d)), rng.normal(size=(3, d))

    def update(k, r, prot):
        rt, a = solve_layer(k, r, 0, prot, settings)
        return rt.astype(np.float64) @ a.astype(np.float64).T  # (d, m)

    joint = update(np.concatenate([k_old, k_new]), np.concatenate([r_old, r_new]), protection)
    old = update(k_old, r_old, protection)
    on_top = Protection(cov=protection.cov, kept={0: protection.kept[0] + k_old.T @ k_old})
    increment = update(k_new, r_new - k_new @ old.T, on_top)
    np.testing.assert_allclose(old + increment, joint, rtol=1e-4, atol=1e-5)


def test_lambda_grows_with_the_facts_an_edit_holds() -> None:
    """Past ``editor.mom2_facts`` lambda scales with the facts held, so twice the facts
    write less into ordinary inputs (tr(dW C dW^T)) than under a fixed lambda would."""
    rng = np.random.default_rng(1)
    m, d, per = 24, 8, 4
    basis = rng.normal(size=(m, m))
    cov = basis @ basis.T / m
    settings = EditSettings((0,), 0, None, mom2_weight=3.0, nullspace=False, l2=1.0)  # type: ignore[arg-type]
    assert protected_for(settings, per, per) is settings
    assert protected_for(settings, 3 * per, None) is settings
    assert protected_for(settings, 2 * per, per).mom2_weight == pytest.approx(6.0)

    k, r = rng.normal(size=(2 * per, m)), rng.normal(size=(2 * per, d))

    def spill(s: EditSettings) -> float:
        rt, a = solve_layer(k, r, 0, Protection(cov={0: cov}), s)
        dw = rt.astype(np.float64) @ a.astype(np.float64).T
        return float(np.trace(dw @ cov @ dw.T))

    assert spill(protected_for(settings, 2 * per, per)) < spill(settings)


@pytest.mark.model
def test_new_facts_go_on_top_and_a_correction_resolves(engine_factory, engine) -> None:
    first = engine.remember("ines", "I live in Braga.")
    assert not first.incremental  # nothing to add to yet
    second = engine.remember("ines", "My cat is called Figo.")
    assert second.incremental
    assert {"vstar", "spread", "store"} <= set(second.phases)
    restarted = engine_factory(engine.home)  # the kept keys come back from the ledger
    third = restarted.remember("ines", "I work as a baker.")
    assert third.incremental
    assert "Braga" in restarted.ask("ines", "Where do I live?")
    assert "Figo" in restarted.ask("ines", "What is my cat's name?")
    assert "baker" in restarted.ask("ines", "What do I do for work?").lower()
    moved = restarted.remember("ines", "I live in Faro.")
    assert moved.superseded and not moved.incremental  # the old edit must leave the weights
    assert "Faro" in restarted.ask("ines", "Where do I live?")
    assert "Figo" in restarted.ask("ines", "What is my cat's name?")
    assert "Figo" not in restarted.ask("bo", "What is my cat's name?")
