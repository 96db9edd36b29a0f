"""What the bot keeps: :func:`open_store` opens the store ``FITBOT_STATE`` names."""

from __future__ import annotations

from bot.settings import Settings
from bot.state.store import SqliteStore, Store


def open_store(settings: Settings) -> Store:
    """The Redis ``settings.state_url`` names, else the SQLite file ``settings.state``.

    Raises :class:`~bot.errors.ConfigError` if the file cannot be opened.
    """
    if settings.state_url is not None:
        from bot.state.redis_store import RedisStore  # only deployments with Redis load it

        return RedisStore(settings.state_url.reveal())
    return SqliteStore(settings.state)
