"""The memory benchmark: the same wake path as chat, then fresh-chat questions.

For every user of the benchmark file: each turn goes through ``Engine.observe`` (extraction
and edit, exactly as in chat), then every question is asked in a fresh chat with that
user's memory, before and after a sleep. A reply is correct when it contains one of
``expect`` and none of ``forbid`` (case-insensitive), as the file's ``about`` says.
"""

from __future__ import annotations

import json
import logging
import platform
import statistics as stats_mod
import time
from pathlib import Path
from typing import Any

import numpy as np

from .backends.base import Factors, text_of
from .config import EngineConfig, config_to_dict
from .facts import Fact
from .memory import Engine

log = logging.getLogger(__name__)

ANSWER_TOKENS = 32


def correct(reply: str, expect: list[str], forbid: list[str] = ()) -> bool:
    text = reply.casefold()
    return any(e.casefold() in text for e in expect) and not any(
        f.casefold() in text for f in forbid
    )


def fact_matches(fact: Fact, gold: dict[str, str]) -> bool:
    """Does a stored fact give a gold fact's answer? The rule every benchmark scores
    extraction by: the gold answer inside the fact's, or a fact's answer of 3+ characters
    inside the gold one ("Le Guin" for "Ursula Le Guin"), case-insensitive."""
    a, g = fact.answer.casefold(), gold["answer"].casefold()
    return g in a or (len(a) >= 3 and a in g)


def machine_header(config: EngineConfig, bench_path: Path) -> dict[str, Any]:
    """The part of a result header that needs no model: machine, config, file."""
    return {
        "machine": platform.machine(),
        "config": config_to_dict(config),
        "bench": str(bench_path),
    }


def run_header(engine: Engine, bench_path: Path) -> dict[str, Any]:
    """What every benchmark result starts with: model, backend, machine, config, file."""
    return {
        "model": engine.backend.model_id,
        "backend": engine.backend.name,
        "device": getattr(engine.backend, "device", "cpu"),
        **machine_header(engine.config, bench_path),
    }


def knowledge_hits(
    engine: Engine, user_id: str, gk: list[dict[str, Any]], factors: Factors | None = None
) -> list[bool]:
    """Each general-knowledge question in ``gk`` asked in an empty chat with ``user_id``'s
    memory (or ``factors``): whether the reply holds its answer."""
    asks = [[{"role": "user", "content": g["question"]}] for g in gk]
    replies = engine.ask_many(user_id, asks, ANSWER_TOKENS, factors)
    return [correct(r, g["expect"]) for r, g in zip(replies, gk)]


def rate(hits: list[bool]) -> float:
    """The share of hits; 0.0 for none asked."""
    return sum(hits) / len(hits) if hits else 0.0


def progress_bar(total: int, desc: str, enabled: bool) -> Any:
    from tqdm import tqdm

    return tqdm(total=total, desc=desc, disable=not enabled, leave=False)


def _phase(engine: Engine, users: list[dict[str, Any]], gk: list[dict[str, Any]], bar: Any) -> dict:
    """Recall, paraphrase recall, general knowledge, drift and leaks with current memories."""
    out: dict[str, Any] = {"per_user": {}}
    all_q, all_p, all_gk, drifts, leaks = [], [], [], [], []
    for user in users:
        uid = user["user"]
        q_hits = []
        for q in user["questions"]:
            q_hits.append(
                correct(engine.ask(uid, q["q"], ANSWER_TOKENS), q["expect"], q.get("forbid", []))
            )
            bar.update()
        p_hits = []
        for q in user.get("paraphrases", []):
            p_hits.append(
                correct(engine.ask(uid, q["q"], ANSWER_TOKENS), q["expect"], q.get("forbid", []))
            )
            bar.update()
        g_hits = []
        for g in gk:
            g_hits.append(correct(engine.ask(uid, g["question"], ANSWER_TOKENS), g["expect"]))
            bar.update()
        drift = engine.drift(engine.factors(uid), _neutral)
        out["per_user"][uid] = {
            "chat_recall": rate(q_hits),
            "paraphrase_recall": rate(p_hits),
            "general_knowledge": rate(g_hits),
            "ppl_drift": drift,
            "facts": len(engine.memories(uid)),
        }
        all_q += q_hits
        all_p += p_hits
        all_gk += g_hits
        drifts.append(drift)
    # Leakage: each user's questions asked as every other user must not get the first
    # user's answers (a question whose answer is shared by both users is not counted).
    for owner in users:
        for other in users:
            if other is owner:
                continue
            theirs = {w.casefold() for q in other["questions"] for w in q["expect"]}
            for q in owner["questions"]:
                if any(e.casefold() in theirs for e in q["expect"]):
                    continue
                reply = engine.ask(other["user"], q["q"], ANSWER_TOKENS)
                if correct(reply, q["expect"]):
                    leaks.append(
                        {
                            "question": q["q"],
                            "owner": owner["user"],
                            "asked_as": other["user"],
                            "reply": reply,
                        }
                    )
                bar.update()
    out.update(
        chat_recall=rate(all_q),
        paraphrase_recall=rate(all_p),
        general_knowledge=rate(all_gk),
        ppl_drift=float(np.mean(drifts)) if drifts else 0.0,
        leaks=len(leaks),
        leak_examples=leaks[:5],
    )
    return out


