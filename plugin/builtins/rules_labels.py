"""Facts typed as labelled fields: "Location: Leeds", "Job: nurse", "Education: BSc Biology,
University of Leeds", often inside a request to draft a CV, a profile or a bio ("Add
education: electrical engineering, KNUST.", "Current role - data analyst at Monzo").

Each field is restated as the plain sentence the slot rules read ("I live in Leeds.", "I
work as a nurse.", "I studied electrical engineering. I studied at KNUST."), so a labelled
fact gets the same slot, questions and corrections as a spoken one. The labels are in
``lexicon_labels``; a value that is a placeholder ("[your city]", "TBD", "?") is no fact.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from sleepmem.plugin.builtins.lexicon_labels import LABELS, SCHOOL_WORDS

I_ = re.I

_FIELD = re.compile(
    r"^(?:(?:please\s+)?(?:add|put|include|list|use|set|update|change|mention|write)\s+"
    r"(?:my\s+|the\s+)?)?(?:my\s+)?(?P<label>[a-z][a-z /'-]{1,30}?)\s*(?::|\s-)\s*(?P<value>\S.*)$",
    I_,
)
_PLACEHOLDER = re.compile(r"^(?:[\[<({].*|tbd|tba|n/?a|none|unknown|\?+|x+|\.+|-+|_+|\w+\?)$", I_)
_DEGREE = re.compile(r"^(?:b\.?sc|m\.?sc|b\.?a|m\.?a|ph\.?d|b\.?eng|m\.?eng|mba|bachelor'?s|"
                     r"master'?s|degree|diploma)\.?\s+(?:(?:in|of)\s+)?", I_)  # fmt: skip
_ACRONYM = re.compile(r"^(?-i:[A-Z]{2,6})$")


def _education(value: str) -> list[str]:
    """ "electrical engineering, KNUST" -> what was studied, and where."""
    out: list[str] = []
    for chunk in re.split(r"\s*,\s*|\s+(?:at|from)\s+", value):
        chunk = chunk.strip(" .")
        if not chunk:
            continue
        words = {w.lower() for w in re.findall(r"[\w'-]+", chunk)}
        if words & SCHOOL_WORDS or _ACRONYM.match(chunk):
            out.append(f"I studied at {chunk}.")
        elif not any(s.startswith("I studied ") and " at " not in s for s in out):
            subject = _DEGREE.sub("", chunk)
            if subject and not re.fullmatch(r"\d{4}", subject):
                out.append(f"I studied {subject}.")
    return out


# "a reference for my colleague", "update her CV": the fields describe someone else
_ABOUT_SOMEONE = re.compile(
    r"\b(?:for|about)\s+(?:my|a|an|our|his|her|their)\s+(?:\w+\s+)?(?:colleague|friend|"
    r"son|daughter|brother|sister|mum|mom|dad|father|mother|wife|husband|partner|boss|client|"
    r"student|employee|candidate|coworker|co-worker|neighbou?r|kid|child)\b|"
    r"\b(?:for|about)\s+(?:him|her|them)\b|\b(?:his|her|their)\s+(?:cv|resume|résumé|"
    r"profile|bio|letter|application)\b",
    I_,
)


def labelled(sentences: Sequence[str]) -> list[str]:
    """Plain sentences for the labelled fields among ``sentences`` (one field a sentence or
    line; several fields in one line are split at the full stops the splitter found)."""
    out: list[str] = []
    if any(_ABOUT_SOMEONE.search(s) for s in sentences):
        return out
    for sentence in sentences:
        m = _FIELD.match(sentence.strip())
        if not m:
            continue
        label = " ".join(m["label"].lower().split())
        value = m["value"].strip().rstrip(" .!")
        template = LABELS.get(label)
        if template is None or not value or _PLACEHOLDER.match(value) or "?" in value:
            continue
        if template == "education":
            out.extend(_education(value))
        else:
            out.append(template.format(value=value))
    return out
