"""Probe behind benchmarks/same_person_probe*_torch_cpu.json: several facts about one
named person (and a pet, a friend, a coworker), told the way people say them, one message
at a time through wake (the rule extractor, keys at the name on), then asked in an empty
chat, per scenario.

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

# Each scenario is one user: messages told one at a time, then questions in an empty chat.
SCENARIOS = {
    "sister_and_friend": (
        [
            "My sister Maya lives in Lisbon.",
            "Maya works as a nurse at the children's hospital there.",
            "My friend Tomas lives in Montreal.",
            "Tomas is a carpenter, he builds boats.",
            "Maya's favourite band is Radiohead.",
        ],
        [
            ("Where does Maya live?", "Lisbon"),
            ("What does Maya do for work?", "nurse"),
            ("Where does my friend Tomas live?", "Montreal"),
            ("What is Tomas's job?", "carpenter"),
            ("What is Maya's favourite band?", "Radiohead"),
            ("Where does my sister live?", "Lisbon"),
            ("What is my sister's job?", "nurse"),
        ],
    ),
    # written for this stop's change, casual, other relations and a pet
    "dog_coworker_brother": (
        [
            "we finally adopted a dog last month, his name is Pretzel",
            "Pretzel is a corgi and he's terrified of the vacuum lol",
            "My coworker Dana lives in Denver, she commutes two hours, insane",
            "Dana's favourite food is pho.",
            "my brother Felix works as a pilot",
            "Felix grew up in Hamburg, I was born later in Kiel.",
        ],
        [
            ("What's my dog called?", "Pretzel"),
            ("What breed is Pretzel?", "corgi"),
            ("Where does Dana live?", "Denver"),
            ("What is Dana's favourite food?", "pho"),
            ("What does my brother do?", "pilot"),
            ("Where did Felix grow up?", "Hamburg"),
            ("What's my coworker's favourite food?", "pho"),
        ],
    ),
}


def main(out: Path, overrides: dict[str, object]) -> None:
    home = tempfile.mkdtemp(prefix="same-person-")
    for sub in ("models", "stats"):  # the pulled model and its statistics, not re-made
        src = Path.home() / ".sleepmem" / sub
        if src.exists():
            os.symlink(src, Path(home) / sub)
    engine = open_engine(load_config(overrides={"home": home, **overrides}))
    result: dict[str, object] = {"overrides": overrides, "scenarios": {}}
    hits = total = 0
    for uid, (messages, asks) in SCENARIOS.items():
        started = time.perf_counter()
        for message in messages:
            engine.wake(uid, [(message, [])])
        stored = [{"text": f.text, "questions": list(f.questions)} for f in engine.memories(uid)]
        replies = engine.ask_many(uid, [[{"role": "user", "content": q}] for q, _ in asks], 24)
        rows = [
            {"q": q, "expected": a, "reply": r, "ok": a.casefold() in r.casefold()}
            for (q, a), r in zip(asks, replies)
        ]
        print(uid)
        for row in rows:
            print("OK " if row["ok"] else "-- ", row["q"], "->", row["reply"].strip()[:60])
        hits, total = hits + sum(r["ok"] for r in rows), total + len(rows)
        result["scenarios"][uid] = {  # type: ignore[index]
            "recall": sum(r["ok"] for r in rows) / len(rows),
            "asked": rows,
            "stored_facts": stored,
            "seconds": time.perf_counter() - started,
        }
    result["recall"] = hits / total
    out.write_text(json.dumps(result, indent=1) + "\n", "utf-8")
    print(f"recall {result['recall']:.0%} ({hits}/{total}), wrote {out}")


if __name__ == "__main__":
    pairs = (arg.split("=", 1) for arg in sys.argv[2:])
    main(Path(sys.argv[1]), {k: json.loads(v) for k, v in pairs})
