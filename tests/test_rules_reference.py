"""Facts said by pointing back ("that's my thing", "my favourite."), taken for granted by a
question ("is it normal to be this scared of wasps?"), named in learners' grammar ("My
boyfriend Tomas think ...") or by a car's model ("my civic"). Every sentence was written
for these tests; none comes from a benchmark file."""

from __future__ import annotations

import pytest
from sleepmem.plugin.builtins import rules


def _found(text: str) -> set[tuple[str, str]]:
    return {(f.slot, f.answer) for f in rules.extract(text)}


STATED = [
    # an activity, then "that's my thing"
    ("went climbing again today, thats kind of my thing on sundays", "hobby", "climbing"),
    ("Off to the pool for some swimming later - honestly that's my thing.", "hobby", "swimming"),
    ("Bouldering is my thing, honestly.", "hobby", "bouldering"),
    ("baking is kinda my thing lol", "hobby", "baking"),
    ("I go fishing every weekend. It's totally my thing.", "hobby", "fishing"),
    # "my favourite" pointing at what was just named
    ("Making ramen tonight. My favourite.", "favourite:food", "ramen"),
    ("Tonight I make pierogi with my mother, this is my favourite food since I was small.",
     "favourite:food", "pierogi"),
    ("Ordering pad thai again, my all time favourite dish", "favourite:dish", "pad thai"),
    ("rereading Dune rn, my fave book ever", "favourite:book", "Dune"),
    ("Drinking a flat white, my favourite!", "favourite:drink", "flat white"),
    # states a question takes for granted
    ("is it weird to be this scared of wasps??", "fear:wasps", "wasps"),
    ("why am i so afraid of the dark lol", "fear:dark", "dark"),
    ("Is it normal to be so allergic to cats? My eyes are swollen.", "allergy", "cats"),
    # a capitalised name after a relative, whatever grammar follows
    ("My boyfriend Tomas think I work too much.", "family:boyfriend:name", "Tomas"),
    ("My sister Ilse call me every sunday", "family:sister:name", "Ilse"),
    ("my mum Rosa says im too skinny", "family:mother:name", "Rosa"),
    ("My boss Karen thinks I am lazy.", "family:boss:name", "Karen"),  # the teller's fact
    # a person named just before "he/she is my favourite ..."
    ("I always play Nina Simone in the car, she is my favourite singer.",
     "favourite:singer", "Nina Simone"),
    ("Have you read Ursula Le Guin? She's my all time favourite author.",
     "favourite:author", "Ursula Le Guin"),
    # facts handed over for a letter the bot drafts
    ("For my bio you could say that I speak Dutch and Farsi.", "language", "Dutch and Farsi"),
    ("Please mention that I grew up in Tartu, and that my favourite book is The Hobbit.",
     "favourite:book", "The Hobbit"),
    # a tag question confirms the chunk before it, not the whole sentence
    ("I'm a midwife, you see, and three babies came at once, which is always the way, "
     "isn't it?", "job", "midwife"),
    # a car named by its model
    ("gotta get my civic fixed before the trip", "vehicle", "Civic"),
    ("My trusty Corolla needs new tyres.", "vehicle", "Corolla"),
]  # fmt: skip


@pytest.mark.parametrize(("text", "slot", "answer"), STATED)
def test_stated(text: str, slot: str, answer: str) -> None:
    assert (slot, answer) in _found(text), _found(text)


NOTHING = [
    "climbing isn't my thing",
    "that's not really my thing tbh",
    "If baking were my thing I'd open a shop.",
    "Ate pizza again. Not my favourite.",
    "Making ramen tonight. My favourite is actually sushi though",  # a value of its own
    "Is your favourite food pizza?",
    "is it normal to be scared of the ocean? asking for my brother",
    "Why are people so scared of spiders?",
    "we sold my corolla last year",
    "My friend's civic is faster than yours.",
    "My friend said I live in Paris.",
    "I live in Lisbon, right?",
    "She is my favourite author.",  # who she is was never said
    "Say that the meeting moved to Friday.",
]


@pytest.mark.parametrize("text", NOTHING)
def test_nothing(text: str) -> None:
    assert _found(text) == set()


def test_a_pronoun_for_a_named_relative_is_no_generic_fact() -> None:
    found = _found("My sister Ana lives in Oslo. She is more old-school.")
    assert found == {("family:sister:name", "Ana"), ("family:sister:ana:home", "Oslo")}


LABELLED = [
    ("Location: Leeds", {("home", "Leeds")}),
    ("Job: nurse", {("job", "nurse")}),
    ("Hometown - Cork", {("hometown", "Cork")}),
    ("Age: 29", {("age", "29")}),
    ("Current role: data analyst at Monzo", {("job", "data analyst"), ("workplace", "Monzo")}),
    ("Name: Ana Lima\nCity: Porto\nJob: pharmacist",
     {("name", "Ana Lima"), ("home", "Porto"), ("job", "pharmacist")}),
    ("Add education: electrical engineering, KNUST.",
     {("studies", "electrical engineering"), ("university", "KNUST")}),
    ("Education: BSc Biology, University of Leeds",
     {("studies", "Biology"), ("university", "University of Leeds")}),
    # placeholders, other kinds of label, and fields about someone else
    ("Name: [your name]", set()),
    ("City: ?", set()),
    ("Location: TBD", set()),
    ("From: Ana", set()),
    ("Work: busy as always lol", set()),
    ("School: pick up kids at 3", set()),
    ("Note: the meeting is at 5", set()),
    ("Write a reference for my colleague. Name: John Smith. Role: engineer", set()),
    ("Update her CV please. Location: Leeds", set()),
]  # fmt: skip


@pytest.mark.parametrize(("text", "expected"), LABELLED)
def test_labelled_fields(text: str, expected: set[tuple[str, str]]) -> None:
    assert _found(text) == expected
