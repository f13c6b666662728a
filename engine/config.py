"""sleepmem's configuration: frozen dataclasses, loaded from YAML, environment and overrides.

Why dataclasses and not a dict: every setting has one place that states its type, default
and meaning (``field(metadata={"help": ...})``), the CLI prints that help, and code gets
attribute access that a typo cannot silently miss. Frozen, because an engine shares its
config across threads and a setting changed underneath a running edit would be a bug.

Layers, later wins:

1. the dataclass defaults;
2. a YAML file: the ``path`` argument; or, when it is None, ``$SLEEPMEM_CONFIG``; or
   ``<home>/config.yaml`` if it exists (home = ``$SLEEPMEM_HOME`` or ``~/.sleepmem``);
3. environment variables (scheme below);
4. ``overrides``, e.g. command-line flags.

Environment scheme: ``SLEEPMEM_<FIELD>`` sets a top-level field (``SLEEPMEM_MODEL=/m``,
``SLEEPMEM_HOME=/data/sm``); ``SLEEPMEM_<SECTION>__<FIELD>`` (two underscores) sets a field
of a section (``SLEEPMEM_EDITOR__V_LR=0.3``), nesting further with more ``__``. Names are
case-insensitive. Values are parsed like YAML scalars would be for the field's type:
``true/false/1/0/yes/no/on/off`` for booleans, ``none``/``null`` for optional fields, and
``3,4,5`` or ``[3, 4, 5]`` for tuples. A ``SLEEPMEM_*`` name without ``__`` that is not a
field is ignored (other parts of sleepmem read their own variables, e.g.
``SLEEPMEM_CONFIG``), but a ``__`` name must name a real field: that namespace belongs to
the config, so a typo there is an error rather than a silently ignored setting.

Unknown keys are errors that name the key and the nearest valid one. Adding a section
(say ``server``) is one new dataclass plus one field on EngineConfig; nothing here changes.
"""

from __future__ import annotations

import dataclasses
import difflib
import os
import types
import typing
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, is_dataclass
from pathlib import Path
from typing import Any

import yaml

from .errors import ConfigError

ENV_PREFIX = "SLEEPMEM_"
ENV_SEP = "__"
CONFIG_FILE_ENV = "SLEEPMEM_CONFIG"
CONFIG_FILE_NAME = "config.yaml"

_TRUE = {"1", "true", "yes", "on", "y"}
_FALSE = {"0", "false", "no", "off", "n"}
_NONE = {"none", "null", "~"}


def _opt(default: Any, help: str, **checks: Any) -> Any:
    """A field with an immutable default, its help text and optional checks: ``choices``,
    ``ge``, ``gt``, ``le`` (applied to each element of a tuple; None is not checked)."""
    return field(default=default, metadata={"help": help, **checks})


def _check_field(key: str, value: Any, f: dataclasses.Field[Any]) -> None:
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


class _Section:
    """Mixin: every config dataclass checks its fields' ranges/choices on construction,
    so an EngineConfig built in code is held to the same rules as one loaded from YAML."""

    def __post_init__(self) -> None:
        for f in fields(self):  # type: ignore[arg-type]
            _check_field(f.name, getattr(self, f.name), f)


