"""The extraction benchmark (``sleepmem bench extract``): figures on small hand-written
bench files, against a scripted extractor whose output is known, and end to end through
the rules and the command line. Nothing here loads a model.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest
from sleepmem.adapters import cli
from sleepmem.engine import bench_extract
from sleepmem.engine.bench import fact_matches
from sleepmem.engine.config import load_config
from sleepmem.engine.errors import InputError
from sleepmem.engine.facts import Fact, explicit, slot_writes
from sleepmem.engine.memory import Engine
from sleepmem.plugin import manager
from sleepmem.plugin.hookspecs import hookimpl
from sleepmem.plugin.registry import PluginRegistry
from sleepmem.plugin.types import ExtractContext

NAME_Q, HOME_Q = "What is my name?", "Where do I live?"
CAT_Q, JOB_Q = "What is my cat's name?", "What is my job?"


def _fact(q: str, answer: str) -> Fact:
    return explicit(q, answer)


class Scripted:
    """An extractor that returns, for each message, the facts a table gives it."""

    name = "scripted"

    def __init__(self, table: dict[str, list[Fact]]) -> None:
        self.table = table
        self.histories: list[tuple[tuple[str, str], ...]] = []

    def extract(self, message: str, context: ExtractContext) -> list[Fact]:
        self.histories.append(tuple(context.history))
        return list(self.table.get(message, []))


def _pm(*extractors: Any) -> PluginRegistry:
    pm = manager.new_plugin_manager()

    class Plugin:
        @hookimpl
        def register_extractors(self, register) -> None:  # type: ignore[no-untyped-def]
            for e in extractors:
                register(e)

    pm.register(Plugin(), name="scripted-plugin")
    return PluginRegistry(pm)


def _turn(text: str, kind: str = "tell", facts: list[tuple[str, str]] = ()) -> dict:
    return {"text": text, "kind": kind, "facts": [{"q": q, "answer": a} for q, a in facts]}


# Ulla: one hit and one miss in the same turn, a false fact in chatter, a correction that
# lands, a forget request that is not carried out, a question and a hypothetical.
ULLA = {
    "user": "ulla",
    "turns": [
        _turn("t1", facts=[(NAME_Q, "Ulla"), (HOME_Q, "Tartu")]),
        _turn("t2", "chatter"),
        _turn("t3", facts=[(CAT_Q, "Muri")]),
        _turn("t4", "correction", [(HOME_Q, "Narva")]),
        _turn("t5", "forget"),
        _turn("t6", "question"),
        _turn("t7", "hypothetical"),
    ],
    "questions": [],
    "superseded": [{"q": HOME_Q, "forbid": ["Tartu"], "expect": ["Narva"]}],
    "forgotten": [{"q": CAT_Q, "forbid": ["Muri"]}],
}
# Bo: a correction the extractor never hears (old value stays) and a forget of a fact that
# was never stored.
BO = {
    "user": "bo",
    "turns": [
        _turn("b1", facts=[(JOB_Q, "glazier")]),
        _turn("b2", "correction", [(JOB_Q, "roofer")]),
        _turn("b3", "forget"),
    ],
    "questions": [],
    "superseded": [{"q": JOB_Q, "forbid": ["glazier"], "expect": ["roofer"]}],
    "forgotten": [{"q": NAME_Q, "forbid": ["Bo"]}],
}
TABLE = {
    "t1": [_fact(NAME_Q, "Ulla")],  # Tartu missed
    "t2": [_fact("What is my favourite colour?", "teal")],  # false, on chatter
    "t3": [_fact(CAT_Q, "Muri"), _fact("What is my dog's name?", "Rex")],  # one false
    "t4": [_fact(HOME_Q, "Narva")],
    "t6": [_fact(HOME_Q, "Pärnu")],  # a question that changes memory: a false change
    "b1": [_fact(JOB_Q, "glazier")],
}


@pytest.fixture
def result() -> dict[str, Any]:
    scripted = Scripted(TABLE)
    data = {"users": [ULLA, BO]}
    out = bench_extract.score_run(_pm(scripted), data, ("scripted",))
    out["histories"] = scripted.histories
    return out


def test_recall_and_precision_count_each_turn(result: dict) -> None:
    # gold: Ulla 4 (t1 two, t3 one, t4 one), Bo 2; found: Ulla, Muri, Narva, glazier
    assert (result["gold"], result["found"]) == (6, 4)
    # stored: Ulla, teal, Muri, Rex, Narva, Pärnu, glazier; right: Ulla, Muri, Narva, glazier
    assert (result["scored"], result["right"], result["stored"]) == (7, 4, 7)
    assert result["recall"] == pytest.approx(4 / 6)
    assert result["precision"] == pytest.approx(4 / 7)
    assert result["per_user"]["bo"]["recall"] == pytest.approx(0.5)
    assert result["per_user"]["bo"]["precision"] == pytest.approx(1.0)


def test_misses_name_the_turn_and_what_was_extracted(result: dict) -> None:
    misses = {(m["user"], m["text"], m["answer"]) for m in result["misses"]}
    assert misses == {("ulla", "t1", "Tartu"), ("bo", "b2", "roofer")}
    tartu = next(m for m in result["misses"] if m["answer"] == "Tartu")
    assert tartu["q"] == HOME_Q
    assert [e["answer"] for e in tartu["extracted"]] == ["Ulla"]


def test_false_facts_are_listed_with_their_gold(result: dict) -> None:
    false = {(f["text"], f["fact"]["answer"]) for f in result["false_facts"]}
    assert false == {("t2", "teal"), ("t3", "Rex"), ("t6", "Pärnu")}
    rex = next(f for f in result["false_facts"] if f["fact"]["answer"] == "Rex")
    assert rex["gold"] == [{"q": CAT_Q, "answer": "Muri"}]


def test_corrections_judged_on_what_memory_holds_at_the_end(result: dict) -> None:
    cases = {c["user"]: c for c in result["corrections"]["cases"]}
    # Narva superseded Tartu, but the question turn then wrote Pärnu in the same slot.
    assert cases["ulla"]["ok"] is False
    assert cases["ulla"]["old_was_stored"] is False
    assert cases["bo"]["ok"] is False and cases["bo"]["old_was_stored"] is True
    assert result["corrections"]["n"] == 2 and result["corrections"]["rate"] == 0.0


def test_forgets_and_changes_on_quiet_turns(result: dict) -> None:
    forgets = result["forgets"]
    cases = {c["user"]: c for c in forgets["cases"]}
    assert cases["ulla"] == {**cases["ulla"], "ok": False, "was_stored": True}
    assert cases["bo"] == {**cases["bo"], "ok": True, "was_stored": False}
    assert (forgets["n"], forgets["ok"], forgets["never_stored"]) == (2, 1, 1)
    changes = result["false_changes"]
    # t6 writes Pärnu and supersedes Narva: two changes; t7 none; t2 one.
    assert changes["question"] == {"turns": 1, "changes": 2}
    assert changes["hypothetical"] == {"turns": 1, "changes": 0}
    assert changes["chatter"] == {"turns": 1, "changes": 1}


def test_history_is_the_users_earlier_turns(result: dict) -> None:
    histories = result["histories"]
    assert histories[0] == ()
    assert histories[2] == (("user", "t1"), ("user", "t2"))
    assert histories[len(ULLA["turns"])] == ()  # a new user starts a new chat


def test_timing_is_reported(result: dict) -> None:
    ms = result["ms_per_message"]
    assert 0 <= ms["median"] <= ms["p95"] <= ms["max"]


def test_a_correct_correction_and_a_known_fact() -> None:
    user = {
        "user": "cy",
        "turns": [
            _turn("c1", facts=[(HOME_Q, "Tartu")]),
            _turn("c2", facts=[(HOME_Q, "Tartu")]),  # said again: known, still a hit
            _turn("c3", "correction", [(HOME_Q, "Narva")]),
            _turn("c4"),  # a known fact not in this turn's gold is neither right nor false
        ],
        "superseded": [{"q": HOME_Q, "forbid": ["Tartu"], "expect": ["Narva"]}],
    }
    table = {
        "c1": [_fact(HOME_Q, "Tartu")],
        "c2": [_fact(HOME_Q, "tartu")],
        "c3": [_fact(HOME_Q, "Narva")],
        "c4": [_fact(HOME_Q, "Narva")],
    }
    out = bench_extract.score_run(_pm(Scripted(table)), {"users": [user]}, ("scripted",))
    assert (out["gold"], out["found"], out["scored"], out["right"], out["stored"]) == (
        3,
        3,
        3,
        3,
        2,
    )
    assert out["corrections"]["rate"] == 1.0
    assert out["false_facts"] == [] and out["misses"] == []


def test_slot_writes_is_the_engine_rule() -> None:
    old = _fact(HOME_Q, "Tartu")
    same, moved = _fact(HOME_Q, "TARTU"), _fact(HOME_Q, "Narva")
    assert slot_writes([old], [same]) == ([], [], [same])
    last = _fact(HOME_Q, "Tallinn")
    new, superseded, known = slot_writes([old], [moved, last])
    assert new == [last] and superseded == [old] and known == []


def test_a_vetoed_fact_is_not_scored() -> None:
    class Veto:
        @hookimpl
        def before_edit(self, user_id: str, fact: Fact):  # type: ignore[no-untyped-def]
            return False if fact.answer == "Ulla" else None

    plugins = _pm(Scripted(TABLE))
    plugins.pm.register(Veto(), name="veto")
    out = bench_extract.score_run(plugins, {"users": [ULLA]}, ("scripted",))
    assert "Ulla" in {m["answer"] for m in out["misses"]}


class _Backend:
    """Enough of a backend to build an engine that extracts but never edits."""

    n_layers = 64
    model_id = "stand-in"
    context_length = 0


def test_run_extractors_is_what_wake_runs(tmp_path: Path) -> None:
    """The benchmark's extraction path gives what ``Engine.extract`` gives."""
    scripted = Scripted({"hello": [_fact(NAME_Q, "Ulla")]})
    plugins = _pm(scripted)
    config = load_config(
        overrides={"extractors": ["scripted"], "home": str(tmp_path)}, discover=False, env={}
    )
    engine = Engine(config, _Backend(), plugins)  # type: ignore[arg-type]
    history = (("user", "hi"), ("assistant", "hello!"))
    by_engine = engine.extract("u", "hello", history)
    by_bench = plugins.extract("hello", ExtractContext("u", history), ("scripted",))
    assert [f.answer for f in by_engine] == [f.answer for f in by_bench] == ["Ulla"]
    assert plugins.extract("hello", ExtractContext("u"), ("rules",)) == []


