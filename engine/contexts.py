"""The conversations an edit is written under, so that it fires where people really chat.

A key is the hidden state at the question's last token, and that state depends on
everything before the question: the system prompt a front end sends (Open WebUI presets,
character cards, a Discord persona), or the model's own default one when none is sent, and
the turns already in the chat. An edit keyed in one such context barely fires in another
(measured: 6 of 8 facts in an empty chat, 2 under a one-line app prompt, 0 under a persona
or after small talk). So, like MEMIT's context templates but shaped as conversations (CoRE),
every fact is keyed and its target optimised under a small family of contexts drawn from
the pools below, and what protects ordinary questions is built under the same pools.

The pools are the engine's own, written to vary along the axes front ends vary: length,
register, language, character. They are deliberately not taken from any benchmark.
Each fact gets a deterministic draw (hashed from its answer and questions), so different
facts see different personas and small talk, and an audit can pick contexts the fact's edit
never saw (``held_out``).
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass

Message = dict[str, str]

APP_PROMPTS: tuple[str, ...] = (
    "You are a helpful assistant.",
    "You are a concise assistant. Answer in one or two sentences.",
    "You are a friendly AI companion. Be warm, honest and brief.",
    "You are Sparky, the bot of a gaming Discord server. Keep replies short and casual.",
    "Answer the user's questions accurately. If you are unsure, say so.",
    "You are an assistant inside a note-taking app. The current date is 3 March.",
    "",
)

PERSONAS: tuple[str, ...] = (
    "You are ORBIT-7, the calm maintenance AI of a research station orbiting Europa. You "
    "speak in clear, measured sentences, sometimes mention oxygen levels or the view of "
    "Jupiter through the cupola, and you care about the crew's wellbeing. You never claim "
    "to be human. When a crew member asks something, you answer directly and then add a "
    "short note about station life.",
    "You are Grandmaster Oswin, an ancient and slightly grumpy wizard who keeps the great "
    "library of the Tower of Nine Winds. You grumble about apprentices who bend the pages, "
    "you love riddles, tea with honey and long words, and despite your sighs you always help "
    "whoever climbs the stairs to your desk. You speak in an old-fashioned way.",
    "You are Coach Dani, an upbeat personal trainer and nutrition buddy. You cheer people "
    "on, use lots of energy and the odd emoji, and you turn every answer into a tiny bit "
    "of motivation. You keep things practical: one clear answer, then an encouraging line.",
    "You are Captain Rosalind 'Red' Vane, a retired pirate who now runs a harbour tavern. "
    "You talk like an old sailor, call people 'matey', tell tall tales about storms and "
    "sea serpents, and you are fiercely loyal to your regulars. You answer questions "
    "plainly before spinning a yarn.",
    "You are Jeeves-like butler Mr. Pemberton, serving the household with impeccable "
    "manners. You address the user as 'sir or madam', speak formally and precisely, and "
    "you remember the small preferences of everyone in the house. You never gossip, but you "
    "do offer a discreet suggestion when it may help.",
    "You are Mika, a cheerful anime-style companion character who lives in the user's "
    "phone. You are playful, curious and a little dramatic, you love snacks and rainy days, "
    "and you end many sentences with a happy remark. You are always on the user's side.",
    "You are Sam Calloway, a hard-boiled private detective in a rainy 1940s city. You talk "
    "in short, world-weary sentences full of similes about cigarettes, jazz and bad coffee. "
    "Clients come to your office with questions and you give them straight answers.",
    "Eres Lucía, una profesora de idiomas muy paciente que vive en Sevilla. Hablas de forma "
    "cercana y alegre, corriges con cariño y te encanta hablar de comida, música y viajes. "
    "Respondes primero a la pregunta y luego añades un pequeño comentario amable.",
    "Tu es Margaux, la patronne d'un petit café à Lyon. Tu parles avec chaleur, tu connais "
    "tous tes habitués et tu aimes donner des conseils sur la cuisine et la vie. Tu réponds "
    "simplement, puis tu ajoutes une petite anecdote du café.",
    "You are the narrator of a cosy fantasy role-play set in the village of Willowmere. "
    "Describe scenes briefly, voice the villagers when they speak, and keep the story "
    "gentle. When the player asks a question out of character, answer it plainly.",
)

SMALL_TALK: tuple[tuple[str, str], ...] = (
    ("Hey! How's it going?", "Hi! I'm doing well, thanks for asking. How can I help today?"),
    (
        "Can you give me a quick tip for sleeping better?",
        "Try to keep a regular bedtime, and put screens away for half an hour before sleep.",
    ),
    (
        "What's a good word for 'very tired'?",
        "Exhausted works well, or 'worn out' if you want something more casual.",
    ),
    (
        "lol my coffee machine just broke",
        "Oh no! A French press or even a pan on the stove can get you through until then.",
    ),
    (
        "Is it better to water plants in the morning or evening?",
        "Morning is usually best: the water soaks in before the heat of the day.",
    ),
    (
        "Tell me a fun fact.",
        "Octopuses have three hearts, and two of them stop beating while they swim.",
    ),
    (
        "How many minutes should I boil an egg for a runny yolk?",
        "About six minutes in boiling water, then straight into cold water.",
    ),
    (
        "What's 15% of 80?",
        "15% of 80 is 12.",
    ),
    (
        "Any idea for a quick lunch?",
        "A wrap with hummus, spinach and whatever vegetables you have is fast and filling.",
    ),
    (
        "ok thanks, that helps",
        "Glad it helped! Let me know if there's anything else.",
    ),
    (
        "Do you like rainy days?",
        "I don't feel the weather, but many people love rain for reading and tea.",
    ),
    (
        "Explain what a leap year is in one sentence.",
        "A leap year has 366 days: 29 February keeps the calendar in step with the seasons.",
    ),
)


@dataclass(frozen=True)
class Context:
    """One conversation state a question can arrive in: ``messages`` go before it."""

    kind: str  # "default", "app", "persona", "small_talk", "persona_small_talk"
    messages: tuple[Message, ...] = ()

    def around(self, question: str) -> list[Message]:
        return [*self.messages, {"role": "user", "content": question}]

    @property
    def key(self) -> tuple[tuple[str, str], ...]:
        return tuple((m["role"], m["content"]) for m in self.messages)


DEFAULT = Context("default")
"""No messages: the chat template's own default system prompt, if it has one."""

