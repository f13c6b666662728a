"""The conversation benchmark: memory as people meet it (format: shared/bench/CONVERSATIONS.md).

Two runs over the same file, each on its own bench users:
- ``end_to_end``: each user's turns are played as one running chat: the bot answers with the
  user's memory live, and the turn goes through the wake path the server uses (extract,
  then edit) with the conversation so far as history.
- ``editor``: the same turns, but each turn's gold facts are written as explicit facts (the
  canonical question and answer, as ``/remember`` would give them) and each forget request
  forgets its gold fact, so the editor is measured without the extractor.
Then every question is asked in a new conversation under each of the file's contexts, and
every held-out paraphrase in a fresh chat, after a sleep (fresh chats also before it). The
file's contexts and paraphrases never reach the editor: they are the held-out test.
"""

from __future__ import annotations

import json
import statistics as stats_mod
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from .backends.base import Factors, text_of
from .bench import (
    ANSWER_TOKENS,
    correct,
    fact_matches,
    knowledge_hits,
    progress_bar,
    rate,
    run_header,
)
from .facts import explicit
from .memory import Engine

REPLY_TOKENS = 48  # the bot's own replies while the conversation is played
MODES = ("editor", "end_to_end")


def _play(
    engine: Engine, uid: str, user: dict[str, Any], mode: str, timing: dict[str, list[Any]]
) -> dict[str, Any]:
    """Tell the bot everything ``user`` says; returns extraction counts for the run."""
    messages: list[dict[str, str]] = []
    forgets = iter(user.get("forgotten", []))
    gold_n = found_n = stored_n = right_n = 0
    misses, false = [], []
    for turn in user["turns"]:
        text = turn["text"]
        if mode == "end_to_end":
            history = [(m["role"], m["content"]) for m in messages]
            messages.append({"role": "user", "content": text})
            reply = text_of(engine.reply(uid, messages, REPLY_TOKENS))
            report = engine.observe(uid, text, history)
            messages.append({"role": "assistant", "content": reply})
            added = report.added
            gold = turn.get("facts", [])
            gold_n += len(gold)
            hit = [g for g in gold if any(fact_matches(f, g) for f in added)]
            found_n += len(hit)
            misses += [f"{g['q']} {g['answer']}" for g in gold if g not in hit]
            stored_n += len(added)
            ok = [f for f in added if any(fact_matches(f, g) for g in gold)]
            right_n += len(ok)
            false += [f.text for f in added if f not in ok]
        else:
            if turn.get("kind") == "forget":
                target = next(forgets, None)
                if target is not None:
                    for fact in engine.memories(uid):
                        if fact.questions and fact.questions[0] == target["q"]:
                            engine.forget(uid, fact.id)
                continue
            facts = [explicit(g["q"], g["answer"]) for g in turn.get("facts", [])]
            if not facts:
                continue
            report = engine.write(uid, facts)
        if report.added:
            timing["edit_s"].append(report.seconds)
            timing["edit_s_per_fact"].append(report.seconds / len(report.added))
            timing["edits"].append(
                {
                    "seconds": report.seconds,
                    "facts": len(report.added),
                    "superseded": len(report.superseded),
                    "incremental": report.incremental,
                    "compact_share": report.compact_share,
                    "phases": report.phases,
                }
            )
    return {
        "gold": gold_n,
        "found": found_n,
        "stored": stored_n,
        "right": right_n,
        "misses": misses,
        "false": false,
    }


def _ask(
    engine: Engine, uid: str, asks: list[tuple[list[dict[str, str]], dict]]
) -> tuple[list[bool], list[str]]:
    """Each (conversation, question) asked in one batch: hits and the replies."""
    replies = engine.ask_many(uid, [conv for conv, _ in asks], ANSWER_TOKENS)
    return [
        correct(reply, q["expect"], q.get("forbid", [])) for reply, (_, q) in zip(replies, asks)
    ], replies


