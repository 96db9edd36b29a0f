"""The fake Bot API answers, validates and records like Telegram; PTB can talk to it."""

from __future__ import annotations

import asyncio
import html
import json
import time
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from hypothesis import given
from hypothesis import strategies as st
from telegram import Bot

from tests.fake_bot_api import FakeBotApi, parse_html

JSONDict = dict[str, Any]


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10)) as session:
        yield session


async def call(
    http: aiohttp.ClientSession, api: FakeBotApi, method: str, **params: Any
) -> tuple[int, JSONDict]:
    """POST ``params`` as JSON to ``method``; return the HTTP status and decoded body."""
    async with http.post(f"{api.base_url}{api.token}/{method}", json=params) as response:
        return response.status, await response.json()


def keyboard(*buttons: JSONDict) -> JSONDict:
    return {"inline_keyboard": [list(buttons)]}


ALL_TAGS = (
    "<b>b</b><strong>s</strong><i>i</i><em>e</em><u>u</u><ins>i</ins><s>s</s><strike>s</strike>"
    '<del>d</del><a href="https://example.org/?a=1&amp;b=2">a</a><code>c</code>'
    '<pre><code class="language-python">p</code></pre><tg-spoiler>t</tg-spoiler>'
    '<span class="tg-spoiler">s</span><blockquote expandable>q</blockquote>'
    '<B>upper</B><tg-emoji emoji-id="5368324170671202286">\N{THUMBS UP SIGN}</tg-emoji>'
    " &lt;&gt;&amp;&quot;&#39;&#x27; 1 > 0"
)


@pytest.mark.parametrize(
    ("method", "params"),
    [
        pytest.param("sendMessage", {"chat_id": 1, "text": ALL_TAGS, "parse_mode": "HTML"},
                     id="every-allowed-tag-and-entity"),
        pytest.param("sendMessage", {"chat_id": 1, "text": "<b>" + "x" * 4096 + "</b>",
                                     "parse_mode": "HTML"}, id="4096-after-tags"),
        pytest.param("sendMessage", {"chat_id": 1, "text": "&amp;" * 4096, "parse_mode": "html"},
                     id="4096-after-entities"),
        pytest.param("sendMessage", {"chat_id": 1, "text": "<b>not parsed</b>"},
                     id="tags-without-parse-mode"),
        pytest.param("sendMessage", {"chat_id": 1, "text": "\N{GRINNING FACE}" * 2048},
                     id="2048-astral-is-4096-utf16"),
        pytest.param("sendMessage", {"chat_id": 1, "text": "ok", "reply_markup": keyboard(
            {"text": "b", "callback_data": "\N{LATIN SMALL LETTER E WITH ACUTE}" * 32})},
                     id="64-byte-callback-data"),
        pytest.param("sendMessage", {"chat_id": 1, "text": "ok", "reply_markup": {
            "keyboard": [[{"text": "reply keyboard"}]]}}, id="reply-keyboard"),
        pytest.param("setMyCommands", {"commands": [
            {"command": f"c_{i}", "description": "d" * 256} for i in range(100)]},
                     id="100-commands"),
    ],
)  # fmt: skip
async def test_valid_calls_are_accepted(
    fake_api: FakeBotApi, http: aiohttp.ClientSession, method: str, params: JSONDict
) -> None:
    status, body = await call(http, fake_api, method, **params)

    assert (status, body["ok"]) == (200, True), body


async def test_sent_message_is_returned_as_telegram_would(
    fake_api: FakeBotApi, http: aiohttp.ClientSession
) -> None:
    _, first = await call(http, fake_api, "sendMessage", chat_id=7, text="<i>a</i> &amp; b",
                          parse_mode="HTML")  # fmt: skip
    _, second = await call(http, fake_api, "sendMessage", chat_id=7, text="again")

    message = first["result"]
    assert message["text"] == "a & b"
    assert message["chat"]["id"] == 7
    assert message["from"]["username"] == "fitbot_test_bot"
    assert isinstance(message["date"], int)
    assert second["result"]["message_id"] == message["message_id"] + 1
    assert [p["text"] for p in fake_api.sent(7)] == ["<i>a</i> &amp; b", "again"]
    assert [p["message_id"] for p in fake_api.sent(7)] == [1, 2]


