"""Async work inside synchronous hooks: one shared background event loop.

pluggy calls hooks synchronously, and sleepmem always calls them from a worker thread (never
from the server's event loop), so a hook may block. A hook that wants to ``await`` something
(an aiohttp request, an async database driver) hands the coroutine to ``run_async``, which
runs it on one event loop that sleepmem owns, in its own daemon thread, and blocks the
calling worker thread until the result is there.

Why one shared loop rather than ``asyncio.run`` per call: objects bound to a loop (an
``aiohttp.ClientSession``, a connection pool) can be created once and reused across hook
calls, and no plugin has to manage a thread or a loop of its own.
"""

from __future__ import annotations

import asyncio
import atexit
import concurrent.futures
import contextlib
import threading
from collections.abc import Coroutine
from typing import Any, TypeVar

T = TypeVar("T")

_loop: asyncio.AbstractEventLoop | None = None
_thread: threading.Thread | None = None
_guard = threading.Lock()


def background_loop() -> asyncio.AbstractEventLoop:
    """The shared loop (started on first use). Bind loop-scoped objects to this one."""
    global _loop, _thread
    with _guard:
        if _loop is None or _loop.is_closed():
            loop = asyncio.new_event_loop()
            ready = threading.Event()

            def serve() -> None:
                asyncio.set_event_loop(loop)
                loop.call_soon(ready.set)
                loop.run_forever()

            thread = threading.Thread(target=serve, name="sleepmem-plugin-loop", daemon=True)
            thread.start()
            ready.wait()
            _loop, _thread = loop, thread
        return _loop


def run_async(coro: Coroutine[Any, Any, T], timeout: float | None = None) -> T:
    """Run ``coro`` on the shared background loop and return its result (or raise its error).

    Call it from a hook (a worker thread). ``timeout`` in seconds: when it passes, the
    coroutine is cancelled and ``TimeoutError`` is raised. Calling it from a thread that
    runs an event loop would block that loop (or deadlock, on the shared loop itself), so
    that is refused with ``RuntimeError``; ``await`` the coroutine there instead.
    """
    if not asyncio.iscoroutine(coro):
        raise TypeError(f"run_async needs a coroutine, not {type(coro).__name__}")
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        pass  # no loop in this thread: the normal case for a hook
    else:
        coro.close()  # never awaited; close it so Python does not warn about it
        raise RuntimeError(
            "run_async was called on a thread that runs an event loop; sleepmem hooks run "
            "in worker threads, so this is not a hook call. Await the coroutine instead."
        )
    future = asyncio.run_coroutine_threadsafe(coro, background_loop())
    try:
        return future.result(timeout)
    except concurrent.futures.TimeoutError:
        future.cancel()
        raise TimeoutError(f"async work did not finish within {timeout} s") from None


def _shutdown() -> None:
    """Stop the loop at interpreter exit so pending plugin work is cancelled, not killed."""
    global _loop, _thread
    with _guard:
        loop, thread = _loop, _thread
        _loop = _thread = None
    if loop is None or loop.is_closed():
        return

    async def cancel_all() -> None:
        tasks = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await loop.shutdown_asyncgens()

    # Exiting anyway: a stuck or failing plugin task must not hang the interpreter.
    with contextlib.suppress(Exception):
        asyncio.run_coroutine_threadsafe(cancel_all(), loop).result(5)
    loop.call_soon_threadsafe(loop.stop)
    if thread is not None:
        thread.join(5)
    if not loop.is_running():
        loop.close()


atexit.register(_shutdown)