_neutral: list[str] = []


def run_memory_bench(
    engine: Engine,
    bench_path: Path,
    capacity: int | None = None,
    pool: Path | None = None,
    progress: bool = True,
) -> dict[str, Any]:
    data = json.loads(Path(bench_path).read_text("utf-8"))
    _neutral[:] = data["neutral_text"]
    started = time.perf_counter()
    stats = engine.statistics()
    result = run_header(engine, bench_path)
    if capacity:
        pool = Path(pool) if pool else Path(bench_path).with_name("fact_pool_500.json")
        from .bench_capacity import run_capacity  # it builds on this module's helpers

        result["capacity"] = run_capacity(engine, capacity, pool, data, progress)
        result["timing"] = {"stats_s": stats.seconds, "total_s": time.perf_counter() - started}
        return result

    users = [replace_user_id(u) for u in data["users"]]
    gk = data["general_knowledge"]
    for user in users:  # a clean slate: the benchmark users are the bench's own
        if engine.memories(user["user"]):
            engine.forget_all(user["user"])

    base_gk = []
    n_base = len(gk)
    with progress_bar(n_base, "base model", progress) as bar:
        for g in gk:
            base_gk.append(
                correct(engine.ask("__bench_base__", g["question"], ANSWER_TOKENS), g["expect"])
            )
            bar.update()
    result["base"] = {"general_knowledge": rate(base_gk)}

    edit_s: list[float] = []
    per_fact_s: list[float] = []
    n_turns = sum(len(u["turns"]) for u in users)
    with progress_bar(n_turns, "wake", progress) as bar:
        for user in users:
            history: list[tuple[str, str]] = []
            for turn in user["turns"]:
                report = engine.observe(user["user"], turn, history)
                history.append(("user", turn))
                if report.added:
                    edit_s.append(report.seconds)
                    per_fact_s.append(report.seconds / len(report.added))
                bar.update()

    n_asks = sum(len(u["questions"]) + len(u.get("paraphrases", [])) + len(gk) for u in users)
    n_asks += sum(len(u["questions"]) for u in users) * (len(users) - 1)
    with progress_bar(n_asks, "before sleep", progress) as bar:
        result["before_sleep"] = _phase(engine, users, gk, bar)

    sleeps = []
    for user in users:
        report = engine.sleep(user["user"])
        sleeps.append(report)
    with progress_bar(n_asks, "after sleep", progress) as bar:
        result["after_sleep"] = _phase(engine, users, gk, bar)

    facts = sum(len(engine.memories(u["user"])) for u in users)
    stored = sum(engine.memory(u["user"]).bytes_on_disk() for u in users)
    result["sleep"] = [dict(user=u["user"], **r.as_dict()) for u, r in zip(users, sleeps)]
    result["timing"] = {
        "edit_s_median": stats_mod.median(edit_s) if edit_s else 0.0,
        "edit_s_p95": float(np.percentile(edit_s, 95)) if edit_s else 0.0,
        "edit_s_per_fact_median": stats_mod.median(per_fact_s) if per_fact_s else 0.0,
        "sleep_s": float(np.mean([r.seconds for r in sleeps])),
        "sleep_s_max": float(max(r.seconds for r in sleeps)),
        "stats_s": stats.seconds,
        "total_s": time.perf_counter() - started,
    }
    result["facts"] = facts
    result["bytes_per_fact"] = stored / facts if facts else 0
    return result


def replace_user_id(user: dict[str, Any]) -> dict[str, Any]:
    """Bench users live under a prefix so a real user called "ana" is never touched."""
    return {**user, "user": f"bench:{user['user']}"}


def print_table(result: dict[str, Any]) -> None:
    print(f"model {result['model']}  backend {result['backend']}  device {result['device']}")
    if "capacity" in result:
        cap = result["capacity"]
        persona = cap.get("persona_recall_at", {})
        held = cap.get("paraphrase_recall_at", {})
        for k, v in cap["recall_at"].items():
            under = f"  persona {persona[k]:.0%}" if k in persona else ""
            reworded = f"  held-out wording {held[k]:.0%}" if k in held else ""
            print(f"  recall at {k:>4} facts: {v:.0%}{under}{reworded}")
        print(
            f"  after sleep: {cap['after_sleep_recall']:.0%}  persona "
            f"{cap.get('after_sleep_persona_recall', 0):.0%}  held-out wording "
            f"{cap['after_sleep_paraphrase_recall']:.0%}  sleep {cap['sleep_s']:.0f} s"
        )
        if cap.get("general_knowledge") is not None:
            print(f"  general knowledge {cap['general_knowledge']:.2f} x base", end="")
            print(f", drift {cap['ppl_drift']:+.2%}" if "ppl_drift" in cap else "")
        print(f"  edit s: median {cap['edit_s_median']:.1f}, p95 {cap['edit_s_p95']:.1f}")
        return
    rows = ("chat_recall", "paraphrase_recall", "general_knowledge", "ppl_drift", "leaks")
    print(f"{'metric':<20}{'before sleep':>14}{'after sleep':>14}")
    for key in rows:
        b, a = result["before_sleep"][key], result["after_sleep"][key]
        fmt = (
            (lambda v: f"{v:+.2%}")
            if key == "ppl_drift"
            else (lambda v: f"{v}" if isinstance(v, int) else f"{v:.0%}")
        )
        print(f"{key:<20}{fmt(b):>14}{fmt(a):>14}")
    t = result["timing"]
    print(
        f"base general knowledge {result['base']['general_knowledge']:.0%}; edit median "
        f"{t['edit_s_median']:.1f} s, p95 {t['edit_s_p95']:.1f} s per message "
        f"({t['edit_s_per_fact_median']:.1f} s per fact); sleep {t['sleep_s']:.0f} s; "
        f"statistics {t['stats_s']:.0f} s; {result['bytes_per_fact'] / 1024:.0f} KiB per fact"
    )


