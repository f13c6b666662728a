"""Conversation contexts and question wordings the editor writes facts under (no model)."""

from __future__ import annotations

import numpy as np
from sleepmem.engine import contexts, wordings
from sleepmem.engine.backends.base import EditPrompt, attention_allowed, target_tokens


def test_family_starts_with_the_default_chat_and_covers_every_kind():
    fam = contexts.family("home|bergen", 5)
    assert fam[0] == contexts.DEFAULT
    assert [c.kind for c in fam] == list(contexts.KINDS)
    persona = fam[2].messages
    assert persona[0]["role"] == "system" and len(persona[0]["content"].split()) > 40
    talk = fam[3].messages
    assert [m["role"] for m in talk][:2] == ["user", "assistant"]


def test_family_is_deterministic_and_differs_between_facts():
    assert contexts.family("a|1", 7) == contexts.family("a|1", 7)
    draws = {contexts.family(f"slot{i}|x", 3)[2].key for i in range(20)}
    assert len(draws) > 3  # different facts see different personas


def test_longer_families_add_new_draws_without_repeats():
    fam = contexts.family("pet|rex", 9)
    assert len(fam) == 9
    assert len({c.key for c in fam}) == 9


def test_held_out_contexts_are_never_in_the_trained_family():
    for seed in ("home|bergen", "name|ilse", "job|nurse"):
        trained = {c.key for c in contexts.family(seed, 5)}
        held = contexts.held_out(seed, 3, 5)
        assert len(held) == 3
        assert all(c.key not in trained for c in held)
        assert all(c.kind != "default" for c in held)


def test_around_puts_the_question_last():
    ctx = contexts.make("small_talk", "x")
    conv = ctx.around("Where do I live?")
    assert conv[-1] == {"role": "user", "content": "Where do I live?"}
    assert conv[:-1] == list(ctx.messages)


def test_embedded_clauses_of_common_question_shapes():
    assert wordings.embedded("Where do I live?") == "where I live"
    assert wordings.embedded("What is my dog called?") == "what my dog is called"
    assert wordings.embedded("Who is my favourite author?") == "who my favourite author is"
    assert wordings.embedded("How old am I?") == "how old I am"
    assert wordings.embedded("What does my sister do?") == "what my sister does"
    assert wordings.embedded("Did I tell you?") is None


def test_embedded_clauses_keep_a_named_or_possessive_subject_whole():
    assert wordings.embedded("Where does my friend Aria live?") == "where my friend Aria lives"
    assert (
        wordings.embedded("What does my sister's husband do for work?")
        == "what my sister's husband does for work"
    )
    assert wordings.embedded("where do i live?") == "where i live"


def test_variants_keep_the_question_and_add_typed_forms():
    out = wordings.variants("What is my name?")
    assert "What's my name?" in out
    assert "Do you remember what my name is?" in out
    assert "what is my name" in out
    assert "What is my name?" not in out


def test_wordings_put_given_questions_first_and_dedupe():
    got = wordings.wordings(["Where do I live?", "where do I live?", "Which city is home?"], 5)
    assert got[:2] == ["Where do I live?", "Which city is home?"]
    assert len(got) == 5 and len({g.casefold() for g in got}) == 5


def test_target_layout_aligns_every_key_in_one_column():
    prompts = [EditPrompt("a", 1, "X", 0), EditPrompt("b", 4, "YZ", 1)]
    ids = [[1, 2, 3], [1, 2, 3, 4, 5, 6]]
    layout = target_tokens(prompts, ids, lambda t: [90] if t == "X" else [91, 92], pad_id=0)
    assert layout.key_col == 4 and layout.offsets == [3, 0]
    assert layout.sequences[0] == [0, 0, 0, 1, 2, 3, 90, 0]
    assert layout.sequences[1] == [1, 2, 3, 4, 5, 6, 91, 92]
    assert layout.valid[0].tolist() == [False] * 3 + [True] * 4 + [False]
    # logits at the token before each target token predict it
    for row, col, tok in zip(layout.rows, layout.cols, layout.ids):
        assert layout.sequences[row][col + 1] == tok


def test_attention_hides_pads_but_lets_each_token_see_itself():
    valid = np.array([[False, True, True], [True, True, True]])
    allowed = attention_allowed(valid, 0)
    assert allowed[0].tolist() == [[True, False, False], [False, True, False], [False, True, True]]
    assert allowed[1].tolist() == [[True, False, False], [True, True, False], [True, True, True]]
    assert attention_allowed(valid, 2).shape == (2, 1, 3)
