"""Sleep's keep rule on audits: per fact, held-out probes and the plain question."""

from __future__ import annotations

from types import SimpleNamespace

from sleepmem.engine.sleep import Audit, keep_rule

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


class Drift:
    """A drift the keep rule may ask for; remembers whether it did."""

    def __init__(self, value: float) -> None:
        self.value, self.asked = value, False

    def __call__(self) -> float:
        self.asked = True
        return self.value


def rule(before: Audit, after: Audit, old: float, new: float, bound: float = 0.03):
    return keep_rule(before, after, Drift(old), Drift(new), bound)


def test_within_the_drift_bound_recall_rules_the_keep() -> None:
    old = Audit(held_out=[F, F, T, F], plain=[T, T, T, T])
    gained = Audit(held_out=[T, F, T, F], plain=[T, T, T, T])
    lost_plain = Audit(held_out=[T, T, T, T], plain=[T, F, T, T])
    assert rule(old, gained, 0.01, 0.02).keep_new
    assert rule(old, lost_plain, 0.01, 0.01).reason.endswith("recall dropped")
    drifted = rule(old, gained, 0.01, 0.05)
    assert not drifted.keep_new and drifted.reason.endswith("general text drifted")


def test_old_edits_past_the_drift_bound_give_way_to_ones_that_drift_less() -> None:
    old = Audit(held_out=[F, F, T, F], plain=[T, T, T, T])
    # one fact lost in plain chat, two won held out: fewer probes lost in all
    traded = Audit(held_out=[T, T, T, F], plain=[T, F, T, T])
    assert not rule(old, traded, 0.02, 0.01).keep_new  # old within the bound
    assert rule(old, traded, 0.08, 0.05).keep_new
    # drifting less is no licence to answer less
    worse = Audit(held_out=[F, F, T, F], plain=[T, F, T, T])
    assert not rule(old, worse, 0.08, 0.02).keep_new
    # nor is drifting more when the old edits already drift
    assert not rule(old, traded, 0.08, 0.09).keep_new


def test_a_drift_is_measured_only_when_the_verdict_turns_on_it() -> None:
    old = Audit(held_out=[F, T], plain=[T, T])
    fewer = Audit(held_out=[F, F], plain=[T, T])
    before, after = Drift(0.01), Drift(0.01)
    assert not keep_rule(old, fewer, before, after, 0.03).keep_new
    assert not before.asked and not after.asked  # refused on recall alone
    same = Audit(held_out=[T, F], plain=[T, T])
    before, after = Drift(0.01), Drift(0.02)
    assert keep_rule(old, same, before, after, 0.03).keep_new
    assert after.asked and not before.asked  # within the bound, whatever the old drift
    before, after = Drift(0.05), Drift(0.04)
    assert keep_rule(old, same, before, after, 0.03).keep_new
    assert after.asked and before.asked  # past the bound: only drifting less than before


def test_the_lazy_rule_decides_as_the_rule_with_both_drifts_known() -> None:
    """Every audit pair of two facts and drifts on both sides of the bound: the same
    verdict as the rule that measured both drifts first (stop 41's)."""

    def eager(before: Audit, after: Audit, old: float, new: float, bound: float) -> bool:
        if old > bound and new < old:
            return after.total >= before.total
        return after.no_worse_than(before) and new <= max(bound, old)

    flags = [(a, b) for a in (F, T) for b in (F, T)]
    audits = [Audit(held_out=list(h), plain=list(p)) for h in flags for p in flags]
    drifts = (0.0, 0.02, 0.03, 0.05, 0.08)
    for before in audits:
        for after in audits:
            for old in drifts:
                for new in drifts:
                    got = rule(before, after, old, new).keep_new
                    assert got == eager(before, after, old, new, 0.03), (before, after, old, new)


def test_sleep_repairs_a_few_facts_and_the_next_sleep_takes_the_others(tmp_path) -> None:
    from sleepmem.engine.facts import explicit
    from sleepmem.engine.sleep import Consolidation
    from sleepmem.engine.store import MemoryStore

    mem = MemoryStore(tmp_path).user("ana", "smollm2-test")
    facts = [explicit(f"What is thing {i}?", f"answer {i}") for i in range(6)]
    # all fail held out; facts 4 and 5 also fail their own question in an empty chat
    audit = Audit(held_out=[F] * 6, plain=[T, T, T, T, F, F])
    sleeper = Consolidation.__new__(Consolidation)
    first = sleeper._to_repair(mem, facts, audit)
    assert len(first) == Consolidation.REPAIR_MAX
    assert {facts[4].id, facts[5].id} <= first  # lost in plain chat: always first
    mem.record_sleep(0.0, 1.0, {"repair_tried": sorted(first)})
    second = sleeper._to_repair(mem, facts, audit)
    untried = {f.id for f in facts} - first
    assert untried <= second and {facts[4].id, facts[5].id} <= second


