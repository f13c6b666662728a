"""The plugins as the engine sees them, and the assembly of an engine from a config.

``PluginRegistry`` implements the engine's ``hooks.Plugins`` contract over a pluggy
manager, so the engine never imports this package. ``open_engine`` is what every front end
calls to get a running engine: load the configured plugins, load the configured backend
through them, build the ``Engine``.

Nothing is cached: each call asks the manager again, so a plugin registered on
``registry.pm`` after the engine was built takes part from the next message on.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import TYPE_CHECKING, Any, Literal

import pluggy
from sleepmem.engine.errors import ConfigError
from sleepmem.engine.facts import Fact, ForgetRequest
from sleepmem.engine.hooks import CommandTable, ExtractContext, Trigger
from sleepmem.plugin import manager

if TYPE_CHECKING:
    from sleepmem.engine.backends.base import Backend
    from sleepmem.engine.config import EngineConfig
    from sleepmem.engine.memory import Engine

__all__ = ["PluginRegistry", "load_backend", "load_registry", "open_engine"]


class PluginRegistry:
    """``hooks.Plugins`` over the pluggy manager ``pm`` (hooks and collectors of
    ``manager``). Register more plugins on ``pm``; unregister them there too."""

    def __init__(self, pm: pluggy.PluginManager) -> None:
        self.pm = pm

    def __repr__(self) -> str:
        return f"PluginRegistry({[name for name, _ in self.pm.list_name_plugin()]})"

    def extractor_names(self) -> list[str]:
        return [e.name for e in manager.extractors(self.pm)]

    def extract(self, message: str, context: ExtractContext, names: Iterable[str]) -> list[Fact]:
        return manager.run_extractors(self.pm, message, context, names)

    def forget_requests(self, message: str, context: ExtractContext) -> list[ForgetRequest]:
        return manager.run_forget_requests(self.pm, message, context)

    def explicit_statement(self, text: str, context: ExtractContext) -> list[Fact]:
        facts = self.pm.hook.explicit_statement(text=text, context=context)
        return [f for f in facts or [] if isinstance(f, Fact)]

    def before_edit(self, user_id: str, fact: Fact) -> Fact | Literal[False] | None:
        verdict = self.pm.hook.before_edit(user_id=user_id, fact=fact)
        return verdict if verdict is False or isinstance(verdict, Fact) else None

    def fact_questions(self, fact: Fact) -> list[str]:
        answers = self.pm.hook.fact_questions(fact=fact)
        return [q for extra in answers for q in extra or [] if isinstance(q, str)]

    def commands(self) -> CommandTable:
        return manager.commands(self.pm)

    def schedules(self) -> Mapping[str, Trigger]:
        return manager.schedules(self.pm)

    def backends(self) -> dict[str, Callable[..., Any]]:
        """Model backends by name: ``{name: factory}`` (only ``load_backend`` needs them;
        the engine gets a loaded backend)."""
        return manager.backends(self.pm)

    def notify(self, hook: str, **kwargs: Any) -> list[tuple[str, Exception]]:
        return manager.notify(self.pm, hook, **kwargs)


def load_registry(config: EngineConfig, pm: pluggy.PluginManager | None = None) -> PluginRegistry:
    """The plugins ``config.plugins`` (or ``$SLEEPMEM_LOAD_PLUGINS``) allows, loaded into
    ``pm`` (by default the process-wide manager) now, so a broken plugin fails at startup
    rather than on the first message."""
    return PluginRegistry(manager.load_plugins(pm, allowed=config.plugins))


def load_backend(
    config: EngineConfig, progress: bool = False, plugins: PluginRegistry | None = None
) -> Backend:
    """Resolve the configured model (pulling the default once if needed) and load it with
    the backend named ``config.backend``.

    ``plugins``: whose backends are eligible; by default ``load_registry(config)``. The
    name is checked before the model is resolved, so a typo costs no download.
    """
    from sleepmem.engine.models import resolve
    from sleepmem.engine.paths import home

    plugins = plugins if plugins is not None else load_registry(config)
    factories = plugins.backends()
    factory = factories.get(config.backend.strip().lower())
    if factory is None:
        known = ", ".join(sorted(factories)) or "none"
        hint = (
            ""
            if factories
            else " (is the 'backends' plugin left out by the config key `plugins` or "
            f"${manager.ENV_LOAD}?)"
        )
        raise ConfigError(f"unknown backend {config.backend!r}; registered backends: {known}{hint}")
    source = resolve(config.model, auto_pull=True, progress=progress, base=home(config.home))
    return factory(source, config)


def open_engine(
    config: EngineConfig, progress: bool = False, plugins: PluginRegistry | None = None
) -> Engine:
    """The engine every front end runs: the configured plugins (``load_registry``), the
    backend they offer under ``config.backend`` with the model loaded, and the memory."""
    from sleepmem.engine.memory import Engine

    plugins = plugins if plugins is not None else load_registry(config)
    return Engine(config, load_backend(config, progress=progress, plugins=plugins), plugins)