def test_fact_matches_is_the_conversation_bench_rule() -> None:
    gold = {"q": "Who is my favourite author?", "answer": "Le Guin"}
    assert fact_matches(_fact(gold["q"], "Ursula Le Guin"), gold)
    assert fact_matches(_fact(gold["q"], "guin"), gold)
    assert not fact_matches(_fact(gold["q"], "Gu"), gold)  # too short to count inside


def test_plan_runs_and_model_need() -> None:
    assert bench_extract.plan_runs(("rules",), ("rules",)) == [("rules",)]
    runs = bench_extract.plan_runs(("rules", "model"), ("rules",))
    assert runs == [("rules",), ("model",), ("rules", "model")]
    assert bench_extract.needs_model(runs, "model")
    assert not bench_extract.needs_model([("rules",)], "model")


def test_model_extractor_gets_the_chat() -> None:
    """With a chat function (a stand-in for the model) the model extractor is measured."""
    user = {"user": "di", "turns": [_turn("I live in Tartu, honestly.", facts=[(HOME_Q, "Tartu")])]}
    reply = '[{"subject": "I", "relation": "lives in", "object": "Tartu", "question": "x?"}]'
    pm = manager.load_plugins(manager.new_plugin_manager(), allowed=("model_extractor",))
    plugins = PluginRegistry(pm)
    out = bench_extract.score_run(
        plugins, {"users": [user]}, ("model",), chat=lambda _m, constraint=None: reply
    )
    assert out["found"] == 1 and out["precision"] == 1.0
    silent = bench_extract.score_run(plugins, {"users": [user]}, ("model",))
    assert silent["found"] == 0 and silent["precision"] is None


