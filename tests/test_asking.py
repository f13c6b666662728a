"""Other words for a fact's question (engine/asking.py): no model needed."""

import pytest
from sleepmem.engine import asking
from sleepmem.engine.wordings import wordings


def test_first_person_questions_get_other_words_for_the_same_relation():
    out = asking.rephrasings("Where do I live?")
    assert "Which city do I live in?" in out
    assert "Where am I based?" in out
    assert "Where do I live?" not in out


def test_the_subject_is_carried_over_with_its_case_and_agreement():
    out = asking.rephrasings("Where does my friend Aria live?")
    assert "Where is my friend Aria based?" in out
    assert "Which city does my friend Aria live in?" in out
    assert not any(" do my friend" in q or "am my friend" in q for q in out)


def test_possessive_questions_turn_into_subject_questions_and_back():
    assert "What is my cat called?" in asking.rephrasings("What is my cat's name?")
    assert "What is my dog's name?" in asking.rephrasings("What is my dog called?")
    assert "What does my sister do for a living?" in asking.rephrasings("What's my sister's job?")


def test_the_free_word_travels_with_the_question():
    assert "Which food do I like best?" in asking.rephrasings("What is my favourite food?")
    assert "Where am I headed next month?" in asking.rephrasings(
        "Where am I travelling next month?"
    )
    assert "Who do I support in baseball?" in asking.rephrasings(
        "Which baseball team am I a fan of?"
    )


def test_the_most_specific_family_wins():
    # "Who is {s}?" (a name) also matches, but the favourite family says more
    out = asking.rephrasings("Who is my favourite author?")
    assert "Which author do I like best?" in out


@pytest.mark.parametrize(
    "question",
    ["What do I drink every afternoon?", "Is it raining?", "", "Where does I live?"],
)
def test_unknown_or_ungrammatical_questions_get_nothing(question):
    assert asking.rephrasings(question) == []


def test_every_written_question_is_recognised_again():
    # what the table writes, it must read: a rephrasing of a rephrasing still has variants
    for family in asking.FAMILIES:
        for template in family:
            for subject in ("i", "my sister"):
                text = asking._fill(template, subject, "food")
                assert text and asking.rephrasings(text), text


def test_wordings_alternate_other_words_and_other_forms():
    got = wordings(("Where do I live?",), 5)
    assert got[0] == "Where do I live?"
    assert got[1] in asking.rephrasings("Where do I live?")
    assert got[2].startswith("Do you remember")
