"""Rules about how the user gets about: the commute and the vehicle they drive or ride."""

from __future__ import annotations

import re

from sleepmem.plugin.builtins.lexicon import (
    CAR_MODELS,
    VEHICLE_TYPES,
    head_word,
)
from sleepmem.plugin.builtins.rule_parse import (
    ADV,
    CUT_NP,
    I_WE,
    Clause,
    capital_span,
    clean,
    compile_rule,
    drop_fillers,
    parse_value,
)
from sleepmem.plugin.builtins.rules_tastes import BAD_OBJECT

# --- vehicles and commute --------------------------------------------------------------

_COMMUTE = compile_rule(
    rf"{I_WE}{ADV}\s+(?P<verb>ride|take|drive|catch|use|cycle|bike|walk|run|jog|skate|scoot)"
    r"(?:\s+(?P<art>a|an|the|my|our))?(?P<v>(?:\s+[\w'-]+){0,3}?)\s+(?:to|into)\s+"
    r"(?:work|the\s+office|my\s+office|my\s+job|school|university|uni|college|campus)\b"
)
_COMMUTE_BY = compile_rule(
    rf"{I_WE}{ADV}\s+(?:commute|go\s+to\s+work|get\s+to\s+work|travel\s+to\s+work|"
    r"go\s+to\s+the\s+office|get\s+to\s+the\s+office)\s+(?P<prep>by|on)\s+(?P<tail>.+)"
)
_VEHICLE = [
    compile_rule(rf"{I_WE}{ADV}\s+(?P<verb>drive|ride)\s+(?P<art>a|an|the|my)\s+(?P<tail>.+)"),
    compile_rule(r"\bmy\s+(?P<verb>car)\s+is\s+(?P<art>a|an)\s+(?P<tail>.+)"),
]


def _add_vehicle(c: Clause, verb: str, art: str, np: str) -> None:
    head = head_word(np)
    brand = "" if c.loose else capital_span(np)
    vtype = head if head in VEHICLE_TYPES else ("car" if verb == "drive" else "vehicle")
    if not brand and head not in VEHICLE_TYPES:
        return  # "I drive a hard bargain"
    answer = brand or drop_fillers(np)
    if answer and answer.casefold() == vtype.casefold():
        # "I drive a jeep": the answer is the kind itself, so ask for the general kind
        vtype = "car" if verb == "drive" else "vehicle"
    if answer:
        c.add("vehicle", answer, obj=np, verb=verb, vtype=vtype)


_MY_MODEL = compile_rule(
    rf"(?<!sold\s)(?<!crashed\s)(?<!scrapped\s)(?<!wrecked\s)(?<!totaled\s)(?<!totalled\s)"
    rf"\bmy\s+(?:(?:old|new|trusty|little|beloved|ancient|\d{{4}})\s+)?"
    rf"(?P<model>{'|'.join(sorted((re.escape(m) for m in CAR_MODELS), key=len, reverse=True))})\b"
)


def r_car_model(c: Clause) -> None:
    """ "gotta take my corolla in for a service": a car named by its model alone."""
    if any(f.slot == "vehicle" for f in c.facts):
        return
    m = _MY_MODEL.search(c.text)
    if m:
        model = m["model"]
        answer = model if any(ch.isupper() for ch in model) else model.title()
        c.add("vehicle", answer, obj=answer, verb="drive", vtype="car")


def r_transport(c: Clause) -> None:
    m = _COMMUTE.search(c.text)
    if m:
        verb = m["verb"].lower()
        np = clean(m["v"] or "")
        special = {
            "cycle": "bicycle",
            "bike": "bike",
            "walk": "walking",
            "run": "running",
            "jog": "running",
            "skate": "skateboard",
            "scoot": "scooter",
        }
        if not np and verb in special:
            answer = special[verb]
            c.add("commute", answer, text=f"I {verb} to work.")
            return
        if not np and verb == "drive":
            c.add("commute", "car", text="I drive to work.")
            return
        if np:
            answer = head_word(np)
            art = f"{m['art']} " if m["art"] else ""
            c.add("commute", answer, obj=np, text=f"I {verb} {art}{np} to work.")
            if verb == "drive":
                _add_vehicle(c, verb, m["art"] or "", np)
        return
    m = _COMMUTE_BY.search(c.text)
    if m:
        _, np = parse_value(m["tail"], CUT_NP, max_words=3)
        if np:
            answer = "walking" if np.lower() == "foot" else head_word(np)
            c.add("commute", answer, obj=np)
        return
    for pat in _VEHICLE:
        m = pat.search(c.text)
        if m:
            _, np = parse_value(m["tail"], CUT_NP, max_words=5)
            if np and not BAD_OBJECT.match(np):
                verb = "drive" if m["verb"].lower() == "car" else m["verb"].lower()
                _add_vehicle(c, verb, m["art"], np)
            return
