"""Rule-based extraction of personal facts from one chat message (English): the pipeline.

Why rules: they run in microseconds on every message, need no model, never invent a value
that was not said, and give each fact a stable ``slot`` so a later correction ("I moved to
Lisbon") supersedes the old fact. A model-based extractor can add recall on top.

Pipeline: normalise -> sentences -> drop questions and hypotheticals -> strip greetings and
"actually," -> split into clauses -> resolve "He/She/It" to the last pet or relative ->
drop negated, reported and modal clauses -> run every rule on the clause -> if nothing
matched, try the generic "My <thing> is <value>." rule. Every value is cut at the first
clause boundary (", so ...", " and I ...", ", in the north of ...") and stripped of articles.

Precision matters more than recall: a wrong fact in a slot silently replaces a right one.

Corrections: a fact in the slot of a known one supersedes it; one that names only the old
value ("it's 1986, not 1988") is read against the user's known facts
(``rules_corrections``). Forget requests in plain words ("please forget what I said about
my salary") and values said to no longer hold ("not Osaka anymore") are returned by
``forget_requests`` (``rules_forget``), which the ``forget_requests`` hook answers.

This module holds the pipeline, ``/remember`` and the plugin hooks. The rules themselves
are in ``rules_identity``, ``rules_work``, ``rules_family``, ``rules_pets``,
``rules_tastes``, ``rules_transport``, ``rules_interests``, ``rules_generic``,
``rules_life`` and ``rules_speech``, text preparation in
``rule_text``, what the rules share (value parsing, the clause state) in ``rule_parse``,
the word lists in ``lexicon`` and ``lexicon_corrections``, the ``/remember`` notes in
``rules_remember``. The public names other modules import from here are re-exported (see
``__all__``).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from sleepmem.engine.commands import is_command
from sleepmem.engine.facts import Fact, ForgetRequest
from sleepmem.plugin.builtins.lexicon import (
    ANIMALS,
    CAT_BREEDS,
    DOG_BREEDS,
    FAMILY,
    FAMILY_ADJ,
    LANGUAGES_LOWER,
    PROGRAMMING_LOWER,
    animal_fields,
    instrument_in,
    looks_like_business,
    looks_like_job,
    relative_fields,
    singular,
)
from sleepmem.plugin.builtins.rule_gate import (
    HYPO_START,
    canonical,
    drop_quoted_speech,
    gate_reason,
)
from sleepmem.plugin.builtins.rule_parse import I_, NAME, Clause, Entity
from sleepmem.plugin.builtins.rule_resolve import named_kin, resolve
from sleepmem.plugin.builtins.rule_text import asides_apart, normalise, sentences, strip_prefix
from sleepmem.plugin.builtins.rules_answers import bare_answer
from sleepmem.plugin.builtins.rules_casual import (
    EMOJI_RUN,
    drop_tag_comment,
    presupposed,
    r_loose_name,
    refused_allergy,
    restore_apostrophes,
    rewrite_clause,
    strip_fillers,
)
from sleepmem.plugin.builtins.rules_casual import with_subject as casual_subject
from sleepmem.plugin.builtins.rules_corrections import (
    by_value,
    drop_not_tail,
    known_entities,
    on_unnamed_slots,
)
from sleepmem.plugin.builtins.rules_family import r_family
from sleepmem.plugin.builtins.rules_forget import forget_requests as asked_to_forget
from sleepmem.plugin.builtins.rules_forget import no_longer
from sleepmem.plugin.builtins.rules_generic import r_generic
from sleepmem.plugin.builtins.rules_identity import r_dates, r_home, r_name, r_places_of_origin
from sleepmem.plugin.builtins.rules_interests import (
    r_language,
    r_misc,
    r_music_sport,
    r_reading,
    r_study,
)
from sleepmem.plugin.builtins.rules_labels import labelled
from sleepmem.plugin.builtins.rules_life import RULES as LIFE_RULES
from sleepmem.plugin.builtins.rules_life import everyday_family
from sleepmem.plugin.builtins.rules_pets import r_pets
from sleepmem.plugin.builtins.rules_reference import restate
from sleepmem.plugin.builtins.rules_remember import note_fact, strip_remember
from sleepmem.plugin.builtins.rules_speech import (
    before_question,
    r_fear,
    r_name_aside,
    r_svo,
    with_subject,
)
from sleepmem.plugin.builtins.rules_tastes import r_allergy, r_favourite, r_likes
from sleepmem.plugin.builtins.rules_telegraphic import telegraphic
from sleepmem.plugin.builtins.rules_transport import r_car_model, r_transport
from sleepmem.plugin.builtins.rules_work import r_business, r_job
from sleepmem.plugin.hookspecs import hookimpl
from sleepmem.plugin.types import ExtractContext

# The public API. The lexicon names are re-exported because model_extractor reads them
# from here.
__all__ = [
    "ANIMALS",
    "CAT_BREEDS",
    "DOG_BREEDS",
    "EXTRACTOR",
    "FAMILY",
    "FAMILY_ADJ",
    "LANGUAGES_LOWER",
    "MAX_FACTS",
    "NAME",
    "PROGRAMMING_LOWER",
    "RuleExtractor",
    "animal_fields",
    "extract",
    "forget_requests",
    "instrument_in",
    "looks_like_business",
    "looks_like_job",
    "parse_statement",
    "register_extractors",
    "relative_fields",
    "singular",
]

log = logging.getLogger(__name__)

MAX_MESSAGE_CHARS = 20_000  # longer messages are cut: nobody states facts in a novel
MAX_SENTENCE_CHARS = 1_000  # a "sentence" longer than this is code, a log or a paste
MAX_FACTS = 40
HISTORY_TURNS = 3  # prior user turns scanned for a pronoun's antecedent

# --------------------------------------------------------------------------------------
# text preparation
# --------------------------------------------------------------------------------------

_DISLIKE_NORMAL = [
    (re.compile(r"\b(?:do\s*n[o']?t|do\s+not)\s+(?:really\s+)?(?:like|enjoy|care\s+for)\b", I_),
     "dislike"),
    (re.compile(r"\bcan(?:'t|not|\s+not)\s+stand\b", I_), "dislike"),
    (re.compile(r"\bI(?:'m|\s+am)\s+not\s+(?:really\s+)?(?:a\s+)?(?:big\s+|huge\s+)?fan\s+of\b",
                I_), "I dislike"),
]  # fmt: skip
# "The one thing I can't stand is deep water", "What I love most is hiking": the thing
# is the object, said plainly ("I dislike deep water"), not "is deep water"
_CLEFT = re.compile(
    r"^(?:the\s+(?:one\s+|only\s+|main\s+|big\s+)?thing|what|something)\s+I\s+"
    r"(?:really\s+|truly\s+|absolutely\s+|honestly\s+)?"
    r"(?P<verb>love|like|enjoy|adore|hate|dislike|fear|dread|am\s+afraid\s+of|am\s+scared\s+of)"
    r"\s+(?:(?:the\s+)?most\s+|above\s+all\s+|in\s+the\s+world\s+)?(?:is|are)\s+(?P<x>\S.*)$",
    I_,
)
_CLEFT_VERB = {"fear": "am afraid of", "dread": "am afraid of"}
_CONTRACTIONS = [
    # texting style: a lone lower-case "i" is the speaker ("i live in ...", "i'm ...")
    (re.compile(r"(?<![\w.'])i(?=\s|'|$)"), "I"),
    (re.compile(r"\b[Ii]ve\b(?=\s)"), "I have"),
    (re.compile(r"\bI'm\b", I_), "I am"),
    (re.compile(r"\b[Ii]m\b(?=\s)"), "I am"),
    (re.compile(r"\bI've\b", I_), "I have"),
    (re.compile(r"\b(we|they|you)'re\b", I_), r"\1 are"),
    (re.compile(r"\b(we|they|you)'ve\b", I_), r"\1 have"),
]
_CORRECTION = re.compile(
    r"^(?P<subj>my\s[^,;]{1,60}?)\s+(?:is|'s)\s*(?:not|n't)\s+(?P<old>[^,;]+?)"
    r"(?:\s+(?:anymore|any\s+more))?(?:\s*[,;]\s*|\s+-\s+|\s+)"
    r"(?:(?:but|rather|it's|it\s+is|actually|instead|now)\s*,?\s*)+(?P<new>\S.*)$",
    I_,
)
_NEGATED_TAIL = re.compile(
    r"(?:,\s*|\s+(?:and|but)\s+)not\s+[^,;]*$|\s+(?:instead\s+of|rather\s+than)\s+[^,;]*",
    I_,
)

_PRON = (
    r"(?:I|I'm|I've|I'd|I'll|Im|my|we|we're|we've|our|he|he's|she|she's|they|they're|"
    r"it|it's|his|her|their)"
)
_CLAUSE_SPLIT = re.compile(
    rf"\s*;\s*|\s+-\s+(?={_PRON}\b)"
    # "I told you I live in Lyon, but no: we moved ...": the retraction ends the old claim
    r"|,?\s+but\s+no\b\s*[:,!.-]*\s*|\s*:\s+(?=(?:last|this|next|now|since)\b)"
    # "A personal touch: Tamil is my mother tongue": what follows a colon is its own clause
    r"|\s*:\s+(?=(?-i:[A-Z])|(?:I|my|we)\b)"
    rf"|,\s*(?:(?:and|but|so|because|since|as|although|though|while|whereas|plus|also|"
    rf"then|yet)\s+)?(?={_PRON}\b)"
    rf"|\s+(?:and|but|so|because|while|whereas|although|though|yet)\s+(?=(?:also\s+)?{_PRON}\b)",
    I_,
)


def _is_loose(clause: str) -> bool:
    """All lower case (typed casually): names and places cannot be told by capitals."""
    body = re.sub(r"\bI(?:'m|'ve|'d|'ll)?\b", "", clause)
    return not any(ch.isupper() for ch in body[1:])


# every rule but the generic fallback, in the order they run on a clause
_RULES = (
    r_name,
    r_loose_name,
    r_home,
    r_places_of_origin,
    r_dates,
    r_job,
    r_business,
    r_family,
    r_pets,
    r_favourite,
    r_likes,
    r_allergy,
    r_transport,
    r_car_model,
    r_music_sport,
    r_language,
    r_reading,
    r_study,
    r_misc,
    r_name_aside,
    r_fear,
    *LIFE_RULES,
)


# --------------------------------------------------------------------------------------
# driver
# --------------------------------------------------------------------------------------


def _sentence_body(sentence: str) -> str:
    """The part of a sentence rules may look at, or "" when the whole sentence is off-limits."""
    sentence = drop_tag_comment(sentence)
    if sentence.rstrip(" )\"'").endswith("?"):
        sentence = before_question(sentence)  # what it states before it asks, if anything
    body = strip_prefix(sentence)
    if not body or HYPO_START.match(body):
        return ""
    for pat, repl in (*_CONTRACTIONS, *_DISLIKE_NORMAL):
        body = pat.sub(repl, body)
    cleft = _CLEFT.match(body)
    if cleft:
        verb = " ".join(cleft["verb"].lower().split())
        body = f"I {_CLEFT_VERB.get(verb, verb)} {cleft['x']}"
    body = everyday_family(canonical(body))
    m = _CORRECTION.match(body.rstrip(" .!"))
    if m:
        body = f"{m['subj']} is {m['new']}"
    return body


_AUX_ADVERBS = re.compile(
    r"\b(I|we|am|are|is|have|has|been|was|were)\s+(?:(?:also|still|now|currently|actually|"
    r"really|just|usually|mostly|mainly|primarily|often|always|sometimes|normally|generally|"
    r"recently|finally|already|even|both|happily|proudly|technically|officially|basically|"
    r"definitely|absolutely|totally|kind\s+of|sort\s+of|pretty\s+much)\s+)+",
    I_,
)


def _clauses(body: str) -> list[str]:
    """Independent clauses of a sentence, with adverbs after "I am" etc. taken out."""
    out = []
    # in texting an emoji ends a clause as a full stop would: "im jaylen 👋 just moved ..."
    pieces = [p for part in EMOJI_RUN.split(body) for p in _CLAUSE_SPLIT.split(part)]
    for raw in pieces:
        raw = casual_subject(strip_fillers(strip_prefix(raw.strip())))
        clause = _AUX_ADVERBS.sub(r"\1 ", with_subject(raw))
        clause = drop_not_tail(_NEGATED_TAIL.sub("", clause).strip().rstrip(" .!;:,"))
        if clause:
            out.append(clause)
    return out


def _dedupe(facts: Iterable[Fact]) -> list[Fact]:
    seen: set[tuple[str, str]] = set()
    out: list[Fact] = []
    for fact in facts:
        key = (fact.slot_key, fact.answer.lower())
        if key not in seen:
            seen.add(key)
            out.append(fact)
    return out[:MAX_FACTS]


@dataclass
class _Reading:
    """What one message says: its facts, the entity it leaves for the next sentence, and
    the values it says no longer hold ("not Osaka anymore")."""

    facts: list[Fact] = field(default_factory=list)
    entity: Entity | None = None
    no_longer: list[ForgetRequest] = field(default_factory=list)
    sentences: list[str] = field(default_factory=list)


def _clause_facts(clause: str, raw: str, source: str, entity: Entity | None) -> Clause:
    c = Clause(clause, source=source, loose=_is_loose(clause))
    if clause != raw and entity is not None:
        c.known_name = entity.name
    for rule in _RULES:
        try:
            rule(c)
        except Exception:  # a rule bug must not break the chat
            log.warning("rule %s failed on %r", rule.__name__, clause, exc_info=True)
    for fallback in (r_generic, r_svo):  # the first that finds something wins
        if c.facts:
            break
        try:
            fallback(c)
        except Exception:
            log.warning("fallback %s failed on %r", fallback.__name__, clause, exc_info=True)
    return c


def _named(raw: str, names: dict[str, Entity]) -> Entity | None:
    """The known pet or relative a clause opens with by name ("Biscuit is 4 now")."""
    first = raw.split(" ", 1)[0].strip(",.!:;'").casefold()
    return names.get(first) or names.get(first.removesuffix("'s"))  # "Maya's job is ..."


def _mentioned(raw: str, names: dict[str, Entity]) -> Entity | None:
    """The last known pet or relative a clause names anywhere in it."""
    hits = [names[w] for w in re.findall(r"[\w'-]+", raw.casefold()) if w in names]
    return hits[-1] if hits else None


def _run(message: str, entity: Entity | None = None, known: Sequence[Fact] = ()) -> _Reading:
    out = _Reading(entity=entity)
    if not isinstance(message, str):
        return out
    text = normalise(message[:MAX_MESSAGE_CHARS])
    if not text or is_command(text):
        return out
    text = restore_apostrophes(text)
    text = asides_apart(drop_quoted_speech(text))
    if not text.strip(' "'):
        return out
    names = known_entities(known)
    for sentence in sentences(text):
        if len(sentence) > MAX_SENTENCE_CHARS:
            continue
        out.sentences.append(sentence)
        body = _sentence_body(sentence)
        if not body:
            continue
        source = sentence if len(sentence) <= 300 else sentence[:300]
        found: list[Fact] = []
        for raw in _clauses(body):
            gone = no_longer(raw)
            if gone is not None:
                out.no_longer.append(gone)
            referent = _named(raw, names) or out.entity
            clause = named_kin(rewrite_clause(resolve(raw, referent), referent), names)
            reason = gate_reason(clause)
            # a wish, a denial or words reported of someone named still name them
            named = presupposed(clause) if reason in ("modal", "negation", "reported") else []
            entity_before = out.entity
            for text_ in named if reason else [clause]:
                c = _clause_facts(text_, raw, source, referent)
                found.extend(c.facts)
                if c.entity is not None:
                    out.entity = c.entity
            # "I told you Hinewai is seven, but she turned 8": a known pet or relative named
            # anywhere in a clause, even one no rule reads, is who the next "she" means
            if out.entity is entity_before:
                out.entity = _mentioned(raw, names) or out.entity
        found.extend(refused_allergy(body, source))
        # last, so that in its slot the corrected value wins over a rule's reading
        found.extend(by_value(strip_prefix(body), known, source))
        out.facts.extend(found)
        if len(out.facts) >= MAX_FACTS:
            break
    # a correction told across sentences: "Left MTN on Friday. Vodafone now."
    if known and not any(f.slot_key in {k.slot_key for k in known} for f in out.facts):
        told = [s for s in out.sentences if _sentence_body(s) and not s.rstrip().endswith("?")]
        out.facts.extend(by_value(" ".join(told), known, text[:300]))
    # what the message says by pointing back ("that's my thing", "my favourite.") or as
    # labelled fields ("Location: Leeds"), read as the plain sentence it stands for; the
    # message's own readings keep their slots
    slots = {f.slot_key for f in out.facts}
    for said in [*restate(out.sentences), *labelled(out.sentences)]:
        out.facts.extend(f for f in _run(said).facts if f.slot_key not in slots)
    # a list reading fills only slots the sentence rules left empty: they read more context
    slots = {f.slot_key for f in out.facts}
    listed = [f for f in telegraphic(out.sentences) if f.slot_key not in slots]
    out.facts = on_unnamed_slots(_dedupe([*out.facts, *listed]), known, names)
    return out


def _history_entity(context: ExtractContext | None) -> Entity | None:
    """The pet or relative last mentioned in the user's recent turns, for "She ..." openers."""
    if context is None or not context.history:
        return None
    try:
        turns = [content for role, content in context.history if role == "user"]
    except (TypeError, ValueError):
        return None
    entity = None
    for content in turns[-HISTORY_TURNS:]:
        if isinstance(content, str):
            entity = _run(content[:2000], entity).entity
    return entity


