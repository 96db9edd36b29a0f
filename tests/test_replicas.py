"""Two webhook replicas sharing a real Redis, behind a round-robin balancer, as deployed.

Each replica is ``fitbot run`` in its own process; Telegram's delivery is simulated as it
behaves (one update in flight per chat, redelivery until a 200: :mod:`tests.replicas`). A
dialog whose turns go to alternate replicas keeps its context; a replica killed under load
loses nothing and answers nothing twice beyond a send on the wire; a Redis restart under load
is ridden out.
"""

from __future__ import annotations

import asyncio
import signal
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.fake_bot_api import FakeBotApi, parse_html
from tests.redis_server import RedisServer
from tests.replicas import TelegramWebhook, healthz, replica_processes

TIMEOUT = 30.0
HOW = "how do I do a reverse squat?"
MISTAKES = "what are the common mistakes?"
CHECKLIST = "/checklist reverse squat"
TEXTS = (HOW, MISTAKES, CHECKLIST)
TITLES = ("Reverse squat: steps", "Reverse squat: mistakes", "Reverse squat: form checklist")


PASSWORD = "redis-pass-7f3a9c"


@pytest.fixture
def redis(tmp_path: Path) -> Iterator[RedisServer]:
    """A redis-server of this test's own (replicas use the default key prefix), with a
    password, which must never be logged."""
    server = RedisServer(tmp_path / "redis", password=PASSWORD)
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
async def telegram() -> AsyncIterator[list[TelegramWebhook]]:
    """Started :class:`TelegramWebhook` objects are added here and stopped afterwards."""
    hooks: list[TelegramWebhook] = []
    yield hooks
    for hook in hooks:
        await hook.stop()


async def webhook(hooks: list[TelegramWebhook], url: str) -> TelegramWebhook:
    hook = TelegramWebhook(url)
    await hook.start()
    hooks.append(hook)
    return hook


def title(message: dict[str, Any]) -> str:
    text = parse_html(message["text"]) if message.get("parse_mode") else message["text"]
    return str(text).split("\n", 1)[0]


def collapsed(titles: list[str]) -> list[str]:
    """``titles`` with repeats in a row made one (a resent reply arrives right after itself)."""
    return [t for i, t in enumerate(titles) if i == 0 or titles[i - 1] != t]


def sent_ok(api: FakeBotApi) -> int:
    return sum(1 for c in api.calls if c.method == "sendMessage" and c.status == 200)


async def quiet(api: FakeBotApi, seconds: float = 0.3) -> None:
    """Wait until the fake API has seen no new call for ``seconds`` (bounded)."""
    for _ in range(int(TIMEOUT / seconds)):
        count = len(api.calls)
        await asyncio.sleep(seconds)
        if len(api.calls) == count:
            return


async def test_a_dialog_whose_turns_alternate_between_replicas_keeps_its_context(
    fake_api: FakeBotApi, redis: RedisServer, tmp_path: Path, telegram: list[TelegramWebhook]
) -> None:
    # Telegram's rate limits and flood control on: both through Redis here.
    async with replica_processes(
        fake_api, redis.url, tmp_path, FITBOT_RATE_LIMIT="1", FITBOT_FLOOD_RATE="1"
    ) as (balancer, processes):
        hook = await webhook(telegram, balancer.url)
        for count, text in enumerate(TEXTS, start=1):
            hook.send(1, fake_api.text_update(1, text))
            await fake_api.wait_sent(1, count, TIMEOUT)
        await fake_api.wait_for(lambda: hook.acknowledged == len(TEXTS), TIMEOUT)

        # A reload on one replica (SIGHUP) reaches the other through Redis.
        processes[0].send_signal(signal.SIGHUP)
        other = tmp_path / "replica-1.log"
        await fake_api.wait_for(lambda: "knowledge reloaded" in other.read_text(), TIMEOUT)

    assert balancer.served == [0, 1, 0]
    assert [title(m) for m in fake_api.sent(1)] == list(TITLES)
    assert dict(hook.statuses) == {200: 3}
    log = other.read_text()
    assert "another replica reloaded the knowledge base" in log
    assert "Traceback" not in log
    for path in tmp_path.glob("replica-*.log"):
        assert PASSWORD not in path.read_text()


