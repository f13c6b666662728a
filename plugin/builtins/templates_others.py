"""Question and prompt templates for relatives, pets and the catch-all kinds of fact.

The second half of the template table (see ``templates`` for the first): facts about
the user's family and friends, their pets, and the generic kinds used when no specific
template fits ("My <thing> is <value>.", a stated fact, a /remember note).
"""

from __future__ import annotations

from sleepmem.plugin.builtins.templates import Template, t

OTHER_TEMPLATES: dict[str, Template] = {
    # --- family and people ----------------------------------------------------------------
    "family_name": t(
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
    "family_job": t(
        "works as",
        "family:{who_slug}:job",
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
    "family_workplace": t(
        "works at",
        "family:{who_slug}:workplace",
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
    "family_age": t(
        "is aged",
        "family:{who_slug}:age",
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
    "family_home": t(
        "lives in",
        "family:{who_slug}:home",
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
    "family_instrument": t(
        "plays",
        "family:{who_slug}:instrument",
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
    "family_sport": t(
        "plays",
        "family:{who_slug}:sport",
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
    "family_origin": t(
        "is from",
        "family:{who_slug}:origin",
        "My {who} {is} from {object}.",
        [
            "Where {is} my {rel} from?",
            "Where did my {rel} grow up?",
            "Where {is} my {rel} originally from?",
            "What is my {rel_poss} hometown?",
            "Where is {name} from?",
            "Where did {name} grow up?",
        ],
        ["My {rel} {is} from", "My {rel} grew up in"],
    ),
    "family_favourite": t(
        "favourite {thing}",
        "family:{who_slug}:favourite:{thing_slug}",
        "My {who_poss} {fav} {thing} is {object}.",
        [
            "What is my {rel_poss} {fav} {thing}?",
            "What's my {rel_poss} {fav_alt} {thing}?",
            "Which {thing} {does} my {rel} like most?",
            "Tell me my {rel_poss} {fav} {thing}.",
            "What is {name_poss} {fav} {thing}?",
            "What {thing} does {name} like best?",
        ],
        ["My {rel_poss} {fav} {thing} is", "The {thing} my {rel} likes most is"],
    ),
    # --- pets -----------------------------------------------------------------------------
    "pet": t(
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
    "pet_name": t(
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
    "pet_names": t(
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
    "pet_breed": t(
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
    "pet_age": t(
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
    "generic": t(
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
    "generic_name": t(
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
    "svo": t(
        "{verb}",
        "svo:{verb}:{thing_slug}",
        "I {verb} {object}.",
        [
            "What do I {verb}?",
            "Do you remember what I {verb}?",
            "What did I tell you I {verb}?",
            "Tell me what I {verb}.",
        ],
        ["I {verb}", "As I told you, I {verb}"],
    ),
    "fear": t(
        "is afraid of",
        "fear:{thing_slug}",
        "I am afraid of {object}.",
        [
            "What am I scared of?",
            "What am I afraid of?",
            "What frightens me?",
            "What is my fear?",
            "What am I terrified of?",
        ],
        ["I am scared of", "I am afraid of", "What frightens me most is"],
    ),
    "stated": t(
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
    "note": t(
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
