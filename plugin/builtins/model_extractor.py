"""Model-based extraction: ask the chat model itself which personal facts a message states.

Why: rules miss phrasings nobody wrote a pattern for. The model finds more, but small
models also invent, reorder and paraphrase, so everything it returns is checked: the value
must occur in the user's message (hallucination guard), the subject must be the user or
"my <relative/pet>", and a fact whose relation matches a known kind is phrased with the same
templates as the rules (so "lives in" gets the same questions and slot as the rule's home
fact and supersedes it). The extractor is inert unless the caller passes ``context.chat``.
"""

from __future__ import annotations

import json
import logging
import re
from dataclasses import replace
from typing import Any

from sleepmem.engine.commands import is_command
from sleepmem.engine.constrained import RecordList
from sleepmem.engine.facts import Fact
from sleepmem.plugin.builtins import rules
from sleepmem.plugin.builtins.phrasing import build_fact, slug
from sleepmem.plugin.hookspecs import hookimpl
from sleepmem.plugin.types import ExtractContext

log = logging.getLogger(__name__)

NAME = "model"
MAX_MESSAGE_CHARS = 2_000  # the prompt must fit a small model's context
MAX_REPLY_CHARS = 20_000
MAX_ITEMS = 8
MAX_OBJECT_WORDS = 10
MAX_VALUE_CHARS = 120

KEYS = ("subject", "relation", "object", "question")

PROMPT = """You extract personal facts from one chat message written by a user.
Reply with a JSON list only. Each item has the keys, in this order:
"subject": "I" for the user, or "my <relative or pet>" such as "my sister" or "my dog",
"relation": a short verb phrase such as "lives in", "works as", "name", "favourite food",
"object": the value, copied exactly from the message,
"question": a question the user could ask later whose answer is the object.
Only facts the user states as true about themselves, their family or their pets.
Questions, wishes, plans, hypotheticals and facts about strangers are not facts.
No facts: reply []."""

# Worked examples as earlier turns of the chat: small models copy a demonstrated reply
# more faithfully than they follow a description of one.
EXAMPLES = (
    (
        "I live in Porto and my dog is called Rex.",
        [
            ["I", "lives in", "Porto", "Where do I live?"],
            ["my dog", "name", "Rex", "What is my dog's name?"],
        ],
    ),
    ("What is the capital of France?", []),
    (
        "ugh long day, im a nurse so night shifts r killing me. my sister Mia says hi lol",
        [
            ["I", "works as", "nurse", "What do I do for work?"],
            ["my sister", "name", "Mia", "What is my sister's name?"],
        ],
    ),
    ("If I ever moved to Oslo I would learn to ski.", []),
    (
        "Since I'm allergic to peanuts, which snacks are safe?",
        [["I", "is allergic to", "peanuts", "What am I allergic to?"]],
    ),
)

_FENCE = re.compile(r"```(?:json|JSON)?\s*(?P<body>.*?)```", re.S)
_SELF = {"i", "me", "myself", "user", "the user", "my", "i am", "i'm", "self", "you"}


def build_messages(message: str) -> list[dict[str, str]]:
    """The chat messages sent to the model for one user message: the instructions, the
    worked examples as earlier turns, then the message."""
    messages = [{"role": "system", "content": PROMPT}]
    for text, rows in EXAMPLES:
        reply = json.dumps([dict(zip(KEYS, row)) for row in rows], ensure_ascii=False)
        messages.append({"role": "user", "content": f"Message: {text}"})
        messages.append({"role": "assistant", "content": reply})
    messages.append({"role": "user", "content": f"Message: {message[:MAX_MESSAGE_CHARS]}"})
    return messages


def constraint() -> RecordList:
    """The grammar the model's reply is decoded under: a list of fact records."""
    return RecordList(KEYS, max_items=MAX_ITEMS, max_value_chars=MAX_VALUE_CHARS)


def _as_items(value: Any) -> list[dict[str, Any]] | None:
    if isinstance(value, dict):
        inner = value.get("facts")
        if isinstance(inner, list):
            value = inner
        else:
            return [value]
    if isinstance(value, list):
        return [v for v in value if isinstance(v, dict)]
    return None


def parse_model_output(text: Any) -> list[dict[str, str]]:
    """The fact objects in a model reply; [] for anything that is not usable JSON.

    Accepts a bare list, a single object, ``{"facts": [...]}``, code fences and prose before
    or after the JSON. Values are coerced to stripped strings; items without an object
    are dropped.
    """
    if not isinstance(text, str) or not text.strip():
        return []
    text = text[:MAX_REPLY_CHARS]
    fence = _FENCE.search(text)
    candidates = [fence["body"], text] if fence else [text]
    decoder = json.JSONDecoder()
    for candidate in candidates:
        tries = 0
        for m in re.finditer(r"[\[{]", candidate):
            tries += 1
            if tries > 50:
                break
            try:
                value, _ = decoder.raw_decode(candidate, m.start())
            except (ValueError, RecursionError):
                continue
            items = _as_items(value)
            if items is None:
                continue
            return _clean_items(items)
    return []


