"""llama.cpp generation with one memory's exported adapter at a time (llama-cpp-python).

One model and one context serve every user: each call sets exactly the adapter it names
(or none) on the context and starts from an empty KV cache. Starting empty is what keeps
users apart: llama-cpp-python's ``generate`` reuses the cached prefix of the previous
prompt, and that cache was computed under the previous call's adapter, so two users
asking the same question would otherwise share the first one's edited hidden states.

Prompts go in as token ids from the Hugging Face tokenizer the edits were keyed with, so
both runtimes read exactly the same tokens.
"""

from __future__ import annotations

import contextlib
import ctypes
import logging
import os
import threading
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from .errors import BackendUnavailable, ModelError

log = logging.getLogger(__name__)

REBUILD = (
    'CMAKE_ARGS="-DGGML_OPENMP=OFF" pip install --force-reinstall --no-cache-dir --no-deps '
    "llama-cpp-python"
)


def _llama_cpp() -> Any:
    try:
        import llama_cpp
    except ImportError as exc:
        raise BackendUnavailable(
            "llama.cpp generation needs llama-cpp-python, built from source (a few minutes) "
            "without OpenMP: CMAKE_ARGS=\"-DGGML_OPENMP=OFF\" pip install 'sleepmem[llamacpp]'"
        ) from exc
    return llama_cpp


_LOADING = threading.Lock()


@contextlib.contextmanager
def _plain_cpu_buffers(lib: Any) -> Iterator[None]:
    """Load models without ggml's "extra" CPU buffer types (AMX, repacked weights).

    On a CPU with AMX, llama.cpp puts the weights in its AMX buffer, and on a 2-core Xeon
    with AMX that path was wrong for the default model: llama-cpp-python 0.3.16 decoded
    other text than the same weights in torch ("What should I cook tonight?" answered with
    "The original text is a variation of..."), 0.3.34 and 0.3.36 crashed (SIGSEGV) on the
    first decode. With plain buffers all three give torch's replies. Llama() reads its model
    parameters from ``llama_model_default_params`` and has no argument for this field, so
    the defaults are swapped while it loads.
    """
    module = lib.llama_cpp
    default = module.llama_model_default_params

    def params() -> Any:
        value = default()
        if hasattr(value, "use_extra_bufts"):  # bindings older than the field have no AMX path
            value.use_extra_bufts = False
        return value

    with _LOADING:
        module.llama_model_default_params = params
        try:
            yield
        finally:
            module.llama_model_default_params = default