@pytest.mark.parametrize(
    ("method", "params", "status", "description"),
    [
        pytest.param("sendMessage", {"chat_id": 1, "text": "<foo>x</foo>", "parse_mode": "HTML"},
                     400, "can't parse entities: Unsupported start tag \"foo\"", id="unknown-tag"),
        pytest.param("sendMessage", {"chat_id": 1, "text": "<b>x", "parse_mode": "HTML"},
                     400, "Can't find end tag corresponding to start tag \"b\"", id="unclosed"),
        pytest.param("sendMessage", {"chat_id": 1, "text": "<b><i>x</b></i>",
                                     "parse_mode": "HTML"}, 400, "Unmatched end tag",
                     id="misnested"),
        pytest.param("sendMessage", {"chat_id": 1, "text": "x</b>", "parse_mode": "HTML"},
                     400, "Unexpected end tag", id="stray-end-tag"),
        pytest.param("sendMessage", {"chat_id": 1, "text": "2 < 3", "parse_mode": "HTML"},
                     400, "can't parse entities", id="bare-less-than"),
        pytest.param("sendMessage", {"chat_id": 1, "text": "AT&T", "parse_mode": "HTML"},
                     400, "can't parse entities", id="bare-ampersand"),
        pytest.param("sendMessage", {"chat_id": 1, "text": "a&nbsp;b", "parse_mode": "HTML"},
                     400, "Unsupported HTML entity", id="named-entity"),
        pytest.param("sendMessage", {"chat_id": 1, "text": "<a>x</a>", "parse_mode": "HTML"},
                     400, "must have attribute \"href\"", id="a-without-href"),
        pytest.param("sendMessage", {"chat_id": 1, "text": "<span>x</span>",
                                     "parse_mode": "HTML"}, 400, "class \"tg-spoiler\"",
                     id="plain-span"),
        pytest.param("sendMessage", {"chat_id": 1, "text": "a<br/>b", "parse_mode": "HTML"},
                     400, "can't parse entities", id="br"),
        pytest.param("sendMessage", {"chat_id": 1, "text": "x", "parse_mode": "Textile"},
                     400, "unsupported parse_mode", id="unknown-parse-mode"),
        pytest.param("sendMessage", {"chat_id": 1, "text": "x" * 4097}, 400,
                     "message is too long", id="4097-chars"),
        pytest.param("sendMessage", {"chat_id": 1, "text": "<b>" + "x" * 4097 + "</b>",
                                     "parse_mode": "HTML"}, 400, "message is too long",
                     id="4097-after-tags"),
        pytest.param("sendMessage", {"chat_id": 1, "text": "\N{GRINNING FACE}" * 2049}, 400,
                     "message is too long", id="2049-astral-is-4098-utf16"),
        pytest.param("sendMessage", {"chat_id": 1, "text": ""}, 400, "message text is empty",
                     id="empty"),
        pytest.param("sendMessage", {"chat_id": 1, "text": "<b> </b>", "parse_mode": "HTML"},
                     400, "message text is empty", id="empty-after-tags"),
        pytest.param("sendMessage", {"text": "x"}, 400, "chat_id is empty", id="no-chat"),
        pytest.param("sendMessage", {"chat_id": 1, "text": "x", "reply_markup": keyboard(
            {"text": "b", "callback_data": "x" * 65})}, 400, "BUTTON_DATA_INVALID",
                     id="65-byte-callback-data"),
        pytest.param("sendMessage", {"chat_id": 1, "text": "x", "reply_markup": keyboard(
            {"text": "b", "callback_data": "\N{LATIN SMALL LETTER E WITH ACUTE}" * 33})},
                     400, "BUTTON_DATA_INVALID", id="33-chars-66-bytes"),
        pytest.param("sendMessage", {"chat_id": 1, "text": "x", "reply_markup": keyboard(
            {"text": "b", "callback_data": ""})}, 400, "BUTTON_DATA_INVALID",
                     id="empty-callback-data"),
        pytest.param("sendMessage", {"chat_id": 1, "text": "x", "reply_markup": keyboard(
            {"text": "", "callback_data": "d"})}, 400, "BUTTON_DATA_INVALID",
                     id="empty-button-text"),
        pytest.param("sendMessage", {"chat_id": 1, "text": "x", "reply_markup": "{not json"},
                     400, "can't parse reply keyboard markup", id="markup-not-json"),
        pytest.param("editMessageText", {"chat_id": 1, "message_id": 1, "text": "<i>x"},
                     200, None, id="edit-without-parse-mode-is-plain"),
        pytest.param("editMessageText", {"chat_id": 1, "message_id": 1, "text": "<i>x",
                                         "parse_mode": "HTML"}, 400, "can't parse entities",
                     id="edit-bad-html"),
        pytest.param("setMyCommands", {"commands": [{"command": "Start", "description": "d"}]},
                     400, "BOT_COMMAND_INVALID", id="uppercase-command"),
        pytest.param("setMyCommands", {"commands": [{"command": "a-b", "description": "d"}]},
                     400, "BOT_COMMAND_INVALID", id="dash-command"),
        pytest.param("setMyCommands", {"commands": [{"command": "c" * 33, "description": "d"}]},
                     400, "BOT_COMMAND_INVALID", id="33-char-command"),
        pytest.param("setMyCommands", {"commands": [{"command": "c", "description": ""}]},
                     400, "BOT_COMMAND_DESCRIPTION_INVALID", id="empty-description"),
        pytest.param("setMyCommands", {"commands": [{"command": "c", "description": "d" * 257}]},
                     400, "BOT_COMMAND_DESCRIPTION_INVALID", id="257-char-description"),
        pytest.param("setMyCommands", {"commands": [
            {"command": f"c{i}", "description": "d"} for i in range(101)]}, 400,
                     "BOT_COMMANDS_TOO_MUCH", id="101-commands"),
        pytest.param("sendChatAction", {"chat_id": 1, "action": "dancing"}, 400,
                     "wrong parameter action", id="bad-chat-action"),
        pytest.param("answerCallbackQuery", {"callback_query_id": "42"}, 400,
                     "query ID is invalid", id="unknown-callback-query"),
        pytest.param("doTheHokeyCokey", {}, 404, "Not Found", id="unknown-method"),
    ],
)  # fmt: skip
async def test_invalid_calls_are_rejected_like_telegram(
    fake_api: FakeBotApi,
    http: aiohttp.ClientSession,
    method: str,
    params: JSONDict,
    status: int,
    description: str | None,
) -> None:
    got_status, body = await call(http, fake_api, method, **params)

    assert got_status == status, body
    if description is not None:
        assert body == {"ok": False, "error_code": status, "description": body["description"]}
        assert description in body["description"]
        assert fake_api.calls[-1].status == status
        assert fake_api.sent(1) == []


