"""Fact extraction: rules, the model-output parser, /remember and the plugin layer.

The benchmark file is the ground truth for what must be extractable: every question a
benchmark user asks later must be answerable from the facts the rules pull out of that
user's turns. Nothing here loads a model.
"""

from __future__ import annotations

import importlib.metadata
import json
import logging
import random
import re
import subprocess
import sys
import types
from pathlib import Path

import pytest
from sleepmem.engine.constrained import RecordList
from sleepmem.engine.facts import Fact
from sleepmem.plugin import manager
from sleepmem.plugin.builtins import model_extractor, rules
from sleepmem.plugin.builtins.phrasing import TEMPLATES, build_fact
from sleepmem.plugin.hookspecs import hookimpl
from sleepmem.plugin.types import ExtractContext, Extractor

REPO = Path(__file__).resolve().parents[1]
BENCH = REPO.parent / "shared" / "bench" / "memory_bench.json"


def _bench() -> dict:
    if not BENCH.is_file():
        pytest.skip(f"benchmark not found at {BENCH}")
    return json.loads(BENCH.read_text(encoding="utf-8"))


def _users() -> list[dict]:
    if not BENCH.is_file():
        return []
    return json.loads(BENCH.read_text(encoding="utf-8"))["users"]


def _facts_of(turns: list[str]) -> list[Fact]:
    return [f for t in turns for f in rules.extract(t)]


def _pairs(text: str) -> list[tuple[str, str]]:
    return [(f.slot, f.answer) for f in rules.extract(text)]


def _norm_q(q: str) -> str:
    return " ".join(re.sub(r"[^\w' ]+", " ", q.lower()).split())


# --------------------------------------------------------------------------------------
# benchmark ground truth
# --------------------------------------------------------------------------------------


@pytest.mark.parametrize("user", _users(), ids=lambda u: u["user"])
def test_benchmark_questions_answerable_from_extracted_facts(user: dict) -> None:
    _bench()
    facts = _facts_of(user["turns"])
    answers = [f.answer.lower() for f in facts]
    missing = [
        q["q"]
        for q in user["questions"]
        if not any(e.lower() in a for e in q["expect"] for a in answers)
    ]
    assert not missing, f"no extracted answer for {missing}; answers: {answers}"


@pytest.mark.parametrize("user", _users(), ids=lambda u: u["user"])
def test_benchmark_paraphrase_answers_are_extracted(user: dict) -> None:
    """The paraphrase set measures generalisation, so only the *answers* are checked here."""
    _bench()
    answers = [f.answer.lower() for f in _facts_of(user["turns"])]
    for p in user["paraphrases"]:
        assert any(e.lower() in a for e in p["expect"] for a in answers), p


@pytest.mark.parametrize("user", _users(), ids=lambda u: u["user"])
def test_no_generated_question_copies_a_paraphrase(user: dict) -> None:
    _bench()
    paraphrases = {_norm_q(p["q"]) for u in _users() for p in u["paraphrases"]}
    for fact in _facts_of(user["turns"]):
        for q in fact.questions:
            assert _norm_q(q) not in paraphrases, (q, fact.slot)


@pytest.mark.parametrize("turn", [t for u in _users() for t in u["turns"]])
def test_every_benchmark_turn_yields_well_formed_facts(turn: str) -> None:
    facts = rules.extract(turn)
    assert facts, turn
    for f in facts:
        _assert_well_formed(f)
        assert f.answer.lower() in turn.lower(), (f.answer, turn)


def _assert_well_formed(f: Fact) -> None:
    assert isinstance(f, Fact)
    assert f.text and f.text[0].isupper() and f.text[-1] in ".!?", f.text
    assert f.subject and f.relation and f.object and f.answer and f.slot, f
    assert 4 <= len(f.questions) <= 8, f.questions
    assert all(q.endswith("?") or q.endswith(".") for q in f.questions), f.questions
    assert len(set(f.questions)) == len(f.questions)
    assert 2 <= len(f.statements) <= 4, (f.slot, f.statements)
    for s in f.statements:
        assert f.answer.lower() not in s.lower(), (s, f.answer)
        assert not s.endswith((" ", ".")), s
    assert "{" not in " ".join(f.questions + f.statements), f
    assert f.extractor == "rules"


# --------------------------------------------------------------------------------------
# what the rules find
# --------------------------------------------------------------------------------------

