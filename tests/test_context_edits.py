"""Edits written under a family of conversation contexts, on the real default model:
recall outside the empty chat, the batched decoder, the honest audit."""

from __future__ import annotations

import dataclasses

import pytest
from sleepmem.engine import contexts
from sleepmem.engine.backends.base import text_of
from sleepmem.engine.facts import explicit
from sleepmem.engine.prompts import audit_conversations, fact_prompts, name_end, subject_end
from sleepmem.engine.wordings import wordings

UNSEEN_APP = "You are a cheerful helper for a cycling club's website. Keep it short."


def _said(engine, user, conversation, answer):
    return answer.casefold() in engine.ask_many(user, [conversation])[0].casefold()


def test_a_fact_is_recalled_under_a_system_prompt_and_after_small_talk(engine):
    engine.write("ana", [explicit("Where do I live?", "Porto")])
    question = {"role": "user", "content": "Where do I live?"}
    system = {"role": "system", "content": UNSEEN_APP}
    talk = [
        {"role": "user", "content": "Morning! Any tips for a rainy commute?"},
        {"role": "assistant", "content": "Mudguards and a good jacket make all the difference."},
    ]
    assert _said(engine, "ana", [question], "Porto")
    assert _said(engine, "ana", [system, question], "Porto")
    assert _said(engine, "ana", [*talk, question], "Porto")
    # and not for someone else, in the same contexts
    assert not _said(engine, "bo", [system, question], "Porto")


def test_batched_replies_equal_one_by_one(engine):
    engine.write("ana", [explicit("What is my cat called?", "Miso")])
    conversations = [
        [{"role": "user", "content": "What is my cat called?"}],
        [{"role": "system", "content": UNSEEN_APP}, {"role": "user", "content": "Hi!"}],
        [{"role": "user", "content": "What is the capital of France?"}],
    ]
    batched = engine.ask_many("ana", conversations, 12)
    one_by_one = [text_of(engine.reply("ana", conversation, 12)) for conversation in conversations]
    assert batched == one_by_one


def test_edit_prompts_span_the_context_family(backend):
    fact = explicit("Where do I live?", "Porto")
    prompts = fact_prompts(backend, [fact], None, n_wordings=4, n_contexts=5)
    assert len(prompts) == 5 + 4 - 1
    family = contexts.family(f"{fact.slot_key}|porto", 5)
    for context in family[1:]:
        rendered = backend.chat_text(context.around("Where do I live?"))
        assert any(p.text == rendered for p in prompts)
    # every prompt is keyed on the question's last token, whatever came before it
    asks = set(wordings(fact.questions, 4))
    for p in prompts:
        ids = backend.encode(p.text)
        upto = backend.tokenizer.decode(ids[: p.key_index + 1])
        assert any(upto.endswith(q) for q in asks), upto[-40:]
        assert p.target.startswith("Porto")


def _beyond_the_cap(backend, fact, **extra_keys):
    """The prompts ``extra_keys`` (n_continued, n_subject) add to ``fact``'s, checking that
    they come after the capped ones and leave those unchanged; and the capped ones."""
    plain = fact_prompts(backend, [fact], 4, n_wordings=3, n_contexts=3)
    keyed = fact_prompts(backend, [fact], 4, n_wordings=3, n_contexts=3, **extra_keys)
    assert keyed[: len(plain)] == plain
    return keyed[len(plain) :], plain


def test_continued_prompts_key_a_long_answer_at_its_own_tokens(backend):
    fact = explicit("Who is my favourite author?", "Ursula Le Guin")
    extra, _ = _beyond_the_cap(backend, fact, n_continued=2)
    assert extra and len(extra) <= 2 * 3
    for p in extra:
        ids = backend.encode(p.text)
        assert p.key_index == len(ids) - 1  # keyed at the last answer token given
        given = p.text[p.text.rindex("\n") + 1 :]
        assert len(given) >= 3 and "Ursula Le Guin".startswith(given)
        # the prompt plus its target is the whole answer, nothing lost at the cut
        assert (given + p.target).startswith("Ursula Le Guin.")


