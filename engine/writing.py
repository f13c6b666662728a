"""Writing facts into the weights: the edit half of ``Engine`` (a base class of it).

A set of facts becomes an update in four steps: each fact's prompts (contexts x wordings,
``prompts.fact_prompts``), its target value v* (kept per fact, ``values.TargetValues``),
the solve spreading the update over the edited layers against what it must keep
(``editor.spread``), and the compaction of what is stored (``compact``). ``_apply`` then
commits it, with the status changes it goes with, in one store transaction.

Apart from ``memory`` (chat, wake, forget) and ``sleep`` (audit, re-solve, repair) because
both call it: wake for new facts, sleep for the re-solve and its repairs.
"""

from __future__ import annotations

import dataclasses
import logging
import time
from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np

from . import subjects
from .backends.base import EditPrompt, Factors
from .compact import bounded, compact
from .deltas import EditBatch
from .editor import (
    EditSettings,
    Protection,
    Solved,
    joined,
    nullspace_basis,
    protected_for,
    spread,
    target_values,
)
from .errors import EditError
from .facts import Fact
from .kept_keys import Grams, key_sums
from .prompts import fact_prompts

if TYPE_CHECKING:
    from . import statistics
    from .backends.base import Backend
    from .config import EngineConfig
    from .kept_keys import KeptKeys
    from .store import UserMemory
    from .values import TargetValues

log = logging.getLogger("sleepmem.engine.memory")  # the engine's logger, as before the split


