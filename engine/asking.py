"""The ways people ask about one thing: other questions with the same meaning.

``wordings.variants`` changes a question's form ("Where's", no capitals, "Do you remember
where I live?"); people also change the words ("Which city am I based in?", "What's my line
of work?"). Each family below is one relation written several ways. A family's templates are
read both ways: a fact's question that matches any of them binds the placeholders (whose
fact it is, the free word), and every other template of the family is then written with the
same bindings. So one table recognises and generates, and a question the table does not
know simply gets no semantic variants.

Placeholders: {s} the subject ("I", "my sister", "my friend Aria"), {poss} its possessive
("my", "my sister's"), {obj} its object form ("me", "my sister"), {do}/{be}/{have} the verbs
agreeing with it, {x} a free word or two carried over unchanged ("food", "next month").
Templates use do-support ("Where does my sister live?") so no verb needs conjugating.
"""

from __future__ import annotations

import re
from functools import cache

FAMILIES: tuple[tuple[str, ...], ...] = (
    (  # name
        "What is {poss} name?",
        "What {be} {s} called?",
        "Do you know {poss} name?",
        "What name {do} {s} go by?",
        "Tell me {poss} name.",
        "Who {be} {s}?",
    ),
    (  # home
        "Where {do} {s} live?",
        "Which city {do} {s} live in?",
        "Where {be} {s} based?",
        "Where is {poss} home?",
        "What town {do} {s} live in?",
        "Where {be} {s} living these days?",
        "Where {do} {s} live now?",
    ),
    (  # origin
        "Where did {s} grow up?",
        "Where {be} {s} from?",
        "Where was {s} raised?",
        "Which town did {s} grow up in?",
        "What is {poss} hometown?",
        "Where {be} {s} from originally?",
    ),
    (  # occupation
        "What {do} {s} do for a living?",
        "What is {poss} job?",
        "What {do} {s} do for work?",
        "What is {poss} profession?",
        "What is {poss} occupation?",
        "What line of work {be} {s} in?",
        "What work {do} {s} do?",
    ),
    (  # former occupation
        "What did {s} do for a living?",
        "What was {poss} job?",
        "What did {s} do for work?",
        "What was {poss} profession?",
        "What did {s} work as?",
    ),
    (  # employer
        "Which company {do} {s} work for?",
        "Where {do} {s} work?",
        "Who {do} {s} work for?",
        "What company {do} {s} work at?",
        "Who is {poss} employer?",
    ),
    (  # pet
        "What kind of pet {do} {s} have?",
        "What pet {do} {s} have?",
        "What animal {do} {s} have?",
        "What sort of pet {do} {s} own?",
        "What kind of animal is {poss} pet?",
    ),
    (  # favourite (the thing is the free word)
        "What is {poss} favourite {x}?",
        "Which {x} {do} {s} like best?",
        "What {x} {do} {s} love most?",
        "What is {poss} favorite {x}?",
        "What {x} {do} {s} like the most?",
    ),
    (  # favourite person (author, singer, band, player)
        "Who is {poss} favourite {x}?",
        "Which {x} {do} {s} like best?",
        "Who is {poss} favorite {x}?",
        "Which {x} {do} {s} love most?",
        "Who {do} {s} think is the best {x}?",
    ),
    (  # allergy
        "What {be} {s} allergic to?",
        "What {do} {s} have an allergy to?",
        "What is {poss} allergy?",
        "What allergy {do} {s} have?",
        "What gives {obj} an allergic reaction?",
    ),
    (  # fear
        "What {be} {s} afraid of?",
        "What {be} {s} scared of?",
        "What {do} {s} fear?",
        "What frightens {obj}?",
        "What is {poss} biggest fear?",
        "What {be} {s} terrified of?",
    ),
    (  # pastime
        "What is {poss} hobby?",
        "What {do} {s} do for fun?",
        "What {do} {s} do in {poss} free time?",
        "What is {poss} favourite pastime?",
        "What {do} {s} enjoy doing?",
    ),
    (  # weekends
        "What {do} {s} do at the weekend?",
        "What {do} {s} do at the weekends?",
        "What {do} {s} do on weekends?",
        "How {do} {s} spend {poss} weekends?",
        "What {do} {s} get up to at the weekend?",
    ),
    (  # team
        "Which {x} team {do} {s} support?",
        "Which {x} team {be} {s} a fan of?",
        "What {x} team {do} {s} root for?",
        "Which {x} team {do} {s} cheer for?",
        "Who {do} {s} support in {x}?",
    ),
    (  # team, sport unnamed
        "Which team {do} {s} support?",
        "Which team {be} {s} a fan of?",
        "What team {do} {s} root for?",
        "Which team {do} {s} cheer for?",
        "Who {do} {s} support?",
    ),
    (  # instrument
        "What instrument {do} {s} play?",
        "Which instrument {do} {s} play?",
        "What musical instrument {do} {s} play?",
        "What {do} {s} play?",
    ),
    (  # birthday
        "When is {poss} birthday?",
        "When was {s} born?",
        "What date is {poss} birthday?",
        "What day is {poss} birthday?",
        "When {do} {s} celebrate {poss} birthday?",
    ),
    (  # birth year
        "What year was {s} born?",
        "In which year was {s} born?",
        "When was {s} born?",
        "What is {poss} year of birth?",
    ),
    (  # age
        "How old {be} {s}?",
        "What age {be} {s}?",
        "What is {poss} age?",
        "How old {be} {s} now?",
    ),
    (  # studies
        "What did {s} study?",
        "What was {poss} major?",
        "What did {s} study at university?",
        "What is {poss} degree in?",
        "What subject did {s} study?",
    ),
    (  # school
        "Which college did {s} study at?",
        "Which university did {s} go to?",
        "Where did {s} study?",
        "Which college did {s} go to?",
        "Where did {s} go to university?",
        "Which university did {s} study at?",
    ),
    (  # first language
        "What is {poss} mother tongue?",
        "What is {poss} native language?",
        "What is {poss} first language?",
        "What language did {s} grow up speaking?",
    ),
    (  # language being learned
        "What language {be} {s} learning?",
        "Which language {be} {s} learning?",
        "What language {be} {s} studying?",
        "What language {be} {s} trying to learn?",
    ),
    (  # trip (when it is, as said)
        "Where {be} {s} travelling {x}?",
        "Where {be} {s} going {x}?",
        "Where {be} {s} headed {x}?",
        "Where {be} {s} traveling {x}?",
        "Where {be} {s} off to {x}?",
    ),
    (  # holiday
        "Where {be} {s} going on holiday {x}?",
        "Where {be} {s} going on vacation {x}?",
        "Where {be} {s} holidaying {x}?",
        "Where is {poss} holiday {x}?",
    ),
    (  # car
        "What car {do} {s} drive?",
        "What kind of car {do} {s} have?",
        "Which car {do} {s} drive?",
        "What is {poss} car?",
    ),
    (  # breed
        "What breed is {poss} {x}?",
        "What breed of {x} {do} {s} have?",
    ),
    (  # collection
        "What {do} {s} collect?",
        "What is {poss} collection of?",
        "What {do} {s} like to collect?",
    ),
    (  # partner
        "Who {be} {s} married to?",
        "Who is {poss} spouse?",
        "Who is {poss} partner?",
    ),
)