@dataclass(frozen=True)
class EditorConfig(_Section):
    """How facts are written into the weights (MEMIT-style multi-layer edits, optionally
    AlphaEdit's null-space projection). Defaults are tuned for SmolLM2-135M (30 layers)."""

    layers: tuple[int, ...] = _opt(
        (3, 4, 5, 6, 7, 8, 9, 10),
        "Layers (0-based) whose MLP output projection is edited; MEMIT spreads each edit "
        "over several consecutive early-middle layers. Measured on conversation_bench.json "
        "(2 users, editor alone, one edit, before sleep): 4-8 -> 3-10 raised persona with "
        "small talk 35% -> 88% and cut drift 3.7% -> 0.8%; 2-12 was worse than 3-10.",
        ge=0,
    )
    v_layer: int | None = _opt(
        None,
        "Layer whose output hidden state is optimised into the target vector v; "
        "none = the last of `layers`.",
        ge=0,
    )
    contexts: int = _opt(
        8,
        "Conversation contexts each fact is keyed and optimised under (engine/contexts.py): "
        "the template's default chat, an app system prompt, a persona card, small talk, a "
        "persona with small talk, then more draws. 1 = the default chat only (edits then "
        "miss under any system prompt or after earlier turns). 5 -> 8 (layers 3-10) raised "
        "fresh 82% -> 94% and persona 82% -> 100% on the probe above.",
        ge=1,
    )
    wordings: int = _opt(
        6,
        "Wordings of each fact's question: the extractor's own questions, then the engine's "
        "rewrites of their form (engine/wordings.py).",
        ge=1,
    )
    continued: int = _opt(
        0,
        "Prompts per fact (the first ones) also keyed at the answer's own tokens, so an "
        "answer that starts on an untrained wording finishes whole (prompts.continuations); "
        "0 = keys at the question's end only.",
        ge=0,
    )
    v_lr: float = _opt(0.5, "Adam learning rate when optimising the target vector v.", gt=0)
    v_steps: int = _opt(40, "Maximum optimisation steps per target vector.", ge=1)
    v_prompts: int = _opt(
        13,
        "Prompts (context x wording pairs) per fact that v* is optimised on (the most "
        "expensive part of an edit, linear in this number); the layer solve uses "
        "max_rank_per_fact of them. Measured on conversation_bench.json (3 users, editor "
        "alone, after sleep): 6 -> 10 with max_rank_per_fact 6 -> 10 and v_steps 25 -> 40 "
        "raised persona recall 42% -> 65% and small-talk recall 42% -> 77%, edits 21 -> 49 s; "
        "13 covers every one of the 8 contexts plus 6 wordings.",
        ge=1,
    )
    v_loss_stop: float = _opt(
        0.05,
        "Each fact's v* stops once its answer's mean NLL falls below this, and its prompts "
        "leave the batch. Lower is not better: at 0.02 a single remembered fact ('I am "
        "allergic to peanuts') came back as 'this is a child's play.', at 0.05 as "
        "'peanuts.' (layers 4-8). Per fact at 0.05 against running every fact until the "
        "slowest was below 0.05 (bench levers, ingrid): contexts 4.75 -> 4.38 (sum of five "
        "rates, 8 questions each), paraphrases 1 -> 3 of 24, edit 275 -> 232 s.",
        ge=0,
    )
    clamp_factor: float = _opt(
        4.0,
        "Caps ||delta|| of the target vector at clamp_factor times the norm of the original "
        "hidden state, so one fact cannot blow up a layer.",
        gt=0,
    )
    weight_decay: float = _opt(
        1e-3, "L2 penalty on the target-vector delta while optimising (prefers small edits).", ge=0
    )
    mom2_weight: float = _opt(
        300.0,
        "lambda: weight of the covariance C = E[k kᵀ] of unrelated keys in the MEMIT "
        "least-squares update. Larger = other inputs disturbed less, edits take less well.",
        ge=0,
    )
    nullspace: bool = _opt(
        False,
        "AlphaEdit: project every weight update onto the (approximate) null space of C, "
        "so keys of knowledge the model already has map to the same outputs as before.",
    )
    nullspace_energy: float = _opt(
        0.99,
        "Which eigenvectors of C count as its null space: sorted by eigenvalue, the "
        "smallest ones whose eigenvalues sum to at most (1 - nullspace_energy) of trace(C). "
        "0.99 lets updates use only directions carrying <=1% of the preserved keys' energy; "
        "lower values free more directions (edits take more easily, preserve less).",
        gt=0,
        le=1,
    )
    question_weight: float = _opt(
        1.0,
        "Weight of the preserved chat-question keys: keys at the last token of ordinary "
        "questions (shipped chat corpus) that an edit must leave alone. Without them edits "
        "keyed on question tokens fire on every question.",
        ge=0,
    )
    key_source: str = _opt(
        "questions",
        "Prompts an edit is keyed on: 'questions' (fresh-chat questions, keyed at the "
        "question's last token: reaches the chat), 'statements' (declarative prompts, "
        "MEMIT's classic raw-completion keys; kept for the ablation) or 'both'.",
        choices=("questions", "statements", "both"),
    )
    l2: float = _opt(
        1.0,
        "Ridge term added to the normal equations of the update (AlphaEdit's identity "
        "term); keeps the solve well conditioned, larger = smaller updates.",
        ge=0,
    )
    stats_tokens: int = _opt(
        20000,
        "Tokens of generic text used to estimate C for each edited layer (computed once "
        "per model and cached in the stats directory).",
        ge=1,
    )
    max_rank_per_fact: int | None = _opt(
        13,
        "Optional cap on the number of key directions (prompts) one fact contributes to an "
        "update; none = one per prompt (contexts + wordings - 1). Lower caps make each fact "
        "cheaper in weight space but cover fewer of its contexts.",
        ge=1,
    )

    def __post_init__(self) -> None:
        super().__post_init__()
        if not self.layers:
            raise ConfigError("editor.layers must list at least one layer")
        if len(set(self.layers)) != len(self.layers):
            raise ConfigError(f"editor.layers has duplicates: {list(self.layers)}")

    @property
    def target_layer(self) -> int:
        """The layer v is optimised at: ``v_layer``, or the last of ``layers``."""
        return self.v_layer if self.v_layer is not None else self.layers[-1]


