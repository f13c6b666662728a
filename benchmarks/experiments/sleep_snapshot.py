"""Sleep timed on one saved memory, so code versions compare on the same facts and edits
(behind benchmarks/sleep_100facts_*_torch_cpu.json).

    python benchmarks/experiments/sleep_snapshot.py SNAPSHOT OUT.json [--facts 100]

The first run writes the capacity pool's first ``--facts`` facts five at a time through
wake's path (``Engine.write``, as ``sleepmem bench memory --capacity`` does; about 17
minutes for 100 on a 2-core CPU) and saves that memory in the folder SNAPSHOT. Every run
then sleeps a fresh copy of it and writes the sleep's report (phases, audits before and
after, drift, the keep decision) to OUT.json. Run it again after a change (or on another
checkout) for a side-by-side figure; never two at once.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

from sleepmem.engine.bench_capacity import pool_facts
from sleepmem.engine.config import load_config
from sleepmem.plugin.registry import open_engine

POOL = Path(__file__).resolve().parents[2] / ".." / "shared" / "bench" / "fact_pool_500.json"
USER = "bench:capacity"


def _home() -> Path:
    home = Path(tempfile.mkdtemp(prefix="sleep-snapshot-"))
    for sub in ("models", "stats"):
        src = Path.home() / ".sleepmem" / sub
        if src.exists():
            os.symlink(src, home / sub)
    return home


def _user_dir(home: Path) -> Path:
    (found,) = [p for p in (home / "users").iterdir() if p.is_dir()]
    return found


def main(snapshot: Path, out: Path, n_facts: int) -> None:
    home = _home()
    engine = open_engine(load_config(overrides={"home": str(home)}))
    try:
        if not snapshot.exists():
            facts = pool_facts(POOL, n_facts)
            for start in range(0, len(facts), 5):
                engine.write(USER, facts[start : start + 5])
                print(f"wrote {start + 5} facts", flush=True)
            engine.close()
            saved = _user_dir(home)
            shutil.copytree(saved, snapshot / saved.name)
        else:
            engine.close()  # reopened over the copied memory
            (home / "users").mkdir(exist_ok=True)
            (saved,) = [p for p in snapshot.iterdir() if p.is_dir()]
            shutil.copytree(saved, home / "users" / saved.name)
        engine = open_engine(load_config(overrides={"home": str(home)}))
        engine.statistics()
        started = time.perf_counter()
        report = engine.sleep(USER, progress=lambda step: print("done:", step, flush=True))
        result = dict(report.as_dict(), facts=len(engine.memories(USER)))
        result["wall_s"] = time.perf_counter() - started
    finally:
        engine.close()
        shutil.rmtree(home, ignore_errors=True)
    out.write_text(json.dumps(result, indent=1, default=str) + "\n", "utf-8")
    print(json.dumps({k: result[k] for k in ("kept_new", "reason", "seconds", "phases")}, indent=1))


if __name__ == "__main__":
    args = sys.argv[1:]
    count = 100
    if "--facts" in args:
        at = args.index("--facts")
        count = int(args[at + 1])
        del args[at : at + 2]
    main(Path(args[0]), Path(args[1]), count)