async def test_wrong_token_is_unauthorized(
    fake_api: FakeBotApi, http: aiohttp.ClientSession
) -> None:
    async with http.post(f"{fake_api.base_url}123456:wrong/getMe") as response:
        assert response.status == 401
        assert await response.json() == {
            "ok": False, "error_code": 401, "description": "Unauthorized"
        }  # fmt: skip


async def test_paths_outside_the_api_are_json_404(
    fake_api: FakeBotApi, http: aiohttp.ClientSession
) -> None:
    async with http.get(fake_api.base_url.removesuffix("/bot") + "/favicon.ico") as response:
        assert (response.status, (await response.json())["error_code"]) == (404, 404)


@given(st.text())
def test_escaped_text_always_parses_back_to_itself(text: str) -> None:
    assert parse_html(html.escape(text)) == text


@pytest.mark.parametrize(
    "encoding",
    [
        pytest.param("json", id="json-body"),
        pytest.param("urlencoded", id="urlencoded-body"),
        pytest.param("multipart", id="multipart-body"),
        pytest.param("query", id="get-query-string"),
    ],
)
async def test_parameters_are_decoded_from_every_encoding(
    fake_api: FakeBotApi, http: aiohttp.ClientSession, encoding: str
) -> None:
    markup = keyboard({"text": "Go", "callback_data": "go:1"})
    form = {"chat_id": "-100123", "text": "hé <b>x</b>", "parse_mode": "HTML",
            "reply_markup": json.dumps(markup), "disable_notification": "true"}  # fmt: skip
    url = f"{fake_api.base_url}{fake_api.token}/SENDMESSAGE"
    if encoding == "json":
        request = http.post(url, json={**form, "chat_id": -100123, "reply_markup": markup})
    elif encoding == "urlencoded":
        request = http.post(url, data=form)
    elif encoding == "multipart":
        data = aiohttp.FormData(form, default_to_multipart=True)
        request = http.post(url, data=data)
    else:
        request = http.get(url, params=form)
    async with request as response:
        assert response.status == 200, await response.text()

    [params] = fake_api.sent(-100123)
    assert params == {
        "chat_id": -100123,
        "text": "hé <b>x</b>",
        "parse_mode": "HTML",
        "reply_markup": markup,
        "disable_notification": True,
        "message_id": 1,
    }
    assert fake_api.calls[-1].method == "sendMessage"  # canonical name, whatever the case


