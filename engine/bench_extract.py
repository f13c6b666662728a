"""The extraction benchmark: what wake finds in each message, scored per turn, no edit.

Each user's turns (format: shared/bench/CONVERSATIONS.md) are played in order through the
path wake takes (``hooks.Plugins.extract``: the chosen extractors, then the
``extract_facts`` hook, with the user's earlier turns as history; ``before_edit`` vets
each fact). What a turn yields lands on a per-user ledger by the slot rule of
``Engine.write`` (``facts.slot_writes``), so a correction supersedes the fact in its slot
as it would in the model. Turns are scored against their gold facts with the rule the
conversation bench uses (``bench.fact_matches``), so its end-to-end extraction figures
agree with these.

Per run (one extractor alone, or a combination): recall, precision, per-user figures,
corrections superseded, forget requests honoured (``Plugins.forget_requests``, matched as
``Engine.wake`` does with ``facts.forget_matches``), changes made on chatter turns (and on
questions or hypotheticals where the file marks them), ms per message, and every miss and
false fact with the text of its turn. Only the model extractor needs a model (``chat``);
the caller passes the plugins and names that extractor, so this module imports none.
"""

from __future__ import annotations

import json
import statistics as stats_mod
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from .bench import fact_matches, machine_header
from .commands import is_command
from .config import EngineConfig
from .errors import InputError
from .facts import Fact, forget_matches, slot_writes
from .hooks import ChatFn, ExtractContext, Plugins

QUIET_KINDS = ("question", "hypothetical")  # turns that must change nothing, where marked
LIST_LIMIT = 200  # misses / false facts kept per run: enough to read every failure here


@dataclass
class _Tally:
    """Counts of one run over some users."""

    gold: int = 0
    found: int = 0
    scored: int = 0  # facts that changed memory (new) or confirmed a gold fact (known)
    right: int = 0
    stored: int = 0  # new facts written

    def add(self, other: _Tally) -> None:
        for name in self.__dataclass_fields__:
            setattr(self, name, getattr(self, name) + getattr(other, name))

    def figures(self) -> dict[str, Any]:
        return {
            "recall": self.found / self.gold if self.gold else 0.0,
            # None, not 1.0, when nothing was stored: an empty memory is not precise
            "precision": self.right / self.scored if self.scored else None,
            **{name: getattr(self, name) for name in self.__dataclass_fields__},
        }


@dataclass
class _Run:
    """Everything one run collects while the users are played."""

    tally: _Tally = field(default_factory=_Tally)
    per_user: dict[str, dict[str, Any]] = field(default_factory=dict)
    ms: list[float] = field(default_factory=list)
    misses: list[dict[str, Any]] = field(default_factory=list)
    false: list[dict[str, Any]] = field(default_factory=list)
    corrections: list[dict[str, Any]] = field(default_factory=list)
    forgets: list[dict[str, Any]] = field(default_factory=list)
    quiet: dict[str, dict[str, int]] = field(default_factory=dict)


def _brief(fact: Fact) -> dict[str, str]:
    return {
        "q": fact.questions[0] if fact.questions else "",
        "answer": fact.answer,
        "text": fact.text,
        "slot": fact.slot_key,
        "extractor": fact.extractor,
    }


def _vet(plugins: Plugins, user_id: str, facts: Iterable[Fact]) -> list[Fact]:
    """The facts ``before_edit`` lets through, as a plugin rewrote them."""
    out = []
    for fact in facts:
        verdict = plugins.before_edit(user_id, fact)
        if verdict is False:
            continue
        out.append(verdict if isinstance(verdict, Fact) else fact)
    return out


def _says(
    active: Iterable[Fact], golds: Iterable[dict[str, str]], forbid: Sequence[str] = ()
) -> bool:
    """Does memory still give one of ``golds``' answers, or contain one of ``forbid``?"""
    golds, bad = list(golds), [f.casefold() for f in forbid]
    return any(
        any(fact_matches(f, g) for g in golds) or any(b in f.answer.casefold() for b in bad)
        for f in active
    )


def _earlier(user: dict[str, Any], q: str, before: int | None = None) -> list[dict[str, str]]:
    """Gold facts asked with ``q`` in the user's turns (before turn index ``before``)."""
    turns = user["turns"][:before] if before is not None else user["turns"]
    return [g for t in turns for g in t.get("facts", []) if g["q"] == q]


