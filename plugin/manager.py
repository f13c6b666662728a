"""The process-wide plugin manager, the loading of plugins and the calling of hooks.

Built-in plugins are registered exactly the way a third-party plugin is (import the module,
``pm.register(module, name=...)``), so the built-ins double as the reference for plugin
authors. Third parties announce themselves through the ``sleepmem`` entry-point group.

Nothing is loaded at import time: importing sleepmem must stay cheap and side-effect free,
and tests need to decide which plugins exist. Call ``load_plugins()`` at startup.

Which plugins load is limited, in order of precedence, by ``$SLEEPMEM_LOAD_PLUGINS`` and the
config key ``plugins`` (``load_plugins(allowed=config.plugins)``); neither set = everything
installed. Loading is additive: a manager never unloads a plugin it already holds.
"""

from __future__ import annotations

import asyncio
import importlib
import logging
import os
import threading
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import pluggy
from sleepmem.engine.errors import ConfigError
from sleepmem.engine.facts import Fact
from sleepmem.plugin import hookspecs
from sleepmem.plugin.types import ExtractContext, Extractor, ForgetRequest

log = logging.getLogger(__name__)

ENV_LOAD = "SLEEPMEM_LOAD_PLUGINS"
"""Comma-separated plugin names to load (built-in short names or entry-point names).
Unset: the config key ``plugins`` decides (default: everything). Empty string: nothing."""

DEFAULT_PLUGINS: tuple[str, ...] = (
    "sleepmem.plugin.builtins.rules",
    "sleepmem.plugin.builtins.questions",
    "sleepmem.plugin.builtins.model_extractor",
    "sleepmem.plugin.builtins.commands",
    "sleepmem.plugin.builtins.backends",
    "sleepmem.plugin.builtins.schedules",
)
"""Built-in plugin modules, registered under their last dotted component ("rules")."""

NOTIFICATION_HOOKS: tuple[str, ...] = (
    "user_message",
    "assistant_reply",
    "after_edit",
    "before_sleep",
    "after_sleep",
    "command_invoked",
)
"""Hooks whose return values are ignored; fire them with ``notify``."""

_pm: pluggy.PluginManager | None = None
_lock = threading.Lock()
_warned_on_loop: set[str] = set()
_warned_missing: set[str] = set()


def plugin_name(module_path: str) -> str:
    """The name a built-in is registered under: the last component of its module path."""
    return module_path.rsplit(".", 1)[-1]


BUILTIN_NAMES: frozenset[str] = frozenset(plugin_name(p) for p in DEFAULT_PLUGINS)


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


def allowed_names(allowed: Iterable[str] | None = None) -> set[str] | None:
    """The plugin names that may load; ``None`` means no restriction.

    ``$SLEEPMEM_LOAD_PLUGINS`` wins over ``allowed`` (the config key ``plugins``) when set,
    even to the empty string, so one run can be narrowed without editing the config.
    """
    raw = os.environ.get(ENV_LOAD)
    if raw is not None:
        return {part.strip() for part in raw.split(",") if part.strip()}
    if allowed is None:
        return None
    if isinstance(allowed, str):  # a single name, not its characters
        allowed = allowed.split(",")
    return {name.strip() for name in allowed if name.strip()}


def load_plugins(
    pm: pluggy.PluginManager | None = None, allowed: Iterable[str] | None = None
) -> pluggy.PluginManager:
    """Register the built-ins and the ``sleepmem`` entry points; safe to call repeatedly.

    ``allowed``: the names that may load (the config key ``plugins``); ``None`` = all.
    ``$SLEEPMEM_LOAD_PLUGINS`` overrides it. Plugins already registered (by name or by
    object) are left alone, so a second call only adds what became allowed or installed
    since. Returns the manager it loaded into.
    """
    pm = pm if pm is not None else get_plugin_manager()
    names = allowed_names(allowed)
    for module_path in DEFAULT_PLUGINS:
        name = plugin_name(module_path)
        if names is not None and name not in names:
            continue
        if pm.has_plugin(name) or pm.is_blocked(name):
            continue
        module = importlib.import_module(module_path)
        if pm.is_registered(module):
            continue
        pm.register(module, name=name)
        log.debug("registered built-in plugin %s", name)
    if names is None:
        pm.load_setuptools_entrypoints(hookspecs.PROJECT)
    else:
        # pluggy skips entry points whose name is already registered, so this is idempotent.
        for name in sorted(names - BUILTIN_NAMES):
            pm.load_setuptools_entrypoints(hookspecs.PROJECT, name=name)
        missing = sorted(
            n
            for n in names
            if not pm.has_plugin(n) and not pm.is_blocked(n) and n not in _warned_missing
        )
        if missing:
            _warned_missing.update(missing)
            # A typo here would silently drop a plugin (a secrets veto, say): say so.
            log.warning(
                "plugins %s were asked for (config `plugins` / $%s) but are not installed",
                ", ".join(missing),
                ENV_LOAD,
            )
    return pm


# --------------------------------------------------------------------------- calling hooks


