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
