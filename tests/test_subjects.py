"""Facts about one name share the value written at the name (engine/subjects.py)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from sleepmem.engine import subjects
from sleepmem.engine.backends.base import EditPrompt
from sleepmem.engine.facts import explicit
from sleepmem.engine.prompts import name_in
from sleepmem.engine.store import MemoryStore
from sleepmem.engine.values import TargetValues, settings_key

LIVES = explicit("Where does my sister Maya live?", "Lisbon")
WORKS = explicit("What does Maya do for work?", "nurse")
BAND = explicit("What is Maya's favourite band?", "Radiohead")
TOMAS = explicit("Where does my friend Tomas live?", "Montreal")
HOME = explicit("Where do I live?", "Porto")


def test_the_name_a_question_is_about() -> None:
    assert name_in("Where does my sister Maya live?") == "Maya"
    assert name_in("What is Maya's favourite band?") == "Maya"
    assert name_in("What is my dog Biscuit's favourite toy?") == "Biscuit"
    assert name_in("Where do I live?") is None
    assert name_in("Hi! Where do I live?") is None


def test_only_names_two_facts_share_become_subjects() -> None:
    facts = [LIVES, TOMAS, HOME, WORKS, BAND]
    about = subjects.shared(facts)
    assert [(s.name, s.members) for s in about] == [("maya", (0, 3, 4))]
    assert subjects.shared([LIVES, TOMAS, HOME]) == []


def test_a_subject_value_is_named_by_all_its_facts() -> None:
    facts = [LIVES, WORKS, BAND]
    (whole,) = subjects.shared(facts)
    (part,) = subjects.shared(facts[:2])
    assert whole.value_id(facts) != part.value_id(facts)
    assert whole.value_id(facts) == whole.value_id(list(facts))  # stable
    assert all(f.id in whole.value_id(facts) for f in facts)


def test_prompts_at_a_shared_name_move_to_its_group() -> None:
    facts = [LIVES, TOMAS, WORKS]
    about = subjects.shared(facts)
    prompts = [
        EditPrompt("a", 3, " Lisbon", 0, at_name="Maya"),
        EditPrompt("b", 5, " Lisbon", 0),
        EditPrompt("c", 3, " Montreal", 1, at_name="Tomas"),
        EditPrompt("d", 3, " nurse", 2, at_name="maya"),
    ]
    groups = [p.group for p in subjects.regrouped(prompts, about, len(facts))]
    # Maya's name prompts share group 3; her question-end prompt and Tomas's stay
    assert groups == [3, 0, 1, 3]


def test_a_new_fact_about_a_held_name_overlaps() -> None:
    assert subjects.overlap([WORKS], [LIVES, TOMAS])
    assert not subjects.overlap([HOME], [LIVES, TOMAS])
    assert not subjects.overlap([], [LIVES])


def test_a_repair_writes_every_fact_about_the_name() -> None:
    facts = [LIVES, TOMAS, HOME, WORKS]
    assert subjects.with_namesakes([WORKS], facts) == [LIVES, WORKS]
    assert subjects.with_namesakes([HOME], facts) == [HOME]


def test_subject_values_leave_with_any_of_their_facts(tmp_path: Path) -> None:
    key = settings_key("m", {})
    mem = MemoryStore(tmp_path).user("ana", "m")
    facts = [LIVES, WORKS, BAND]
    (whole,) = subjects.shared(facts)
    (part,) = subjects.shared(facts[:2])
    other = subjects.Subject("tomas", (0,)).value_id([TOMAS])
    cache = TargetValues(key)
    ids = [whole.value_id(facts), part.value_id(facts), other]
    cache.put(mem, dict(zip(ids, np.eye(3))))
    # a value made on fewer of the name's facts goes when the fuller one is made
    cache.drop_subjects(mem, [f.id for f in facts], keep=[ids[0]])
    assert sorted(TargetValues(key).get(mem, ids)) == sorted([ids[0], other])
    # retiring one fact takes the name's value with it, from memory and from the ledger
    cache.drop(mem, [BAND.id])
    assert list(cache.get(mem, ids)) == [other]
    assert list(TargetValues(key).get(mem, ids)) == [other]
