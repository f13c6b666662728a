"""Turn facts into the prompts the editor writes them through.

A fact is written through fresh-chat prompts of its questions, keyed at each question's last
token, with the target being the short answer followed by the template's end of turn, so
the edited model says "Porto." and stops instead of rambling into other cities.
Declarative prompts ("I live in") are not used as keys: their last token is a function
word shared by every sentence, and edits keyed there do not reach the chat (notes, table 1).
"""

from __future__ import annotations

from collections.abc import Sequence

from .backends.base import Backend, EditPrompt
from .facts import Fact
from .statistics import question_prompt


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


def fact_prompts(
    backend: Backend,
    facts: Sequence[Fact],
    max_questions: int | None = None,
    source: str = "questions",
) -> list[EditPrompt]:
    """EditPrompts for ``facts``; prompt.group is the fact's index in ``facts``."""
    prompts: list[EditPrompt] = []
    for group, fact in enumerate(facts):
        answer = answer_text(fact)
        if source in ("questions", "both"):
            questions = list(dict.fromkeys(q.strip() for q in fact.questions if q.strip()))
            for question in questions[:max_questions]:
                target = reply_target(backend, question, answer)
                prompts.append(question_prompt(backend, question, target, group))
        if source in ("statements", "both"):
            # raw text, keyed at its last token, continued by " <answer>"
            for statement in fact.statements[:max_questions]:
                text = statement.strip()
                prompts.append(EditPrompt(text, backend.token_count(text) - 1, " " + answer, group))
    return prompts