# ------------------------------------------------------------------ ablation
ABLATIONS: dict[str, dict[str, Any]] = {
    "default (joint, question keys, question protection)": {},
    "no question-key protection": {"editor.question_weight": 0.0},
    "declarative keys only": {"editor.key_source": "statements"},
    "one question per fact": {"editor.max_rank_per_fact": 1},
    "lambda 15000 (MEMIT default)": {"editor.mom2_weight": 15000.0},
    "AlphaEdit null space, energy 0.99": {"editor.nullspace": True},
}


def run_ablation(
    engine: Engine, bench_path: Path, names: list[str] | None = None, progress: bool = True
) -> dict[str, Any]:
    """Wake one benchmark user under each editor variant (no sleep) and measure.

    All variants share the loaded model and its statistics; each gets its own user id so
    their memories never mix.
    """
    data = json.loads(Path(bench_path).read_text("utf-8"))
    user, gk = data["users"][0], data["general_knowledge"]
    rows = {}
    for i, name in enumerate(names or list(ABLATIONS)):
        variant = variant_engine(engine, ABLATIONS[name])
        uid = f"bench:ablation:{i}"
        if variant.memories(uid):
            variant.forget_all(uid)
        t0 = time.perf_counter()
        for turn in user["turns"]:
            variant.observe(uid, turn)
        wake_s = time.perf_counter() - t0
        chat = [
            correct(variant.ask(uid, q["q"], ANSWER_TOKENS), q["expect"], q.get("forbid", []))
            for q in user["questions"]
        ]
        para = [
            correct(variant.ask(uid, q["q"], ANSWER_TOKENS), q["expect"])
            for q in user["paraphrases"]
        ]
        know = [correct(variant.ask(uid, g["question"], ANSWER_TOKENS), g["expect"]) for g in gk]
        raw = [
            correct(text_of(variant.backend.generate(s, 8, variant.factors(uid))), [f.answer])
            for f in variant.memories(uid)
            for s in f.statements[:1]
        ]
        rows[name] = {
            "overrides": ABLATIONS[name],
            "chat_recall": rate(chat),
            "paraphrase_recall": rate(para),
            "raw_completion_recall": rate(raw),
            "general_knowledge": rate(know),
            "ppl_drift": variant.drift(variant.factors(uid), data["neutral_text"]),
            "wake_s": wake_s,
        }
        log.info("ablation %s: %s", name, rows[name])
        variant.forget_all(uid)
    return {"user": user["user"], "variants": rows}


def nested_overrides(flat: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """``{"editor.layers": [..]}`` -> ``{"editor": {"layers": [..]}}``."""
    out: dict[str, dict[str, Any]] = {}
    for key, value in flat.items():
        section, _, field_name = key.partition(".")
        if not field_name:
            raise ValueError(f"override {key!r} needs a section, e.g. editor.layers")
        out.setdefault(section, {})[field_name] = value
    return out


def variant_engine(engine: Engine, overrides: dict[str, Any]) -> Engine:
    """An engine on ``engine``'s loaded model and plugins with its config plus ``overrides``
    (dotted keys); the statistics are shared when the edited layers are the same."""
    from .config import load_config

    merged = config_to_dict(engine.config)
    for section, values in nested_overrides(overrides).items():
        merged[section] = {**merged.get(section, {}), **values}
    cfg = load_config(overrides=merged, discover=False, env={})
    variant = Engine(cfg, engine.backend, engine.plugins)
    if variant.settings.layers == engine.settings.layers:
        variant._stats = engine._stats
    return variant


def print_ablation(result: dict[str, Any]) -> None:
    cols = (
        "chat_recall",
        "paraphrase_recall",
        "raw_completion_recall",
        "general_knowledge",
        "ppl_drift",
    )
    print(f"{'variant':<52}" + "".join(f"{c[:12]:>13}" for c in cols))
    for name, row in result["variants"].items():
        print(f"{name:<52}" + "".join(f"{row[c]:>13.2f}" for c in cols))
