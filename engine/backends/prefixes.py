"""Which prompts begin alike: audits and edits ask every fact under the same few contexts
(app prompts, persona cards, small talk), so a shared beginning can be read once for all
the prompts that start with it (``greedy``, ``torch_walk``)."""

from __future__ import annotations

import itertools
from collections.abc import Sequence

MIN_SHARED = 16  # tokens two prompts must share to be read as a group


def shared_groups(seqs: Sequence[Sequence[int]]) -> list[tuple[int, list[int]]]:
    """The prompts as groups that begin alike: (tokens shared by all in the group, their
    indices). Each keeps at least its last token of its own; a lone prompt shares 0."""
    order = sorted(range(len(seqs)), key=lambda i: tuple(seqs[i]))
    # sorted, prompts under one context are neighbours: what each shares with the next
    common = [_common(seqs[a], seqs[b]) for a, b in itertools.pairwise(order)]
    best = [max(common[max(k - 1, 0) : k + 1], default=0) for k in range(len(order))]
    groups: list[tuple[int, list[int]]] = []
    for k, i in enumerate(order):
        own = len(seqs[i]) - 1
        if k and common[k - 1] >= MIN_SHARED and common[k - 1] * 2 >= max(best[k - 1], best[k]):
            # joins the group before: a long context shared by a few is not cut down to
            # the template's first tokens by one that shares only those
            shared, members = groups[-1]
            groups[-1] = (min(shared, common[k - 1], own), [*members, i])
        else:
            groups.append((own, [i]))
    return [(shared if len(members) > 1 else 0, members) for shared, members in groups]


def _common(a: Sequence[int], b: Sequence[int]) -> int:
    n, most = 0, min(len(a), len(b))
    while n < most and a[n] == b[n]:
        n += 1
    return n
