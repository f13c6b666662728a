"""`sleepmem bench speed`: what one backend costs on this machine.

Decode tokens/s and first-token latency of plain greedy replies, the latency of single wake
edits (each re-solving the user's facts so far), whether each fact is then recalled, weight
bytes and the process's peak memory. Run once per backend/model, one process each, so the
peak-memory figures do not mix.
"""

from __future__ import annotations

import resource
import sys
import time
from typing import Any

from .backends.base import GenerationResponse
from .memory import Engine

PROMPTS = (
    "Write a short story about a lighthouse keeper.",
    "Explain how a bicycle works.",
    "Describe the city of Porto.",
)
FACTS = (
    ("I live in Porto.", "Where do I live?", "Porto"),
    ("My dog is called Rex.", "What is my dog's name?", "Rex"),
    ("I work as a nurse.", "What do I do for work?", "nurse"),
)
USER = "speed-bench"


def _peak_rss_bytes() -> int:
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return int(peak if sys.platform == "darwin" else peak * 1024)  # Linux reports KiB


def run_speed_bench(engine: Engine, load_seconds: float, tokens: int = 128) -> dict[str, Any]:
    backend = engine.backend
    rss_after_load = _peak_rss_bytes()
    list(backend.generate(backend.chat_text([{"role": "user", "content": "Hi"}]), 8))  # warm-up
    produced, seconds, first = 0, 0.0, []
    for prompt in PROMPTS:
        started = time.perf_counter()
        text = backend.chat_text([{"role": "user", "content": prompt}])
        stream = backend.generate(text, tokens)
        last = next(stream, GenerationResponse("", 0, 0, "length"))
        first.append(time.perf_counter() - started)
        for response in stream:
            last = response  # the closing response carries the whole reply's token count
        seconds += time.perf_counter() - started
        produced += last.completion_tokens
    stats_started = time.perf_counter()
    engine.statistics()
    stats_seconds = time.perf_counter() - stats_started
    edits, recalled = [], []
    for statement, _, _ in FACTS:
        started = time.perf_counter()
        engine.observe(USER, statement)
        edits.append(round(time.perf_counter() - started, 2))
    for _, question, answer in FACTS:
        recalled.append(answer.lower() in engine.ask(USER, question).lower())
    return {
        "backend": engine.config.backend,
        "model": backend.model_id,
        "load_s": round(load_seconds, 2),
        "statistics_s": round(stats_seconds, 2),
        "weight_bytes": backend.weight_bytes(),
        "peak_rss_bytes_after_load": rss_after_load,
        "peak_rss_bytes": _peak_rss_bytes(),
        "decode_tokens_per_s": round(produced / seconds, 2),
        "first_token_s_mean": round(sum(first) / len(first), 3),
        "tokens": produced,
        "edit_s": edits,
        "recalled_after_all_edits": recalled,
    }
