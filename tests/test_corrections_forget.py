"""Corrections and forget requests in plain words (issue 12, item 3), model-free: the rule
extractor against known facts, ``facts.forget_matches``, the extraction benchmark's
ledger, and ``Engine.observe`` on a stand-in backend (forgetting needs no solve when no
fact is left to write). Every sentence here was written for these tests.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from sleepmem.engine import bench_extract
from sleepmem.engine.config import load_config
from sleepmem.engine.facts import (
    ACTIVE,
    FORGOTTEN,
    Fact,
    ForgetRequest,
    forget_matches,
    slot_writes,
)
from sleepmem.engine.memory import Engine
from sleepmem.plugin import manager
from sleepmem.plugin.builtins import rules
from sleepmem.plugin.registry import PluginRegistry
from sleepmem.plugin.types import ExtractContext


def _told(*messages: str) -> list[Fact]:
    """The active facts after telling ``messages`` in order (the wake slot rule)."""
    active: dict[str, Fact] = {}
    history: list[tuple[str, str]] = []
    for message in messages:
        context = ExtractContext(history=tuple(history), known=tuple(active.values()))
        new, gone, _ = slot_writes(active.values(), rules.extract(message, context))
        for fact in gone:
            active.pop(fact.slot_key)
        for fact in new:
            active[fact.slot_key] = fact
        history.append(("user", message))
    return list(active.values())


def _answers(facts: list[Fact]) -> dict[str, str]:
    return {f.slot_key: f.answer for f in facts}


# --------------------------------------------------------------------------- corrections


@pytest.mark.parametrize(
    ("before", "correction", "slot", "new"),
    [
        ("I live in Tromsø.", "oh actually I moved to Bergen last week", "home", "Bergen"),
        ("My dog Pepper is 5.", "scratch that, Pepper is 6 not 5", "pet:dog:age", "6"),
        ("I'm a welder.", "we switched: I'm a florist now", "job", "florist"),
        ("my cat is called tofu", "her name is tufo not tofu", "pet:cat:name", "Tufo"),
        ("I was born in 1979.", "It is 1977, not 1979. Typo!", "birth_year", "1977"),
        ("My sister's name is Ilka.", "sorry, is Elka, not Ilka", "family:sister:name", "Elka"),
        ("I work at Dunmore Foods.", "Switched from Dunmore Foods to Kelp & Co", "workplace",
         "Kelp & Co"),
        ("I drive a Fiat.", "a Skoda instead of the Fiat these days", "vehicle", "Skoda"),
        ("I live in Tromsø.", "I live in Alta, not Tromsø anymore.", "home", "Alta"),
        ("My brother Tomas is 30.", "Tomas is 31 now", "family:brother:tomas:age", "31"),
        ("I work at Dunmore Foods.", "not at dunmore foods anymore, I'm at Kelp & Co now",
         "workplace", "Kelp & Co"),
        ("I'm a nurse in Leeds.", "no longer in Leeds - York now", "home", "York"),
        # a known name said in passing is who the next pronoun means
        ("Our son Idris is 5.", "I know I said Idris is five but he turned 6 last week",
         "family:son:idris:age", "6"),
    ],
)  # fmt: skip
def test_a_correction_lands_in_the_slot_of_the_old_fact(
    before: str, correction: str, slot: str, new: str
) -> None:
    first = _answers(_told(before))
    assert slot in first and first[slot] != new
    after = _answers(_told(before, correction))
    assert after[slot] == new
    assert len(after) == len(first)  # replaced, not added beside


def test_a_corrected_copy_keeps_the_old_facts_questions() -> None:
    old = _told("My girlfriend's name is Marta.")[0]
    new = _told("My girlfriend's name is Marta.", "Not Marta but Mirta, sorry")[0]
    assert new.slot_key == old.slot_key and new.id != old.id
    assert new.questions == old.questions and "Mirta" in new.text and "Marta" not in new.text


@pytest.mark.parametrize(
    "message",
    [
        "do I live in Bergen?",
        "if I moved to Bergen I'd miss the snow",
        "What if I moved to Bergen?",
        "I might move to Bergen, not sure",
        "Imagine I lived in Bergen, not Tromsø.",
        "is it Bergen, not Tromsø?",
        "I told you I live in Tromsø, right?",
    ],
)
def test_questions_and_hypotheticals_change_nothing(message: str) -> None:
    before = _told("I live in Tromsø.")
    context = ExtractContext(known=tuple(before))
    assert rules.extract(message, context) == []
    assert rules.forget_requests(message, context) == []


def test_a_correction_naming_a_value_memory_lacks_changes_nothing() -> None:
    told = _told("I live in Tromsø.", "It is 1977, not 1979.")
    assert _answers(told) == {"home": "Tromsø"}


def test_an_ambiguous_old_value_is_left_alone() -> None:
    # two facts say "3": which one "4 not 3" corrects is unknown
    told = _told("My dog is 3.", "My cat is 3.", "it is 4 not 3")
    assert sorted(f.answer for f in told) == ["3", "3"]


# --------------------------------------------------------------------------- forget requests


@pytest.mark.parametrize(
    ("message", "terms"),
    [
        ("please forget what I said about my salary", {"salary"}),
        ("delete the thing about my ex", {"ex"}),
        ("ok also pls forget the money thing i told u, bit embarrassing", {"salary", "loan"}),
        ("Could you forget what I told you about my hip surgery? It's private.", {"surgery"}),
        ("Forget the mortgage figure. Private.", {"mortgage"}),
        ("can you erase everything about my dog from your memory", {"dog"}),
    ],
)
def test_forget_requests_in_plain_words(message: str, terms: set[str]) -> None:
    found = rules.forget_requests(message)
    assert len(found) == 1
    assert terms <= set(found[0].terms)
    assert not found[0].answer_only
    assert rules.extract(message) == []  # the request itself is no fact


@pytest.mark.parametrize(
    "message",
    [
        "don't forget my birthday is in May!",
        "did you forget my name?",
        "I always forget my keys",
        "if you forget what I said about my salary, that's fine",
        "forget it, never mind",
        "forget I said anything",
        "forget the onions, use leeks",
        "can you forget things at all?",
        "🙂🙂🙂",
        "/forget salary",
        "x" * 100_000,
    ],
)
def test_what_is_no_forget_request(message: str) -> None:
    assert rules.forget_requests(message) == []


def test_not_anymore_forgets_the_value_only() -> None:
    (request,) = rules.forget_requests("Not in Tromsø anymore, finally.")
    assert request.answer_only and request.terms == ("Tromsø",)
    assert rules.forget_requests("I don't like cheese.") == []
    (left,) = rules.forget_requests("I left Dunmore Foods on Monday.")
    assert left.terms == ("Dunmore Foods",) and left.answer_only


def _active(*messages: str) -> list[Fact]:
    return [f.with_status(ACTIVE) for f in _told(*messages)]


def test_forget_matches_the_topic_by_slot_first() -> None:
    facts = _active("My salary is 4000 a month.", "My dog Rex is 2.", "I live in Texas.")
    salary = forget_matches(facts, rules.forget_requests("forget my salary please")[0])
    assert [f.slot_key for f in salary] == ["my:salary"]
    dog = forget_matches(facts, rules.forget_requests("delete what I said about my dog")[0])
    assert {f.slot_key for f in dog} == {"pet:dog:name", "pet:dog:age"}
    # word-bounded: the ex is not in Texas
    assert forget_matches(facts, ForgetRequest("my ex", ("ex",))) == []
    gone = forget_matches(facts, ForgetRequest("Texas", ("texas",), answer_only=True))
    assert [f.answer for f in gone] == ["Texas"]
    retired = [f.with_status(FORGOTTEN) for f in facts]
    assert forget_matches(retired, ForgetRequest("my dog", ("rex",))) == []


# --------------------------------------------------------------------------- benchmark ledger


def test_the_extraction_bench_honours_forgets_through_the_hook() -> None:
    plugins = PluginRegistry(manager.load_plugins(manager.new_plugin_manager(), allowed=("rules",)))
    salary_q = "What is my salary?"
    user = {
        "user": "wen",
        "turns": [
            {"text": "My salary is 4000 a month.", "kind": "tell",
             "facts": [{"q": salary_q, "answer": "4000 a month"}]},
            {"text": "please forget what I said about my salary", "kind": "forget", "facts": []},
            {"text": "do I earn 4000?", "kind": "question", "facts": []},
        ],
        "questions": [],
        "superseded": [],
        "forgotten": [{"q": salary_q, "forbid": ["4000"]}],
    }  # fmt: skip
    out = bench_extract.score_run(plugins, {"users": [user]}, ("rules",))
    (case,) = out["forgets"]["cases"]
    assert case["was_stored"] and case["ok"]
    assert out["false_changes"]["question"]["changes"] == 0


# --------------------------------------------------------------------------- Engine.observe


class _Backend:
    """Enough of a backend for forgetting: no fact is left, so nothing is solved."""

    n_layers = 64
    model_id = "stand-in"
    context_length = 0


def _engine(tmp_path: Path) -> Engine:
    # compact storage checks answers through the model, which this stand-in has not
    env = {"SLEEPMEM_EDITOR__COMPACT": "none"}
    config = load_config(overrides={"home": str(tmp_path)}, discover=False, env=env)
    pm = manager.load_plugins(manager.new_plugin_manager(), allowed=("rules", "commands"))
    return Engine(config, _Backend(), PluginRegistry(pm))  # type: ignore[arg-type]


def _store(engine: Engine, user: str, message: str) -> list[Fact]:
    facts = [f.with_status(ACTIVE) for f in rules.extract(message)]
    engine.memory(user).commit(add_facts=facts)
    return facts


def test_observe_forgets_what_a_plain_request_names(tmp_path: Path) -> None:
    engine = _engine(tmp_path)
    (salary,) = _store(engine, "mei", "My salary is 4000 a month.")
    report = engine.observe("mei", "Please forget what I told you about my salary, thanks")
    assert [f.id for f in report.forgotten] == [salary.id]
    assert engine.memories("mei") == []
    assert engine.memory("mei").get(salary.id).status == FORGOTTEN
    from sleepmem.plugin.builtins.commands import describe_forgotten

    assert describe_forgotten(report.forgotten) == f"Forgot: {salary.text} [{salary.id}]"


def test_observe_changes_nothing_for_a_request_matching_nothing(tmp_path: Path) -> None:
    import numpy as np
    from sleepmem.engine.backends.base import Factors
    from sleepmem.engine.editor import Solved

    engine = _engine(tmp_path)
    (salary,) = _store(engine, "mei", "My salary is 4000 a month.")
    # The stored fact has no edit yet; the wake heals that (see test_crash.py), here with a
    # stand-in solve since this backend has no model.
    pair = (np.ones((4, 1), np.float32), np.ones((3, 1), np.float32))
    solved = Solved(Factors({2: pair}), keys={2: np.ones((1, 3))})
    engine._solve = lambda user_id, facts, **_: solved  # type: ignore[method-assign]
    report: Any = engine.observe("mei", "please forget what I said about my ex")
    assert report.forgotten == [] and report.added == []
    assert [f.id for f in engine.memories("mei")] == [salary.id]
    edit = engine.memory("mei").edit()
    assert edit is not None and edit.fact_ids == (salary.id,)


def test_heal_re_solves_an_edit_that_still_holds_a_forgotten_fact(tmp_path: Path) -> None:
    """A crash after a forget's ledger write leaves the edit covering the forgotten fact:
    heal re-solves the remaining facts instead of leaving it in the weights."""
    import numpy as np
    from sleepmem.engine.backends.base import Factors
    from sleepmem.engine.deltas import EditBatch
    from sleepmem.engine.editor import Solved

    engine = _engine(tmp_path)
    salary, city = (_store(engine, "mei", m)[0] for m in ("My salary is 4000.", "I live in Oslo."))
    pair = (np.ones((4, 1), np.float32), np.ones((3, 1), np.float32))
    mem = engine.memory("mei")
    mem.commit(add_batches=[EditBatch.new([salary.id, city.id], {2: pair}, "wake")])
    mem.commit(set_status={salary.id: FORGOTTEN})  # the ledger, but not the delta file
    solved: list[list[str]] = []

    def solve(user_id: str, facts: list[Fact], **_: object) -> Solved:
        solved.append([f.id for f in facts])
        return Solved(Factors({2: pair}), keys={2: np.ones((1, 3))})

    engine._solve = solve  # type: ignore[method-assign]
    assert engine.heal("mei") == 0  # nothing unwritten, but the edit was stale
    assert solved == [[city.id]]
    edit = engine.memory("mei").edit()
    assert edit is not None and edit.fact_ids == (city.id,)
    assert engine.heal("mei") == 0 and len(solved) == 1  # now it is current