KINDS = ("default", "app", "persona", "small_talk", "persona_small_talk")
"""The order a family is filled in: the first ``n`` kinds, one context each."""


def _turns(pairs: Sequence[tuple[str, str]]) -> tuple[Message, ...]:
    out: list[Message] = []
    for user, assistant in pairs:
        out += [{"role": "user", "content": user}, {"role": "assistant", "content": assistant}]
    return tuple(out)


def _draw(seed: str, salt: str, n: int) -> int:
    digest = hashlib.blake2s(f"{seed}|{salt}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") % n


def make(kind: str, seed: str, variant: int = 0) -> Context:
    """The context of ``kind`` drawn for ``seed`` (``variant`` > 0: another draw)."""
    salt = f"{kind}|{variant}"
    if kind == "default":
        return DEFAULT
    if kind == "app":
        text = APP_PROMPTS[_draw(seed, salt, len(APP_PROMPTS))]
        return Context(kind, ({"role": "system", "content": text},))
    if kind == "persona":
        text = PERSONAS[_draw(seed, salt, len(PERSONAS))]
        return Context(kind, ({"role": "system", "content": text},))
    if kind == "small_talk":
        first = _draw(seed, salt, len(SMALL_TALK))
        count = 1 + _draw(seed, salt + "n", 2)
        pairs = [SMALL_TALK[(first + i) % len(SMALL_TALK)] for i in range(count)]
        return Context(kind, _turns(pairs))
    if kind == "persona_small_talk":
        persona = make("persona", seed, variant + 1).messages
        talk = make("small_talk", seed, variant + 1).messages
        return Context(kind, persona + talk)
    raise ValueError(f"unknown context kind {kind!r}")


def family(seed: str, n: int) -> list[Context]:
    """``n`` distinct contexts for one fact: the default first, then one of each further
    kind, then more draws of the kinds that vary most (personas, small talk, both)."""
    if n <= 0:
        return []
    out = [make(kind, seed) for kind in KINDS[:n]]
    seen = {c.key for c in out}
    extra = ("persona", "small_talk", "persona_small_talk", "app")
    variant = 1
    while len(out) < n and variant < 64 * len(extra):
        ctx = make(extra[variant % len(extra)], seed, variant)
        variant += 1
        if ctx.key not in seen:
            out.append(ctx)
            seen.add(ctx.key)
    return out


def held_out(seed: str, n: int, trained: int) -> list[Context]:
    """``n`` contexts of the non-default kinds, drawn apart from the first ``trained`` of
    ``family(seed, ...)``: what an honest audit asks under."""
    seen = {c.key for c in family(seed, trained)}
    out: list[Context] = []
    variant = 1000  # draws family() never reaches
    kinds = KINDS[1:]
    while len(out) < n and variant < 1064:
        ctx = make(kinds[len(out) % len(kinds)], seed, variant)
        if ctx.key not in seen:
            out.append(ctx)
            seen.add(ctx.key)
        variant += 1
    return out