def _question(q: dict[str, Any], context: list[dict[str, str]], text: str | None = None):
    return [*context, {"role": "user", "content": text or q["q"]}]


def _evaluate(
    engine: Engine,
    users: list[tuple[str, dict[str, Any]]],
    contexts: list[dict[str, Any]],
    bar: Any,
    fresh_only: bool = False,
) -> dict[str, Any]:
    per_context: dict[str, list[bool]] = {c["name"]: [] for c in contexts}
    paraphrase: list[bool] = []
    superseded: list[bool] = []
    forgotten: list[bool] = []
    failures: list[dict[str, str]] = []
    chosen = contexts[:1] if fresh_only else contexts
    for uid, user in users:
        for ctx in chosen:
            asks = [(_question(q, ctx["messages"]), q) for q in user["questions"]]
            hits, replies = _ask(engine, uid, asks)
            per_context[ctx["name"]] += hits
            failures += [
                {"user": uid, "context": ctx["name"], "q": q["q"], "reply": r}
                for h, r, (_, q) in zip(hits, replies, asks)
                if not h
            ][:3]
            bar.update(len(asks))
        if fresh_only:
            continue
        asks = [
            (_question(q, [], p), {**q, "q": p})
            for q in user["questions"]
            for p in q.get("paraphrases", [])
        ]
        hits, _ = _ask(engine, uid, asks)
        paraphrase += hits
        bar.update(len(asks))
        asks = [(_question(s, []), s) for s in user.get("superseded", [])]
        superseded += _ask(engine, uid, asks)[0]
        asks = [
            (_question(f, []), {"expect": [""], "forbid": f["forbid"]})
            for f in user.get("forgotten", [])
        ]
        forgotten += _ask(engine, uid, asks)[0]
    out: dict[str, Any] = {name: rate(h) for name, h in per_context.items() if h}
    if not fresh_only:
        out.update(
            paraphrase=rate(paraphrase),
            superseded_ok=rate(superseded) if superseded else None,
            forgotten_ok=rate(forgotten) if forgotten else None,
        )
    out["failures"] = failures[:30]
    return out


def _leaks(engine: Engine, users: list[tuple[str, dict[str, Any]]]) -> list[dict[str, str]]:
    """Each user's questions asked as the next user, in a fresh chat: the first user's
    answers must not come back. Not counted: answers both users share, and answers the bare
    model gives to that question with no memory at all ("What kind of pet do I have?" ->
    "... What's your cat's name?"), which no memory carried over."""
    leaks = []
    for i, (owner_id, owner) in enumerate(users):
        other_id, other = users[(i + 1) % len(users)]
        if other_id == owner_id:
            continue
        theirs = {w.casefold() for q in other["questions"] for w in q["expect"]}
        qs = [q for q in owner["questions"] if not any(e.casefold() in theirs for e in q["expect"])]
        asked = [_question(q, []) for q in qs]
        bare = engine.ask_many(other_id, asked, ANSWER_TOKENS, factors=Factors())
        replies = engine.ask_many(other_id, asked, ANSWER_TOKENS)
        for q, reply, guess in zip(qs, replies, bare):
            if correct(reply, q["expect"]) and not correct(guess, q["expect"]):
                leaks.append({"question": q["q"], "owner": owner_id, "asked_as": other_id})
    return leaks


def _general(
    engine: Engine, users: list[tuple[str, dict[str, Any]]], gk: list[dict], neutral: list[str]
) -> tuple[float, float]:
    hits, drifts = [], []
    for uid, _ in users:
        hits += knowledge_hits(engine, uid, gk)
        drifts.append(engine.drift(engine.factors(uid), neutral))
    return rate(hits), float(np.mean(drifts)) if drifts else 0.0