def notify(pm: pluggy.PluginManager, hook_name: str, **kwargs: Any) -> list[tuple[str, Exception]]:
    """Fire a notification hook; a plugin that raises is logged and skipped.

    Each implementation is called on its own, in pluggy's order (last registered first), so
    one broken plugin neither breaks the chat or edit that fired the hook nor keeps the
    other plugins from hearing about it. Return values are ignored. Returns the failures as
    ``(plugin name, exception)`` pairs (empty when all went well).

    Call it from a worker thread, never from an event loop: hooks may block.
    """
    if hook_name not in NOTIFICATION_HOOKS:
        raise ValueError(f"{hook_name!r} is not a notification hook; use pm.hook.{hook_name}")
    caller = getattr(pm.hook, hook_name)
    spec_args = set(caller.spec.argnames) if caller.spec is not None else set()
    if set(kwargs) != spec_args:
        raise TypeError(f"{hook_name} takes {sorted(spec_args)}, was fired with {sorted(kwargs)}")
    _warn_if_on_event_loop(hook_name)
    failures: list[tuple[str, Exception]] = []
    for impl in reversed(caller.get_hookimpls()):
        if impl.hookwrapper or impl.wrapper:
            # Wrappers make no sense around fire-and-forget hooks; calling them half-way
            # (without the rest of pluggy's machinery) would be worse than skipping them.
            log.warning("plugin %s: wrapper on %s ignored", impl.plugin_name, hook_name)
            continue
        try:
            impl.function(*(kwargs[name] for name in impl.argnames))
        except Exception as exc:
            log.exception(
                "plugin %s failed in %s (user %s); carrying on",
                impl.plugin_name,
                hook_name,
                kwargs.get("user_id", "-"),
            )
            failures.append((impl.plugin_name, exc))
    return failures


def _warn_if_on_event_loop(hook_name: str) -> None:
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return
    if hook_name not in _warned_on_loop:
        _warned_on_loop.add(hook_name)
        log.warning(
            "%s fired on an event loop thread; hooks may block and belong in a worker thread",
            hook_name,
        )


# --------------------------------------------------------------------------- collectors
#
# pluggy calls the most recently registered plugin first, and entry points are loaded after
# the built-ins. So in the tables below the FIRST registration of a name wins: a third-party
# plugin that registers "torch", "sleep" or "idle" replaces the built-in one.


def _table(
    pm: pluggy.PluginManager | None, hook_name: str, what: str
) -> dict[str, Callable[..., Any]]:
    pm = pm if pm is not None else get_plugin_manager()
    table: dict[str, Callable[..., Any]] = {}

    def register(name: str, item: Callable[..., Any]) -> None:
        if not isinstance(name, str) or not name.strip():
            raise ConfigError(f"a plugin registered a {what} without a name: {name!r}")
        if not callable(item):
            raise ConfigError(f"{what} {name!r} must be callable, got {item!r}")
        key = name.strip().lower()
        if key in table:
            log.debug("%s %r registered again; the later-loaded plugin's is kept", what, key)
            return
        table[key] = item

    getattr(pm.hook, hook_name)(register=register)
    return table


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


def run_extractors(
    pm: pluggy.PluginManager, message: str, context: ExtractContext, names: Iterable[str]
) -> list[Fact]:
    """The facts wake finds in ``message``: each registered extractor whose name is in
    ``names`` (the config key ``extractors``), in registration order, then every
    ``extract_facts`` hook answer. Wake (``Engine.extract``) and the extraction benchmark
    both reach it through ``registry.PluginRegistry.extract``, so the benchmark measures
    what wake does and needs no model when no extractor uses one."""
    wanted = set(names)
    answers: list[list[Fact]] = [
        extractor.extract(message, context)
        for extractor in extractors(pm)
        if extractor.name in wanted
    ]
    answers.extend(extra or [] for extra in pm.hook.extract_facts(message=message, context=context))
    return merge_facts(answers)


def merge_facts(answers: Iterable[Sequence[Fact]]) -> list[Fact]:
    """The facts of several extractors for one message, earlier extractors first: a later
    extractor's fact is dropped when an earlier one already filled its slot or stated its
    value. So adding an extractor (the chat model after the rules) can only add facts the
    earlier ones missed; it never replaces or repeats what they read."""
    merged: list[Fact] = []
    for facts in answers:
        slots = {f.slot_key for f in merged}
        values = {f.answer.casefold() for f in merged}
        merged.extend(
            f for f in facts if f.slot_key not in slots and f.answer.casefold() not in values
        )
    return merged


def run_forget_requests(
    pm: pluggy.PluginManager, message: str, context: ExtractContext
) -> list[ForgetRequest]:
    """What ``message`` asks to be forgotten: every ``forget_requests`` hook answer, in
    hook-call order. Wake and the extraction benchmark both call this."""
    out: list[ForgetRequest] = []
    for answer in pm.hook.forget_requests(message=message, context=context):
        out.extend(r for r in answer or [] if isinstance(r, ForgetRequest))
    return out


