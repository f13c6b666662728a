"""`sleepmem bench export`: what exporting a memory as a LoRA adapter costs and buys.

For each benchmark user, their questions' answers are written as explicit facts (one edit),
then, side by side in one process on one machine:

- per rank cap (none = the exact edit): the adapter's size in float32 and float16, the share
  of each layer's update the truncation keeps, and recall on the user's questions and
  paraphrases through sleepmem's torch forward with the truncated update (the update PEFT
  runs: tests/test_export.py checks their logits agree);
- llama.cpp on the model's GGUF base with the user's GGUF adapter: recall, the share of
  greedy answers identical to the torch loop's, and decode tokens/s and first-token latency
  beside the torch loop's with the same memory, same prompts, same token budget.
"""

from __future__ import annotations

import importlib.util
import json
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from .backends.base import Factors, GenerationResponse
from .bench import correct
from .exports import as_factors, export_memory, lora_pairs
from .facts import explicit
from .kept_keys import stored_key_sums
from .memory import Engine
from .models import ModelSource

ANSWER_TOKENS = 16
SPEED_ROUNDS = 3
PROMPTS = (
    "Write a short story about a lighthouse keeper.",
    "Explain how a bicycle works.",
    "Describe the city of Porto.",
)


def _asks(user: dict[str, Any]) -> list[tuple[str, list[str], list[str]]]:
    """(question, expect, forbid) for the user's questions and then their paraphrases."""
    out = [(q["q"], q["expect"], q.get("forbid", [])) for q in user["questions"]]
    return out + [(p["q"], p["expect"], []) for p in user.get("paraphrases", [])]


def _recall(replies: Sequence[str], asks: Sequence[tuple[str, list[str], list[str]]]) -> dict:
    hits = [correct(r, e, f) for r, (_, e, f) in zip(replies, asks)]
    return {"recall": round(sum(hits) / max(len(hits), 1), 4), "n": len(hits), "hits": sum(hits)}


def _torch_speed(engine: Engine, factors: Factors, tokens: int) -> dict[str, float]:
    backend = engine.backend
    produced, seconds, first = 0, 0.0, []
    for prompt in PROMPTS:
        text = backend.chat_text([{"role": "user", "content": prompt}])
        started = time.perf_counter()
        stream = backend.generate(text, tokens, factors)
        last = next(stream, GenerationResponse("", 0, 0, "length"))
        first.append(time.perf_counter() - started)
        for response in stream:
            last = response
        seconds += time.perf_counter() - started
        produced += last.completion_tokens
    return _speed(produced, seconds, first)


def _speed(produced: int, seconds: float, first: list[float]) -> dict[str, float]:
    """Tokens/s from each request's start to its last token (prompt included), and the
    decode rate alone: the tokens after each first one over the time after it."""
    after = seconds - sum(first)
    return {
        "tokens": produced,
        "tokens_per_s": round(produced / seconds, 2) if seconds else 0.0,
        "decode_tokens_per_s": round((produced - len(first)) / after, 2) if after > 0 else 0.0,
        "first_token_s_mean": round(sum(first) / len(first), 4) if first else 0.0,
    }


def _llama_speed(run: Callable[[list[int]], Any], encode: Callable[[str], list[int]], chat) -> dict:
    produced, seconds, first = 0, 0.0, []
    for prompt in PROMPTS:
        ids = encode(chat([{"role": "user", "content": prompt}]))
        started = time.perf_counter()
        stream = run(ids)
        got = next(stream, None)
        first.append(time.perf_counter() - started)
        produced += (got is not None) + sum(1 for _ in stream)
        seconds += time.perf_counter() - started
    return _speed(produced, seconds, first)