# The subject and its forms. A few words at most: "my friend Aria", "my little sister".
_SUBJECT = r"i|my(?: [a-z]+){1,3}?"
_PATTERNS = {
    "s": rf"(?P<s>{_SUBJECT})",
    "poss": r"(?P<poss>my|my(?: [a-z]+){1,3}?'s)",
    "obj": r"(?P<obj>me|my(?: [a-z]+){1,3}?)",
    "do": r"(?P<do>do|does)",
    "be": r"(?P<be>am|is)",
    "have": r"(?P<have>have|has)",
    "x": r"(?P<x>[a-z]+(?: [a-z]+){0,2}?)",
}
_CONTRACTIONS = (
    ("what's", "what is"),
    ("who's", "who is"),
    ("where's", "where is"),
    ("when's", "when is"),
    ("i'm", "i am"),
)


def _normal(question: str) -> str:
    q = " ".join(question.casefold().replace("\u2019", "'").split()).rstrip("?!. ")
    for short, long in _CONTRACTIONS:
        q = re.sub(rf"\b{re.escape(short)}\b", long, q)
    return q


@cache
def _matcher(template: str) -> re.Pattern[str]:
    """The template as a regex over normalised questions; a placeholder seen twice must
    bind the same text (a backreference)."""
    out, seen = [], set()
    for part in re.split(r"(\{\w+\})", _normal(template)):
        name = part[1:-1] if part.startswith("{") else None
        if name is None:
            out.append(re.escape(part))
        elif name in seen:
            out.append(f"(?P={name})")
        else:
            seen.add(name)
            out.append(_PATTERNS[name])
    return re.compile("".join(out) + r"$")


