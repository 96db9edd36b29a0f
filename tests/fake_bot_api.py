"""A fake Telegram Bot API server on 127.0.0.1 for tests and load benchmarks.

It answers like Telegram (``{"ok": true, "result": ...}`` or ``{"ok": false, "error_code": N,
"description": ...}``), validates what the bot sends as Telegram does, records every call, and
can inject latency, errors and stalls. Point a bot at it with
``telegram.Bot(api.token, base_url=api.base_url, base_file_url=api.base_file_url)``.

The per-call work is kept small (precompiled patterns, no per-call logging) so the server can
sustain load tests of thousands of calls per second.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import re
import ssl
import time
from collections import defaultdict, deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from http import HTTPStatus
from typing import Any

import aiohttp
from aiohttp import web

JSONDict = dict[str, Any]

BOT_USERNAME = "fitbot_test_bot"

_MAX_TEXT = 4096  # UTF-16 code units, after entity parsing
_MAX_CALLBACK_DATA = 64  # bytes
_MAX_COMMANDS = 100
_MAX_INLINE_RESULTS = 50
_DEFAULT_ALLOWED = frozenset(
    {
        "message", "edited_message", "channel_post", "edited_channel_post", "inline_query",
        "chosen_inline_result", "callback_query", "shipping_query", "pre_checkout_query",
        "poll", "poll_answer", "my_chat_member", "chat_join_request", "chat_boost",
        "removed_chat_boost", "business_connection", "business_message",
        "edited_business_message", "deleted_business_messages", "purchased_paid_media",
    }
)  # fmt: skip
_CHAT_ACTIONS = frozenset(
    {
        "typing", "upload_photo", "record_video", "upload_video", "record_voice",
        "upload_voice", "upload_document", "choose_sticker", "find_location",
        "record_video_note", "upload_video_note",
    }
)  # fmt: skip
_DESCRIPTIONS = {
    400: "Bad Request",
    401: "Unauthorized",
    403: "Forbidden: bot was blocked by the user",
    404: "Not Found",
    409: "Conflict: terminated by other getUpdates request; "
    "make sure that only one bot instance is running",
    500: "Internal Server Error",
    502: "Bad Gateway",
    503: "Service Unavailable",
    504: "Gateway Timeout",
}

# Form and query values arrive as strings; these parameters are converted like Telegram does.
_JSON_PARAMS = frozenset(
    {
        "reply_markup", "entities", "caption_entities", "commands", "scope", "results",
        "allowed_updates", "link_preview_options", "reply_parameters", "button",
    }
)  # fmt: skip
_INT_PARAMS = frozenset(
    {
        "chat_id", "message_id", "offset", "limit", "timeout", "user_id", "cache_time",
        "max_connections", "message_thread_id", "reply_to_message_id",
    }
)  # fmt: skip
_BOOL_PARAMS = frozenset(
    {
        "disable_notification", "protect_content", "show_alert", "is_personal",
        "drop_pending_updates", "disable_web_page_preview", "allow_sending_without_reply",
        "allow_paid_broadcast",
    }
)  # fmt: skip

_HTML_TAGS = frozenset(
    {
        "b", "strong", "i", "em", "u", "ins", "s", "strike", "del", "a", "code", "pre",
        "tg-spoiler", "span", "blockquote", "tg-emoji",
    }
)  # fmt: skip
_MARKUP_CHAR_RE = re.compile(r"[<&]")
_TAG_RE = re.compile(
    r"<(/?)([a-zA-Z][a-zA-Z0-9-]*)"
    r"((?:\s+[a-zA-Z_][a-zA-Z0-9_-]*(?:\s*=\s*(?:\"[^\"]*\"|'[^']*'|[^\s\"'>]+))?)*)\s*>"
)
_ATTR_RE = re.compile(
    r"([a-zA-Z_][a-zA-Z0-9_-]*)(?:\s*=\s*(?:\"([^\"]*)\"|'([^']*)'|([^\s\"'>]+)))?"
)
_ENTITY_RE = re.compile(r"&(?:(lt|gt|amp|quot)|#([0-9]{1,8})|#[xX]([0-9a-fA-F]{1,8}));")
_NAMED_ENTITIES = {"lt": "<", "gt": ">", "amp": "&", "quot": '"'}
_COMMAND_RE = re.compile(r"[a-z0-9_]{1,32}")
_SECRET_TOKEN_RE = re.compile(r"[A-Za-z0-9_-]{1,256}")


@dataclass(slots=True)
class Call:
    """One Bot API call as the server saw it.

    ``method`` is the canonical name (``sendMessage`` even if sent as ``sendmessage``), or the
    name as requested for unknown methods; ``params`` are the decoded parameters; ``time`` is
    :func:`time.monotonic` when the call was answered; ``status`` the HTTP status returned.
    """

    method: str
    params: JSONDict
    time: float
    status: int


class ApiError(Exception):
    """An error answer of the Bot API."""

    def __init__(self, status: int, description: str, retry_after: int | None = None) -> None:
        super().__init__(description)
        self.body: JSONDict = {"ok": False, "error_code": status, "description": description}
        if retry_after is not None:
            self.body["parameters"] = {"retry_after": retry_after}
        self.status = status


def _bad_request(detail: str) -> ApiError:
    return ApiError(400, f"Bad Request: {detail}")


def utf16_len(text: str) -> int:
    """Length of ``text`` in UTF-16 code units, as Telegram counts."""
    return len(text) if text.isascii() else len(text.encode("utf-16-le")) // 2


def parse_html(text: str) -> str:
    """The plain text of a Telegram-HTML message; raises :exc:`ApiError` (400) if malformed."""
    if "<" not in text and "&" not in text:
        return text

    def fail(detail: str, index: int) -> ApiError:
        offset = len(text[:index].encode())
        return _bad_request(f"can't parse entities: {detail} at byte offset {offset}")

    out: list[str] = []
    open_tags: list[str] = []
    pos = 0
    while (special := _MARKUP_CHAR_RE.search(text, pos)) is not None:
        i = special.start()
        out.append(text[pos:i])
        if text[i] == "&":
            entity = _ENTITY_RE.match(text, i)
            if entity is None:
                raise fail("Unsupported HTML entity", i)
            named, decimal, hexadecimal = entity.groups()
            if named:
                out.append(_NAMED_ENTITIES[named])
            else:
                code = int(decimal) if decimal else int(hexadecimal, 16)
                if not 0 < code <= 0x10FFFF or 0xD800 <= code <= 0xDFFF:
                    raise fail("Invalid numeric HTML entity", i)
                out.append(chr(code))
            pos = entity.end()
            continue
        tag = _TAG_RE.match(text, i)
        if tag is None:
            raise fail('Unexpected "<"; escape it as "&lt;"', i)
        closing, name, attributes = tag.groups()
        name = name.lower()
        if closing:
            if attributes:
                raise fail(f'Unexpected attributes in end tag "{name}"', i)
            if not open_tags:
                raise fail(f'Unexpected end tag "{name}"', i)
            if open_tags[-1] != name:
                raise fail(
                    f'Unmatched end tag, expected "</{open_tags[-1]}>", found "</{name}>"', i
                )
            open_tags.pop()
        else:
            if name not in _HTML_TAGS:
                raise fail(f'Unsupported start tag "{name}"', i)
            attrs = {
                m.group(1).lower(): next((g for g in m.groups()[1:] if g is not None), "")
                for m in _ATTR_RE.finditer(attributes)
            }
            if name == "a" and not attrs.get("href"):
                raise fail('Tag "a" must have attribute "href"', i)
            if name == "span" and attrs.get("class") != "tg-spoiler":
                raise fail('Tag "span" must have class "tg-spoiler"', i)
            if name == "tg-emoji" and not attrs.get("emoji-id"):
                raise fail('Tag "tg-emoji" must have attribute "emoji-id"', i)
            open_tags.append(name)
        pos = tag.end()
    if open_tags:
        raise _bad_request(
            f"can't parse entities: Can't find end tag corresponding to start tag "
            f'"{open_tags[-1]}"'
        )
    out.append(text[pos:])
    return "".join(out)


def check_text(text: object, parse_mode: object) -> str:
    """Validate a message text as sendMessage does; return its plain text."""
    if not isinstance(text, str) or not text:
        raise _bad_request("message text is empty")
    mode = parse_mode.lower() if isinstance(parse_mode, str) else ""
    if mode == "html":
        plain = parse_html(text)
    elif mode in ("", "markdown", "markdownv2"):
        plain = text
    else:
        raise _bad_request(f"unsupported parse_mode {parse_mode!r}")
    if not plain.strip():
        raise _bad_request("message text is empty")
    if utf16_len(plain) > _MAX_TEXT:
        raise _bad_request("message is too long")
    return plain


def check_reply_markup(markup: object) -> None:
    """Validate a reply_markup; inline keyboards are checked button by button."""
    if not isinstance(markup, dict):
        raise _bad_request("can't parse reply keyboard markup JSON object")
    rows = markup.get("inline_keyboard")
    if rows is None:
        return
    if not isinstance(rows, list) or not all(isinstance(row, list) for row in rows):
        raise _bad_request("can't parse inline keyboard button: field must be an Array of Arrays")
    for row in rows:
        for button in row:
            if not isinstance(button, dict) or not button.get("text"):
                raise _bad_request("BUTTON_DATA_INVALID")
            if len(button) == 1:
                raise _bad_request(
                    "can't parse inline keyboard button: "
                    "Text buttons are unallowed in the inline keyboard"
                )
            data = button.get("callback_data")
            if data is not None and not (
                isinstance(data, str) and 1 <= len(data.encode()) <= _MAX_CALLBACK_DATA
            ):
                raise _bad_request("BUTTON_DATA_INVALID")


def _coerce(key: str, value: str) -> object:
    """Convert a string parameter (form field, query or JSON-in-JSON) to its Bot API type."""
    if key in _JSON_PARAMS:
        try:
            return json.loads(value)
        except ValueError:
            what = "reply keyboard markup" if key == "reply_markup" else key
            raise _bad_request(f"can't parse {what} JSON object") from None
    if key in _INT_PARAMS:
        return int(value) if value.lstrip("-").isdigit() else value
    if key in _BOOL_PARAMS:
        return value.lower() in ("true", "1")
    return value


def _int_param(params: JSONDict, key: str, default: int) -> int:
    value = params.get(key, default)
    if not isinstance(value, int):
        raise _bad_request(f'field "{key}" must be of type Integer')
    return value


class FakeBotApi:
    """A Telegram Bot API double served by aiohttp.web on 127.0.0.1.

    Methods: getMe, getUpdates, deleteWebhook, setWebhook, getWebhookInfo, sendMessage,
    editMessageText, editMessageReplyMarkup, answerCallbackQuery, answerInlineQuery,
    sendChatAction, setMyCommands, getMyCommands, deleteMyCommands, close, logOut (names are
    case-insensitive, GET or POST, parameters as JSON, urlencoded or multipart body, or query
    string). A wrong token gets 401, an unknown method 404.

    ``latency`` seconds are slept before answering every call (getUpdates' long-poll wait comes
    on top). ``push_*`` queue updates for getUpdates and return the new message's id, except
    :meth:`push_callback`/:meth:`push_inline_query` (the query id) and
    :meth:`push_edited_text`/:meth:`push_raw` (the update_id). Negative chat ids are groups
    (supergroups below -10**12, like -100... ids) unless ``chat_type`` says otherwise.
    ``calls``, :meth:`sent` and :meth:`wait_sent` tell what the bot did; :meth:`fail_next`,
    :meth:`stall_next`, :meth:`block_chat`, :meth:`go_down` (an outage) and :meth:`hold` (calls
    left on the wire) inject failures.
    """

    def __init__(
        self, token: str = "123456:TEST-token_abcdefghijklmnopqrstuvwxyz", *, latency: float = 0.0
    ) -> None:
        self.token = token
        self.latency = latency
        self.base_url = ""  # set by start()
        self.base_file_url = ""
        self.calls: list[Call] = []
        self.commands: list[JSONDict] = []
        self.webhook: JSONDict | None = None
        self.bot_user: JSONDict = {
            "id": int(token.partition(":")[0]),
            "is_bot": True,
            "first_name": "FitBot Test",
            "username": BOT_USERNAME,
            "can_join_groups": True,
            "can_read_all_group_messages": False,
            "supports_inline_queries": True,
            "can_connect_to_business": False,
            "has_main_web_app": False,
        }
        self._sender = {k: self.bot_user[k] for k in ("id", "is_bot", "first_name", "username")}
        self._methods: dict[str, tuple[str, Callable[[JSONDict], Awaitable[object]]]] = {
            name.lower(): (name, handler)
            for name, handler in (
                ("getMe", self._get_me),
                ("getUpdates", self._get_updates),
                ("deleteWebhook", self._delete_webhook),
                ("setWebhook", self._set_webhook),
                ("getWebhookInfo", self._get_webhook_info),
                ("sendMessage", self._send_message),
                ("editMessageText", self._edit_message_text),
                ("editMessageReplyMarkup", self._edit_message_reply_markup),
                ("answerCallbackQuery", self._answer_callback_query),
                ("answerInlineQuery", self._answer_inline_query),
                ("sendChatAction", self._send_chat_action),
                ("setMyCommands", self._set_my_commands),
                ("getMyCommands", self._get_my_commands),
                ("deleteMyCommands", self._delete_my_commands),
                ("close", self._true),
                ("logOut", self._true),
            )
        }
        self._faults: defaultdict[str, deque[ApiError]] = defaultdict(deque)
        self._stalls: defaultdict[str, deque[float]] = defaultdict(deque)
        self._blocked: set[int] = set()
        self._down: tuple[int, frozenset[str]] | None = None
        self._holds: dict[str, asyncio.Event] = {}
        self.held = 0
        self._sent: defaultdict[int, list[JSONDict]] = defaultdict(list)
        self._chats: dict[int, JSONDict] = {}
        self._messages: dict[tuple[int, int], JSONDict] = {}
        self._contents: dict[tuple[int, int], tuple[object, ...]] = {}
        self._message_ids: defaultdict[int, itertools.count[int]] = defaultdict(
            lambda: itertools.count(1)
        )
        self._commands_by_scope: dict[str, list[JSONDict]] = {}
        self._updates: deque[tuple[int, str, JSONDict]] = deque()
        self._update_ids = itertools.count(100_000_001)
        self._query_ids = itertools.count(4_000_000_000_000_001)
        self._open_queries: set[str] = set()
        self._allowed_updates = _DEFAULT_ALLOWED
        self._new_updates = asyncio.Event()
        self._closing = False
        self._runner: web.AppRunner | None = None
        self._client: aiohttp.ClientSession | None = None

    # -- lifecycle ------------------------------------------------------------------------

    async def start(self, tls: ssl.SSLContext | None = None) -> None:
        """Serve on a free port of 127.0.0.1 (HTTPS with ``tls``) and set :attr:`base_url` and
        :attr:`base_file_url`."""
        app = web.Application(client_max_size=50 * 2**20)
        app.router.add_route("*", "/bot{token}/{method}", self._handle)
        app.router.add_route("*", "/{tail:.*}", self._not_found)
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=0.5)
        await self._runner.setup()
        await web.TCPSite(self._runner, "127.0.0.1", 0, backlog=1024, ssl_context=tls).start()
        port = self._runner.addresses[0][1]
        scheme = "https" if tls is not None else "http"
        self.base_url = f"{scheme}://127.0.0.1:{port}/bot"
        self.base_file_url = f"{scheme}://127.0.0.1:{port}/file/bot"
        self._closing = False

    async def stop(self) -> None:
        """Answer pending long polls, stop serving and close the webhook client."""
        self._closing = True
        self._wake_pollers()
        if self._client is not None:
            await self._client.close()
            self._client = None
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    # -- fault injection and inspection ---------------------------------------------------

    def fail_next(
        self,
        method: str,
        status: int,
        *,
        times: int = 1,
        retry_after: int | None = None,
        description: str | None = None,
    ) -> None:
        """Answer the next ``times`` calls of ``method`` with this error instead of running them.

        A 429 carries ``parameters.retry_after`` (default 1 s); descriptions default to
        Telegram's (403: "Forbidden: bot was blocked by the user", 502: "Bad Gateway"...).
        """
        if status == 429:
            retry_after = 1 if retry_after is None else retry_after
            default = f"Too Many Requests: retry after {retry_after}"
        else:
            default = _DESCRIPTIONS.get(status) or HTTPStatus(status).phrase
        error = ApiError(status, description or default, retry_after)
        self._faults[self._key(method)].extend([error] * times)

    def go_down(self, status: int = 502, *, sparing: tuple[str, ...] = ()) -> None:
        """Answer every call with ``status`` (an outage) until :meth:`come_back`, except calls
        of the methods in ``sparing``."""
        self._down = (status, frozenset(self._key(m) for m in sparing))
        self._wake_pollers()  # a long poll under way fails too

    def come_back(self) -> None:
        """End the outage :meth:`go_down` began."""
        self._down = None

    def hold(self, method: str) -> None:
        """Keep every later call of ``method`` waiting (read, not answered) until
        :meth:`release`; :attr:`held` counts the calls waiting."""
        self._holds.setdefault(self._key(method), asyncio.Event())

    def release(self, method: str) -> None:
        """Let the calls :meth:`hold` keeps waiting go on, and stop holding."""
        event = self._holds.pop(self._key(method), None)
        if event is not None:
            event.set()

    def stall_next(self, method: str, seconds: float, *, times: int = 1) -> None:
        """Delay the answer to the next ``times`` calls of ``method`` (they still run after)."""
        self._stalls[self._key(method)].extend([seconds] * times)

    def block_chat(self, chat_id: int) -> None:
        """Make sends to ``chat_id`` fail with 403 "Forbidden: bot was blocked by the user"."""
        self._blocked.add(chat_id)

    def unblock_chat(self, chat_id: int) -> None:
        """Undo :meth:`block_chat`."""
        self._blocked.discard(chat_id)

    def sent(self, chat_id: int) -> list[JSONDict]:
        """Params of successful sendMessage/editMessageText calls to ``chat_id``, in order.

        Each dict also holds ``message_id``: the message created (sendMessage) or edited.
        """
        return list(self._sent.get(chat_id, ()))

    async def wait_for(self, predicate: Callable[[], bool], timeout: float = 5.0) -> None:
        """Poll ``predicate`` until true; raise :exc:`AssertionError` after ``timeout`` s."""
        deadline = time.monotonic() + timeout
        while not predicate():
            if time.monotonic() >= deadline:
                raise AssertionError(f"condition not met within {timeout} s")
            await asyncio.sleep(0.005)

    async def wait_sent(self, chat_id: int, count: int, timeout: float = 5.0) -> list[JSONDict]:
        """Wait until at least ``count`` messages were sent to ``chat_id``; return them all."""
        try:
            await self.wait_for(lambda: len(self._sent.get(chat_id, ())) >= count, timeout)
        except AssertionError:
            texts = [p.get("text") for p in self.sent(chat_id)]
            raise AssertionError(
                f"chat {chat_id}: {len(texts)} of {count} messages within {timeout} s: {texts}"
            ) from None
        return self.sent(chat_id)

    # -- updates --------------------------------------------------------------------------

    def push_raw(self, update: JSONDict) -> int:
        """Queue ``update`` (``update_id`` is assigned if missing); return its update_id."""
        if "update_id" not in update:
            update = {"update_id": next(self._update_ids), **update}
        kind = next((key for key in update if key != "update_id"), None)
        if kind is None:
            raise ValueError("an update needs a field besides update_id")
        self._updates.append((update["update_id"], kind, update))
        self._wake_pollers()
        return int(update["update_id"])

    def push_text(
        self,
        chat_id: int,
        text: str,
        *,
        user_id: int | None = None,
        chat_type: str = "private",
        reply_to_bot: bool = False,
        entities: list[JSONDict] | None = None,
    ) -> int:
        """Queue a text message from a user; return its message_id.

        ``reply_to_bot`` makes it a reply to the bot's last message in the chat.
        """
        message = self._user_message(chat_id, user_id, chat_type, text=text)
        if entities:
            message["entities"] = entities
        if reply_to_bot:
            message["reply_to_message"] = self._last_bot_message(chat_id)
        self.push_raw({"message": message})
        return int(message["message_id"])

    def text_update(self, chat_id: int, text: str) -> JSONDict:
        """An update with a private text message, as :meth:`push_text` queues (for posting to
        a webhook with :meth:`post_webhook_update`)."""
        return {"message": self._user_message(chat_id, None, "private", text=text)}

    def push_command(self, chat_id: int, command: str, args: str = "", **kw: Any) -> int:
        """Queue ``/command args`` with its bot_command entity; return its message_id."""
        command = "/" + command.lstrip("/")
        entity = {"type": "bot_command", "offset": 0, "length": utf16_len(command)}
        kw["entities"] = [entity, *(kw.get("entities") or ())]
        return self.push_text(chat_id, f"{command} {args}" if args else command, **kw)

    def push_edited_text(
        self,
        chat_id: int,
        message_id: int,
        text: str,
        *,
        user_id: int | None = None,
        chat_type: str = "private",
        entities: list[JSONDict] | None = None,
    ) -> int:
        """Queue an edit of a user's message; return the update_id."""
        original = self._messages.get((chat_id, message_id)) or {}
        message = {
            "message_id": message_id,
            "from": original.get("from") or self._user(user_id, chat_id),
            "chat": self._chat(chat_id, chat_type),
            "date": original.get("date", int(time.time())),
            "edit_date": int(time.time()),
            "text": text,
        }
        if entities:
            message["entities"] = entities
        self._messages[(chat_id, message_id)] = message
        return self.push_raw({"edited_message": message})

    def push_sticker(
        self,
        chat_id: int,
        *,
        user_id: int | None = None,
        chat_type: str = "private",
        emoji: str = "\N{THUMBS UP SIGN}",
    ) -> int:
        """Queue a sticker message; return its message_id."""
        sticker = {
            "file_id": "CAACAgIAAxkBAAEFakeStickerFileId",
            "file_unique_id": "AgADFakeSticker",
            "type": "regular",
            "width": 512,
            "height": 512,
            "is_animated": False,
            "is_video": False,
            "emoji": emoji,
        }
        message = self._user_message(chat_id, user_id, chat_type, sticker=sticker)
        self.push_raw({"message": message})
        return int(message["message_id"])

    def push_photo(
        self,
        chat_id: int,
        *,
        user_id: int | None = None,
        chat_type: str = "private",
        caption: str | None = None,
    ) -> int:
        """Queue a photo message (two sizes, optional caption); return its message_id."""
        photo = [
            {"file_id": f"AgACAgIAAxkBAAEFakePhoto{side}", "file_unique_id": f"AQADFake{side}",
             "width": side, "height": side, "file_size": side * 40}
            for side in (90, 1280)
        ]  # fmt: skip
        content: JSONDict = {"photo": photo}
        if caption is not None:
            content["caption"] = caption
        message = self._user_message(chat_id, user_id, chat_type, **content)
        self.push_raw({"message": message})
        return int(message["message_id"])

    def push_callback(
        self, chat_id: int, data: str, *, message_id: int, user_id: int | None = None
    ) -> str:
        """Queue a button press on message ``message_id``; return the callback query id."""
        message = self._messages.get((chat_id, message_id)) or {
            "message_id": message_id,
            "from": self._sender,
            "chat": self._chat(chat_id),
            "date": int(time.time()),
            "text": "\N{HORIZONTAL ELLIPSIS}",
        }
        query_id = str(next(self._query_ids))
        self._open_queries.add(query_id)
        self.push_raw(
            {
                "callback_query": {
                    "id": query_id,
                    "from": self._user(user_id, chat_id),
                    "message": message,
                    "chat_instance": str(-abs(chat_id) - 7_000_000_000),
                    "data": data,
                }
            }
        )
        return query_id

    def push_inline_query(self, user_id: int, query: str) -> str:
        """Queue an inline query; return its id."""
        query_id = str(next(self._query_ids))
        self._open_queries.add(query_id)
        self.push_raw(
            {
                "inline_query": {
                    "id": query_id,
                    "from": self._user(user_id, user_id),
                    "query": query,
                    "offset": "",
                    "chat_type": "sender",
                }
            }
        )
        return query_id

    def push_channel_post(self, chat_id: int, text: str) -> int:
        """Queue a post in channel ``chat_id``; return its message_id."""
        chat = self._chat(chat_id, "channel")
        message_id = next(self._message_ids[chat_id])
        message: JSONDict = {
            "message_id": message_id,
            "sender_chat": chat,
            "chat": chat,
            "date": int(time.time()),
            "text": text,
        }
        self._messages[(chat_id, message_id)] = message
        self.push_raw({"channel_post": message})
        return message_id

    # -- webhook --------------------------------------------------------------------------

    async def post_webhook_update(self, update: JSONDict) -> int:
        """POST ``update`` to the registered webhook with its secret token; return the status.

        ``update_id`` is assigned if missing.
        """
        if self.webhook is None:
            raise AssertionError("no webhook is set")
        if "update_id" not in update:
            update = {"update_id": next(self._update_ids), **update}
        headers = {}
        if secret := self.webhook.get("secret_token"):
            headers["X-Telegram-Bot-Api-Secret-Token"] = secret
        if self._client is None:
            self._client = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10))
        async with self._client.post(self.webhook["url"], json=update, headers=headers) as resp:
            await resp.read()
            return resp.status

    # -- HTTP -----------------------------------------------------------------------------

    async def _not_found(self, request: web.Request) -> web.Response:
        return self._response(404, {"ok": False, "error_code": 404, "description": "Not Found"})

    async def _handle(self, request: web.Request) -> web.Response:
        requested = request.match_info["method"]
        key = requested.lower()
        method, handler = self._methods.get(key, (requested, self._unknown_method))
        params: JSONDict = {}
        error: ApiError | None = None
        try:  # read the whole request first, as Telegram does, even if its sender goes away
            if request.match_info["token"] != self.token:
                raise ApiError(401, "Unauthorized")
            params = await self._params(request)
        except ApiError as exc:
            error = exc
        hold = self._holds.get(key)
        if hold is not None:
            self.held += 1
            await hold.wait()
            self.held -= 1
        stalls, faults = self._stalls.get(key), self._faults.get(key)
        if stalls:
            await asyncio.sleep(stalls.popleft())
        if self.latency > 0:
            await asyncio.sleep(self.latency)
        if error is None and self._down is not None and key not in self._down[1]:
            status = self._down[0]
            error = ApiError(status, _DESCRIPTIONS.get(status) or HTTPStatus(status).phrase)
        if error is None and faults:
            error = faults.popleft()
        if error is None:
            try:
                status, body = 200, {"ok": True, "result": await handler(params)}
            except ApiError as exc:
                error = exc
        if error is not None:
            status, body = error.status, error.body
        self.calls.append(Call(method, params, time.monotonic(), status))
        return self._response(status, body)

    @staticmethod
    def _response(status: int, body: JSONDict) -> web.Response:
        return web.Response(
            body=json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode(),
            status=status,
            content_type="application/json",
        )

    @staticmethod
    async def _params(request: web.Request) -> JSONDict:
        """Decoded parameters from the query string and a JSON, urlencoded or multipart body."""
        params: JSONDict = dict(request.query) if request.query_string else {}
        if request.can_read_body:
            if request.content_type == "application/json":
                try:
                    body = await request.json()
                except ValueError:
                    raise _bad_request("can't parse JSON object") from None
                if not isinstance(body, dict):
                    raise _bad_request("parameters must be a JSON object")
                params.update(body)
            else:
                for name, field in (await request.post()).items():
                    if isinstance(field, web.FileField):
                        with field.file as file:
                            data = file.read()
                        params[name] = {"filename": field.filename, "data": data,
                                        "content_type": field.content_type}  # fmt: skip
                    else:
                        params[name] = field
        for name, value in params.items():
            if isinstance(value, str):
                params[name] = _coerce(name, value)
        return params

    # -- helpers --------------------------------------------------------------------------

    def _key(self, method: str) -> str:
        key = method.lower()
        if key not in self._methods:
            raise ValueError(f"FakeBotApi does not implement {method!r}")
        return key

    def _wake_pollers(self) -> None:
        self._new_updates.set()
        self._new_updates = asyncio.Event()

    def _chat(self, chat_id: int, chat_type: str | None = None) -> JSONDict:
        chat = self._chats.get(chat_id)
        if chat_type == "private" and chat_id < 0:  # negative ids are groups and channels
            chat_type = None if chat is None else chat["type"]
        if chat is None or (chat_type is not None and chat["type"] != chat_type):
            if chat_type is None:
                chat_type = "private" if chat_id > 0 else (
                    "supergroup" if chat_id < -1_000_000_000_000 else "group"
                )  # fmt: skip
            if chat_type == "private":
                chat = {"id": chat_id, "type": "private", "first_name": f"User{chat_id}",
                        "username": f"user{chat_id}"}  # fmt: skip
            else:
                chat = {"id": chat_id, "type": chat_type, "title": f"{chat_type} {chat_id}"}
            self._chats[chat_id] = chat
        return chat

    @staticmethod
    def _user(user_id: int | None, chat_id: int) -> JSONDict:
        uid = abs(chat_id) if user_id is None else user_id
        return {"id": uid, "is_bot": False, "first_name": f"User{uid}", "username": f"user{uid}",
                "language_code": "en"}  # fmt: skip

    def _user_message(
        self, chat_id: int, user_id: int | None, chat_type: str, **content: Any
    ) -> JSONDict:
        message = {
            "message_id": next(self._message_ids[chat_id]),
            "from": self._user(user_id, chat_id),
            "chat": self._chat(chat_id, chat_type),
            "date": int(time.time()),
            **content,
        }
        self._messages[(chat_id, message["message_id"])] = message
        return message

    def _last_bot_message(self, chat_id: int) -> JSONDict:
        sent = self._sent.get(chat_id)
        if sent:
            return self._messages[(chat_id, sent[-1]["message_id"])]
        message_id = next(self._message_ids[chat_id])
        message: JSONDict = {
            "message_id": message_id,
            "from": self._sender,
            "chat": self._chat(chat_id),
            "date": int(time.time()),
            "text": "\N{HORIZONTAL ELLIPSIS}",
        }
        self._messages[(chat_id, message_id)] = message
        return message

    def _chat_id(self, params: JSONDict) -> int:
        chat_id = params.get("chat_id")
        if chat_id is None or chat_id == "":
            raise _bad_request("chat_id is empty")
        if not isinstance(chat_id, int):
            raise _bad_request("chat not found")
        if chat_id in self._blocked:
            raise ApiError(403, _DESCRIPTIONS[403])
        return chat_id

    # -- methods --------------------------------------------------------------------------

    async def _unknown_method(self, params: JSONDict) -> object:
        raise ApiError(404, "Not Found")

    async def _true(self, params: JSONDict) -> bool:
        return True

    async def _get_me(self, params: JSONDict) -> JSONDict:
        return self.bot_user

    async def _get_updates(self, params: JSONDict) -> list[JSONDict]:
        if self.webhook is not None:
            raise ApiError(
                409,
                "Conflict: can't use getUpdates method while webhook is active; "
                "use deleteWebhook to delete the webhook first",
            )
        offset = _int_param(params, "offset", 0)
        limit = min(max(_int_param(params, "limit", 100), 1), 100)
        timeout = max(_int_param(params, "timeout", 0), 0)
        if "allowed_updates" in params:
            allowed = params["allowed_updates"]
            self._allowed_updates = frozenset(allowed) if allowed else _DEFAULT_ALLOWED
        updates = self._updates
        if offset < 0:
            while len(updates) > -offset:
                updates.popleft()
        else:
            while updates and updates[0][0] < offset:
                updates.popleft()
        deadline = time.monotonic() + timeout
        while True:
            batch = list(
                itertools.islice(
                    (u for _, kind, u in updates if kind in self._allowed_updates), limit
                )
            )
            remaining = deadline - time.monotonic()
            if self._down is not None and "getupdates" not in self._down[1]:
                raise ApiError(self._down[0], _DESCRIPTIONS.get(self._down[0], "Down"))
            if batch or remaining <= 0 or self._closing:
                return batch
            try:
                async with asyncio.timeout(remaining):
                    await self._new_updates.wait()
            except TimeoutError:
                return []

    async def _set_webhook(self, params: JSONDict) -> bool:
        url = params.get("url")
        if not isinstance(url, str):
            raise _bad_request("url is empty")
        secret = params.get("secret_token")
        if secret is not None and not (
            isinstance(secret, str) and _SECRET_TOKEN_RE.fullmatch(secret)
        ):
            raise _bad_request("secret token contains unallowed characters")
        if params.get("drop_pending_updates"):
            self._updates.clear()
        if "allowed_updates" in params:
            allowed = params["allowed_updates"]
            self._allowed_updates = frozenset(allowed) if allowed else _DEFAULT_ALLOWED
        self.webhook = dict(params) if url else None
        return True

    async def _delete_webhook(self, params: JSONDict) -> bool:
        if params.get("drop_pending_updates"):
            self._updates.clear()
        self.webhook = None
        return True

    async def _get_webhook_info(self, params: JSONDict) -> JSONDict:
        webhook = self.webhook or {}
        info: JSONDict = {
            "url": webhook.get("url", ""),
            "has_custom_certificate": "certificate" in webhook,
            "pending_update_count": len(self._updates),
        }
        if webhook:
            info["max_connections"] = webhook.get("max_connections", 40)
            info["allowed_updates"] = sorted(self._allowed_updates)
        return info

    def _store_message(
        self, params: JSONDict, chat_id: int, message_id: int, plain: str, edited: bool
    ) -> JSONDict:
        message: JSONDict = {
            "message_id": message_id,
            "from": self._sender,
            "chat": self._chat(chat_id),
            "date": int(time.time()),
            "text": plain,
        }
        if edited:
            message["edit_date"] = message["date"]
        markup = params.get("reply_markup")
        if isinstance(markup, dict) and "inline_keyboard" in markup:
            message["reply_markup"] = markup
        key = (chat_id, message_id)
        self._messages[key] = message
        self._contents[key] = (params.get("text"), params.get("parse_mode"), markup)
        self._sent[chat_id].append({**params, "message_id": message_id})
        return message

    async def _send_message(self, params: JSONDict) -> JSONDict:
        chat_id = self._chat_id(params)
        plain = check_text(params.get("text"), params.get("parse_mode"))
        if "reply_markup" in params:
            check_reply_markup(params["reply_markup"])
        return self._store_message(
            params, chat_id, next(self._message_ids[chat_id]), plain, edited=False
        )

    def _editable(self, params: JSONDict) -> tuple[int, int] | None:
        """The (chat_id, message_id) to edit, or None for an inline message."""
        if params.get("inline_message_id"):
            return None
        chat_id = self._chat_id(params)
        message_id = params.get("message_id")
        if not isinstance(message_id, int):
            raise _bad_request("message identifier is not specified")
        message = self._messages.get((chat_id, message_id))
        if message is not None and message.get("from", {}).get("id") != self._sender["id"]:
            raise _bad_request("message can't be edited")
        return chat_id, message_id

    def _check_modified(self, key: tuple[int, int], content: tuple[object, ...]) -> None:
        if self._contents.get(key) == content:
            raise _bad_request(
                "message is not modified: specified new message content and reply markup are "
                "exactly the same as a current content and reply markup of the message"
            )

    async def _edit_message_text(self, params: JSONDict) -> JSONDict | bool:
        plain = check_text(params.get("text"), params.get("parse_mode"))
        if "reply_markup" in params:
            check_reply_markup(params["reply_markup"])
        key = self._editable(params)
        if key is None:
            return True
        self._check_modified(key, (params["text"], params.get("parse_mode"),
                                   params.get("reply_markup")))  # fmt: skip
        return self._store_message(params, *key, plain, edited=True)

    async def _edit_message_reply_markup(self, params: JSONDict) -> JSONDict | bool:
        markup = params.get("reply_markup")
        if markup is not None:
            check_reply_markup(markup)
        key = self._editable(params)
        if key is None:
            return True
        text, parse_mode, _ = self._contents.get(key, (None, None, None))
        self._check_modified(key, (text, parse_mode, markup))
        self._contents[key] = (text, parse_mode, markup)
        message = self._messages.get(key) or {
            "message_id": key[1],
            "from": self._sender,
            "chat": self._chat(key[0]),
            "date": int(time.time()),
            "text": "\N{HORIZONTAL ELLIPSIS}",
        }
        message = {k: v for k, v in message.items() if k != "reply_markup"}
        message["edit_date"] = int(time.time())
        if isinstance(markup, dict) and "inline_keyboard" in markup:
            message["reply_markup"] = markup
        self._messages[key] = message
        return message

    async def _answer_callback_query(self, params: JSONDict) -> bool:
        if params.get("callback_query_id") not in self._open_queries:
            raise _bad_request(
                "query is too old and response timeout expired or query ID is invalid"
            )
        return True

    async def _answer_inline_query(self, params: JSONDict) -> bool:
        if params.get("inline_query_id") not in self._open_queries:
            raise _bad_request(
                "query is too old and response timeout expired or query ID is invalid"
            )
        results = params.get("results")
        if not isinstance(results, list):
            raise _bad_request("can't parse inline query results JSON object")
        if len(results) > _MAX_INLINE_RESULTS:
            raise _bad_request("RESULTS_TOO_MUCH")
        seen: set[str] = set()
        for result in results:
            if not isinstance(result, dict):
                raise _bad_request("can't parse inline query result")
            result_id = result.get("id")
            if not (isinstance(result_id, str) and 1 <= len(result_id.encode()) <= 64):
                raise _bad_request("RESULT_ID_INVALID")
            if result_id in seen:
                raise _bad_request("RESULT_ID_DUPLICATE")
            seen.add(result_id)
            content = result.get("input_message_content")
            if isinstance(content, dict) and "message_text" in content:
                check_text(content["message_text"], content.get("parse_mode"))
            if "reply_markup" in result:
                check_reply_markup(result["reply_markup"])
        return True

    async def _send_chat_action(self, params: JSONDict) -> bool:
        self._chat_id(params)
        if params.get("action") not in _CHAT_ACTIONS:
            raise _bad_request("wrong parameter action in request")
        return True

    @staticmethod
    def _scope_key(params: JSONDict) -> str:
        scope = params.get("scope") or {"type": "default"}
        return json.dumps([scope, params.get("language_code", "")], sort_keys=True)

    async def _set_my_commands(self, params: JSONDict) -> bool:
        commands = params.get("commands")
        if not isinstance(commands, list):
            raise _bad_request("can't parse commands JSON object")
        if len(commands) > _MAX_COMMANDS:
            raise _bad_request("BOT_COMMANDS_TOO_MUCH")
        for command in commands:
            if not isinstance(command, dict):
                raise _bad_request("can't parse BotCommand")
            name, description = command.get("command"), command.get("description")
            if not (isinstance(name, str) and _COMMAND_RE.fullmatch(name)):
                raise _bad_request("BOT_COMMAND_INVALID")
            if not (isinstance(description, str) and 1 <= len(description) <= 256):
                raise _bad_request("BOT_COMMAND_DESCRIPTION_INVALID")
        self.commands = commands
        self._commands_by_scope[self._scope_key(params)] = commands
        return True

    async def _get_my_commands(self, params: JSONDict) -> list[JSONDict]:
        return self._commands_by_scope.get(self._scope_key(params), [])

    async def _delete_my_commands(self, params: JSONDict) -> bool:
        self._commands_by_scope.pop(self._scope_key(params), None)
        self.commands = []
        return True
