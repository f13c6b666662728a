"""Typed trees of frozen dataclasses, filled from YAML, the environment and overrides.

What ``config`` needs that is not sleepmem's settings themselves: checking and converting a
value against its field's annotation (strings from the environment become numbers, lists
become tuples), applying a nested mapping to a tree of sections with errors that name the
key and the nearest valid one, and reading the layers (a YAML file, ``<PREFIX><SECTION>__<FIELD>``
variables, dotted overrides). Generic over the root dataclass, so it holds no settings.
"""

from __future__ import annotations

import dataclasses
import difflib
import types
import typing
from collections.abc import Mapping
from dataclasses import field, fields, is_dataclass
from pathlib import Path
from typing import Any

import yaml

from .errors import ConfigError

ENV_SEP = "__"

_TRUE = {"1", "true", "yes", "on", "y"}
_FALSE = {"0", "false", "no", "off", "n"}
_NONE = {"none", "null", "~"}


def opt(default: Any, help: str, **checks: Any) -> Any:
    """A field with an immutable default, its help text and optional checks: ``choices``,
    ``ge``, ``gt``, ``le`` (applied to each element of a tuple; None is not checked)."""
    return field(default=default, metadata={"help": help, **checks})


def check_field(key: str, value: Any, f: dataclasses.Field[Any]) -> None:
    meta = f.metadata
    items = value if isinstance(value, tuple) else (value,)
    for v in items:
        if v is None or is_dataclass(v):
            continue
        if "choices" in meta and v not in meta["choices"]:
            choices = ", ".join(map(str, meta["choices"]))
            raise ConfigError(f"{key} must be one of {choices}, not {v!r}")
        if "ge" in meta and v < meta["ge"]:
            raise ConfigError(f"{key} must be >= {meta['ge']}, not {v!r}")
        if "gt" in meta and v <= meta["gt"]:
            raise ConfigError(f"{key} must be > {meta['gt']}, not {v!r}")
        if "le" in meta and v > meta["le"]:
            raise ConfigError(f"{key} must be <= {meta['le']}, not {v!r}")


class Section:
    """Mixin: every config dataclass checks its fields' ranges/choices on construction,
    so an EngineConfig built in code is held to the same rules as one loaded from YAML."""

    def __post_init__(self) -> None:
        for f in fields(self):  # type: ignore[arg-type]
            check_field(f.name, getattr(self, f.name), f)


# --------------------------------------------------------------------------- typing


def field_types(cls: type) -> dict[str, Any]:
    return typing.get_type_hints(cls)


def is_optional(tp: Any) -> bool:
    return typing.get_origin(tp) in (typing.Union, types.UnionType) and type(None) in (
        typing.get_args(tp)
    )


def type_name(tp: Any) -> str:
    origin = typing.get_origin(tp)
    if origin in (typing.Union, types.UnionType):
        return " | ".join(type_name(a) for a in typing.get_args(tp))
    if origin is tuple:
        args = typing.get_args(tp)
        return f"list[{type_name(args[0])}]" if args else "list"
    if origin is dict:
        k, v = typing.get_args(tp) or (str, str)
        return f"map[{type_name(k)}, {type_name(v)}]"
    if tp is type(None):
        return "none"
    return getattr(tp, "__name__", str(tp))


def _bad(key: str, tp: Any, value: Any) -> ConfigError:
    return ConfigError(f"{key} must be {type_name(tp)}, not {value!r}")


