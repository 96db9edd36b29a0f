"""An aiohttp-based :class:`telegram.request.BaseRequest` with one pooled session.

PTB's default httpx backend spends most of its CPU in the connection pool once many updates
are answered concurrently; a single keep-alive :class:`aiohttp.ClientSession` sustains an
order of magnitude more Bot API calls per second on the same machine.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
from typing import Final

import aiohttp
from telegram._utils.defaultvalue import DefaultValue
from telegram._utils.types import ODVInput
from telegram.error import NetworkError, TimedOut
from telegram.request import BaseRequest, RequestData

_LOGGER = logging.getLogger(__name__)

_RETRY_STATUSES: Final = frozenset({500, 502, 503, 504})
_JSON_HEADERS: Final = {"Content-Type": "application/json"}
# A bot token ("<digits>:<secret>") as it may appear in a URL, raw or percent-encoded.
_TOKEN_RE: Final = re.compile(r"\d+(?::|%3[aA])[A-Za-z0-9_-]+")
# HTML5 form encoding of characters that must not appear raw in a quoted filename.
_FILENAME_ESCAPES: Final = str.maketrans({'"': "%22", "\r": "%0D", "\n": "%0A"})


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


class AiohttpRequest(BaseRequest):
    """:class:`~telegram.request.BaseRequest` on one pooled, keep-alive aiohttp session.

    Timeouts follow :class:`~telegram.request.HTTPXRequest`: a timeout argument equal to
    :attr:`BaseRequest.DEFAULT_NONE` means "use this instance's default", :obj:`None` means "no
    limit". aiohttp has no per-write timeout, so ``write_timeout`` (``media_write_timeout`` for
    uploads) only enters an overall bound: the sum of all four timeouts, when all are finite.
    Waiting for a pooled connection and connecting share aiohttp's ``connect`` limit
    (``pool_timeout + connect_timeout``); establishing the socket alone is ``connect_timeout``.

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

    Uploads whose files are open file handles (rather than bytes) are sent once, as a handle
    cannot be re-read reliably.

    HTTP 429 is returned to PTB (raising :exc:`telegram.error.RetryAfter`, which
    :class:`telegram.ext.AIORateLimiter` with ``max_retries > 0`` waits out) unless
    ``retry_after_429`` is set: then the transport itself sleeps ``parameters.retry_after``
    and resends, at most ``max_429_retries`` times and only if the wait is at most
    ``max_retry_after`` seconds. Enable it only when no rate limiter is configured.

    Args:
        connection_pool_size: Maximum number of simultaneous connections.
        read_timeout: Default seconds to wait for response data.
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
    """

    __slots__ = (
        "_backoff_base",
        "_backoff_max",
        "_connect_timeout",
        "_keepalive_timeout",
        "_max_429_retries",
        "_max_attempts",
        "_max_retry_after",
        "_media_write_timeout",
        "_pool_size",
        "_pool_timeout",
        "_read_timeout",
        "_retry_after_429",
        "_session",
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
        self._session: aiohttp.ClientSession | None = None

    @property
    def read_timeout(self) -> float | None:
        """The default read timeout in seconds."""
        return self._read_timeout

    async def initialize(self) -> None:
        """Create the pooled session (must run inside the event loop that will use it)."""
        if self._session is None or self._session.closed:
            connector = aiohttp.TCPConnector(
                limit=self._pool_size,
                limit_per_host=0,
                keepalive_timeout=self._keepalive_timeout,
            )
            self._session = aiohttp.ClientSession(
                connector=connector,
                headers={"User-Agent": self.USER_AGENT},
                timeout=aiohttp.ClientTimeout(),
            )

    async def shutdown(self) -> None:
        """Close the session and its connections; safe to call repeatedly."""
        session, self._session = self._session, None
        if session is not None and not session.closed:
            await session.close()

    def _timeout(
        self,
        read: ODVInput[float],
        write: ODVInput[float],
        connect: ODVInput[float],
        pool: ODVInput[float],
        has_files: bool,
    ) -> aiohttp.ClientTimeout:
        """Resolve PTB's timeout arguments against the defaults into an aiohttp timeout."""
        if isinstance(read, DefaultValue):
            read = self._read_timeout
        if isinstance(write, DefaultValue):
            write = self._media_write_timeout if has_files else self._write_timeout
        if isinstance(connect, DefaultValue):
            connect = self._connect_timeout
        if isinstance(pool, DefaultValue):
            pool = self._pool_timeout
        finite = [t for t in (read, write, connect, pool) if t is not None]
        return aiohttp.ClientTimeout(
            total=sum(finite) if len(finite) == 4 else None,
            connect=None if pool is None or connect is None else pool + connect,
            sock_connect=connect,
            sock_read=read,
        )

    def _body(self, request_data: RequestData | None) -> bytes | aiohttp.FormData | None:
        """Encode the parameters: one JSON object, or multipart (as HTTPXRequest) with files.

        Telegram takes ``application/json`` for every method that uploads nothing. Dumping the
        parameters once, nested objects and all, costs less CPU than HTTPXRequest's form: a JSON
        string per nested value, then percent-encoding every byte of every value.
        """
        if request_data is None:
            return None
        if not request_data.contains_files:
            return json.dumps(request_data.parameters, separators=(",", ":")).encode()
        form = aiohttp.FormData(request_data.json_parameters, quote_fields=False)
        for name, (filename, content, mimetype) in request_data.multipart_data.items():
            form.add_field(
                name,
                content,
                filename=filename.translate(_FILENAME_ESCAPES) if filename else name,
                content_type=mimetype,
            )
        return form

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
        session = self._session
        if session is None or session.closed:
            raise RuntimeError("This AiohttpRequest is not initialized!")
        endpoint = url.rpartition("/")[2]  # method name or file name; never the token
        read_only = method == "GET" or endpoint[:3].lower() == "get"
        files = request_data.multipart_data if request_data and request_data.contains_files else {}
        has_files = bool(files)
        resendable = all(isinstance(content, bytes) for _, content, _ in files.values())
        timeout = self._timeout(
            read_timeout, write_timeout, connect_timeout, pool_timeout, has_files
        )
        headers = None if has_files or request_data is None else _JSON_HEADERS
        attempt, throttled = 1, 0
        while True:
            retry = resendable and attempt < self._max_attempts
            try:
                async with session.request(
                    method, url, data=self._body(request_data), headers=headers, timeout=timeout
                ) as response:
                    status, payload = response.status, await response.read()
            except (TimeoutError, aiohttp.ClientError, OSError) as exc:
                error, safe = _classify(exc, endpoint, read_only)
                if not (retry and safe):
                    raise error from None  # the cause would name the URL, hence the token
                reason = str(error)
            else:
                if status == 429 and self._retry_after_429 and throttled < self._max_429_retries:
                    delay = _retry_after(payload)
                    if delay is not None and delay <= self._max_retry_after:
                        throttled += 1
                        _LOGGER.info("%s: flood limit, retrying after %s s", endpoint, delay)
                        await asyncio.sleep(delay)
                        continue
                if status not in _RETRY_STATUSES or not retry:
                    return status, payload
                reason = f"HTTP {status}"
            delay = min(self._backoff_base * 2 ** (attempt - 1), self._backoff_max)
            _LOGGER.debug(
                "%s: attempt %d failed (%s), retrying in %s s", endpoint, attempt, reason, delay
            )
            attempt += 1
            await asyncio.sleep(delay)


def _classify(exc: BaseException, endpoint: str, read_only: bool) -> tuple[NetworkError, bool]:
    """The PTB error for a failed attempt, and whether resending it is safe."""
    if isinstance(exc, aiohttp.ConnectionTimeoutError):  # no connection, so nothing was sent
        return TimedOut(f"Timed out connecting for {endpoint}; the request was not sent"), True
    if isinstance(exc, TimeoutError):
        return TimedOut(f"Timed out waiting for the response to {endpoint}"), read_only
    error = NetworkError(_redact(f"aiohttp.{type(exc).__name__} for {endpoint}: {exc}"))
    return error, read_only or isinstance(exc, aiohttp.ClientConnectorError)