async def test_ptb_parses_every_kind_of_pushed_update(fake_api: FakeBotApi) -> None:
    async with Bot(fake_api.token, base_url=fake_api.base_url) as bot:
        sent = await bot.send_message(5, "pick")
    message_id = fake_api.push_text(5, "hi there", reply_to_bot=True)
    fake_api.push_command(-100500, "start", "deep-link", chat_type="supergroup", user_id=9)
    fake_api.push_edited_text(5, message_id, "hi there!")
    fake_api.push_sticker(5)
    fake_api.push_photo(5, caption="form check")
    callback_id = fake_api.push_callback(5, "go:1", message_id=sent.message_id)
    inline_id = fake_api.push_inline_query(5, "squat")
    fake_api.push_channel_post(-100900, "news")

    async with Bot(fake_api.token, base_url=fake_api.base_url) as bot:
        updates = await bot.get_updates(timeout=0)

    assert [u.effective_message.text if u.effective_message else None for u in updates] == [
        "hi there", "/start deep-link", "hi there!", None, None, "pick", None, "news"
    ]  # fmt: skip
    text, command, edited, sticker, photo, callback, inline, post = updates
    assert text.message is not None and text.message.reply_to_message is not None
    assert text.message.reply_to_message.from_user is not None
    assert text.message.reply_to_message.from_user.username == "fitbot_test_bot"
    assert command.message is not None and command.message.chat.type == "supergroup"
    assert command.message.from_user is not None and command.message.from_user.id == 9
    assert command.message.parse_entities(["bot_command"]) == {
        command.message.entities[0]: "/start"
    }
    assert edited.edited_message is not None and edited.edited_message.message_id == message_id
    assert sticker.message is not None and sticker.message.sticker is not None
    assert photo.message is not None and photo.message.caption == "form check"
    assert len(photo.message.photo) == 2
    assert callback.callback_query is not None and callback.callback_query.id == callback_id
    assert callback.callback_query.data == "go:1"
    assert inline.inline_query is not None and inline.inline_query.id == inline_id
    assert post.channel_post is not None and post.channel_post.chat.type == "channel"
    assert [u.update_id for u in updates] == sorted({u.update_id for u in updates})


async def test_long_poll_returns_as_soon_as_an_update_is_pushed(
    fake_api: FakeBotApi, http: aiohttp.ClientSession
) -> None:
    async def push_later() -> None:
        await asyncio.sleep(0.2)
        fake_api.push_text(1, "late")

    started = time.monotonic()
    (status, body), _ = await asyncio.gather(
        call(http, fake_api, "getUpdates", timeout=5), push_later()
    )

    assert status == 200
    assert [u["message"]["text"] for u in body["result"]] == ["late"]
    assert 0.15 < time.monotonic() - started < 1.5


