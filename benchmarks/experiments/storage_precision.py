"""What storing edits in int8 instead of float16 costs, on one saved memory
(behind benchmarks/storage_precision_*_torch_cpu.json).

    python benchmarks/experiments/storage_precision.py SNAPSHOT OUT.json

SNAPSHOT is a memory saved by ``sleep_snapshot.py`` (the capacity pool's facts written five
at a time through wake's path, stored in float16). For each ``editor.store_precision`` in
turn, on a fresh copy of it: the live edit rounded as that precision's compaction would
store it (``compact.storable`` with the keys it was written through), recall of every fact
in an empty chat, under the conversation bench's persona and in the held-out wording, bytes
a fact; then a sleep under that precision and the same figures again, with general
knowledge (x the base model's) and drift on ``memory_bench.json``. One process, one model,
the precisions one after the other.
"""

from __future__ import annotations

import json
import shutil
import sys
import time
from pathlib import Path
from typing import Any

from sleepmem.engine.backends.base import Factors
from sleepmem.engine.bench import knowledge_hits, rate
from sleepmem.engine.bench_capacity import _persona_context, _recall, pool_facts
from sleepmem.engine.compact import storable
from sleepmem.engine.config import load_config
from sleepmem.engine.deltas import EditBatch
from sleepmem.engine.kept_keys import stored_key_sums
from sleepmem.engine.memory import Engine
from sleepmem.plugin.registry import open_engine

sys.path.insert(0, str(Path(__file__).parent))
from sleep_snapshot import POOL, USER, _home

BENCH = POOL.parent / "memory_bench.json"


def _figures(engine: Engine, facts: list, persona: list[dict[str, str]]) -> dict[str, Any]:
    mem = engine.memory(USER)
    return {
        "fresh": _recall(engine, USER, facts, []),
        "persona": _recall(engine, USER, facts, persona),
        "held_out": _recall(engine, USER, facts, [], held_out=True),
        "edit_bytes_per_fact": mem.bytes_on_disk() / len(facts),
        "ledger_bytes_per_fact": mem.ledger_bytes() / len(facts),
    }


def _rounded(engine: Engine, precision: str) -> None:
    """Replace the user's live edit with its factors rounded for ``precision``."""
    mem = engine.memory(USER)
    live = mem.edit()
    grams = stored_key_sums(mem, live.id)
    layers = {
        layer: storable(r, a, grams[layer], precision) for layer, (r, a) in live.layers.items()
    }
    batch = EditBatch.new(live.fact_ids, layers, live.kind)
    mem.commit(add_batches=[batch], remove_batch_ids=[live.id])
    engine._factor_cache.pop(USER, None)


def main(snapshot: Path, out: Path) -> None:
    bench = json.loads(BENCH.read_text("utf-8"))
    persona = _persona_context(POOL.parent)
    results: dict[str, Any] = {"snapshot": str(snapshot), "precisions": {}}
    loaded = None
    for precision in ("float16", "int8"):
        home = _home()
        (home / "users").mkdir(exist_ok=True)
        (saved,) = [p for p in snapshot.iterdir() if p.is_dir()]
        shutil.copytree(saved, home / "users" / saved.name)
        cfg = load_config(overrides={"home": str(home), "editor": {"store_precision": precision}})
        if loaded is None:
            loaded = open_engine(cfg)
        engine = Engine(cfg, loaded.backend, loaded.plugins)
        engine._stats = loaded._stats  # same model and layers: the statistics are shared
        engine.statistics()
        facts = pool_facts(POOL, len(engine.memories(USER)))
        _rounded(engine, precision)
        row: dict[str, Any] = {"before_sleep": _figures(engine, facts, persona)}
        started = time.perf_counter()
        report = engine.sleep(USER)
        row["sleep_s"] = time.perf_counter() - started
        row["sleep"] = {
            k: getattr(report, k)
            for k in ("kept_new", "reason", "drift_before", "drift_after", "audit_before")
        }
        row["after_sleep"] = _figures(engine, facts, persona)
        gk = bench["general_knowledge"]
        base = rate(knowledge_hits(engine, USER, gk, Factors()))
        row["general_knowledge"] = rate(knowledge_hits(engine, USER, gk)) / base
        row["ppl_drift"] = engine.drift(engine.factors(USER), bench["neutral_text"])
        results["precisions"][precision] = row
        print(precision, json.dumps(row, indent=1, default=str), flush=True)
        shutil.rmtree(home, ignore_errors=True)
    out.write_text(json.dumps(results, indent=1, default=str) + "\n", "utf-8")


if __name__ == "__main__":
    main(Path(sys.argv[1]), Path(sys.argv[2]))