def test_over_the_budget_go_facts_the_last_audit_failed_then_the_oldest(tmp_path) -> None:
    from sleepmem.engine.config import load_config
    from sleepmem.engine.facts import explicit
    from sleepmem.engine.sleep import Consolidation
    from sleepmem.engine.store import MemoryStore

    mem = MemoryStore(tmp_path).user("ana", "smollm2-test")
    facts = [explicit(f"What is thing {i}?", f"answer {i}") for i in range(6)]
    sleeper = Consolidation.__new__(Consolidation)
    sleeper.config = load_config(overrides={"max_facts": 6}, discover=False, env={})
    assert sleeper._over_budget(mem, facts) == frozenset()
    sleeper.config = load_config(overrides={"max_facts": 3}, discover=False, env={})
    assert sleeper._over_budget(mem, facts) == {f.id for f in facts[:3]}
    mem.record_sleep(0.0, 1.0, {"failed": [facts[4].id]})
    assert sleeper._over_budget(mem, facts) == {facts[4].id, facts[0].id, facts[1].id}
    sleeper.config = load_config(overrides={"max_facts": None}, discover=False, env={})
    assert sleeper._over_budget(mem, facts) == frozenset()


def test_archived_facts_return_newest_first_while_the_budget_has_room(tmp_path) -> None:
    import dataclasses

    from sleepmem.engine.config import load_config
    from sleepmem.engine.facts import ARCHIVED, explicit
    from sleepmem.engine.sleep import Consolidation
    from sleepmem.engine.store import MemoryStore

    def archived(question: str, answer: str, told: float):
        return dataclasses.replace(explicit(question, answer), status=ARCHIVED, created_at=told)

    mem = MemoryStore(tmp_path).user("ana", "smollm2-test")
    home = explicit("Where do I live?", "Oslo")  # active
    lima = archived("Where do I live?", "Lima", 1.0)  # its slot taken since
    rex, fido = (
        archived("What is my dog called?", "Rex", 2.0),
        archived("What is my dog called?", "Fido", 3.0),
    )  # Fido was told later: Rex is out of date
    cat = archived("What is my cat called?", "Tom", 4.0)
    mem.commit(add_facts=[lima, rex, fido, cat])
    sleeper = Consolidation.__new__(Consolidation)
    for budget, back in [(1, []), (2, [cat]), (3, [cat, fido]), (10, [cat, fido])]:
        sleeper.config = load_config(overrides={"max_facts": budget}, discover=False, env={})
        restore, stale = sleeper._restorable(mem, [home])
        assert [f.id for f in restore] == [f.id for f in back]
        assert stale == {lima.id, rex.id}


class _Asked:
    """Stands in for the model's answers: which facts pass under the repaired edit, and
    which facts each audit was asked about."""

    def __init__(self, passing: set[int]) -> None:
        self.passing, self.asked = passing, []

    def __call__(self, _user, facts, _factors) -> Audit:
        numbers = [int(f.answer.split()[-1]) for f in facts]
        self.asked.append(numbers)
        return Audit(held_out=[n in self.passing for n in numbers], plain=[T] * len(facts))


def test_a_repair_is_asked_about_its_own_facts_first_and_the_rest_only_if_it_won() -> None:
    from sleepmem.engine.facts import explicit
    from sleepmem.engine.sleep import Consolidation

    facts = [explicit(f"What is thing {i}?", f"answer {i}") for i in range(5)]
    after = Audit(held_out=[T, F, T, F, T], plain=[T] * 5)
    failing = frozenset({facts[1].id, facts[3].id})
    repaired = SimpleNamespace(factors=None)  # the edit the stand-in answers for
    sleeper = Consolidation.__new__(Consolidation)
    sleeper.audit = _Asked(passing={0, 2, 4})  # the repair wins neither back
    assert sleeper._audit_repair("ana", facts, failing, repaired, after) is None
    assert sleeper.audit.asked == [[1, 3]]
    sleeper.audit = _Asked(passing={0, 3, 4})  # wins fact 3, loses fact 2
    whole = sleeper._audit_repair("ana", facts, failing, repaired, after)
    assert sleeper.audit.asked == [[1, 3], [0, 2, 4]]  # each fact asked once
    assert whole == Audit(held_out=[T, F, F, T, T], plain=[T] * 5)
