"""Settings: flags over environment over defaults, every malformed value a clear ConfigError."""

from __future__ import annotations

import argparse
from pathlib import Path

import pytest

from bot.errors import ConfigError
from bot.settings import (
    DEFAULT_BASE_URL,
    DEFAULT_FLOOD_BURST,
    DEFAULT_PORT,
    DEFAULT_STATE,
    Secret,
    Settings,
    add_run_arguments,
)

TOKEN = "123456:ABCdefGHIjklMNOpqrSTUvwxYZ0123456789_-"


def parse(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    add_run_arguments(parser)
    return parser.parse_args(argv)


def test_defaults_without_any_configuration(tmp_path: Path) -> None:
    settings = Settings.from_env(None, {"FITBOT_KNOWLEDGE": str(tmp_path)})

    assert settings.token is None
    assert settings.base_url == DEFAULT_BASE_URL
    assert settings.admins == frozenset()
    assert settings.knowledge == tmp_path
    assert settings.state == DEFAULT_STATE
    assert settings.rate_limit is True
    assert settings.webhook_url is None
    assert settings.port == DEFAULT_PORT
    assert settings.log_level == "INFO"
    assert settings.flood_burst == DEFAULT_FLOOD_BURST


def test_environment_is_read() -> None:
    env = {
        "TELEGRAM_BOT_TOKEN": f"  {TOKEN}\n",
        "TELEGRAM_BASE_URL": "http://127.0.0.1:8081/bot",
        "FITBOT_ADMINS": "42, 7",
        "FITBOT_STATE": "/tmp/state.sqlite3",
        "FITBOT_RATE_LIMIT": "0",
        "FITBOT_WEBHOOK_URL": "https://bot.example.com/hook",
        "FITBOT_WEBHOOK_SECRET": "s3cret_-",
        "FITBOT_LOG_LEVEL": "debug",
        "FITBOT_FLOOD_RATE": "0",
    }
    settings = Settings.from_env(None, env)

    assert settings.require_token().reveal() == TOKEN
    assert settings.base_url == "http://127.0.0.1:8081/bot"
    assert settings.admins == {42, 7}
    assert settings.state == Path("/tmp/state.sqlite3")
    assert settings.rate_limit is False
    assert settings.webhook_url == "https://bot.example.com/hook"
    assert settings.webhook_secret is not None
    assert settings.webhook_secret.reveal() == "s3cret_-"
    assert settings.log_level == "DEBUG"
    assert settings.log_level_number == 10
    assert settings.flood_rate == 0


def test_flags_win_over_environment() -> None:
    args = parse(
        "--base-url=http://localhost:9/bot",
        "--state=flag.sqlite3",
        "--no-rate-limit",
        "--webhook-url=https://a.example/x",
        "--listen=0.0.0.0",
        "--port=88",
        "--secret-token=flag",
        "--log-level=warning",
        "--flood-rate=2.5",
        "--flood-burst=3",
    )
    env = {"TELEGRAM_BASE_URL": "http://env/bot", "FITBOT_STATE": "env.sqlite3"}
    settings = Settings.from_env(args, env)

    assert settings.base_url == "http://localhost:9/bot"
    assert settings.state == Path("flag.sqlite3")
    assert settings.rate_limit is False
    assert (settings.webhook_url, settings.listen, settings.port) == (
        "https://a.example/x",
        "0.0.0.0",
        88,
    )
    assert settings.log_level == "WARNING"
    assert (settings.flood_rate, settings.flood_burst) == (2.5, 3)


def test_the_global_knowledge_flag_is_honoured(tmp_path: Path) -> None:
    args = parse()
    args.knowledge = tmp_path  # set by ``fitbot --knowledge DIR run``

    assert Settings.from_env(args, {"FITBOT_KNOWLEDGE": "/elsewhere"}).knowledge == tmp_path


def test_unset_flags_leave_the_environment_in_charge() -> None:
    settings = Settings.from_env(parse(), {"FITBOT_STATE": "env.sqlite3"})

    assert settings.state == Path("env.sqlite3")


def test_missing_token_is_a_clear_message_only_when_needed() -> None:
    settings = Settings.from_env(None, {})

    with pytest.raises(ConfigError, match="TELEGRAM_BOT_TOKEN is not set"):
        settings.require_token()


@pytest.mark.parametrize(
    "token",
    [
        pytest.param("123456", id="no-secret"),
        pytest.param("123456:short", id="too-short"),
        pytest.param("abc:ABCdefGHIjklMNOpqrSTUvwxYZ0123456789", id="id-not-numeric"),
        pytest.param("123456:ABCdefGHIjklMNOpqrSTUvwxYZ01234567 89", id="space-inside"),
        pytest.param("123456:ABCdefGHIjklMNOpqrSTUvwxYZ0123456789!", id="bad-character"),
    ],
)
def test_malformed_token_is_rejected_without_echoing_it(token: str) -> None:
    with pytest.raises(ConfigError, match="TELEGRAM_BOT_TOKEN is malformed") as caught:
        Settings.from_env(None, {"TELEGRAM_BOT_TOKEN": token})

    assert token not in str(caught.value)
    assert not (secret := token.partition(":")[2]) or secret not in str(caught.value)


@pytest.mark.parametrize(
    ("env", "message"),
    [
        pytest.param({"FITBOT_ADMINS": "42,abc"}, "FITBOT_ADMINS", id="admins-word"),
        pytest.param({"FITBOT_ADMINS": "42,,7"}, "FITBOT_ADMINS", id="admins-empty-item"),
        pytest.param({"FITBOT_RATE_LIMIT": "maybe"}, "FITBOT_RATE_LIMIT", id="rate-limit"),
        pytest.param({"TELEGRAM_BASE_URL": "api.telegram.org"}, "TELEGRAM_BASE_URL", id="base"),
        pytest.param({"FITBOT_WEBHOOK_URL": "/hook"}, "FITBOT_WEBHOOK_URL", id="webhook-url"),
        pytest.param({"FITBOT_WEBHOOK_SECRET": "has space"}, "SECRET", id="secret"),
        pytest.param({"FITBOT_WEBHOOK_PORT": "70000"}, "port", id="port-range"),
        pytest.param({"FITBOT_WEBHOOK_PORT": "http"}, "port", id="port-word"),
        pytest.param({"FITBOT_LOG_LEVEL": "LOUD"}, "FITBOT_LOG_LEVEL", id="log-level"),
        pytest.param({"FITBOT_FLOOD_RATE": "-1"}, "FITBOT_FLOOD_RATE", id="flood-negative"),
        pytest.param({"FITBOT_FLOOD_RATE": "inf"}, "FITBOT_FLOOD_RATE", id="flood-infinite"),
        pytest.param({"FITBOT_FLOOD_BURST": "0"}, "FITBOT_FLOOD_BURST", id="burst-zero"),
    ],
)
def test_malformed_values_name_their_variable(env: dict[str, str], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        Settings.from_env(None, env)


@pytest.mark.parametrize(("word", "expected"), [("1", True), ("on", True), ("off", False)])
def test_rate_limit_switch_words(word: str, expected: bool) -> None:
    assert Settings.from_env(None, {"FITBOT_RATE_LIMIT": word}).rate_limit is expected


def test_secrets_never_show_in_repr_or_str() -> None:
    env = {"TELEGRAM_BOT_TOKEN": TOKEN, "FITBOT_WEBHOOK_SECRET": "hook-secret"}
    settings = Settings.from_env(None, env)

    for shown in (repr(settings), str(settings), f"{settings.token}", repr(settings.token)):
        assert TOKEN not in shown
        assert "hook-secret" not in shown
    assert repr(Secret("x")) == "'***'"


def test_settings_are_frozen() -> None:
    with pytest.raises(AttributeError):
        Settings().port = 1  # type: ignore[misc]
