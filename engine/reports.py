"""What wake and sleep report back, and the shape of a turn wake reads.

Apart from ``memory`` so that front ends and plugins can name these types without the
engine's numerics; ``memory`` re-exports them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from .facts import Fact

__all__ = ["SleepReport", "Turn", "WakeReport"]


@dataclass
class WakeReport:
    added: list[Fact] = field(default_factory=list)
    superseded: list[Fact] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)  # why facts were not written
    seconds: float = 0.0
    forgotten: list[Fact] = field(default_factory=list)  # asked in plain words to forget
    # Where the seconds went: "extract", "vstar" (target values of new facts), "spread"
    # (keys and solves, layer by layer), "store" (ledger, delta file, kept keys).
    phases: dict[str, float] = field(default_factory=dict)
    incremental: bool = False  # added on top of the live edit, not re-solved from the base
    compact_share: float | None = None  # what compaction kept of the keys' outputs; None: all


@dataclass
class SleepReport:
    facts: int = 0
    audit_before: float = 0.0  # held-out recall: wordings and contexts never trained on
    audit_after: float = 0.0
    plain_before: float = 0.0  # each fact's own question in an empty chat
    plain_after: float = 0.0
    # Perplexity change on general text under the old and the new edits; None where the
    # verdict did not turn on it, so it was not measured (``sleep.keep_rule``).
    drift_before: float | None = None
    drift_after: float | None = None
    kept_new: bool = False
    repaired: list[str] = field(default_factory=list)
    repair_tried: list[str] = field(default_factory=list)  # fact ids this sleep tried to repair
    # Fact ids audited, and those whose audit failed under the edits the sleep left in
    # place: what the memory page shows per fact ("last audit passed").
    audited: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)
    archived: list[str] = field(default_factory=list)  # ids set aside over the fact budget
    restored: list[str] = field(default_factory=list)  # archived ids back in the weights
    seconds: float = 0.0
    phases: dict[str, float] = field(default_factory=dict)  # sleep step -> wall seconds
    compact_share: float | None = None  # of its re-solve (None: uncompacted)
    reason: str = ""

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)

    def describe(self) -> str:
        """The chat answer to /sleep."""
        if not self.facts:
            return "Nothing to consolidate yet."
        archived = (
            f" {len(self.archived)} facts archived (over the fact budget)." if self.archived else ""
        )
        if self.restored:
            archived += f" {len(self.restored)} archived facts brought back (room in the budget)."
        return (
            f"Slept on {self.facts} facts in {self.seconds:.0f} s: recall "
            f"{self.audit_before:.0%} -> {self.audit_after:.0%} asked in new words "
            f"({self.plain_before:.0%} -> {self.plain_after:.0%} asked plainly), drift "
            f"{_drift(self.drift_before)} -> {_drift(self.drift_after)}; "
            + ("new memory kept." if self.kept_new else self.reason + ".")
            + archived
        )


def _drift(value: float | None) -> str:
    return "not measured" if value is None else f"{value:+.1%}"


Turn = tuple[str, Sequence[tuple[str, str]]]
"""A user message and the chat before it as ``(role, content)`` pairs, oldest first."""
