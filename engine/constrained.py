"""Constrained greedy decoding: the model may only write text a small grammar accepts.

Why: a small chat model asked for JSON writes prose around it, forgets a quote, renames a
key or never closes the list, and every such reply used to be thrown away. Under a
constraint the reply is a valid document by construction: at each step the highest-scoring
token whose text keeps the output inside the grammar is taken (for greedy decoding that is
exactly the constrained argmax), and a reply cut off by the token limit is closed after its
last complete record.

The grammar here is the one extraction needs, a JSON list of flat records whose keys come
in a fixed order and whose values are short strings::

    [{"subject": "...", "relation": "...", "object": "..."}, ...]

Checking candidates in score order costs a few automaton runs per token in the usual case
(the model mostly wants a valid token already), so no per-vocabulary masks are built and
the same code serves every backend and tokenizer. Backends only hand over the logits of
each step (``generate(..., choose=...)``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Protocol

import numpy as np

__all__ = ["ConstrainedDecoder", "Constraint", "RecordList", "model_chat"]

WHITESPACE = " \t\n\r"
# Stands in for a character whose UTF-8 bytes are split across tokens: such a character
# can only be part of a string value, so it is checked as one non-ASCII letter.
PENDING_CHAR = "\u00e9"
TOP_FIRST = 64  # candidates tried first: the model nearly always ranks a valid token here
TOP_LAST = 4096  # candidates tried at most before the document is closed


class Constraint(Protocol):
    """What the decoder needs of a grammar: try text, take text, tell when it is complete,
    and close an unfinished document."""

    @property
    def finished(self) -> bool:
        """The document is complete; decoding stops."""
        ...

    def accepts(self, text: str) -> bool:
        """Would the output so far, followed by ``text``, still be a prefix of a document?"""
        ...

    def feed(self, text: str) -> None:
        """Append ``text`` (which ``accepts``) to the output."""
        ...

    def closed(self) -> str:
        """The output as a complete document (unfinished parts dropped or closed)."""
        ...


@dataclass
class _State:
    """Where the record-list automaton stands; small and copied for every candidate."""

    phase: str = "start"
    key: int = 0  # index of the key being read or whose value follows
    pos: int = 0  # characters of the current key, or of the current value, read so far
    items: int = 0  # complete records
    spaces: int = 0  # whitespace characters in a row outside strings
    escape: bool = False


@dataclass
class RecordList:
    """A JSON list of at most ``max_items`` records, each with exactly ``keys`` in this
    order and a string value of 1..``max_value_chars`` characters (no control characters;
    escapes allowed). Whitespace between tokens is free up to ``max_spaces`` in a row, so
    the model can lay the list out the way it was trained to."""

    keys: Sequence[str]
    max_items: int = 8
    max_value_chars: int = 80
    max_spaces: int = 8
    state: _State = field(default_factory=_State)
    text: str = ""
    last_record_end: int = -1  # offset just after the last complete record's "}"

    def __post_init__(self) -> None:
        if not self.keys:
            raise ValueError("a record needs at least one key")
        for key in self.keys:
            if not key or any(c in key for c in '"\\') or any(ord(c) < 32 for c in key):
                raise ValueError(f"unsupported key {key!r}")

    @property
    def finished(self) -> bool:
        return self.state.phase == "done"

    def accepts(self, text: str) -> bool:
        state = replace(self.state)
        return all(self._step(state, ch) for ch in text)

    def feed(self, text: str) -> None:
        for ch in text:
            if not self._step(self.state, ch):
                raise ValueError(f"text the grammar does not accept: {text!r}")
            self.text += ch
            if self.state.phase == "after_record" and self.text.endswith("}"):
                self.last_record_end = len(self.text)

    def closed(self) -> str:
        if self.finished:
            return self.text.strip()
        if self.last_record_end < 0:
            return "[]"
        return self.text[: self.last_record_end].strip() + "]"

    # ----------------------------------------------------------------------- automaton
    def _space(self, state: _State, ch: str) -> bool:
        if ch in WHITESPACE and state.spaces < self.max_spaces:
            state.spaces += 1
            return True
        return False

    def _to(self, state: _State, phase: str, **changes: int) -> bool:
        state.phase = phase
        state.spaces = 0
        for name, value in changes.items():
            setattr(state, name, value)
        return True

    def _step(self, s: _State, ch: str) -> bool:
        last = len(self.keys) - 1
        if s.phase == "value":
            return self._value_char(s, ch)
        if s.phase == "key":
            key = self.keys[s.key]
            if s.pos < len(key):
                if ch != key[s.pos]:
                    return False
                s.pos += 1
                return True
            return ch == '"' and self._to(s, "colon")
        if self._space(s, ch):
            return True
        if s.phase == "start":
            return ch == "[" and self._to(s, "list_open")
        if s.phase == "list_open":
            if ch == "]":
                return self._to(s, "done")
            return ch == "{" and self._to(s, "key_open", key=0)
        if s.phase == "list_next":
            return ch == "{" and self._to(s, "key_open", key=0)
        if s.phase == "key_open":
            return ch == '"' and self._to(s, "key", pos=0)
        if s.phase == "colon":
            return ch == ":" and self._to(s, "value_open")
        if s.phase == "value_open":
            return ch == '"' and self._to(s, "value", pos=0, escape=False)
        if s.phase == "after_value":
            if ch == "," and s.key < last:
                return self._to(s, "key_open", key=s.key + 1)
            return ch == "}" and s.key == last and self._to(s, "after_record", items=s.items + 1)
        if s.phase == "after_record":
            if ch == "]":
                return self._to(s, "done")
            return ch == "," and s.items < self.max_items and self._to(s, "list_next")
        return False  # done: nothing may follow

    def _value_char(self, s: _State, ch: str) -> bool:
        if ord(ch) < 32:
            return False
        if s.escape:
            s.escape = False
            if ch not in '"\\/bfnrt':  # \uXXXX is left out: a model never needs it here
                return False
            s.pos += 1
            return s.pos <= self.max_value_chars
        if ch == '"':
            return s.pos > 0 and self._to(s, "after_value")
        if ch == "\\":
            s.escape = True
            return True
        s.pos += 1
        return s.pos <= self.max_value_chars


class ConstrainedDecoder:
    """Picks each next token under ``constraint``: the best-scoring token whose text the
    grammar accepts. Use ``choose`` as the ``choose`` callback of a backend's ``generate``,
    then read ``result()``."""

    def __init__(self, constraint: Constraint, decode: Callable[[list[int]], str]) -> None:
        self.constraint = constraint
        self.decode = decode
        self.produced: list[int] = []
        self.committed = ""  # the text of ``produced`` the grammar has taken

    def choose(self, logits: np.ndarray) -> int | None:
        """The next token id, or None when the document is complete (or nothing fits)."""
        if self.constraint.finished:
            return None
        committed = self.committed
        scores = np.asarray(logits, dtype=np.float32).reshape(-1)
        for candidates in _ranked(scores):
            for token in candidates:
                full = self.decode([*self.produced, int(token)])
                if not full.startswith(committed):
                    continue  # the token rewrites earlier text (a tokenizer merge): skip
                visible = full.rstrip("\ufffd")
                new = visible[len(committed) :]
                probe = new + (PENDING_CHAR if len(visible) < len(full) else "")
                if probe and self.constraint.accepts(probe):
                    self.constraint.feed(new)
                    self.committed = visible
                    self.produced.append(int(token))
                    return int(token)
        return None

    def result(self) -> str:
        """The reply as a complete document of the grammar."""
        return self.constraint.closed()


def _ranked(scores: np.ndarray) -> Iterator[np.ndarray]:
    """Token ids best first: the top ``TOP_FIRST`` by a cheap partial sort, and only if
    none of them fits, the next ones up to ``TOP_LAST`` (a token the model ranks lower than
    that is not worth a scan of the whole vocabulary: the document is closed instead)."""
    n = scores.shape[0]
    for lo, hi in ((0, TOP_FIRST), (TOP_FIRST, TOP_LAST)):
        if lo >= n:
            return
        hi = min(hi, n)
        part = np.argpartition(-scores, hi - 1)[:hi] if hi < n else np.arange(n)
        part = part[np.argsort(-scores[part], kind="stable")]
        yield part[lo:hi]


def model_chat(backend: Any, max_new_tokens: int = 200) -> Callable[..., str]:
    """The base model (nobody's memory) answering OpenAI-style messages greedily, under a
    constraint when one is given: the ``ChatFn`` extractors receive."""

    def chat(messages: list[dict[str, str]], constraint: Constraint | None = None) -> str:
        prompt = backend.chat_text(messages)
        if constraint is None:
            return "".join(r.text for r in backend.generate(prompt, max_new_tokens, None))
        decoder = ConstrainedDecoder(constraint, backend.decode)
        for _ in backend.generate(prompt, max_new_tokens, None, choose=decoder.choose):
            pass
        return decoder.result()

    return chat
