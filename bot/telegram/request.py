"""Bot API calls over aiohttp's client, through python-telegram-bot's :class:`BaseRequest`.

Why not PTB's default :class:`~telegram.request.HTTPXRequest`: aiohttp is already a dependency
(the webhook and metrics servers), and a whole ``send_message`` through PTB costs a third to an
eighth of the CPU on it. Measured with ``python -m benchmarks.bench_request`` (the fake Bot API
in its own process on loopback, a reply with a six-button keyboard, the client's CPU only,
medians of 3): 686 us per call one at a time against HTTPXRequest's 1,795 us, and 440 us
against 3,690 us with 32 under way at once, as a busy bot has them. Everything on the wire is
the library's: connection pooling and keep-alive, TLS, proxies.

What it adds to a plain client call:

* Parameters go as one JSON body (Telegram accepts ``application/json`` for every method that
  uploads nothing); uploads are ``multipart/form-data``.
* Proxies: ``HTTPS_PROXY``/``HTTP_PROXY`` for the Bot API URL's scheme, else ``ALL_PROXY``,
  unless ``NO_PROXY`` lists the host (:func:`proxy_from_environment`; lower-case names win, as in
  curl and urllib). aiohttp speaks to ``http://`` proxies (``CONNECT`` for ``https`` targets).
* No retries: a failed call raises at once, and whoever made it decides. Replies are retried
  durably by the outbox (:mod:`bot.telegram.delivery`), getUpdates by the poller; anything else
  is cosmetic (the typing indicator) or done again by Telegram (an inline query).
* Failures become PTB's errors, whose messages never contain the URL (hence the token):
  :class:`~telegram.error.TimedOut` when no answer came in time, with "not sent" when it timed
  out before the request could be written (connecting, or waiting for a free connection);
  :class:`~telegram.error.NetworkError` otherwise, "not sent" when no connection could be made.
* ``observer(method, code)`` hears every call that failed: ``code`` is the HTTP status, or
  ``timeout``/``network``. It is how /metrics counts errors.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Mapping
from typing import Any, Final
from urllib.parse import urlsplit

import aiohttp
from telegram.error import NetworkError, RetryAfter, TimedOut
from telegram.request import BaseRequest, RequestData

from bot.errors import ConfigError

JSON_HEADERS: Final = {"Content-Type": "application/json"}
TIMEOUT_CODE: Final = "timeout"
NETWORK_CODE: Final = "network"
FILE_DOWNLOAD: Final = "file"
KEEPALIVE_SECONDS: Final = 15.0
PROXY_SCHEMES: Final = ("http",)

Observer = Callable[[str, str], None]


def proxy_from_environment(url: str, env: Mapping[str, str] = os.environ) -> str | None:
    """The proxy for ``url`` by the usual variables, or None.

    Raises :class:`ConfigError` for a proxy this client cannot use (e.g. ``socks5://``).
    """
    parts = urlsplit(url)
    found: dict[str, str] = {}
    for name, value in env.items():  # upper-case first, so lower-case names win
        if name.isupper() and name.endswith("_PROXY") and value:
            found[name.lower()] = value
    for name, value in env.items():
        if name.islower() and name.endswith("_proxy") and value:
            found[name] = value
    proxy = found.get(f"{parts.scheme}_proxy") or found.get("all_proxy")
    if proxy is None:
        return None
    if parts.hostname and _bypassed(parts.hostname, found.get("no_proxy", "")):
        return None
    try:
        proxy_parts = urlsplit(proxy if "://" in proxy else f"http://{proxy}")
        scheme, _ = proxy_parts.scheme, proxy_parts.port
    except ValueError:  # a broken IPv6 address, a port out of range or not a number
        raise ConfigError(
            f"the proxy for {parts.scheme} URLs cannot be read as a URL (check its host and "
            "port; the value is not shown: it may contain a password)"
        ) from None
    if scheme not in PROXY_SCHEMES:
        raise ConfigError(
            f"the proxy for {parts.scheme} URLs must be an http:// proxy, got a {scheme}:// one"
        )
    return proxy if "://" in proxy else f"http://{proxy}"


def _bypassed(host: str, no_proxy: str) -> bool:
    """Whether ``NO_PROXY`` (comma-separated hosts or domain suffixes, or ``*``) covers
    ``host``."""
    host = host.lower()
    for entry in no_proxy.lower().split(","):
        name = entry.strip().lstrip(".").rpartition(":")[0] or entry.strip().lstrip(".")
        if name == "*" or (name and (host == name or host.endswith("." + name))):
            return True
    return False


class AiohttpRequest(BaseRequest):
    """:class:`~telegram.request.BaseRequest` on an :class:`aiohttp.ClientSession`.

    Timeouts follow :class:`~telegram.request.HTTPXRequest`: an argument equal to
    :attr:`BaseRequest.DEFAULT_NONE` means "this instance's default", :obj:`None` "no limit".
    ``pool_timeout`` and ``connect_timeout`` together bound getting a connection,
    ``connect_timeout`` opening one, ``read_timeout`` any silence of the server once the request
    is written. aiohttp does not time writes on their own; ``write_timeout`` is accepted and
    unused.
    """

    __slots__ = (
        "_connect_timeout",
        "_default_timeout",
        "_observer",
        "_pool_size",
        "_pool_timeout",
        "_proxy",
        "_read_timeout",
        "_session",
        "_ssl",
    )

    def __init__(
        self,
        connection_pool_size: int = 256,
        *,
        read_timeout: float | None = 5.0,
        connect_timeout: float | None = 5.0,
        pool_timeout: float | None = 1.0,
        proxy: str | None = None,
        ssl_context: Any = True,
        observer: Observer | None = None,
    ) -> None:
        if connection_pool_size < 1:
            raise ValueError("connection_pool_size must be >= 1")
        self._pool_size = connection_pool_size
        self._read_timeout = read_timeout
        self._connect_timeout = connect_timeout
        self._pool_timeout = pool_timeout
        self._proxy = proxy
        self._ssl = ssl_context
        self._observer = observer
        self._default_timeout = self._timeout(
            self.DEFAULT_NONE, self.DEFAULT_NONE, self.DEFAULT_NONE
        )
        self._session: aiohttp.ClientSession | None = None

    @property
    def read_timeout(self) -> float | None:
        """The default read timeout in seconds."""
        return self._read_timeout

    async def initialize(self) -> None:
        """Open the session (inside the event loop that will use it)."""
        if self._session is None or self._session.closed:
            connector = aiohttp.TCPConnector(
                limit=self._pool_size, ssl=self._ssl, keepalive_timeout=KEEPALIVE_SECONDS
            )
            # The Bot API sets no cookies: a jar that keeps none saves work on every call.
            self._session = aiohttp.ClientSession(
                connector=connector,
                cookie_jar=aiohttp.DummyCookieJar(),
                trust_env=False,
                auto_decompress=False,
            )

    async def shutdown(self) -> None:
        """Close the session and its connections. Safe to call repeatedly."""
        session, self._session = self._session, None
        if session is not None:
            await session.close()

    async def do_request(
        self,
        url: str,
        method: str,
        request_data: RequestData | None = None,
        read_timeout: Any = BaseRequest.DEFAULT_NONE,
        write_timeout: Any = BaseRequest.DEFAULT_NONE,
        connect_timeout: Any = BaseRequest.DEFAULT_NONE,
        pool_timeout: Any = BaseRequest.DEFAULT_NONE,
    ) -> tuple[int, bytes]:
        """Send one request; return the status and body, or raise a PTB network error."""
        session = self._session
        if session is None:
            raise RuntimeError(f"This {type(self).__name__} is not initialized!")
        endpoint = url.rpartition("/")[2].partition("?")[0]  # the method, never the token
        timeout = (
            self._default_timeout
            if read_timeout is connect_timeout is pool_timeout is self.DEFAULT_NONE
            else self._timeout(read_timeout, connect_timeout, pool_timeout)
        )
        data: Any = None
        headers: Mapping[str, str] | None = None
        if request_data is not None:
            if request_data.contains_files:
                data = _form(request_data)
            else:
                data = json.dumps(request_data.parameters, separators=(",", ":"))
                headers = JSON_HEADERS
        try:
            async with session.request(
                method, url, data=data, headers=headers, timeout=timeout, proxy=self._proxy
            ) as response:
                status, payload = response.status, await response.read()
        except aiohttp.ConnectionTimeoutError:
            self._failed(endpoint, TIMEOUT_CODE)
            raise TimedOut(
                f"Timed out connecting for {endpoint}; the request was not sent"
            ) from None
        except TimeoutError:
            self._failed(endpoint, TIMEOUT_CODE)
            raise TimedOut(f"Timed out waiting for the response to {endpoint}") from None
        except aiohttp.ClientConnectorError as exc:
            self._failed(endpoint, NETWORK_CODE)
            reason = exc.strerror or type(exc).__name__
            raise NetworkError(
                f"Could not connect for {endpoint} ({reason}); the request was not sent"
            ) from None
        except aiohttp.ClientError as exc:
            self._failed(endpoint, NETWORK_CODE)
            raise NetworkError(f"{type(exc).__name__} during {endpoint}") from None
        if status >= 400:
            self._failed(endpoint, str(status))
        return status, payload

    def _failed(self, endpoint: str, code: str) -> None:
        if self._observer is not None:
            # A file download's last path segment is a file name: keep the label set small.
            self._observer(endpoint if endpoint.isalpha() else FILE_DOWNLOAD, code)

    def _timeout(self, read: object, connect: object, pool: object) -> aiohttp.ClientTimeout:
        """aiohttp's timeouts for PTB's arguments, resolved against the defaults."""
        read_s = _seconds(read, self._read_timeout)
        connect_s = _seconds(connect, self._connect_timeout)
        pool_s = _seconds(pool, self._pool_timeout)
        acquire = None if connect_s is None or pool_s is None else connect_s + pool_s
        return aiohttp.ClientTimeout(
            total=None, connect=acquire, sock_connect=connect_s, sock_read=read_s
        )


def retry_after_seconds(error: RetryAfter) -> float:
    """How long a 429 asks to wait, in seconds (PTB gives an int or, opted in, a timedelta)."""
    value: object = error.retry_after
    total = getattr(value, "total_seconds", None)
    return float(total()) if callable(total) else float(value)  # type: ignore[arg-type]


def _seconds(value: object, default: float | None) -> float | None:
    if value is BaseRequest.DEFAULT_NONE:
        return default
    return float(value) if isinstance(value, int | float) else None


def _form(request_data: RequestData) -> aiohttp.FormData:
    """An upload as HTTPXRequest encodes it: JSON-encoded fields, then the files."""
    form = aiohttp.FormData()
    for name, value in request_data.json_parameters.items():
        form.add_field(name, value)
    for name, (filename, content, mimetype) in request_data.multipart_data.items():
        data = content if isinstance(content, bytes) else content.read()
        form.add_field(name, data, filename=filename or name, content_type=mimetype)
    return form