@dataclass(frozen=True)
class ServerConfig(_Section):
    """`sleepmem serve`: the OpenAI-compatible HTTP server and its REST memory API."""

    host: str = _opt(
        "127.0.0.1",
        "Address to bind. Anything but loopback is refused unless api_keys is set, because "
        "every user's memory would otherwise be open to the network.",
    )
    port: int = _opt(8430, "TCP port to listen on (0 = any free port).", ge=0, le=65535)
    model_name: str = _opt(
        "sleepmem", "Model name the server lists at /v1/models and accepts in requests."
    )
    api_keys: dict[str, str] = field(
        default_factory=dict,
        metadata={
            "help": "Bearer API keys mapped to the user they act as: {key: user_id}. "
            "A key mapped to '*' is a trusted front end (it may name the user in the "
            "request's `user` field or Open WebUI's X-OpenWebUI-User-Id header). "
            "Empty = no authentication (loopback only)."
        },
    )
    admin_keys: tuple[str, ...] = _opt(
        (), "Bearer keys with admin scope: the memory API for every user, /v1/admin/*."
    )
    trust_user_headers: bool = _opt(
        True,
        "Take the user from Open WebUI's forwarded headers (X-OpenWebUI-User-Id, -Name, "
        "-Email) when present.",
    )
    default_user: str | None = _opt(
        None,
        "User for requests that name none (no `user` field, header or per-user key); "
        "none = such requests are refused with a 400, so a shared bot never mixes users.",
    )
    max_body_bytes: int = _opt(
        4 * 1024 * 1024, "Larger request bodies are refused with 413 before being read.", ge=1
    )
    wake: bool = _opt(
        True, "Extract facts from each user message and edit them in after the reply is sent."
    )
    chat_workers: int = _opt(
        4, "Threads generating replies concurrently (edits and sleep run on their own).", ge=1
    )
    cors_origins: tuple[str, ...] = _opt(
        (),
        "Browser origins allowed to call the server (CORS), e.g. SillyTavern's "
        "'http://localhost:8000'. Empty = none: a web page must not read memories through "
        "the user's browser. '*' allows any origin (only with api_keys).",
    )
    characters_dir: str | None = _opt(
        None,
        "Folder of Character Card V2 files (.json or .png); each card is served as its own "
        "model '<model_name>/<card name>'. none = <home>/characters.",
    )
    per_character_memory: bool = _opt(
        True,
        "Keep a separate memory per user per character (True) or one memory per user "
        "shared by every character (False).",
    )


@dataclass(frozen=True)
class ScheduleConfig(_Section):
    """When `sleepmem serve` (or the Discord bot) puts a user's memory to sleep by itself.
    Any trigger that fires starts a sleep; /sleep and the REST API always can."""

    cron: str | None = _opt(
        None,
        "Five-field cron expression (minute hour day month weekday, local time) at which "
        "every user with facts sleeps, e.g. '0 3 * * *'; none = off.",
    )
    idle_minutes: float | None = _opt(
        30.0,
        "Sleep a user after this many minutes without a message, if they have new edits "
        "since their last sleep; none = off.",
        gt=0,
    )
    pressure: float | None = _opt(
        8.0,
        "Sleep a user when their sleep pressure reaches this: edits since the last sleep "
        "plus 2 per fact whose last audit failed; none = off.",
        gt=0,
    )
    min_interval_minutes: float = _opt(
        10.0, "Never sleep the same user more often than this by schedule.", ge=0
    )
    check_seconds: float = _opt(30.0, "How often the scheduler looks at users.", gt=0)
    max_drift: float = _opt(
        0.03,
        "Sleep keeps its re-solved edits only if perplexity drift on general text stays "
        "below max(this, the old edits' drift) and recall does not drop.",
        ge=0,
    )


