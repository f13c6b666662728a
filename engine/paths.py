"""Where sleepmem keeps things on disk.

Everything lives under one home folder so a user can see, back up or delete all of
sleepmem's state in one place, and tests can redirect it with ``SLEEPMEM_HOME``.
Nothing is created at import time: importing sleepmem must never touch the disk; callers
``mkdir(parents=True, exist_ok=True)`` when they are about to write.
"""

from __future__ import annotations

import os
from pathlib import Path

HOME_ENV = "SLEEPMEM_HOME"


def home(override: str | os.PathLike[str] | None = None) -> Path:
    """The sleepmem home: ``override`` if given (e.g. ``EngineConfig.home``), else
    ``$SLEEPMEM_HOME``, else ``~/.sleepmem``. Read on every call (not cached) so a test or
    a long-running server that changes the environment sees the change."""
    if override is not None and str(override):
        return Path(override).expanduser()
    env = os.environ.get(HOME_ENV, "")
    if env:
        return Path(env).expanduser()
    return Path.home() / ".sleepmem"


def models_dir(base: Path | None = None) -> Path:
    """Converted/pulled models, one folder each (``sleepmem model list`` shows them)."""
    return (base if base is not None else home()) / "models"


def users_dir(base: Path | None = None) -> Path:
    """Per-user memory: fact ledgers and the weight deltas written for them."""
    return (base if base is not None else home()) / "users"


def stats_dir(base: Path | None = None) -> Path:
    """Cached per-model statistics (key covariances for MEMIT/AlphaEdit); costly to
    recompute, safe to delete."""
    return (base if base is not None else home()) / "stats"
