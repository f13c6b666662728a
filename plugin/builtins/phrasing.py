"""How each kind of personal fact is asked about and stated: question and prompt templates.

The editor learns a fact from the questions a user would ask later ("Where do I live?") and
from declarative prompts that end right before the answer ("I live in"). The more natural
ways of asking a fact is trained on, the better the model answers unseen phrasings, so each
kind carries several. Both extractors (rules and model) build facts through
``build_fact`` so that the same kind of fact is always phrased the same way, whoever found it.

Templates are ``str.format`` strings. A template that names a field the caller left empty is
skipped (e.g. "How old is {name}?" when the daughter's name is unknown), so optional detail
never produces a broken question.
"""

from __future__ import annotations

import hashlib
import re
import string
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from sleepmem.engine.facts import Fact

MAX_QUESTIONS = 8
MIN_QUESTIONS = 4


@dataclass(frozen=True)
class Template:
    """The phrasing of one kind of fact.

    relation: the triple's relation ("lives in").
    slot: the supersession key, itself a template ("pet:{species}:name").
    text: the canonical first-person statement, with ``{object}`` for the full value.
    questions: chat questions whose answer is ``{answer}``.
    statements: prompts that the answer completes; they end right before it.
    """

    relation: str
    slot: str
    text: str
    questions: tuple[str, ...]
    statements: tuple[str, ...]


def _t(relation: str, slot: str, text: str, questions: Iterable[str], statements: Iterable[str]):
    return Template(relation, slot, text, tuple(questions), tuple(statements))


_FAV_EXTRA: dict[str, tuple[str, ...]] = {
    "food": ("What do I like to eat most?", "What is my {fav} dish?", "What food do I love?"),
    "meal": ("What do I like to eat most?",),
    "dish": ("What do I like to eat most?", "What is my {fav} food?"),
    "drink": ("What do I like to drink most?", "What is my {fav} beverage?"),
    "colour": ("What is my {fav} color?", "What colour do I like most?"),
    "color": ("What is my {fav} colour?", "What color do I like most?"),
    "sport": ("What sport do I love most?", "Which sport do I enjoy watching or playing?"),
    "book": ("What book do I love most?", "Which book is my {fav} one?"),
    "movie": ("What is my {fav} film?", "Which movie do I love most?"),
    "film": ("What is my {fav} movie?", "Which film do I love most?"),
    "music": ("What kind of music do I like most?", "What music do I love?"),
    "band": ("Which band do I like most?", "What band do I love?"),
    "animal": ("Which animal do I like most?",),
    "season": ("Which season do I like most?",),
    "city": ("Which city do I like most?",),
    "fruit": ("Which fruit do I like most?",),
}