CASES: list[tuple[str, list[tuple[str, str]]]] = [
    # names
    ("My name is Ana Ribeiro.", [("name", "Ana Ribeiro")]),
    ("Hello, I'm Bo Lindqvist.", [("name", "Bo Lindqvist")]),
    ("Call me Ishmael.", [("name", "Ishmael")]),
    ("my name is ana", [("name", "Ana")]),
    ("Everyone calls me Jo.", [("name", "Jo")]),
    ("My name is Ana de Souza and I live in Recife.",
     [("name", "Ana de Souza"), ("home", "Recife")]),
    # places
    ("I live in Porto, in the north of Portugal.", [("home", "Porto")]),
    ("I live in Tampere, Finland.", [("home", "Tampere")]),
    ("I've been living in New York City for 5 years.", [("home", "New York City")]),
    ("I live in a small flat in Berlin.", [("home", "Berlin")]),
    ("I live in St. Louis.", [("home", "St. Louis")]),
    ("i live in porto", [("home", "Porto")]),
    ("I moved to Lisbon last year.", [("home", "Lisbon")]),
    ("I grew up in Kano.", [("hometown", "Kano")]),
    ("I'm originally from Tampere.", [("hometown", "Tampere")]),
    ("I was born in Lagos but grew up in Kano.", [("hometown", "Kano"), ("birthplace", "Lagos")]),
    # work
    ("I work as a nurse at a children's hospital.",
     [("job", "nurse"), ("workplace", "children's hospital")]),
    ("I'm a software engineer and I mostly write Rust.",
     [("job", "software engineer"), ("programming_language", "Rust")]),
    ("I'm currently working as a teacher.", [("job", "teacher")]),
    ("I'm a retired teacher.", [("job", "retired teacher")]),
    ("I'm a cellist.", [("job", "cellist"), ("instrument", "cello")]),
    ("I work at Google as a data scientist.", [("workplace", "Google"), ("job", "data scientist")]),
    ("I work in marketing.", [("work_field", "marketing")]),
    ("I'm a baker and I own a small bakery.", [("job", "baker"), ("business", "bakery")]),
    ("I run a small coffee shop in town.", [("business", "coffee shop")]),
    # family
    ("My sister Clara is a violinist.",
     [("family:sister:name", "Clara"), ("family:sister:clara:job", "violinist"),
      ("family:sister:clara:instrument", "violin")]),
    ("My brother Erik is a pilot.",
     [("family:brother:name", "Erik"), ("family:brother:erik:job", "pilot")]),
    ("My wife works as a dentist.", [("family:wife:job", "dentist")]),
    ("My daughter Amara is seven years old.",
     [("family:daughter:name", "Amara"), ("family:daughter:amara:age", "seven")]),
    ("My wife's name is Anna.", [("family:wife:name", "Anna")]),
    ("My parents live in Madrid.", [("family:parents:home", "Madrid")]),
    ("My mum is a nurse.", [("family:mother:job", "nurse")]),
    ("I have a brother named Erik. He is a pilot.",
     [("family:brother:name", "Erik"), ("family:brother:erik:job", "pilot")]),
    ("I have a sister. She lives in Oslo.", [("family:sister:home", "Oslo")]),
    # pets
    ("I have a dog named Biscuit. He is a beagle.",
     [("pet:dog", "dog"), ("pet:dog:name", "Biscuit"), ("pet:dog:breed", "beagle")]),
    ("My cat is called Pixel.", [("pet:cat:name", "Pixel")]),
    ("I have a parrot named Mango.", [("pet:parrot", "parrot"), ("pet:parrot:name", "Mango")]),
    ("My dog Rex is 3 years old.", [("pet:dog:name", "Rex"), ("pet:dog:age", "3")]),
    ("I have a cat. Her name is Misty.", [("pet:cat", "cat"), ("pet:cat:name", "Misty")]),
    ("I have two cats named Luna and Sol.",
     [("pet:cat:name", "Luna and Sol"), ("count:cats", "two")]),
    # tastes
    ("My favourite food is ramen, I could eat it every day.", [("favourite:food", "ramen")]),
    ("My favorite color is blue.", [("favourite:colour", "blue")]),
    ("My favourite colour is orange.", [("favourite:colour", "orange")]),
    ("My favourite sport is table tennis.", [("favourite:sport", "table tennis")]),
    ("My favourite kind of music is jazz.", [("favourite:music", "jazz")]),
    ("I love hiking.", [("like:hiking", "hiking")]),
    ("I like to swim.", [("like:swimming", "swimming")]),
    ("I'm a big fan of jazz.", [("like:jazz", "jazz")]),
    ("I hate Mondays.", [("dislike:mondays", "Mondays")]),
    ("I don't like mushrooms.", [("dislike:mushrooms", "mushrooms")]),
    ("I can't stand cilantro.", [("dislike:cilantro", "cilantro")]),
    ("I'm allergic to peanuts, so I always check labels.", [("allergy", "peanuts")]),
    ("I have a peanut allergy.", [("allergy", "peanut")]),
    # dates and numbers
    ("I was born in 1991.", [("birth_year", "1991")]),
    ("I was born on 3 May 1991.", [("birth_date", "3 May 1991"), ("birth_year", "1991")]),
    ("My birthday is on June 5th.", [("birthday", "June 5")]),
    ("I'm 34 years old.", [("age", "34")]),
    ("I just turned 30.", [("age", "30")]),
    # getting around
    ("I drive an old green Volvo.", [("vehicle", "Volvo")]),
    ("I drive a battered van.", [("vehicle", "battered van")]),
    ("I drive a hard bargain.", []),
    ("My kids are 5 and 7.", [("family:children:age", "5 and 7")]),
    ("I ride a red bicycle to work every day.", [("commute", "bicycle")]),
    ("I take the bus to work.", [("commute", "bus")]),
    ("I cycle to work.", [("commute", "bicycle")]),
    ("I commute by train.", [("commute", "train")]),
    # music, sport, languages, reading, study
    ("I play the cello.", [("instrument", "cello")]),
    ("On weekends I play the cello in a small orchestra.", [("instrument", "cello")]),
    ("I play piano and guitar.", [("instrument", "piano and guitar")]),
    ("I'm learning to play the trumpet.", [("learning:instrument", "trumpet")]),
    ("I play tennis on Sundays.", [("sport:tennis", "tennis")]),
    ("I speak Swedish at home.", [("language", "Swedish")]),
    ("I speak fluent French and some German.", [("language", "French and German")]),
    ("I'm learning Japanese.", [("learning:language", "Japanese")]),
    ("I code in Python.", [("programming_language", "Python")]),
    ("I'm reading a book about volcanoes.", [("reading", "volcanoes")]),
    ("I'm reading Dune by Frank Herbert.", [("reading", "Dune")]),
    ("I studied biology at Uppsala University.",
     [("studies", "biology"), ("university", "Uppsala University")]),
    ("I graduated in 2015.", [("graduation_year", "2015")]),
    ("I'm vegetarian.", [("diet", "vegetarian")]),
    ("I'm Swedish.", [("nationality", "Swedish")]),
    ("My hobby is knitting.", [("hobby", "knitting")]),
    # generic fallback
    ("My email is ana@example.com.", [("my:email", "ana@example.com")]),
    ("My boat is called Sea Breeze.", [("my:boat:name", "Sea Breeze")]),
]  # fmt: skip


