"""Turn facts into the prompts the editor writes them through.

A fact is written through chat prompts of its questions, each inside one of a family of
conversation contexts (``contexts``), keyed at the question's last token, with the target
being the short answer followed by the template's end of turn, so the edited model says
"Porto." and stops instead of rambling into other cities.
Declarative prompts ("I live in") are not used as keys: their last token is a function
word shared by every sentence, and edits keyed there do not reach the chat (notes, table 1).
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Callable, Sequence

from . import contexts
from .backends.base import Backend, EditPrompt
from .facts import Fact
from .statistics import question_prompt
from .wordings import alternate, wordings

CONTINUED_CUTS = 3  # answer tokens keyed per continued prompt (names are 2-4 tokens long)


def answer_text(fact: Fact) -> str:
    answer = fact.answer.strip()
    return answer if answer[-1:] in ".!?" else answer + "."


def reply_target(backend: Backend, question: str, answer: str) -> str:
    """The exact text the template puts after the generation prompt for this answer."""
    prompt = backend.chat_text([{"role": "user", "content": question}])
    full = backend.chat_text(
        [{"role": "user", "content": question}, {"role": "assistant", "content": answer}],
        add_generation_prompt=False,
    )
    if full.startswith(prompt):
        return full[len(prompt) :].rstrip("\n")
    return answer


def token_cuts(backend: Backend, text: str) -> list[int]:
    """Character offsets inside ``text`` where one of its tokens ends and another begins."""
    whole = backend.encode(text)
    return [
        i
        for i in range(1, len(text))
        if backend.encode(text[:i]) + backend.encode(text[i:]) == whole
    ]


def continuations(backend: Backend, prompt: EditPrompt, answer: str, most: int) -> list[EditPrompt]:
    """Prompts that key ``prompt``'s answer at its own tokens: the question followed by the
    answer's first tokens, keyed at the last of them, target the rest.

    Why: on a wording an edit was not trained on, the question key fires only partly, so the
    answer's first token comes out and the base model finishes it ("Tove" -> "Tove Jóšík").
    A key at the answer's own tokens is the same under every wording and context (MEMIT's
    reason for keying at the subject), so the rest of a started answer follows from it.
    """
    if not prompt.target.startswith(answer):
        return []
    # a cut is useful only while a word of the answer is still to come
    # and once the prefix is more than a letter or two, which begin every other reply too
    cuts = [
        i
        for i in token_cuts(backend, answer)
        if any(c.isalnum() for c in answer[i:]) and sum(c.isalnum() for c in answer[:i]) >= 3
    ]
    out = []
    for cut in cuts[:most]:
        text = prompt.text + answer[:cut]
        out.append(
            EditPrompt(text, backend.token_count(text) - 1, prompt.target[cut:], prompt.group)
        )
    return out


# Words that never head what a question is about: question words, auxiliaries, pronouns,
# determiners and the commonest prepositions and fillers of a question.
# fmt: off
_FUNCTION_WORDS = frozenset({
    "what", "where", "who", "whom", "whose", "which", "when", "why", "how", "is", "are", "was",
    "were", "am", "be", "been", "do", "does", "did", "can", "could", "should", "would", "will",
    "shall", "may", "might", "must", "i", "me", "my", "mine", "you", "your", "we", "our", "us",
    "he", "she", "it", "they", "them", "his", "her", "its", "their", "the", "a", "an", "this",
    "that", "these", "those", "of", "to", "in", "on", "for", "at", "from", "with", "by",
    "about", "as", "into", "like", "please", "tell", "remind", "know", "remember", "again",
    "still", "now", "then", "so", "just", "really", "ever", "also", "any", "some", "there",
    "here", "called", "named", "name's", "s",
})
# fmt: on
_KINDS = frozenset({"kind", "sort", "type"})
_WORD = re.compile(r"[A-Za-z][A-Za-z'-]*")


def subject_end(question: str) -> int | None:
    """Character offset just past the word a question is about, MEMIT's subject: the head
    of the noun phrase after its last "my" ("my cat's name" -> "cat", "my favourite author"
    -> "author"), else of the one after the question word ("Which basketball team" ->
    "team"), else its last content word ("Where do I live?" -> "live"); None without one.

    Why: a key at the question's end changes with every rewording, while the word a fact is
    about recurs in most ways of asking it ("What's my cat called?"), and tells apart
    facts that share a relation ("my sister's job", "my friend Aria's job")."""
    words = [(m.group(0), m.start(), m.end()) for m in _WORD.finditer(question)]

    def head(run: list[tuple[str, int, int]]) -> int | None:
        last = None
        for i, (word, _, end) in enumerate(run):
            low = word.casefold()
            if low.endswith("'s") and low[:-2] not in _FUNCTION_WORDS:
                return end - 2  # a possessive ends the phrase: "my cat's name"
            if word[0].isupper() and i + 1 < len(run) and run[i + 1][0][0].islower():
                return end  # so does a name: "my friend Aria live"
            if low in _FUNCTION_WORDS:
                if last is not None:
                    break
                continue
            last = end
        return last

    mine = [i for i, (w, _, _) in enumerate(words) if w.casefold() == "my"]
    if mine:
        found = head(words[mine[-1] + 1 :])
        if found is not None:
            return found
    if words and words[0][0].casefold() in ("what", "which", "whose"):
        asked = words[1:3]
        if len(words) > 3 and words[1][0].casefold() in _KINDS and words[2][0] == "of":
            asked = words[3:4]  # "What kind of pet" is about the pet
        found = head(asked)
        if found is not None and asked[0][0].casefold() not in _FUNCTION_WORDS:
            return found
    content = [end for w, _, end in words if w.casefold() not in _FUNCTION_WORDS]
    return content[-1] if content else None


def name_end(question: str) -> int | None:
    """Character offset just past the last name in a question ("Aria" in "Where does my
    friend Aria live?", "Biscuit" in "What is my dog Biscuit's favourite toy?"): a
    capitalised word other than the first and other than a function word ("I", "Where"
    after a greeting); None when there is none, as
    in the user's questions about themselves ("Where do I live?").

    Why: a name's key is the same whatever question is asked around it, and names are rare
    in ordinary text, so an update keyed there reaches new wordings and contexts and little
    else (measured: benchmarks/capacity_subject_keys_25facts_torch_cpu.json)."""
    found = None
    for i, match in enumerate(_WORD.finditer(question)):
        word, end = match.group(0), match.end()
        if word.casefold().endswith("'s"):
            word, end = word[:-2], end - 2
        # a question word after an opening ("Hi! Where do I live?") is not a name
        name = word[:1].isupper() and not word.startswith("I'")
        if i and name and word.casefold() not in _FUNCTION_WORDS:
            found = end
    return found


def name_in(question: str) -> str | None:
    """The name ``name_end`` finds in ``question`` ("Maya" in "What does Maya do?"), or
    None."""
    end = name_end(question)
    if end is None:
        return None
    words = _WORD.findall(question[:end])
    return words[-1].removesuffix("'s") if words else None


def subject_prompt(
    backend: Backend, prompt: EditPrompt, question: str, end_of: Callable[[str], int | None]
) -> EditPrompt | None:
    """``prompt`` (asking ``question`` last) keyed at the end of the word ``end_of`` finds in
    the question (``subject_end``, ``name_end``) instead of at its end, or None when it
    finds none or the tokens there are not a prefix of the prompt's."""
    start = prompt.text.rfind(question)
    end = end_of(question)
    if start < 0 or end is None:
        return None
    cut = start + end
    ids = backend.encode(prompt.text)
    head = backend.encode(prompt.text[:cut])
    if ids[: len(head)] != head:
        return None
    return EditPrompt(prompt.text, len(head) - 1, prompt.target, prompt.group)


def fact_seed(fact: Fact) -> str:
    """What a fact's context draws are hashed from: stable across re-solves and restarts."""
    return f"{fact.slot_key}|{fact.answer.casefold()}"


def fact_prompts(
    backend: Backend,
    facts: Sequence[Fact],
    max_prompts: int | None = None,
    source: str = "questions",
    n_wordings: int = 1,
    n_contexts: int = 1,
    n_continued: int = 0,
    n_subject: int = 0,
    n_named: int = 0,
) -> list[EditPrompt]:
    """EditPrompts for ``facts``; prompt.group is the fact's index in ``facts``.

    Each fact is asked under ``n_contexts`` conversation contexts (``contexts.family``) and
    in ``n_wordings`` wordings (its own questions, then ``wordings.variants``): every context
    with the fact's first question, and each further wording under the contexts in turn, so
    ``n_contexts + n_wordings - 1`` prompts, the first ``max_prompts`` of them kept. The
    order alternates new contexts and new wordings, so a short cap still covers both. The
    first ``n_continued`` of them are also keyed at the answer's own tokens
    (``continuations``), beyond the cap, the first ``n_subject`` also at the word the
    question is about (``subject_end``). With ``n_named``, the first ``n_named`` prompts
    whose question holds a name (``name_end``) are keyed at the name instead (marked
    ``at_name``) and the other such dropped (``_keyed_at_names``).
    """
    prompts: list[EditPrompt] = []
    for group, fact in enumerate(facts):
        answer = answer_text(fact)
        chosen: list[EditPrompt] = []
        asked: dict[int, str] = {}  # id of a question prompt -> its question
        if source in ("questions", "both"):
            asks = wordings(fact.questions, max(n_wordings, 1))
            family = contexts.family(fact_seed(fact), max(n_contexts, 1))
            if asks:
                rest_c = [(asks[0], c) for c in family[1:]]
                rest_w = [(q, family[(i + 1) % len(family)]) for i, q in enumerate(asks[1:])]
                pairs = [(asks[0], family[0]), *alternate(rest_c, rest_w)]
                for question, context in pairs:
                    target = reply_target(backend, question, answer)
                    chosen.append(question_prompt(backend, question, target, group, context))
                    asked[id(chosen[-1])] = question
        if source in ("statements", "both"):
            # raw text, keyed at its last token, continued by " <answer>"
            for statement in fact.statements[: max_prompts or None]:
                text = statement.strip()
                chosen.append(EditPrompt(text, backend.token_count(text) - 1, " " + answer, group))
        if source == "both" and max_prompts:
            # keep questions and statements side by side under the cap
            q_part = [p for p in chosen if p.text.strip() not in fact.statements]
            s_part = [p for p in chosen if p.text.strip() in fact.statements]
            mixed = [p for pair in zip(q_part, s_part) for p in pair]
            mixed += q_part[len(s_part) :] + s_part[len(q_part) :]
            chosen = mixed
        chosen = chosen[:max_prompts] if max_prompts else chosen
        extra = [
            c
            for p in chosen[:n_continued]
            if p.text.strip() not in fact.statements
            for c in continuations(backend, p, answer, CONTINUED_CUTS)
        ]
        questions = [p for p in chosen if id(p) in asked]
        if n_named:
            chosen, extra = _keyed_at_names(backend, chosen, extra, asked, n_named)
        for p in questions[:n_subject]:
            keyed = subject_prompt(backend, p, asked[id(p)], subject_end)
            if keyed is not None:
                extra.append(keyed)
        prompts += chosen + extra
    return prompts


def _keyed_at_names(
    backend: Backend,
    chosen: list[EditPrompt],
    extra: list[EditPrompt],
    asked: dict[int, str],
    n_named: int,
) -> tuple[list[EditPrompt], list[EditPrompt]]:
    """``chosen`` with each prompt whose question holds a name keyed at the name instead,
    the first ``n_named`` such, the others dropped with their continuations; prompts
    without a name stay keyed at their end ("Where does my sister live?" beside "Where does
    Maya live?"). Why: every friend's "Where does my friend X live?" ends alike, so keys
    there fought (drift +18% at 50 friends); the name tells them apart."""
    out: list[EditPrompt] = []
    dropped: set[str] = set()
    named = 0
    for p in chosen:
        keyed = subject_prompt(backend, p, asked[id(p)], name_end) if id(p) in asked else None
        if keyed is None:
            out.append(p)
        elif named < n_named:
            out.append(dataclasses.replace(keyed, at_name=name_in(asked[id(p)]) or "?"))
            named += 1
        else:
            dropped.add(p.text)
    return out, [c for c in extra if not any(c.text.startswith(t) for t in dropped)]


def audit_conversations(
    fact: Fact, n_wordings: int, n_contexts: int, probes: int
) -> list[list[dict[str, str]]]:
    """``probes`` conversations asking ``fact`` as its edit was never trained: wordings past
    the first ``n_wordings``, contexts drawn apart from its ``n_contexts``-family."""
    asks = wordings(fact.questions, n_wordings + probes)
    unseen = asks[n_wordings:] or asks[-1:]
    held = contexts.held_out(fact_seed(fact), probes, n_contexts)
    return [context.around(unseen[j % len(unseen)]) for j, context in enumerate(held)]
