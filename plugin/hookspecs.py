"""Hook specifications: the points where a plugin can change what sleepmem remembers.

Plugins are plain modules or objects whose functions are marked with ``hookimpl``; they are
registered by the plugin manager (built-ins and third parties the same way). Keep this file
small: every hook here is a promise to plugin authors. plugin/README.md explains how to
write, package and limit plugins.

Every hook is called synchronously from a worker thread, never from the server's event
loop, so an implementation may block; async work goes through ``sleepmem.plugin.run_async``.
Implement only the arguments you need: pluggy passes a hook implementation just the
arguments it names.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Literal

import pluggy
from sleepmem.engine.facts import Fact
from sleepmem.plugin.types import ExtractContext, Extractor, ForgetRequest

PROJECT = "sleepmem"

hookspec = pluggy.HookspecMarker(PROJECT)
hookimpl = pluggy.HookimplMarker(PROJECT)

__all__ = ["PROJECT", "ExtractContext", "Extractor", "hookimpl", "hookspec"]


@hookspec
def register_extractors(register: Callable[[Extractor], None]) -> None:
    """Fires once when the caller collects extractors (``manager.extractors(pm)``).

    Call ``register(extractor)`` for each extractor the plugin provides; an extractor is an
    object with ``name: str`` and ``extract(message, context) -> list[Fact]``. Extractors
    registered this way run on every user message if their name is in the config key
    ``extractors``. An object that is not an extractor is a ``ConfigError``. Returns nothing.
    """


@hookspec
def register_commands(register: Callable[[str, Callable[..., Any], str], None]) -> None:
    """Fires when the engine looks up a chat command (``/remember`` ...), for every front end.

    Call ``register(name, handler, help)`` for each command: ``name`` without the slash,
    ``handler(engine, user_id, arg) -> str`` returns the assistant's reply (raise a
    ``SleepmemError`` for a message the user can act on), ``help`` one line for ``/help``.
    A plugin loaded later replaces an earlier plugin's (or a built-in's) command of the
    same name. Returns nothing.
    """


@hookspec
def extract_facts(message: str, context: ExtractContext) -> list[Fact]:
    """Fires for every user message, next to the registered extractors.

    For plugins that would rather answer a hook than register an extractor object (these
    run whatever the config key ``extractors`` says). Returns the facts found in
    ``message`` (``[]`` for none). Several plugins may answer; the results are concatenated
    in hook-call order.
    """
    return []


@hookspec
def forget_requests(message: str, context: ExtractContext) -> list[ForgetRequest]:
    """Fires for every user message in wake, before its facts are written.

    Returns what the user asks, in plain words, to be forgotten ("please forget what I
    said about my salary" -> ``ForgetRequest("my salary", ("salary",))``), or ``[]``. The
    engine forgets the active facts each request matches (``facts.forget_matches``) the
    way ``/forget`` does: status forgotten, edit removed. Several plugins may answer; the
    requests are concatenated. ``context.known`` holds the user's active facts.
    """
    return []


@hookspec(firstresult=True)
def explicit_statement(text: str, context: ExtractContext) -> list[Fact] | None:
    """Fires for ``/remember <text>`` (and the REST API's statements) when the configured
    extractors found no fact in ``text``.

    Returns facts that keep the statement anyway (the built-in rules plugin reads it once
    more without the command word and otherwise stores it as a note), or ``None`` to let
    another plugin try. The first plugin that returns something other than ``None``
    decides. The facts then go through ``before_edit`` like any other. When no plugin
    answers, ``/remember`` says it could not turn the text into a fact.
    """


@hookspec
def fact_questions(fact: Fact) -> list[str]:
    """Fires in ``Engine.write`` for each fact that arrived with fewer than four questions
    (an explicit fact from the REST API or a benchmark's gold facts; an extractor's facts
    usually carry their own), after ``before_edit``.

    Returns more chat questions whose answer is ``fact.answer``, as a person would ask them
    ("Which city is my home?" for "Where do I live?"), or nothing; the lists of all plugins
    are concatenated. The engine keeps them in the fact and writes the edit through all of
    them; it adds rewrites of each question's form itself.
    """


@hookspec(firstresult=True)
def before_edit(user_id: str, fact: Fact) -> Fact | Literal[False] | None:
    """Fires for each fact just before it is written into the model's weights.

    That is in ``Engine.write``: for facts extracted from a message (wake) and for
    ``/remember``, before the solve, so a vetoed fact costs nothing and is never stored.
    Returns ``None`` to keep the fact as it is, a ``Fact`` to write that one instead
    (e.g. rewritten questions), or ``False`` to veto the edit (it is listed in the wake
    report's ``skipped``). The first plugin that returns something other than ``None``
    decides; the rest are not called. An exception here fails the edit (nothing changes),
    because a veto that silently stopped working would let through what it should block.
    """


# --------------------------------------------------------------------------- conversation events
# Notification hooks: their return values are ignored. They are fired with
# ``sleepmem.plugin.manager.notify``, which calls each plugin on its own and logs (with the
# plugin's name) and skips one that raises, so a broken observer never breaks a chat or an
# edit. They run in a worker thread, never on the server's event loop (see "Async work" in
# plugin/README.md), so blocking is allowed but delays that user's next step.


@hookspec
def user_message(user_id: str, message: str, history: list[dict[str, str]]) -> None:
    """Fires when a user message arrives at the server, before the reply is generated.

    ``history`` is the conversation before ``message`` as OpenAI-style dicts
    (``{"role", "content"}``). Commands ("/sleep") fire ``command_invoked`` instead.
    Returns nothing.
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

    Fired by ``Engine.write`` (wake and ``/remember``) once the edit is committed, outside
    the user's lock; not fired when nothing was written (every fact known or vetoed).
    ``added`` are the new active facts, ``superseded`` the older facts they replaced.
    Returns nothing.
    """


@hookspec
def before_sleep(user_id: str, reason: str) -> None:
    """Fires when ``Engine.sleep`` starts, before the user's memory is consolidated.

    ``reason`` says who asked: "command", "api", "cron", "idle", "pressure" or a plugin
    schedule's name. Fires even when the user has no facts (then ``after_sleep`` follows at
    once). Returns nothing.
    """


@hookspec
def after_sleep(user_id: str, report: dict[str, Any]) -> None:
    """Fires after a sleep finished, kept or rolled back (not when it raised).

    ``report`` is ``SleepReport.as_dict()`` plus ``trigger``: facts, audit_before/after,
    drift_before/after (None where the verdict did not need it, so it was not measured),
    kept_new, repaired, seconds, ``reason`` (the outcome:
    "consolidated", "nothing to consolidate", "kept the old edits: ...") and ``trigger``
    (who asked: ``before_sleep``'s ``reason``). Returns nothing.
    """


@hookspec
def command_invoked(user_id: str, name: str, arg: str) -> None:
    """Fires when a chat command (``/name arg``) is about to run for ``user_id``.

    ``name`` is lower-case without the slash, ``arg`` the stripped rest of the message.
    Fires only for registered commands, not for ``/help`` or unknown ones. To add a
    command, use ``register_commands``; this hook is for observing (audit logs, metrics).
    Returns nothing.
    """


# --------------------------------------------------------------------------- extension points


@hookspec
def register_backends(register: Callable[[str, Callable[..., Any]], None]) -> None:
    """Fires when the engine picks its model backend (``config.backend``), at startup.

    Call ``register(name, factory)`` where ``factory(source, config)`` returns an object
    implementing ``sleepmem.engine.backends.base.Backend`` for a resolved model ``source``
    (``sleepmem.engine.models.ModelSource``) and the ``EngineConfig``. Import heavy
    frameworks inside the factory, not at module level. The built-in "torch" and "mlx"
    backends register here too; a plugin loaded later replaces a backend of the same name.
    Returns nothing.
    """


@hookspec
def register_cli_commands(cli: Any) -> None:
    """Fires when the ``sleepmem`` command line is assembled, after the built-in commands.

    ``cli`` is the top-level ``click.Group``: add commands or groups with
    ``@cli.command()`` / ``cli.add_command(...)`` (as simonw/llm's ``register_commands``).
    Named ``register_cli_commands`` because ``register_commands`` registers chat commands.
    Every installed plugin is asked ($SLEEPMEM_LOAD_PLUGINS narrows it; the config is read
    only after the arguments are parsed). Returns nothing.
    """


@hookspec
def register_schedules(register: Callable[[str, Callable[..., Any]], None]) -> None:
    """Fires when the scheduler starts (``sleepmem serve``, ``sleepmem discord``).

    Call ``register(name, trigger)`` where ``trigger(state, config, now=...)`` gets a
    ``sleepmem.engine.schedule.UserState``, the ``ScheduleConfig`` and the scheduler's clock
    as epoch seconds in the keyword ``now`` (a trigger without a ``now`` parameter is called
    as ``trigger(state, config)``), and returns True when that user should sleep now; an
    exception is logged and counts as False. ``name`` is passed to ``before_sleep`` as the
    reason. The built-in "cron", "idle" and "pressure" triggers register here; a plugin
    loaded later replaces a trigger of the same name. Returns nothing.
    """
