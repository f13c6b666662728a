"""Experiment behind benchmarks/capacity_subject_keys_25facts_torch_cpu.json.

Keys at the subject (the friend's name) with a target value of their own, on the capacity
pool, through the engine's own prompt builder, v* and solve: A, keys at each question's end
(the engine's way); C, A plus keys at the name, each fact's name prompts a v* group of their
own (the delta added at the name's token, MEMIT's way); D, the name keys alone. One joint
solve of N facts from the base weights, no sleep.

    python benchmarks/experiments/capacity_subject_keys.py ../shared/bench 25 6 out.json
"""

from __future__ import annotations

import dataclasses
import json
import sys
import time
from pathlib import Path

import numpy as np
from sleepmem.engine.bench import correct, rate
from sleepmem.engine.bench_capacity import _persona_context, pool_facts
from sleepmem.engine.config import load_config
from sleepmem.engine.editor import spread, target_values
from sleepmem.engine.prompts import fact_prompts
from sleepmem.plugin.registry import open_engine


def main(bench: Path, n: int, k: int, out: Path) -> None:
    eng = open_engine(load_config())
    ed, backend = eng.config.editor, eng.backend
    facts = pool_facts(bench / "fact_pool_500.json", n)
    persona = _persona_context(bench) or []
    mb = json.loads((bench / "memory_bench.json").read_text())

    def prompts(fact, cap, n_subject=0):
        return fact_prompts(
            backend, [fact], cap, ed.key_source, n_wordings=ed.wordings,
            n_contexts=ed.contexts, n_continued=ed.continued, n_subject=n_subject,
        )  # fmt: skip

    end_v, end_s, name_v = [], [], []
    for i, fact in enumerate(facts):
        plain = prompts(fact, ed.v_prompts)
        named = prompts(fact, ed.v_prompts, k)[len(plain) :]  # the name-keyed copies
        end_v += [dataclasses.replace(p, group=i) for p in plain]
        end_s += [dataclasses.replace(p, group=i) for p in prompts(fact, ed.max_rank_per_fact)]
        name_v += [dataclasses.replace(p, group=i) for p in named]
    started = time.perf_counter()
    v_end, _ = target_values(backend, end_v, n, eng.settings)
    v_name, _ = target_values(backend, name_v, n, eng.settings)
    print(f"v* {time.perf_counter() - started:.0f} s", flush=True)

    def protection():
        kept = eng._protection()
        eng._guard_spill(end_s, kept)  # the answers after each question's end, as wake does
        return kept

    def evaluate(factors) -> dict:
        def hits(convs, expects):
            replies = eng.ask_many("experiment", convs, 16, factors)
            return rate([correct(r, e) for r, e in zip(replies, expects)])

        answers = [[f.answer] for f in facts]
        asks = [f.questions[0] for f in facts]
        names = [f.subject.removeprefix("my friend ") for f in facts]
        unseen = [f"Do you remember where {name} lives?" for name in names]
        gk = mb["general_knowledge"]
        return {
            "fresh": hits([[{"role": "user", "content": q}] for q in asks], answers),
            "persona": hits([[*persona, {"role": "user", "content": q}] for q in asks], answers),
            "held_out_wording": hits([[{"role": "user", "content": q}] for q in unseen], answers),
            "gk": hits([[{"role": "user", "content": g["question"]}] for g in gk],
                       [g["expect"] for g in gk]),
            "drift": eng.drift(factors, mb["neutral_text"]),
        }  # fmt: skip

    shifted = [dataclasses.replace(p, group=p.group + n) for p in name_v]
    rows = {
        "A_end": spread(backend, end_s, v_end, eng.settings, protection()),
        "C_end_subject": spread(
            backend, end_s + shifted, np.concatenate([v_end, v_name]), eng.settings, protection()
        ),
        "D_subject": spread(backend, name_v, v_name, eng.settings, protection()),
    }
    result = {name: evaluate(solved.factors) for name, solved in rows.items()}
    print(json.dumps(result, indent=1))
    out.write_text(json.dumps(result, indent=1))


if __name__ == "__main__":
    main(Path(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]), Path(sys.argv[4]))
