"""Constrained decoding: the record-list grammar, the decoder's choice of tokens, and the
real model under it on both backends (every reply is valid JSON of the fact shape)."""

from __future__ import annotations

import json

import numpy as np
import pytest
from sleepmem.engine.constrained import ConstrainedDecoder, RecordList, model_chat
from sleepmem.engine.hooks import ExtractContext
from sleepmem.plugin.builtins import model_extractor

KEYS = ("subject", "relation", "object")


def grammar(**kw: int) -> RecordList:
    return RecordList(KEYS, **kw)


def test_grammar_takes_a_list_laid_out_any_way_and_knows_when_it_is_done() -> None:
    for doc in (
        "[]",
        " [ ]",
        '[{"subject": "I", "relation": "lives in", "object": "Porto"}]',
        '[\n  {"subject":"my dog","relation":"name","object":"Rex \\"the\\" dog"},\n'
        '  {"subject": "I", "relation": "likes", "object": "caf\u00e9s \U0001f600"}\n]',
    ):
        g = grammar()
        assert g.accepts(doc), doc
        g.feed(doc)
        assert g.finished
        assert json.loads(g.closed()) is not None


@pytest.mark.parametrize(
    "doc",
    [
        'Sure! [{"subject": "I"',  # prose before the list
        '[{"object": "Porto"',  # keys out of order
        '[{"subject": "I", "relation": "x", "object": "y", "extra": "z"}]',  # a key too many
        '[{"subject": "", ',  # empty value
        '[{"subject": "a\nb"',  # raw control character in a string
        '[{"subject": "\\q"',  # unknown escape
        '[{"subject": 3',  # not a string
        "[]]",  # anything after the end
        "[{}]",  # a record without its keys
    ],
)
def test_grammar_refuses_what_is_not_a_fact_list(doc: str) -> None:
    assert not grammar().accepts(doc)


def test_grammar_bounds_items_values_and_whitespace() -> None:
    one = '{"subject": "I", "relation": "r", "object": "o"}'
    g = grammar(max_items=2)
    assert g.accepts(f"[{one}, {one}]")
    assert not g.accepts(f"[{one}, {one}, ")
    g = grammar(max_value_chars=5)
    assert g.accepts('[{"subject": "abcde"')
    assert not g.accepts('[{"subject": "abcdef')
    g = grammar(max_spaces=3)
    assert g.accepts("[   ]")
    assert not g.accepts("[    ]")


def test_an_unfinished_document_closes_after_its_last_complete_record() -> None:
    g = grammar()
    assert g.closed() == "[]"
    g.feed('[{"subject": "I", "relation": "lives in", "object": "Porto"}, {"subject": "my d')
    assert json.loads(g.closed()) == [{"subject": "I", "relation": "lives in", "object": "Porto"}]
    assert not g.finished


# A toy byte-level vocabulary: each id is a byte string, decoding joins them as UTF-8 the way
# byte-level BPE tokenizers do (a split character decodes to U+FFFD until it is whole).
VOCAB = [
    b"Sure\n",  # never valid: prose outside a string, a raw newline inside one
    b"[",
    b'[{"',
    b"subject",
    b'":',
    b' "',
    b"I",
    b'",',
    b' "relation',
    b"lives in",
    b'object": "',
    b"Porto",
    b'"}',
    b"]",
    b"\xc3",
    b"\xa9",
    b"<eos>",
]


def toy_decode(ids: list[int]) -> str:
    return b"".join(VOCAB[i] for i in ids if VOCAB[i] != b"<eos>").decode("utf-8", "replace")


SCRIPT = [2, 3, 4, 5, 6, 7, 8, 4, 5, 9, 7, 5, 10, 11, 12, 13]  # the fact list, token by token


def run_decoder(script: list[int], steps: int = 40) -> tuple[ConstrainedDecoder, list[int]]:
    """Decode with a "model" that at every step most wants to write prose ("Sure") or end
    the text, and ranks the next token of ``script`` third."""
    decoder = ConstrainedDecoder(grammar(), toy_decode)
    out: list[int] = []
    for step in range(steps):
        logits = np.full(len(VOCAB), -10.0, dtype=np.float32)
        logits[0], logits[16] = 10.0, 9.0
        if step < len(script):
            logits[script[step]] = 8.0
        token = decoder.choose(logits)
        if token is None:
            break
        out.append(token)
    return decoder, out


def test_decoder_takes_the_best_token_the_grammar_allows() -> None:
    decoder, out = run_decoder(SCRIPT)
    assert out == SCRIPT  # "Sure" and the end of text refused every time
    doc = decoder.result()
    assert doc == toy_decode(out)
    assert json.loads(doc) == [{"subject": "I", "relation": "lives in", "object": "Porto"}]
    assert decoder.constraint.finished
    assert decoder.choose(np.zeros(len(VOCAB), dtype=np.float32)) is None  # done: stop


def test_decoder_holds_a_split_character_until_it_is_whole() -> None:
    decoder = ConstrainedDecoder(grammar(), toy_decode)
    decoder.constraint.feed('[{"subject": "caf')
    decoder.produced = []  # the fed text stands for earlier tokens
    logits = np.zeros(len(VOCAB), dtype=np.float32)
    logits[14] = 5.0  # first byte of "é": valid inside a string, held back from the grammar
    assert decoder.choose(logits) == 14
    assert decoder.constraint.text.endswith("caf")
    logits = np.zeros(len(VOCAB), dtype=np.float32)
    logits[15] = 5.0
    assert decoder.choose(logits) == 15
    assert decoder.constraint.text.endswith("caf\u00e9")


def test_decoder_closes_the_document_when_tokens_run_out() -> None:
    decoder, out = run_decoder(SCRIPT, steps=6)
    assert len(out) == 6
    assert decoder.result() == "[]"  # no record was complete yet


# ------------------------------------------------------------------------ the real model
MESSAGES = (
    "hey! im Tomasz, I fix bikes for a living in Gdansk and my cat is called Pierogi",
    "What's a good recipe for pancakes?",
    "honestly I'm terrified of heights, so no ferris wheel for me",
)


@pytest.mark.parametrize("which", ["torch", "mlx"])
def test_real_model_replies_are_always_valid_fact_lists(which: str, request) -> None:
    backend = request.getfixturevalue("backend" if which == "torch" else "mlx_backend")
    chat = model_chat(backend, max_new_tokens=120)
    for message in MESSAGES:
        reply = chat(
            model_extractor.build_messages(message), constraint=model_extractor.constraint()
        )
        items = json.loads(reply)  # valid JSON by construction, whatever the model wanted
        assert isinstance(items, list)
        for item in items:
            assert list(item) == list(model_extractor.KEYS)
            assert all(isinstance(v, str) and v for v in item.values())
        # and what the extractor keeps of it was said in the message
        for fact in model_extractor.extract(message, ExtractContext(chat=chat)):
            assert fact.answer.casefold() in message.casefold()


def test_constrained_decoding_is_the_argmax_wherever_the_argmax_is_valid(backend) -> None:
    """Where the model's own greedy reply is already a valid fact list, decoding under the
    grammar changes no token of it (measured: the model answers these two messages with
    well-formed JSON on its own)."""
    chat = model_chat(backend, max_new_tokens=120)
    for message in (MESSAGES[0], MESSAGES[1]):
        messages = model_extractor.build_messages(message)
        free = chat(messages)
        constrained = chat(messages, constraint=model_extractor.constraint())
        assert constrained == free.strip()
        json.loads(constrained)
