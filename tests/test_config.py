"""Settings: defaults, partial files, relative paths, and errors that name the bad key."""

from pathlib import Path

import pytest

from bot.config import ConfigError, config_path_from, load_settings


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "config.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def test_partial_file_takes_defaults_and_resolves_paths_relative_to_it(tmp_path):
    settings = load_settings(write(tmp_path, "corpus: {paths: [docs]}\nindex: {dir: idx}\n"))
    assert settings.corpus.paths == [tmp_path / "docs"]
    assert settings.index.dir == tmp_path / "idx"
    assert settings.retrieval.top_k == 5
    assert settings.telegram.rate_limit.questions == 10
    assert settings.config_path == (tmp_path / "config.yaml").resolve()
    assert settings.data_dir == tmp_path / "data", "defaults are relative to the file too"


def test_service_defaults():
    from bot.config import Settings

    settings = Settings()
    assert settings.answer.timeout_s > settings.llm.timeout_s  # the LLM's fallback comes first
    assert settings.telegram.max_backlog_age == 3600 and settings.telegram.log_retention_days == 90
    assert settings.telegram.rate_limit.in_flight >= 1 and settings.telegram.rate_limit.actions


def test_repository_config_is_valid():
    root = Path(__file__).resolve().parent.parent
    settings = load_settings(root / "config.yaml")
    assert settings.corpus.paths == [root / "corpus"]


@pytest.mark.parametrize(
    ("text", "names"),
    [
        ("index: {dir: x}\n", "corpus.paths"),
        ("corpus: {paths: [a]}\n", "index.dir"),
        ("corpus: {paths: a}\nindex: {dir: x}\n", "corpus.paths"),
        ("corpus: {paths: [a]}\nindex: {dir: x}\nretrieval: {topk: 3}\n", "retrieval.top_k"),
        ("corpus: {paths: [a]}\nindex: {dir: x}\nanswer: {mode: gpt}\n", "answer.mode"),
        ("corpus: {paths: [a]}\nindex: {dir: x}\ntelegram: {admins: [me]}\n", "telegram.admins"),
        ("corpus: {paths: [a]}\nindex: {dir: x}\nretrieval: {top_k: -1}\n", "retrieval.top_k"),
        ("corpus: {paths: []}\nindex: {dir: x}\n", "corpus.paths"),
        ("corpus: [\n", "YAML"),
    ],
)
def test_bad_config_names_the_key(tmp_path, text, names):
    with pytest.raises(ConfigError, match=names.replace(".", r"\.")):
        load_settings(write(tmp_path, text))


def test_missing_file_says_what_to_do(tmp_path):
    with pytest.raises(ConfigError, match="--config"):
        load_settings(tmp_path / "nope.yaml")


def test_config_path_precedence(monkeypatch):
    monkeypatch.setenv("ZONEBOT_CONFIG", "/env.yaml")
    assert config_path_from("/cli.yaml") == Path("/cli.yaml")
    assert config_path_from(None) == Path("/env.yaml")
    monkeypatch.delenv("ZONEBOT_CONFIG")
    assert config_path_from(None) == Path("config.yaml")


def test_group_chat_ids_may_be_negative_other_numbers_not(tmp_path):
    base = "corpus: {paths: [a]}\nindex: {dir: x}\n"
    settings = load_settings(
        write(tmp_path, base + "telegram: {allowed_chats: [-100123], admin_chat: -5}\n")
    )
    assert settings.telegram.allowed_chats == [-100123] and settings.telegram.admin_chat == -5
    with pytest.raises(ConfigError, match=r"telegram\.admins"):
        load_settings(write(tmp_path, base + "telegram: {admins: [-1]}\n"))


# ---- telegram.store: SQLite by default, or a PostgreSQL URL without a password ----------


def _store_config(tmp_path: Path, store: str) -> Path:
    return write(
        tmp_path, f"corpus: {{paths: [a]}}\nindex: {{dir: x}}\ntelegram: {{store: '{store}'}}\n"
    )


def test_the_question_log_is_sqlite_unless_configured(tmp_path):
    settings = load_settings(write(tmp_path, "corpus: {paths: [a]}\nindex: {dir: x}\n"))
    assert settings.telegram.store == "sqlite"
    assert settings.telegram.store_password_env == "PGPASSWORD"


@pytest.mark.parametrize(
    "url",
    [
        "postgresql://zonebot@db.internal:5432/zonebot",
        "postgres://zonebot@10.0.0.5/zonebot?sslmode=require",
        "postgresql://zonebot@/zonebot?host=/run/postgresql",
    ],
)
def test_postgresql_urls_are_accepted(tmp_path, url):
    assert load_settings(_store_config(tmp_path, url)).telegram.store == url


@pytest.mark.parametrize(
    ("store", "says"),
    [
        ("mysql://zonebot@db/zonebot", "must be 'sqlite' or a PostgreSQL URL"),
        ("data/zonebot.sqlite3", "must be 'sqlite' or a PostgreSQL URL"),
        ("postgresql://zonebot@db:port/zonebot", "not a valid PostgreSQL URL"),
        ("postgresql://zonebot@db/zonebot?colour=blue", "not a valid PostgreSQL URL"),
    ],
)
def test_bad_store_urls_say_what_is_wrong(tmp_path, store, says):
    with pytest.raises(ConfigError, match=r"telegram\.store") as caught:
        load_settings(_store_config(tmp_path, store))
    assert says in str(caught.value)


@pytest.mark.parametrize(
    "url",
    [
        "postgresql://zonebot:Hunter2-secret@db/zonebot",
        "postgresql://zonebot@db/zonebot?password=Hunter2-secret",
        "postgresql://zonebot:Hunter2-secret@db:port/zonebot",  # invalid as well
    ],
)
def test_a_password_in_the_store_url_is_refused_and_never_repeated(tmp_path, url):
    with pytest.raises(ConfigError, match=r"telegram\.store") as caught:
        load_settings(_store_config(tmp_path, url))
    assert "Hunter2-secret" not in str(caught.value)


def test_the_store_password_comes_from_the_environment(monkeypatch):
    from bot.config import TelegramSettings, store_password

    monkeypatch.setenv("ZONEBOT_TEST_PG_PASSWORD", "from-env")
    assert store_password(TelegramSettings(store_password_env="ZONEBOT_TEST_PG_PASSWORD")) == (
        "from-env"
    )
    monkeypatch.delenv("ZONEBOT_TEST_PG_PASSWORD")
    assert store_password(TelegramSettings(store_password_env="ZONEBOT_TEST_PG_PASSWORD")) == ""


def test_a_read_only_replica_takes_no_uploads(tmp_path):
    text = (
        "corpus: {paths: [docs]}\nindex: {dir: x, read_only: true}\ntelegram: {upload_dir: docs}\n"
    )
    with pytest.raises(ConfigError, match=r"index\.read_only"):
        load_settings(write(tmp_path, text))
    assert (
        load_settings(write(tmp_path, "corpus: {paths: [a]}\nindex: {dir: x}\n")).index.read_only
        is False
    )