@pytest.mark.parametrize(("message", "expected"), CASES, ids=[c[0][:40] for c in CASES])
def test_rules_extract(message: str, expected: list[tuple[str, str]]) -> None:
    got = _pairs(message)
    assert got == expected
    for f in rules.extract(message):
        _assert_well_formed(f)


def test_family_fact_carries_subject_and_name_questions() -> None:
    facts = {f.slot: f for f in rules.extract("My daughter Amara is seven years old.")}
    age = facts["family:daughter:amara:age"]
    assert age.subject == "my daughter Amara"
    assert "How old is Amara?" in age.questions
    assert age.statements[0] == "My daughter is"
    name = facts["family:daughter:name"]
    assert "What is my daughter's name?" in name.questions


def test_home_questions_and_statements() -> None:
    (fact,) = rules.extract("I live in Porto.")
    assert fact.questions[0] == "Where do I live?"
    assert "Which city do I live in?" in fact.questions
    assert fact.statements[:2] == ("I live in", "My home city is")
    assert fact.text == "I live in Porto."
    assert fact.subject == "I" and fact.relation == "lives in"


def test_pet_questions_cover_species_and_pet() -> None:
    facts = {f.slot: f for f in rules.extract("I have a beagle named Rex.")}
    name = facts["pet:dog:name"]
    assert "What is my dog's name?" in name.questions
    assert "What is my pet's name?" in name.questions
    assert facts["pet:dog:breed"].answer == "beagle"


