"""Question and prompt templates for the kinds of fact ``rules_life`` adds: trips planned,
teams supported, the age a birthday brings.

Data for ``phrasing.build_fact``, like ``templates``; ``phrasing.TEMPLATES`` joins it in.
The questions are the first-person ones a user would ask later, since the model edit is
keyed on them.
"""

from __future__ import annotations

from sleepmem.plugin.builtins.templates import Template, t

LIFE_TEMPLATES: dict[str, Template] = {
    "travel": t(
        "is travelling to",
        "travel",  # one slot: a corrected trip ("Aberdeen, not Helsinki") replaces the old
        "I am travelling to {object}{when_}.",
        [
            "Where am I travelling {when}?",
            "Where am I going {when}?",
            "Where am I travelling to?",
            "Where am I going?",
            "Where is my next trip?",
            "Which place am I visiting soon?",
            "Where am I going on {trip}?",
        ],
        ["I am travelling to", "My next trip is to", "Soon I am going to"],
    ),
    "team": t(
        "supports",
        "team",
        "I support {object}.",
        [
            "Which {sport_}team do I support?",
            "Which team do I support?",
            "What team am I a fan of?",
            "Who do I support?",
            "Which team do I root for?",
            "What is my favourite team?",
        ],
        ["I support", "The team I support is", "I am a fan of"],
    ),
    "past_job": t(
        "worked as",
        "job:past",
        "I worked as {a_obj} {object}.",
        [
            "What did I do for a living?",
            "What was my job?",
            "What did I work as?",
            "What was my profession?",
            "What did I used to do for work?",
        ],
        ["I worked as {a}", "My old job was", "For years I was {a}"],
    ),
    "turning_age": t(
        "turns",
        "age:next",
        "I turn {object}{when_}.",
        [
            "How old am I turning?",
            "What age am I turning {when}?",
            "What age am I turning?",
            "How old will I be on my next birthday?",
            "Which birthday is coming up for me?",
        ],
        ["I am turning", "On my next birthday I turn"],
    ),
}
