"""Probe behind benchmarks/named_people_*_torch_cpu.json: four named people (a sister, a
friend, a brother, a coworker), three facts each (home, job, favourite band), written as
explicit facts in one edit (the path of a sleep's re-solve), then asked in an empty chat
in two wordings each, one of them never trained. Written for the shared name values
(engine/subjects.py), not taken from any benchmark file.

    python benchmarks/experiments/named_people.py out.json [--no-share] [key=value ...]

``--no-share`` writes each fact with its own value at the name, as before.
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
import time
from pathlib import Path

from sleepmem.engine import subjects
from sleepmem.engine.config import load_config
from sleepmem.engine.facts import explicit
from sleepmem.plugin.registry import open_engine

PEOPLE = [
    ("sister", "Maya", "Lisbon", "nurse", "Radiohead"),
    ("friend", "Tomas", "Montreal", "carpenter", "Nirvana"),
    ("brother", "Felix", "Hamburg", "pilot", "Coldplay"),
    ("coworker", "Dana", "Denver", "dentist", "Metallica"),
]


def main(out: Path, share: bool, overrides: dict[str, object]) -> None:
    if not share:
        subjects.shared = lambda facts: []  # type: ignore[assignment]
    home = tempfile.mkdtemp(prefix="named-people-")
    for sub in ("models", "stats"):
        src = Path.home() / ".sleepmem" / sub
        if src.exists():
            os.symlink(src, Path(home) / sub)
    engine = open_engine(load_config(overrides={"home": home, **overrides}))
    facts, asks = [], []
    for rel, name, city, job, band in PEOPLE:
        facts += [
            explicit(f"Where does my {rel} {name} live?", city),
            explicit(f"What does my {rel} {name} do for work?", job),
            explicit(f"What is my {rel} {name}'s favourite band?", band),
        ]
        asks += [
            (f"Where does {name} live?", city),
            (f"Which city is {name} in?", city),
            (f"What does {name} do?", job),
            (f"What is {name}'s job?", job),
            (f"What's {name}'s favourite band?", band),
            (f"Which band does {name} love most?", band),
        ]
    started = time.perf_counter()
    engine.write("people", facts)
    edit_s = time.perf_counter() - started
    replies = engine.ask_many("people", [[{"role": "user", "content": q}] for q, _ in asks], 16)
    rows = [
        {"q": q, "expected": a, "reply": r, "ok": a.casefold() in r.casefold()}
        for (q, a), r in zip(asks, replies)
    ]
    for row in rows:
        print("OK " if row["ok"] else "-- ", row["q"], "->", row["reply"].strip()[:50])
    result = {
        "shared_name_values": share,
        "overrides": overrides,
        "recall": sum(r["ok"] for r in rows) / len(rows),
        "edit_s": edit_s,
        "asked": rows,
    }
    out.write_text(json.dumps(result, indent=1) + "\n", "utf-8")
    print(f"recall {result['recall']:.0%}, edit {edit_s:.0f} s, wrote {out}")


if __name__ == "__main__":
    args = sys.argv[2:]
    share = "--no-share" not in args
    pairs = (a.split("=", 1) for a in args if a != "--no-share")
    main(Path(sys.argv[1]), share, {k: json.loads(v) for k, v in pairs})
