"""The engine end to end on the real default model: edit, recall, forget, isolation,
persistence, crash recovery, corrections, bad input. No part of the editor is mocked."""

from __future__ import annotations

import numpy as np
import pytest
from sleepmem.engine import store as store_mod
from sleepmem.engine.errors import EditError, InputError, StoreError, UnknownFact
from sleepmem.engine.facts import ACTIVE, ARCHIVED, FORGOTTEN, SUPERSEDED


def _knows(engine, user: str, question: str, answer: str) -> bool:
    return answer.casefold() in engine.ask(user, question).casefold()


def test_told_fact_is_answered_in_a_fresh_chat_and_only_for_that_user(engine):
    assert not _knows(engine, "ana", "Where do I live?", "Porto")
    report = engine.observe("ana", "I live in Porto, in the north of Portugal.")
    assert [f.answer for f in report.added] == ["Porto"]
    assert _knows(engine, "ana", "Where do I live?", "Porto")
    # another user, same model: no trace of ana's memory, nothing stored for them
    assert not _knows(engine, "bo", "Where do I live?", "Porto")
    assert engine.memories("bo") == []
    assert not engine.factors("bo")


def test_forget_removes_the_edit(engine):
    engine.observe("ana", "My dog is called Biscuit.")
    assert _knows(engine, "ana", "What is my dog's name?", "Biscuit")
    gone = engine.forget("ana", "Biscuit")
    assert [f.answer for f in gone] == ["Biscuit"]
    assert not _knows(engine, "ana", "What is my dog's name?", "Biscuit")
    mem = engine.memory("ana")
    assert mem.facts() == [] and mem.batches() == []
    assert mem.get(gone[0].id).status == FORGOTTEN


def test_correction_supersedes_and_removes_old_edit(engine):
    engine.observe("ana", "I live in Porto.")
    report = engine.observe("ana", "I moved to Lisbon last month.")
    assert [f.answer for f in report.added] == ["Lisbon"]
    assert [f.answer for f in report.superseded] == ["Porto"]
    reply = engine.ask("ana", "Where do I live?")
    assert "Lisbon" in reply and "Porto" not in reply
    mem = engine.memory("ana")
    old = report.superseded[0]
    assert mem.get(old.id).status == SUPERSEDED
    assert all(old.id not in b.fact_ids for b in mem.batches())


def test_memory_persists_across_restart(engine_factory, engine):
    engine.observe("chidi", "I have a parrot named Mango.")
    restarted = engine_factory(engine.home)  # new store, caches and engine on the same home
    assert "Mango" in [f.answer for f in restarted.memories("chidi")]
    assert _knows(restarted, "chidi", "What is my parrot's name?", "Mango")


def test_crash_between_ledger_and_delta_write_recovers(engine_factory, engine, monkeypatch):
    def crash(*args, **kwargs):
        raise OSError("simulated power cut")

    monkeypatch.setattr(store_mod, "write_delta_file", crash)
    with pytest.raises(StoreError):
        engine.observe("bo", "My cat is called Pixel.")
    monkeypatch.undo()
    restarted = engine_factory(engine.home)
    mem = restarted.memory("bo")
    assert [f.answer for f in mem.unwritten_facts()] == ["Pixel"]
    assert restarted.heal("bo") == 1
    assert mem.unwritten_facts() == []
    assert _knows(restarted, "bo", "What is my cat's name?", "Pixel")


def test_failed_edit_leaves_memory_exactly_as_before(engine, monkeypatch):
    engine.observe("ana", "I live in Porto.")
    mem = engine.memory("ana")
    facts_before = mem.facts()
    batches_before = mem.batches()

    def broken(*args, **kwargs):
        raise np.linalg.LinAlgError("singular matrix")

    monkeypatch.setattr("sleepmem.engine.writing.spread", broken)
    with pytest.raises(EditError):
        engine.observe("ana", "I work as a nurse.")
    assert mem.facts() == facts_before
    assert [b.id for b in mem.batches()] == [b.id for b in batches_before]
    monkeypatch.undo()
    assert _knows(engine, "ana", "Where do I live?", "Porto")


def test_chat_commands(engine):
    out = engine.command("ana", "/remember I am allergic to peanuts")
    assert "peanuts" in out
    assert "peanuts" in engine.command("ana", "/memories")
    with pytest.raises(UnknownFact):
        engine.command("ana", "/forget unicorns")
    with pytest.raises(InputError):
        engine.command("ana", "/remember")
    assert "Commands" in engine.command("ana", "/help")
    assert engine.command("ana", "no command here") is None
    assert "peanut" in engine.ask("ana", "What am I allergic to?").casefold()


def test_sleep_keeps_recall_and_reports(engine):
    for turn in ("I live in Tampere, Finland.", "My favourite colour is orange."):
        engine.observe("bo", turn)
    report = engine.sleep("bo")
    assert report.facts == 2
    if report.kept_new:  # new edits are kept only when neither audit count fell
        assert report.audit_after >= report.audit_before
        assert report.plain_after >= report.plain_before
    assert engine.memory("bo").last_sleep() is not None
    assert _knows(engine, "bo", "Where do I live?", "Tampere")
    assert _knows(engine, "bo", "What is my favourite colour?", "orange")