@dataclass(frozen=True)
class DiscordConfig(_Section):
    """`sleepmem discord`: the Discord bot."""

    token: str | None = _opt(
        None, "Bot token; none = $DISCORD_TOKEN. Keep it out of files others can read."
    )
    channels: tuple[int, ...] = _opt(
        (),
        "Channel ids where the bot answers every message; elsewhere only DMs and mentions. "
        "Server admins can change this with /sleepmem-channel.",
    )
    per_guild_memory: bool = _opt(
        False, "Keep a separate memory per user per Discord server (guild)."
    )
    character: str | None = _opt(
        None, "Character card (file, or name in the characters folder) the bot speaks as."
    )


@dataclass(frozen=True)
class EngineConfig(_Section):
    """Everything the sleepmem engine needs to run; sections are nested dataclasses."""

    model: str = _opt(
        "default",
        "Model to edit: 'default' (SmolLM2-135M-Instruct, see `sleepmem model pull`), a "
        "folder name from `sleepmem model list`, a model folder path, a .gguf path, or a "
        "Hugging Face hub id (needs the hub or its cache).",
    )
    backend: str = _opt("torch", "Compute backend: 'torch' or 'mlx' (Apple silicon).")
    device: str = _opt("auto", "Device for the torch backend: auto, cpu, cuda, cuda:N or mps.")
    dtype: str = _opt(
        "float32",
        "Weight dtype while serving and editing; float32 is the safe choice for edits.",
        choices=("float32", "float16", "bfloat16"),
    )
    home: str | None = _opt(
        None, "Folder for all sleepmem state; none = $SLEEPMEM_HOME or ~/.sleepmem."
    )
    max_message_chars: int = _opt(
        20000, "Longer chat messages are rejected rather than processed.", ge=1
    )
    max_new_tokens: int = _opt(256, "Upper bound on tokens generated per reply.", ge=1)
    extractors: tuple[str, ...] = _opt(
        ("rules",),
        "Fact extractors to run on user messages, in order (plugins may add more).",
    )
    plugins: tuple[str, ...] | None = _opt(
        None,
        "Plugins to load (built-in short names such as 'rules', 'commands', 'schedules', or "
        "entry-point names); none = all installed. $SLEEPMEM_LOAD_PLUGINS overrides it.",
    )
    editor: EditorConfig = field(
        default_factory=EditorConfig, metadata={"help": "How facts are written into the weights."}
    )
    server: ServerConfig = field(
        default_factory=ServerConfig, metadata={"help": "The OpenAI-compatible HTTP server."}
    )
    schedule: ScheduleConfig = field(
        default_factory=ScheduleConfig, metadata={"help": "When memory sleeps by itself."}
    )
    discord: DiscordConfig = field(
        default_factory=DiscordConfig, metadata={"help": "The Discord bot."}
    )


# --------------------------------------------------------------------------- typing


def _hints(cls: type) -> dict[str, Any]:
    return typing.get_type_hints(cls)


def _is_optional(tp: Any) -> bool:
    return typing.get_origin(tp) in (typing.Union, types.UnionType) and type(None) in (
        typing.get_args(tp)
    )


def _type_name(tp: Any) -> str:
    origin = typing.get_origin(tp)
    if origin in (typing.Union, types.UnionType):
        return " | ".join(_type_name(a) for a in typing.get_args(tp))
    if origin is tuple:
        args = typing.get_args(tp)
        return f"list[{_type_name(args[0])}]" if args else "list"
    if origin is dict:
        k, v = typing.get_args(tp) or (str, str)
        return f"map[{_type_name(k)}, {_type_name(v)}]"
    if tp is type(None):
        return "none"
    return getattr(tp, "__name__", str(tp))


def _bad(key: str, tp: Any, value: Any) -> ConfigError:
    return ConfigError(f"{key} must be {_type_name(tp)}, not {value!r}")