def _judge_corrections(
    user: dict[str, Any], active: list[Fact], ever: list[Fact], run: _Run
) -> None:
    """Each ``superseded`` entry: the new value held, the old one gone."""
    for entry in user.get("superseded", []):
        q = entry["q"]
        at = max(
            (i for i, t in enumerate(user["turns"]) for g in t.get("facts", []) if g["q"] == q),
            default=None,
        )
        if at is None:
            continue
        new = next(g for g in user["turns"][at]["facts"] if g["q"] == q)
        old = [
            g for g in _earlier(user, q, at) if g["answer"].casefold() != new["answer"].casefold()
        ]
        has_new = _says(active, [new])
        has_old = _says(active, old, entry.get("forbid", []))
        run.corrections.append(
            {
                "user": user["user"],
                "q": q,
                "new": new["answer"],
                "old": [g["answer"] for g in old],
                "old_was_stored": _says(ever, old),
                "ok": has_new and not has_old,
                "text": user["turns"][at]["text"],
                "held": [_brief(f) for f in active if any(fact_matches(f, g) for g in [new, *old])],
            }
        )


def _judge_forgets(user: dict[str, Any], active: list[Fact], ever: list[Fact], run: _Run) -> None:
    """Each ``forgotten`` entry: memory no longer says the value."""
    texts = [t["text"] for t in user["turns"] if t.get("kind") == "forget"]
    for i, entry in enumerate(user.get("forgotten", [])):
        targets = _earlier(user, entry["q"])
        forbid = entry.get("forbid", [])
        still = _says(active, targets, forbid)
        run.forgets.append(
            {
                "user": user["user"],
                "q": entry["q"],
                "forbid": forbid,
                "was_stored": _says(ever, targets, forbid),
                "ok": not still,
                "text": texts[i] if i < len(texts) else "",
            }
        )


def _play(
    plugins: Plugins,
    user: dict[str, Any],
    names: Sequence[str],
    chat: ChatFn | None,
    run: _Run,
) -> None:
    """Tell everything ``user`` says, scoring each turn as it lands on the ledger."""
    uid = f"bench-extract:{user['user']}"
    active: dict[str, Fact] = {}
    ever: list[Fact] = []
    history: list[tuple[str, str]] = []
    tally = _Tally()
    for index, turn in enumerate(user["turns"]):
        text = turn["text"]
        context = ExtractContext(
            user_id=uid, history=tuple(history), chat=chat, known=tuple(active.values())
        )
        started = time.perf_counter()
        # Engine.wake treats a command as a command, never as facts.
        command = is_command(text)
        raw = [] if command else plugins.extract(text, context, names)
        requests = [] if command else plugins.forget_requests(text, context)
        run.ms.append(1000 * (time.perf_counter() - started))
        history.append(("user", text))
        # as Engine.wake: what the message asks to forget goes before its new facts land
        forgotten = {f.id for r in requests for f in forget_matches(active.values(), r)}
        for fact in [f for f in active.values() if f.id in forgotten]:
            active.pop(fact.slot_key, None)
        new, superseded, known = slot_writes(active.values(), _vet(plugins, uid, raw))
        for fact in superseded:
            active.pop(fact.slot_key, None)
        for fact in new:
            active[fact.slot_key] = fact
        ever += new
        gold = turn.get("facts", [])
        # A known fact changes nothing: it counts only when it is what this turn says.
        scored = new + [f for f in known if any(fact_matches(f, g) for g in gold)]
        right = [f for f in scored if any(fact_matches(f, g) for g in gold)]
        hit = [g for g in gold if any(fact_matches(f, g) for f in scored)]
        tally.add(_Tally(len(gold), len(hit), len(scored), len(right), len(new)))
        where = {"user": user["user"], "turn": index, "kind": turn.get("kind", ""), "text": text}
        extracted = [_brief(f) for f in raw]
        run.misses += [
            {**where, "q": g["q"], "answer": g["answer"], "extracted": extracted}
            for g in gold
            if g not in hit
        ]
        run.false += [{**where, "fact": _brief(f), "gold": gold} for f in scored if f not in right]
        kind = turn.get("kind", "")
        if kind in (*QUIET_KINDS, "chatter"):
            quiet = run.quiet.setdefault(kind, {"turns": 0, "changes": 0})
            quiet["turns"] += 1
            quiet["changes"] += len(new) + len(superseded) + len(forgotten)
    facts = list(active.values())
    _judge_corrections(user, facts, ever, run)
    _judge_forgets(user, facts, ever, run)
    run.per_user[user["user"]] = tally.figures()
    run.tally.add(tally)


def _share(items: list[dict[str, Any]]) -> dict[str, Any]:
    ok = sum(1 for i in items if i["ok"])
    return {"n": len(items), "ok": ok, "rate": ok / len(items) if items else None}