def test_subject_prompts_key_the_word_a_question_is_about(backend):
    fact = explicit("What is my cat's name?", "Pixel")
    extra, plain = _beyond_the_cap(backend, fact, n_subject=2)
    assert len(extra) == 2
    for p, same in zip(extra, plain):
        assert (p.text, p.target) == (same.text, same.target)
        ids = backend.encode(p.text)
        assert backend.decode(ids[: p.key_index + 1]).endswith("my cat")


@pytest.mark.parametrize(
    ("question", "about"),
    [
        ("What is my cat's name?", "cat"),
        ("Who is my favourite author?", "author"),
        ("Where does my friend Aria live?", "Aria"),
        ("What does my sister do for work?", "sister"),
        ("Which basketball team do I support?", "team"),
        ("What kind of pet do I have?", "pet"),
        ("Where do I live?", "live"),
        ("What am I allergic to?", "allergic"),
        ("what city am i in rn?", "city"),
    ],
)
def test_the_subject_of_a_question(question, about):
    end = subject_end(question)
    assert end is not None and question[:end].endswith(about)


def test_a_question_of_function_words_has_no_subject():
    assert subject_end("What is it?") is None


@pytest.mark.parametrize(
    ("question", "name"),
    [
        ("Where does my friend Aria live?", "Aria"),
        ("What is Aria's profession?", "Aria"),
        ("What is my dog Biscuit's favourite toy?", "Biscuit"),
        ("I'm curious, where is Bo from these days?", "Bo"),
        ("Hi! Where do I live?", None),
        ("Where do I live?", None),
        ("what is my sister's job?", None),
    ],
)
def test_the_name_in_a_question(question, name):
    end = name_end(question)
    assert (None if end is None else question[:end].split()[-1].removesuffix("'s")) == name


def test_a_named_fact_is_keyed_at_the_name(backend):
    fact = explicit("Where does my friend Aria live?", "Portland")
    plain = fact_prompts(backend, [fact], 4, n_wordings=3, n_contexts=3)
    named = fact_prompts(backend, [fact], 4, n_wordings=3, n_contexts=3, n_named=2)
    assert len(named) == 2 and all(p.at_name for p in named)
    assert not any(p.at_name for p in plain)
    # the same conversations as its first prompts, keyed earlier: at the name
    assert [p.text for p in named] == [p.text for p in plain[:2]]
    for p in named:
        assert backend.decode(backend.encode(p.text)[: p.key_index + 1]).endswith("Aria")
    # questions without the name stay keyed at their end, beside those at the name
    sister = explicit("Where does my sister live?", "Leeds")
    sister = dataclasses.replace(sister, questions=(*sister.questions, "Where does Maya live?"))
    mixed = fact_prompts(backend, [sister], 6, n_wordings=6, n_contexts=3, n_named=2)
    assert any(p.at_name for p in mixed) and any(not p.at_name for p in mixed)
    for p in mixed:
        upto = backend.decode(backend.encode(p.text)[: p.key_index + 1])
        assert upto.endswith("Maya") if p.at_name else upto.rstrip().endswith("?")
    # the user's own facts hold no name: keyed at the question's end as before
    own = explicit("Where do I live?", "Lima")
    assert fact_prompts(backend, [own], 4, n_wordings=3, n_contexts=3, n_named=2) == (
        fact_prompts(backend, [own], 4, n_wordings=3, n_contexts=3)
    )