def coerce(key: str, value: Any, tp: Any) -> Any:
    """Check ``value`` against the annotation ``tp`` and convert the lossless cases
    (int -> float, list -> tuple, strings from the environment -> numbers/bools)."""
    origin = typing.get_origin(tp)
    if origin in (typing.Union, types.UnionType):
        args = typing.get_args(tp)
        if value is None or (isinstance(value, str) and value.strip().lower() in _NONE):
            if type(None) in args:
                return None
            raise _bad(key, tp, value)
        rest = [a for a in args if a is not type(None)]
        if len(rest) != 1:  # pragma: no cover - no such fields yet
            raise ConfigError(f"{key}: unsupported type {tp}")
        return coerce(key, value, rest[0])
    if value is None:
        raise _bad(key, tp, value)
    if tp is bool:
        if isinstance(value, bool):
            return value
        if isinstance(value, int) and value in (0, 1):
            return bool(value)
        if isinstance(value, str) and value.strip().lower() in _TRUE | _FALSE:
            return value.strip().lower() in _TRUE
        raise _bad(key, tp, value)
    if tp is int:
        if isinstance(value, bool):
            raise _bad(key, tp, value)
        if isinstance(value, int):
            return value
        if isinstance(value, float) and value.is_integer():
            return int(value)
        if isinstance(value, str):
            try:
                return int(value.strip())
            except ValueError:
                pass
        raise _bad(key, tp, value)
    if tp is float:
        if isinstance(value, bool):
            raise _bad(key, tp, value)
        if isinstance(value, (int, float)):
            return float(value)
        if isinstance(value, str):
            try:
                return float(value.strip())
            except ValueError:
                pass
        raise _bad(key, tp, value)
    if tp is str:
        if isinstance(value, str):
            return value
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return str(value)
        raise _bad(key, tp, value)
    if origin is dict:
        if isinstance(value, str):
            text = value.strip()
            try:  # the environment gives a YAML/JSON mapping or "k=v,k2=v2"
                value = (
                    yaml.safe_load(text)
                    if text.startswith("{")
                    else dict(part.split("=", 1) for part in text.split(",") if part.strip())
                )
            except (yaml.YAMLError, ValueError):
                raise _bad(key, tp, value) from None
        if not isinstance(value, Mapping):
            raise _bad(key, tp, value)
        k_tp, v_tp = typing.get_args(tp) or (str, str)
        return {
            coerce(f"{key} key", k, k_tp): coerce(f"{key}[{k}]", v, v_tp) for k, v in value.items()
        }
    if origin is tuple:
        args = typing.get_args(tp)
        elem = args[0] if args else str
        if isinstance(value, str):
            text = value.strip()
            if text.startswith("["):
                try:
                    value = yaml.safe_load(text)
                except yaml.YAMLError:
                    raise _bad(key, tp, value) from None
            else:
                value = [s.strip() for s in text.split(",") if s.strip()]
        if not isinstance(value, (list, tuple)):
            raise _bad(key, tp, value)
        return tuple(coerce(f"{key}[{i}]", v, elem) for i, v in enumerate(value))
    raise ConfigError(f"{key}: unsupported type {tp}")  # pragma: no cover


# --------------------------------------------------------------------------- applying


def all_keys(cls: type, prefix: str = "") -> list[str]:
    out: list[str] = []
    hints = field_types(cls)
    for f in fields(cls):
        key = prefix + f.name
        if is_dataclass(hints[f.name]):
            out.extend(all_keys(hints[f.name], key + "."))
        else:
            out.append(key)
    return out


def unknown_key(key: str, section: type, root: type) -> ConfigError:
    """'unknown key X; did you mean Y?' -- Y from the same section, else any section
    (so a top-level ``v_lr`` points to ``editor.v_lr``)."""
    name = key.rsplit(".", 1)[-1]
    prefix = key[: len(key) - len(name)]
    names = [f.name for f in fields(section)]
    close = difflib.get_close_matches(name, names, n=1, cutoff=0.6)
    if close:
        suggestion = prefix + close[0]
    else:
        everywhere = all_keys(root)
        last = {k.rsplit(".", 1)[-1]: k for k in everywhere}
        close = difflib.get_close_matches(name, list(last), n=1, cutoff=0.6)
        suggestion = last[close[0]] if close else ""
    if suggestion:
        return ConfigError(f"unknown config key {key!r}; did you mean {suggestion!r}?")
    valid = ", ".join(prefix + n for n in names)
    return ConfigError(f"unknown config key {key!r}; valid keys here: {valid}")


