"""Sleep's keep rule on audits: per fact, held-out probes and the plain question."""

from __future__ import annotations

from sleepmem.engine.sleep import Audit

T, F = True, False


def test_a_held_out_gain_never_pays_for_a_fact_lost_in_plain_chat():
    old = Audit(held_out=[F, F, T, F], plain=[T, T, T, T])
    repaired = Audit(held_out=[T, T, T, F], plain=[T, F, T, T])
    assert repaired.rate > old.rate
    assert not repaired.no_worse_than(old)
    assert not repaired.better_than(old)
    assert repaired.passed() == [T, F, T, F]


def test_better_means_one_count_up_and_none_down():
    old = Audit(held_out=[F, F], plain=[T, F])
    same = Audit(held_out=[F, F], plain=[F, T])  # other facts, same counts
    assert same.no_worse_than(old) and not same.better_than(old)
    more = Audit(held_out=[T, F], plain=[T, F])
    assert more.better_than(old) and not old.better_than(more)
    assert (more.rate, more.plain_rate) == (0.5, 0.5)
    assert Audit(held_out=[], plain=[]).rate == 0.0
