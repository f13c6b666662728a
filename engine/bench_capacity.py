"""The capacity benchmark (``sleepmem bench memory --capacity N``): N facts about one
user's friends, told five at a time, recall after each step in an empty chat and under a
persona, then a sleep; each edit's seconds split by phase, bytes stored per fact.

The facts come from the predecessor's pool (``fact_pool_500.json``): fifty friends per
relation, so the first fifty share one relation and differ only by the friend's name, the
hardest case for keys that must tell "my friend Aria" from "my friend Bo".
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import numpy as np

from .backends.base import Factors
from .bench import ANSWER_TOKENS, correct, knowledge_hits, progress_bar, rate
from .facts import Fact
from .memory import Engine

CAPACITY_POINTS = (10, 25, 50, 100)

# One more way of asking each relation, never given to the facts (the name without "my
# friend", other words): recall on it is the held-out paraphrase figure.
HELD_OUT: dict[str, str] = {
    "lives in": "Which place does {s} call home?",
    "works as": "What does {s} do for a living?",
    "'s favorite color is": "Which colour is {s}'s favourite?",
    "'s favorite food is": "What does {s} like to eat most?",
    "is aged": "How many years old is {s}?",
    "speaks": "What language is {s} fluent in?",
    "studied": "What was {s}'s degree in?",
    "graduated in": "Which year did {s} finish university?",
    "is allergic to": "What can't {s} eat because of an allergy?",
    "is learning": "What is {s} trying to learn at the moment?",
}

_CAPACITY_PHRASES = {
    "lives in": (
        "My friend {s} lives in {o}.",
        [
            "Where does my friend {s} live?",
            "Which city does my friend {s} live in?",
            "Where is my friend {s}'s home?",
        ],
    ),
    "works as": (
        "My friend {s} works as {a} {o}.",
        [
            "What is my friend {s}'s job?",
            "What does my friend {s} do for work?",
            "What is {s}'s profession?",
        ],
    ),
    "'s favorite color is": (
        "My friend {s}'s favorite color is {o}.",
        [
            "What is my friend {s}'s favorite color?",
            "Which colour does my friend {s} like best?",
            "What is {s}'s favourite colour?",
        ],
    ),
    "'s favorite food is": (
        "My friend {s}'s favorite food is {o}.",
        [
            "What is my friend {s}'s favorite food?",
            "Which food does my friend {s} love most?",
            "What is {s}'s favourite dish?",
        ],
    ),
    "is aged": (
        "My friend {s} is {o} years old.",
        ["How old is my friend {s}?", "What is my friend {s}'s age?", "What age is {s}?"],
    ),
    "speaks": (
        "My friend {s} speaks {o}.",
        [
            "What language does my friend {s} speak?",
            "Which language does {s} speak?",
            "What does my friend {s} speak?",
        ],
    ),
    "studied": (
        "My friend {s} studied {o}.",
        [
            "What did my friend {s} study?",
            "What was my friend {s}'s subject?",
            "What did {s} study at university?",
        ],
    ),
    "graduated in": (
        "My friend {s} graduated in {o}.",
        [
            "When did my friend {s} graduate?",
            "What year did my friend {s} graduate?",
            "In which year did {s} graduate?",
        ],
    ),
    "is allergic to": (
        "My friend {s} is allergic to {o}.",
        [
            "What is my friend {s} allergic to?",
            "What allergy does my friend {s} have?",
            "What must {s} avoid because of an allergy?",
        ],
    ),
    "is learning": (
        "My friend {s} is learning {o}.",
        [
            "What is my friend {s} learning?",
            "What is my friend {s} studying now?",
            "What is {s} learning these days?",
        ],
    ),
}


def pool_facts(pool_path: Path, limit: int) -> list[Fact]:
    """The predecessor's 500-fact pool (shared/bench/fact_pool_500.json) as a user's friends."""
    pool = json.loads(Path(pool_path).read_text("utf-8"))
    facts = []
    for item in pool[:limit]:
        text, questions = _CAPACITY_PHRASES[item["relation"]]
        s, o = item["subject"], item["object"]
        art = "an" if o[:1].lower() in "aeiou" else "a"
        facts.append(
            Fact(
                text=text.format(s=s, o=o, a=art),
                subject=f"my friend {s}",
                relation=item["relation"],
                object=o,
                answer=o,
                questions=tuple(q.format(s=s) for q in questions),
                slot=f"friend:{s.lower()}:{item['relation']}",
                source="capacity bench",
                extractor="bench",
            )
        )
    return facts


def _persona_context(bench_dir: Path) -> list[dict[str, str]] | None:
    """The persona card of the conversation bench beside the pool (a held-out context: the
    engine never trains on it), or None when that file is not there."""
    path = bench_dir / "conversation_bench.json"
    if not path.exists():
        return None
    contexts = json.loads(path.read_text("utf-8")).get("contexts", [])
    return next((c["messages"] for c in contexts if c.get("name") == "persona"), None)


def held_out_question(fact: Fact) -> str:
    """The relation's held-out wording about ``fact``'s friend."""
    return HELD_OUT[fact.relation].format(s=fact.subject.removeprefix("my friend "))


FAILURES_KEPT = 10  # wrong replies listed per context after the sleep


def _recall(
    engine: Engine,
    uid: str,
    facts: list[Fact],
    context: list[dict[str, str]],
    held_out: bool = False,
    failures: list[dict[str, str]] | None = None,
) -> float:
    """The share of ``facts`` answered; the first wrong replies go to ``failures``."""
    asked = [held_out_question(f) if held_out else f.questions[0] for f in facts]
    asks = [[*context, {"role": "user", "content": q}] for q in asked]
    replies = engine.ask_many(uid, asks, ANSWER_TOKENS)
    hits = [correct(r, [f.answer]) for r, f in zip(replies, facts)]
    if failures is not None:
        wrong = [(q, r, f) for q, r, f, hit in zip(asked, replies, facts, hits) if not hit]
        failures += [
            {"q": q, "expected": f.answer, "reply": r} for q, r, f in wrong[:FAILURES_KEPT]
        ]
    return rate(hits)


def run_capacity(
    engine: Engine, n: int, pool: Path, bench: dict[str, Any], progress: bool
) -> dict[str, Any]:
    """N pool facts told five at a time: recall at each point in a fresh chat, under a
    persona and in a held-out wording, each edit's seconds and where they went, the sleep,
    then general knowledge (x the base model's) and perplexity drift on ``bench``'s
    questions and text, bytes per fact."""
    uid = "bench:capacity"
    persona = _persona_context(Path(pool).parent)
    if engine.memories(uid):
        engine.forget_all(uid)
    facts = pool_facts(pool, n)
    points = sorted({p for p in CAPACITY_POINTS if p <= n} | {n})
    out: dict[str, Any] = {"recall_at": {}, "edit_s": [], "edits": []}
    written = 0
    with progress_bar(n, "capacity", progress) as bar:
        for point in points:
            while written < point:
                chunk = facts[written : min(point, written + 5)]
                t0 = time.perf_counter()
                report = engine.write(uid, chunk)
                out["edit_s"].append(time.perf_counter() - t0)
                out["edits"].append(
                    {
                        "facts_before": written,
                        "facts": len(chunk),
                        "seconds": out["edit_s"][-1],
                        "incremental": report.incremental,
                        "phases": report.phases,
                    }
                )
                written += len(chunk)
                bar.update(len(chunk))
            out["recall_at"][str(point)] = _recall(engine, uid, facts[:point], [])
            held = _recall(engine, uid, facts[:point], [], held_out=True)
            out.setdefault("paraphrase_recall_at", {})[str(point)] = held
            if persona:
                recall = _recall(engine, uid, facts[:point], persona)
                out.setdefault("persona_recall_at", {})[str(point)] = recall
    report = engine.sleep(uid)
    wrong: dict[str, list[dict[str, str]]] = {"fresh": [], "held_out": [], "persona": []}
    out["after_sleep_recall"] = _recall(engine, uid, facts, [], failures=wrong["fresh"])
    out["after_sleep_paraphrase_recall"] = _recall(
        engine, uid, facts, [], held_out=True, failures=wrong["held_out"]
    )
    if persona:
        out["after_sleep_persona_recall"] = _recall(
            engine, uid, facts, persona, failures=wrong["persona"]
        )
    out["after_sleep_failures"] = wrong
    told = ("kept_new", "reason", "drift_before", "drift_after", "audit_before", "audit_after")
    out["sleep"] = {k: getattr(report, k) for k in told}
    gk = bench.get("general_knowledge", [])
    if gk:
        base = rate(knowledge_hits(engine, uid, gk, Factors()))
        out["general_knowledge"] = rate(knowledge_hits(engine, uid, gk)) / base if base else None
    if bench.get("neutral_text"):
        out["ppl_drift"] = engine.drift(engine.factors(uid), bench["neutral_text"])
    out["sleep_s"] = report.seconds
    out["sleep_phases"] = report.phases
    out["bytes_per_fact"] = engine.memory(uid).bytes_on_disk() / max(len(facts), 1)
    out["ledger_bytes_per_fact"] = engine.memory(uid).ledger_bytes() / max(len(facts), 1)
    times = sorted(out["edit_s"])
    out["edit_s_median"] = float(np.median(times)) if times else None
    out["edit_s_p95"] = times[min(len(times) - 1, int(0.95 * len(times)))] if times else None
    return out