def _coerce(key: str, value: Any, tp: Any) -> Any:
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
        return _coerce(key, value, rest[0])
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
            _coerce(f"{key} key", k, k_tp): _coerce(f"{key}[{k}]", v, v_tp)
            for k, v in value.items()
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
        return tuple(_coerce(f"{key}[{i}]", v, elem) for i, v in enumerate(value))
    raise ConfigError(f"{key}: unsupported type {tp}")  # pragma: no cover


# --------------------------------------------------------------------------- applying


def _all_keys(cls: type, prefix: str = "") -> list[str]:
    out: list[str] = []
    hints = _hints(cls)
    for f in fields(cls):
        key = prefix + f.name
        if is_dataclass(hints[f.name]):
            out.extend(_all_keys(hints[f.name], key + "."))
        else:
            out.append(key)
    return out


def _unknown(key: str, section: type, root: type) -> ConfigError:
    """'unknown key X; did you mean Y?' -- Y from the same section, else any section
    (so a top-level ``v_lr`` points to ``editor.v_lr``)."""
    name = key.rsplit(".", 1)[-1]
    prefix = key[: len(key) - len(name)]
    names = [f.name for f in fields(section)]
    close = difflib.get_close_matches(name, names, n=1, cutoff=0.6)
    if close:
        suggestion = prefix + close[0]
    else:
        everywhere = _all_keys(root)
        last = {k.rsplit(".", 1)[-1]: k for k in everywhere}
        close = difflib.get_close_matches(name, list(last), n=1, cutoff=0.6)
        suggestion = last[close[0]] if close else ""
    if suggestion:
        return ConfigError(f"unknown config key {key!r}; did you mean {suggestion!r}?")
    valid = ", ".join(prefix + n for n in names)
    return ConfigError(f"unknown config key {key!r}; valid keys here: {valid}")


def _apply(obj: Any, data: Mapping[str, Any], prefix: str, root: type) -> Any:
    """Return ``obj`` with the fields in ``data`` replaced (sections recursively)."""
    cls = type(obj)
    hints = _hints(cls)
    by_name = {f.name: f for f in fields(cls)}
    changes: dict[str, Any] = {}
    for name, value in data.items():
        key = f"{prefix}{name}"
        if not isinstance(name, str) or name not in by_name:
            raise _unknown(str(key), cls, root)
        tp = hints[name]
        if is_dataclass(tp):
            if value is None:  # an empty YAML section (all keys commented out)
                continue
            if not isinstance(value, Mapping):
                raise ConfigError(f"{key} is a section and must be a mapping, not {value!r}")
            changes[name] = _apply(getattr(obj, name), value, key + ".", root)
        else:
            coerced = _coerce(key, value, tp)
            _check_field(key, coerced, by_name[name])
            changes[name] = coerced
    return dataclasses.replace(obj, **changes) if changes else obj


def _with_source(source: str, fn: Any, *args: Any) -> Any:
    try:
        return fn(*args)
    except ConfigError as e:
        raise ConfigError(f"{source}: {e}") from None


# --------------------------------------------------------------------------- layers


def _nest_dotted(data: Mapping[str, Any]) -> dict[str, Any]:
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
            node[leaf].update(_nest_dotted(value))
        elif isinstance(value, Mapping):
            node[leaf] = _nest_dotted(value)
        else:
            node[leaf] = value
    return out


