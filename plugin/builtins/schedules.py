"""The built-in sleep triggers: "cron", "idle" and "pressure".

Registered through ``register_schedules`` exactly like a third-party plugin's triggers. A
trigger is ``trigger(state, config, now=...) -> bool`` (see ``sleepmem.engine.schedule``);
its name is the ``reason`` that ``before_sleep`` receives. Each of these is off while its
``schedule.*`` setting is none.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sleepmem.engine.schedule import cron_trigger, idle_trigger, pressure_trigger
from sleepmem.plugin.hookspecs import hookimpl


@hookimpl
def register_schedules(register: Callable[[str, Callable[..., Any]], None]) -> None:
    register("cron", cron_trigger)
    register("idle", idle_trigger)
    register("pressure", pressure_trigger)
