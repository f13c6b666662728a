"""The rule extractor on casual typing (``rules_casual``, ``rules_telegraphic`` and the value
cutters): lower case, missing apostrophes, fillers and tags, emoji between clauses,
subject-less clauses, self-descriptions typed as lists, corrections that name only the new
and the old value; and, for every new shape, what must stay silent. The sentences are
written for these tests, by varied made-up people; none comes from a benchmark file.
"""

from __future__ import annotations

import pytest
from sleepmem.plugin.builtins import rules
from sleepmem.plugin.types import ExtractContext


def _found(text: str, context: ExtractContext | None = None) -> set[tuple[str, str]]:
    return {(f.slot, f.answer) for f in rules.extract(text, context)}


STATED = [
    # a filler or adverb after the value is not part of it
    ("i'm from leeds originally", "hometown", "Leeds"),
    ("im from cluj originally tbh", "hometown", "Cluj"),
    ("i live in porto these days", "home", "Porto"),
    ("i live in gdansk tbh", "home", "Gdansk"),
    ("my favourite food is sushi tbh", "favourite:food", "sushi"),
    ("my fave band is idles ngl", "favourite:band", "idles"),
    # a name typed in lower case
    ("im jaylen btw", "name", "Jaylen"),
    ("hey im priya lol", "name", "Priya"),
    ("yo im dmitri 👋 just moved to riga", "name", "Dmitri"),
    ("yo im dmitri 👋 just moved to riga", "home", "Riga"),
    # a job and the town it is done in
    ("im a nurse in cork", "home", "Cork"),
    ("im a nurse in cork", "job", "nurse"),
    ("I'm a barista in Lyon.", "home", "Lyon"),
    ("I work as an electrician in Tromsø.", "home", "Tromsø"),
    # possessives without the apostrophe
    ("my dogs name is biscuit", "pet:dog:name", "Biscuit"),
    ("my sisters name is Oona", "family:sister:name", "Oona"),
    # self-descriptions typed as lists
    ("28, software dev, based in lisbon", "age", "28"),
    ("28, software dev, based in lisbon", "job", "software dev"),
    ("28, software dev, based in lisbon", "home", "Lisbon"),
    ("hiya, im wren, 35, florist in bristol", "name", "Wren"),
    ("hiya, im wren, 35, florist in bristol", "home", "Bristol"),
    ("Tariq. Live in Muscat. Need a cover letter.", "name", "Tariq"),
    ("Signature: Ines Duarte, dental hygienist, SmileCo.", "job", "dental hygienist"),
    ("Signature: Ines Duarte, dental hygienist, SmileCo.", "workplace", "SmileCo"),
    ("Ana, 34, vet in Porto.", "age", "34"),
    # ages said in passing
    ("just turned 40 lol", "age", "40"),
    ("turned 19 on saturday 🎉", "age", "19"),
    ("my daughter turned 8 yesterday!", "family:daughter:age", "8"),
    ("My son Rafi turned 5 on Sunday.", "family:son:rafi:age", "5"),
    # names with tags, naming and the pet of the sentence before
    ("my sister's called Maeve isn't she lovely", "family:sister:name", "Maeve"),
    ("My brother's named Koa, don't you think that suits him", "family:brother:name", "Koa"),
    ("we named the cat Miso", "pet:cat:name", "Miso"),
    ("I called my hamster Nugget.", "pet:hamster:name", "Nugget"),
    ("Also have a tortoise. Name Shelby. 12 years old.", "pet:tortoise:name", "Shelby"),
    ("Also have a tortoise. Name Shelby. 12 years old.", "pet:tortoise:age", "12"),
    ("My son Teo would love this. He is a chemist.", "family:son:name", "Teo"),
    ("My son Teo would love this. He is a chemist.", "family:son:teo:job", "chemist"),
    # allergies said casually
    ("i dont eat peanuts, allergic", "allergy", "peanuts"),
    ("can't have shrimp, I'm allergic", "allergy", "shrimp"),
    ("allergic to kiwi btw", "allergy", "kiwi"),
]


@pytest.mark.parametrize(("message", "slot", "answer"), STATED)
def test_casual_shapes(message: str, slot: str, answer: str) -> None:
    assert (slot, answer) in _found(message)


@pytest.mark.parametrize(
    "message",
    [
        "im not sure",
        "im bored af rn",
        "im tired lol",
        "im in",
        "im irish",
        "im back",
        "i'm from the support team?",
        "I'm from the support team.",
        "my dog is called whatever you like",
        "we named it after my gran",
        "i cant swim",
        "28, right?",
        "Tom, can you help me?",
        "Thanks. Sure.",
        "Paris, London, Rome",
        "5, 6, 7",
        "not a nurse, 28",
        "im bored, 28, whatever",
        "if I'm 40, a dev, based in Oslo, what then?",
        "my sister's called Maeve, isn't she?",  # asks to confirm: a question
        "i dont eat peanuts",
        "if I can't eat shrimp because I'm allergic, what then?",
        "She doesn't eat nuts, allergic.",
    ],
)
def test_casual_shapes_stay_silent(message: str) -> None:
    found = _found(message)
    assert not found, found


@pytest.mark.parametrize(
    "message", ["im a nurse in training", "I'm a nurse in ICU", "im a dev in oncology"]
)
def test_where_in_the_work_is_no_home(message: str) -> None:
    assert not any(slot == "home" for slot, _ in _found(message))


@pytest.mark.parametrize(
    "message",
    [
        "Hi! I live in Porto, by the river.",  # told in the real Open WebUI run
        "I live in Lyon, near the water.",
        "I live in Leeds, on the corner of Park Lane.",
    ],
)
def test_a_place_said_with_its_surroundings_is_no_job(message: str) -> None:
    found = _found(message)
    assert not any(slot == "job" for slot, _ in found), found
    assert any(slot == "home" for slot, _ in found), found


def test_a_name_in_a_list_with_nothing_else_is_no_fact() -> None:
    assert ("name", "Tom") not in _found("Tom, 5, Paris")  # no job, no place with "in"


def _known(text: str) -> tuple:
    return tuple(rules.extract(text))


@pytest.mark.parametrize(
    ("before", "message", "slot", "answer"),
    [
        ("My mobile provider is O2.", "actually its Vodafone now, switched from O2",
         "my:mobile_provider", "Vodafone"),
        ("My mobile provider is O2.", "switched from O2, its Three now",
         "my:mobile_provider", "Three"),
        ("My girlfriend Marissa is lovely.", "sorry typo, Larissa not Marissa",
         "family:girlfriend:name", "Larissa"),
        ("I work at Ferrovial.", "Left Ferrovial on Friday. Acciona now, same role.",
         "workplace", "Acciona"),
    ],
)  # fmt: skip
def test_corrections_naming_new_and_old(before: str, message: str, slot: str, answer: str) -> None:
    context = ExtractContext(history=(), known=_known(before))
    assert (slot, answer) in _found(message, context)


@pytest.mark.parametrize(
    "message",
    [
        "do I work at Acciona now?",
        "Left Ferrovial. Acciona now?",
        "I left Ferrovial last year, still happy now",
        "if I switched from Ferrovial, Acciona now?",
    ],
)
def test_corrections_stay_silent_on_questions(message: str) -> None:
    context = ExtractContext(history=(), known=_known("I work at Ferrovial."))
    assert not any(f.slot == "workplace" for f in rules.extract(message, context))
