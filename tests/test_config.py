"""Configuration loading: layering, validation and the error messages users see."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest
import yaml
from sleepmem.engine.config import (
    EditorConfig,
    EngineConfig,
    config_to_dict,
    default_config_path,
    describe_config,
    load_config,
)
from sleepmem.engine.errors import ConfigError

NO_ENV: dict[str, str] = {}


def write(tmp_path: Path, data: object, name: str = "config.yaml") -> Path:
    p = tmp_path / name
    p.write_text(data if isinstance(data, str) else yaml.safe_dump(data))
    return p


def test_defaults() -> None:
    cfg = load_config(None, env=NO_ENV, discover=False)
    assert cfg == EngineConfig()
    assert cfg.model == "default"
    assert cfg.editor.layers == (3, 4, 5, 6, 7, 8, 9, 10)
    assert cfg.editor.target_layer == 10
    assert cfg.extractors == ("rules",)


def test_frozen() -> None:
    cfg = EngineConfig()
    with pytest.raises(dataclasses.FrozenInstanceError):
        cfg.model = "x"  # type: ignore[misc]


def test_round_trip(tmp_path: Path) -> None:
    cfg = EngineConfig(
        model="/models/x",
        device="cpu",
        extractors=("rules", "llm"),
        editor=EditorConfig(layers=(2, 3), v_layer=3, v_lr=0.1, nullspace=False),
    )
    data = config_to_dict(cfg)
    assert data["editor"]["layers"] == [2, 3]
    json.dumps(data)
    loaded = load_config(write(tmp_path, data), env=NO_ENV)
    assert loaded == cfg


def test_file_values_coerced(tmp_path: Path) -> None:
    p = write(
        tmp_path,
        "model: ./m\neditor:\n  layers: [1, 2]\n  v_lr: 1\n  v_steps: 10.0\n"
        "  nullspace: 'off'\n  v_layer: null\n",
    )
    cfg = load_config(p, env=NO_ENV)
    assert cfg.editor.layers == (1, 2)
    assert isinstance(cfg.editor.v_lr, float) and cfg.editor.v_lr == 1.0
    assert cfg.editor.v_steps == 10 and isinstance(cfg.editor.v_steps, int)
    assert cfg.editor.nullspace is False
    assert cfg.editor.v_layer is None


def test_empty_file_and_empty_section(tmp_path: Path) -> None:
    assert load_config(write(tmp_path, ""), env=NO_ENV) == EngineConfig()
    assert load_config(write(tmp_path, "editor:\n"), env=NO_ENV) == EngineConfig()


@pytest.mark.parametrize(
    ("data", "bad", "suggestion"),
    [
        ({"modle": "x"}, "'modle'", "'model'"),
        ({"editor": {"v_lrr": 1}}, "'editor.v_lrr'", "'editor.v_lr'"),
        ({"v_lr": 1}, "'v_lr'", "'editor.v_lr'"),
        ({"editr": {}}, "'editr'", "'editor'"),
    ],
)
def test_unknown_key_suggests(tmp_path: Path, data: dict, bad: str, suggestion: str) -> None:
    p = write(tmp_path, data)
    with pytest.raises(ConfigError) as err:
        load_config(p, env=NO_ENV)
    msg = str(err.value)
    assert bad in msg and f"did you mean {suggestion}" in msg
    assert str(p) in msg


def test_unknown_key_without_close_match_lists_valid(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"valid keys here: .*editor\.layers"):
        load_config(write(tmp_path, {"editor": {"zzzzzz": 1}}), env=NO_ENV)


@pytest.mark.parametrize(
    ("data", "pattern"),
    [
        ({"editor": {"layers": "abc"}}, r"editor\.layers\[0\] must be int"),
        ({"editor": {"layers": 5}}, r"editor\.layers must be list\[int\]"),
        ({"editor": {"layers": [1, True]}}, r"editor\.layers\[1\] must be int"),
        ({"editor": {"v_steps": 2.5}}, r"editor\.v_steps must be int"),
        ({"editor": {"v_steps": True}}, r"editor\.v_steps must be int"),
        ({"editor": {"v_lr": "fast"}}, r"editor\.v_lr must be float"),
        ({"editor": {"nullspace": "maybe"}}, r"editor\.nullspace must be bool"),
        ({"editor": 3}, r"editor is a section"),
        ({"model": ["a"]}, r"model must be str"),
        ({"model": None}, r"model must be str"),
        ({"dtype": "int4"}, r"dtype must be one of float32, float16, bfloat16"),
        ({"max_new_tokens": 0}, r"max_new_tokens must be >= 1"),
        ({"editor": {"nullspace_energy": 1.5}}, r"nullspace_energy must be <= 1"),
        ({"editor": {"v_lr": 0}}, r"v_lr must be > 0"),
        ({"editor": {"layers": []}}, r"at least one layer"),
        ({"editor": {"layers": [3, 3]}}, r"duplicates"),
        ({"editor": {"layers": [-1]}}, r"must be >= 0"),
    ],
)
def test_bad_values(tmp_path: Path, data: dict, pattern: str) -> None:
    with pytest.raises(ConfigError, match=pattern):
        load_config(write(tmp_path, data), env=NO_ENV)


def test_bad_yaml_and_non_mapping(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_config(write(tmp_path, "model: [unclosed"), env=NO_ENV)
    with pytest.raises(ConfigError, match="must hold a mapping"):
        load_config(write(tmp_path, "- a\n- b\n"), env=NO_ENV)
    with pytest.raises(ConfigError, match="cannot read config file"):
        load_config(tmp_path / "missing.yaml", env=NO_ENV)


def test_env_overrides() -> None:
    env = {
        "SLEEPMEM_MODEL": "/m",
        "SLEEPMEM_MAX_NEW_TOKENS": "64",
        "SLEEPMEM_EXTRACTORS": "rules, llm",
        "SLEEPMEM_EDITOR__V_LR": "0.25",
        "SLEEPMEM_EDITOR__LAYERS": "[4, 5]",
        "SLEEPMEM_EDITOR__NULLSPACE": "false",
        "SLEEPMEM_EDITOR__V_LAYER": "none",
        "SLEEPMEM_LOG_LEVEL": "debug",  # not config: ignored
        "OTHER": "x",
    }
    cfg = load_config(None, env=env, discover=False)
    assert cfg.model == "/m"
    assert cfg.max_new_tokens == 64
    assert cfg.extractors == ("rules", "llm")
    assert cfg.editor.v_lr == 0.25
    assert cfg.editor.layers == (4, 5)
    assert cfg.editor.nullspace is False
    assert cfg.editor.v_layer is None
    assert load_config(
        None, env={"SLEEPMEM_EDITOR__LAYERS": "6,7"}, discover=False
    ).editor.layers == (
        6,
        7,
    )


def test_env_errors_name_the_variable() -> None:
    with pytest.raises(ConfigError, match=r"SLEEPMEM_EDITOR__V_LRR.*did you mean 'editor.v_lr'"):
        load_config(None, env={"SLEEPMEM_EDITOR__V_LRR": "1"}, discover=False)
    with pytest.raises(ConfigError, match=r"SLEEPMEM_EDITOR__V_STEPS.*must be int"):
        load_config(None, env={"SLEEPMEM_EDITOR__V_STEPS": "many"}, discover=False)
    with pytest.raises(ConfigError, match=r"SLEEPMEM_EDITOR.*is a section"):
        load_config(None, env={"SLEEPMEM_EDITOR": "x"}, discover=False)


def test_layer_precedence(tmp_path: Path) -> None:
    p = write(tmp_path, {"model": "file", "device": "file", "editor": {"v_lr": 0.1, "v_steps": 3}})
    env = {"SLEEPMEM_DEVICE": "env", "SLEEPMEM_EDITOR__V_LR": "0.2"}
    cfg = load_config(p, overrides={"editor.v_lr": 0.3, "model": None, "backend": "mlx"}, env=env)
    assert cfg.model == "file"  # None override = flag not given
    assert cfg.device == "env"
    assert cfg.backend == "mlx"
    assert cfg.editor.v_lr == 0.3
    assert cfg.editor.v_steps == 3
    nested = load_config(p, overrides={"editor": {"v_steps": 9}}, env=env)
    assert nested.editor.v_steps == 9 and nested.editor.v_lr == 0.2


def test_override_errors() -> None:
    with pytest.raises(ConfigError, match=r"override: unknown config key 'editor\.nope'"):
        load_config(None, overrides={"editor.nope": 1}, env=NO_ENV, discover=False)


def test_discovery(tmp_path: Path) -> None:
    home = tmp_path / "h"
    home.mkdir()
    env = {"SLEEPMEM_HOME": str(home)}
    assert default_config_path(env) is None
    write(home, {"max_new_tokens": 12})
    assert load_config(None, env=env).max_new_tokens == 12
    assert load_config(None, env=env, discover=False).max_new_tokens == 256
    other = write(tmp_path, {"max_new_tokens": 13}, "other.yaml")
    assert load_config(None, env={**env, "SLEEPMEM_CONFIG": str(other)}).max_new_tokens == 13
    assert load_config(None, env=env).home == str(home)  # SLEEPMEM_HOME is also the field


def test_direct_construction_is_validated() -> None:
    with pytest.raises(ConfigError, match="dtype"):
        EngineConfig(dtype="int8")
    with pytest.raises(ConfigError, match="at least one layer"):
        EditorConfig(layers=())


def test_every_field_has_help() -> None:
    rows = describe_config()
    keys = {r["key"] for r in rows}
    assert {"model", "editor.layers", "editor.nullspace_energy", "editor.mom2_weight"} <= keys
    for r in rows:
        assert r["help"], f"{r['key']} has no help"
    envs = {r["key"]: r["env"] for r in rows}
    assert envs["editor.v_lr"] == "SLEEPMEM_EDITOR__V_LR"
    assert envs["max_new_tokens"] == "SLEEPMEM_MAX_NEW_TOKENS"
