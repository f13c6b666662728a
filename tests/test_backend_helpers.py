"""The helpers every backend shares: where a prompt's key lies, second-moment and NLL
batches."""

from __future__ import annotations

import pytest
from sleepmem.engine.backends.base import (
    MOMENT_TOKENS,
    EditPrompt,
    key_column,
    moment_chunks,
    nll_chunks,
)


def _prompt(key_index: int) -> EditPrompt:
    return EditPrompt("text", key_index, " answer", 0)


def test_key_column_counts_a_negative_index_from_the_end():
    assert key_column(_prompt(-1), 7) == 6
    assert key_column(_prompt(-7), 7) == 0
    assert key_column(_prompt(3), 7) == 3


@pytest.mark.parametrize("index", [7, 12, -8])
def test_key_column_outside_the_text_is_an_error(index):
    with pytest.raises(ValueError, match="outside its text"):
        key_column(_prompt(index), 7)


def _chars(text: str) -> list[int]:
    return [ord(c) for c in text]


def test_moment_chunks_batch_texts_and_skip_those_with_nothing_to_count():
    texts = ["abcd", "ab", "", "abcdef", "xyz"]
    chunks = list(moment_chunks(texts, _chars, 2, [1, 2, 0, 5, 0]))
    # "ab" from token 2 and "" have no token left to count: their batches lose them
    assert chunks == [
        ([_chars("abcd")], [1]),
        ([_chars("abcdef")], [5]),
        ([_chars("xyz")], [0]),
    ]


def test_moment_chunks_count_from_the_start_without_starts_and_cut_long_texts():
    long = "a" * (MOMENT_TOKENS + 40)
    ((seqs, firsts),) = list(moment_chunks(["ab", long], _chars, 16, None))
    assert firsts == [0, 0]
    assert [len(s) for s in seqs] == [2, MOMENT_TOKENS]


def test_nll_chunks_batch_texts_and_count_from_each_start():
    def encode(text: str) -> list[int]:
        return [ord(c) for c in text]

    got = list(nll_chunks(["abc", "", "hello"], encode, 2, [2, 1, 0]))
    # shortest first, so a batch pads little; each text named by its index
    assert got == [([1, 0], [[], [97, 98, 99]], [0, 1]), ([2], [[104, 101, 108, 108, 111]], [0])]
    # without starts every text is counted from its second token (its first prediction)
    assert [firsts for _, _, firsts in nll_chunks(["ab", "cd"], encode, 4, None)] == [[0, 0]]
