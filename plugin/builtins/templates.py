"""Question and prompt templates for the facts a user states about themself.

Data for ``phrasing.build_fact``: one ``Template`` per kind of fact (name, home, job,
languages, tastes ...), with the chat questions whose answer is the fact and the prompts
that end right before it. Kept apart from the code that fills them in because the table
is long and grows kind by kind. Relatives, pets and the catch-all kinds are in
``templates_others``; ``phrasing.TEMPLATES`` joins the two.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass


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


def t(relation: str, slot: str, text: str, questions: Iterable[str], statements: Iterable[str]):
    return Template(relation, slot, text, tuple(questions), tuple(statements))


FAV_EXTRA: dict[str, tuple[str, ...]] = {
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

USER_TEMPLATES: dict[str, Template] = {
    # --- identity -------------------------------------------------------------------------
    "name": t(
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
    "age": t(
        "is aged",
        "age",
        "I am {object} years old.",
        ["How old am I?", "What is my age?", "What age am I?", "How many years old am I?"],
        ["I am", "My age is"],
    ),
    "birth_year": t(
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
    "birth_date": t(
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
    "birthday": t(
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
    "nationality": t(
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
    "diet": t(
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
    "home": t(
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
    "hometown": t(
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
    "birthplace": t(
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
    "origin": t(
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
    "job": t(
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
    "workplace": t(
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
    "work_field": t(
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
    "business": t(
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
    "studies": t(
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
    "studying": t(
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
    "university": t(
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
    "graduation_year": t(
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
    "language": t(
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
    "native_language": t(
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
    "programming_language": t(
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
    "learning_language": t(
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
    "learning": t(
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
    "instrument": t(
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
    "learning_instrument": t(
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
    "sport": t(
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
    "hobby": t(
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
    "vehicle": t(
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
    "commute": t(
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
    "reading_topic": t(
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
    "reading_title": t(
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
    "favourite": t(
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
    "like": t(
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
    "dislike": t(
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
    "allergy": t(
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
    "count": t(
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
}
