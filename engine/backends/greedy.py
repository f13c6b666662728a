"""Greedy replies to many prompts under one user's edits, decoded as rows: how audits and
benchmarks ask (``Backend.generate_batch`` of the built-in backends).

Sleep's audits ask each fact under persona cards, app prompts and small talk, so most of
their tokens are a few long contexts repeated across questions (30 facts: 5,050 prompt
tokens, 850 of them distinct context). Prompts that begin alike are read as a group: the
shared beginning once, each question after it (``Rows.add``'s ``prefix``). Rows leave the
batch as they end, and a row given a ``stop_at`` text ends as soon as its reply holds it:
an audit only asks whether the answer came back, and a reply that holds it now holds it
whatever follows.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ..priority import checkpoint
from .base import Factors
from .prefixes import shared_groups

ROWS = 32  # rows decoded together; 90 audit probes took 8.5 s in 16s, 8.0 in 32s, 8.9 in 96s


def greedy_tokens(logits: Any) -> list[int]:
    """Greedy token of each row of (rows, vocab) ``logits`` (torch or mlx)."""
    return [int(t) for t in logits.argmax(-1).tolist()]


def greedy_batch(
    backend: Any,
    texts: Sequence[str],
    max_new_tokens: int,
    factors: Factors | None,
    stop_at: Sequence[str] | None = None,
    rows: int = ROWS,
) -> list[str]:
    """Greedy replies to ``texts`` with ``factors``, through ``backend.rows()``; reply i
    ends at a stop token, after ``max_new_tokens``, or once it holds ``stop_at[i]``
    (compared case-folded) when given."""
    seqs = [backend.encode(t) for t in texts]
    replies: list[list[int]] = [[] for _ in texts]
    for batch in _batches(seqs, rows):
        checkpoint()
        _decode(backend, seqs, batch, max_new_tokens, factors, stop_at, replies)
    return [backend.decode(ids) for ids in replies]


def _batches(seqs: Sequence[Sequence[int]], rows: int) -> list[list[tuple[int, list[int]]]]:
    """Groups packed into batches of at most ``rows`` rows, ordered by length so a short
    question is not padded to a persona card's width."""
    pieces = [
        (shared, members[start : start + rows])
        for shared, members in shared_groups(seqs)
        for start in range(0, len(members), rows)
    ]
    pieces.sort(key=lambda piece: max(len(seqs[i]) for i in piece[1]))
    batches: list[list[tuple[int, list[int]]]] = []
    size = rows
    for piece in pieces:
        if size + len(piece[1]) > rows:
            batches.append([])
            size = 0
        batches[-1].append(piece)
        size += len(piece[1])
    return batches


def _decode(
    backend: Any,
    seqs: Sequence[Sequence[int]],
    batch: Sequence[tuple[int, list[int]]],
    limit: int,
    factors: Factors | None,
    stop_at: Sequence[str] | None,
    replies: list[list[int]],
) -> None:
    batch_rows = backend.rows()
    live: list[int] = []
    tokens: list[int] = []
    for shared, members in batch:
        prefix = seqs[members[0]][:shared]
        logits = batch_rows.add([(seqs[i][shared:], factors) for i in members], prefix=prefix)
        live += members
        tokens += greedy_tokens(logits)
    while live:
        keep = []
        for j, (i, token) in enumerate(zip(live, tokens)):
            if token in backend.stop_ids:
                continue
            replies[i].append(token)
            wanted = stop_at[i] if stop_at else ""
            if len(replies[i]) >= limit or _holds(backend, replies[i], wanted):
                continue
            keep.append(j)
        if not keep:
            return
        if len(keep) < len(live):
            batch_rows.keep(keep)
            live = [live[j] for j in keep]
        tokens = greedy_tokens(batch_rows.step([replies[i][-1] for i in live]))


def _holds(backend: Any, reply: list[int], wanted: str) -> bool:
    return bool(wanted) and wanted.casefold() in backend.decode(reply).casefold()
