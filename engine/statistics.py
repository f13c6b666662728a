"""What edits must not disturb, measured once per model and cached on disk.

Two statistics per edited layer, from text that ships with the package (``engine/data``):
- C = E[k k^T] over every token of ordinary prose and chat exchanges (MEMIT's second
  moment; "about 10 x m tokens is enough", FastMEMIT).
- Q = sum of k k^T over keys at the last token of ordinary chat questions. sleepmem keys
  facts on question tokens; C alone barely covers those positions (they are a few per
  thousand tokens), so an edit protected by C only fires on every question. Q names those
  positions explicitly (see notes/editing.md, "keys at the assistant-header token").
Questions about the user themself ("What's my name?") are left out of Q: those are
exactly the inputs an edit is meant to change.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
import time
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np

from . import contexts
from .backends.base import Backend, EditPrompt
from .errors import StoreError

log = logging.getLogger(__name__)

FORMAT = 2  # 2: C and Q built under the conversation contexts of ``contexts``
_PERSONAL = re.compile(r"\b(my|me|i|i'm|mine|myself)\b", re.IGNORECASE)


@dataclass(frozen=True)
class Statistics:
    cov: dict[int, np.ndarray]  # layer -> C (m, m), per token, float64
    questions: dict[int, np.ndarray]  # layer -> Q (m, m), summed over question keys, float64
    tokens: int
    n_questions: int
    seconds: float


def corpus_texts() -> list[str]:
    data = resources.files("sleepmem.engine") / "data"
    return [
        line.strip()
        for line in (data / "corpus.txt").read_text("utf-8").splitlines()
        if line.strip()
    ]


def chat_pairs() -> list[dict[str, str]]:
    data = resources.files("sleepmem.engine") / "data"
    return json.loads((data / "chat_corpus.json").read_text("utf-8"))


def question_prompt(
    backend: Backend,
    question: str,
    target: str = "",
    group: int = 0,
    context: contexts.Context = contexts.DEFAULT,
) -> EditPrompt:
    """A chat prompt for ``question`` after ``context``, keyed at the question's last token.

    The last content token has attended over the whole question, so it carries what is
    asked; the template tokens after it are identical for every question.
    """
    text = backend.chat_text(context.around(question))
    end = text.rfind(question) + len(question)
    return EditPrompt(text, backend.token_count(text[:end]) - 1, target, group)


def general_questions() -> list[str]:
    return [p["user"] for p in chat_pairs() if not _PERSONAL.search(p["user"])]


def _cache_path(directory: Path, model_id: str, layers: tuple[int, ...], max_tokens: int) -> Path:
    data = resources.files("sleepmem.engine") / "data"
    digest = hashlib.sha256()
    for name in ("corpus.txt", "chat_corpus.json"):
        digest.update((data / name).read_bytes())
    digest.update(repr((contexts.APP_PROMPTS, contexts.PERSONAS, contexts.SMALL_TALK)).encode())
    digest.update(f"{model_id}|{layers}|{max_tokens}|{FORMAT}".encode())
    safe = re.sub(r"[^A-Za-z0-9_.-]+", "_", model_id)[:60]
    return directory / f"{safe}-{digest.hexdigest()[:16]}.npz"


def compute(
    backend: Backend, layers: tuple[int, ...], max_tokens: int, progress: bool = False
) -> Statistics:
    """One pass over the shipped text for C, one batched pass for Q, all layers at once."""
    from tqdm import tqdm

    started = time.perf_counter()
    prose, chats = corpus_texts(), chat_texts(backend, chat_pairs(), in_contexts=True)
    # Interleave prose and chat so a token budget smaller than the corpus samples both.
    mixed = [t for pair in zip(prose, chats) for t in pair]
    mixed += prose[len(chats) :] + chats[len(prose) :]
    chosen, budget = [], 0
    for text in mixed:
        if budget >= max_tokens:
            break
        chosen.append(text)
        budget += backend.token_count(text)
    # Chunks only so that the bar moves; second moments add up across chunks.
    step = max(1, len(chosen) // 20)
    sums: dict[int, Any] = {}
    count = 0
    with tqdm(total=budget, desc="statistics", unit="tok", disable=not progress) as bar:
        for start in range(0, len(chosen), step):
            part = chosen[start : start + step]
            part_sums, part_count = backend.second_moments(part, layers)
            for layer, value in part_sums.items():
                sums[layer] = sums[layer] + value if layer in sums else value
            count += part_count
            bar.update(sum(backend.token_count(t) for t in part))
    cov = {layer: s / max(count, 1) for layer, s in sums.items()}
    prompts = []
    for i, q in enumerate(general_questions()):
        # each question in the default chat and in one other context of the edits' family
        kind = contexts.KINDS[1 + i % (len(contexts.KINDS) - 1)]
        prompts += [
            question_prompt(backend, q),
            question_prompt(backend, q, context=contexts.make(kind, q)),
        ]
    keys = backend.keys(prompts, layers)
    questions = {layer: k.T @ k for layer, k in keys.items()}  # (m, n)(n, m) -> (m, m)
    seconds = time.perf_counter() - started
    log.info("statistics: %d tokens, %d questions, %.1f s", count, len(prompts), seconds)
    return Statistics(cov, questions, count, len(prompts), seconds)


def load_or_compute(
    backend: Backend,
    layers: tuple[int, ...],
    max_tokens: int,
    directory: Path,
    progress: bool = False,
) -> Statistics:
    """Cached statistics for this model and layer set; a damaged cache is recomputed."""
    path = _cache_path(directory, backend.model_id, tuple(layers), max_tokens)
    if path.exists():
        try:
            return _read(path, layers)
        except (StoreError, OSError, ValueError, KeyError) as exc:
            log.warning("statistics cache %s unreadable (%s); recomputing", path, exc)
    stats = compute(backend, tuple(layers), max_tokens, progress)
    directory.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp.npz")
    arrays = {f"cov_{k}": v for k, v in stats.cov.items()}
    arrays.update({f"q_{k}": v for k, v in stats.questions.items()})
    meta = json.dumps(
        {
            "format": FORMAT,
            "model_id": backend.model_id,
            "tokens": stats.tokens,
            "n_questions": stats.n_questions,
            "seconds": stats.seconds,
        }
    )
    np.savez(tmp, meta=np.array(meta), **arrays)
    tmp.replace(path)
    return stats


def _read(path: Path, layers: tuple[int, ...]) -> Statistics:
    with np.load(path, allow_pickle=False) as data:
        meta = json.loads(str(data["meta"]))
        if meta.get("format") != FORMAT:
            raise StoreError(f"{path}: statistics format {meta.get('format')} != {FORMAT}")
        cov = {layer: data[f"cov_{layer}"] for layer in layers}
        questions = {layer: data[f"q_{layer}"] for layer in layers}
    for layer in layers:
        if not (np.isfinite(cov[layer]).all() and np.isfinite(questions[layer]).all()):
            raise StoreError(f"{path}: non-finite statistics at layer {layer}")
    return Statistics(cov, questions, meta["tokens"], meta["n_questions"], meta["seconds"])


def chat_texts(
    backend: Backend, pairs: list[dict[str, str]], in_contexts: bool = False
) -> list[str]:
    """Chat exchanges rendered through the model's own template; with ``in_contexts``, each
    after a context of the edits' family in turn (system prompts, personas, small talk), so
    C covers the token positions edits are keyed at in those conversations too."""
    out = []
    for i, p in enumerate(pairs):
        kind = contexts.KINDS[i % len(contexts.KINDS)] if in_contexts else "default"
        before = list(contexts.make(kind, p["user"]).messages)
        turn = [
            {"role": "user", "content": p["user"]},
            {"role": "assistant", "content": p["assistant"]},
        ]
        out.append(backend.chat_text(before + turn, add_generation_prompt=False))
    return out


NLL_PROBE = "The quick brown fox jumps over the lazy dog."


def base_nll(backend: Backend, texts: tuple[str, ...], directory: Path) -> tuple[float, int]:
    """The unedited model's summed NLL of ``texts`` and its token count (``Backend.nll``),
    cached in ``directory``: every first sleep of a process measured it again (6 s of a
    30-fact sleep's 94). The cache holds the NLL of a short probe text beside it and is
    used only while the model still gives that probe the same NLL, so new weights, another
    backend or dtype behind the same model id measure afresh."""
    digest = hashlib.sha256("\0".join((backend.model_id, *texts)).encode()).hexdigest()[:16]
    safe = re.sub(r"[^A-Za-z0-9_.-]+", "_", backend.model_id)[:60]
    path = directory / f"{safe}-base-nll-{digest}.json"
    probe = backend.nll([NLL_PROBE], None)[0]
    try:
        held = json.loads(path.read_text("utf-8"))
        if np.isclose(held["probe"], probe, rtol=1e-6, atol=0.0) and held["count"] > 0:
            return float(held["nll"]), int(held["count"])
    except (OSError, ValueError, KeyError, TypeError):
        pass  # missing or damaged: measured again below
    nll, count = backend.nll(texts, None)
    directory.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps({"probe": probe, "nll": nll, "count": count}), "utf-8")
    tmp.replace(path)
    return nll, count


def validation_texts(backend: Backend, n: int = 48) -> list[str]:
    """General chat and prose used to measure how much edits perturb the model (sleep)."""
    return chat_texts(backend, chat_pairs()[-n:]) + corpus_texts()[-n // 4 :]