def test_statement_articles_fit_the_answer() -> None:
    (job,) = rules.extract("I work as an engineer.")
    assert "I work as an" in job.statements
    (vehicle,) = rules.extract("I drive an old green Volvo.")
    assert vehicle.text == "I drive an old green Volvo."
    assert vehicle.statements[0] == "I drive a"


def test_language_at_home_adds_questions() -> None:
    (fact,) = rules.extract("I speak Swedish at home.")
    assert "What language do I speak at home?" in fact.questions
    assert "At home I speak" in fact.statements


# --------------------------------------------------------------------------------------
# corrections share the slot of what they correct
# --------------------------------------------------------------------------------------

CORRECTIONS = [
    ("My name is Ana.", "Actually, my name is Joanna.", "Joanna"),
    ("Hi, I'm Bob.", "My name isn't Bob, it's Rob.", "Rob"),
    ("I live in Porto.", "I moved to Lisbon.", "Lisbon"),
    ("I live in Porto.", "I don't live in Porto anymore, I live in Lisbon now.", "Lisbon"),
    ("I live in Porto.", "I live in Lisbon now, not Porto anymore.", "Lisbon"),
    ("I work as a nurse.", "I'm not a nurse anymore, I'm a teacher.", "teacher"),
    ("My favourite colour is blue.", "Actually my favorite color is green.", "green"),
    ("My dog is called Rex.", "My dog's name isn't Rex, it's Max.", "Max"),
    ("My sister Clara is a violinist.", "Correction: my sister is a pilot.", "pilot"),
    ("I drive a Volvo.", "I drive a Tesla now.", "Tesla"),
    ("I was born in 1991.", "Sorry, I was born in 1992.", "1992"),
]


@pytest.mark.parametrize(("before", "after", "answer"), CORRECTIONS)
def test_correction_shares_slot(before: str, after: str, answer: str) -> None:
    old = rules.extract(before)
    # as the engine extracts: knowing what is stored ("my sister" is Clara)
    new = [f for f in rules.extract(after, ExtractContext(known=old)) if f.answer == answer]
    assert old and len(new) == 1, (old, new)
    assert new[0].slot in {f.slot for f in old}
    assert all(answer.lower() != f.answer.lower() for f in old)


# --------------------------------------------------------------------------------------
# nothing to remember
# --------------------------------------------------------------------------------------

NEGATIVES = [
    "",
    "   ",
    "Hello!",
    "Good morning!",
    "Thanks, that was helpful.",
    "Where do I live?",
    "What is my name?",
    "what is my name",
    "Do you remember my dog's name?",
    "Can you tell me where I work?",
    "Tell me my favourite food.",
    "/remember I live in Porto",
    "/forget home",
    "If I lived in Paris, I would eat croissants every day.",
    "Imagine I was a pilot.",
    "I wish I lived in Paris.",
    "Maybe I'll move to Berlin next year.",
    "I want to become a doctor.",
    "I'm going to learn Spanish.",
    "I would love to have a dog.",
    "Ana lives in Porto.",
    "She is a nurse.",
    "He has a dog named Rex.",
    "Her name is Clara.",
    "Bob works as a pilot.",
    "My friend says I live in Porto.",
    "I don't have a car.",
    "I'm not allergic to anything.",
    "I never learned to play the piano.",
    "I used to live in Paris.",
    "I'm tired.",
    "I'm fine, thanks.",
    "I'm a big believer in luck.",
    "I'm in Porto this week.",
    "My point is that it's fine.",
    "My phone is broken.",
    "My sister is a pain.",
    "My head is killing me.",
    "The weather is nice today.",
    "Write a poem about cats.",
    "Translate 'I live in Porto' into French.",
    "What if my name were Bob?",
    "Let's say I live in Tokyo.",
    "Pretend you are a pirate.",
    "Привет, меня зовут Анна. Я живу в Москве.",
    "我叫小明，我住在北京。",
    "Ich wohne in Berlin und heiße Jonas.",
    "🙂🙂🙂",
    "I'm 30 minutes late.",
]


@pytest.mark.parametrize("message", NEGATIVES)
def test_negatives_yield_nothing(message: str) -> None:
    assert rules.extract(message) == []