def commands(pm: pluggy.PluginManager | None = None) -> dict[str, tuple[Callable[..., Any], str]]:
    """Chat commands by name (without the slash): ``{name: (handler, help)}``.

    A plugin loaded after another replaces that one's command of the same name, so an
    entry-point plugin can replace a built-in command.
    """
    pm = pm if pm is not None else get_plugin_manager()
    table: dict[str, tuple[Callable[..., Any], str]] = {}

    def register(name: str, handler: Callable[..., Any], help: str = "") -> None:
        if not callable(handler):
            raise ConfigError(f"command {name!r} needs a callable handler, got {handler!r}")
        key = name.strip().lstrip("/").lower()
        if not key or " " in key:
            raise ConfigError(f"bad command name {name!r}: one word, e.g. 'remember'")
        table.setdefault(key, (handler, help))

    pm.hook.register_commands(register=register)
    return table


def backends(pm: pluggy.PluginManager | None = None) -> dict[str, Callable[..., Any]]:
    """Model backends by name: ``{name: factory}``, ``factory(source, config) -> Backend``."""
    return _table(pm, "register_backends", "backend")


def schedules(pm: pluggy.PluginManager | None = None) -> dict[str, Callable[..., Any]]:
    """Sleep triggers by name: ``{name: trigger}``; ``trigger(state, config, now=...) -> bool``
    (see ``hookspecs.register_schedules``)."""
    return _table(pm, "register_schedules", "schedule")


# --------------------------------------------------------------------------- introspection


@dataclass
class PluginInfo:
    """One loaded plugin, as ``sleepmem plugins`` shows it."""

    name: str
    module: str
    source: str  # "built-in", "entry point" or "registered in code"
    dist: str | None = None
    version: str | None = None
    hooks: list[str] = field(default_factory=list)
    extractors: list[str] = field(default_factory=list)
    commands: list[tuple[str, str]] = field(default_factory=list)  # (name, help)
    backends: list[str] = field(default_factory=list)
    schedules: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "module": self.module,
            "source": self.source,
            "dist": self.dist,
            "version": self.version,
            "hooks": list(self.hooks),
            "extractors": list(self.extractors),
            "commands": [{"name": n, "help": h} for n, h in self.commands],
            "backends": list(self.backends),
            "schedules": list(self.schedules),
        }


def _registrations(impl: Any, hook_name: str) -> list[tuple[Any, ...]]:
    """What one ``register_*`` implementation registers, without touching any table.

    The recorder has the signature the real ``register`` callback has, so a plugin that
    passes arguments by keyword is understood too.
    """
    calls: list[tuple[Any, ...]] = []

    def record_one(item: Any) -> None:
        calls.append((item,))

    def record_command(name: str, handler: Any, help: str = "") -> None:
        calls.append((name, handler, help))

    def record_named(name: str, item: Any) -> None:
        calls.append((name, item))

    recorder = {"register_extractors": record_one, "register_commands": record_command}.get(
        hook_name, record_named
    )
    impl.function(*(recorder for _ in impl.argnames))
    return calls


def describe(pm: pluggy.PluginManager | None = None) -> list[PluginInfo]:
    """Every plugin the manager holds, with where it came from and what it adds, by name."""
    pm = pm if pm is not None else get_plugin_manager()
    dists = {id(plugin): dist for plugin, dist in pm.list_plugin_distinfo()}
    infos: dict[str, PluginInfo] = {}
    for name, plugin in pm.list_name_plugin():
        if plugin is None:  # blocked
            continue
        module = getattr(plugin, "__name__", None) or type(plugin).__module__
        dist = dists.get(id(plugin))
        if dist is not None:
            info = PluginInfo(
                name,
                module,
                "entry point",
                dist=dist.project_name,
                version=getattr(dist, "version", None),
            )
        elif name in BUILTIN_NAMES and module.startswith("sleepmem.plugin.builtins."):
            info = PluginInfo(name, module, "built-in")
        else:
            info = PluginInfo(name, module, "registered in code")
        hookcallers = pm.get_hookcallers(plugin) or []
        info.hooks = sorted(caller.name for caller in hookcallers)
        infos[name] = info
    for hook_name in ("register_extractors", "register_commands"):
        for impl in getattr(pm.hook, hook_name).get_hookimpls():
            info = infos.get(impl.plugin_name)
            if info is None:
                continue
            for args in _registrations(impl, hook_name):
                if hook_name == "register_extractors":
                    info.extractors.append(getattr(args[0], "name", repr(args[0])))
                else:
                    info.commands.append((str(args[0]).lstrip("/"), str(args[2])))
    for hook_name, attr in (("register_backends", "backends"), ("register_schedules", "schedules")):
        for impl in getattr(pm.hook, hook_name).get_hookimpls():
            info = infos.get(impl.plugin_name)
            if info is not None:
                getattr(info, attr).extend(str(args[0]) for args in _registrations(impl, hook_name))
    return [infos[name] for name in sorted(infos)]
