"""Settings, environment variables and secrets: read and validated here, nowhere else.

Settings are read once from YAML and passed down as frozen dataclasses. The index-side
sections (embedding, chunking, retrieval, the corpus limits) are the index package's own
settings types, so the index never imports this module; fields marked with the metadata
`{"positive": True}` must be greater than 0. The environment is read here too: the config
path ($ZONEBOT_CONFIG), the model cache ($ZONEBOT_CACHE_DIR), offline mode
($HF_HUB_OFFLINE) and the secrets (bot token, webhook secret, LLM API key, the question
log's PostgreSQL password), which are never in the file.

A config file holds only the keys it overrides; every other key takes the default
declared on the dataclasses below, which are therefore the reference for all options.
Relative paths are resolved against the directory of the config file.
"""

from __future__ import annotations

import difflib
import os
import types
import typing
from dataclasses import MISSING, dataclass, field, fields, is_dataclass, replace
from pathlib import Path
from typing import Any, Literal, get_args, get_origin
from urllib.parse import parse_qs, urlsplit

from index.chunking import ChunkerSettings
from index.dense import DenseSettings
from index.embeddings import EmbeddingSpec
from index.errors import ZonebotError
from index.ingest import IngestLimits
from index.retrieve import RetrievalSettings

DEFAULT_CONFIG = Path("config.yaml")
CONFIG_ENV = "ZONEBOT_CONFIG"
CACHE_ENV = "ZONEBOT_CACHE_DIR"
OFFLINE_ENV = "HF_HUB_OFFLINE"
SQLITE_STORE = "sqlite"  # telegram.store: the question log in a file in data_dir
POSTGRES_SCHEMES = ("postgresql://", "postgres://")


SIGNED = {"signed": True}  # field metadata: negative numbers allowed (Telegram group ids)


class ConfigError(ZonebotError):
    """The configuration file is missing or invalid; the message names the key."""


class TokenMissing(ZonebotError):
    """A secret (bot token, webhook secret) is not in the environment or its file."""


@dataclass(frozen=True)
class CorpusSettings(IngestLimits):
    """The files to index; the per-file limits (max_file_mb, max_chars, ...) are declared
    on IngestLimits."""

    paths: list[Path] = field(default_factory=list)


@dataclass(frozen=True)
class IndexSettings:
    dir: Path = Path("data/index")
    # A replica serving an index built elsewhere and shipped to it (rsync, object storage):
    # `serve` never writes it, so /reindex and documents sent to the bot are off there.
    read_only: bool = False
    # On such a replica, seconds between looks at index.dir/CURRENT: a new generation
    # shipped there is loaded and swapped in without a restart. 0: only at start.
    follow_s: float = 30.0
    dense: DenseSettings = field(default_factory=DenseSettings)


@dataclass(frozen=True)
class AnswerSettings:
    mode: Literal["extractive", "llm"] = "extractive"
    max_chars: int = 200
    max_list_chars: int = 400  # a list answer's introduction and items (statutes enumerate)
    max_sentences: int = 3
    history_turns: int = 4
    passages: int = 6  # retrieved passages whose sentences compete for the answer
    # Answer when the model's probability for the best sentence reaches this; None takes
    # the threshold stored with the model (chosen by bench/fit_answer_model.py).
    min_probability: float | None = None
    # Seconds a Telegram question may take; then the user gets an apology and the slot is
    # freed. Keep it above llm.timeout_s so a slow LLM still ends in the extractive answer.
    timeout_s: float = 30.0
    # Deployments that serve one zone: a place ("上海") whose documents answer first and
    # win over parallel documents of other places; national documents still answer.
    default_scope: str | None = None
    max_documents: int = 4  # parallel documents answered one line each; the rest counted


@dataclass(frozen=True)
class LLMSettings:
    base_url: str = "http://127.0.0.1:11434/v1"
    model: str = "qwen2.5:7b-instruct"
    api_key_env: str = "OPENAI_API_KEY"
    timeout_s: float = 20.0
    max_tokens: int = 512
    temperature: float = 0.1


@dataclass(frozen=True)
class RateLimitSettings:
    """Per user, over `per_seconds`: questions, and button presses plus commands (actions,
    each of which may send a long passage or list); `in_flight` questions at once."""

    questions: int = 10
    per_seconds: float = 60.0
    actions: int = 30
    in_flight: int = 2


