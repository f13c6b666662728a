"""How target values line up with prompt groups when facts are also keyed at names."""

from __future__ import annotations

import numpy as np
from sleepmem.engine.backends.base import EditPrompt
from sleepmem.engine.facts import explicit
from sleepmem.engine.writing import _value_rows, _without_groups


def test_value_rows_put_question_ends_first_then_names():
    d = 3
    a, b = explicit("Where does Aria live?", "Oslo"), explicit("Where do I live?", "Lima")
    values = {a.id: np.arange(6.0), b.id: np.full(3, 9.0)}
    rows = np.concatenate(_value_rows([a, b], [0], values, d))
    assert rows.tolist() == [[0, 1, 2], [9, 9, 9], [3, 4, 5]]


def test_value_rows_start_from_zero_where_nothing_is_kept():
    a = explicit("Where does Aria live?", "Oslo")
    rows = np.concatenate(_value_rows([a], [0], {a.id: np.ones(2)}, 2))
    assert rows.tolist() == [[1, 1], [0, 0]]  # kept before it had a name part
    assert np.concatenate(_value_rows([a], [], {}, 2)).tolist() == [[0, 0]]


def test_dropping_a_name_group_renumbers_the_ones_after_it():
    def prompt(group: int) -> EditPrompt:
        return EditPrompt("t", 0, "x", group, at_name=group >= 3)

    prompts = [prompt(g) for g in (0, 1, 2, 3, 4, 4)]
    kept, named = _without_groups(prompts, [0, 2], {3}, 3)
    assert [p.group for p in kept] == [0, 1, 2, 3, 3]
    assert named == [2]