async def test_a_replica_killed_under_load_loses_nothing_and_repeats_only_sends_on_the_wire(
    fake_api: FakeBotApi, redis: RedisServer, tmp_path: Path, telegram: list[TelegramWebhook]
) -> None:
    chats = range(1, 31)
    fake_api.latency = 0.01
    async with replica_processes(fake_api, redis.url, tmp_path, FITBOT_RATE_LIMIT="0") as (
        balancer,
        processes,
    ):
        hook = await webhook(telegram, balancer.url)
        for text in TEXTS:
            for chat in chats:
                hook.send(chat, fake_api.text_update(chat, text))
        await fake_api.wait_for(lambda: sent_ok(fake_api) >= 20, TIMEOUT)
        fake_api.hold("sendMessage")  # what is sent from now on stays on the wire
        await fake_api.wait_for(lambda: fake_api.held > 0, TIMEOUT)
        await quiet(fake_api)
        processes[0].send_signal(signal.SIGKILL)
        await processes[0].wait()
        on_the_wire = fake_api.held
        fake_api.release("sendMessage")  # Telegram took them; the dead replica never heard
        for chat in chats:
            await fake_api.wait_sent(chat, 3, TIMEOUT)
        await fake_api.wait_for(lambda: hook.pending == 0, TIMEOUT)
        await quiet(fake_api)

    total = 0
    for chat in chats:
        titles = [title(m) for m in fake_api.sent(chat)]
        assert collapsed(titles) == list(TITLES), (chat, titles)
        total += len(titles)
    assert total - 3 * len(chats) <= on_the_wire
    assert hook.statuses[502] > 0  # Telegram did redeliver what the dead replica had


async def test_a_redis_restart_under_load_is_ridden_out(
    fake_api: FakeBotApi, redis: RedisServer, tmp_path: Path, telegram: list[TelegramWebhook]
) -> None:
    chats = range(1, 21)
    async with replica_processes(fake_api, redis.url, tmp_path, FITBOT_RATE_LIMIT="0") as (
        balancer,
        _,
    ):
        hook = await webhook(telegram, balancer.url)
        for chat in chats:
            hook.send(chat, fake_api.text_update(chat, HOW))
        await fake_api.wait_for(lambda: sent_ok(fake_api) == len(chats), TIMEOUT)

        redis.stop()  # SIGTERM: Redis writes its append-only file and exits
        status, body = await healthz(balancer.ports[0])
        assert (status, body.get("state")) == (503, "unreachable")
        for chat in chats:  # arriving while Redis is down
            hook.send(chat, fake_api.text_update(chat, MISTAKES))
        await asyncio.sleep(1.0)
        redis.start()
        for chat in chats:
            await fake_api.wait_sent(chat, 2, TIMEOUT)
            hook.send(chat, fake_api.text_update(chat, CHECKLIST))
        for chat in chats:
            await fake_api.wait_sent(chat, 3, TIMEOUT)
        await fake_api.wait_for(lambda: hook.pending == 0, TIMEOUT)
        health = [await healthz(port) for port in balancer.ports]

    for chat in chats:  # in order, once each, and the follow-ups kept their context
        assert [title(m) for m in fake_api.sent(chat)] == list(TITLES), chat
    assert [status for status, _ in health] == [200, 200], health
    assert all(body["state"] == "ok" for _, body in health)


def test_compose_runs_two_replicas_on_one_persistent_redis_behind_a_proxy() -> None:
    compose = yaml.safe_load((Path(__file__).parents[1] / "compose.yaml").read_text())
    services = compose["services"]
    replicas = [services[name] for name in ("fitbot-1", "fitbot-2")]

    redis_command = " ".join(services["redis"]["command"])
    assert "--appendonly yes" in redis_command and "--requirepass" in redis_command
    assert services["redis"]["volumes"] == ["redis-data:/data"]
    for name in ("FITBOT_STATE", "FITBOT_WEBHOOK_URL", "FITBOT_WEBHOOK_SECRET"):
        assert replicas[0]["environment"][name] == replicas[1]["environment"][name]
    assert replicas[0]["environment"]["FITBOT_STATE"].startswith("redis://:${REDIS_PASSWORD")
    assert replicas[0]["hostname"] != replicas[1]["hostname"]
    caddyfile = compose["configs"]["caddyfile"]["content"]
    assert "fitbot-1:8443 fitbot-2:8443" in caddyfile and "round_robin" in caddyfile