async def test_long_poll_waits_out_its_timeout_when_idle(
    fake_api: FakeBotApi, http: aiohttp.ClientSession
) -> None:
    started = time.monotonic()
    status, body = await call(http, fake_api, "getUpdates", timeout=1)

    assert (status, body["result"]) == (200, [])
    assert 0.9 < time.monotonic() - started < 2


async def test_get_updates_honours_offset_limit_and_allowed_updates(
    fake_api: FakeBotApi, http: aiohttp.ClientSession
) -> None:
    ids = [fake_api.push_raw({"message": {"n": n}}) for n in range(5)]
    fake_api.push_inline_query(3, "q")

    _, first = await call(http, fake_api, "getUpdates", limit=2)
    _, again = await call(http, fake_api, "getUpdates", limit=2)
    _, rest = await call(http, fake_api, "getUpdates", offset=ids[2],
                         allowed_updates=["message"])  # fmt: skip
    _, only_inline = await call(http, fake_api, "getUpdates", offset=ids[-1] + 1,
                                allowed_updates=["inline_query"])  # fmt: skip
    _, confirmed = await call(http, fake_api, "getUpdates", offset=only_inline["result"][0][
        "update_id"] + 1)  # fmt: skip

    assert [u["update_id"] for u in first["result"]] == ids[:2]
    assert again == first  # not confirmed yet
    assert [u["update_id"] for u in rest["result"]] == ids[2:]
    assert [list(u)[1] for u in only_inline["result"]] == ["inline_query"]
    assert confirmed["result"] == []


async def test_get_updates_conflicts_with_a_webhook(
    fake_api: FakeBotApi, http: aiohttp.ClientSession
) -> None:
    await call(http, fake_api, "setWebhook", url="https://example.org/hook")
    status, body = await call(http, fake_api, "getUpdates")
    _, info = await call(http, fake_api, "getWebhookInfo")

    assert status == 409 and "webhook is active" in body["description"]
    assert info["result"]["url"] == "https://example.org/hook"


async def test_stop_answers_pending_long_polls(http: aiohttp.ClientSession) -> None:
    api = FakeBotApi()
    await api.start()
    poll = asyncio.ensure_future(call(http, api, "getUpdates", timeout=30))
    await asyncio.sleep(0.1)
    started = time.monotonic()
    await api.stop()

    assert time.monotonic() - started < 2
    status, body = await asyncio.wait_for(poll, 2)
    assert (status, body["result"]) == (200, [])


@pytest.mark.parametrize(
    ("status", "kwargs", "description", "parameters"),
    [
        pytest.param(429, {"retry_after": 7}, "Too Many Requests: retry after 7",
                     {"retry_after": 7}, id="429"),
        pytest.param(429, {}, "Too Many Requests: retry after 1", {"retry_after": 1},
                     id="429-default-retry-after"),
        pytest.param(403, {}, "Forbidden: bot was blocked by the user", None, id="403"),
        pytest.param(500, {}, "Internal Server Error", None, id="500"),
        pytest.param(502, {}, "Bad Gateway", None, id="502"),
        pytest.param(400, {"description": "Bad Request: chat not found"},
                     "Bad Request: chat not found", None, id="custom-description"),
    ],
)  # fmt: skip
async def test_fail_next_answers_the_next_calls_with_the_error(
    fake_api: FakeBotApi,
    http: aiohttp.ClientSession,
    status: int,
    kwargs: JSONDict,
    description: str,
    parameters: JSONDict | None,
) -> None:
    fake_api.fail_next("sendmessage", status, times=2, **kwargs)

    results = [await call(http, fake_api, "sendMessage", chat_id=1, text="x") for _ in range(3)]

    expected: JSONDict = {"ok": False, "error_code": status, "description": description}
    if parameters:
        expected["parameters"] = parameters
    assert results[:2] == [(status, expected)] * 2
    assert results[2][0] == 200
    assert [c.status for c in fake_api.calls] == [status, status, 200]
    assert len(fake_api.sent(1)) == 1  # failed calls did not run


async def test_fail_next_rejects_methods_it_does_not_serve(fake_api: FakeBotApi) -> None:
    with pytest.raises(ValueError, match="sendPigeon"):
        fake_api.fail_next("sendPigeon", 500)