def _clean_items(items: list[dict[str, Any]]) -> list[dict[str, str]]:
    out: list[dict[str, str]] = []
    for item in items[:MAX_ITEMS]:
        clean: dict[str, str] = {}
        for key in KEYS:
            value = item.get(key, item.get(key.capitalize(), ""))
            if isinstance(value, bool) or value is None:
                value = ""
            if isinstance(value, (int, float)):
                value = str(value)
            clean[key] = " ".join(value.split()) if isinstance(value, str) else ""
        if clean["object"]:
            out.append(clean)
    return out


def _fold(text: str) -> str:
    return " ".join(re.sub(r"[^\w@.+#'-]+", " ", text.casefold()).split())


def _span_in(message: str, obj: str) -> str:
    """``obj`` as it is written in ``message`` (hallucination guard); "" when it is not there."""
    obj = obj.strip(" .,;:!?\"'")
    if not obj or len(obj.split()) > MAX_OBJECT_WORDS:
        return ""
    words = [re.escape(w) for w in obj.split()]
    m = re.search(r"(?<!\w)" + r"[\s,]+".join(words) + r"(?!\w)", message, re.I)
    if m:
        return m.group(0)
    return obj if _fold(obj) and f" {_fold(obj)} " in f" {_fold(message)} " else ""


_CLAUSE_END = re.compile(
    r"[.!?;:\n]+|,\s*|\s+(?:and|but|so|because|while|although|though)\s+", re.I
)
_FUNCTION_TEXT = (
    "i i'm im me my mine am is are was were be been being a an the of in on at to for as "
    "by with from about it its it's this that do does did has have had not no very really "
    "just s name names named called call"
)
_FUNCTION_WORDS = frozenset(_FUNCTION_TEXT.split())


def _content_stems(text: str) -> set[str]:
    words = re.findall(r"[^\W\d_]+(?:'[a-z]+)?", text.casefold())
    return {w[:4] for w in words if w not in _FUNCTION_WORDS and len(w) > 2}


def _grounded(message: str, obj: str, relation: str, subject: str) -> bool:
    """Is ``obj`` said in the same clause as the relation (or, for a bare "is a"/"name"
    relation, the subject) the model read it with? Small models pair a value with a relation
    from another clause ("terrified of heights, so no ferris wheel" -> afraid of "ferris
    wheel"); a value stated with its relation is the shape a real fact has."""
    low = message.casefold()
    at = low.find(obj.casefold())
    if at < 0:
        return False
    starts = [0] + [m.end() for m in _CLAUSE_END.finditer(message) if m.end() <= at]
    ends = [m.start() for m in _CLAUSE_END.finditer(message) if m.start() >= at + len(obj)]
    clause = message[max(starts) : min(ends) if ends else len(message)]
    clause_stems = _content_stems(clause.replace(obj, " "))
    wanted = _content_stems(relation) - _content_stems(obj)
    if not wanted:
        wanted = _content_stems(subject)
    if not wanted:  # "I" + "name": a name said with no word of its own, such as "Kenji here"
        return True
    return bool(wanted & clause_stems)


# "am a chef", "is a cat": the model wrote the value into the relation, so its "object" is
# something else from the message (seen: "I work like chef in a restaurant" -> "restaurant")
_VALUE_IN_RELATION = re.compile(r"\b(?:is|am|are|was|were)\s+(?:a|an|the)\s+\w+")


def _said(message: str, subject: str) -> bool:
    """Is the relative or pet a "my ..." subject names mentioned in the message at all? (A
    small model hands a fact about the user to "my sister" from its worked examples.)"""
    words = [w for w in _content_stems(subject.replace("'s", "")) if w != "my"]
    return not words or bool(set(words) & _content_stems(message))


def _who(subject: str) -> tuple[str, dict[str, str]] | None:
    """("self"|"family"|"pet", template fields) for a subject; None for other people."""
    s = " ".join(subject.lower().replace("'s", "").split())
    if s in _SELF:
        return "self", {}
    if not s.startswith("my "):
        return None
    words = subject.split()[1:]
    low = [w.lower() for w in words]
    for n in (3, 2, 1):
        head = " ".join(low[:n])
        if head in rules.ANIMALS or head in rules.DOG_BREEDS or head in rules.CAT_BREEDS:
            return "pet", {**rules.animal_fields(head), "name": " ".join(words[n:])}
        base = " ".join(low[1:n]) if n > 1 and low[0] in rules.FAMILY_ADJ else head
        if base in rules.FAMILY:
            return "family", rules.relative_fields(head, " ".join(words[n:]))
    return None


