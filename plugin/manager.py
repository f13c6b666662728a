"""The process-wide plugin manager and the loading of plugins.

Built-in plugins are registered exactly the way a third-party plugin is (import the module,
``pm.register(module, name=...)``), so the built-ins double as the reference for plugin
authors. Third parties announce themselves through the ``sleepmem`` entry-point group.

Nothing is loaded at import time: importing sleepmem must stay cheap and side-effect free,
and tests need to decide which plugins exist. Call ``load_plugins()`` at startup.
"""

from __future__ import annotations

import importlib
import logging
import os
import threading
from collections.abc import Callable
from typing import Any

import pluggy
from sleepmem.engine.errors import ConfigError
from sleepmem.plugin import hookspecs
from sleepmem.plugin.types import Extractor

log = logging.getLogger(__name__)

ENV_LOAD = "SLEEPMEM_LOAD_PLUGINS"
"""Comma-separated plugin names to load (built-in short names or entry-point names).
Unset: load everything. Empty string: load nothing."""

DEFAULT_PLUGINS: tuple[str, ...] = (
    "sleepmem.plugin.builtins.rules",
    "sleepmem.plugin.builtins.model_extractor",
    "sleepmem.plugin.builtins.commands",
)
"""Built-in plugin modules, registered under their last dotted component ("rules")."""

_pm: pluggy.PluginManager | None = None
_lock = threading.Lock()


def plugin_name(module_path: str) -> str:
    """The name a built-in is registered under: the last component of its module path."""
    return module_path.rsplit(".", 1)[-1]


def new_plugin_manager() -> pluggy.PluginManager:
    """A fresh manager with sleepmem's hook specifications and no plugins.

    Tests and embedders that want isolation use this; everyone else shares
    ``get_plugin_manager()``.
    """
    pm = pluggy.PluginManager(hookspecs.PROJECT)
    pm.add_hookspecs(hookspecs)
    return pm


def get_plugin_manager() -> pluggy.PluginManager:
    """The process-wide manager (created on first use, without loading any plugin)."""
    global _pm
    with _lock:
        if _pm is None:
            _pm = new_plugin_manager()
        return _pm


def _allowed_names() -> set[str] | None:
    """Names allowed by ``SLEEPMEM_LOAD_PLUGINS``; ``None`` means no restriction."""
    raw = os.environ.get(ENV_LOAD)
    if raw is None:
        return None
    return {part.strip() for part in raw.split(",") if part.strip()}


def load_plugins(pm: pluggy.PluginManager | None = None) -> pluggy.PluginManager:
    """Register the built-ins and the ``sleepmem`` entry points; safe to call repeatedly.

    Plugins already registered (by name or by object) are left alone, so a second call
    only adds what became allowed or installed since. Returns the manager it loaded into.
    """
    pm = pm if pm is not None else get_plugin_manager()
    allowed = _allowed_names()
    for module_path in DEFAULT_PLUGINS:
        name = plugin_name(module_path)
        if allowed is not None and name not in allowed:
            continue
        if pm.has_plugin(name) or pm.is_blocked(name):
            continue
        module = importlib.import_module(module_path)
        if pm.is_registered(module):
            continue
        pm.register(module, name=name)
        log.debug("registered built-in plugin %s", name)
    if allowed is None:
        pm.load_setuptools_entrypoints(hookspecs.PROJECT)
    else:
        # pluggy skips entry points whose name is already registered, so this is idempotent.
        for name in sorted(allowed):
            pm.load_setuptools_entrypoints(hookspecs.PROJECT, name=name)
    return pm


def extractors(pm: pluggy.PluginManager | None = None) -> list[Extractor]:
    """All extractors the registered plugins offer, in pluggy's hook-call order.

    An extractor offered twice under the same name is kept once: plugins registered
    through two routes must not make every fact appear twice. An object that is not an
    extractor is a broken plugin and raises ``ConfigError`` rather than failing later,
    mid-chat.
    """
    pm = pm if pm is not None else get_plugin_manager()
    found: list[Extractor] = []

    def register(extractor: Extractor) -> None:
        if not isinstance(extractor, Extractor):
            raise ConfigError(
                f"extractor {extractor!r} needs a 'name' and an 'extract(message, context)'"
            )
        if any(e.name == extractor.name for e in found):
            log.debug("duplicate extractor %r ignored", extractor.name)
            return
        found.append(extractor)

    pm.hook.register_extractors(register=register)
    return found


def commands(pm: pluggy.PluginManager | None = None) -> dict[str, tuple[Callable[..., Any], str]]:
    """Chat commands by name (without the slash): ``{name: (handler, help)}``.

    A later registration of the same name wins, so a plugin can replace a built-in.
    """
    pm = pm if pm is not None else get_plugin_manager()
    table: dict[str, tuple[Callable[..., Any], str]] = {}

    def register(name: str, handler: Callable[..., Any], help: str) -> None:
        table[name.lstrip("/").lower()] = (handler, help)

    pm.hook.register_commands(register=register)
    return table
