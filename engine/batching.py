"""Chat replies of different users decoded together, one token of every reply per step.

On a small model a decode step costs about the same for one row as for eight: the time goes
into reading the weights, not into the arithmetic. So one thread runs every reply in flight
as the rows of one batch, each row with its own user's edits (the backend's ``rows()``). A
request that arrives while others decode joins at the next step: the prompts that arrived
since the last step are read together, then they decode with the rest. A finished, stopped
or abandoned reply leaves at once.

Callers get the same stream of ``GenerationResponse`` as ``Backend.generate`` gives, from
their own thread: the decode thread hands over token ids, and each caller turns its own
ids into text, so detokenising never holds up the batch.
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from .backends.base import Factors, GenerationResponse, token_pieces
from .backends.greedy import greedy_tokens
from .errors import SleepmemError

log = logging.getLogger(__name__)

_DONE = -1  # on a row's queue: the reply is complete (its finish reason is set)


class Rows(Protocol):
    """A backend's batch of decoding rows (``TorchRows``, ``MlxRows``)."""

    def __len__(self) -> int: ...

    def add(
        self, prompts: Sequence[tuple[Sequence[int], Factors | None]], prefix: Sequence[int] = ()
    ) -> Any:
        """Read new rows' prompts (token ids, their user's factors) in one pass and join
        them; (new rows, vocab) logits of their first reply token. ``prefix``: tokens all
        of them begin with, under one user's factors, given apart (read once where the
        backend can)."""

    def step(self, tokens: Sequence[int]) -> Any:
        """Feed each row its last token; (rows, vocab) logits."""

    def keep(self, rows: Sequence[int]) -> None:
        """Keep only these rows, in this order."""


@dataclass(eq=False)
class _Reply:
    ids: list[int]
    limit: int
    factors: Factors | None
    tokens: queue.SimpleQueue[int | BaseException] = field(default_factory=queue.SimpleQueue)
    produced: int = 0
    last: int = 0
    finish: str = "length"
    abandoned: bool = False


class Batcher:
    """One decode thread for every chat reply; ``max_rows`` replies at most in one batch."""

    def __init__(
        self,
        rows: Any,
        decode: Any,
        stop_ids: set[int],
        max_rows: int = 8,
    ) -> None:
        self._new_rows = rows  # () -> Rows
        self._decode = decode  # token ids -> text
        self._stop_ids = stop_ids
        self.max_rows = max(1, int(max_rows))
        self._waiting: list[_Reply] = []
        self._wake = threading.Condition()
        self._closed = False
        self._thread: threading.Thread | None = None
        self.widest = 0  # the most rows decoded in one step so far (for benchmarks)

    # ------------------------------------------------------------------ callers
    def generate(
        self, ids: Sequence[int], max_new_tokens: int, factors: Factors | None = None
    ) -> Iterator[GenerationResponse]:
        """Greedy reply to the prompt ``ids`` with ``factors`` live, streamed as
        ``Backend.generate`` streams it. Closing the iterator early abandons the reply."""
        prompt_tokens = len(ids)
        if not ids or max_new_tokens <= 0:
            yield GenerationResponse("", prompt_tokens, 0, "length")
            return
        reply = _Reply(list(ids), max_new_tokens, factors)
        with self._wake:
            if self._closed:
                raise SleepmemError("the reply batcher is shut down")
            self._waiting.append(reply)
            self._start()
            self._wake.notify()

        def tokens() -> Iterator[int]:
            while True:
                token = reply.tokens.get()
                if isinstance(token, BaseException):
                    raise token
                if token == _DONE:
                    return
                yield token

        try:
            count = yield from token_pieces(tokens(), self._decode, prompt_tokens)
        finally:
            reply.abandoned = True  # a no-op once done; otherwise the row leaves next step
        yield GenerationResponse("", prompt_tokens, count, reply.finish)

    def close(self) -> None:
        """Stop the decode thread; replies in flight end with an error."""
        with self._wake:
            self._closed = True
            self._wake.notify()
        if self._thread is not None:
            self._thread.join()

    # ------------------------------------------------------------------ decode thread
    def _start(self) -> None:
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="sleepmem-decode", daemon=True)
            self._thread.start()

    def _run(self) -> None:
        rows: Any = self._new_rows()
        running: list[_Reply] = []
        while True:
            with self._wake:
                while not self._waiting and not running and not self._closed:
                    self._wake.wait()
                if self._closed:
                    for reply in running + self._waiting:
                        reply.tokens.put(SleepmemError("the server is shutting down"))
                    return
                room = self.max_rows - len(running)
                joining, self._waiting = self._waiting[:room], self._waiting[room:]
            try:
                joining = [r for r in joining if not r.abandoned]
                if joining:
                    logits = rows.add([(r.ids, r.factors) for r in joining])
                    for reply, token in zip(joining, greedy_tokens(logits)):
                        self._take(reply, token)
                    running += joining
                if running:
                    self.widest = max(self.widest, len(running))
                    keep = [i for i, r in enumerate(running) if not self._ended(r)]
                    if len(keep) < len(running):
                        rows.keep(keep)
                        running = [running[i] for i in keep]
                if running:
                    logits = rows.step([r.last for r in running])
                    for reply, row in zip(running, greedy_tokens(logits)):
                        self._take(reply, row)
            except Exception as exc:  # every reply in the batch shares the failed step
                log.exception("batched decode step failed")
                for reply in running + [r for r in joining if r not in running]:
                    reply.tokens.put(exc)
                running = []
                rows = self._new_rows()

    def _take(self, reply: _Reply, token: int) -> None:
        """Record the token a step chose for ``reply`` and hand it to its caller."""
        if token in self._stop_ids:
            reply.finish = "stop"
            return
        reply.produced += 1
        reply.last = token
        reply.tokens.put(token)

    def _ended(self, reply: _Reply) -> bool:
        ended = reply.abandoned or reply.finish == "stop" or reply.produced >= reply.limit
        if ended and not reply.abandoned:
            reply.tokens.put(_DONE)
        return ended