def storage(engine: Engine, uids: list[str]) -> dict[str, float]:
    """What the users' memories cost after sleep: the edit files and the ledgers, per
    active fact, and the stored update's rank per layer per fact."""
    facts = edit_bytes = ledger_bytes = ranks = layers = 0
    for uid in uids:
        mem = engine.memory(uid)
        facts += len(mem.facts())
        edit_bytes += mem.bytes_on_disk()
        ledger_bytes += mem.ledger_bytes()
        for batch in mem.batches():
            ranks += sum(r.shape[1] for r, _ in batch.layers.values())
            layers = max(layers, len(batch.layers))
    per = max(facts, 1)
    return {
        "facts": facts,
        "edit_bytes_per_fact": edit_bytes / per,
        "ledger_bytes_per_fact": ledger_bytes / per,
        "rank_per_layer_per_fact": ranks / max(layers, 1) / per,
    }


def run_mode(
    engine: Engine,
    data: dict[str, Any],
    mode: str,
    gk: list[dict],
    neutral: list[str],
    progress: bool,
    base_gk: float,
) -> dict[str, Any]:
    users = [(f"bench-{mode}:{u['user']}", u) for u in data["users"]]
    for uid, _ in users:
        if engine.memories(uid):
            engine.forget_all(uid)
    timing: dict[str, list[Any]] = {"edit_s": [], "edit_s_per_fact": [], "edits": []}
    extraction = {"gold": 0, "found": 0, "stored": 0, "right": 0, "misses": [], "false": []}
    started = time.perf_counter()
    with progress_bar(len(users), f"{mode}: wake", progress) as bar:
        for uid, user in users:
            counts = _play(engine, uid, user, mode, timing)
            for key, value in counts.items():
                extraction[key] += value
            bar.update()
    wake_s = time.perf_counter() - started
    n_q = sum(len(u["questions"]) for _, u in users)
    with progress_bar(n_q, f"{mode}: before sleep", progress) as bar:
        before = _evaluate(engine, users, data["contexts"], bar, fresh_only=True)
    sleeps = []
    with progress_bar(len(users), f"{mode}: sleep", progress) as bar:
        for uid, _ in users:
            sleeps.append(engine.sleep(uid, reason="bench").as_dict())
            bar.update()
    with progress_bar(n_q * (len(data["contexts"]) + 4), f"{mode}: after sleep", progress) as bar:
        after = _evaluate(engine, users, data["contexts"], bar)
    leaks = _leaks(engine, users)
    stored = storage(engine, [uid for uid, _ in users])
    general, drift = _general(engine, users, gk, neutral)
    result: dict[str, Any] = {
        "after_sleep": after,
        "before_sleep": before,
        "leaks": len(leaks),
        "leak_examples": leaks[:5],
        "superseded_ok": after.get("superseded_ok"),
        "forgotten_ok": after.get("forgotten_ok"),
        "general_knowledge": general / base_gk if base_gk else 0.0,
        "general_knowledge_raw": general,
        "ppl_drift": drift,
        "sleep": [{"user": uid, **s} for (uid, _), s in zip(users, sleeps)],
        "storage": stored,
        "timing": {
            "wake_s": wake_s,
            "edit_s_median": stats_mod.median(timing["edit_s"]) if timing["edit_s"] else 0.0,
            "edit_s_p95": float(np.percentile(timing["edit_s"], 95)) if timing["edit_s"] else 0.0,
            "edit_s_per_fact_median": (
                stats_mod.median(timing["edit_s_per_fact"]) if timing["edit_s_per_fact"] else 0.0
            ),
            "edits_incremental": sum(e["incremental"] for e in timing["edits"]),
            # how many edits compaction stored at each share ("none": uncompacted)
            "compact_shares": dict(Counter(str(e["compact_share"]) for e in timing["edits"])),
            "edits": timing["edits"],
            "sleep_s": float(np.mean([s["seconds"] for s in sleeps])),
            "sleep_s_max": float(max(s["seconds"] for s in sleeps)),
            "audit_before_sleep": float(np.mean([s["audit_before"] for s in sleeps])),
            "audit_after_sleep": float(np.mean([s["audit_after"] for s in sleeps])),
        },
    }
    if mode == "end_to_end":
        result["extraction"] = {
            "recall": extraction["found"] / max(extraction["gold"], 1),
            "precision": extraction["right"] / max(extraction["stored"], 1),
            "gold": extraction["gold"],
            "stored": extraction["stored"],
            "misses": extraction["misses"][:40],
            "false_facts": extraction["false"][:40],
        }
    return result