def test_question_sentence_does_not_hide_statement() -> None:
    assert _pairs("Where do you live? I live in Porto.") == [("home", "Porto")]


def test_pronoun_resolved_from_history() -> None:
    context = ExtractContext(
        history=[("user", "My sister Clara lives in Oslo."), ("assistant", "Nice!")]
    )
    assert _pairs_ctx("She is a doctor.", context) == [("family:sister:clara:job", "doctor")]
    assert rules.extract("She is a doctor.") == []


def _pairs_ctx(message: str, context: ExtractContext) -> list[tuple[str, str]]:
    return [(f.slot, f.answer) for f in rules.extract(message, context)]


# --------------------------------------------------------------------------------------
# robustness
# --------------------------------------------------------------------------------------


def _fuzz_inputs() -> list[str]:
    rnd = random.Random(1234)
    alphabets = [
        "abcdefghijklmnopqrstuvwxyz ABCDEFGHIJKLMNOPQRSTUVWXYZ.,!?'\"-;:()",
        "абвгдеёжзийклмнопрстуфхцчшщъыьэюя АБВГД.,",
        "我你他她它们的是在有个人大中国北京上海，。！？",
        "🙂😀🐶🐱🎻🚲❤️✨🇵🇹 ",
        "\u200b\u200d\u202e\u0301\u0300\ufeff\u00a0 a",
        "أبجدهوزحطيكلمنسعفصقرشتثخذضظغ .",
        "{}[]%$#@^&*\\/<>|`~_+=0123456789",
        "\n\t\r ",
    ]
    fragments = [
        "I live in", "my name is", "I'm a", "My sister", "named", "is called", "Porto",
        "favourite", "I was born in", "allergic to", "I play the", "my dog", "He is a",
        "not", "if", "?", ".", ",", "and I", "Actually,", "/remember", "I moved to", "St.",
        "years old", "I have a", "it's", "isn't", "🙂", "Москва", "北京",
    ]  # fmt: skip
    out: list[str] = []
    for _ in range(200):
        alphabet = rnd.choice(alphabets)
        out.append("".join(rnd.choice(alphabet) for _ in range(rnd.randint(0, 200))))
    for _ in range(200):
        out.append(" ".join(rnd.choice(fragments) for _ in range(rnd.randint(1, 30))))
    out += [
        "x" * 1_000_000,
        "I live in " + "A " * 200_000,
        "My name is " + "Ana " * 100_000,
        ("I live in Porto. " * 70_000)[:1_000_000],
        "".join(rnd.choice(alphabets[0] + alphabets[3]) for _ in range(1_000_000)),
        "my " * 300_000,
        "I am a " * 150_000,
        "." * 1_000_000,
        "\n" * 100_000,
        "\x00\x01\x02 I live in Porto \x7f",
        "I live in \ud800 Porto",  # lone surrogate
    ]
    return out


def test_fuzz_never_raises(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, logger="sleepmem")
    for text in _fuzz_inputs():
        facts = rules.extract(text)
        assert isinstance(facts, list)
        assert len(facts) <= rules.MAX_FACTS
        for f in facts:
            assert isinstance(f, Fact) and f.answer and f.questions
        notes = rules.parse_statement(text)
        assert isinstance(notes, list)
        if text.strip() and any(ch.isalnum() for ch in text):
            assert notes, text[:80]
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING]


@pytest.mark.parametrize("bad", [None, 42, b"I live in Porto", ["I live in Porto"]])
def test_non_string_input_yields_nothing(bad: object) -> None:
    assert rules.extract(bad) == []  # type: ignore[arg-type]
    assert rules.parse_statement(bad) == []  # type: ignore[arg-type]


def test_every_template_renders() -> None:
    fields = {
        "rel": "sister", "name": "Clara", "animal": "dog", "species": "dog", "category": "dog",
        "thing": "food", "thing_key": "food", "np": "email", "verb": "drive", "vtype": "car",
        "art": "a",
    }  # fmt: skip
    for kind in TEMPLATES:
        fact = build_fact(kind, "value", **fields)
        assert fact is not None, kind
        assert 4 <= len(fact.questions) <= 8, kind
        assert "{" not in fact.text + fact.slot + " ".join(fact.questions), kind
        assert fact.slot, kind


# --------------------------------------------------------------------------------------
# /remember
# --------------------------------------------------------------------------------------


