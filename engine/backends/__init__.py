"""Model runtimes. Backends are plugins (``register_backends``); the built-in "torch" and "mlx"
ones live in ``sleepmem.plugin.builtins.backends`` and import their framework lazily."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ..errors import ConfigError

if TYPE_CHECKING:
    from ..config import EngineConfig
    from .base import Backend


def load_backend(config: EngineConfig, progress: bool = False, pm: Any | None = None) -> Backend:
    """Resolve the configured model (pulling the default once if needed) and load it with
    the backend named ``config.backend``.

    ``pm``: the plugin manager whose backends are eligible; by default the process-wide one,
    loaded with ``config.plugins``. The name is checked before the model is resolved, so a
    typo costs no download.
    """
    from sleepmem.plugin import manager

    from ..models import resolve
    from ..paths import home

    if pm is None:
        pm = manager.load_plugins(allowed=config.plugins)
    factories = manager.backends(pm)
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
