"""The capacity benchmark's facts and its held-out wording (no model needed)."""

from __future__ import annotations

import json
from pathlib import Path

from sleepmem.engine.bench_capacity import HELD_OUT, held_out_question, pool_facts
from sleepmem.engine.wordings import wordings


def _pool(tmp_path: Path) -> Path:
    items = [
        {"subject": name, "relation": relation, "object": obj}
        for relation, (name, obj) in zip(
            HELD_OUT, [("Aria", "Portland"), ("Bo", "engineer"), ("Cy", "teal")] * 4
        )
    ]
    path = tmp_path / "pool.json"
    path.write_text(json.dumps(items))
    return path


def test_every_relation_has_a_held_out_wording_the_edit_is_never_given(tmp_path):
    facts = pool_facts(_pool(tmp_path), 100)
    assert {f.relation for f in facts} == set(HELD_OUT)
    for fact in facts:
        held = held_out_question(fact)
        name = fact.subject.removeprefix("my friend ")
        assert name in held and "{" not in held
        trained = {q.casefold() for q in wordings(fact.questions, 12)}
        assert held.casefold() not in trained


def test_pool_facts_are_about_friends_with_one_slot_each(tmp_path):
    facts = pool_facts(_pool(tmp_path), 2)
    assert [f.subject for f in facts] == ["my friend Aria", "my friend Bo"]
    assert facts[0].answer == "Portland" and facts[0].questions[0] == (
        "Where does my friend Aria live?"
    )
    assert len({f.slot for f in facts}) == 2