@dataclass(frozen=True)
class WebhookSettings:
    enabled: bool = False
    listen: str = "127.0.0.1"
    port: int = 8443
    url_path: str = "telegram"
    webhook_url: str = ""
    secret_token_env: str = "TELEGRAM_WEBHOOK_SECRET"


@dataclass(frozen=True)
class TelegramSettings:
    token_env: str = "TELEGRAM_BOT_TOKEN"
    token_file: Path | None = None
    base_url: str = "https://api.telegram.org/bot"
    base_file_url: str = "https://api.telegram.org/file/bot"
    allowed_users: list[int] = field(default_factory=list)
    allowed_chats: list[int] = field(default_factory=list, metadata=SIGNED)  # groups are < 0
    admins: list[int] = field(default_factory=list)
    admin_chat: int | None = field(default=None, metadata=SIGNED)
    # Updates handled at once; also the answer threads, whose waiting questions share
    # one embedding batch.
    concurrent_updates: int = 32
    # Messages/s the bot allows itself across all chats (Telegram's documented limit is
    # about 30); 0 turns PTB's flood limiter off. 429 retry_after is honoured either way.
    flood_limit: int = 30
    # Questions that waited longer than this (seconds; sent while the bot was down) are
    # answered with a short apology first.
    max_backlog_age: float = 3600.0
    # Questions, their citations and votes older than this are deleted; 0 keeps them.
    log_retention_days: int = 90
    rate_limit: RateLimitSettings = field(default_factory=RateLimitSettings)
    webhook: WebhookSettings = field(default_factory=WebhookSettings)
    # Where documents admins send to the bot are saved; must be one of corpus.paths (so
    # they are indexed). None: adding documents through the bot is off.
    upload_dir: Path | None = None
    # The question log, votes and 📄 passages: "sqlite" (a file in data_dir), or a
    # postgresql://user@host:port/dbname URL that several bot replicas share. Its password
    # comes from $<store_password_env> (or ~/.pgpass), never from this file.
    store: str = SQLITE_STORE
    store_password_env: str = "PGPASSWORD"


@dataclass(frozen=True)
class Settings:
    corpus: CorpusSettings = field(default_factory=CorpusSettings)
    index: IndexSettings = field(default_factory=IndexSettings)
    embedding: EmbeddingSpec = field(default_factory=EmbeddingSpec)
    chunking: ChunkerSettings = field(default_factory=ChunkerSettings)
    retrieval: RetrievalSettings = field(default_factory=RetrievalSettings)
    answer: AnswerSettings = field(default_factory=AnswerSettings)
    llm: LLMSettings = field(default_factory=LLMSettings)
    telegram: TelegramSettings = field(default_factory=TelegramSettings)
    data_dir: Path = Path("data")  # question log, feedback, chat state
    config_path: Path | None = None  # where these settings came from


REQUIRED_KEYS = ("corpus.paths", "index.dir")


def config_path_from(cli_value: str | None) -> Path:
    """--config wins, then $ZONEBOT_CONFIG, then ./config.yaml."""
    return Path(cli_value or os.environ.get(CONFIG_ENV) or DEFAULT_CONFIG)


def load_settings(path: Path) -> Settings:
    """Read and validate a YAML config file; raise ConfigError naming the bad key."""
    import yaml

    if not path.is_file():
        raise ConfigError(
            f"找不到配置文件 {path}。Config file {path} not found: pass --config PATH, "
            f"set {CONFIG_ENV}, or create it (see config.yaml in the repository)."
        )
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except (yaml.YAMLError, UnicodeDecodeError) as exc:
        raise ConfigError(f"Config file {path} is not valid YAML: {exc}") from None
    if not isinstance(data, dict):
        raise ConfigError(f"Config file {path} must be a mapping of sections to settings.")
    for key in REQUIRED_KEYS:
        section, name = key.split(".")
        if not isinstance(data.get(section), dict) or name not in data[section]:
            raise ConfigError(f"Config file {path}: required key '{key}' is missing.")
    settings = settings_from_dict(data, base_dir=path.resolve().parent)
    settings = replace(settings, config_path=path.resolve())
    if not settings.corpus.paths:
        raise ConfigError(f"Config file {path}: 'corpus.paths' must list at least one path.")
    return settings


def settings_from_dict(data: dict[str, Any], base_dir: Path) -> Settings:
    """Build settings from a dict (tests and tools), with the same validation as a file."""
    settings = _with_environment(_build(Settings, data, prefix="", base_dir=base_dir), data)
    _check_upload_dir(settings)
    _check_store(settings.telegram.store)
    return settings


