"""The v* cache (engine/values.py) on real ledgers, and what the engine does with it."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pytest
from sleepmem.engine.store import MemoryStore
from sleepmem.engine.values import TargetValues, settings_key

MODEL = "smollm2-test"


def memory(root: Path, user: str):
    return MemoryStore(root).user(user, MODEL)


def test_values_outlive_the_process_that_made_them(tmp_path: Path) -> None:
    key = settings_key(MODEL, {"v_steps": 40})
    vec = np.random.default_rng(1).normal(size=576)
    TargetValues(key).put(memory(tmp_path, "ana"), {"f1": vec})
    again = TargetValues(key).get(memory(tmp_path, "ana"), ["f1", "f2"])
    assert list(again) == ["f1"]
    np.testing.assert_array_equal(again["f1"], vec)


def test_other_settings_or_model_miss(tmp_path: Path) -> None:
    key = settings_key(MODEL, {"v_steps": 40})
    TargetValues(key).put(memory(tmp_path, "ana"), {"f1": np.ones(4)})
    assert settings_key(MODEL, {"v_steps": 41}) != key
    assert settings_key("other-model", {"v_steps": 40}) != key
    for other in (settings_key(MODEL, {"v_steps": 41}), settings_key("other-model", {})):
        assert TargetValues(other).get(memory(tmp_path, "ana"), ["f1"]) == {}


def test_one_users_values_are_not_anothers(tmp_path: Path) -> None:
    cache = TargetValues(settings_key(MODEL, {}))
    cache.put(memory(tmp_path, "ana"), {"f1": np.ones(4)})
    assert cache.get(memory(tmp_path, "bo"), ["f1"]) == {}
    assert TargetValues(cache.key).get(memory(tmp_path, "bo"), ["f1"]) == {}


def test_drop_removes_from_memory_and_ledger(tmp_path: Path) -> None:
    key = settings_key(MODEL, {})
    cache = TargetValues(key)
    mem = memory(tmp_path, "ana")
    cache.put(mem, {"f1": np.ones(4), "f2": np.zeros(4), "f3": np.ones(4)})
    cache.drop(mem, ["f1"])
    assert sorted(cache.get(mem, ["f1", "f2", "f3"])) == ["f2", "f3"]
    assert sorted(TargetValues(key).get(memory(tmp_path, "ana"), ["f1", "f2"])) == ["f2"]
    cache.drop(mem)
    assert cache.get(mem, ["f2", "f3"]) == {}
    assert TargetValues(key).get(memory(tmp_path, "ana"), ["f2", "f3"]) == {}


def test_reading_creates_no_ledger(tmp_path: Path) -> None:
    mem = memory(tmp_path, "nobody")
    assert TargetValues(settings_key(MODEL, {})).get(mem, ["f1"]) == {}
    TargetValues(settings_key(MODEL, {})).drop(mem, ["f1"])
    assert not mem.path.exists()


def test_many_ids_at_once(tmp_path: Path) -> None:
    key = settings_key(MODEL, {})
    values = {f"f{i}": np.full(3, float(i)) for i in range(1200)}  # past SQLite's bind limit
    TargetValues(key).put(memory(tmp_path, "ana"), values)
    got = TargetValues(key).get(memory(tmp_path, "ana"), list(values))
    assert len(got) == 1200 and got["f1199"][0] == 1199.0


# ----------------------------------------------------------------- with the real model


def vstar_batches(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.getMessage().startswith("v* for ")]


def test_a_restart_optimises_only_new_facts_and_forget_drops_values(
    engine_factory, engine, caplog: pytest.LogCaptureFixture
) -> None:
    engine.observe("chidi", "I have a parrot named Mango.")
    restarted = engine_factory(engine.home)  # a new process on the same home
    with caplog.at_level(logging.DEBUG, logger="sleepmem.engine.memory"):
        restarted.observe("chidi", "I live in Hobart.")
    assert [m.split(",")[0] for m in vstar_batches(caplog)] == ["v* for 1 facts"]
    assert "Mango" in restarted.ask("chidi", "What is my parrot's name?")
    mango = next(f for f in restarted.memories("chidi") if f.answer == "Mango")
    restarted.forget("chidi", mango.id)
    fresh = engine_factory(engine.home)
    mem = fresh.memory("chidi")
    assert fresh._values.get(mem, [mango.id]) == {}
    left = [f.id for f in fresh.memories("chidi")]
    assert left and sorted(fresh._values.get(mem, left)) == sorted(left)