class Writing:
    """How facts become an update and are stored; it uses the engine's state set up in its
    ``__init__``."""

    config: EngineConfig
    backend: Backend
    settings: EditSettings
    _factor_cache: dict[str, Factors]
    _values: TargetValues
    _kept: KeptKeys

    if TYPE_CHECKING:  # provided by Engine; declared for the type checker only

        def memory(self, user_id: str) -> UserMemory: ...
        def statistics(self, progress: bool = False) -> statistics.Statistics: ...

    # More contexts, wordings and key rows for a fact sleep repairs. The audit holds out
    # wordings past these too: a repair trained on the audit's own wordings raised the
    # audit 25 -> 50% while the user's recall fell 100 -> 50% (measured, one user).
    REPAIR_EXTRA = 3

    def _apply(
        self,
        mem: UserMemory,
        new: list[Fact],
        retire: dict[str, str],
        ledger_only: dict[str, str] | None = None,
    ) -> Solved | None:
        """Write ``new`` facts and retire others; ``ledger_only``: status changes of facts
        no edit holds (archived ones), stored with the edit. The solve runs before anything
        is stored, so a failure leaves memory as it was.

        Facts no edit covers (the new ones, and any a crash left unwritten) are added on
        top of the live edit when its keys are known (``kept_keys``): the cost then does
        not grow with the user's memory, and a recovery writes what the uncrashed edit
        would have. Anything else (a retirement, a first edit, an edit still holding a
        retired fact, a new fact about a name an earlier one is about, keys lost)
        re-solves every remaining fact together from the base weights; a retired fact's
        edit must leave the weights, not be outvoted.
        """
        keep = [f for f in mem.facts() if f.id not in retire] + new
        add: list[EditBatch] = []
        parent, solved, grams = None, None, None
        live = mem.edit()
        # facts no edit covers yet: the new ones, and any a crash left unwritten (heal)
        fresh = [f for f in keep if live is None or f.id not in live.fact_ids]
        # ... unless the live edit still holds a fact no longer active
        stale = live is None or not set(live.fact_ids) <= {f.id for f in keep}
        # ... or a new fact is about a name an earlier one is about: the name's value is
        # optimised again on all of them, and the live edit holds the old one
        if live is not None and not stale:
            stale = subjects.overlap(fresh, [f for f in keep if f.id in live.fact_ids])
        if fresh and not retire and not stale:
            assert live is not None
            grams = self._kept.grams(mem, live.id)
        if grams is not None and live is not None:
            base = Factors(dict(live.layers))
            on_top = (base, grams)
            solved = self._solve(mem.user_id, fresh, base=on_top, holding=len(keep))
            factors = self._compacted(solved, fresh, on_top)
            parent = live.id
            add = [EditBatch.new([*live.fact_ids, *(f.id for f in fresh)], factors.layers, "wake")]
        elif keep:
            solved = self._solve(mem.user_id, keep)
            factors = self._compacted(solved, keep)
            add = [EditBatch.new([f.id for f in keep], factors.layers, "wake")]
        started = time.perf_counter()
        mem.commit(
            add_facts=new,
            set_status={**(ledger_only or {}), **retire},
            add_batches=add,
            remove_batch_ids=[b.id for b in mem.batches()],
        )
        self._values.drop(mem, retire)  # a v* encodes its answer: it leaves with its fact
        self._factor_cache.pop(mem.user_id, None)
        if solved is not None:
            self._kept.record(mem, add[0].id, parent, solved.keys, grams)
            solved.seconds["store"] = time.perf_counter() - started
        return solved

    # Shares tried in turn after the configured one, rounded to ``editor.store_precision``
    # and then to float16; the first whose edit answers every checked fact as well as the
    # full update does (``editor.compact_slack``) is stored, else the full update.
    COMPACT_LADDER = (0.999, 0.9999)

    def _compacted(
        self,
        solved: Solved,
        facts: Sequence[Fact],
        on_top: tuple[Factors, Grams] | None = None,
    ) -> Factors:
        """What is stored: ``solved``'s update (joined onto ``on_top``'s update, the live
        edit, when it is an increment, with the key sums it was written through),
        compacted onto the outputs of the keys it was written through per
        ``editor.compact``, unless that costs one of ``facts`` its answer (then a finer
        share, or none). An increment is compacted alone, so the live edit's facts keep
        exactly the update they had. Either way no layer keeps more ranks than its outputs
        have (``compact.bounded``)."""
        own = key_sums(solved.keys)
        every: Grams = own
        base = None
        if on_top is not None:
            base, known = on_top
            every = {layer: known[layer] + g for layer, g in own.items() if layer in known}

        def stored(update: Factors) -> Factors:
            return update if base is None else joined(base, update)

        share, slack = self.config.editor.compact, self.config.editor.compact_slack
        precision = self.config.editor.store_precision
        if share is None:
            return bounded(stored(solved.factors), every, precision)
        if slack is None:
            small = compact(solved.factors, own, share, solved.keys, precision)
            solved.compact_share = share
            return bounded(stored(small.factors), every, precision)
        started = time.perf_counter()
        checks = fact_prompts(self.backend, facts, 1)
        full = stored(solved.factors)
        before = self._answer_nll(checks, full)
        out = full
        # stored whole, a layer past its width is still re-factored and rounded as
        # configured (``bounded``): 100 facts' re-solve, no share of which kept every
        # answer, lost no recall to int8 there (benchmarks/storage_precision_*.json)
        chosen, rounded = None, precision
        levels = list(dict.fromkeys([share, *(x for x in self.COMPACT_LADDER if x > share)]))

        def attempt(form: str, level: float) -> Factors | None:
            small = compact(solved.factors, own, level, solved.keys, form)
            candidate = stored(small.factors)
            after = self._answer_nll(checks, candidate)
            lost = np.subtract(after, before)
            log.debug("compact %s %s: answer nats lost %s", level, form, np.round(lost, 3))
            return candidate if all(x <= slack for x in lost) else None

        for level in levels:
            found = attempt(precision, level)
            if found is not None:
                out, chosen, rounded = found, level, precision
                break
        if chosen is None and precision != "float16":
            # Before the full update, float16: a fact that wins by a hair can lose its
            # answer to int8's rounding where float16's costs nothing (measured: a bench
            # user's wake edit and re-solve were stored whole in float32, 858 KiB a fact).
            # Its finest share first: a coarser one keeps less, so where that loses an
            # answer they nearly always do too (100 facts' re-solve: one check, not three).
            found = attempt("float16", levels[-1])
            if found is not None:
                out, chosen, rounded = found, levels[-1], "float16"
                for level in levels[:-1]:  # int8 at a finer share beat these: now, smaller
                    coarser = attempt("float16", level)
                    if coarser is not None:
                        out, chosen = coarser, level
                        break
        out = bounded(out, every, rounded)
        solved.seconds["compact"] = time.perf_counter() - started
        solved.compact_share = chosen
        return out

    def _answer_nll(self, prompts: Sequence[EditPrompt], factors: Factors) -> list[float]:
        """Each prompt's answer NLL under ``factors``: of its target's tokens after the
        prompt, in one batched pass. Where the prompt's tokens are not a prefix of those of
        the prompt with its target (a merge across the seam), the NLL of the whole less
        that of the prompt alone."""
        encode = self.backend.encode
        texts: list[str] = []
        starts: list[int] = []
        rows: list[tuple[int, int | None]] = []  # (row of the whole, row of the prompt alone)
        for p in prompts:
            head = encode(p.text)
            seamless = encode(p.text + p.target)[: len(head)] == head
            texts.append(p.text + p.target)
            starts.append(len(head) if seamless else 1)
            rows.append((len(texts) - 1, None if seamless else len(texts)))
            if not seamless:
                texts.append(p.text)
                starts.append(1)
        each = self.backend.nlls(texts, factors, starts)
        return [each[w][0] - (each[h][0] if h is not None else 0.0) for w, h in rows]

    def _solve(
        self,
        user_id: str,
        facts: Sequence[Fact],
        repair: frozenset[str] = frozenset(),
        base: tuple[Factors, Grams] | None = None,
        holding: int | None = None,
    ) -> Solved:
        """Factors writing ``facts``: from the base weights, or with ``base`` (the live
        update and the key sums it was written through) on top of it, the increment only.
        ``holding``: the facts the stored edit will hold (default ``facts``), which lambda
        is sized for (``editor.mom2_facts``).

        Target values (v*, the expensive part) are kept per fact (``values.TargetValues``);
        only facts without one are optimised, together in one batched run. A fact's v* does
        not depend on the others in its batch (each stops on its own), so optimising it
        again would give the same vector. Facts whose ids are in ``repair`` are written
        through more contexts and wordings, and their v* is optimised again on those, from
        the kept one (a warm start: it already answers the old prompts, and a fact that
        already meets the loss on the new ones stops at once), for up to twice the steps.
        """
        max_q = self.config.editor.max_rank_per_fact
        mem = self.memory(user_id)
        d = self.backend.hidden_size
        # a v* kept in another shape (written by an older layout) is optimised again
        known = {
            fid: v
            for fid, v in self._values.get(mem, [f.id for f in facts]).items()
            if v.shape == (d,)
        }
        # a repair optimises its facts' v* again, on more prompts, from where it was
        was = {fid: known.pop(fid) for fid in repair if fid in known}
        todo = [f for f in facts if f.id not in known]
        started = time.perf_counter()
        try:
            v_max = min(self.config.editor.v_prompts, max_q or self.config.editor.v_prompts)
            if todo:
                prompts = self._prompts(todo, v_max, repair)
                settings = self.settings
                if repair:
                    vstar = dataclasses.replace(settings.vstar, steps=2 * settings.vstar.steps)
                    settings = dataclasses.replace(settings, vstar=vstar)
                start = None
                if was:
                    start = np.stack([was.get(f.id, np.zeros(d)) for f in todo])
                values, losses = target_values(self.backend, prompts, len(todo), settings, start)
                for i, fact in enumerate(todo):
                    known[fact.id] = values[i]
                self._values.put(mem, {fact.id: known[fact.id] for fact in todo})
                log.debug("v* for %d facts, losses %s", len(todo), np.round(losses, 3))
            about = subjects.shared(facts)
            shared = self._subject_values(mem, facts, about, known, repair, v_max)
            prompts = subjects.regrouped(self._prompts(facts, max_q, repair), about, len(facts))
            if not prompts:
                raise EditError("the facts have no questions to write them through")
            deltas = np.stack([known[f.id] for f in facts] + shared)
            vstar_done = time.perf_counter()
            protection = self._protection()
            live = None
            if base is not None:
                live, grams = base
                for layer, gram in grams.items():
                    protection.kept[layer] = protection.kept.get(layer, 0) + gram
            held = len(facts) if holding is None else holding
            settings = protected_for(self.settings, held, self.config.editor.mom2_facts)
            solved = spread(self.backend, prompts, deltas, settings, protection, live)
            solved.seconds["vstar"] = vstar_done - started
            solved.seconds["spread"] = time.perf_counter() - vstar_done
            return solved
        except (np.linalg.LinAlgError, RuntimeError, ValueError) as exc:
            raise EditError(f"edit failed, memory unchanged: {exc}") from exc

    def _subject_values(
        self,
        mem: UserMemory,
        facts: Sequence[Fact],
        about: Sequence[subjects.Subject],
        known: dict[str, np.ndarray],
        repair: frozenset[str],
        cap: int,
    ) -> list[np.ndarray]:
        """The value of each name in ``about``: kept, or optimised on the prompts of all
        its facts keyed at it (``cap`` a fact, as a fact's own v* is), from the mean of
        those facts' own values (``known``), which each answer their part."""
        if not about:
            return []
        ids = [s.value_id(facts) for s in about]
        kept = self._values.get(mem, ids)
        todo = [j for j, vid in enumerate(ids) if vid not in kept]
        if todo:
            prompts: list[EditPrompt] = []
            for k, j in enumerate(todo):
                members = [facts[i] for i in about[j].members]
                prompts += [
                    dataclasses.replace(p, group=k)
                    for p in self._prompts(members, cap, repair)
                    if p.at_name.casefold() == about[j].name
                ]
            start = np.stack(
                [np.mean([known[facts[i].id] for i in about[j].members], axis=0) for j in todo]
            )
            values, losses = target_values(self.backend, prompts, len(todo), self.settings, start)
            made = {ids[j]: values[k] for k, j in enumerate(todo)}
            self._values.put(mem, made)
            # a name's value made on fewer of its facts is of no further use
            held = {facts[i].id for j in todo for i in about[j].members}
            self._values.drop_subjects(mem, held, keep=ids)
            kept.update(made)
            log.debug("subject values for %s, losses %s", [about[j].name for j in todo], losses)
        return [kept[vid] for vid in ids]

    def _prompts(
        self, facts: Sequence[Fact], cap: int | None, repair: frozenset[str] = frozenset()
    ) -> list[EditPrompt]:
        """The prompts writing ``facts``, fact i's in group i; those in ``repair`` through
        more contexts and wordings."""
        ed = self.config.editor
        out: list[EditPrompt] = []
        for index, fact in enumerate(facts):
            extra = self.REPAIR_EXTRA if fact.id in repair else 0
            made = fact_prompts(
                self.backend,
                [fact],
                cap + extra if cap else None,
                ed.key_source,
                n_wordings=ed.wordings + extra,
                n_contexts=ed.contexts + extra,
                n_continued=ed.continued,
                n_subject=ed.subject_keys,
                n_named=ed.name_keys + extra if ed.name_keys else 0,
            )
            out += [dataclasses.replace(p, group=index) for p in made]
        return out

    def _protection(self) -> Protection:
        stats = self.statistics()
        weight = self.config.editor.question_weight
        kept = {layer: weight * stats.questions[layer] for layer in self.settings.layers}
        protection = Protection(cov=stats.cov, kept=kept, spill=self.config.editor.spill_guard)
        if self.settings.nullspace:
            for layer in self.settings.layers:
                protection.basis[layer] = nullspace_basis(
                    stats.cov[layer], self.config.editor.nullspace_energy
                )
        return protection