async def test_stall_and_latency_delay_answers(
    fake_api: FakeBotApi, http: aiohttp.ClientSession
) -> None:
    fake_api.latency = 0.05
    fake_api.stall_next("getMe", 0.3)

    timings = []
    for _ in range(2):
        started = time.monotonic()
        status, _ = await call(http, fake_api, "getMe")
        timings.append(time.monotonic() - started)
        assert status == 200

    assert 0.34 < timings[0] < 1.0  # stall + latency
    assert 0.045 < timings[1] < 0.3  # latency only


async def test_blocked_chat_is_forbidden(
    fake_api: FakeBotApi, http: aiohttp.ClientSession
) -> None:
    fake_api.block_chat(4)
    blocked = await call(http, fake_api, "sendMessage", chat_id=4, text="x")
    other = await call(http, fake_api, "sendMessage", chat_id=5, text="x")
    fake_api.unblock_chat(4)
    unblocked = await call(http, fake_api, "sendMessage", chat_id=4, text="x")

    assert blocked == (
        403,
        {"ok": False, "error_code": 403, "description": "Forbidden: bot was blocked by the user"},
    )
    assert (other[0], unblocked[0]) == (200, 200)


async def test_edits_follow_telegram_rules(
    fake_api: FakeBotApi, http: aiohttp.ClientSession
) -> None:
    user_message = fake_api.push_text(3, "mine")
    _, sent = await call(http, fake_api, "sendMessage", chat_id=3, text="v1")
    bot_message = sent["result"]["message_id"]
    markup = keyboard({"text": "More", "callback_data": "more"})

    same = await call(http, fake_api, "editMessageText", chat_id=3, message_id=bot_message,
                      text="v1")  # fmt: skip
    edited = await call(http, fake_api, "editMessageText", chat_id=3, message_id=bot_message,
                        text="v2", reply_markup=markup)  # fmt: skip
    markup_same = await call(http, fake_api, "editMessageReplyMarkup", chat_id=3,
                             message_id=bot_message, reply_markup=markup)  # fmt: skip
    markup_removed = await call(http, fake_api, "editMessageReplyMarkup", chat_id=3,
                                message_id=bot_message)  # fmt: skip
    foreign = await call(http, fake_api, "editMessageText", chat_id=3, message_id=user_message,
                         text="hijack")  # fmt: skip
    inline = await call(http, fake_api, "editMessageText", inline_message_id="abc", text="x")

    assert same[0] == 400 and "message is not modified" in same[1]["description"]
    assert edited[0] == 200 and edited[1]["result"]["edit_date"] >= edited[1]["result"]["date"]
    assert edited[1]["result"]["reply_markup"] == markup
    assert markup_same[0] == 400 and "not modified" in markup_same[1]["description"]
    assert markup_removed[0] == 200 and "reply_markup" not in markup_removed[1]["result"]
    assert foreign == (
        400,
        {"ok": False, "error_code": 400, "description": "Bad Request: message can't be edited"},
    )
    assert inline == (200, {"ok": True, "result": True})
    assert [(p["text"], p["message_id"]) for p in fake_api.sent(3)] == [
        ("v1", bot_message), ("v2", bot_message)
    ]  # fmt: skip