def _check_upload_dir(settings: Settings) -> None:
    """Uploaded documents must land where the index reads: one of corpus.paths."""
    upload_dir = settings.telegram.upload_dir
    if upload_dir is None:
        return
    if settings.index.read_only:
        raise ConfigError(
            "telegram.upload_dir needs an index this bot may rebuild, but index.read_only is "
            "true (a replica of an index built elsewhere): set upload_dir on the build node only."
        )
    corpus = [path.resolve() for path in settings.corpus.paths]
    if upload_dir.resolve() not in corpus:
        raise ConfigError(
            f"telegram.upload_dir ({upload_dir}) must be one of corpus.paths "
            f"({', '.join(str(p) for p in settings.corpus.paths) or 'empty'}), or uploaded "
            "documents would never be indexed. Add it to corpus.paths."
        )
    if upload_dir.exists() and not upload_dir.is_dir():
        raise ConfigError(f"telegram.upload_dir ({upload_dir}) is a file, not a folder.")


def _check_store(store: str) -> None:
    """telegram.store is "sqlite" or a PostgreSQL URL that libpq accepts, without a
    password (secrets are never in the config file). No message repeats a password."""
    if store == SQLITE_STORE:
        return
    if not store.startswith(POSTGRES_SCHEMES):
        raise ConfigError(
            f"Config key 'telegram.store' must be {SQLITE_STORE!r} or a PostgreSQL URL "
            f"(postgresql://user@host:5432/dbname), not {store!r}."
        )
    parts = urlsplit(store)
    passwords = [parts.password or "", *parse_qs(parts.query).get("password", [])]
    shown = store
    for password in filter(None, passwords):
        shown = shown.replace(password, "***")
    try:
        from psycopg import Error as PsycopgError
        from psycopg.conninfo import conninfo_to_dict
    except ImportError as exc:
        raise ConfigError(
            f"telegram.store is a PostgreSQL URL but psycopg cannot be loaded ({exc}): "
            "install it with `pip install 'psycopg[binary]'` (make setup does)."
        ) from None
    try:
        params = conninfo_to_dict(store)
    except PsycopgError as exc:
        problem = " ".join(str(exc).split())
    else:
        ports = params.get("port", "5432").split(",")
        problem = "" if all(p.isdigit() and 0 < int(p) < 65536 for p in ports) else "bad port"
    if any(passwords):
        raise ConfigError(
            f"Config key 'telegram.store' holds a password ({shown}); the config file holds "
            "no secrets. Remove it from the URL and put it in $PGPASSWORD (or the variable "
            "telegram.store_password_env names), or in ~/.pgpass."
        )
    if problem:
        raise ConfigError(
            f"Config key 'telegram.store' is not a valid PostgreSQL URL ({problem}): {shown}"
        )


def _with_environment(settings: Settings, data: dict[str, Any]) -> Settings:
    """Fill what the environment decides: the model cache (unless the file names one) and
    whether a hub model may be downloaded."""
    embedding = settings.embedding
    cache = os.environ.get(CACHE_ENV)
    if cache and "cache_dir" not in (data.get("embedding") or {}):
        embedding = replace(embedding, cache_dir=Path(cache).expanduser())
    if os.environ.get(OFFLINE_ENV, "").lower() in {"1", "true", "yes", "on"}:
        embedding = replace(embedding, offline=True)
    endpoint = embedding.endpoint
    if endpoint.url:
        if not endpoint.url.startswith(("http://", "https://")):
            raise ConfigError(
                f"Config key 'embedding.endpoint.url' must start with http:// or https://, "
                f"not {endpoint.url!r} (the server's base URL, e.g. http://127.0.0.1:8080/v1)."
            )
        key = os.environ.get(endpoint.api_key_env, "").strip()
        embedding = replace(embedding, endpoint=replace(endpoint, api_key=key))
    return replace(settings, embedding=embedding)


def bot_token(tg: TelegramSettings) -> str:
    """The bot token from `$<token_env>`, else `token_file`; never from config.yaml."""
    token = os.environ.get(tg.token_env, "").strip()
    if not token and tg.token_file is not None:
        try:
            token = tg.token_file.read_text(encoding="utf-8").strip()
        except OSError as exc:
            raise TokenMissing(
                f"无法读取令牌文件 telegram.token_file = {tg.token_file}（{exc.strerror}）。"
            ) from None
    if not token:
        raise TokenMissing(
            f"缺少 Telegram 机器人令牌。Set the token from @BotFather in ${tg.token_env} "
            "or point telegram.token_file at a file holding it (never put it in config.yaml)."
        )
    return token


