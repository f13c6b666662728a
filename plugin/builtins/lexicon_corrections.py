"""Word lists for corrections and forget requests in plain words.

Data only (see ``rules_forget`` and ``rules_corrections`` for the patterns that read them);
this module imports nothing from the package.
"""

from __future__ import annotations


def _words(text: str) -> frozenset[str]:
    return frozenset(w.replace("_", " ") for w in text.split())


FORGET_VERBS = _words("forget delete erase remove drop scrub wipe unlearn disregard")
"""Verbs that ask the bot to let go of something it was told."""

FORGET_FILLER = _words(
    "thing things stuff bit bits part parts info information detail details fact facts story "
    "one figure figures number numbers amount note notes situation business matter topic "
    "whole entire little earlier before previously ago today yesterday private please pls "
    "plz okay ok too also again all of about the a an my our that this those these your "
    "i u you said told mentioned wrote shared typed say tell mention me kinda bit embarrassing "
    "at in on for to from with of by as it is are was be any some at_all"
)
"""Words of a forget request's topic that name no subject ("the money thing" -> money)."""

FORGET_TOPICS: dict[str, tuple[str, ...]] = {
    # a word people use for a topic -> the words facts about it are stated with
    "money": ("salary", "earn", "income", "wage", "wages", "pay", "paid", "per hour", "loan",
              "debt", "rent", "savings", "mortgage"),
    "pay": ("salary", "earn", "income", "wage", "wages", "per hour"),
    "salary": ("salary", "earn", "income", "wage", "wages", "per hour"),
    "income": ("salary", "earn", "income", "wage", "wages"),
    "wage": ("salary", "earn", "income", "wage", "wages", "per hour"),
    "earnings": ("salary", "earn", "income", "wage", "wages"),
    "ex": ("ex", "ex-boyfriend", "ex-girlfriend", "ex-husband", "ex-wife", "ex-partner",
           "exboyfriend", "exgirlfriend", "former partner"),
    "surgery": ("surgery", "operation", "operated"),
    "operation": ("surgery", "operation", "operated"),
    "health": ("surgery", "operation", "diagnosis", "diagnosed", "illness", "condition",
               "allergic", "allergy", "medication"),
    "address": ("address", "street", "live"),
    "loan": ("loan", "debt", "owe", "mortgage"),
    "debt": ("loan", "debt", "owe", "mortgage"),
    "age": ("age", "years old", "born"),
    "birthday": ("birthday", "born"),
    "job": ("job", "work", "works", "profession"),
    "work": ("job", "work", "works", "workplace", "company", "employer"),
    "home": ("home", "live", "lives"),
    "weight": ("weight", "weigh", "kg", "kilos", "pounds"),
    "password": ("password", "passcode", "pin"),
}  # fmt: skip
"""Topic words and the fact words they stand for; a topic not listed stands for itself."""

GIVE_UP_VERBS = _words("left quit sold ditched dumped gave_up stopped moved_out_of")
"""Verbs of "I left MTN", "we sold the corolla": the named value no longer holds."""
