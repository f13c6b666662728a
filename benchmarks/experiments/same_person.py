"""Probe behind benchmarks/same_person_probe_torch_cpu.json: several facts about one
named person, told the way people say them, one message at a time through wake (the rule
extractor, keys at the name on), then asked in an empty chat.

Keys at the name carry a friend's fact to any wording, but two facts about one person are
keyed at nearly the same token ("Where does Maya" / "What does Maya"), each with its own
target value: this measures what that costs. Written for this probe, not taken from any
benchmark file.

    python benchmarks/experiments/same_person.py out.json [editor.name_keys=0 ...]
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
import time
from pathlib import Path

from sleepmem.engine.config import load_config
from sleepmem.plugin.registry import open_engine

MESSAGES = [
    "My sister Maya lives in Lisbon.",
    "Maya works as a nurse at the children's hospital there.",
    "My friend Tomas lives in Montreal.",
    "Tomas is a carpenter, he builds boats.",
    "Maya's favourite band is Radiohead.",
]
ASKS = [
    ("Where does Maya live?", "Lisbon"),
    ("What does Maya do for work?", "nurse"),
    ("Where does my friend Tomas live?", "Montreal"),
    ("What is Tomas's job?", "carpenter"),
    ("What is Maya's favourite band?", "Radiohead"),
    ("Where does my sister live?", "Lisbon"),
    ("What is my sister's job?", "nurse"),
]


def main(out: Path, overrides: dict[str, object]) -> None:
    home = tempfile.mkdtemp(prefix="same-person-")
    for sub in ("models", "stats"):  # the pulled model and its statistics, not re-made
        src = Path.home() / ".sleepmem" / sub
        if src.exists():
            os.symlink(src, Path(home) / sub)
    engine = open_engine(load_config(overrides={"home": home, **overrides}))
    uid = "probe"
    started = time.perf_counter()
    for message in MESSAGES:
        engine.wake(uid, [(message, [])])
    stored = [{"text": f.text, "questions": list(f.questions)} for f in engine.memories(uid)]
    asks = [[{"role": "user", "content": q}] for q, _ in ASKS]
    replies = engine.ask_many(uid, asks, 24)
    rows = [
        {"q": q, "expected": a, "reply": r, "ok": a.casefold() in r.casefold()}
        for (q, a), r in zip(ASKS, replies)
    ]
    for row in rows:
        print("OK " if row["ok"] else "-- ", row["q"], "->", row["reply"].strip()[:60])
    result = {
        "overrides": overrides,
        "recall": sum(r["ok"] for r in rows) / len(rows),
        "asked": rows,
        "stored_facts": stored,
        "seconds": time.perf_counter() - started,
    }
    out.write_text(json.dumps(result, indent=1) + "\n", "utf-8")
    print(f"recall {result['recall']:.0%}, wrote {out}")


if __name__ == "__main__":
    pairs = (arg.split("=", 1) for arg in sys.argv[2:])
    main(Path(sys.argv[1]), {k: json.loads(v) for k, v in pairs})