def test_parse_statement_uses_rules_first() -> None:
    facts = rules.parse_statement("/remember that my dog is called Rex")
    assert [(f.slot, f.answer) for f in facts] == [("pet:dog:name", "Rex")]


def test_parse_statement_builds_a_note() -> None:
    (note,) = rules.parse_statement("I have a meeting with Tom on Friday")
    assert note.answer == "meeting with Tom on Friday"
    assert note.questions[0] == "What do I have?"
    assert "What do you remember about me?" in note.questions
    assert note.statements == ("I have a", "As I told you, I have a")
    assert note.slot.startswith("note:")
    assert note.text == "I have a meeting with Tom on Friday."


def test_parse_statement_third_person_note() -> None:
    (note,) = rules.parse_statement("The wifi password is hunter2")
    assert note.answer == "hunter2"
    assert note.questions[0] == "What is the wifi password?"
    assert note.statements[0] == "The wifi password is"


@pytest.mark.parametrize(
    "text", ["Tomorrow is important", "🙂", "If I lived in Paris", "where do I live?", "x"]
)
def test_parse_statement_always_yields_for_non_empty(text: str) -> None:
    facts = rules.parse_statement(text)
    assert len(facts) >= 1
    assert all(f.questions for f in facts)


@pytest.mark.parametrize("text", ["", "   ", "/remember", "/remember   "])
def test_parse_statement_empty(text: str) -> None:
    assert rules.parse_statement(text) == []


def test_distinct_notes_do_not_share_a_slot() -> None:
    (a,) = rules.parse_statement("🙂")
    (b,) = rules.parse_statement("🐶")
    assert a.slot != b.slot


# --------------------------------------------------------------------------------------
# model extractor: parser and guards (no model is run)
# --------------------------------------------------------------------------------------

MESSAGE = (
    "Hi, I'm Ana. I live in Porto and work as a nurse. My dog Biscuit is great, my "
    "favourite food is ramen. My sister Clara is a violinist. I collect stamps and I play "
    "the cello."
)


@pytest.mark.parametrize(
    ("reply", "objects"),
    [
        ('[{"subject": "I", "relation": "lives in", "object": "Porto"}]', ["Porto"]),
        ('```json\n[{"subject": "I", "relation": "lives in", "object": "Porto"}]\n```', ["Porto"]),
        ('```\n{"subject": "I", "relation": "works as", "object": "nurse"}\n```', ["nurse"]),
        (
            'Sure! Here you go: [{"subject": "my dog", "relation": "name", "object": "Biscuit"}]'
            " Let me know if you need anything else.",
            ["Biscuit"],
        ),
        ('{"subject": "I", "relation": "works as", "object": "nurse"}', ["nurse"]),
        ('{"facts": [{"subject": "I", "relation": "age", "object": 34}]}', ["34"]),
        ('[{"subject": "I", "relation": "x", "object": ""}, {"object": "a"}]', ["a"]),
        ("[]", []),
        ("no facts here", []),
        ('[{"subject": "I", "relation": "lives in", "object": "Porto"', []),
        ("[{'subject': 'I', 'object': 'Porto'}]", []),
        ('[1, "two", null, true]', []),
        ("", []),
        ("{" * 10_000, []),
    ],
)
def test_parse_model_output(reply: str, objects: list[str]) -> None:
    assert [i["object"] for i in model_extractor.parse_model_output(reply)] == objects


@pytest.mark.parametrize("bad", [None, 3, b"[]", ["x"]])
def test_parse_model_output_non_string(bad: object) -> None:
    assert model_extractor.parse_model_output(bad) == []


def _run_model(reply: str) -> list[Fact]:
    return model_extractor.extract(
        MESSAGE, ExtractContext(chat=lambda messages, constraint=None: reply)
    )


def test_model_extractor_reuses_templates_and_slots() -> None:
    reply = json.dumps(
        [
            {"subject": "I", "relation": "lives in", "object": "Porto", "question": "Where?"},
            {"subject": "my dog", "relation": "name", "object": "Biscuit"},
            {"subject": "I", "relation": "favourite food", "object": "ramen"},
            {"subject": "my sister Clara", "relation": "is a", "object": "violinist"},
            {"subject": "I", "relation": "plays", "object": "the cello"},
        ]
    )
    facts = _run_model(reply)
    by_slot = {f.slot: f for f in facts}
    rule_slots = {f.slot for f in rules.extract(MESSAGE)}
    assert set(by_slot) <= rule_slots | {"instrument"}
    assert by_slot["home"].questions[0] == "Where do I live?"
    assert by_slot["pet:dog:name"].answer == "Biscuit"
    assert by_slot["favourite:food"].answer == "ramen"
    assert by_slot["family:sister:clara:job"].subject == "my sister Clara"
    assert all(f.extractor == "model" for f in facts)