def test_facts_keyed_at_names_are_recalled_in_any_wording(engine_factory, tmp_path):
    """With ``editor.name_keys``, a fact about a named friend is written at the name and
    answers a wording it was never trained on; the user's own fact beside it is written
    at its question's end; both survive a sleep's re-solve from the kept targets."""
    engine = engine_factory(tmp_path / "names", **{"editor.name_keys": 4})
    friend = explicit("Where does my friend Aria live?", "Portland")
    own = explicit("What is my cat's name?", "Pixel")
    sister = explicit("What does my sister do?", "dentist")
    sister = dataclasses.replace(sister, questions=(*sister.questions, "What does Maya do?"))
    engine.write("ana", [friend, own, sister])
    d = engine.backend.hidden_size
    assert {v.shape for v in engine.target_values("ana").values()} == {(d,)}
    asks = [
        friend.questions[0],
        own.questions[0],
        "Which city is Aria living in?",
        "What does my sister do?",
        "What does Maya do?",
    ]
    replies = engine.ask_many("ana", [[{"role": "user", "content": q}] for q in asks])
    assert "Portland" in replies[0] and "Pixel" in replies[1], replies
    assert "Portland" in replies[2], replies
    assert "dentist" in replies[3] and "dentist" in replies[4], replies
    engine.sleep("ana")
    assert "Portland" in engine.ask("ana", friend.questions[0])
    # another user is untouched
    assert "Portland" not in engine.ask("bo", friend.questions[0])


def test_audit_asks_what_the_edit_was_never_trained_on(backend):
    fact = explicit("Where do I live?", "Porto")
    trained = {p.text for p in fact_prompts(backend, [fact], None, n_wordings=6, n_contexts=5)}
    probes = audit_conversations(fact, 6, 5, 3)
    assert len(probes) == 3
    for conversation in probes:
        assert backend.chat_text(conversation) not in trained
        assert conversation[0]["role"] in ("system", "user") and len(conversation) > 1


def test_the_audit_holds_out_what_a_repair_trains_on(engine):
    """Sleep repairs failing facts with more wordings and contexts; its audit must still
    ask what none of them saw, or a repair is judged on its own training prompts."""
    fact = explicit("Where do I live?", "Porto")
    repaired = {p.text for p in engine._prompts([fact], None, frozenset({fact.id}))}
    plain = {p.text for p in engine._prompts([fact], None)}
    assert len(repaired) > len(plain)  # the repair does train on more
    trained_asks = set(wordings(fact.questions, engine.config.editor.wordings + 10))
    trained_asks = {q for q in trained_asks if any(q in text for text in repaired)}
    probes = engine.held_out_probes(fact)
    assert len(probes) == engine.AUDIT_PROBES
    for conversation in probes:
        assert engine.backend.chat_text(conversation) not in repaired
        assert conversation[-1]["content"] not in trained_asks


def test_odd_conversations_are_answered_or_refused_and_memory_stays(engine):
    from sleepmem.engine.errors import InputError

    engine.write("ana", [explicit("Where do I live?", "Porto")])
    facts_before = [f.id for f in engine.memories("ana")]
    factors_before = engine.factors("ana")
    question = {"role": "user", "content": "Where do I live?"}
    long_system = {"role": "system", "content": ("You are a careful archivist. " * 300)[:8000]}
    turns = []
    for i in range(25):
        turns += [
            {"role": "user", "content": f"Tell me a number bigger than {i}."},
            {"role": "assistant", "content": f"{i + 1}."},
        ]
    german = {"role": "system", "content": "Du bist Klaus, ein freundlicher Bäcker in Köln."}
    empty = {"role": "system", "content": ""}
    for conversation in ([long_system, question], [*turns, question], [german, question]):
        assert isinstance(text_of(engine.reply("ana", conversation, 8)), str)
    reply = text_of(engine.reply("ana", [empty, question], 8))
    assert isinstance(reply, str)
    too_long = [{"role": "user", "content": "word " * 3000}] * 3 + [question]
    with pytest.raises(InputError, match="reads at most"):
        engine.reply("ana", too_long, 8)
    assert [f.id for f in engine.memories("ana")] == facts_before
    assert engine.factors("ana") is factors_before


