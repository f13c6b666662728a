"""vLLM's adapter routes served by transformers + PEFT, for testing ``generation: vllm``.

vLLM itself needs a GPU and its own wheels; what sleepmem relies on is its HTTP contract
(``/v1/load_lora_adapter``, ``/v1/unload_lora_adapter``, ``/v1/completions`` with token-id
prompts and an adapter's name as the model, streamed as server-sent events) and that it
loads the exported PEFT folder as PEFT does. This server keeps that contract on a real
model with PEFT doing the adapter math, on loopback.
"""

from __future__ import annotations

import asyncio
import json
import threading
from pathlib import Path
from typing import Any

from aiohttp import web


class PeftVllm:
    """A running server: ``.url``, ``.loaded`` (adapter names), ``.requests`` (models asked)."""

    def __init__(self, model_dir: Path, served_name: str) -> None:
        import torch
        from transformers import AutoModelForCausalLM, AutoTokenizer

        self._torch = torch
        self._model = AutoModelForCausalLM.from_pretrained(str(model_dir), dtype=torch.float32)
        self._tokenizer = AutoTokenizer.from_pretrained(str(model_dir))
        self._peft: Any = None
        self.served_name = served_name
        self.loaded: set[str] = set()
        self.requests: list[str] = []
        self.url = ""
        self._loop = asyncio.new_event_loop()
        self._runner: web.AppRunner | None = None
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)

    # ------------------------------------------------------------------ routes
    async def load(self, request: web.Request) -> web.Response:
        body = await request.json()
        name, path = body["lora_name"], body["lora_path"]
        if name in self.loaded:
            return web.Response(
                status=400, text=f"The lora adapter '{name}' has already been loaded."
            )
        from peft import PeftModel

        if self._peft is None:
            self._peft = PeftModel.from_pretrained(self._model, path, adapter_name=name)
        else:
            self._peft.load_adapter(path, adapter_name=name)
        self.loaded.add(name)
        return web.Response(text=f"Success: LoRA adapter '{name}' added successfully.")

    async def unload(self, request: web.Request) -> web.Response:
        name = (await request.json())["lora_name"]
        if name not in self.loaded:
            return web.Response(status=404, text=f"The lora adapter '{name}' cannot be found.")
        self._peft.delete_adapter(name)
        self.loaded.discard(name)
        return web.Response(text=f"Success: LoRA adapter '{name}' removed successfully.")

    async def completions(self, request: web.Request) -> web.StreamResponse:
        body = await request.json()
        model = body["model"]
        if model != self.served_name and model not in self.loaded:
            return web.json_response(
                {"error": {"message": f"model {model} does not exist"}}, status=404
            )
        self.requests.append(model)
        new = self._generate(body["prompt"], int(body["max_tokens"]), model)
        response = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
        await response.prepare(request)
        stop = new and new[-1] == self._tokenizer.eos_token_id
        pieces = new[:-1] if stop else new
        text = ""
        for n in range(len(pieces)):
            whole = self._tokenizer.decode(pieces[: n + 1], skip_special_tokens=True)
            chunk = {"choices": [{"index": 0, "text": whole[len(text) :], "finish_reason": None}]}
            text = whole
            await response.write(f"data: {json.dumps(chunk)}\n\n".encode())
        end = {"choices": [{"index": 0, "text": "", "finish_reason": "stop" if stop else "length"}]}
        usage = {
            "choices": [],
            "usage": {"prompt_tokens": len(body["prompt"]), "completion_tokens": len(new)},
        }
        for event in (end, usage):
            await response.write(f"data: {json.dumps(event)}\n\n".encode())
        await response.write(b"data: [DONE]\n\n")
        return response

    def _generate(self, prompt: list[int], max_tokens: int, model: str) -> list[int]:
        torch = self._torch
        ids = torch.tensor([prompt])
        with torch.inference_mode():
            if model == self.served_name:
                if self._peft is None:
                    out = self._model.generate(ids, max_new_tokens=max_tokens, do_sample=False)
                else:
                    with self._peft.disable_adapter():
                        out = self._peft.generate(
                            input_ids=ids, max_new_tokens=max_tokens, do_sample=False
                        )
            else:
                self._peft.set_adapter(model)
                out = self._peft.generate(input_ids=ids, max_new_tokens=max_tokens, do_sample=False)
        return out[0, len(prompt) :].tolist()

    # ------------------------------------------------------------------ lifecycle
    def start(self) -> PeftVllm:
        app = web.Application()
        app.router.add_post("/v1/load_lora_adapter", self.load)
        app.router.add_post("/v1/unload_lora_adapter", self.unload)
        app.router.add_post("/v1/completions", self.completions)

        async def up() -> str:
            self._runner = web.AppRunner(app)
            await self._runner.setup()
            site = web.TCPSite(self._runner, "127.0.0.1", 0)
            await site.start()
            port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
            return f"http://127.0.0.1:{port}"

        self._thread.start()
        self.url = asyncio.run_coroutine_threadsafe(up(), self._loop).result()
        return self

    def stop(self) -> None:
        if self._runner is not None:
            asyncio.run_coroutine_threadsafe(self._runner.cleanup(), self._loop).result()
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join()