class LlamaCpp:
    """A GGUF base model in llama.cpp plus the adapters loaded onto it (by file)."""

    def __init__(self, model: Path, n_ctx: int = 2048, n_threads: int | None = None) -> None:
        self._lib = _llama_cpp()
        threads = n_threads or int(os.environ.get("SLEEPMEM_THREADS", "0") or 0) or None
        with _plain_cpu_buffers(self._lib):
            self.llm = self._lib.Llama(
                model_path=str(model),
                n_ctx=n_ctx,
                n_threads=threads,
                n_threads_batch=threads,
                verbose=False,
            )
        if b"OPENMP = 1" in self._lib.llama_print_system_info():
            # torch and ggml then share one libgomp; once torch has run a parallel region
            # (any edit), libgomp counts more threads than cores and makes every barrier a
            # futex sleep: 96 tokens took 3.4 s instead of 1.3 s in the server (measured).
            log.warning(
                "llama.cpp was built with OpenMP, which slows its replies about 2.6x once "
                "torch has run in this process; rebuild it with its own threads: %s",
                REBUILD,
            )
        self._adapters: dict[tuple[str, float], Any] = {}
        self._lock = threading.Lock()  # one context: one generation at a time

    def adapter(self, path: Path) -> Any:
        """The loaded adapter of ``path``, loaded once per file version (an export
        replaces the file, which changes its mtime, so a re-export is loaded afresh)."""
        path = Path(path).resolve()
        key = (str(path), path.stat().st_mtime)
        if key not in self._adapters:
            handle = self._lib.llama_adapter_lora_init(self.llm._model.model, str(path).encode())
            if not handle:
                raise ModelError(f"llama.cpp refused the adapter {path} (see its log above)")
            for old in [k for k in self._adapters if k[0] == key[0]]:
                self._lib.llama_adapter_lora_free(self._adapters.pop(old))
            self._adapters[key] = handle
        return self._adapters[key]

    def forget(self, path: Path) -> None:
        """Free every loaded version of the adapter file ``path``."""
        path = Path(path).resolve()
        with self._lock:
            for key in [k for k in self._adapters if k[0] == str(path)]:
                self._lib.llama_adapter_lora_free(self._adapters.pop(key))

    def _use(self, adapter: Any) -> None:
        lib, ctx = self._lib, self.llm._ctx.ctx
        if hasattr(lib, "llama_set_adapters_lora"):  # llama-cpp-python >= 0.3.17
            if adapter is None:
                failed = lib.llama_set_adapters_lora(ctx, None, 0, None)
            else:
                handles = (lib.llama_adapter_lora_p_ctypes * 1)(adapter)
                scales = (ctypes.c_float * 1)(1.0)
                failed = lib.llama_set_adapters_lora(ctx, handles, 1, scales)
        else:  # older bindings: clear, then set one
            lib.llama_clear_adapter_lora(ctx)
            failed = adapter is not None and lib.llama_set_adapter_lora(ctx, adapter, 1.0)
        if failed:
            raise ModelError("llama.cpp could not set the adapter on its context")
        # Forget the previous call's tokens and KV entries (see the module docstring).
        self.llm.reset()
        self.llm._ctx.kv_cache_clear()

    def generate(
        self,
        ids: Sequence[int],
        max_new_tokens: int,
        adapter: Path | None = None,
        stop_ids: frozenset[int] = frozenset(),
    ) -> Iterator[int]:
        """Greedy new token ids after the prompt ``ids`` with ``adapter`` (a GGUF adapter
        file) applied, or the bare base model when None; stops at ``stop_ids`` or EOS."""
        with self._lock:
            self._use(self.adapter(adapter) if adapter is not None else None)
            stops = set(stop_ids) | {self.llm.token_eos()}
            stream = self.llm.generate(list(ids), temp=0.0, top_k=1, repeat_penalty=1.0)
            for count, token in enumerate(stream, 1):
                if token in stops:
                    break
                yield int(token)
                if count >= max_new_tokens:  # stop before decoding a token nobody reads
                    break

    def close(self) -> None:
        for handle in self._adapters.values():
            self._lib.llama_adapter_lora_free(handle)
        self._adapters.clear()
        self.llm.close()


def float16_copy(source: Path, target: Path | None = None) -> Path:
    """An F16 GGUF of ``source`` (its quantised weights dequantised by llama.cpp's own
    quantizer), written once beside it through a temporary file.

    On a Q4_1 base llama.cpp multiplies the weights by activations rounded to 8 bits, so its
    greedy replies part from torch's after a few tokens (measured on the export benchmark:
    47% of the default model's replies identical with no memory at all, 80% with one); on
    the F16 copy they were all identical, with and without the memory, at about two thirds
    of the Q4_1 speed."""
    lib = _llama_cpp()
    source = Path(source)
    target = Path(target) if target else source.with_name(f"{source.stem}.F16.gguf")
    if target.is_file():
        return target
    partial = target.with_name(f".{target.name}.partial-{os.getpid()}")
    params = lib.llama_model_quantize_default_params()
    params.ftype = lib.LLAMA_FTYPE_MOSTLY_F16
    params.allow_requantize = True
    try:
        with _quiet_native_output():  # llama.cpp prints a line per tensor
            failed = lib.llama_model_quantize(
                str(source).encode(), str(partial).encode(), ctypes.byref(params)
            )
        if failed:
            raise ModelError(f"llama.cpp could not write an F16 copy of {source}")
        os.replace(partial, target)
    finally:
        partial.unlink(missing_ok=True)
    return target


@contextlib.contextmanager
def _quiet_native_output() -> Iterator[None]:
    """Point file descriptors 1 and 2 at /dev/null while native code runs (Python's own
    ``sys.stdout`` redirection does not reach what C writes)."""
    saved = [os.dup(fd) for fd in (1, 2)]
    null = os.open(os.devnull, os.O_WRONLY)
    try:
        for fd in (1, 2):
            os.dup2(null, fd)
        yield
    finally:
        for fd, copy in zip((1, 2), saved):
            os.dup2(copy, fd)
            os.close(copy)
        os.close(null)
