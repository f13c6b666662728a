"""The generic fallback: "My <thing> is <value>." and "My <thing> is called <name>.",
tried by the pipeline only when no slot rule found anything in a clause."""

from __future__ import annotations

import re

from sleepmem.plugin.builtins.lexicon import (
    ANIMALS,
    FAMILY,
    head_word,
)
from sleepmem.plugin.builtins.rule_parse import (
    I_,
    Clause,
    compile_rule,
    parse_name,
    parse_value,
)

# --- generic fallback ------------------------------------------------------------------

_GENERIC_NAME = compile_rule(
    r"^my\s+(?P<np>[^\W\d_][\w'-]*(?:\s+[^\W\d_][\w'-]*){0,3}?)\s+is\s+(?:called|named)\s+"
    r"(?P<tail>.+)$"
)
_GENERIC = compile_rule(
    r"^my\s+(?P<np>[^\W\d_][\w'-]*(?:\s+[^\W\d_][\w'-]*){0,3}?)\s+(?P<verb>is|are|'s)\s+"
    r"(?P<tail>.+)$"
)
_GENERIC_STOP_NP = {
    "point", "question", "problem", "guess", "bad", "pleasure", "day", "week", "weekend",
    "life", "head", "back", "stomach", "mind", "heart", "answer", "reply", "issue",
    "concern", "fault", "turn", "plan", "idea", "goal", "dream", "wish", "hope", "bet",
    "advice", "opinion", "feeling", "understanding", "impression", "request", "task",
    "message", "name", "age", "job", "mood", "apologies", "excuse", "reason",
    "favourite", "favorite", "fave", "hobby", "hobbies", "birthday", "allergy", "home",
    "city", "hometown", "profession", "occupation", "work", "car", "phone", "computer",
    "internet", "wifi", "laptop", "battery", "english", "memory", "time", "schedule",
}  # fmt: skip
_GENERIC_BAD_VALUE = re.compile(
    r"^(?:my|your|his|her|our|their|so|very|too|really|not|kind|sort|pretty|quite|a\s+bit|"
    r"more|less|most|least|much|\w+er\s+than|getting|going|being|still|"
    r"always|also|just|gone|broken|dead|sick|ill|fine|ok|okay|great|good|bad|awful|"
    r"terrible|better|worse|tired|sore|killing|hurting|over|here|there|that|to|like|"
    r"about|in|on|at|with|from|for|by|done|busy|full|empty|off|out|up|down|late|early|"
    r"amazing|nice|lovely|weird|strange|crazy|funny|sad|happy|the\s+best|the\s+worst)\b",
    I_,
)


def r_generic(c: Clause) -> None:
    m = _GENERIC_NAME.match(c.text)
    if m:
        np = m["np"].lower()
        name, _ = parse_name(m["tail"], c.loose)
        if name and np not in _GENERIC_STOP_NP and head_word(np) not in FAMILY:
            c.add("generic_name", name, np=np)
        return
    m = _GENERIC.match(c.text)
    if not m:
        return
    np = " ".join(m["np"].lower().split())
    head = head_word(np)
    if np in _GENERIC_STOP_NP or head in _GENERIC_STOP_NP:
        return
    # "my sister Ana is more old-school" (a pronoun resolved to a named relative): the slot
    # rules own relatives and pets, whatever word ends the phrase
    if any(w in FAMILY or w in ANIMALS for w in np.split()):
        return
    if np.startswith(("favou", "fav")):
        return
    tail = m["tail"].strip()
    if _GENERIC_BAD_VALUE.match(tail) or re.match(r"^\w+ing\b", tail):
        return
    _, value = parse_value(tail, max_words=8)
    if not value:
        return
    plural = "1" if m["verb"].lower() == "are" else ""
    c.add("generic", value, np=np, plural=plural)