def apply(obj: Any, data: Mapping[str, Any], prefix: str, root: type) -> Any:
    """Return ``obj`` with the fields in ``data`` replaced (sections recursively)."""
    cls = type(obj)
    hints = field_types(cls)
    by_name = {f.name: f for f in fields(cls)}
    changes: dict[str, Any] = {}
    for name, value in data.items():
        key = f"{prefix}{name}"
        if not isinstance(name, str) or name not in by_name:
            raise unknown_key(str(key), cls, root)
        tp = hints[name]
        if is_dataclass(tp):
            if value is None:  # an empty YAML section (all keys commented out)
                continue
            if not isinstance(value, Mapping):
                raise ConfigError(f"{key} is a section and must be a mapping, not {value!r}")
            changes[name] = apply(getattr(obj, name), value, key + ".", root)
        else:
            coerced = coerce(key, value, tp)
            check_field(key, coerced, by_name[name])
            changes[name] = coerced
    return dataclasses.replace(obj, **changes) if changes else obj


def with_source(source: str, fn: Any, *args: Any) -> Any:
    try:
        return fn(*args)
    except ConfigError as e:
        raise ConfigError(f"{source}: {e}") from None


# --------------------------------------------------------------------------- layers


def nest_dotted(data: Mapping[str, Any]) -> dict[str, Any]:
    """{"editor.v_lr": 1} -> {"editor": {"v_lr": 1}}; nested dicts are merged."""
    out: dict[str, Any] = {}
    for key, value in data.items():
        parts = str(key).split(".")
        node = out
        for part in parts[:-1]:
            nxt = node.setdefault(part, {})
            if not isinstance(nxt, dict):
                raise ConfigError(f"override {key!r} conflicts with a value for {part!r}")
            node = nxt
        leaf = parts[-1]
        if isinstance(value, Mapping) and isinstance(node.get(leaf), dict):
            node[leaf].update(nest_dotted(value))
        elif isinstance(value, Mapping):
            node[leaf] = nest_dotted(value)
        else:
            node[leaf] = value
    return out


def drop_none(data: Mapping[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for k, v in data.items():
        if isinstance(v, Mapping):
            out[k] = drop_none(v)
        elif v is not None:
            out[k] = v
    return out


def env_entries(
    env: Mapping[str, str], root: type, prefix: str
) -> list[tuple[str, dict[str, Any]]]:
    """``(variable name, nested dict)`` for each SLEEPMEM_* variable that is config."""
    top = {f.name for f in fields(root)}
    sections = {f.name for f in fields(root) if is_dataclass(field_types(root)[f.name])}
    out: list[tuple[str, dict[str, Any]]] = []
    for var in sorted(env):
        if not var.upper().startswith(prefix):
            continue
        parts = var[len(prefix) :].lower().split(ENV_SEP)
        if any(not p for p in parts):
            raise ConfigError(f"environment variable {var}: malformed name")
        if len(parts) == 1:
            if parts[0] in sections:
                raise ConfigError(
                    f"environment variable {var}: {parts[0]!r} is a section; set its "
                    f"fields with {prefix}{parts[0].upper()}{ENV_SEP}<FIELD>"
                )
            if parts[0] not in top:
                continue  # some other sleepmem setting, e.g. SLEEPMEM_CONFIG
        nested: dict[str, Any] = {}
        node = nested
        for p in parts[:-1]:
            node = node.setdefault(p, {})
        node[parts[-1]] = env[var]
        out.append((var, nested))
    return out


def read_yaml(path: Path) -> dict[str, Any]:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as e:
        raise ConfigError(f"cannot read config file {path}: {e.strerror or e}") from e
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as e:
        raise ConfigError(f"config file {path} is not valid YAML: {e}") from e
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(f"config file {path} must hold a mapping of keys, not {data!r}")
    return data