def test_model_extractor_rejects_hallucinations_and_other_people() -> None:
    reply = json.dumps(
        [
            {"subject": "I", "relation": "lives in", "object": "Lisbon"},
            {"subject": "Ana", "relation": "lives in", "object": "Porto"},
            {"subject": "my neighbour's cat", "relation": "name", "object": "Porto"},
            {"subject": "I", "relation": "lives in", "object": "Porto " * 20},
        ]
    )
    assert _run_model(reply) == []


def test_model_extractor_unknown_relation_uses_model_question() -> None:
    reply = json.dumps(
        [
            {
                "subject": "I",
                "relation": "collects",
                "object": "stamps",
                "question": "What do I collect?",
            }
        ]
    )
    (fact,) = _run_model(reply)
    assert fact.answer == "stamps"
    assert fact.questions[0] == "What do I collect?"
    assert fact.slot == "model:i:collect"
    assert fact.statements == ("I collect", "As I told you, I collect")
    assert fact.text == "I collect stamps."
    assert "What did I ask you to remember?" not in fact.questions


def test_model_values_must_be_said_with_their_relation() -> None:
    """A small model pairs a relation with a value from another clause; such a pair is no
    fact. Values stated with their relation (or a bare name with its subject) pass."""
    message = (
        "honestly im terrified of heights, so no ferris wheel for me. my sister Ines just "
        "moved to Lyon and I'm learning the cello"
    )

    def reply(*rows: tuple[str, str, str]) -> str:
        return json.dumps([dict(zip(model_extractor.KEYS, (*r, "Q?"))) for r in rows])

    def found(*rows: tuple[str, str, str]) -> list[str]:
        chat = lambda messages, constraint=None: reply(*rows)  # noqa: E731
        return [f.answer for f in model_extractor.extract(message, ExtractContext(chat=chat))]

    assert found(("I", "is terrified of heights", "ferris wheel")) == []
    assert found(("I", "is learning the cello", "Lyon")) == []
    assert found(("I", "is terrified of", "heights")) == ["heights"]
    assert found(("I", "is learning", "cello")) == ["cello"]
    assert found(("my sister", "name", "Ines")) == ["Ines"]
    # a relative the message never mentions, and a value written into the relation
    assert found(("my brother", "lives in", "Lyon")) == []
    assert found(("I", "am a cellist", "Lyon")) == []


def test_model_extractor_needs_chat_and_survives_failures(caplog) -> None:
    assert model_extractor.extract(MESSAGE, ExtractContext()) == []
    assert model_extractor.extract(MESSAGE, None) == []

    def boom(messages: list[dict[str, str]], constraint: object = None) -> str:
        raise RuntimeError("model crashed")

    with caplog.at_level(logging.ERROR):
        assert model_extractor.extract(MESSAGE, ExtractContext(chat=boom)) == []
    assert _run_model("I could not find anything.") == []
    assert (
        model_extractor.extract("/remember x", ExtractContext(chat=lambda m, constraint=None: "[]"))
        == []
    )


def test_model_prompt_shape_and_grammar() -> None:
    seen: list[tuple[list[dict[str, str]], object]] = []

    def chat(messages: list[dict[str, str]], constraint: object = None) -> str:
        seen.append((messages, constraint))
        return "[]"

    model_extractor.extract("I live in Porto.", ExtractContext(chat=chat))
    ((messages, grammar),) = seen
    roles = [m["role"] for m in messages]
    assert roles[0] == "system" and roles[-1] == "user"
    assert roles[1:-1] == ["user", "assistant"] * len(model_extractor.EXAMPLES)
    assert "JSON" in messages[0]["content"]
    assert "I live in Porto." in messages[-1]["content"]
    # every worked example is a reply the grammar itself accepts
    for example in messages[2:-1:2]:
        fresh = model_extractor.constraint()
        assert fresh.accepts(example["content"])
        fresh.feed(example["content"])
        assert fresh.finished
    assert isinstance(grammar, RecordList) and tuple(grammar.keys) == model_extractor.KEYS


