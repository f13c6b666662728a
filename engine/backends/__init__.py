"""Model runtimes. Each backend module imports its framework lazily, behind an install hint."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..errors import BackendUnavailable, ConfigError

if TYPE_CHECKING:
    from ..config import EngineConfig
    from .base import Backend

BACKENDS = ("torch", "mlx")


def load_backend(config: EngineConfig, progress: bool = False) -> Backend:
    """Resolve the configured model (pulling the default once if needed) and load it."""
    from ..models import resolve
    from ..paths import home

    if config.backend not in BACKENDS:
        raise ConfigError(
            f"unknown backend {config.backend!r}; choose one of {', '.join(BACKENDS)}"
        )
    source = resolve(config.model, auto_pull=True, progress=progress, base=home(config.home))
    if config.backend == "torch":
        try:
            from .torch_backend import TorchBackend
        except ImportError as exc:
            raise BackendUnavailable(
                "the torch backend needs: pip install 'sleepmem[torch]'"
            ) from exc
        return TorchBackend.from_source(source, device=config.device, dtype=config.dtype)
    raise BackendUnavailable("the mlx backend is not available yet in this version")