@pytest.mark.parametrize(
    ("results", "description"),
    [
        pytest.param([{"type": "article", "id": str(i), "title": "t",
                       "input_message_content": {"message_text": "x"}} for i in range(51)],
                     "RESULTS_TOO_MUCH", id="51-results"),
        pytest.param([{"type": "article", "id": "a", "title": "t",
                       "input_message_content": {"message_text": "x"}}] * 2,
                     "RESULT_ID_DUPLICATE", id="duplicate-ids"),
        pytest.param([{"type": "article", "id": "x" * 65, "title": "t",
                       "input_message_content": {"message_text": "x"}}],
                     "RESULT_ID_INVALID", id="65-byte-id"),
        pytest.param([{"type": "article", "id": "a", "title": "t",
                       "input_message_content": {"message_text": "x" * 4097}}],
                     "message is too long", id="long-message-text"),
        pytest.param([{"type": "article", "id": "a", "title": "t",
                       "input_message_content": {"message_text": "<b>x",
                                                 "parse_mode": "HTML"}}],
                     "can't parse entities", id="bad-html-message-text"),
        pytest.param([{"type": "article", "id": str(i), "title": "t",
                       "input_message_content": {"message_text": "<b>ok</b>",
                                                 "parse_mode": "HTML"}} for i in range(50)],
                     None, id="50-valid-results"),
    ],
)  # fmt: skip
async def test_inline_answers_are_validated(
    fake_api: FakeBotApi,
    http: aiohttp.ClientSession,
    results: list[JSONDict],
    description: str | None,
) -> None:
    query_id = fake_api.push_inline_query(8, "squat")

    status, body = await call(http, fake_api, "answerInlineQuery", inline_query_id=query_id,
                              results=results)  # fmt: skip

    if description is None:
        assert (status, body) == (200, {"ok": True, "result": True})
    else:
        assert status == 400 and description in body["description"]


async def test_commands_are_stored_per_scope(
    fake_api: FakeBotApi, http: aiohttp.ClientSession
) -> None:
    commands = [{"command": "start", "description": "Start"}]
    group_scope = {"type": "all_group_chats"}
    await call(http, fake_api, "setMyCommands", commands=commands)
    group_commands = [{"command": "help", "description": "Help"}]
    await call(http, fake_api, "setMyCommands", commands=group_commands, scope=group_scope)

    _, default = await call(http, fake_api, "getMyCommands")
    _, group = await call(http, fake_api, "getMyCommands", scope=group_scope)
    await call(http, fake_api, "deleteMyCommands")
    _, deleted = await call(http, fake_api, "getMyCommands")

    assert default["result"] == commands
    assert group["result"] == group_commands
    assert deleted["result"] == []
    assert fake_api.commands == []


async def test_answering_a_pushed_callback_query(
    fake_api: FakeBotApi, http: aiohttp.ClientSession
) -> None:
    query_id = fake_api.push_callback(2, "d", message_id=1)

    status, body = await call(http, fake_api, "answerCallbackQuery", callback_query_id=query_id)

    assert (status, body) == (200, {"ok": True, "result": True})


async def test_webhook_delivery_carries_the_secret_token(fake_api: FakeBotApi) -> None:
    received: list[tuple[str | None, JSONDict]] = []

    async def hook(request: web.Request) -> web.Response:
        header = request.headers.get("X-Telegram-Bot-Api-Secret-Token")
        received.append((header, await request.json()))
        return web.Response(status=200 if header == "s3cret" else 403)

    app = web.Application()
    app.router.add_post("/hook", hook)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    try:
        url = f"http://127.0.0.1:{runner.addresses[0][1]}/hook"
        async with Bot(fake_api.token, base_url=fake_api.base_url) as bot:
            await bot.set_webhook(url, secret_token="s3cret", allowed_updates=["message"])
            assert fake_api.webhook is not None and fake_api.webhook["url"] == url
            assert (await bot.get_webhook_info()).url == url

            status = await fake_api.post_webhook_update({"message": {"text": "hi"}})
            fake_api.webhook["secret_token"] = "wrong"
            rejected = await fake_api.post_webhook_update({"message": {"text": "hi"}})

            await bot.delete_webhook()
    finally:
        await runner.cleanup()

    assert (status, rejected) == (200, 403)
    assert received[0][0] == "s3cret" and received[0][1]["message"] == {"text": "hi"}
    assert isinstance(received[0][1]["update_id"], int)
    assert fake_api.webhook is None


async def test_wait_sent_reports_what_arrived_on_timeout(fake_api: FakeBotApi) -> None:
    async with Bot(fake_api.token, base_url=fake_api.base_url) as bot:
        await bot.send_message(6, "only one")

        assert [p["text"] for p in await fake_api.wait_sent(6, 1, timeout=1)] == ["only one"]
        with pytest.raises(AssertionError, match=r"1 of 2 messages.*only one"):
            await fake_api.wait_sent(6, 2, timeout=0.1)