TEMPLATES: dict[str, Template] = {
    # --- identity -------------------------------------------------------------------------
    "name": _t(
        "name",
        "name",
        "My name is {object}.",
        [
            "What is my name?",
            "What's my name?",
            "Who am I?",
            "What am I called?",
            "Do you know my name?",
            "What should you call me?",
            "Can you tell me my name?",
        ],
        ["My name is", "I am called", "Everyone calls me"],
    ),
    "age": _t(
        "is aged",
        "age",
        "I am {object} years old.",
        ["How old am I?", "What is my age?", "What age am I?", "How many years old am I?"],
        ["I am", "My age is"],
    ),
    "birth_year": _t(
        "was born in",
        "birth_year",
        "I was born in {object}.",
        [
            "What year was I born?",
            "When was I born?",
            "In which year was I born?",
            "What is my birth year?",
            "What year was I born in?",
            "What is my year of birth?",
        ],
        ["I was born in", "My birth year is", "My year of birth is"],
    ),
    "birth_date": _t(
        "was born on",
        "birth_date",
        "I was born on {object}.",
        [
            "What is my date of birth?",
            "What is my birth date?",
            "On what date was I born?",
            "When is my birthday?",
            "What day was I born?",
        ],
        ["I was born on", "My date of birth is"],
    ),
    "birthday": _t(
        "birthday",
        "birthday",
        "My birthday is {object}.",
        [
            "When is my birthday?",
            "What is my birthday?",
            "What day is my birthday?",
            "When do I celebrate my birthday?",
            "What date is my birthday?",
        ],
        ["My birthday is", "I celebrate my birthday on"],
    ),
    "nationality": _t(
        "nationality",
        "nationality",
        "I am {object}.",
        [
            "What is my nationality?",
            "What nationality am I?",
            "What is my citizenship?",
            "Which nationality do I have?",
        ],
        ["My nationality is", "By nationality I am"],
    ),
    "diet": _t(
        "diet",
        "diet",
        "I am {object}.",
        [
            "What is my diet?",
            "What kind of diet do I follow?",
            "What diet am I on?",
            "Do I have any dietary restrictions?",
            "Do I eat meat?",
        ],
        ["My diet is", "When it comes to food, I am"],
    ),
    # --- places ---------------------------------------------------------------------------
    "home": _t(
        "lives in",
        "home",
        "I live in {object}.",
        [
            "Where do I live?",
            "Which city do I live in?",
            "Where is my home?",
            "What city do I live in?",
            "Where am I living now?",
            "What is my home city?",
            "In what town do I live?",
        ],
        ["I live in", "My home city is", "I am living in"],
    ),
    "hometown": _t(
        "grew up in",
        "hometown",
        "I grew up in {object}.",
        [
            "Where did I grow up?",
            "What is my hometown?",
            "Where was I raised?",
            "In which town did I grow up?",
            "Where did I spend my childhood?",
            "Where am I originally from?",
        ],
        ["I grew up in", "My hometown is", "I was raised in"],
    ),
    "birthplace": _t(
        "was born in",
        "birthplace",
        "I was born in {object}.",
        [
            "Where was I born?",
            "What is my birthplace?",
            "In which city was I born?",
            "What is my place of birth?",
            "Where am I originally from?",
        ],
        ["I was born in", "My birthplace is", "My place of birth is"],
    ),
    "origin": _t(
        "is from",
        "hometown",
        "I am from {object}.",
        [
            "Where am I from?",
            "Where do I come from?",
            "Where am I originally from?",
            "What is my hometown?",
            "What place do I come from?",
        ],
        ["I am from", "I come from", "My hometown is"],
    ),
    # --- work and study -------------------------------------------------------------------
    "job": _t(
        "works as",
        "job",
        "I work as {a_obj} {object}.",
        [
            "What is my job?",
            "What do I do for work?",
            "What is my profession?",
            "What is my occupation?",
            "What do I work as?",
            "What's my job?",
            "What kind of work do I do?",
        ],
        ["I work as {a}", "My job is", "By profession I am {a}"],
    ),
    "workplace": _t(
        "works at",
        "workplace",
        "I work at {art_}{object}.",
        [
            "Where do I work?",
            "What is my workplace?",
            "Who do I work for?",
            "Which company do I work for?",
            "Where is my job?",
            "Where do I go to work?",
        ],
        ["I work at {art_}", "My workplace is {art_}", "Every day I go to work at {art_}"],
    ),
    "work_field": _t(
        "works in",
        "work_field",
        "I work in {object}.",
        [
            "What field do I work in?",
            "What industry do I work in?",
            "What area do I work in?",
            "What sector do I work in?",
        ],
        ["I work in", "My field is", "The industry I work in is"],
    ),
    "business": _t(
        "owns",
        "business",
        "I own {a_obj} {object}.",
        [
            "What business do I own?",
            "What kind of business do I run?",
            "What do I own?",
            "What is my business?",
            "What type of business do I have?",
            "What do I run?",
        ],
        ["I own {a}", "My business is {a}", "I run {a}"],
    ),
    "studies": _t(
        "studied",
        "studies",
        "I studied {object}.",
        [
            "What did I study?",
            "What was my major?",
            "What subject did I study?",
            "What did I study at university?",
            "What is my degree in?",
        ],
        ["I studied", "My degree is in", "At university I studied"],
    ),
    "studying": _t(
        "studies",
        "studies",
        "I study {object}.",
        [
            "What do I study?",
            "What am I studying?",
            "What is my major?",
            "What subject do I study?",
        ],
        ["I study", "I am studying", "My major is"],
    ),
    "university": _t(
        "studied at",
        "university",
        "I studied at {object}.",
        [
            "Where did I study?",
            "Which university did I go to?",
            "What university did I attend?",
            "Where did I go to university?",
        ],
        ["I studied at", "I went to university at", "My university is"],
    ),
    "graduation_year": _t(
        "graduated in",
        "graduation_year",
        "I graduated in {object}.",
        [
            "When did I graduate?",
            "What year did I graduate?",
            "In which year did I graduate?",
            "What is my graduation year?",
        ],
        ["I graduated in", "My graduation year is"],
    ),
    # --- languages ------------------------------------------------------------------------
    "language": _t(
        "speaks",
        "language",
        "I speak {object}.",
        [
            "What language do I speak?",
            "Which language do I speak?",
            "What languages do I speak?",
            "What language do I use?",
            "What is my language?",
        ],
        ["I speak", "My language is"],
    ),
    "native_language": _t(
        "native language",
        "language:native",
        "My native language is {object}.",
        [
            "What is my native language?",
            "What is my mother tongue?",
            "What is my first language?",
            "What language did I grow up speaking?",
        ],
        ["My native language is", "My mother tongue is"],
    ),
    "programming_language": _t(
        "programs in",
        "programming_language",
        "I mostly write {object}.",
        [
            "What programming language do I use?",
            "Which programming language do I write?",
            "What language do I code in?",
            "What do I mostly program in?",
            "What is my main programming language?",
            "Which language do I write code in?",
        ],
        ["I mostly write code in", "My main programming language is", "I program in"],
    ),
    "learning_language": _t(
        "is learning",
        "learning:language",
        "I am learning {object}.",
        [
            "What language am I learning?",
            "Which language am I studying?",
            "What am I learning?",
            "What new language am I learning?",
        ],
        ["I am learning", "The language I am learning is"],
    ),
    "learning": _t(
        "is learning",
        "learning:{thing_slug}",
        "I am learning {object}.",
        [
            "What am I learning?",
            "What am I learning these days?",
            "What skill am I learning?",
            "What am I trying to learn?",
        ],
        ["I am learning", "Right now I am learning"],
    ),
    # --- things I do ----------------------------------------------------------------------
    "instrument": _t(
        "plays",
        "instrument",
        "I play the {object}.",
        [
            "Which instrument do I play?",
            "What instrument do I play?",
            "What do I play?",
            "What musical instrument do I play?",
            "Do I play an instrument?",
            "What instrument can I play?",
        ],
        ["I play the", "My instrument is the", "The instrument I play is the"],
    ),
    "learning_instrument": _t(
        "is learning",
        "learning:instrument",
        "I am learning to play the {object}.",
        [
            "Which instrument am I learning?",
            "What instrument am I learning to play?",
            "What am I learning to play?",
            "What instrument am I practising?",
            "What new instrument am I learning?",
        ],
        ["I am learning to play the", "The instrument I am learning is the"],
    ),
    "sport": _t(
        "plays",
        "sport:{thing_slug}",
        "I play {object}.",
        [
            "What sport do I play?",
            "Which sport do I play?",
            "What game do I play?",
            "Do I play any sports?",
        ],
        ["I play", "The sport I play is"],
    ),
    "hobby": _t(
        "hobby",
        "hobby",
        "My hobby is {object}.",
        [
            "What is my hobby?",
            "What are my hobbies?",
            "What do I do in my free time?",
            "What do I like to do for fun?",
            "What is my pastime?",
        ],
        ["My hobby is", "In my free time I enjoy"],
    ),
    "vehicle": _t(
        "drives",
        "vehicle",
        "I {verb} {a_obj} {object}.",
        [
            "What {vtype} do I {verb}?",
            "What do I {verb}?",
            "What kind of {vtype} do I have?",
            "What is my {vtype}?",
            "Which vehicle do I {verb}?",
            "What {vtype} do I own?",
        ],
        ["I {verb} {a}", "My {vtype} is {a}", "The {vtype} I {verb} is {a}"],
    ),
    "commute": _t(
        "commutes by",
        "commute",
        "I get to work by {object}.",
        [
            "How do I get to work?",
            "How do I commute?",
            "How do I travel to work?",
            "How do I go to work?",
            "What do I use to get to work?",
            "What is my way of getting to work?",
        ],
        ["I get to work by", "I commute by", "I go to work by"],
    ),
    "reading_topic": _t(
        "is reading about",
        "reading",
        "I am reading a book about {object}.",
        [
            "What is the book I'm reading about?",
            "What is my book about?",
            "What am I reading about?",
            "What topic is the book I'm reading on?",
            "What's my current book about?",
        ],
        ["I am reading a book about", "The book I am reading is about", "My book is about"],
    ),
    "reading_title": _t(
        "is reading",
        "reading",
        "I am reading {object}.",
        [
            "What book am I reading?",
            "What am I reading?",
            "What am I reading at the moment?",
            "Which book am I reading now?",
            "What's the book I'm currently reading?",
        ],
        ["I am reading", "The book I am reading is", "My current book is"],
    ),
    # --- tastes ---------------------------------------------------------------------------
    "favourite": _t(
        "favourite {thing}",
        "favourite:{thing_slug}",
        "My {fav} {thing} is {object}.",
        [
            "What is my {fav} {thing}?",
            "What's my {fav_alt} {thing}?",
            "Which {thing} is my {fav}?",
            "What {thing} do I like most?",
            "Tell me my {fav} {thing}.",
        ],
        ["My {fav} {thing} is", "The {thing} I like most is", "My {fav_alt} {thing} is"],
    ),
    "like": _t(
        "likes",
        "like:{thing_slug}",
        "I love {object}.",
        [
            "What do I love?",
            "What do I like?",
            "What do I enjoy?",
            "What am I a fan of?",
            "What is something I love?",
        ],
        ["I love", "I really like", "Something I enjoy is"],
    ),
    "dislike": _t(
        "dislikes",
        "dislike:{thing_slug}",
        "I don't like {object}.",
        [
            "What do I hate?",
            "What don't I like?",
            "What do I dislike?",
            "What can't I stand?",
            "Is there something I don't like?",
        ],
        ["I hate", "I really dislike", "Something I can't stand is"],
    ),
    "allergy": _t(
        "is allergic to",
        "allergy",
        "I am allergic to {object}.",
        [
            "What am I allergic to?",
            "What is my allergy?",
            "What allergy do I have?",
            "What do I have an allergy to?",
            "Do I have any allergies?",
            "What triggers my allergy?",
        ],
        ["I am allergic to", "My allergy is to", "I have an allergy to"],
    ),
    "count": _t(
        "has",
        "count:{thing_slug}",
        "I have {object} {thing}.",
        [
            "How many {thing} do I have?",
            "How many {thing} have I got?",
            "What is the number of {thing} I have?",
            "Do I have any {thing}?",
        ],
        ["I have", "The number of {thing} I have is"],
    ),
    # --- family and people ----------------------------------------------------------------
    "family_name": _t(
        "name",
        "family:{rel_slug}:name",
        "My {rel_poss} name is {object}.",
        [
            "What is my {rel_poss} name?",
            "What is my {rel} called?",
            "What's the name of my {rel}?",
            "Who is my {rel}?",
            "What's my {rel_poss} name?",
            "Do you know my {rel_poss} name?",
        ],
        ["My {rel_poss} name is", "My {rel} is called", "I have {a_rel} {rel} named"],
    ),
    "family_job": _t(
        "works as",
        "family:{rel_slug}:job",
        "My {who} work{s} as {a_obj} {object}.",
        [
            "What {does} my {rel} do?",
            "What is my {rel_poss} job?",
            "What {does} my {rel} work as?",
            "What is my {rel_poss} occupation?",
            "What job {does} my {rel} have?",
            "What does {name} do?",
            "What does {name} work as?",
        ],
        ["My {rel} work{s} as {a}", "My {rel_poss} job is", "My {rel} {is} {a}"],
    ),
    "family_workplace": _t(
        "works at",
        "family:{rel_slug}:workplace",
        "My {who} work{s} at {art_}{object}.",
        [
            "Where {does} my {rel} work?",
            "Who {does} my {rel} work for?",
            "What is my {rel_poss} workplace?",
            "Which company {does} my {rel} work for?",
            "Where does {name} work?",
        ],
        ["My {rel} work{s} at {art_}", "My {rel_poss} workplace is {art_}"],
    ),
    "family_age": _t(
        "is aged",
        "family:{rel_slug}:age",
        "My {who} {is} {object} years old.",
        [
            "What is my {rel_poss} age?",
            "What age {is} my {rel}?",
            "How many years old {is} my {rel}?",
            "How old is {name}?",
            "Tell me my {rel_poss} age.",
            "What age is {name}?",
        ],
        ["My {rel} {is}", "My {rel_poss} age is"],
    ),
    "family_home": _t(
        "lives in",
        "family:{rel_slug}:home",
        "My {who} live{s} in {object}.",
        [
            "Where {does} my {rel} live?",
            "Which city {does} my {rel} live in?",
            "Where is my {rel_poss} home?",
            "What city {does} my {rel} live in?",
            "Where does {name} live?",
        ],
        ["My {rel} live{s} in", "My {rel_poss} home is in"],
    ),
    "family_instrument": _t(
        "plays",
        "family:{rel_slug}:instrument",
        "My {who} play{s} the {object}.",
        [
            "What instrument {does} my {rel} play?",
            "Which instrument {does} my {rel} play?",
            "What {does} my {rel} play?",
            "What musical instrument {does} my {rel} play?",
            "What instrument does {name} play?",
        ],
        ["My {rel} play{s} the", "My {rel_poss} instrument is the"],
    ),
    "family_sport": _t(
        "plays",
        "family:{rel_slug}:sport",
        "My {who} play{s} {object}.",
        [
            "What sport {does} my {rel} play?",
            "Which sport {does} my {rel} play?",
            "What {does} my {rel} play?",
            "What game {does} my {rel} play?",
            "What sport does {name} play?",
        ],
        ["My {rel} play{s}", "My {rel_poss} sport is"],
    ),
    # --- pets -----------------------------------------------------------------------------
    "pet": _t(
        "has pet",
        "pet:{species}",
        "I have {a_obj} {object}.",
        [
            "What pet do I have?",
            "What kind of pet do I have?",
            "What animal do I have?",
            "Do I have any pets?",
            "What animal do I keep as a pet?",
        ],
        ["I have a pet", "My pet is {a}"],
    ),
    "pet_name": _t(
        "name",
        "pet:{species}:name",
        "My {animal_poss} name is {object}.",
        [
            "What is my {animal_poss} name?",
            "What is my {animal} called?",
            "What's the name of my {animal}?",
            "What do I call my {animal}?",
            "What is my pet's name?",
            "What's my {animal_poss} name?",
            "What is my {category_poss} name?",
        ],
        ["My {animal_poss} name is", "My {animal} is called", "I have {a_animal} {animal} named"],
    ),
    "pet_names": _t(
        "names",
        "pet:{species}:name",
        "My {animal} are called {object}.",
        [
            "What are my {animal} called?",
            "What are the names of my {animal}?",
            "What are my pets' names?",
            "What do I call my {animal}?",
            "What names do my {animal} have?",
        ],
        ["My {animal} are called", "I have {animal} named"],
    ),
    "pet_breed": _t(
        "breed",
        "pet:{species}:breed",
        "My {animal} is {a_obj} {object}.",
        [
            "What breed is my {animal}?",
            "What kind of {animal} do I have?",
            "What type of {animal} is my pet?",
            "What breed of {animal} do I have?",
            "What breed is {name}?",
        ],
        ["My {animal} is {a}", "My {animal_poss} breed is"],
    ),
    "pet_age": _t(
        "is aged",
        "pet:{species}:age",
        "My {animal} is {object} years old.",
        [
            "How old is my {animal}?",
            "What is my {animal_poss} age?",
            "What age is my {animal}?",
            "How many years old is my {animal}?",
            "How old is {name}?",
        ],
        ["My {animal} is", "My {animal_poss} age is"],
    ),
    # --- generic fallbacks ----------------------------------------------------------------
    "generic": _t(
        "is",
        "my:{np_slug}",
        "My {np} {is} {object}.",
        [
            "What {is} my {np}?",
            "Do you remember my {np}?",
            "Tell me my {np}.",
            "What did I say my {np} {is}?",
            "Can you tell me my {np}?",
        ],
        ["My {np} {is}", "I told you that my {np} {is}"],
    ),
    "generic_name": _t(
        "is called",
        "my:{np_slug}:name",
        "My {np} is called {object}.",
        [
            "What is my {np} called?",
            "What is my {np_poss} name?",
            "What's the name of my {np}?",
            "What do I call my {np}?",
        ],
        ["My {np} is called", "My {np_poss} name is"],
    ),
    "stated": _t(
        "stated",
        "stated:{thing_slug}",
        "{object}",
        [
            "What do you know about me?",
            "What do you remember about me?",
            "Tell me something about me.",
            "What have I told you about myself?",
        ],
        [],
    ),
    "note": _t(
        "said",
        "note:{thing_slug}",
        "{object}",
        [
            "What do you remember about me?",
            "What did I ask you to remember?",
            "What do you know about me?",
            "Tell me something you remember about me.",
        ],
        [],
    ),
}
"""Every kind of fact the built-in extractors produce, keyed by kind name."""