def _known(context: ExtractContext | None) -> list[Fact]:
    known = getattr(context, "known", ()) or ()
    return [f for f in known if isinstance(f, Fact)]


def extract(message: str, context: ExtractContext | None = None) -> list[Fact]:
    """Facts the user states about themselves in ``message``; never raises."""
    try:
        facts = _run(message, _history_entity(context), _known(context)).facts
        if context is not None and context.history and isinstance(message, str):
            facts += bare_answer(normalise(message[:MAX_MESSAGE_CHARS]), context.history, facts)
        return facts
    except Exception:  # pragma: no cover - last line of defence
        log.warning("rule extraction failed", exc_info=True)
        return []


def forget_requests(message: str, context: ExtractContext | None = None) -> list[ForgetRequest]:
    """What ``message`` asks to be forgotten, or says no longer holds; never raises."""
    try:
        reading = _run(message, _history_entity(context), _known(context))
        return [*asked_to_forget(reading.sentences), *reading.no_longer]
    except Exception:  # pragma: no cover - last line of defence
        log.warning("rule forget detection failed", exc_info=True)
        return []


# --------------------------------------------------------------------------------------
# /remember
# --------------------------------------------------------------------------------------


def parse_statement(text: str) -> list[Fact]:
    """Facts for an explicit ``/remember <statement>``: at least one for non-blank text.

    The rules run first; when they find nothing the statement is kept as a note
    (``rules_remember.note_fact``).
    """
    if not isinstance(text, str):
        return []
    body = strip_remember(normalise(text[:MAX_MESSAGE_CHARS]))
    if not body or not any(ch.isalnum() or not ch.isascii() for ch in body):
        return []
    facts = extract(body)
    if facts:
        return facts
    fact = note_fact(body)
    return [fact] if fact else []


# --------------------------------------------------------------------------------------
# plugin registration
# --------------------------------------------------------------------------------------


class RuleExtractor:
    """The rule extractor as a registrable object (see ``register_extractors``)."""

    name = NAME

    def extract(self, message: str, context: ExtractContext) -> list[Fact]:
        return extract(message, context)

    def __repr__(self) -> str:
        return "RuleExtractor()"


EXTRACTOR = RuleExtractor()


@hookimpl(specname="forget_requests")
def forget_requests_hook(message: str, context: ExtractContext) -> list[ForgetRequest]:
    """Plain-words forget requests; they run with the rule extractor's plugin, whatever
    the config key ``extractors`` says, as ``/forget`` does."""
    return forget_requests(message, context)


@hookimpl(specname="explicit_statement")
def explicit_statement_hook(text: str) -> list[Fact] | None:
    """``/remember`` text the configured extractors found nothing in: the rules read it
    once more without the command word, else it is kept as a note (``parse_statement``)."""
    return parse_statement(text) or None


@hookimpl(tryfirst=True)
def register_extractors(register) -> None:  # type: ignore[no-untyped-def]
    """Offer the rule extractor first: it is cheap, exact, and its facts should win ties."""
    register(EXTRACTOR)