# --------------------------------------------------------------------------------------
# plugin manager
# --------------------------------------------------------------------------------------


@pytest.fixture
def pm(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.delenv(manager.ENV_LOAD, raising=False)
    monkeypatch.setattr(importlib.metadata, "distributions", lambda: [])
    return manager.new_plugin_manager()


def test_load_plugins_registers_builtins(pm) -> None:
    manager.load_plugins(pm)
    assert pm.has_plugin("rules") and pm.has_plugin("model_extractor")
    names = [e.name for e in manager.extractors(pm)]
    assert names == ["rules", "model"]
    assert all(isinstance(e, Extractor) for e in manager.extractors(pm))


def test_load_plugins_is_idempotent(pm) -> None:
    manager.load_plugins(pm)
    before = set(pm.get_plugins())
    manager.load_plugins(pm)
    assert set(pm.get_plugins()) == before
    assert len(manager.extractors(pm)) == 2


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        ("rules", {"rules"}),
        ("", set()),
        (" rules , model_extractor ", {"rules", "model_extractor"}),
    ],
)
def test_env_limits_plugins(pm, monkeypatch: pytest.MonkeyPatch, env: str, expected: set) -> None:
    monkeypatch.setenv(manager.ENV_LOAD, env)
    manager.load_plugins(pm)
    assert {pm.get_name(p) for p in pm.get_plugins()} == expected


def test_entry_point_plugins_load_and_are_filtered(pm, monkeypatch: pytest.MonkeyPatch) -> None:
    plugin = types.ModuleType("sleepmem_test_fake_plugin")

    class Upper:
        name = "upper"

        def extract(self, message: str, context: ExtractContext) -> list[Fact]:
            return []

    @hookimpl
    def register_extractors(register) -> None:
        register(Upper())

    plugin.register_extractors = register_extractors  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, plugin.__name__, plugin)
    ep = importlib.metadata.EntryPoint(name="fake", value=plugin.__name__, group="sleepmem")
    dist = types.SimpleNamespace(entry_points=[ep], metadata={"name": "fake-dist"})
    monkeypatch.setattr(importlib.metadata, "distributions", lambda: [dist])

    monkeypatch.setenv(manager.ENV_LOAD, "rules")
    manager.load_plugins(pm)
    assert not pm.has_plugin("fake")
    monkeypatch.setenv(manager.ENV_LOAD, "rules,fake")
    manager.load_plugins(pm)
    manager.load_plugins(pm)
    assert pm.has_plugin("fake")
    assert sorted(e.name for e in manager.extractors(pm)) == ["rules", "upper"]


def test_hook_semantics(pm) -> None:
    fact = rules.extract("I live in Porto.")[0]

    class Veto:
        @hookimpl
        def before_edit(self, user_id: str, fact: Fact):
            return False if user_id == "blocked" else None

    class Extra:
        @hookimpl
        def extract_facts(self, message: str, context: ExtractContext) -> list[Fact]:
            return [fact]

    pm.register(Veto())
    pm.register(Extra())
    pm.register(Extra())
    assert pm.hook.before_edit(user_id="blocked", fact=fact) is False
    assert pm.hook.before_edit(user_id="ana", fact=fact) is None
    results = pm.hook.extract_facts(message="x", context=ExtractContext())
    assert [f for r in results for f in r] == [fact, fact]


def test_bad_extractor_is_a_config_error(pm) -> None:
    from sleepmem.engine.errors import ConfigError

    class Broken:
        @hookimpl
        def register_extractors(self, register) -> None:
            register(object())

    pm.register(Broken())
    with pytest.raises(ConfigError):
        manager.extractors(pm)


def test_global_manager_is_shared_and_not_loaded_on_import() -> None:
    assert manager.get_plugin_manager() is manager.get_plugin_manager()
    code = (
        "import sleepmem.plugin.manager as m, sys;"
        "assert not m.get_plugin_manager().get_plugins();"
        "assert 'sleepmem.plugin.builtins.rules' not in sys.modules"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)


def test_rule_extractor_object() -> None:
    assert rules.EXTRACTOR.name == "rules"
    assert isinstance(rules.EXTRACTOR, Extractor)
    facts = rules.EXTRACTOR.extract("I live in Porto.", ExtractContext(user_id="ana"))
    assert [(f.slot, f.answer) for f in facts] == [("home", "Porto")]
