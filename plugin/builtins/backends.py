"""The built-in model backends, "torch" and "mlx", registered like any plugin's backend.

A factory gets the resolved model source and the EngineConfig and returns a loaded
``sleepmem.engine.backends.base.Backend``. Each one imports its framework only when called,
so listing backends (``sleepmem plugins``) never imports torch or mlx, and a missing
framework becomes ``BackendUnavailable`` with the command that installs it.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import Any

from sleepmem.engine.errors import BackendUnavailable
from sleepmem.plugin.hookspecs import hookimpl

MLX_PACKAGES = ("mlx", "mlx_lm")


def mlx_install_hint() -> str:
    """What to install for the mlx backend on this platform."""
    if sys.platform == "darwin":
        return "pip install 'sleepmem[mlx]'"
    # Off Apple silicon mlx only runs on its CPU build.
    return "pip install 'sleepmem[mlx]' 'mlx[cpu]'"


def torch_backend(source: Any, config: Any) -> Any:
    # torch_backend turns a missing torch/transformers into BackendUnavailable itself.
    from sleepmem.engine.backends.torch_backend import TorchBackend

    return TorchBackend.from_source(source, device=config.device, dtype=config.dtype)


def mlx_backend(source: Any, config: Any) -> Any:
    try:
        from sleepmem.engine.backends.mlx_backend import MlxBackend
    except ImportError as exc:
        # Only a missing mlx is the user's to fix; a broken sleepmem module must surface as is.
        if (exc.name or "").split(".")[0] not in MLX_PACKAGES:
            raise
        raise BackendUnavailable(
            f"the mlx backend needs mlx and mlx-lm ({exc}): {mlx_install_hint()}"
        ) from exc
    return MlxBackend.from_source(source, device=config.device, dtype=config.dtype)


@hookimpl
def register_backends(register: Callable[[str, Callable[..., Any]], None]) -> None:
    register("torch", torch_backend)
    register("mlx", mlx_backend)