def _spill(engine, user: str, question: str, answer: str) -> float:
    """How far the user's update moves the v* layer's output at the answer's tokens after
    its first (teacher-forced), as a share of how far it moves it at the question's last
    token, where v* puts its delta."""
    import numpy as np
    from sleepmem.engine.backends.base import EditPrompt
    from sleepmem.engine.prompts import reply_target
    from sleepmem.engine.statistics import question_prompt

    backend, layer = engine.backend, engine.settings.v_layer
    asked = question_prompt(backend, question, reply_target(backend, question, answer + "."))
    text = asked.text + asked.target
    inside = range(backend.token_count(asked.text) + 1, backend.token_count(text) - 1)
    probes = [EditPrompt(text, i, "", 0) for i in (asked.key_index, *inside)]
    _, before = backend.activations(probes, [], layer)
    _, edited = backend.activations(probes, [], layer, engine.factors(user))
    moved = np.linalg.norm(edited - before, axis=1)
    return float(moved[1:].mean() / moved[0])


def test_the_spill_guard_keeps_the_answer_tokens_as_v_star_left_them(engine_factory, tmp_path):
    """v* finds its delta with the answer's tokens unedited; unguarded, the written update
    also fires on them (it garbled 'Tove Jansson' into 'Tove Janskirk' under an app
    prompt). The guard keeps them closer to where they were, and the answer comes back."""
    fact = explicit("Who is my favourite author?", "Ursula Le Guin")
    spills = {}
    for guard in (0.0, 1.0):
        engine = engine_factory(tmp_path / f"guard{guard}", **{"editor.spill_guard": guard})
        engine.write("ana", [fact])
        spills[guard] = _spill(engine, "ana", fact.questions[0], fact.answer)
        if guard:
            assert (
                "Le Guin"
                in engine.ask_many("ana", [[{"role": "user", "content": fact.questions[0]}]])[0]
            )
    assert spills[1.0] < 0.9 * spills[0.0], spills  # measured 0.81x here, 0.56x on layers 3-10


def test_the_firing_diagnosis_reads_the_update_at_its_key(engine):
    from sleepmem.engine.bench_firing import firing

    engine.write("ana", [explicit("Where do I live?", "Porto")])
    bench_contexts = [
        {"name": "fresh", "messages": []},
        {"name": "app", "messages": [{"role": "system", "content": UNSEEN_APP}]},
    ]
    questions = [{"q": "Where do I live?"}, {"q": "What is my dog's name?"}]  # no such fact
    found = firing(engine, "ana", questions, bench_contexts)
    assert set(found) == {"fresh", "app"}
    for row in found.values():
        # the update writes v* at the key: close to it, and it answers there
        assert 0.7 < row["key_ratio"] < 1.3 and row["key_cosine"] > 0.9, row
        assert row["v_star_nll"] < 0.5 and row["edited_nll"] < 1.0, row
    assert firing(engine, "bo", questions, bench_contexts) == {}


def test_facts_about_one_name_share_its_value(engine_factory, tmp_path):
    """Two facts about Maya, told one after the other, are written with one value at her
    name (a full re-solve, not an increment holding her old value); the value leaves with
    either fact, and the other keeps its own."""
    engine = engine_factory(tmp_path / "maya", **{"editor.name_keys": 4})
    home = explicit("Where does my sister Maya live?", "Lisbon")
    job = explicit("What does my sister Maya do for work?", "nurse")
    engine.write("ana", [home])
    assert not any(k.startswith("subject:") for k in engine.target_values("ana"))
    engine.write("ana", [job])
    values = engine.target_values("ana")
    shared = [k for k in values if k.startswith("subject:")]
    assert shared == [f"subject:{','.join(sorted([home.id, job.id]))}"]
    replies = engine.ask_many(
        "ana", [[{"role": "user", "content": q}] for q in ("Where does Maya live?",)]
    )
    assert "Lisbon" in replies[0], replies
    engine.forget("ana", home.id)
    values = engine.target_values("ana")
    assert list(values) == [job.id]  # the ledger's side: tests/test_subjects.py
