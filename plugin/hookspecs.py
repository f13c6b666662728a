"""Hook specifications: the points where a plugin can change what sleepmem remembers.

Plugins are plain modules or objects whose functions are marked with ``hookimpl``; they are
registered by the plugin manager (built-ins and third parties the same way). Keep this file
small: every hook here is a promise to plugin authors.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Literal

import pluggy
from sleepmem.engine.facts import Fact
from sleepmem.plugin.types import ExtractContext, Extractor

PROJECT = "sleepmem"

hookspec = pluggy.HookspecMarker(PROJECT)
hookimpl = pluggy.HookimplMarker(PROJECT)

__all__ = ["PROJECT", "ExtractContext", "Extractor", "hookimpl", "hookspec"]


@hookspec
def register_extractors(register: Callable[[Extractor], None]) -> None:
    """Fires once when the caller collects extractors (``manager.extractors(pm)``).

    Call ``register(extractor)`` for each extractor the plugin provides; an extractor is an
    object with ``name: str`` and ``extract(message, context) -> list[Fact]``. Extractors
    registered this way are run on every user message. Returns nothing.
    """


@hookspec
def register_commands(register: Callable[[str, Callable[..., Any], str], None]) -> None:
    """Fires once when an adapter builds its table of chat commands (``/remember`` ...).

    Call ``register(name, handler, help)`` for each command: ``name`` without the slash,
    ``handler`` the callable the adapter invokes, ``help`` one line for ``/help``.
    Returns nothing.
    """


@hookspec
def extract_facts(message: str, context: ExtractContext) -> list[Fact]:
    """Fires for every user message, next to the registered extractors.

    For plugins that would rather answer a hook than register an extractor object. Return
    the facts found in ``message`` (``[]`` for none). Several plugins may answer; the
    results are concatenated in hook-call order.
    """
    return []


@hookspec(firstresult=True)
def before_edit(user_id: str, fact: Fact) -> Fact | Literal[False] | None:
    """Fires for each fact just before it is written into the model's weights.

    Return ``None`` to keep the fact as it is, a ``Fact`` to write that one instead
    (e.g. rewritten questions), or ``False`` to veto the edit. The first plugin that
    returns something other than ``None`` decides; the rest are not called.
    """


# --------------------------------------------------------------------------- conversation events
# Notification hooks: their return values are ignored. They run in a worker thread, never on
# the server's event loop (see "Async work" in plugin/README.md), so blocking is allowed but
# delays that user's next wake step.


@hookspec
def user_message(user_id: str, message: str, history: list[dict[str, str]]) -> None:
    """Fires when a user message arrives, before the reply is generated.

    ``history`` is the conversation before ``message`` as OpenAI-style dicts. Commands
    ("/sleep") fire ``command_invoked`` instead. Returns nothing.
    """


@hookspec
def assistant_reply(user_id: str, messages: list[dict[str, str]], reply: str) -> None:
    """Fires when an assistant reply has been generated in full and sent.

    ``messages`` is the conversation the reply answers (its last item is the user message).
    Wake (extraction and editing) starts right after this hook. Returns nothing.
    """


@hookspec
def after_edit(user_id: str, added: list[Fact], superseded: list[Fact]) -> None:
    """Fires after facts were written into the user's weights and stored.

    ``superseded`` are the older facts the new ones replaced. Returns nothing.
    """


@hookspec
def before_sleep(user_id: str, reason: str) -> None:
    """Fires before a user's memory is consolidated.

    ``reason`` says who asked: "command", "api", "cron", "idle", "pressure" or a plugin
    schedule's name. Returns nothing.
    """


@hookspec
def after_sleep(user_id: str, report: dict[str, Any]) -> None:
    """Fires after a sleep finished, kept or rolled back.

    ``report`` is ``SleepReport.as_dict()``: facts, audit_before/after, drift_before/after,
    kept_new, repaired, seconds, reason. Returns nothing.
    """


@hookspec
def command_invoked(user_id: str, name: str, arg: str) -> None:
    """Fires when a chat command (``/name arg``) is about to run for ``user_id``.

    To add a command, use ``register_commands``; this hook is for observing (audit logs,
    metrics). Returns nothing.
    """


# --------------------------------------------------------------------------- extension points


@hookspec
def register_backends(register: Callable[[str, Callable[..., Any]], None]) -> None:
    """Fires when the engine picks its model backend (``config.backend``).

    Call ``register(name, factory)`` where ``factory(source, config)`` returns an object
    implementing ``sleepmem.engine.backends.base.Backend`` for a resolved model ``source``.
    The built-in "torch" and "mlx" backends register here too. Returns nothing.
    """


@hookspec
def register_schedules(register: Callable[[str, Callable[..., Any]], None]) -> None:
    """Fires when the scheduler starts (``sleepmem serve``, ``sleepmem discord``).

    Call ``register(name, trigger)`` where ``trigger(state, config)`` gets a
    ``sleepmem.engine.schedule.UserState`` and the ``ScheduleConfig`` and returns True when
    that user should sleep now. ``name`` is passed to ``before_sleep`` as the reason. The
    built-in "cron", "idle" and "pressure" triggers register here. Returns nothing.
    """