def _is_year(value: str) -> bool:
    return bool(re.fullmatch(r"(?:1[89]|20)\d{2}", value.strip()))


def _self_kind(rel: str, obj: str) -> tuple[str, dict[str, str]]:
    """Map a relation about the user to a phrasing kind ("" when none fits)."""
    low = obj.lower()
    fav = re.search(r"favou?rite\s+(?P<thing>[\w ]+)", rel)
    checks: list[tuple[bool, str, dict[str, str]]] = [
        (bool(fav), "favourite", {"thing": fav["thing"].strip() if fav else ""}),
        ("allerg" in rel, "allergy", {}),
        (bool(re.search(r"\bname\b|\bcalled\b|\bnamed\b", rel)), "name", {}),
        ("birthday" in rel, "birthday", {}),
        ("born" in rel and _is_year(obj), "birth_year", {}),
        ("born" in rel and bool(re.search(r"\d", obj)), "birth_date", {}),
        ("born" in rel, "birthplace", {}),
        (bool(re.search(r"grew up|hometown|raised", rel)), "hometown", {}),
        (bool(re.search(r"\blive|resid|\bhome\b|based|moved", rel)), "home", {}),
        (bool(re.search(r"\bfrom\b", rel)), "origin", {}),
        (bool(re.search(r"work(?:s|ing)? (?:at|for)|employer|workplace", rel)), "workplace", {}),
        (bool(re.search(r"work(?:s|ing)? as|\bjob\b|profession|occupation", rel)), "job", {}),
        (bool(re.search(r"^(?:is|am) an?$", rel)) and rules.looks_like_job(obj), "job", {}),
        (bool(re.search(r"\bage\b|\baged\b|years old", rel)), "age", {}),
        (bool(re.search(r"native|mother tongue|first language", rel)), "native_language", {}),
        (bool(re.search(r"speak|language", rel)) and low in rules.PROGRAMMING_LOWER,
         "programming_language", {}),
        (bool(re.search(r"speak|language", rel)), "language", {}),
        (bool(re.search(r"program|code|coding", rel)), "programming_language", {}),
        (bool(re.search(r"learn", rel)) and bool(rules.instrument_in(obj)),
         "learning_instrument", {}),
        (bool(re.search(r"learn", rel)) and low in rules.LANGUAGES_LOWER,
         "learning_language", {}),
        (bool(re.search(r"learn", rel)), "learning", {"thing": obj}),
        (bool(re.search(r"commute|to work", rel)), "commute", {}),
        (bool(re.search(r"\bdrives?\b|\bcar\b", rel)), "vehicle",
         {"verb": "drive", "vtype": "car"}),
        (bool(re.search(r"\bplays?\b", rel)) and bool(rules.instrument_in(obj)), "instrument", {}),
        (bool(re.search(r"\bplays?\b", rel)), "sport", {}),
        (bool(re.search(r"read", rel)) and "about" in rel, "reading_topic", {}),
        (bool(re.search(r"read", rel)), "reading_title", {}),
        (bool(re.search(r"\bowns?\b|\bruns?\b", rel)) and rules.looks_like_business(obj),
         "business", {}),
        (bool(re.search(r"graduat", rel)) and _is_year(obj), "graduation_year", {}),
        (bool(re.search(r"stud", rel)), "studies", {}),
        (bool(re.search(r"hate|dislike|don't like|do not like|can't stand", rel)), "dislike", {}),
        (bool(re.search(r"love|like|enjoy|fan of", rel)), "like", {}),
        ("diet" in rel, "diet", {}),
        ("nationality" in rel, "nationality", {}),
        ("hobby" in rel, "hobby", {}),
    ]  # fmt: skip
    for ok, kind, fields in checks:
        if ok:
            if kind in ("like", "dislike", "sport"):
                fields = {**fields, "thing_key": obj}
            if kind == "favourite":
                thing = fields["thing"]
                key = rules.singular(thing)
                fields = {**fields, "thing_key": "colour" if key == "color" else key}
            return kind, fields
    return "", {}


def _other_kind(who: str, rel: str, obj: str) -> str:
    """Map a relation about a relative or pet to a phrasing kind."""
    if re.search(r"\bname\b|\bcalled\b|\bnamed\b", rel):
        return "family_name" if who == "family" else "pet_name"
    if re.search(r"\bage\b|\baged\b|years old|\bold\b", rel):
        return f"{who}_age"
    if who == "pet":
        return "pet_breed" if re.search(r"breed|kind|type|^is an?$", rel) else ""
    if re.search(r"work(?:s|ing)? (?:at|for)|employer|workplace", rel):
        return "family_workplace"
    if re.search(r"work(?:s|ing)? as|\bjob\b|profession|occupation", rel) or (
        re.search(r"^(?:is|are) an?$", rel) and rules.looks_like_job(obj)
    ):
        return "family_job"
    if re.search(r"\blive|resid|\bhome\b|based|moved", rel):
        return "family_home"
    if re.search(r"\bplays?\b", rel):
        return "family_instrument" if rules.instrument_in(obj) else "family_sport"
    return ""