def _drop_none(data: Mapping[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for k, v in data.items():
        if isinstance(v, Mapping):
            out[k] = _drop_none(v)
        elif v is not None:
            out[k] = v
    return out


def _env_entries(env: Mapping[str, str], root: type) -> list[tuple[str, dict[str, Any]]]:
    """``(variable name, nested dict)`` for each SLEEPMEM_* variable that is config."""
    top = {f.name for f in fields(root)}
    sections = {f.name for f in fields(root) if is_dataclass(_hints(root)[f.name])}
    out: list[tuple[str, dict[str, Any]]] = []
    for var in sorted(env):
        if not var.upper().startswith(ENV_PREFIX):
            continue
        parts = var[len(ENV_PREFIX) :].lower().split(ENV_SEP)
        if any(not p for p in parts):
            raise ConfigError(f"environment variable {var}: malformed name")
        if len(parts) == 1:
            if parts[0] in sections:
                raise ConfigError(
                    f"environment variable {var}: {parts[0]!r} is a section; set its "
                    f"fields with {ENV_PREFIX}{parts[0].upper()}{ENV_SEP}<FIELD>"
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


def _read_yaml(path: Path) -> dict[str, Any]:
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


def default_config_path(env: Mapping[str, str] = os.environ) -> Path | None:
    """The file ``load_config(None)`` reads: ``$SLEEPMEM_CONFIG``, else
    ``<home>/config.yaml`` if it exists, else None."""
    if env.get(CONFIG_FILE_ENV):
        return Path(env[CONFIG_FILE_ENV]).expanduser()
    home_env = env.get("SLEEPMEM_HOME")
    home = Path(home_env).expanduser() if home_env else Path.home() / ".sleepmem"
    candidate = home / CONFIG_FILE_NAME
    return candidate if candidate.is_file() else None


def load_config(
    path: Path | str | None = None,
    overrides: Mapping[str, Any] | None = None,
    env: Mapping[str, str] = os.environ,
    *,
    discover: bool = True,
) -> EngineConfig:
    """Build the EngineConfig from defaults, a YAML file, the environment and overrides.

    ``path`` None means the default file (see ``default_config_path``) when ``discover``,
    else no file. ``overrides`` may be nested (``{"editor": {"v_lr": 1}}``) or dotted
    (``{"editor.v_lr": 1}``); None values in it are skipped, so a CLI can pass flags that
    were not given as None (to set an optional field to none, pass the string "none").
    Raises ConfigError naming the file or variable and the key for anything wrong.
    """
    cfg = EngineConfig()
    file = Path(path).expanduser() if path is not None else None
    if file is None and discover:
        file = default_config_path(env)
    if file is not None:
        data = _read_yaml(file)
        cfg = _with_source(f"config file {file}", _apply, cfg, data, "", EngineConfig)
    for var, nested in _env_entries(env, EngineConfig):
        cfg = _with_source(f"environment variable {var}", _apply, cfg, nested, "", EngineConfig)
    if overrides:
        nested = _drop_none(_nest_dotted(overrides))
        cfg = _with_source("override", _apply, cfg, nested, "", EngineConfig)
    return cfg


def config_to_dict(cfg: Any) -> dict[str, Any]:
    """Plain dict (tuples as lists) for printing, JSON or writing back to YAML; feeding
    it to ``load_config`` as a file gives an equal config."""

    def conv(v: Any) -> Any:
        if is_dataclass(v) and not isinstance(v, type):
            return {f.name: conv(getattr(v, f.name)) for f in fields(v)}
        if isinstance(v, (tuple, list)):
            return [conv(x) for x in v]
        return v

    out = conv(cfg)
    assert isinstance(out, dict)
    return out


def describe_config(cls: type = EngineConfig, prefix: str = "") -> list[dict[str, Any]]:
    """One row per setting (dotted key, type, default, help, env variable) for
    ``sleepmem config`` style listings."""
    rows: list[dict[str, Any]] = []
    hints = _hints(cls)
    defaults = cls()
    for f in fields(cls):
        key = prefix + f.name
        tp = hints[f.name]
        if is_dataclass(tp):
            rows.extend(describe_config(tp, key + "."))
            continue
        default = getattr(defaults, f.name)
        rows.append(
            {
                "key": key,
                "type": _type_name(tp),
                "default": list(default) if isinstance(default, tuple) else default,
                "help": f.metadata.get("help", ""),
                "env": ENV_PREFIX + key.replace(".", ENV_SEP).upper(),
                "optional": _is_optional(tp),
            }
        )
    return rows


def annotated_config(cfg: Any | None = None) -> str:
    """YAML of every setting (the values of ``cfg``, default: the defaults), each preceded by
    its help as a comment: a config file a user can start from."""
    import textwrap

    import yaml

    values = config_to_dict(cfg if cfg is not None else EngineConfig())
    lines: list[str] = []
    section = ""
    for row in describe_config():
        *parents, name = row["key"].split(".")
        indent = "  " * len(parents)
        if parents and parents[0] != section:
            section = parents[0]
            lines += ["", f"{section}:"]
        value = values
        for part in row["key"].split("."):
            value = value[part]
        note = f"{row['help']} [{row['type']}; ${row['env']}]"
        lines += [indent + "# " + t for t in textwrap.wrap(note, 96 - len(indent))]
        text = yaml.safe_dump({name: value}, default_flow_style=True, width=10**6).strip()
        lines.append(indent + text[1:-1])  # flow style wraps one mapping in braces
    return "\n".join(lines).lstrip() + "\n"