def test_sleep_archives_the_oldest_facts_beyond_the_budget(engine_factory, tmp_path, model_dir):
    """Over ``max_facts``, sleep sets the oldest facts aside: out of the weights, still
    listed, and still the user's to forget."""
    from conftest import link_models

    engine = engine_factory(link_models(tmp_path / "home", model_dir), max_facts=2)
    told = [
        ("I live in Tampere, Finland.", "Where do I live?", "Tampere"),
        ("My favourite colour is orange.", "What is my favourite colour?", "orange"),
        ("My dog is called Biscuit.", "What is my dog's name?", "Biscuit"),
    ]
    for turn, _, _ in told:
        engine.observe("bo", turn)
    assert _knows(engine, "bo", "Where do I live?", "Tampere")
    report = engine.sleep("bo")
    assert report.kept_new and report.facts == 2
    mem = engine.memory("bo")
    (archived,) = mem.facts(ARCHIVED)
    assert report.archived == [archived.id] and "Tampere" in archived.text
    assert "archived" in report.describe()
    listed = engine.command("bo", "/memories")
    assert listed.index("Biscuit") < listed.index("Set aside") < listed.index("Tampere")
    assert not _knows(engine, "bo", "Where do I live?", "Tampere")
    for _, question, answer in told[1:]:
        assert _knows(engine, "bo", question, answer)
    assert [f.id for f in engine.forget("bo", "Tampere")] == [archived.id]
    assert mem.get(archived.id).status == FORGOTTEN
    assert _knows(engine, "bo", "What is my dog's name?", "Biscuit")


def test_sleep_brings_archived_facts_back_when_the_budget_has_room(
    engine_factory, tmp_path, model_dir
):
    """Archived facts return, newest first, as far as ``max_facts`` has room; one whose
    question an active fact answers now is superseded instead, at sleep or at the write
    that takes its slot."""
    import dataclasses

    from conftest import link_models
    from sleepmem.engine.facts import explicit

    engine = engine_factory(link_models(tmp_path / "home", model_dir), max_facts=2)
    engine.write("cy", [explicit("Where do I live?", "Tampere")])
    mem = engine.memory("cy")
    # set aside by earlier sleeps (out of the weights): the oldest's slot is taken since
    old_home, dog, cat = (
        dataclasses.replace(explicit(q, a), status=ARCHIVED, created_at=1000.0 + i)
        for i, (q, a) in enumerate(
            [
                ("Where do I live?", "Lahti"),
                ("What is my dog's name?", "Biscuit"),
                ("What is my cat's name?", "Pixel"),
            ]
        )
    )
    mem.commit(add_facts=[old_home, dog, cat])
    assert not _knows(engine, "cy", "What is my cat's name?", "Pixel")
    report = engine.sleep("cy")
    assert report.kept_new and report.facts == 2 and report.restored == [cat.id]
    assert "brought back" in report.describe()
    assert [mem.get(f.id).status for f in (old_home, dog, cat)] == [SUPERSEDED, ARCHIVED, ACTIVE]
    assert _knows(engine, "cy", "What is my cat's name?", "Pixel")
    assert _knows(engine, "cy", "Where do I live?", "Tampere")
    # a new answer to the archived dog's question: the old one never comes back
    wrote = engine.write("cy", [explicit("What is my dog's name?", "Rex")])
    assert dog.id in {f.id for f in wrote.superseded}
    assert mem.get(dog.id).status == SUPERSEDED and mem.facts(ARCHIVED) == []


@pytest.mark.parametrize(
    "message",
    ["", "   ", "x" * 50_000],
)
def test_bad_messages_are_rejected_without_changes(engine, message):
    with pytest.raises(InputError):
        engine.observe("ana", message)
    assert engine.memories("ana") == []


def test_odd_text_and_unknown_users_are_harmless(engine):
    for text in ("Привет, меня зовут Аня.", "私は東京に住んでいます。", "🙂🙂🙂", "What is 2+2?"):
        assert engine.observe("zoe", text).added == []
    assert engine.memories("nobody-yet") == []
    with pytest.raises(InputError):
        engine.memories("")
    with pytest.raises(UnknownFact):
        engine.forget("nobody-yet", "anything")


def test_terminal_chat_remembers_across_a_new_conversation(engine):
    import io

    from sleepmem.adapters.terminal import run_chat

    lines = iter(["My favourite food is ramen.", "/new", "What is my favourite food?", "/quit"])
    out = io.StringIO()
    assert run_chat(engine, "ana", input_fn=lambda _prompt: next(lines), out=out) == 0
    text = out.getvalue()
    assert "(remembered: My favourite food is ramen.)" in text
    replies = [line for line in text.splitlines() if line.startswith("bot> ")]
    # the last reply comes from a fresh conversation holding only the question
    assert "ramen" in replies[-1].casefold()
    assert [f.answer for f in engine.memories("ana")] == ["ramen"]