_IRREGULAR = {"is": "am", "was": "was", "has": "have", "does": "do", "goes": "go"}


def _first_person(relation: str) -> str:
    """ "collects" -> "collect", "lives in" -> "live in": the model speaks of the user."""
    words = relation.split()
    if not words:
        return relation
    verb = words[0]
    if verb in _IRREGULAR:
        verb = _IRREGULAR[verb]
    elif re.search(r"(?:ch|sh|ss|x|zz|o)es$", verb):
        verb = verb[:-2]
    elif re.search(r"[^aeiou]ies$", verb):
        verb = verb[:-3] + "y"
    elif verb.endswith("s") and not verb.endswith(("ss", "us", "is")):
        verb = verb[:-1]
    return " ".join([verb, *words[1:]])


def fact_from_item(item: dict[str, str], message: str) -> Fact | None:
    """Turn one parsed model item into a Fact, or None if it fails the guards."""
    obj = _span_in(message, item.get("object", ""))
    if not obj:
        return None
    who = _who(item.get("subject", ""))
    if who is None:
        return None
    kind_of, fields = who
    relation = " ".join(item.get("relation", "").lower().split())
    if _VALUE_IN_RELATION.search(relation) or not _said(message, item.get("subject", "")):
        return None
    if not _grounded(message, obj, relation, item.get("subject", "")):
        return None
    question = item.get("question", "").strip()
    extra = [question] if question.endswith("?") and len(question) <= 120 else []
    if kind_of == "self":
        kind, more = _self_kind(relation, obj)
        subject = "I"
    else:
        kind, more = _other_kind(kind_of, relation, obj), {}
        ref = fields.get("rel") or fields.get("animal", "")
        subject = f"my {ref} {fields.get('name', '')}".strip()
        if kind in ("family_name", "pet_name") and fields.get("name"):
            fields = {**fields, "name": ""}
    if kind:
        answer = obj.lower() if kind in ("instrument", "family_instrument") else obj
        return build_fact(
            kind, answer, subject=subject, source=message[:300], extractor=NAME,
            extra_questions=extra, **{**fields, **more},
        )  # fmt: skip
    if not extra or not relation:
        return None  # an unknown relation with no question cannot be asked about
    if subject == "I":
        subj_text, relation = "I", _first_person(relation)
    else:
        subj_text = subject[:1].upper() + subject[1:]
    fact = build_fact(
        "stated",
        obj,
        subject=subject,
        source=message[:300],
        extractor=NAME,
        thing_key=f"{subject} {relation}",
        lead_questions=extra,
        extra_statements=[f"{subj_text} {relation}", f"As I told you, {subj_text} {relation}"],
        text=f"{subj_text} {relation} {obj}.",
    )
    if fact is None:
        return None
    return replace(fact, relation=relation, slot=f"model:{slug(subject)}:{slug(relation)}")


def extract(message: str, context: ExtractContext | None) -> list[Fact]:
    """Facts the chat model finds in ``message``; [] without ``context.chat`` or on failure."""
    if context is None or context.chat is None or not isinstance(message, str):
        return []
    message = message.strip()
    if not message or is_command(message):
        return []
    try:
        reply = context.chat(build_messages(message), constraint=constraint())
    except Exception:  # the chat must go on even if extraction fails
        log.warning("model extraction failed", exc_info=True)
        return []
    facts: list[Fact] = []
    seen: set[tuple[str, str]] = set()
    for item in parse_model_output(reply):
        try:
            fact = fact_from_item(item, message[:MAX_MESSAGE_CHARS])
        except Exception:
            log.warning("bad model fact %r", item, exc_info=True)
            continue
        if fact is not None and (fact.slot_key, fact.answer.lower()) not in seen:
            seen.add((fact.slot_key, fact.answer.lower()))
            facts.append(fact)
    return facts


class ModelExtractor:
    """The model extractor as a registrable object; inert without ``context.chat``."""

    name = NAME

    def extract(self, message: str, context: ExtractContext) -> list[Fact]:
        return extract(message, context)

    def __repr__(self) -> str:
        return "ModelExtractor()"


EXTRACTOR = ModelExtractor()


@hookimpl
def register_extractors(register) -> None:  # type: ignore[no-untyped-def]
    """Offer the model extractor; it does nothing unless the caller supplies a chat model."""
    register(EXTRACTOR)