_FIELDS = string.Formatter()


def article(word: str) -> str:
    """'a' or 'an' for ``word``; good enough for the nouns people say about themselves."""
    w = word.strip().lower()
    if re.match(r"(?:hour|honest|honou?r|heir)", w):
        return "an"
    if re.match(r"(?:uni|use|usu|ute|eu|ewe|one|once|ukul|ur[aeiou])", w):
        return "a"
    return "an" if w[:1] in ("a", "e", "i", "o", "u") else "a"


def possessive(noun: str) -> str:
    """English possessive of a noun phrase: "sister" -> "sister's", "parents" -> "parents'"."""
    noun = noun.strip()
    if not noun:
        return noun
    return noun + "'" if noun.endswith("s") and not noun.endswith("ss") else noun + "'s"


def slug(value: str, limit: int = 40) -> str:
    """A stable, lower-case key for a free-text value, used inside slots.

    Values with no word characters at all (emoji) get a short hash instead, so that two
    different ones do not share (and supersede each other in) one slot.
    """
    s = re.sub(r"[^\w]+", "_", value.lower(), flags=re.UNICODE).strip("_")
    return s[:limit].rstrip("_") or hashlib.blake2s(value.encode(), digest_size=4).hexdigest()


def _fields_of(template: str) -> list[str]:
    return [name for _, name, _, _ in _FIELDS.parse(template) if name]