def _median(rounds: list[dict[str, float]]) -> dict[str, float]:
    ordered = sorted(rounds, key=lambda r: r["tokens_per_s"])
    return ordered[len(ordered) // 2]


def run_export_bench(
    engine: Engine,
    source: ModelSource,
    bench: dict[str, Any],
    users: int = 1,
    ranks: Sequence[int] = (64, 32, 16, 8, 4, 2),
    tokens: int = 64,
    gguf_base: Path | None = None,
) -> dict[str, Any]:
    """Run the export benchmark on ``engine`` (a scratch home) for the first ``users``."""
    backend = engine.backend
    result: dict[str, Any] = {
        "model": backend.model_id,
        "editor_layers": list(engine.settings.layers),
        "max_rank_per_fact": engine.config.editor.max_rank_per_fact,
        "users": [],
    }
    llama = None
    if gguf_base is not None:
        import torch

        from .llamacpp import LlamaCpp

        # The same number of threads as the torch loop, so the two compare like for like
        # (llama-cpp-python would decode on half the cores by default).
        threads = torch.get_num_threads()
        llama = LlamaCpp(gguf_base, n_threads=threads)
        result["gguf_base"] = gguf_base.name
        result["threads"] = threads
    try:
        with tempfile.TemporaryDirectory(prefix="sleepmem-export-bench-") as tmp:
            for user in bench["users"][:users]:
                result["users"].append(_user(engine, source, user, ranks, tokens, llama, Path(tmp)))
    finally:
        if llama is not None:
            llama.close()
    return result


def _user(
    engine: Engine,
    source: ModelSource,
    user: dict[str, Any],
    ranks: Sequence[int],
    tokens: int,
    llama: Any,
    tmp: Path,
) -> dict[str, Any]:
    uid = f"bench-export:{user['user']}"
    facts = [explicit(q["q"], q["expect"][0]) for q in user["questions"]]
    started = time.perf_counter()
    engine.write(uid, facts)
    out: dict[str, Any] = {
        "user": user["user"],
        "facts": len(facts),
        "edit_s": round(time.perf_counter() - started, 2),
    }
    factors = engine.factors(uid)
    live = engine.memory(uid).edit()
    grams = None if live is None else stored_key_sums(engine.memory(uid), live.id)
    asks = _asks(user)
    convs = [[{"role": "user", "content": q}] for q, _, _ in asks]
    n_questions = len(user["questions"])

    def measure(f: Factors) -> tuple[dict[str, Any], list[str]]:
        replies = engine.ask_many(uid, convs, ANSWER_TOKENS, factors=f)
        return {
            "questions": _recall(replies[:n_questions], asks[:n_questions]),
            "paraphrases": _recall(replies[n_questions:], asks[n_questions:]),
        }, replies

    rows = []
    torch_replies: list[str] = []
    for cap in [None, *ranks]:
        pairs = lora_pairs(factors, cap, grams=grams)
        sizes = {
            dtype: export_memory(
                engine.home, source, uid, tmp / "peft", max_rank=cap, dtype=dtype, force=True
            ).bytes
            for dtype in ("float32", "float16")
        }
        recall, replies = measure(factors if cap is None else as_factors(pairs))
        if cap is None:
            torch_replies = replies
        rows.append(
            {
                "max_rank": cap,
                "ranks": sorted({p.rank for p in pairs.values()}),
                "kept_min": round(min(p.kept for p in pairs.values()), 4),
                "peft_bytes_float32": sizes["float32"],
                "peft_bytes_float16": sizes["float16"],
                **recall,
            }
        )
    out["truncation"] = rows
    base = engine.ask_many("__bench_base__", convs, ANSWER_TOKENS, factors=Factors())
    out["base_model"] = {
        "questions": _recall(base[:n_questions], asks[:n_questions]),
        "paraphrases": _recall(base[n_questions:], asks[n_questions:]),
    }
    if importlib.util.find_spec("peft") is not None:
        out["peft"] = _peft(engine, source, uid, asks, tmp)
    if llama is None:
        out["torch_speed_with_memory"] = _torch_speed(engine, factors, tokens)
    else:
        out["llamacpp"] = _llama(engine, source, uid, llama, asks, torch_replies, base, tokens, tmp)
        out["torch_speed_with_memory"] = out["llamacpp"].pop("torch_speed")
    return out


def _peft(
    engine: Engine,
    source: ModelSource,
    uid: str,
    asks: Sequence[tuple[str, list[str], list[str]]],
    tmp: Path,
) -> dict[str, Any]:
    """The exact PEFT adapter on a second copy of the model: the largest logit difference
    from sleepmem's forward over every ask prompt, and recall through PEFT's generate."""
    import numpy as np
    import torch
    from peft import PeftModel
    from transformers import AutoModelForCausalLM

    backend = engine.backend
    folder = export_memory(engine.home, source, uid, tmp / "peft-check", force=True).folder
    base = AutoModelForCausalLM.from_pretrained(source.location, dtype=torch.float32).eval()
    model = PeftModel.from_pretrained(base, str(folder))
    factors = engine.factors(uid)
    diffs, replies = [], []
    for question, _, _ in asks:
        text = backend.chat_text([{"role": "user", "content": question}])
        ids = torch.tensor([backend.encode(text)])
        with torch.inference_mode():
            theirs = model(input_ids=ids).logits[0].float().numpy()
            new = model.generate(
                input_ids=ids,
                max_new_tokens=ANSWER_TOKENS,
                do_sample=False,
                eos_token_id=sorted(backend.stop_ids),
            )[0, ids.shape[1] :]
        diffs.append(float(np.abs(theirs - backend.logits(text, factors)).max()))
        replies.append(backend.tokenizer.decode(new, skip_special_tokens=True))
    return {"logit_max_abs_diff": max(diffs), "recall_all_asks": _recall(replies, asks)}


def _llama(
    engine: Engine,
    source: ModelSource,
    uid: str,
    llama: Any,
    asks: Sequence[tuple[str, list[str], list[str]]],
    torch_replies: Sequence[str],
    torch_bare: Sequence[str],
    tokens: int,
    tmp: Path,
) -> dict[str, Any]:
    """Replies and speed through llama.cpp beside torch's. ``torch_replies`` with the
    memory, ``torch_bare`` with none: llama.cpp's bare replies are compared with those, so
    the share of differences the quantised runtime makes with no adapter at all is known."""
    backend = engine.backend
    stops = frozenset(backend.stop_ids)
    adapter = export_memory(engine.home, source, uid, tmp / "gguf", "gguf", force=True).files[0]

    def ask(question: str, path: Path | None) -> str:
        ids = backend.encode(backend.chat_text([{"role": "user", "content": question}]))
        new = list(llama.generate(ids, ANSWER_TOKENS, path, stops))
        return backend.tokenizer.decode(new, skip_special_tokens=True).strip()

    replies = [ask(q, adapter) for q, _, _ in asks]
    same = sum(a.strip() == b.strip() for a, b in zip(replies, torch_replies))
    bare_same = sum(ask(q, None) == b.strip() for (q, _, _), b in zip(asks, torch_bare))
    verdicts = [
        correct(a, e, f) == correct(b, e, f)
        for a, b, (_, e, f) in zip(replies, torch_replies, asks)
    ]

    def run(path: Path | None):
        return lambda ids: llama.generate(ids, tokens, path, stops)

    # Interleaved rounds, so a load that comes and goes on a shared machine falls on all
    # three alike; the median round of each is reported.
    rounds: dict[str, list[dict[str, float]]] = {"torch": [], "adapter": [], "bare": []}
    for _ in range(SPEED_ROUNDS):
        rounds["torch"].append(_torch_speed(engine, engine.factors(uid), tokens))
        rounds["adapter"].append(_llama_speed(run(adapter), backend.encode, backend.chat_text))
        rounds["bare"].append(_llama_speed(run(None), backend.encode, backend.chat_text))
    speed, bare, ours = (_median(rounds[k]) for k in ("adapter", "bare", "torch"))
    return {
        "adapter_bytes": adapter.stat().st_size,
        "recall_all_asks": _recall(replies, asks),
        "identical_to_torch": round(same / max(len(asks), 1), 4),
        "identical_to_torch_without_memory": round(bare_same / max(len(asks), 1), 4),
        "same_recall_verdict": round(sum(verdicts) / max(len(asks), 1), 4),
        "speed_with_adapter": speed,
        "speed_without_adapter": bare,
        "torch_speed": ours,
        "speedup_tokens_per_s": round(speed["tokens_per_s"] / max(ours["tokens_per_s"], 1e-9), 2),
        "speedup_decode_tokens_per_s": round(
            speed["decode_tokens_per_s"] / max(ours["decode_tokens_per_s"], 1e-9), 2
        ),
        "speed_rounds": rounds,
        "differing": [
            {"q": q, "llamacpp": a, "torch": b}
            for (q, _, _), a, b in zip(asks, replies, torch_replies)
            if a.strip() != b.strip()
        ][:10],
    }


def load_bench(path: Path) -> dict[str, Any]:
    return json.loads(Path(path).read_text(encoding="utf-8"))
