"""The built-in ``questions`` plugin: other wordings for a fact given as one question."""

from __future__ import annotations

from sleepmem.engine.facts import explicit
from sleepmem.plugin.builtins.questions import fact_questions


def test_a_template_question_brings_its_siblings():
    more = fact_questions(explicit("Where do I live?", "Bergen"))
    assert "Where is my home?" in more
    assert "Where do I live?" not in more


def test_template_fields_are_read_from_the_question_and_filled_in():
    more = fact_questions(explicit("What is my cat called?", "Miso"))
    assert "What is my cat's name?" in more
    assert all("cat" in q for q in more)
    job = fact_questions(explicit("What is my sister's job?", "nurse"))
    assert "What does my sister do?" in job


def test_questions_no_template_states_get_nothing():
    assert fact_questions(explicit("What colour is the ferry I take to work?", "red")) == []
    # a loose template ("What {vtype} do I {verb}?") must not swallow an unrelated question
    assert fact_questions(explicit("What do I do for a living?", "nurse")) == []
