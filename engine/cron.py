"""Cron expressions for sleep schedules: five fields in local wall-clock time.

``CronExpr`` wraps the ``cronsim`` library; see ``CronExpr.parse`` for the grammar.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import lru_cache

from cronsim import CronSim, CronSimError

from .errors import ConfigError

# cronsim (a maintained parser, as used by Healthchecks.io) does the grammar and the
# calendar search; what stays here is the config format around it: exactly five fields
# (cronsim would read a sixth as seconds), the @daily-style aliases, and errors that say
# which field is wrong and what it allows.
_FIELDS: tuple[tuple[str, str], ...] = (
    ("minute", "0-59"),
    ("hour", "0-23"),
    ("day-of-month", "1-31"),
    ("month", "1-12 or jan-dec"),
    ("day-of-week", "0-7 (0 and 7 are Sunday) or sun-sat"),
)
_ALIASES = {
    "@yearly": "0 0 1 1 *",
    "@annually": "0 0 1 1 *",
    "@monthly": "0 0 1 * *",
    "@weekly": "0 0 * * 0",
    "@daily": "0 0 * * *",
    "@midnight": "0 0 * * *",
    "@hourly": "0 * * * *",
}
# Any fixed date to parse against: cronsim validates when it is constructed.
_PARSE_AT = datetime(2000, 1, 1)


@dataclass(frozen=True)
class CronExpr:
    """A validated five-field cron expression in local wall-clock time."""

    text: str
    """As written in the config (an alias stays an alias)."""
    expanded: str
    """The five fields cronsim reads."""

    @classmethod
    def parse(cls, text: str) -> CronExpr:
        """Parse ``minute hour day-of-month month day-of-week`` (or an ``@daily``-style alias).

        Each field takes ``*``, a number, a range ``a-b``, a step ``*/n``, ``a-b/n`` or
        ``a/n`` (= ``a-max/n``), and comma lists of these. Months and weekdays also take
        English three-letter names (``jan``, ``mon``; any case); weekday 0 and 7 are Sunday.
        As in classic (Vixie/Debian) cron, when both day fields are restricted -- neither
        starts with ``*`` -- a day matches if *either* matches ("0 0 13 * fri" runs on every
        13th and every Friday); otherwise both must match. cronsim's extensions (``L``,
        ``LW``, ``5#2``) are accepted too. Raises ConfigError naming the field for anything
        wrong, including dates that never occur ("0 0 31 2 *").
        """
        if not isinstance(text, str):
            raise ConfigError(f"cron expression must be a string, not {text!r}")
        source = text.strip()
        expanded = _ALIASES.get(source.lower(), source)
        parts = expanded.split()
        if len(parts) != len(_FIELDS):
            if source.startswith("@"):
                known = ", ".join(_ALIASES)
                raise ConfigError(f"unknown cron alias {source!r}; known: {known}")
            raise ConfigError(
                f"cron expression {source!r} has {len(parts)} fields; expected 5: "
                "minute hour day-of-month month day-of-week (e.g. '0 3 * * *')"
            )
        try:
            CronSim(expanded, _PARSE_AT)
        except CronSimError as e:
            raise ConfigError(_describe(source, parts, str(e))) from None
        return cls(source, " ".join(parts))

    def __str__(self) -> str:
        return self.text

    def matches(self, when: datetime) -> bool:
        """Whether the minute containing ``when`` is one of this expression's times."""
        minute = when.replace(second=0, microsecond=0)
        return self.next_after(minute - timedelta(minutes=1)) == minute

    def next_after(self, when: datetime) -> datetime:
        """The first time strictly after ``when`` that matches (seconds zero).

        Works on wall-clock fields, so give it naive local times (``datetime.fromtimestamp``).
        Raises ConfigError if no time matches within cronsim's search horizon (50 years).
        """
        try:
            return next(CronSim(self.expanded, when.replace(microsecond=0)))
        except StopIteration:
            pass
        raise ConfigError(f"cron expression {self.text!r} has no time after {when.isoformat()}")

    def latest_in(self, start: float, end: float) -> float | None:
        """The last cron time ``t`` (epoch seconds, local time) with ``start < t <= end``."""
        latest = None
        t = self.next_after(datetime.fromtimestamp(start))
        while (ts := t.timestamp()) <= end:
            latest = ts
            t = self.next_after(t)
        return latest


def _describe(source: str, parts: list[str], error: str) -> str:
    """cronsim says "Bad <field>"; name the field, what it holds and what it allows."""
    for (name, allowed), spec in zip(_FIELDS, parts):
        if error.lower() != f"bad {name}":
            continue
        if name == "day-of-month" and _parses(f"0 0 {spec} * *"):
            # A valid day that no given month has (the 31st of February): say so.
            return (
                f"cron expression {source!r} never runs: day-of-month {spec!r} "
                f"does not occur in month {parts[3]!r}"
            )
        return f"cron expression {source!r}: {name} field {spec!r} is not valid ({allowed})"
    return f"cron expression {source!r}: {error}"


def _parses(expr: str) -> bool:
    try:
        CronSim(expr, _PARSE_AT)
    except CronSimError:
        return False
    return True


@lru_cache(maxsize=32)
def cron(text: str) -> CronExpr:
    """``CronExpr.parse``, cached: the scheduler asks for the same few expressions."""
    return CronExpr.parse(text)