# --------------------------------------------------------------------------------------
# through the rules and the command line
# --------------------------------------------------------------------------------------

RULES_BENCH = {
    "about": "hand-written for the tests",
    "version": 2,
    "contexts": [],
    "users": [
        {
            "user": "oriel",
            "turns": [
                _turn("My name is Oriel.", facts=[(NAME_Q, "Oriel")]),
                _turn("I live in Windhoek.", facts=[(HOME_Q, "Windhoek")]),
                _turn("Do I live in Lusaka?", "question"),
                _turn("Nothing about colours today.", facts=[("What is my colour?", "teal")]),
                _turn("I moved to Gaborone.", "correction", [(HOME_Q, "Gaborone")]),
            ],
            "questions": [],
            "superseded": [{"q": HOME_Q, "forbid": ["Windhoek"], "expect": ["Gaborone"]}],
            "forgotten": [],
        }
    ],
}


def test_rules_run_and_the_command_line(
    tmp_path: Path, capsys: pytest.CaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    for var in [v for v in os.environ if v.upper().startswith("SLEEPMEM_")]:
        monkeypatch.delenv(var)
    bench = tmp_path / "bench.json"
    bench.write_text(json.dumps(RULES_BENCH), encoding="utf-8")
    out = tmp_path / "out.json"
    home = tmp_path / "home"
    code = cli.main(
        ["--home", str(home), "bench", "extract", "--bench", str(bench), "--json", str(out)]
    )
    assert code == 0
    result = json.loads(out.read_text(encoding="utf-8"))
    rules_run = result["runs"]["rules"]
    assert (rules_run["gold"], rules_run["found"]) == (4, 3)
    assert rules_run["precision"] == 1.0
    assert [m["answer"] for m in rules_run["misses"]] == ["teal"]
    assert rules_run["corrections"]["rate"] == 1.0
    assert rules_run["false_changes"]["question"]["changes"] == 0
    assert result["configured"] == "rules" and "config" in result
    assert "recall" in capsys.readouterr().out
    assert not (home / "models").exists()  # no model was fetched or loaded


def test_unknown_extractor_and_bad_file(tmp_path: Path) -> None:
    bench = tmp_path / "bench.json"
    bench.write_text(json.dumps(RULES_BENCH), encoding="utf-8")
    plugins = PluginRegistry(manager.load_plugins(manager.new_plugin_manager(), allowed=("rules",)))
    config = load_config(discover=False, env={})
    with pytest.raises(InputError, match="unknown extractors"):
        bench_extract.run_extract_bench(bench, config, plugins, ("nope",))
    bad = tmp_path / "bad.json"
    bad.write_text("[1, 2]", encoding="utf-8")
    with pytest.raises(InputError, match="users"):
        bench_extract.load_bench(bad)
