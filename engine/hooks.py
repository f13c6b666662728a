"""What the engine needs from its plugins, and the plain values it hands them.

The engine never imports the plugin layer: whoever builds an ``Engine`` passes it an object
that satisfies ``Plugins`` (the plugin layer offers one over pluggy), so the engine can be
read, tested and embedded without knowing how plugins are found or called. Keeping the
contract here, next to its one consumer, also stops the import graph from running both
ways between the engine and the plugins.

``ExtractContext`` and ``ChatFn`` live here because the engine builds them; extractors and
hook implementations receive them (the plugin layer re-exports them for plugin authors).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

from .constrained import Constraint
from .facts import Fact, ForgetRequest

__all__ = [
    "ChatFn",
    "CommandHandler",
    "CommandTable",
    "ExtractContext",
    "Plugins",
    "Trigger",
]


class ChatFn(Protocol):
    """Runs the chat model greedily on OpenAI-style messages and returns the reply text;
    with a ``constraint`` (``sleepmem.engine.constrained``) the reply is a complete document
    of its grammar, whatever the model would have written."""

    def __call__(
        self, messages: list[dict[str, str]], constraint: Constraint | None = None
    ) -> str: ...


CommandHandler = Callable[[Any, str, str], str]
"""``handler(engine, user_id, arg) -> reply``: one chat command (``/name arg``)."""

CommandTable = Mapping[str, tuple[CommandHandler, str]]
"""Chat commands by lower-case name without the slash: ``{name: (handler, help line)}``."""

Trigger = Callable[..., bool]
"""A sleep trigger: ``trigger(state, config, now=...) -> bool`` (see ``schedule``)."""


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


class Plugins(Protocol):
    """Everything the engine (and the service and benchmarks built on it) asks of plugins.

    Every method is called when it is needed, not once at construction, so a plugin that
    is registered after the engine was built still takes part (tests rely on that).
    Methods are called from worker threads, never from an event loop.
    """

    def extractor_names(self) -> list[str]:
        """The names of every registered extractor, whether configured or not."""
        ...

    def extract(self, message: str, context: ExtractContext, names: Iterable[str]) -> list[Fact]:
        """The facts the extractors named in ``names`` (and any fact hook) find in
        ``message``."""
        ...

    def forget_requests(self, message: str, context: ExtractContext) -> list[ForgetRequest]:
        """What ``message`` asks, in plain words, to be forgotten."""
        ...

    def explicit_statement(self, text: str, context: ExtractContext) -> list[Fact]:
        """Facts for a ``/remember`` statement the extractors found nothing in (a note,
        say); [] when no plugin can make one."""
        ...

    def before_edit(self, user_id: str, fact: Fact) -> Fact | Literal[False] | None:
        """``None`` keeps ``fact``, a ``Fact`` replaces it, ``False`` vetoes its edit."""
        ...

    def fact_questions(self, fact: Fact) -> list[str]:
        """More questions whose answer is ``fact.answer``."""
        ...

    def commands(self) -> CommandTable:
        """The one table of chat commands every front end runs."""
        ...

    def schedules(self) -> Mapping[str, Trigger]:
        """Sleep triggers by name."""
        ...

    def notify(self, hook: str, **kwargs: Any) -> object:
        """Fire a notification hook (``after_edit``, ``before_sleep``...); a plugin that
        raises is logged and skipped, never raised to the engine."""
        ...
