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

import os
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, is_dataclass
from pathlib import Path
from typing import Any

from .config_types import (
    ENV_SEP,
    Section,
    apply,
    drop_none,
    env_entries,
    field_types,
    is_optional,
    nest_dotted,
    opt,
    read_yaml,
    type_name,
    with_source,
)
from .errors import ConfigError

ENV_PREFIX = "SLEEPMEM_"
CONFIG_FILE_ENV = "SLEEPMEM_CONFIG"
CONFIG_FILE_NAME = "config.yaml"


@dataclass(frozen=True)
class EditorConfig(Section):
    """How facts are written into the weights (MEMIT-style multi-layer edits, optionally
    AlphaEdit's null-space projection). Defaults are tuned for SmolLM2-135M (30 layers)."""

    layers: tuple[int, ...] = opt(
        (3, 4, 5, 6, 7, 8, 9, 10),
        "Layers (0-based) whose MLP output projection is edited; MEMIT spreads each edit "
        "over several consecutive early-middle layers. Measured on conversation_bench.json "
        "(2 users, editor alone, one edit, before sleep): 4-8 -> 3-10 raised persona with "
        "small talk 35% -> 88% and cut drift 3.7% -> 0.8%; 2-12 was worse than 3-10.",
        ge=0,
    )
    v_layer: int | None = opt(
        None,
        "Layer whose output hidden state is optimised into the target vector v; "
        "none = the last of `layers`.",
        ge=0,
    )
    contexts: int = opt(
        8,
        "Conversation contexts each fact is keyed and optimised under (engine/contexts.py): "
        "the template's default chat, an app system prompt, a persona card, small talk, a "
        "persona with small talk, then more draws. 1 = the default chat only (edits then "
        "miss under any system prompt or after earlier turns). 5 -> 8 (layers 3-10) raised "
        "fresh 82% -> 94% and persona 82% -> 100% on the probe above.",
        ge=1,
    )
    wordings: int = opt(
        6,
        "Wordings of each fact's question: the extractor's own questions, then the engine's "
        "rewrites of their form (engine/wordings.py).",
        ge=1,
    )
    continued: int = opt(
        0,
        "Prompts per fact (the first ones) also keyed at the answer's own tokens, so an "
        "answer that starts on an untrained wording finishes whole (prompts.continuations); "
        "0 = keys at the question's end only.",
        ge=0,
    )
    subject_keys: int = opt(
        0,
        "Prompts per fact (the first ones) also keyed at the word the question is about "
        "(MEMIT's subject: 'cat' in 'What is my cat's name?'; prompts.subject_end), beside "
        "the question's end; 0 = the question's end only.",
        ge=0,
    )
    name_keys: int = opt(
        6,
        "Prompts per fact keyed at a name their question holds ('Aria' in 'Where does my "
        "friend Aria live?'; prompts.name_end) instead of at its end, where every friend's "
        "question ends alike (MEMIT's subject keys); further prompts holding the name are "
        "dropped, those without one stay keyed at their end. The user's own facts hold no "
        "name and are not affected. 0 = off. Capacity bench, 50 friends' homes, five an "
        "edit, after sleep: 0 -> 6 raised fresh recall 8% -> 98%, persona 4% -> 90%, a "
        "held-out wording -> 92%; general knowledge 0.95 x base, drift +2.7%; edits 84 -> "
        "42 s.",
        ge=0,
    )
    v_precision: str = opt(
        "float32",
        "Dtype of the layers above the v* layer while v* is optimised (torch; mlx uses its "
        "model's own): 'auto' = bfloat16 on a GPU that supports it and on a CPU whose "
        "bfloat16 matmuls are >= 1.5x float32's (measured at the first edit), else float32. "
        "On a 2-core Xeon with AMX, 10 bench users: auto cut edits 29 -> 23 s median and "
        "sleep 146 -> 107 s, and cost persona recall 91 -> 84% and persona + small talk "
        "79 -> 76% (app prompt 82 -> 83%), so float32 stays the default.",
        choices=("auto", "float32", "bfloat16"),
    )
    v_lr: float = opt(0.5, "Adam learning rate when optimising the target vector v.", gt=0)
    v_steps: int = opt(40, "Maximum optimisation steps per target vector.", ge=1)
    v_prompts: int = opt(
        13,
        "Prompts (context x wording pairs) per fact that v* is optimised on (the most "
        "expensive part of an edit, linear in this number); the layer solve uses "
        "max_rank_per_fact of them. Measured on conversation_bench.json (3 users, editor "
        "alone, after sleep): 6 -> 10 with max_rank_per_fact 6 -> 10 and v_steps 25 -> 40 "
        "raised persona recall 42% -> 65% and small-talk recall 42% -> 77%, edits 21 -> 49 s; "
        "13 covers every one of the 8 contexts plus 6 wordings.",
        ge=1,
    )
    v_loss_stop: float = opt(
        0.05,
        "Each fact's v* stops once its answer's mean NLL falls below this, and its prompts "
        "leave the batch. Lower is not better: at 0.02 a single remembered fact ('I am "
        "allergic to peanuts') came back as 'this is a child's play.', at 0.05 as "
        "'peanuts.' (layers 4-8). Per fact at 0.05 against running every fact until the "
        "slowest was below 0.05 (bench levers, ingrid): contexts 4.75 -> 4.38 (sum of five "
        "rates, 8 questions each), paraphrases 1 -> 3 of 24, edit 275 -> 232 s.",
        ge=0,
    )
    clamp_factor: float = opt(
        4.0,
        "Caps ||delta|| of the target vector at clamp_factor times the norm of the original "
        "hidden state, so one fact cannot blow up a layer.",
        gt=0,
    )
    weight_decay: float = opt(
        1e-3, "L2 penalty on the target-vector delta while optimising (prefers small edits).", ge=0
    )
    mom2_weight: float = opt(
        300.0,
        "lambda: weight of the covariance C = E[k kᵀ] of unrelated keys in the MEMIT "
        "least-squares update. Larger = other inputs disturbed less, edits take less well.",
        ge=0,
    )
    mom2_facts: int | None = opt(
        50,
        "lambda grows in proportion to the facts an edit holds past this many (mom2_weight "
        "x facts / mom2_facts), keeping the protection of other inputs in step with the keys "
        "written against it, as MEMIT's lambda is sized for its edit count. Fixed lambda, 50 "
        "friends' facts drifted general text +2.7%, 100 facts +17% (capacity bench). "
        "none = lambda fixed.",
        ge=1,
    )
    spill_guard: float = opt(
        0.1,
        "Weight on leaving the update's output unchanged at the tokens after each edit "
        "prompt's key (the turn change and the teacher-forced answer), added to what the "
        "solve keeps: v* is found with its delta at the question's last token alone, but "
        "the update also fires on the tokens after it and garbled answers ('Tove "
        "Janskirk', 'Valparia'). Measured (bench levers, ingrid and jaylen, one edit): "
        "0 -> 0.1 raised the app prompt 71% -> 88% and persona 94% -> 100%, general "
        "knowledge 0.98 -> 0.976 x base; 1 measured the same as 0.1, but with the test "
        "suite's smaller editor (layers 4-8) a lone '/remember I am allergic to peanuts' "
        "came back 'additives.' at 1, and at 0.1 too (the default layers: 'peanuts.'). "
        "Tuned for layers 3-10: with fewer layers, measure before keeping it. 0 = off.",
        ge=0,
    )
    nullspace: bool = opt(
        False,
        "AlphaEdit: project every weight update onto the (approximate) null space of C, "
        "so keys of knowledge the model already has map to the same outputs as before.",
    )
    nullspace_energy: float = opt(
        0.99,
        "Which eigenvectors of C count as its null space: sorted by eigenvalue, the "
        "smallest ones whose eigenvalues sum to at most (1 - nullspace_energy) of trace(C). "
        "0.99 lets updates use only directions carrying <=1% of the preserved keys' energy; "
        "lower values free more directions (edits take more easily, preserve less).",
        gt=0,
        le=1,
    )
    question_weight: float = opt(
        1.0,
        "Weight of the preserved chat-question keys: keys at the last token of ordinary "
        "questions (shipped chat corpus) that an edit must leave alone. Without them edits "
        "keyed on question tokens fire on every question.",
        ge=0,
    )
    key_source: str = opt(
        "questions",
        "Prompts an edit is keyed on: 'questions' (fresh-chat questions, keyed at the "
        "question's last token: reaches the chat), 'statements' (declarative prompts, "
        "MEMIT's classic raw-completion keys; kept for the ablation) or 'both'.",
        choices=("questions", "statements", "both"),
    )
    l2: float = opt(
        1.0,
        "Ridge term added to the normal equations of the update (AlphaEdit's identity "
        "term); keeps the solve well conditioned, larger = smaller updates.",
        ge=0,
    )
    stats_tokens: int = opt(
        20000,
        "Tokens of generic text used to estimate C for each edited layer (computed once "
        "per model and cached in the stats directory).",
        ge=1,
    )
    max_rank_per_fact: int | None = opt(
        13,
        "Optional cap on the number of key directions (prompts) one fact contributes to an "
        "update; none = one per prompt (contexts + wordings - 1). Lower caps make each fact "
        "cheaper in weight space but cover fewer of its contexts.",
        ge=1,
    )
    compact: float | None = opt(
        0.995,
        "Each stored update is re-factored onto the output directions its own keys use, "
        "keeping this share of its effect on them, in total and on every key "
        "(engine/compact.py), rounded per `store_precision`. Measured on 10 facts: 0.995 "
        "kept 244 of 1040 ranks and every answer of the full update (10/10 in a fresh chat, "
        "8/10 under a persona); plain SVD to 256 ranks lost 2 of 10. An edit that would "
        "cost a fact's answer more than 0.1 nats is compacted at 0.999, else 0.9999, else "
        "not at all (13 of 20 wake edits of three bench users needed 0.999 or finer). "
        "none = store the solve's factors as they are.",
        gt=0,
        le=1,
    )
    store_precision: str = opt(
        "int8",
        "Narrowest form the stored factors are rounded to (engine/compact.py, storable): "
        "'int8' = one byte a value and a scale a rank, where that moves the outputs on the "
        "edit's keys by <= 0.1% of their energy, else float16, else float32; 'float16' = "
        "never int8.",
        choices=("int8", "float16"),
    )
    compact_slack: float | None = opt(
        0.1,
        "Nats a written fact's answer (its first prompt, teacher-forced) may lose to "
        "compaction before the next finer share is tried (an answer that wins by a hair "
        "flips at 0.995 and loses ~1 nat; sound ones move by hundredths); none = store the "
        "`compact` share unchecked.",
        ge=0,
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
class ServerConfig(Section):
    """`sleepmem serve`: the OpenAI-compatible HTTP server and its REST memory API."""

    host: str = opt(
        "127.0.0.1",
        "Address to bind. Anything but loopback is refused unless api_keys is set, because "
        "every user's memory would otherwise be open to the network.",
    )
    port: int = opt(8430, "TCP port to listen on (0 = any free port).", ge=0, le=65535)
    model_name: str = opt(
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
    admin_keys: tuple[str, ...] = opt(
        (), "Bearer keys with admin scope: the memory API for every user, /v1/admin/*."
    )
    trust_user_headers: bool = opt(
        True,
        "Take the user from Open WebUI's forwarded headers (X-OpenWebUI-User-Id, -Name, "
        "-Email) when present.",
    )
    default_user: str | None = opt(
        None,
        "User for requests that name none (no `user` field, header or per-user key); "
        "none = such requests are refused with a 400, so a shared bot never mixes users.",
    )
    max_body_bytes: int = opt(
        4 * 1024 * 1024, "Larger request bodies are refused with 413 before being read.", ge=1
    )
    wake: bool = opt(
        True, "Extract facts from each user message and edit them in after the reply is sent."
    )
    chat_workers: int = opt(
        16,
        "Replies in flight at once (they decode together, `reply_batch` rows per step; "
        "edits and sleep run on their own threads).",
        ge=1,
    )
    cors_origins: tuple[str, ...] = opt(
        (),
        "Browser origins allowed to call the server (CORS), e.g. SillyTavern's "
        "'http://localhost:8000'. Empty = none: a web page must not read memories through "
        "the user's browser. '*' allows any origin (only with api_keys).",
    )
    characters_dir: str | None = opt(
        None,
        "Folder of Character Card V2 files (.json or .png); each card is served as its own "
        "model '<model_name>/<card name>'. none = <home>/characters.",
    )
    per_character_memory: bool = opt(
        True,
        "Keep a separate memory per user per character (True) or one memory per user "
        "shared by every character (False).",
    )


@dataclass(frozen=True)
class ScheduleConfig(Section):
    """When `sleepmem serve` (or the Discord bot) puts a user's memory to sleep by itself.
    Any trigger that fires starts a sleep; /sleep and the REST API always can."""

    cron: str | None = opt(
        None,
        "Five-field cron expression (minute hour day month weekday, local time) at which "
        "every user with facts sleeps, e.g. '0 3 * * *'; none = off.",
    )
    idle_minutes: float | None = opt(
        30.0,
        "Sleep a user after this many minutes without a message, if they have new edits "
        "since their last sleep; none = off.",
        gt=0,
    )
    pressure: float | None = opt(
        8.0,
        "Sleep a user when their sleep pressure reaches this: edits since the last sleep "
        "plus 2 per fact whose last audit failed; none = off.",
        gt=0,
    )
    min_interval_minutes: float = opt(
        10.0, "Never sleep the same user more often than this by schedule.", ge=0
    )
    check_seconds: float = opt(30.0, "How often the scheduler looks at users.", gt=0)
    max_drift: float = opt(
        0.03,
        "Sleep keeps its re-solved edits only if perplexity drift on general text stays "
        "below max(this, the old edits' drift) and recall does not drop.",
        ge=0,
    )


@dataclass(frozen=True)
class DiscordConfig(Section):
    """`sleepmem discord`: the Discord bot."""

    token: str | None = opt(
        None, "Bot token; none = $DISCORD_TOKEN. Keep it out of files others can read."
    )
    channels: tuple[int, ...] = opt(
        (),
        "Channel ids where the bot answers every message; elsewhere only DMs and mentions. "
        "Server admins can change this with /sleepmem-channel.",
    )
    per_guild_memory: bool = opt(
        False, "Keep a separate memory per user per Discord server (guild)."
    )
    character: str | None = opt(
        None, "Character card (file, or name in the characters folder) the bot speaks as."
    )


@dataclass(frozen=True)
class EngineConfig(Section):
    """Everything the sleepmem engine needs to run; sections are nested dataclasses."""

    model: str = opt(
        "default",
        "Model to edit: 'default' (SmolLM2-135M-Instruct, see `sleepmem model pull`), a "
        "folder name from `sleepmem model list`, a model folder path, a .gguf path, or a "
        "Hugging Face hub id (needs the hub or its cache).",
    )
    backend: str = opt("torch", "Compute backend: 'torch' or 'mlx' (Apple silicon).")
    device: str = opt("auto", "Device for the torch backend: auto, cpu, cuda, cuda:N or mps.")
    dtype: str = opt(
        "float32",
        "Weight dtype while serving and editing; float32 is the safe choice for edits.",
        choices=("float32", "float16", "bfloat16"),
    )
    home: str | None = opt(
        None, "Folder for all sleepmem state; none = $SLEEPMEM_HOME or ~/.sleepmem."
    )
    max_message_chars: int = opt(
        20000, "Longer chat messages are rejected rather than processed.", ge=1
    )
    max_new_tokens: int = opt(256, "Upper bound on tokens generated per reply.", ge=1)
    generation: str = opt(
        "backend",
        "What generates chat replies: 'backend' (the model on `backend`, replies batched), "
        "'llamacpp' (llama-cpp-python on the model's GGUF file) or 'vllm' (a vLLM server at "
        "`generation_url`); with the last two each user's memory is applied as a LoRA "
        "adapter and edits still run on `backend`.",
        choices=("backend", "llamacpp", "vllm"),
    )
    generation_url: str | None = opt(
        None, "generation: vllm: the vLLM server's base URL, e.g. 'http://127.0.0.1:8000'."
    )
    generation_model: str | None = opt(
        None,
        "generation: vllm: the name vLLM serves the base model under (--served-model-name); "
        "none = the model's id.",
    )
    generation_max_rank: int | None = opt(
        None,
        "generation: llamacpp or vllm: truncate each layer of a user's adapter to this rank, "
        "on the directions the memory's keys use (else by SVD; vLLM refuses adapters above "
        "its --max-lora-rank); none = exact.",
        ge=1,
    )
    generation_adapters: str | None = opt(
        None,
        "generation: vllm: folder for the exported adapters, readable by the vLLM server at "
        "the same path; none = <home>/adapters.",
    )
    generation_gguf: str | None = opt(
        None,
        "GGUF file for generation: llamacpp; none = the model itself when it is a GGUF file, "
        "or the default model's GGUF (`sleepmem model pull --gguf`).",
    )
    reply_batch: int = opt(
        8,
        "Replies of different users decoded together, one token of each per step, each row "
        "with its own user's edits (1 = one reply at a time).",
        ge=1,
    )
    max_facts: int | None = opt(
        200,
        "Fact budget per user: sleep archives the facts beyond it (those its audits keep "
        "failing first, then the oldest): listed and forgettable, out of the weights. "
        "none = no budget.",
        ge=1,
    )
    extractors: tuple[str, ...] = opt(
        ("rules",),
        "Fact extractors to run on user messages, in order (plugins may add more).",
    )
    plugins: tuple[str, ...] | None = opt(
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
        data = read_yaml(file)
        cfg = with_source(f"config file {file}", apply, cfg, data, "", EngineConfig)
    for var, nested in env_entries(env, EngineConfig, ENV_PREFIX):
        cfg = with_source(f"environment variable {var}", apply, cfg, nested, "", EngineConfig)
    if overrides:
        nested = drop_none(nest_dotted(overrides))
        cfg = with_source("override", apply, cfg, nested, "", EngineConfig)
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
    hints = field_types(cls)
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
                "type": type_name(tp),
                "default": list(default) if isinstance(default, tuple) else default,
                "help": f.metadata.get("help", ""),
                "env": ENV_PREFIX + key.replace(".", ENV_SEP).upper(),
                "optional": is_optional(tp),
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