def run_conversation_bench(
    engine: Engine,
    bench_path: Path,
    memory_bench: Path | None = None,
    modes: tuple[str, ...] = MODES,
    users: int | None = None,
    progress: bool = True,
    partial: Callable[[dict[str, Any]], None] | None = None,
) -> dict[str, Any]:
    """Both runs (``modes``) over ``bench_path``; general knowledge and neutral text for
    drift come from ``memory_bench`` (default: memory_bench.json beside the file).
    ``partial(result)`` is called after each run, so a long benchmark can be saved as it goes."""
    data = json.loads(Path(bench_path).read_text("utf-8"))
    if users:
        data = {**data, "users": data["users"][:users]}
    mb_path = (
        Path(memory_bench) if memory_bench else Path(bench_path).with_name("memory_bench.json")
    )
    mb = json.loads(mb_path.read_text("utf-8"))
    gk, neutral = mb["general_knowledge"], mb["neutral_text"]
    started = time.perf_counter()
    stats = engine.statistics()
    base_gk = rate(knowledge_hits(engine, "bench-base", gk))
    result: dict[str, Any] = {
        **run_header(engine, bench_path),
        "users": len(data["users"]),
        "contexts": [c["name"] for c in data["contexts"]],
        "base": {"general_knowledge": base_gk},
    }
    for mode in modes:
        result[mode] = run_mode(engine, data, mode, gk, neutral, progress, base_gk)
        if partial is not None:
            partial(result)
    # The top-level keys: end to end when it ran, else the editor alone.
    main = result.get("end_to_end") or result[modes[0]]
    for key in ("after_sleep", "before_sleep", "leaks", "superseded_ok", "forgotten_ok"):
        result[key] = main[key]
    result["general_knowledge"] = main["general_knowledge"]
    result["ppl_drift"] = main["ppl_drift"]
    result["extraction"] = result.get("end_to_end", {}).get("extraction")
    result["timing"] = {
        "stats_s": stats.seconds,
        "total_s": time.perf_counter() - started,
        **{mode: result[mode]["timing"] for mode in modes},
    }
    return result


def print_table(result: dict[str, Any]) -> None:
    contexts = result["contexts"]
    modes = [m for m in MODES if m in result]
    print(f"{'':28}" + "".join(f"{m:>14}" for m in modes))

    def row(label: str, get: Any) -> None:
        cells = []
        for m in modes:
            value = get(result[m])
            cells.append(f"{value:>14.2f}" if isinstance(value, (int, float)) else f"{'-':>14}")
        print(f"{label:28}" + "".join(cells))

    row("before sleep: fresh", lambda r: r["before_sleep"].get("fresh"))
    for name in contexts:
        row(f"after sleep: {name}", lambda r, n=name: r["after_sleep"].get(n))
    row("after sleep: paraphrase", lambda r: r["after_sleep"].get("paraphrase"))
    row("superseded ok", lambda r: r.get("superseded_ok"))
    row("forgotten ok", lambda r: r.get("forgotten_ok"))
    row("leaks", lambda r: r.get("leaks"))
    row("general knowledge (x base)", lambda r: r.get("general_knowledge"))
    row("perplexity drift", lambda r: r.get("ppl_drift"))
    row("edit s (median)", lambda r: r["timing"]["edit_s_median"])
    row("sleep s (mean)", lambda r: r["timing"]["sleep_s"])
    row("edit KiB per fact", lambda r: r["storage"]["edit_bytes_per_fact"] / 1024)
    ex = result.get("extraction")
    if ex:
        print(f"extraction: recall {ex['recall']:.2f}, precision {ex['precision']:.2f}")