def score_run(
    plugins: Plugins,
    data: dict[str, Any],
    names: Sequence[str],
    chat: ChatFn | None = None,
    progress: bool = False,
) -> dict[str, Any]:
    """One run: every user of ``data`` played through the extractors ``names``."""
    from tqdm import tqdm

    run = _Run()
    for user in tqdm(data["users"], desc="+".join(names), disable=not progress, leave=False):
        _play(plugins, user, names, chat, run)
    ms = run.ms or [0.0]
    corrections, forgets = _share(run.corrections), _share(run.forgets)
    forgets["never_stored"] = sum(1 for f in run.forgets if not f["was_stored"])
    return {
        "extractors": list(names),
        **run.tally.figures(),
        "per_user": run.per_user,
        "corrections": {**corrections, "cases": run.corrections},
        "forgets": {**forgets, "cases": run.forgets},
        "false_changes": run.quiet,
        "ms_per_message": {
            "median": stats_mod.median(ms),
            "p95": float(np.percentile(ms, 95)),
            "max": max(ms),
        },
        "misses": run.misses[:LIST_LIMIT],
        "false_facts": run.false[:LIST_LIMIT],
    }


def needs_model(runs: Iterable[Sequence[str]], model_extractor: str) -> bool:
    """Does any run use the extractor named ``model_extractor`` (the only one that reads
    the model; the caller names it, so this module knows no plugin by name)?"""
    return any(model_extractor in names for names in runs)


def plan_runs(requested: Sequence[str], configured: Sequence[str]) -> list[tuple[str, ...]]:
    """Each requested extractor alone, all of them together, and the configured set."""
    runs = [(name,) for name in requested]
    for combo in (tuple(requested), tuple(configured)):
        if combo and combo not in runs:
            runs.append(combo)
    return runs


def load_bench(path: Path, users: int | None = None) -> dict[str, Any]:
    try:
        data = json.loads(Path(path).read_text("utf-8"))
    except (OSError, ValueError) as exc:
        raise InputError(f"cannot read benchmark {path}: {exc}") from None
    if not isinstance(data, dict) or not isinstance(data.get("users"), list):
        raise InputError(f"{path} has no 'users' list (format: CONVERSATIONS.md)")
    if users:
        data = {**data, "users": data["users"][:users]}
    return data


def run_extract_bench(
    bench_path: Path,
    config: EngineConfig,
    plugins: Plugins,
    extractors: Sequence[str] = ("rules",),
    chat: ChatFn | None = None,
    users: int | None = None,
    progress: bool = False,
) -> dict[str, Any]:
    """Every run of ``plan_runs(extractors, config.extractors)`` over ``bench_path``;
    ``plugins`` are the loaded plugins, ``chat`` the model when an extractor needs one."""
    data = load_bench(bench_path, users)
    known = plugins.extractor_names()
    unknown = sorted(set(extractors) - set(known))
    if unknown:
        raise InputError(f"unknown extractors {unknown}; registered: {', '.join(known)}")
    configured = tuple(config.extractors)
    runs = {}
    for names in plan_runs(extractors, configured):
        runs["+".join(names)] = score_run(plugins, data, names, chat, progress)
    return {
        **machine_header(config, bench_path),
        "users": len(data["users"]),
        "turns": sum(len(u["turns"]) for u in data["users"]),
        "configured": "+".join(configured),
        "runs": runs,
    }


def _pair(figures: dict[str, Any]) -> str:
    def cell(value: float | None) -> str:
        return "-" if value is None else f"{value:.2f}"

    return f"{cell(figures.get('recall'))} / {cell(figures.get('precision'))}"


def print_table(result: dict[str, Any]) -> None:
    runs = result["runs"]
    names = list(runs)
    width = max(14, *(len(n) + 2 for n in names))
    print(f"{'':30}" + "".join(f"{n:>{width}}" for n in names))

    def row(label: str, get: Any) -> None:
        cells = []
        for n in names:
            value = get(runs[n])
            if isinstance(value, float):
                cells.append(f"{value:>{width}.2f}")
            elif value is None:
                cells.append(f"{'-':>{width}}")
            else:
                cells.append(f"{value!s:>{width}}")
        print(f"{label:30}" + "".join(cells))

    row("recall", lambda r: r["recall"])
    row("precision", lambda r: r["precision"])
    row("gold facts / found", lambda r: f"{r['gold']}/{r['found']}")
    row("scored / right", lambda r: f"{r['scored']}/{r['right']}")
    row("corrections superseded", lambda r: r["corrections"]["rate"])
    row("forgets honoured", lambda r: r["forgets"]["rate"])
    row("  of which never stored", lambda r: r["forgets"]["never_stored"])
    kinds = sorted({k for r in runs.values() for k in r["false_changes"]})
    for kind in kinds:
        row(
            f"changes on {kind} turns",
            lambda r, k=kind: r["false_changes"].get(k, {}).get("changes"),
        )
    row("ms / message (median)", lambda r: r["ms_per_message"]["median"])
    row("ms / message (p95)", lambda r: r["ms_per_message"]["p95"])
    users = sorted({u for r in runs.values() for u in r["per_user"]})
    for user in users:
        row(
            f"  {user}: recall / precision",
            lambda r, u=user: _pair(r["per_user"].get(u, {})),
        )
    print(f"configured extractors: {result['configured']}; misses and false facts in the JSON")
