"""``sleepmem bench levers``: editor variants side by side on the conversation benchmark.

For choosing the editor's settings by measurement. Each variant (config overrides on top of
the effective config) writes every chosen user's final gold facts (the last answer told
for each question) in one edit, as ``/remember`` would, with no extractor and no sleep, and
is then asked every question under each of the file's contexts and every held-out
paraphrase, in new conversations. General knowledge and drift on neutral text come from
``memory_bench.json``. Variants run one after another on the one loaded model.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import numpy as np

from .bench import correct, knowledge_hits, rate, variant_engine
from .bench_conversations import storage
from .bench_firing import firing
from .facts import explicit
from .memory import Engine

ANSWER_TOKENS = 16


def uid_of(user: dict[str, Any]) -> str:
    """The memory a bench user's facts are written into."""
    return f"bench-levers:{user['user']}"


def final_facts(user: dict[str, Any]) -> list[tuple[str, str]]:
    """(question, answer) of each gold fact as it stands after the whole conversation."""
    last: dict[str, str] = {}
    for turn in user["turns"]:
        for gold in turn.get("facts", []):
            last[gold["q"]] = gold["answer"]
    forgotten = {f["q"] for f in user.get("forgotten", [])}
    return [(q, a) for q, a in last.items() if q not in forgotten]


IN_CONTEXT = "in_context"
"""The reference row of ``run_levers(in_context=True)``: no edit at all, each user's gold
facts written into the conversation's system prompt instead. It is prompt stuffing, which
sleepmem does not do; it tells how much of a question's wording the model itself can map
onto a fact it is shown, which bounds what an edit of its weights can be expected to
carry over to paraphrases."""


def facts_note(facts: list[tuple[str, str]]) -> str:
    """The gold facts as the in-context reference shows them to the model."""
    return "What you know about the user:\n" + "\n".join(f"- {q} {a}" for q, a in facts)


def with_note(messages: list[dict[str, str]], note: str | None) -> list[dict[str, str]]:
    """``messages`` with ``note`` after their system prompt, or as one if they have none."""
    if note is None:
        return list(messages)
    if messages and messages[0]["role"] == "system":
        first = {"role": "system", "content": f"{messages[0]['content']}\n\n{note}"}
        return [first, *messages[1:]]
    return [{"role": "system", "content": note}, *messages]


def measure(
    engine: Engine,
    data: dict[str, Any],
    users: list[dict[str, Any]],
    mb: dict[str, Any],
    in_context: bool = False,
    diagnose: bool = False,
) -> dict[str, Any]:
    """Recall under every context and on every paraphrase after one edit of each user's
    final gold facts; with ``in_context``, no edit and the facts in the system prompt (the
    paraphrases then go under the facts' note alone, as they go under no prompt otherwise).
    With ``diagnose``, also where the edit fails per context (``bench_firing``)."""
    per_context: dict[str, list[bool]] = {c["name"]: [] for c in data["contexts"]}
    paraphrase: list[bool] = []
    edit_s, drifts, failures = [], [], []
    fired: dict[str, list[dict[str, float]]] = {}
    for user in users:
        uid = uid_of(user)
        if engine.memories(uid):
            engine.forget_all(uid)
        note = facts_note(final_facts(user)) if in_context else None
        if not in_context:
            started = time.perf_counter()
            engine.write(uid, [explicit(q, a) for q, a in final_facts(user)])
            edit_s.append(time.perf_counter() - started)
        for ctx in data["contexts"]:
            convs = [
                with_note([*ctx["messages"], {"role": "user", "content": q["q"]}], note)
                for q in user["questions"]
            ]
            for q, reply in zip(user["questions"], engine.ask_many(uid, convs, ANSWER_TOKENS)):
                ok = correct(reply, q["expect"], q.get("forbid", []))
                per_context[ctx["name"]].append(ok)
                if not ok:
                    failures.append({"context": ctx["name"], "q": q["q"], "reply": reply})
        asks = [(p, q) for q in user["questions"] for p in q.get("paraphrases", [])]
        convs = [with_note([{"role": "user", "content": p}], note) for p, _ in asks]
        for (asked, q), reply in zip(asks, engine.ask_many(uid, convs, ANSWER_TOKENS)):
            ok = correct(reply, q["expect"], q.get("forbid", []))
            paraphrase.append(ok)
            if not ok:
                failures.append({"context": "paraphrase", "q": asked, "reply": reply})
        if not in_context:
            drifts.append(engine.drift(engine.factors(uid), mb["neutral_text"]))
        if diagnose and not in_context:
            for name, row in firing(engine, uid, user["questions"], data["contexts"]).items():
                fired.setdefault(name, []).append(row)
    gk_hits = knowledge_hits(engine, uid_of(users[0]), mb["general_knowledge"])
    diagnosis = {
        name: {k: float(np.mean([r[k] for r in rows])) for k in rows[0]}
        for name, rows in fired.items()
    }
    return {
        **({"firing": diagnosis} if diagnose and not in_context else {}),
        **{name: rate(hits) for name, hits in per_context.items()},
        "paraphrase": rate(paraphrase),
        "general_knowledge_raw": rate(gk_hits),
        "ppl_drift": float(np.mean(drifts)) if drifts else 0.0,
        "edit_s": edit_s,
        "storage": None if in_context else storage(engine, [uid_of(u) for u in users]),
        "failures": failures,
    }


def run_levers(
    engine: Engine,
    bench_path: Path,
    variants: dict[str, dict[str, Any]],
    user_names: list[str] | None = None,
    memory_bench: Path | None = None,
    in_context: bool = False,
    diagnose: bool = False,
) -> dict[str, Any]:
    """Each variant measured in turn (``measure``); with ``in_context``, the reference row
    ``IN_CONTEXT`` first."""
    data = json.loads(Path(bench_path).read_text("utf-8"))
    users = [u for u in data["users"] if not user_names or u["user"] in user_names]
    if not users:
        raise ValueError(f"no user of {bench_path} is named {user_names}")
    mb_path = memory_bench or Path(bench_path).with_name("memory_bench.json")
    mb = json.loads(Path(mb_path).read_text("utf-8"))
    result: dict[str, Any] = {"users": [u["user"] for u in users], "variants": {}}
    if in_context:
        result["variants"][IN_CONTEXT] = {"overrides": {}, **measure(engine, data, users, mb, True)}
    for name, overrides in variants.items():
        variant = variant_engine(engine, overrides)
        row = measure(variant, data, users, mb, diagnose=diagnose)
        result["variants"][name] = {"overrides": overrides, **row}
    return result
