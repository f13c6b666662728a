"""Where an edit that misses in a context fails: at its key, or after it.

For each question of a bench user under each context of the file, with the user's facts
written: how far the update moves the v* layer's output at the question's last token
against the fact's v* (``key_ratio``: the projection, 1 = exactly v*; ``key_cosine``), the
answer's NLL with v* itself added there and nothing else edited (``v_star_nll``: what the
target can do in this context), and the answer's NLL with the written update
(``edited_nll``). A miss with key_ratio near 1 and a low v_star_nll is the update firing
where v* never looked (the answer's own tokens); a high v_star_nll is a target that does
not carry to the context. This is how ``editor.spill_guard`` was found.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from . import contexts
from .backends.base import EditPrompt
from .memory import Engine
from .prompts import answer_text, reply_target
from .statistics import question_prompt


def firing(
    engine: Engine, uid: str, questions: list[dict[str, Any]], bench_contexts: list[dict[str, Any]]
) -> dict[str, dict[str, float]]:
    """Per context of ``bench_contexts``, the mean of each figure over ``questions`` whose
    fact ``uid`` holds (a fact matches a question it was written with)."""
    backend, layer = engine.backend, engine.settings.v_layer
    facts = {f.questions[0]: f for f in engine.memories(uid) if f.questions}
    values = engine.target_values(uid)
    asked = [(q["q"], facts[q["q"]]) for q in questions if q["q"] in facts]
    asked = [(q, f) for q, f in asked if f.id in values]
    out: dict[str, dict[str, float]] = {}
    if not asked:
        return out
    factors = engine.factors(uid)
    for ctx in bench_contexts:
        context = contexts.Context(ctx["name"], tuple(ctx["messages"]))
        prompts: list[EditPrompt] = [
            question_prompt(backend, q, reply_target(backend, q, answer_text(f)), i, context)
            for i, (q, f) in enumerate(asked)
        ]
        deltas = np.stack([values[f.id] for _, f in asked]).astype(np.float32)
        _, before = backend.activations(prompts, [], layer)
        _, after = backend.activations(prompts, [], layer, factors)
        moved = after - before  # (n, d)
        norms = np.linalg.norm(deltas, axis=1)
        ratio = np.einsum("nd,nd->n", moved, deltas) / norms**2
        cosine = ratio * norms / np.maximum(np.linalg.norm(moved, axis=1), 1e-9)
        everyone = np.ones(len(prompts), dtype=bool)
        oracle, _ = backend.value_problem(prompts, layer, len(prompts)).loss_and_grad(
            deltas, everyone
        )
        edited, _ = backend.value_problem(
            prompts, layer, len(prompts), factors=factors
        ).loss_and_grad(np.zeros_like(deltas), everyone)
        out[ctx["name"]] = {
            "key_ratio": float(np.mean(ratio)),
            "key_cosine": float(np.mean(cosine)),
            "v_star_nll": float(np.mean(oracle)),
            "edited_nll": float(np.mean(edited)),
        }
    return out
