"""`bench soak` on the real server and model, briefly: it runs, and its audit can fail."""

from __future__ import annotations

from sleepmem.adapters.server import soak
from sleepmem.engine.service import MemoryService


def test_a_short_soak_loses_nothing_and_its_audit_sees_a_loss(engine_factory, tmp_path):
    service = MemoryService(engine_factory(tmp_path / "home"))
    report = soak.run_soak(service, minutes=0.5, users=3, seed=1)
    assert report["requests"] > 10 and report["failed_requests"] == 0, report["failures"]
    ledgers = report["ledgers"]
    assert ledgers["exact"], ledgers
    assert ledgers["facts_acknowledged"] > 0
    assert set(report["latency"]) <= {"tell", "talk", "ask", "list", "forget", "sleep"}
    assert report["rss_mb"]["samples"]

    # The audit is not a formality: a fact acknowledged but stored nowhere is reported lost.
    ghost = soak.SimUser("soak-0", soak.user_facts(0))
    ghost.told["Atlantis"] = "I live in Atlantis."
    audit = soak.audit_ledgers(service, [ghost])
    assert audit["lost"] == [{"user": "soak-0", "answer": "Atlantis"}] and not audit["exact"]