_MAY_BE_EMPTY = {"art_", "s"}  # grammatical glue, empty on purpose ("the" unsaid, plural verb)


def _render(template: str, values: Mapping[str, str]) -> str | None:
    """Fill ``template``; None when it needs a value that is empty or missing."""
    for name in _fields_of(template):
        if name not in values or (not values[name] and name not in _MAY_BE_EMPTY):
            return None
    out = template.format_map(values)
    return re.sub(r"\s{2,}", " ", out).strip()


def _literal(items: Iterable[str]) -> list[str]:
    return [" ".join(item.split()) for item in items if isinstance(item, str)]


def _dedupe(items: Iterable[str | None]) -> list[str]:
    seen: set[str] = set()
    out: list[str] = []
    for item in items:
        key = item.lower()
        if item and key not in seen:
            seen.add(key)
            out.append(item)
    return out


def _values(kind: str, answer: str, obj: str, fields: Mapping[str, str]) -> dict[str, str]:
    v = {k: (val or "") for k, val in fields.items()}
    v["answer"] = answer
    v["object"] = obj
    v["a"] = article(answer)
    v["a_obj"] = article(obj)
    art = v.get("art", "")
    v["art_"] = f"{art} " if art else ""
    plural = v.get("plural") == "1"
    v["does"] = "do" if plural else "does"
    v["is"] = "are" if plural else "is"
    v["s"] = "" if plural else "s"
    rel = v.get("rel", "")
    if rel:
        v["rel_poss"] = possessive(rel)
        v["rel_slug"] = slug(v.get("rel_key") or rel)
        v["a_rel"] = article(rel)
        v["who"] = f"{rel} {v['name']}" if v.get("name") else rel
    animal = v.get("animal", "")
    if animal:
        v["animal_poss"] = possessive(animal)
        v["a_animal"] = article(animal)
        if not v.get("species"):
            v["species"] = animal
    category = v.get("category", "")
    if category and category != animal:
        v["category_poss"] = possessive(category)
    else:
        v["category_poss"] = ""
    if v.get("species"):
        v["species"] = slug(v["species"])
    thing = v.get("thing", "")
    v["thing_slug"] = slug(v.get("thing_key") or thing or obj)
    fav = v.get("fav") or "favourite"
    v["fav"] = fav
    v["fav_alt"] = "favorite" if fav == "favourite" else "favourite"
    np = v.get("np", "")
    if np:
        v["np_poss"] = possessive(np)
        v["np_slug"] = slug(np)
    return v


