"""The rule extractor on shapes of natural speech (``rules_speech`` and the pipeline):
names in passing, facts before a question, texting style, subject-less clauses, fears,
pronouns naming the pet of the sentence before, and the subject-verb-object fallback.
The sentences are written for these tests; none comes from a benchmark file.
"""

from __future__ import annotations

import pytest
from sleepmem.plugin.builtins import rules
from sleepmem.plugin.builtins.rules_speech import before_question, with_subject
from sleepmem.plugin.types import ExtractContext


def _answers(text: str, context: ExtractContext | None = None) -> set[tuple[str, str]]:
    return {(f.questions[0], f.answer) for f in rules.extract(text, context)}


NAME, HOME = "What is my name?", "Where do I live?"


@pytest.mark.parametrize(
    ("message", "expected"),
    [
        # names given in passing
        ("Tomasz here, nice to meet you.", {(NAME, "Tomasz")}),
        ("hey, lin here!", {(NAME, "Lin")}),
        ("Benji is my name.", {(NAME, "Benji")}),
        ("My mates all call me Dodo.", {(NAME, "Dodo")}),
        # a fact said in passing before a question to the bot
        (
            "Since I'm allergic to peanuts, what dessert should I pick?",
            {("What am I allergic to?", "peanuts")},
        ),
        ("I live in Tartu, any cafe tips?", {(HOME, "Tartu")}),
        ("My sister is a dentist, should I ask her?", {("What does my sister do?", "dentist")}),
        # texting: lower case, no subject, "ive"
        (
            "i live in tartu and i work as a welder lol",
            {(HOME, "Tartu"), ("What is my job?", "welder")},
        ),
        ("live in tartu now lol", {(HOME, "Tartu")}),
        ("Moved to Narva last week.", {(HOME, "Narva")}),
        (
            "ive got a dog called rufus",
            {("What pet do I have?", "dog"), ("What is my dog's name?", "Rufus")},
        ),
        # fears
        ("I'm terrified of heights.", {("What am I scared of?", "heights")}),
        ("honestly im so scared of wasps", {("What am I scared of?", "wasps")}),
        # the general subject-verb-object reading
        ("I collect vintage stamps.", {("What do I collect?", "vintage stamps")}),
        ("i brew my own beer", {("What do I brew?", "beer")}),
        ("I teach chemistry at a high school.", {("What do I teach?", "chemistry")}),
        ("We grow tomatoes on the balcony.", {("What do I grow?", "tomatoes")}),
    ],
)
def test_shapes_of_speech(message: str, expected: set[tuple[str, str]]) -> None:
    assert expected <= _answers(message)


@pytest.mark.parametrize(
    "message",
    [
        "Same here.",
        "Snow here today!",
        "New here, be gentle.",
        "I live in Tartu, right?",  # asks the bot to confirm
        "Do you know, I live in Oslo?",  # the question comes first
        "Do I live in Tartu?",
        "If I'm allergic to cats, can I adopt one?",
        "If I moved to Narva I'd be happy.",
        "Play some jazz.",  # an order, not a subject-less statement
        "I eat like a horse.",
        "I drink too much coffee.",
        "I write wrong sometimes.",
        "I collect it tomorrow.",
        "I'm scared of it.",
        "my boss calls me lazy",
        "My boss calls me lazy.",
    ],
)
def test_what_must_stay_silent(message: str) -> None:
    assert _answers(message) == set()


def test_several_facts_in_one_message() -> None:
    found = _answers("hey, lin here! i live in tartu, and i collect old postcards. any hobby tips?")
    assert {(NAME, "Lin"), (HOME, "Tartu"), ("What do I collect?", "old postcards")} <= found


def _slots(text: str, context: ExtractContext | None = None) -> set[tuple[str, str]]:
    return {(f.slot, f.answer) for f in rules.extract(text, context)}


def test_pronoun_names_the_pet_of_the_sentence_before() -> None:
    assert ("pet:cat:name", "Saffi") in _slots(
        "We got a new kitten yesterday... I named her Saffi."
    )
    history = ExtractContext(history=(("user", "We adopted a kitten on Sunday."),))
    assert ("pet:cat:name", "Saffi") in _slots("I named her Saffi.", history)


def test_pronoun_never_renames_a_named_pet() -> None:
    assert ("pet:cat:name", "Saffi") not in _slots("My cat Pim had a kitten. I named her Saffi.")


def test_before_question_and_with_subject() -> None:
    assert before_question("As I said, I live in Oslo, what now?") == "As I said, I live in Oslo"
    assert before_question("What now?") == ""
    assert before_question("I live in Oslo, right?") == ""
    assert with_subject("born in 1979") == "I was born in 1979"
    assert with_subject("play some jazz") == "play some jazz"


def test_svo_facts_keep_one_slot_per_object() -> None:
    maps = rules.extract("I collect old maps.")[0]
    coins = rules.extract("I collect coins.")[0]
    assert maps.slot_key != coins.slot_key  # collecting coins does not replace the maps
    assert maps.statements[0] == "I collect"
