"""The engine: one base model serving every user, each with their own edits.

wake: every user message is scanned for facts; new facts are written on top of the user's
live edit (``kept_keys``: the cost does not grow with their memory) and are live for their
next message. A fact in the slot of an older one supersedes it, and the older fact's edit is
removed, not left beside the new one: that re-solves every fact from the base weights.
sleep (``sleep.Consolidation``, which Engine inherits): audit, re-solve, repair and keep the
better of old and new edits. Both write through ``writing.Writing`` (prompts, v*, the solve,
compaction, the store transaction), a base class of ``Consolidation``.
"""

from __future__ import annotations

import dataclasses
import logging
import threading
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from . import inbox, paths, statistics, subjects
from .backends.base import (
    Backend,
    Factors,
    GenerationResponse,
    VStarSettings,
    text_of,
)
from .batching import Batcher
from .commands import is_command, split_command
from .config import EngineConfig
from .constrained import model_chat
from .editor import (
    EditSettings,
)
from .errors import InputError, Interrupted, SleepmemError, UnknownFact
from .facts import ACTIVE, ARCHIVED, FORGOTTEN, SUPERSEDED, Fact, forget_matches, slot_writes
from .hooks import ExtractContext, Plugins
from .kept_keys import KeptKeys
from .reports import Turn, WakeReport
from .sleep import Consolidation
from .store import MemoryStore, UserMemory, validate_user_id
from .values import TargetValues, settings_key

log = logging.getLogger(__name__)