def _subject(binding: dict[str, str]) -> str | None:
    if binding.get("s"):
        return binding["s"]
    if binding.get("poss"):
        poss = binding["poss"]
        return "i" if poss == "my" else poss.removesuffix("'s")
    if binding.get("obj"):
        return "i" if binding["obj"] == "me" else binding["obj"]
    return None


def _agrees(binding: dict[str, str], first: bool) -> bool:
    """ "Where does I live" or "Where am my sister based" bind but are not questions."""
    want = {"do": "do" if first else "does", "be": "am" if first else "is"}
    want["have"] = "have" if first else "has"
    return all(binding.get(k) in (None, v) for k, v in want.items())


def _fill(template: str, subject: str, x: str | None) -> str | None:
    first = subject == "i"
    forms = {
        "s": "I" if first else subject,
        "poss": "my" if first else f"{subject}'s",
        "obj": "me" if first else subject,
        "do": "do" if first else "does",
        "be": "am" if first else "is",
        "have": "have" if first else "has",
    }
    if "{x}" in template:
        if not x:
            return None
        forms["x"] = x
    text = template.format(**forms)
    return text[:1].upper() + text[1:]


def _literal(template: str) -> int:
    return len(re.sub(r"\{\w+\}", "", template))


def _bind(question: str) -> tuple[int, str, str | None] | None:
    """(family index, subject, free word) of the most specific template ``question``
    matches: "Who is my favourite author?" is a favourite, not "Who is {s}?"."""
    q = _normal(question)
    best: tuple[int, int, str, str | None] | None = None
    for index, family in enumerate(FAMILIES):
        for template in family:
            m = _matcher(template).match(q)
            if not m:
                continue
            binding = {k: v for k, v in m.groupdict().items() if v is not None}
            subject = _subject(binding)
            if subject is None or not _agrees(binding, subject == "i"):
                continue
            if best is None or _literal(template) > best[0]:
                best = (_literal(template), index, subject, binding.get("x"))
    return best[1:] if best else None


def _recase(text: str, question: str) -> str:
    """Words of ``text`` back in the case the question wrote them ("my friend Aria")."""
    cases = {w.casefold(): w for w in re.findall(r"[\w']+", question) if w != "I"}
    return " ".join(cases.get(w, w) for w in text.split())


def rephrasings(question: str) -> list[str]:
    """Questions meaning what ``question`` means, in other words; [] when the table does
    not know its relation. The question itself is not among them."""
    bound = _bind(question)
    if bound is None:
        return []
    index, subject, x = bound
    subject = subject if subject == "i" else _recase(subject, question)
    x = _recase(x, question) if x else x
    own = _normal(question)
    out: list[str] = []
    for template in FAMILIES[index]:
        text = _fill(template, subject, x)
        if text and _normal(text) != own and text not in out:
            out.append(text)
    return out
