"""Chat replies from a vLLM server (``generation: vllm``): sleepmem as the memory control
plane in front of it. vLLM serves the base model with ``--enable-lora``; sleepmem keeps
doing the edits and the sleep, exports each user's live memory as a PEFT adapter into a
folder vLLM can read, loads it through vLLM's runtime adapter API, and asks for each reply
with that user's adapter as the model.

vLLM's routes used (``VLLM_ALLOW_RUNTIME_LORA_UPDATING=True`` on its side):
``POST /v1/load_lora_adapter {"lora_name", "lora_path"}``, ``POST /v1/unload_lora_adapter
{"lora_name"}`` and ``POST /v1/completions`` with the prompt as token ids, so vLLM reads
exactly the tokens sleepmem's chat template made. vLLM scales every module by the config's
``lora_alpha / r`` (it ignores ``rank_pattern``); the export sets both to the largest rank,
so the scale is 1 everywhere, as the edit needs.

As with llama.cpp (``exports.live``), the next reply after an edit or a sleep exports and
loads the new adapter; adapters of factors nobody holds are unloaded.
"""

from __future__ import annotations

import itertools
import json
import logging
import shutil
import threading
import urllib.error
import urllib.request
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from .backends.base import Factors, GenerationResponse
from .errors import BackendUnavailable, ModelError
from .exports import peft_format
from .exports.live import LiveAdapters
from .exports.lowrank import LoraPair

log = logging.getLogger(__name__)


class VllmReplies:
    """Replies from the vLLM server at ``url`` (its base, e.g. ``http://gpu:8000``)."""

    def __init__(
        self,
        url: str,
        model: str,
        adapters_dir: Path,
        base_model: str | None = None,
        max_rank: int | None = None,
        timeout: float = 600.0,
    ) -> None:
        self._url = url.rstrip("/").removesuffix("/v1")
        self._model = model  # vLLM's name for the base model (``--served-model-name``)
        self._folder = Path(adapters_dir).expanduser()
        self._folder.mkdir(parents=True, exist_ok=True)
        self._base_model = base_model
        self._timeout = timeout
        self._run = f"{threading.get_ident():x}{id(self):x}"[-8:]
        self._numbers = itertools.count()
        self._adapters = LiveAdapters(self._load, self._unload, max_rank)

    def generate(
        self, ids: Sequence[int], max_new_tokens: int, factors: Factors | None = None
    ) -> Iterator[GenerationResponse]:
        """Greedy reply to the prompt ``ids`` with ``factors`` as a LoRA adapter, streamed
        as vLLM streams it."""
        body = {
            "model": self.adapter(factors) or self._model,
            "prompt": list(ids),
            "max_tokens": max_new_tokens,
            "temperature": 0,
            "stream": True,
            "stream_options": {"include_usage": True},
        }
        produced, finish = 0, "length"
        for event in self._stream("/v1/completions", body):
            for choice in event.get("choices") or []:
                if choice.get("text"):
                    produced += 1  # vLLM streams a token per chunk; usage has the count
                    yield GenerationResponse(choice["text"], len(ids), produced)
                finish = choice.get("finish_reason") or finish
            usage = event.get("usage")
            if usage:
                produced = int(usage.get("completion_tokens", produced))
        yield GenerationResponse("", len(ids), produced, "length" if finish == "length" else "stop")

    def adapter(self, factors: Factors | None) -> str | None:
        """vLLM's name for the adapter of ``factors``, exported and loaded on first use."""
        return self._adapters.of(factors)

    def _load(self, pairs: dict[int, LoraPair]) -> str:
        name = f"sleepmem-{self._run}-{next(self._numbers)}"
        folder = self._folder / name
        folder.mkdir()
        peft_format.write_peft(
            pairs, folder, self._base_model, np.dtype(np.float32), {"sleepmem": name}
        )
        self._post("/v1/load_lora_adapter", {"lora_name": name, "lora_path": str(folder)})
        return name

    def _unload(self, name: str) -> None:
        try:
            self._post("/v1/unload_lora_adapter", {"lora_name": name})
        except ModelError as exc:  # a server that restarted or went holds nothing to unload
            log.warning("could not unload adapter %s from vLLM: %s", name, exc)
        shutil.rmtree(self._folder / name, ignore_errors=True)

    def close(self) -> None:
        self._adapters.release_all()

    # ------------------------------------------------------------------ HTTP
    def _request(self, path: str, body: dict[str, Any]) -> Any:
        request = urllib.request.Request(
            self._url + path,
            data=json.dumps(body).encode(),
            headers={"Content-Type": "application/json"},
            method="POST",
        )
        try:
            return urllib.request.urlopen(request, timeout=self._timeout)
        except urllib.error.HTTPError as exc:
            detail = exc.read().decode(errors="replace")[:500]
            raise ModelError(
                f"vLLM at {self._url} answered {path} with {exc.code}: {detail}"
            ) from None
        except OSError as exc:
            raise BackendUnavailable(f"vLLM at {self._url} is unreachable ({path}): {exc}") from exc

    def _post(self, path: str, body: dict[str, Any]) -> None:
        with self._request(path, body) as response:
            response.read()

    def _stream(self, path: str, body: dict[str, Any]) -> Iterator[dict[str, Any]]:
        """The server-sent events of a streamed request, as parsed JSON."""
        with self._request(path, body) as response:
            for raw in response:
                line = raw.decode().strip()
                if not line.startswith("data:"):
                    continue
                data = line[5:].strip()
                if data == "[DONE]":
                    return
                yield json.loads(data)
