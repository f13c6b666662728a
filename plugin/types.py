"""Small value types shared by the plugin hooks and the built-in extractors.

They live apart from the hook specifications so that an extractor can be written (and
type-checked) against them without importing pluggy or the plugin manager.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

from sleepmem.engine.facts import Fact, ForgetRequest

__all__ = ["ChatFn", "ExtractContext", "Extractor", "Fact", "ForgetRequest"]

ChatFn = Callable[[list[dict[str, str]]], str]
"""Runs the chat model greedily on OpenAI-style messages and returns the reply text."""


@dataclass(frozen=True)
class ExtractContext:
    """What an extractor may know besides the message itself.

    user_id: whose memory the facts are for (extractors should not need it, but a plugin
        that keeps per-user state can key on it).
    history: the prior turns of this chat as ``(role, content)`` pairs, oldest first; the
        rule extractor uses the last user turns to resolve "He is a beagle." style pronouns.
    chat: when given, runs the chat model greedily; only the model-based extractor uses it.
        It is optional so that extraction never depends on a model being loaded.
    known: the user's active facts. A correction that names only the old value ("it's
        Larissa, not Marissa") lands in the slot of the fact holding that value, and a
        bare name ("Biscuit is 4 now") refers to the pet or relative of that name.
    """

    user_id: str = ""
    history: Sequence[tuple[str, str]] = field(default_factory=tuple)
    chat: ChatFn | None = None
    known: Sequence[Fact] = field(default_factory=tuple)


@runtime_checkable
class Extractor(Protocol):
    """Turns one user message into facts about that user.

    ``name`` identifies the extractor in logs, in ``Fact.extractor`` and when a caller wants
    to pick extractors. ``extract`` must never raise on odd input: return ``[]`` instead.
    """

    name: str

    def extract(self, message: str, context: ExtractContext) -> list[Fact]: ...
