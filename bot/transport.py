"""A :class:`telegram.request.BaseRequest` on a small HTTP/1.1 client with pooled connections.

A busy bot is CPU-bound, and every reply costs two or three Bot API calls. Measured here, the
bot-side CPU of one call on a kept-alive loopback connection is ~100 us through aiohttp's client
(PTB's default httpx backend costs more still), against ~45 us for the same exchange written
directly on an :class:`asyncio.Protocol`: the general clients pay per request for cookies,
redirects, proxies, tracing hooks, header multidicts and timer objects that Bot API calls never
use. Swapping this client in cut fitbot's CPU per reply by a quarter to a third.

What it speaks is what the Bot API needs: HTTP/1.1 over TCP, or TLS for ``https`` URLs; a
request with a JSON body, a multipart body (uploads) or none (file downloads); a response
delimited by ``Content-Length``, chunked, or by the server closing. Connections are kept alive,
reused most recent first, and closed after ``keepalive_timeout`` idle seconds or when the
server asks. No proxies, redirects, cookies or compression: the Bot API uses none of them.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import re
import secrets
import ssl
from collections.abc import Iterator
from contextvars import ContextVar
from typing import Any, Final, NamedTuple, cast
from urllib.parse import quote, urlsplit

from telegram._utils.defaultvalue import DefaultValue
from telegram._utils.types import ODVInput
from telegram.error import NetworkError, TimedOut
from telegram.request import BaseRequest, RequestData

_LOGGER = logging.getLogger(__name__)

_RETRY_STATUSES: Final = frozenset({500, 502, 503, 504})
JSON_CONTENT_TYPE: Final = "application/json"
# A bot token ("<digits>:<secret>") as it may appear in a URL, raw or percent-encoded.
_TOKEN_RE: Final = re.compile(r"\d+(?::|%3[aA])[A-Za-z0-9_-]+")
# HTML5 form encoding of characters that must not appear raw in a quoted filename.
_FILENAME_ESCAPES: Final = str.maketrans({'"': "%22", "\r": "%0D", "\n": "%0A"})
# Bounds on what a server may send before the body; a Bot API response head is ~200 bytes.
MAX_HEAD_BYTES: Final = 64 * 1024
_CHUNK_SIZE_RE: Final = re.compile(rb"[0-9A-Fa-f]{1,16}")
_DEFAULT_PORTS: Final = {"http": 80, "https": 443}
_HAPPY_EYEBALLS: Final[dict[str, Any]] = {"happy_eyeballs_delay": 0.25}
# Parsed URLs are remembered (the Bot API's are few: one per method); downloads add more.
_MAX_TARGETS: Final = 1024
# Body framing of the response being read, besides a non-negative Content-Length.
_CHUNKED: Final = -1
_UNTIL_CLOSE: Final = -2
# Where a chunked body's parser is, besides the bytes left of the current chunk.
_SIZE_LINE: Final = -1
_TRAILERS: Final = -2


# What a successful call returns inside discard_sent_messages(): PTB's sendMessage hands a
# ``true`` result back as it is, as it does for edits of inline messages.
_TRUE_RESULT: Final = b'{"ok":true,"result":true}'
_DISCARDED: Final = frozenset({"sendMessage"})
_discarding: ContextVar[bool] = ContextVar("fitbot_discard_sent_messages", default=False)


@contextlib.contextmanager
def discard_sent_messages() -> Iterator[None]:
    """Inside this block (and the tasks it starts), ``send_message`` returns ``True``, not the
    :class:`~telegram.Message` Telegram sent back.

    PTB builds every result into objects, and a sent message comes back whole: sender, chat,
    entities, the keyboard button by button. For a handler that only replies, that is work
    nobody reads, measured at about a quarter of fitbot's CPU per reply. Errors are unchanged:
    only a successful (HTTP 200) ``sendMessage`` is affected.
    """
    token = _discarding.set(True)
    try:
        yield
    finally:
        _discarding.reset(token)


def _redact(text: str) -> str:
    """Remove bot tokens (hence whole Bot API URLs' secrets) from ``text``."""
    return _TOKEN_RE.sub("<token>", text)


def _retry_after(payload: bytes) -> float | None:
    """``parameters.retry_after`` of a Bot API error body, if present and numeric."""
    try:
        value = json.loads(payload)["parameters"]["retry_after"]
    except (ValueError, TypeError, KeyError):
        return None
    return float(value) if isinstance(value, int | float) else None


class ProtocolError(Exception):
    """The server's response is not HTTP/1.1 this client can read."""


class _NotSent(Exception):
    """No connection could be had, so the request never left: resending it is always safe."""

    def __init__(self, reason: str, *, timed_out: bool) -> None:
        super().__init__(reason)
        self.timed_out = timed_out


class _Target(NamedTuple):
    """What a URL comes to on the wire."""

    origin: tuple[str, str, int]  # scheme, host, port: connections are pooled per origin
    head: str  # "<path> HTTP/1.1\r\nHost: <host>\r\n", to follow the method
    tls: bool


def _target(url: str) -> _Target:
    parts = urlsplit(url)
    scheme, host = parts.scheme.lower(), parts.hostname
    if scheme not in _DEFAULT_PORTS or not host:
        raise ValueError("only absolute http:// and https:// URLs are supported")
    port = parts.port or _DEFAULT_PORTS[scheme]
    path = quote(parts.path or "/", safe="/%:@!$&'()*+,;=~-._")
    if parts.query:
        path += "?" + quote(parts.query, safe="/%:@!$&'()*+,;=?~-._")
    netloc = host.encode("idna").decode("ascii")
    netloc = f"[{netloc}]" if ":" in netloc else netloc
    if parts.port is not None:
        netloc += f":{port}"
    return _Target(
        (scheme, host, port), f"{path} HTTP/1.1\r\nHost: {netloc}\r\n", scheme == "https"
    )


class _Connection(asyncio.Protocol):
    """One HTTP/1.1 connection: one exchange at a time, the response parsed as bytes arrive."""

    __slots__ = (
        "_buffer",
        "_chunk_left",
        "_chunks",
        "_keep_alive",
        "_length",
        "_loop",
        "_status",
        "_waiter",
        "closed",
        "idle_since",
        "last_read",
        "transport",
    )

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop
        self.transport: asyncio.Transport | None = None
        self.closed = False
        self.idle_since = 0.0
        self.last_read = 0.0
        self._buffer = bytearray()
        self._waiter: asyncio.Future[tuple[int, bytes]] | None = None
        self._status = 0  # 0 until the (final) response head has been read
        self._length = 0
        self._keep_alive = True
        self._chunks: list[bytes] = []
        self._chunk_left = _SIZE_LINE

    @property
    def reusable(self) -> bool:
        """Whether the last exchange completed and left the connection fit for another."""
        return self._keep_alive and self._waiter is None and self.open

    @property
    def open(self) -> bool:
        """Not closed nor closing. A transport that failed is closing at once, but tells the
        protocol only on the next loop iteration; what is written to it meanwhile is lost."""
        return not self.closed and self.transport is not None and not self.transport.is_closing()

    def start(self, request: bytes) -> asyncio.Future[tuple[int, bytes]]:
        """Send ``request``; the future completes with the response's status and body."""
        assert self.transport is not None and self._waiter is None
        self._status, self._keep_alive = 0, True
        self._chunks, self._chunk_left = [], _SIZE_LINE
        self._waiter = waiter = self._loop.create_future()
        self.last_read = self._loop.time()
        self.transport.write(request)
        return waiter

    def writing(self) -> bool:
        """Whether part of the request still waits to be sent (a large upload)."""
        return self.transport is not None and self.transport.get_write_buffer_size() > 0

    def close(self) -> None:
        self.closed = True
        if self.transport is not None:
            self.transport.close()

    def fail(self, exc: BaseException) -> None:
        """End the exchange under way with ``exc`` and give up the connection."""
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_exception(exc)
        self.close()

    # -- asyncio.Protocol -----------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)  # uvloop's are not subclasses

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        waiter = self._waiter
        if waiter is None or waiter.done():
            return
        if exc is None and self._status and self._length == _UNTIL_CLOSE:
            self._complete(bytes(self._buffer))
        else:
            waiter.set_exception(
                exc or ConnectionResetError("the server closed the connection mid-response")
            )

    def eof_received(self) -> bool | None:
        self.closed = True  # before connection_lost, so the pool does not hand it out
        return None

    def data_received(self, data: bytes) -> None:
        waiter = self._waiter
        if waiter is None or waiter.done():  # unasked for, or the caller gave up: out of step
            self.close()
            return
        self.last_read = self._loop.time()
        self._buffer += data
        try:
            self._parse()
        except (ProtocolError, ValueError) as exc:
            self.fail(exc if isinstance(exc, ProtocolError) else ProtocolError(str(exc)))

    # -- parsing --------------------------------------------------------------------------

    def _parse(self) -> None:
        buffer = self._buffer
        while not self._status:
            end = buffer.find(b"\r\n\r\n")
            if end < 0:
                if len(buffer) > MAX_HEAD_BYTES:
                    raise ProtocolError("response head too large")
                return
            head = buffer[:end].decode("latin-1")
            del buffer[: end + 4]
            self._read_head(head)
        if self._length >= 0:
            if len(buffer) >= self._length:
                body = bytes(buffer[: self._length])
                del buffer[: self._length]
                self._complete(body)
        elif self._length == _CHUNKED:
            self._read_chunks()

    def _read_head(self, head: str) -> None:
        status_line, *lines = head.split("\r\n")
        version, _, rest = status_line.partition(" ")
        code = rest[:3]
        if version not in ("HTTP/1.1", "HTTP/1.0") or not (code.isdigit() and code.isascii()):
            raise ProtocolError(f"malformed status line {status_line[:40]!r}")
        status, length, chunked, close = int(code), -1, False, version == "HTTP/1.0"
        for line in lines:
            name, colon, value = line.partition(":")
            if not colon:
                raise ProtocolError("malformed header line")
            name = name.strip().lower()
            if name == "content-length":
                value = value.strip()
                if not (value.isdigit() and value.isascii()) or length not in (-1, int(value)):
                    raise ProtocolError("bad Content-Length")
                length = int(value)
            elif name == "transfer-encoding":
                chunked = value.strip().lower().endswith("chunked")
                length = length if chunked else _UNTIL_CLOSE
            elif name == "connection":
                tokens = {token.strip().lower() for token in value.split(",")}
                close = "close" in tokens or (close and "keep-alive" not in tokens)
        if 100 <= status < 200:
            if status == 101:
                raise ProtocolError("unexpected protocol switch")
            return  # an interim response: the real one follows
        self._status, self._keep_alive = status, not close
        if status in (204, 304):
            self._length = 0
        elif chunked:
            self._length = _CHUNKED
        elif length >= 0:
            self._length = length
        else:
            self._length, self._keep_alive = _UNTIL_CLOSE, False

    def _read_chunks(self) -> None:
        buffer = self._buffer
        while True:
            if self._chunk_left == _SIZE_LINE:
                end = buffer.find(b"\r\n")
                if end < 0:
                    if len(buffer) > MAX_HEAD_BYTES:
                        raise ProtocolError("chunk size line too long")
                    return
                size = bytes(buffer[:end]).partition(b";")[0].strip()
                if not _CHUNK_SIZE_RE.fullmatch(size):
                    raise ProtocolError("bad chunk size")
                del buffer[: end + 2]
                self._chunk_left = int(size, 16) or _TRAILERS
            elif self._chunk_left == _TRAILERS:
                end = 0 if buffer[:2] == b"\r\n" else buffer.find(b"\r\n\r\n")
                if end < 0:
                    if len(buffer) > MAX_HEAD_BYTES:
                        raise ProtocolError("trailers too large")
                    return
                del buffer[: end + (2 if end == 0 else 4)]
                self._complete(b"".join(self._chunks))
                return
            else:
                left = self._chunk_left
                if len(buffer) < left + 2:
                    return
                if buffer[left : left + 2] != b"\r\n":
                    raise ProtocolError("chunk not followed by CRLF")
                self._chunks.append(bytes(buffer[:left]))
                del buffer[: left + 2]
                self._chunk_left = _SIZE_LINE

    def _complete(self, body: bytes) -> None:
        waiter, self._waiter = self._waiter, None
        if self._buffer:  # bytes beyond the response: the connection is out of step
            self._buffer.clear()
            self._keep_alive = False
        if waiter is not None and not waiter.done():
            waiter.set_result((self._status, body))


class _Limits(NamedTuple):
    """One attempt's timeouts, in seconds (None: no limit)."""

    pool: float | None
    connect: float | None
    read: float | None  # longest silence while waiting for the response, once it is sent
    total: float | None  # the whole attempt, when every timeout is finite


class BotApiRequest(BaseRequest):
    """:class:`~telegram.request.BaseRequest` on pooled keep-alive HTTP/1.1 connections.

    Timeouts follow :class:`~telegram.request.HTTPXRequest`: a timeout argument equal to
    :attr:`BaseRequest.DEFAULT_NONE` means "use this instance's default", :obj:`None` means "no
    limit". ``pool_timeout`` bounds the wait for a free connection, ``connect_timeout`` opening
    one (TLS included), ``read_timeout`` any silence of the server once the request is sent.
    Writes are not timed on their own, so ``write_timeout`` (``media_write_timeout`` for
    uploads) only enters an overall bound: the sum of all four timeouts, when all are finite.

    Failures become PTB errors whose messages never contain the URL or the bot token: any
    timeout raises :exc:`telegram.error.TimedOut`, any other transport failure
    :exc:`telegram.error.NetworkError`.

    Retries (at most ``max_attempts`` attempts, sleeping ``backoff_base`` seconds, doubled
    each time up to ``backoff_max``) happen only where repeating cannot duplicate an effect:

    * failures to obtain a connection (connect errors, connect and pool timeouts): the request
      was never sent, so every method is retried;
    * HTTP 500/502/503/504 responses: retried for every method; the last one is returned to PTB,
      which raises :exc:`telegram.error.NetworkError`;
    * read timeouts and errors after the request may have reached Telegram: retried only for
      read-only calls (Bot API methods named ``get*``, such as getMe and getUpdates, and
      HTTP GET file downloads). A ``sendMessage`` that timed out is *not* repeated, since
      Telegram may already have delivered it.

    Files to upload are read into memory once (as PTB's :class:`~telegram.InputFile` does by
    default), so an upload can be resent like any other request.

    HTTP 429 is returned to PTB (raising :exc:`telegram.error.RetryAfter`, which
    :class:`telegram.ext.AIORateLimiter` with ``max_retries > 0`` waits out) unless
    ``retry_after_429`` is set: then the transport itself sleeps ``parameters.retry_after``
    and resends, at most ``max_429_retries`` times and only if the wait is at most
    ``max_retry_after`` seconds. Enable it only when no rate limiter is configured.

    Args:
        connection_pool_size: Maximum number of simultaneous connections.
        read_timeout: Default seconds the server may stay silent while a response is due.
        write_timeout: Default write bound for requests without files.
        connect_timeout: Default seconds to establish a connection.
        pool_timeout: Default seconds to wait for a free pooled connection.
        media_write_timeout: Default write bound for requests uploading files.
        keepalive_timeout: Seconds an idle connection is kept; keep it below the server's.
        max_attempts: Attempts per request for the retryable failures above (>= 1).
        backoff_base: Sleep before the first retry, in seconds.
        backoff_max: Upper bound of the sleep between retries, in seconds.
        retry_after_429: Whether to wait out and retry HTTP 429 responses.
        max_429_retries: Retries of HTTP 429 responses when ``retry_after_429`` is set.
        max_retry_after: Longest ``retry_after`` (seconds) that is waited out.
        ssl_context: Verifies ``https`` servers; default: the system's trusted certificates.
    """

    __slots__ = (
        "_backoff_base",
        "_backoff_max",
        "_connect_timeout",
        "_default_limits",
        "_idle",
        "_keepalive_timeout",
        "_max_429_retries",
        "_max_attempts",
        "_max_retry_after",
        "_media_write_timeout",
        "_pool_size",
        "_pool_timeout",
        "_read_timeout",
        "_retry_after_429",
        "_running",
        "_slots",
        "_ssl",
        "_targets",
        "_user_agent_line",
        "_write_timeout",
    )

    def __init__(
        self,
        connection_pool_size: int = 256,
        *,
        read_timeout: float | None = 5.0,
        write_timeout: float | None = 5.0,
        connect_timeout: float | None = 5.0,
        pool_timeout: float | None = 1.0,
        media_write_timeout: float | None = 20.0,
        keepalive_timeout: float = 15.0,
        max_attempts: int = 3,
        backoff_base: float = 0.1,
        backoff_max: float = 0.4,
        retry_after_429: bool = False,
        max_429_retries: int = 3,
        max_retry_after: float = 60.0,
        ssl_context: ssl.SSLContext | None = None,
    ) -> None:
        if connection_pool_size < 1 or max_attempts < 1 or max_429_retries < 0:
            raise ValueError(
                "connection_pool_size and max_attempts must be >= 1, max_429_retries >= 0"
            )
        self._pool_size = connection_pool_size
        self._read_timeout = read_timeout
        self._write_timeout = write_timeout
        self._connect_timeout = connect_timeout
        self._pool_timeout = pool_timeout
        self._media_write_timeout = media_write_timeout
        self._keepalive_timeout = keepalive_timeout
        self._max_attempts = max_attempts
        self._backoff_base = backoff_base
        self._backoff_max = backoff_max
        self._retry_after_429 = retry_after_429
        self._max_429_retries = max_429_retries
        self._max_retry_after = max_retry_after
        self._ssl = ssl_context
        self._default_limits = self._limits(
            self.DEFAULT_NONE, self.DEFAULT_NONE, self.DEFAULT_NONE, self.DEFAULT_NONE, False
        )
        self._user_agent_line = f"User-Agent: {self.USER_AGENT}\r\n"
        self._targets: dict[str, _Target] = {}
        self._idle: dict[tuple[str, str, int], list[_Connection]] = {}
        self._slots: asyncio.Semaphore | None = None
        self._running = False

    @property
    def read_timeout(self) -> float | None:
        """The default read timeout in seconds."""
        return self._read_timeout

    async def initialize(self) -> None:
        """Open the pool (inside the event loop that will use it)."""
        if not self._running:
            self._slots = asyncio.Semaphore(self._pool_size)
            self._running = True

    async def shutdown(self) -> None:
        """Close every idle connection; those in use close when done. Safe to call repeatedly."""
        self._running = False
        idle, self._idle = self._idle, {}
        for connections in idle.values():
            for connection in connections:
                connection.close()

    # -- one request ----------------------------------------------------------------------

    async def do_request(
        self,
        url: str,
        method: str,
        request_data: RequestData | None = None,
        read_timeout: ODVInput[float] = BaseRequest.DEFAULT_NONE,
        write_timeout: ODVInput[float] = BaseRequest.DEFAULT_NONE,
        connect_timeout: ODVInput[float] = BaseRequest.DEFAULT_NONE,
        pool_timeout: ODVInput[float] = BaseRequest.DEFAULT_NONE,
    ) -> tuple[int, bytes]:
        """Send one Bot API request, retrying as the class documentation describes."""
        if not self._running:
            raise RuntimeError(f"This {type(self).__name__} is not initialized!")
        target = self._targets.get(url)
        if target is None:
            if len(self._targets) >= _MAX_TARGETS:
                self._targets.clear()
            target = self._targets[url] = _target(url)
        endpoint = url.rpartition("/")[2]  # method name or file name; never the token
        read_only = method == "GET" or endpoint[:3].lower() == "get"
        has_files = request_data is not None and request_data.contains_files
        request = self._encode(method, target, request_data)
        timeouts = (read_timeout, write_timeout, connect_timeout, pool_timeout)
        limits = (
            self._default_limits
            if not has_files and all(t is self.DEFAULT_NONE for t in timeouts)
            else self._limits(*timeouts, has_files)
        )
        attempt, throttled = 1, 0
        while True:
            retry = attempt < self._max_attempts
            try:
                status, payload = await self._exchange(target, request, limits)
            except (_NotSent, TimeoutError, OSError, ProtocolError) as exc:
                error, safe = _classify(exc, endpoint, read_only)
                if not (retry and safe):
                    raise error from None  # the cause might name the URL, hence the token
                reason = str(error)
            else:
                if status == 429 and self._retry_after_429 and throttled < self._max_429_retries:
                    delay = _retry_after(payload)
                    if delay is not None and delay <= self._max_retry_after:
                        throttled += 1
                        _LOGGER.info("%s: flood limit, retrying after %s s", endpoint, delay)
                        await asyncio.sleep(delay)
                        continue
                if status == 200 and endpoint in _DISCARDED and _discarding.get():
                    return status, _TRUE_RESULT
                if status not in _RETRY_STATUSES or not retry:
                    return status, payload
                reason = f"HTTP {status}"
            delay = min(self._backoff_base * 2 ** (attempt - 1), self._backoff_max)
            _LOGGER.debug(
                "%s: attempt %d failed (%s), retrying in %s s", endpoint, attempt, reason, delay
            )
            attempt += 1
            await asyncio.sleep(delay)

    def _limits(
        self,
        read: ODVInput[float],
        write: ODVInput[float],
        connect: ODVInput[float],
        pool: ODVInput[float],
        has_files: bool,
    ) -> _Limits:
        """Resolve PTB's timeout arguments against the defaults."""
        if isinstance(read, DefaultValue):
            read = self._read_timeout
        if isinstance(write, DefaultValue):
            write = self._media_write_timeout if has_files else self._write_timeout
        if isinstance(connect, DefaultValue):
            connect = self._connect_timeout
        if isinstance(pool, DefaultValue):
            pool = self._pool_timeout
        finite = [t for t in (read, write, connect, pool) if t is not None]
        return _Limits(pool, connect, read, sum(finite) if len(finite) == 4 else None)

    def _encode(self, method: str, target: _Target, request_data: RequestData | None) -> bytes:
        """The whole request: head and body.

        Parameters go as one JSON object: Telegram takes ``application/json`` for every method
        that uploads nothing, and one ``json.dumps`` costs less than HTTPXRequest's form (a JSON
        string per nested value, then percent-encoding every byte). Uploads are multipart.
        """
        head = f"{method} {target.head}{self._user_agent_line}"
        if request_data is None:
            if method == "GET":
                return f"{head}\r\n".encode()
            body, content_type = b"", JSON_CONTENT_TYPE
        elif request_data.contains_files:
            body, content_type = _multipart(request_data)
        else:
            body = json.dumps(request_data.parameters, separators=(",", ":")).encode()
            content_type = JSON_CONTENT_TYPE
        return (
            f"{head}Content-Type: {content_type}\r\nContent-Length: {len(body)}\r\n\r\n".encode()
            + body
        )

    async def _exchange(
        self, target: _Target, request: bytes, limits: _Limits
    ) -> tuple[int, bytes]:
        """One attempt: take a connection, send, read the response, put the connection back."""
        slots = self._slots
        assert slots is not None
        if slots.locked():
            try:
                async with asyncio.timeout(limits.pool):
                    await slots.acquire()
            except TimeoutError:
                raise _NotSent("no free connection", timed_out=True) from None
        else:
            await slots.acquire()
        try:
            loop = asyncio.get_running_loop()
            started = loop.time()
            connection = self._pooled(target.origin, started) or await self._connect(
                target, limits.connect
            )
            waiter = connection.start(request)
            timer = None
            if limits.read is not None or limits.total is not None:
                timer = loop.call_at(
                    _deadline(connection, limits, started),
                    _check_deadline,
                    connection,
                    waiter,
                    limits,
                    started,
                )
            try:
                result = await waiter
            except BaseException:
                connection.close()  # a cancelled or failed exchange leaves it out of step
                raise
            finally:
                if timer is not None:
                    timer.cancel()
            if connection.reusable and self._running:
                connection.idle_since = loop.time()
                self._idle.setdefault(target.origin, []).append(connection)
            else:
                connection.close()
            return result
        finally:
            slots.release()

    def _pooled(self, origin: tuple[str, str, int], now: float) -> _Connection | None:
        """The most recently used idle connection that is still open and fresh, if any."""
        idle = self._idle.get(origin)
        while idle:
            connection = idle.pop()
            if not connection.open or now - connection.idle_since > self._keepalive_timeout:
                connection.close()
                continue
            # The oldest ones go stale first; close them before the server does.
            while idle and now - idle[0].idle_since > self._keepalive_timeout:
                idle.pop(0).close()
            return connection
        return None

    async def _connect(self, target: _Target, timeout: float | None) -> _Connection:
        loop = asyncio.get_running_loop()
        _, host, port = target.origin
        tls = None
        if target.tls:
            if self._ssl is None:
                self._ssl = ssl.create_default_context()
            tls = self._ssl
        # Happy eyeballs (RFC 8305): where IPv6 is broken, fall back to IPv4 in a quarter second
        # rather than after the connect timeout. Only asyncio's own loops take the argument.
        eyeballs = _HAPPY_EYEBALLS if isinstance(loop, asyncio.BaseEventLoop) else {}
        try:
            async with asyncio.timeout(timeout):
                _, connection = await loop.create_connection(
                    lambda: _Connection(loop),
                    host,
                    port,
                    ssl=tls,
                    server_hostname=host if tls else None,
                    **eyeballs,
                )
        except TimeoutError:
            raise _NotSent("connecting timed out", timed_out=True) from None
        except OSError as exc:
            raise _NotSent(f"could not connect: {exc}", timed_out=False) from None
        return connection


def _deadline(connection: _Connection, limits: _Limits, started: float) -> float:
    """When the exchange times out unless the server speaks (or the upload goes on) before."""
    deadlines = []
    if limits.read is not None:
        deadlines.append(connection.last_read + limits.read)
    if limits.total is not None:
        deadlines.append(started + limits.total)
    return min(deadlines)


def _check_deadline(
    connection: _Connection,
    waiter: asyncio.Future[tuple[int, bytes]],
    limits: _Limits,
    started: float,
) -> None:
    """Time the exchange out, or look again when it next could (the server spoke meanwhile).

    One timer per exchange, moved only when it fires, costs less than one moved per packet.
    """
    if waiter.done():  # a later look, after the exchange ended (or the connection moved on)
        return
    loop = asyncio.get_running_loop()
    now = loop.time()
    if connection.writing() and limits.read is not None:
        connection.last_read = now  # still sending: the read timeout has not started
    deadline = _deadline(connection, limits, started)
    if now < deadline:
        loop.call_at(deadline, _check_deadline, connection, waiter, limits, started)
    else:
        connection.fail(TimeoutError())


def _multipart(request_data: RequestData) -> tuple[bytes, str]:
    """The body and content type of an upload, encoded as HTTPXRequest does."""
    boundary = secrets.token_hex(16)
    parts: list[bytes] = []
    for name, value in request_data.json_parameters.items():
        parts += (
            f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n'.encode(),
            value.encode(),
            b"\r\n",
        )
    for name, (filename, content, mimetype) in request_data.multipart_data.items():
        data = content if isinstance(content, bytes) else content.read()
        shown = filename.translate(_FILENAME_ESCAPES) if filename else name
        parts += (
            f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"; '
            f'filename="{shown}"\r\nContent-Type: {mimetype}\r\n\r\n'.encode(),
            data,
            b"\r\n",
        )
    parts.append(f"--{boundary}--\r\n".encode())
    return b"".join(parts), f"multipart/form-data; boundary={boundary}"


def _classify(exc: BaseException, endpoint: str, read_only: bool) -> tuple[NetworkError, bool]:
    """The PTB error for a failed attempt, and whether resending it is safe."""
    if isinstance(exc, _NotSent):
        message = f"{exc} for {endpoint}; the request was not sent"
        return (TimedOut if exc.timed_out else NetworkError)(_redact(message)), True
    if isinstance(exc, TimeoutError):
        return TimedOut(f"Timed out waiting for the response to {endpoint}"), read_only
    reason = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
    return NetworkError(_redact(f"{reason} (during {endpoint})")), read_only