def build_fact(
    kind: str,
    answer: str,
    *,
    obj: str | None = None,
    subject: str = "I",
    source: str = "",
    extractor: str = "",
    lead_questions: Iterable[str] = (),
    extra_questions: Iterable[str] = (),
    extra_statements: Iterable[str] = (),
    text: str | None = None,
    **fields: str,
) -> Fact | None:
    """Build the Fact for one kind of personal fact, or None if it cannot be phrased.

    answer: the short span the model must say; obj: the fuller value (defaults to answer).
    fields: template values such as rel="sister", name="Clara", animal="dog",
    thing="food", fav="favorite", np="email address", verb="drive", vtype="car",
    art="a", plural="1". ``lead_questions`` come before the template's questions (use them
    when they are more specific than the template's), ``extra_questions`` and
    ``extra_statements`` after the template's own.
    """
    template = TEMPLATES.get(kind)
    answer = (answer or "").strip()
    if template is None or not answer:
        return None
    obj = (obj or answer).strip()
    values = _values(kind, answer, obj, fields)
    # Caller-supplied questions and statements are literal text (they may come from a model
    # or a user and contain braces); only the templates are formatted.
    questions = [*_literal(lead_questions), *(_render(q, values) for q in template.questions)]
    if kind == "favourite":
        extra = _FAV_EXTRA.get(fields.get("thing_key") or fields.get("thing", ""), ())
        questions += [_render(q, values) for q in extra]
    questions += _literal(extra_questions)
    qs = _dedupe(q for q in questions if q)
    if len(qs) < MIN_QUESTIONS:
        qs = _dedupe([*qs, "What do you remember about me?", "What do you know about me?"])
    rendered = [*(_render(s, values) for s in template.statements), *_literal(extra_statements)]
    statements = _dedupe(s for s in rendered if s)
    slot = _render(template.slot, values) or ""
    relation = _render(template.relation, values) or template.relation
    if text is None:
        text = _render(template.text, values) or obj
    text = text.strip()
    if text and text[-1] not in ".!?":
        text += "."
    return Fact(
        text=text[:1].upper() + text[1:],
        subject=subject,
        relation=relation,
        object=obj,
        answer=answer,
        questions=tuple(qs[:MAX_QUESTIONS]),
        statements=tuple(statements[:4]),
        slot=slot,
        source=source,
        extractor=extractor,
    )