class Engine(Consolidation):
    """One loaded model and every user's memory on it.

    ``plugins`` is what the plugins registered (``hooks.Plugins``); the engine calls it
    for extraction, vetting, commands and notifications and never finds plugins itself,
    so the caller decides which exist (the plugin layer's ``registry.open_engine`` loads
    the configured ones and the backend).
    """

    def __init__(self, config: EngineConfig, backend: Backend, plugins: Plugins) -> None:
        self.config = config
        self.backend = backend
        self.plugins = plugins
        self.home = paths.home(config.home)
        self.store = MemoryStore(paths.users_dir(self.home))
        self._sleeping: set[str] = set()
        self._sleeping_lock = threading.Lock()
        self._stats: statistics.Statistics | None = None
        self._stats_lock = threading.Lock()
        self._user_locks: dict[str, threading.Lock] = {}
        self._locks_guard = threading.Lock()
        self._factor_cache: dict[str, Factors] = {}
        self._base_nll: dict[tuple[str, ...], tuple[float, int]] = {}
        self.replies = self._replies()
        ed = config.editor
        self._values = TargetValues(settings_key(backend.model_id, _vstar_settings(config)))
        self._kept = KeptKeys(settings_key(backend.model_id, dataclasses.asdict(ed)))
        bad = [layer for layer in ed.layers if layer >= backend.n_layers]
        if bad or ed.target_layer >= backend.n_layers:
            raise InputError(
                f"editor layers {bad or ed.target_layer} exceed the model's {backend.n_layers}"
            )
        self.settings = EditSettings(
            layers=tuple(sorted(ed.layers)),
            v_layer=ed.target_layer,
            vstar=VStarSettings(
                lr=ed.v_lr,
                steps=ed.v_steps,
                loss_stop=ed.v_loss_stop,
                clamp_factor=ed.clamp_factor,
                weight_decay=ed.weight_decay,
                precision=ed.v_precision,
            ),
            mom2_weight=ed.mom2_weight,
            nullspace=ed.nullspace,
            l2=ed.l2,
        )

    # ------------------------------------------------------------------ plumbing
    def _replies(self) -> Any:
        """What generates chat replies (``generation``): llama.cpp or a vLLM server with
        each user's memory as an adapter, or the backend's rows batched. A backend that
        cannot batch rows (a plugin's, say) gets None: each reply is generated on its own
        chat thread."""
        backend = self.backend
        if self.config.generation == "llamacpp":
            from .llamacpp_replies import LlamaCppReplies, gguf_base

            window = backend.context_length or 2048
            return LlamaCppReplies(
                gguf_base(self.config, self.home),
                backend.decode,
                backend.stop_ids,
                window,
                max_rank=self.config.generation_max_rank,
            )
        if self.config.generation == "vllm":
            from .vllm_replies import VllmReplies

            if not self.config.generation_url:
                raise InputError("generation: vllm needs generation_url (the vLLM server)")
            return VllmReplies(
                self.config.generation_url,
                self.config.generation_model or backend.model_id,
                Path(self.config.generation_adapters or self.home / "adapters"),
                base_model=backend.model_id,
                max_rank=self.config.generation_max_rank,
            )
        if callable(getattr(backend, "rows", None)):
            return Batcher(backend.rows, backend.decode, backend.stop_ids, self.config.reply_batch)
        return None

    def statistics(self, progress: bool = False) -> statistics.Statistics:
        with self._stats_lock:
            if self._stats is None:
                self._stats = statistics.load_or_compute(
                    self.backend,
                    self.settings.layers,
                    self.config.editor.stats_tokens,
                    paths.stats_dir(self.home),
                    progress=progress,
                )
            return self._stats

    def memory(self, user_id: str) -> UserMemory:
        return self.store.user(validate_user_id(user_id), self.backend.model_id)

    def _lock(self, user_id: str) -> threading.Lock:
        with self._locks_guard:
            return self._user_locks.setdefault(user_id, threading.Lock())

    def factors(self, user_id: str) -> Factors:
        """The user's live update: their one edit batch (empty if they have none)."""
        user_id = validate_user_id(user_id)
        cached = self._factor_cache.get(user_id)
        if cached is None:
            mem = self.memory(user_id)
            edit = mem.edit()
            if edit is None:
                cached = Factors()
            else:
                # Only a rank cap on generated adapters reads the keys (exports.live).
                capped = self.config.generation_max_rank is not None
                grams = self._kept.grams(mem, edit.id) if capped else None
                cached = Factors(dict(edit.layers), grams)
            self._factor_cache[user_id] = cached
        return cached

    def _check_message(self, text: str) -> str:
        if not isinstance(text, str) or not text.strip():
            raise InputError("empty message")
        if len(text) > self.config.max_message_chars:
            raise InputError(
                f"message is {len(text)} characters; the limit is {self.config.max_message_chars}"
            )
        return text

    # ------------------------------------------------------------------ chat
    def reply(
        self,
        user_id: str,
        messages: Sequence[dict[str, str]],
        max_new_tokens: int | None = None,
    ) -> Iterator[GenerationResponse]:
        """Stream the model's reply to ``messages`` with ``user_id``'s memory live: one
        response per piece, then one with the token counts and the finish reason. The
        request is checked now, before the first piece is asked for."""
        if not messages:
            raise InputError("no messages")
        for message in messages:
            content = message.get("content", "")
            if message.get("role") != "user" and content == "":
                continue  # an empty system prompt or reply is something front ends send
            self._check_message(content)
        factors = self.factors(user_id)
        text = self.backend.chat_text(list(messages))
        limit = min(max_new_tokens or self.config.max_new_tokens, self.config.max_new_tokens)
        window = self.backend.context_length
        # A byte-level tokenizer never makes more tokens than bytes: only a long text is
        # tokenised here, so ordinary replies are not encoded twice.
        if window and len(text.encode()) + limit > window:
            used = self.backend.token_count(text)
            if used + limit > window:
                raise InputError(
                    f"the conversation is {used} tokens and the reply may take {limit}; "
                    f"the model reads at most {window}: start a new chat or send fewer messages"
                )
        if self.replies is None:
            return self.backend.generate(text, limit, factors)
        return self.replies.generate(self.backend.encode(text), limit, factors)

    def ask_many(
        self,
        user_id: str,
        conversations: Sequence[Sequence[dict[str, str]]],
        max_new_tokens: int = 32,
        factors: Factors | None = None,
        stop_at: Sequence[str] | None = None,
    ) -> list[str]:
        """Greedy replies to several conversations with ``user_id``'s memory (or
        ``factors``), decoded as one batch: how audits and benchmarks ask many questions.
        Reply i may end as soon as it holds ``stop_at[i]``, where given."""
        if factors is None:
            factors = self.factors(user_id)
        texts = [self.backend.chat_text(list(c)) for c in conversations]
        return self.backend.generate_batch(texts, max_new_tokens, factors, stop_at)

    def ask(self, user_id: str, question: str, max_new_tokens: int = 32) -> str:
        """A fresh chat holding only ``question``: how recall is measured."""
        return text_of(self.reply(user_id, [{"role": "user", "content": question}], max_new_tokens))

    # ------------------------------------------------------------------ wake
    def extract(
        self,
        user_id: str,
        message: str,
        history: Sequence[tuple[str, str]] = (),
        known: Sequence[Fact] = (),
    ) -> list[Fact]:
        """The facts the configured extractors (config key ``extractors``) find in
        ``message``; ``known`` (the user's active facts) lets a correction that names only
        the old value find its slot."""
        return self.plugins.extract(
            message, self._context(user_id, history, known), self.config.extractors
        )

    def _context(
        self, user_id: str, history: Sequence[tuple[str, str]], known: Sequence[Fact]
    ) -> ExtractContext:
        return ExtractContext(
            user_id=user_id,
            history=tuple(history),
            chat=model_chat(self.backend),
            known=tuple(known),
        )

    def observe(
        self, user_id: str, message: str, history: Sequence[tuple[str, str]] = ()
    ) -> WakeReport:
        """Wake for one message (the terminal's path): into the inbox, then woken with
        whatever else was waiting there."""
        self.receive(user_id, message, history)
        return self.wake_pending(user_id)

    def receive(
        self, user_id: str, message: str, history: Sequence[tuple[str, str]] = ()
    ) -> int | None:
        """Commit ``message`` to the user's wake inbox (``inbox``); once this returns, a
        restart cannot lose it. None for commands: they are never facts."""
        user_id = validate_user_id(user_id)
        self._check_message(message)
        if is_command(message):
            return None
        pairs = tuple((str(role), str(content)) for role, content in history)
        return inbox.receive(self.memory(user_id), message, pairs)

    def wake_pending(self, user_id: str) -> WakeReport:
        """Wake every message waiting in the user's inbox, oldest first, in one edit; they
        leave it once their facts are written. A failed wake leaves them waiting (each is
        dropped after ``inbox.MAX_ATTEMPTS`` failures); a shutdown never counts."""
        user_id = validate_user_id(user_id)
        with self._lock(user_id + "\0wake"):
            mem = self.memory(user_id)
            waiting = inbox.pending(mem)
            if not waiting:
                return WakeReport()
            seqs = [r.seq for r in waiting]
            try:
                report = self.wake(user_id, [(r.message, r.history) for r in waiting])
                # A crash after the ledger took these facts but before their edit file was
                # written leaves them known yet unwritten; the replay finds nothing new.
                self.heal(user_id)
            except Interrupted:
                raise
            except SleepmemError:
                for seq in inbox.failed(mem, seqs):
                    log.warning("wake gave up on message %d of user %s", seq, user_id)
                raise
            inbox.done(mem, seqs)
            return report

    def pending_count(self, user_id: str) -> int:
        """Messages of ``user_id`` waiting in the wake inbox."""
        return inbox.count(self.memory(validate_user_id(user_id)))

    def pending_users(self) -> list[str]:
        """Users with messages waiting in their wake inbox (after a restart)."""
        return [u for u in self.store.users() if self.pending_count(u)]

    def wake(self, user_id: str, turns: Sequence[Turn]) -> WakeReport:
        """Wake: for each turn in order, forget what it asks to forget and extract its
        facts; then write all the facts found in one edit (the report lists both).

        Every front end wakes through here: the terminal one message at a time, the
        service with the messages that queued up behind a running edit, so several
        messages cost one solve. Commands are skipped: they are never facts.
        """
        user_id = validate_user_id(user_id)
        facts: list[Fact] = []
        forgotten: list[Fact] = []
        started = time.perf_counter()
        for message, history in turns:
            if is_command(message):
                continue
            # a request the reply already honoured matches nothing any more
            forgotten += self.forget_requested(user_id, message, history)
            facts += self.extract(user_id, message, history, self.memories(user_id))
        extracted = time.perf_counter() - started
        report = self.write(user_id, facts) if facts else WakeReport()
        report.phases["extract"] = extracted
        report.forgotten = forgotten
        return report

    def forget_requested(
        self, user_id: str, message: str, history: Sequence[tuple[str, str]] = ()
    ) -> list[Fact]:
        """Forget what ``message`` asks, in plain words, to be forgotten ("please forget what
        I said about my salary"): each matching active fact goes through ``forget``, as
        ``/forget <id>`` would. Returns the facts forgotten; [] when it asks nothing or
        matches nothing."""
        user_id = validate_user_id(user_id)
        known = self.memories(user_id)
        context = ExtractContext(user_id=user_id, history=tuple(history), known=tuple(known))
        requests = self.plugins.forget_requests(message, context)
        forgettable = known + self.archived(user_id)  # out of the weights, still theirs
        ids = dict.fromkeys(f.id for r in requests for f in forget_matches(forgettable, r))
        gone: list[Fact] = []
        for fact_id in ids:
            try:
                gone += self.forget(user_id, fact_id)
            except UnknownFact:  # forgotten meanwhile by another request
                continue
        return gone

    def remember(self, user_id: str, text: str) -> WakeReport:
        """Explicit /remember: the configured extractors read ``text`` as wake would; when
        they find nothing, the plugins' ``explicit_statement`` keeps it anyway (the rules
        plugin stores a note), so any text with a word in it yields at least one fact."""
        user_id = validate_user_id(user_id)
        self._check_message(text)
        known = self.memories(user_id)
        facts = self.extract(user_id, text, (), known)
        if not facts:
            facts = self.plugins.explicit_statement(text, self._context(user_id, (), known))
        if not facts:
            raise InputError(f"could not turn {text!r} into a fact")
        return self.write(user_id, facts)

    def write(self, user_id: str, facts: Sequence[Fact]) -> WakeReport:
        """Edit ``facts`` into the user's memory; on any failure nothing is changed."""
        started = time.perf_counter()
        report = WakeReport()
        with self._lock(user_id):
            mem = self.memory(user_id)
            active = mem.facts()
            vetted = [v for f in facts if (v := self._vetted(user_id, f, report)) is not None]
            fresh, report.superseded, known = slot_writes(active, vetted)
            report.skipped += [f"already known: {f.text}" for f in known]
            if not fresh:
                return report
            new = [f.with_status(ACTIVE) for f in fresh]
            # An archived fact in a slot a new fact takes is out of date: superseded, so a
            # later sleep with room in the budget does not bring the old answer back.
            slots = {f.slot_key for f in new}
            shelved = [f for f in mem.facts(ARCHIVED) if f.slot_key in slots]
            retire = {f.id: SUPERSEDED for f in report.superseded}
            report.superseded += shelved
            solved = self._apply(
                mem, new, retire=retire, ledger_only={f.id: SUPERSEDED for f in shelved}
            )
            report.added = new
            if solved is not None:
                report.phases.update(solved.seconds)
                report.incremental = solved.on_top
                report.compact_share = solved.compact_share
        report.seconds = time.perf_counter() - started
        self._notify(
            "after_edit", user_id=user_id, added=list(report.added), superseded=report.superseded
        )
        log.info(
            "wake edit user=%s facts=%d superseded=%d seconds=%.2f",
            user_id,
            len(report.added),
            len(report.superseded),
            report.seconds,
        )
        return report

    MIN_QUESTIONS = 4  # below this, plugins are asked for more (``fact_questions``)
    MAX_QUESTIONS = 8

    def _vetted(self, user_id: str, fact: Fact, report: WakeReport) -> Fact | None:
        verdict = self.plugins.before_edit(user_id, fact)
        if verdict is False:
            report.skipped.append(f"vetoed by a plugin: {fact.text}")
            return None
        fact = verdict if isinstance(verdict, Fact) else fact
        if len(fact.questions) < self.MIN_QUESTIONS:
            merged = list(dict.fromkeys([*fact.questions, *self.plugins.fact_questions(fact)]))
            fact = dataclasses.replace(fact, questions=tuple(merged[: self.MAX_QUESTIONS]))
        return fact

    def _notify(self, hook: str, **kwargs: Any) -> None:
        self.plugins.notify(hook, **kwargs)

    def command(self, user_id: str, text: str) -> str | None:
        """Run a chat command ("/sleep", "/forget x") from the plugins' one command table;
        None when ``text`` is not one. Every front end's commands end here, so a plugin
        that replaces a command replaces it everywhere."""
        parsed = split_command(text)
        if parsed is None:
            return None
        name, arg = parsed
        table = self.plugins.commands()
        key = name.lower()
        if key == "help" or key not in table:
            listing = "\n".join(help for _, help in table.values())
            prefix = "" if key == "help" else f"Unknown command /{name}. "
            return prefix + "Commands:\n" + listing
        handler, _ = table[key]
        user_id = validate_user_id(user_id)
        self._notify("command_invoked", user_id=user_id, name=key, arg=arg)
        return handler(self, user_id, arg)

    # ------------------------------------------------------------------ forget / list
    def memories(self, user_id: str) -> list[Fact]:
        return self.memory(user_id).facts()

    def target_values(self, user_id: str) -> dict[str, np.ndarray]:
        """The kept v* of each of the user's facts that has one, by fact id, and of each
        name several of them are about, by ``subjects.Subject.value_id`` (diagnostics)."""
        mem = self.memory(validate_user_id(user_id))
        facts = mem.facts()
        names = [s.value_id(facts) for s in subjects.shared(facts)]
        return self._values.get(mem, [f.id for f in facts] + names)

    def archived(self, user_id: str) -> list[Fact]:
        """Facts sleep set aside over the fact budget (``max_facts``): out of the weights."""
        return self.memory(user_id).facts(ARCHIVED)

    def forget(self, user_id: str, query: str) -> list[Fact]:
        """Forget facts matching an id or text; their edits are removed from the weights."""
        user_id = validate_user_id(user_id)
        with self._lock(user_id):
            mem = self.memory(user_id)
            found = [f for f in mem.find(query) if f.status in (ACTIVE, ARCHIVED)]
            if not found:
                raise UnknownFact(f"no memory matches {query!r}; /memories lists them")
            active = {f.id: FORGOTTEN for f in found if f.status == ACTIVE}
            archived = {f.id: FORGOTTEN for f in found if f.status == ARCHIVED}
            if active:
                self._apply(mem, [], retire=active)
            if archived:  # out of the weights, v* dropped when archived: only the ledger
                mem.commit(set_status=archived)
        log.info("forget user=%s facts=%d", user_id, len(found))
        return found

    def forget_all(self, user_id: str) -> int:
        user_id = validate_user_id(user_id)
        with self._lock(user_id):
            mem = self.memory(user_id)
            count = len(mem.facts())
            mem.forget_all()
            self._values.drop(mem)
            self._kept.drop(mem)
            inbox.clear(mem)  # what they said before the reset is not learned after it
            self._factor_cache.pop(user_id, None)
        return count

    def heal(self, user_id: str) -> int:
        """Re-edit facts the ledger holds but no edit covers (after a crash or a new model),
        and re-solve an edit that still holds facts no longer active (a crash between a
        forget's ledger write and its delta write). Returns the facts that were unwritten."""
        user_id = validate_user_id(user_id)
        with self._lock(user_id):
            mem = self.memory(user_id)
            state = mem.reconcile()
            if state["unwritten"] or state["stale_batches"]:
                self._apply(mem, [], retire={})
        return len(state["unwritten"])

    def close(self) -> None:
        if self.replies is not None:
            self.replies.close()
        self.store.close()


VSTAR_SETTINGS = (
    "contexts",
    "wordings",
    "continued",
    "subject_keys",
    "name_keys",
    "v_prompts",
    "key_source",
    "max_rank_per_fact",
    "v_lr",
    "v_steps",
    "v_loss_stop",
    "clamp_factor",
    "weight_decay",
    "v_precision",
)


def _vstar_settings(config: EngineConfig) -> dict[str, Any]:
    """The editor settings a fact's v* depends on (its prompts and its optimisation)."""
    ed = config.editor
    return {name: getattr(ed, name) for name in VSTAR_SETTINGS} | {"v_layer": ed.target_layer}
