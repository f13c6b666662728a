"""sleepmem's plugin layer: hook specifications, the plugin manager, the built-in plugins.

What a plugin author needs is importable from here::

    from sleepmem.plugin import hookimpl, run_async

See plugin/README.md for the hooks, loading rules and the async convention.
"""

from __future__ import annotations

from sleepmem.plugin.aio import background_loop, run_async
from sleepmem.plugin.hookspecs import hookimpl

__all__ = ["background_loop", "hookimpl", "run_async"]