def webhook_secret(tg: TelegramSettings) -> str:
    """The secret Telegram sends with every webhook update (`$<secret_token_env>`)."""
    wh = tg.webhook
    if not wh.webhook_url:
        raise ConfigError(
            "telegram.webhook.enabled 需要 telegram.webhook.webhook_url"
            "（Telegram 调用的公网 HTTPS 地址）。"
        )
    secret = os.environ.get(wh.secret_token_env, "").strip()
    if not secret:
        raise TokenMissing(
            f"Webhook 模式需要密钥：set ${wh.secret_token_env} (1-256 characters A-Z a-z 0-9 _ -); "
            "Telegram sends it with every update and other requests are refused."
        )
    return secret


def store_password(tg: TelegramSettings) -> str:
    """The PostgreSQL password from `$<store_password_env>`; "" leaves it to ~/.pgpass."""
    return os.environ.get(tg.store_password_env, "")


def llm_api_key(llm: LLMSettings) -> str:
    """The LLM endpoint's key from `$<api_key_env>`; local servers need none."""
    return os.environ.get(llm.api_key_env) or "not-needed"


def _build(cls: type, data: Any, prefix: str, base_dir: Path) -> Any:
    """Turn a mapping into dataclass `cls`, checking keys and types against its fields."""
    if not isinstance(data, dict):
        raise ConfigError(f"'{prefix.rstrip('.') or 'config'}' must be a mapping.")
    hints = typing.get_type_hints(cls)
    known = {
        f.name: f for f in fields(cls) if f.name != "config_path" and not f.metadata.get("secret")
    }
    for key in data:
        if key not in known:
            close = difflib.get_close_matches(str(key), known, n=1)
            hint = f" (did you mean '{prefix}{close[0]}'?)" if close else ""
            raise ConfigError(f"Unknown config key '{prefix}{key}'{hint}.")
    values = {}
    for name, f in known.items():
        if name in data:
            signed = f.metadata.get("signed", False)
            values[name] = _coerce(hints[name], data[name], f"{prefix}{name}", base_dir, signed)
            if f.metadata.get("positive") and not values[name] > 0:
                raise ConfigError(f"Config key '{prefix}{name}' must be greater than 0.")
        elif isinstance(f.default, Path) and not f.default.is_absolute():
            values[name] = base_dir / f.default  # defaults are relative to the config file too
        elif f.default is MISSING and f.default_factory is MISSING:  # pragma: no cover
            raise ConfigError(f"Missing config key '{prefix}{name}'.")
    return cls(**values)


def _coerce(hint: Any, value: Any, key: str, base_dir: Path, signed: bool = False) -> Any:
    """Check one value against its declared type; resolve relative paths."""
    origin, args = get_origin(hint), get_args(hint)
    if origin in (typing.Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        (inner,) = [a for a in args if a is not type(None)]
        return _coerce(inner, value, key, base_dir, signed)
    if is_dataclass(hint):
        return _build(hint, value, f"{key}.", base_dir)
    if origin is Literal:
        if value not in args:
            choices = ", ".join(repr(a) for a in args)
            raise ConfigError(f"Config key '{key}' must be one of {choices}, not {value!r}.")
        return value
    if origin is list:
        if not isinstance(value, list):
            raise ConfigError(f"Config key '{key}' must be a list.")
        return [_coerce(args[0], v, f"{key}[{i}]", base_dir, signed) for i, v in enumerate(value)]
    if hint is Path:
        if not isinstance(value, str) or not value:
            raise ConfigError(f"Config key '{key}' must be a path (a non-empty string).")
        path = Path(value).expanduser()
        return path if path.is_absolute() else base_dir / path
    if hint is bool:
        if not isinstance(value, bool):
            raise ConfigError(f"Config key '{key}' must be true or false.")
        return value
    if hint is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if hint in (int, float, str):
        if not isinstance(value, hint) or isinstance(value, bool):
            raise ConfigError(f"Config key '{key}' must be {hint.__name__}, not {value!r}.")
        if hint in (int, float) and value < 0 and not signed:
            raise ConfigError(f"Config key '{key}' must not be negative.")
        return value
    raise ConfigError(f"Config key '{key}' has an unsupported type.")  # pragma: no cover
