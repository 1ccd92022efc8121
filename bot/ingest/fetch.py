"""One conditional GET of one feed, with redirects followed by hand.

What it does: sends If-None-Match / If-Modified-Since from the feed's stored
validators, follows at most `max_redirects` redirects (http and https targets only),
notes whether every hop so far was permanent (301/308: the feed has moved, and the
new URL is what to poll next time), reads the body under the size cap (`body`), and
turns every way this can fail into a `FetchError` whose one-line message an operator
can act on ("HTTP 404 Not Found from https://...", "more than 5 redirects ...",
"connection refused ..."). A URL goes out as given, byte for byte (aiohttp would
re-quote it); only what cannot go on the wire (spaces, non-ASCII, ...) is escaped,
as browsers do, which matters for a server's Location header.
What it does not do: parse, hash, decide when to poll, or bound the total time of a
fetch (the caller wraps it in the per-feed deadline). The session (connection pool,
timeouts, default headers) is the caller's.
"""

from __future__ import annotations

import functools
import os
import re
import socket
import ssl
from collections.abc import Mapping
from dataclasses import dataclass, field
from http import HTTPStatus
from typing import Protocol
from urllib import request as urllib_request
from urllib.parse import urljoin, urlsplit

import certifi
from yarl import URL

from bot.errors import FetchError
from bot.ingest.body import read_body
from bot.ingest.http import aiohttp
from bot.ingest.urls import WEB_SCHEMES

PERMANENT = frozenset({301, 308})
REDIRECTS = frozenset({301, 302, 303, 307, 308})
MAX_ERROR_CHARS = 300
# What a request line cannot carry (the WHATWG percent-encode sets of a path and of
# a query): controls, space, DEL, non-ASCII, and a few ASCII characters.
_PATH_UNSAFE = re.compile(r'[^\x21-\x7e]|["#<>?`{}]')
_QUERY_UNSAFE = re.compile(r'[^\x21-\x7e]|["#<>]')
# What aiohttp raises when connecting, sending or reading fails (timeouts included);
# `_network_error` words each.
_NETWORK_ERRORS = (aiohttp.ClientError, TimeoutError)


@dataclass(frozen=True)
class FetchResult:
    status: int  # the final HTTP status: 200-299, or 304
    url: str  # the URL that answered, after redirects
    next_url: str  # the URL to poll next time: moved only by permanent redirects
    headers: Mapping[str, str] = field(default_factory=dict)  # lower-cased names
    body: bytes = b""
    holds_gate: bool = False  # the body holds a slot of `body_gate`: release it when done

    @property
    def not_modified(self) -> bool:
        return self.status == 304


class Gate(Protocol):
    """A slot to hold while a body is read (an `asyncio.Semaphore` is one)."""

    async def acquire(self) -> object: ...

    def release(self) -> None: ...


class HTTPStatusFailure(FetchError):
    """The server answered with an error status; `status` is that status."""

    def __init__(self, message: str, status: int, retry_after: str | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.retry_after = retry_after  # the Retry-After header as sent, if any


@dataclass(frozen=True)
class Proxies:
    """The proxies the environment names (HTTP_PROXY, HTTPS_PROXY, NO_PROXY and their
    lower-case spellings), read once per poll.

    aiohttp's own `trust_env` reads them again for every request, in a thread, and
    ~/.netrc as well, in another: two thread hops a request made an unchanged poll
    of 300 feeds a third slower. A feed that needs a password gives it in its URL.
    """

    # urllib's reading of the environment (the same rules as `urllib.request`):
    # a proxy URL by scheme, and "no": the NO_PROXY list.
    by_scheme: Mapping[str, str] = field(default_factory=dict)

    @classmethod
    def from_env(cls) -> Proxies:
        return cls(urllib_request.getproxies_environment())

    def for_url(self, url: URL) -> tuple[URL | None, str | None]:
        """The proxy for `url`, and the Proxy-Authorization its URL's credentials make."""
        proxy = self.by_scheme.get(url.scheme)
        bypass = urllib_request.proxy_bypass_environment  # type: ignore[attr-defined]
        if not proxy or bypass(url.host or "", self.by_scheme):
            return None, None
        try:
            address = URL(proxy if "://" in proxy else f"http://{proxy}")
        except ValueError as exc:
            message = f"the proxy for {url.scheme} URLs is not a valid URL ({exc})"
            raise FetchError(message) from None
        if address.user is None:
            return address, None
        credentials = aiohttp.encode_basic_auth(address.user, address.password or "")
        return address.with_user(None), credentials


def _short(text: str, limit: int = MAX_ERROR_CHARS) -> str:
    """Server-sent text in an error message: one line, bounded."""
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _status_text(response: aiohttp.ClientResponse) -> str:
    try:
        phrase = HTTPStatus(response.status).phrase
    except ValueError:
        phrase = _short(response.reason or "", 60)
    return f"HTTP {response.status} {phrase}".rstrip()


def _http_error(response: aiohttp.ClientResponse, url: str) -> HTTPStatusFailure:
    message = f"{_status_text(response)} from {_short(url)}"
    if response.status == 410:
        message += " (the feed is gone: remove it from the config or give its new URL)"
    elif response.status in (401, 403):
        message += " (the server refuses us: check the URL or ask the site to allow roundup)"
    retry_after = response.headers.get("retry-after")
    return HTTPStatusFailure(
        message, response.status, _short(retry_after, 100) if retry_after else None
    )


def _redirect_target(response: aiohttp.ClientResponse, url: str) -> str:
    location = str(response.headers.get("location", "")).strip()
    if not location:
        raise FetchError(f"{_status_text(response)} without a Location header from {_short(url)}")
    target = urljoin(url, location)
    if urlsplit(target).scheme.lower() not in WEB_SCHEMES:
        raise FetchError(f"redirect to a non-HTTP URL refused: {_short(target)} (from {url})")
    return target


def _request_headers(etag: str | None, last_modified: str | None) -> dict[str, str]:
    headers: dict[str, str] = {}
    if etag:
        headers["If-None-Match"] = etag
    if last_modified:
        headers["If-Modified-Since"] = last_modified
    return headers


def _root_cause(exc: BaseException) -> BaseException:
    seen = {id(exc)}
    while (inner := exc.__cause__ or exc.__context__) is not None and id(inner) not in seen:
        seen.add(id(inner))
        exc = inner
    return exc


def _reason(exc: BaseException) -> str:
    """The underlying cause in a few lower-case words ("connection refused")."""
    root = _root_cause(exc)
    if isinstance(root, socket.gaierror):
        return f"the host name does not resolve ({root.strerror or root})"
    if isinstance(root, ssl.SSLError):
        return f"TLS failed ({root.reason or root})"
    if isinstance(root, OSError) and root.errno and root.errno > 0:
        return os.strerror(root.errno).lower()  # asyncio's own wording names no cause
    if isinstance(root, OSError) and root.strerror:
        return root.strerror.lower()
    if isinstance(root, aiohttp.http_exceptions.HttpProcessingError) and root.message:
        # The parser's complaint, whose later lines quote the offending bytes.
        text = _short(root.message.split("\n", 1)[0].rstrip(":. "), 160)
        return text[:1].lower() + text[1:]
    text = _short(str(exc) or type(exc).__name__, 160)
    return text[:1].lower() + text[1:]


def _network_error(exc: BaseException, url: str) -> FetchError:
    host = urlsplit(url).netloc or url
    # aiohttp raises its connector errors `from` the OSError (or ssl error) behind
    # them, so `_reason` finds the same causes as it did under httpx.
    if isinstance(exc, aiohttp.ConnectionTimeoutError):  # DNS, pool, TCP and TLS
        return FetchError(f"connecting to {host} timed out")
    if isinstance(exc, aiohttp.SocketTimeoutError):  # sock_read: silence mid-response
        return FetchError(f"{host} stopped sending data (read timeout) for {_short(url)}")
    if isinstance(exc, TimeoutError):
        return FetchError(f"timed out talking to {host} ({type(exc).__name__})")
    if isinstance(exc, aiohttp.ClientConnectorError):  # DNS, refused, TLS, proxy
        return FetchError(f"cannot connect to {host}: {_reason(exc)}")
    if isinstance(exc, aiohttp.ServerDisconnectedError):  # httpx's wording
        return FetchError(
            f"the connection to {host} failed: server disconnected without sending a response."
        )
    return FetchError(f"the connection to {host} failed: {_reason(exc)}")


def _wire_url(url: str) -> URL:
    """`url` as it goes out: unchanged but for what a request line cannot carry."""
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 (raises ValueError for a port out of range)
    except ValueError as exc:
        raise FetchError(f"not a valid URL: {_short(url)} ({exc})") from None
    if parts.scheme.lower() not in WEB_SCHEMES or not parts.hostname:
        raise FetchError(f"not an http(s) URL: {_short(url)}")
    try:
        netloc = parts.netloc
        if not netloc.isascii():  # an IDN host from a Location header: yarl IDNA-encodes it
            netloc = URL(f"{parts.scheme}://{netloc}").raw_authority
        wire = f"{parts.scheme}://{netloc}{_PATH_UNSAFE.sub(_escape, parts.path)}"
        if parts.query or url.split("#", 1)[0].endswith("?"):
            wire += "?" + _QUERY_UNSAFE.sub(_escape, parts.query)
        return URL(wire, encoded=True)  # encoded: sent as is, not re-quoted
    except ValueError as exc:
        raise FetchError(f"not a valid URL: {_short(url)} ({exc})") from None


def _escape(match: re.Match[str]) -> str:
    return "".join(f"%{byte:02X}" for byte in match.group().encode("utf-8", "surrogateescape"))


@functools.cache
def _tls() -> ssl.SSLContext:
    """The trust an https feed or proxy is checked against: $SSL_CERT_FILE, else
    $SSL_CERT_DIR, else certifi's bundle. Made when the first https URL is met
    (loading certificates takes milliseconds)."""
    if cafile := os.environ.get("SSL_CERT_FILE"):
        context = ssl.create_default_context(cafile=cafile)
    elif capath := os.environ.get("SSL_CERT_DIR"):
        context = ssl.create_default_context(capath=capath)
    else:
        context = ssl.create_default_context(cafile=certifi.where())
    context.set_alpn_protocols(["http/1.1"])
    return context


async def fetch(
    session: aiohttp.ClientSession,
    url: str,
    *,
    etag: str | None,
    last_modified: str | None,
    max_redirects: int,
    max_body_bytes: int,
    body_gate: Gate | None = None,
    proxies: Proxies | None = None,
) -> FetchResult:
    """GET `url` conditionally; the result, or a `FetchError` saying what went wrong.

    With `body_gate`, a 2xx body is read only once a slot of it is free, and the
    result holds that slot (`holds_gate`) until the caller releases it: memory for
    bodies is bounded by the gate, not by the number of requests in flight.
    `proxies` are the ones to go through (none if not given).
    """
    headers = _request_headers(etag, last_modified)
    next_url, permanent_so_far = url, True
    for _ in range(max_redirects + 1):
        wire = _wire_url(url)
        proxy, credentials = (None, None) if proxies is None else proxies.for_url(wire)
        # The proxy's password goes in the request a proxy forwards (http), or in
        # the CONNECT that opens the tunnel (https): aiohttp sends its proxy_headers
        # only with a CONNECT.
        to_proxy = {"Proxy-Authorization": credentials} if credentials else {}
        tunnel = wire.scheme == "https"
        try:
            response = await session.get(
                wire,
                headers=headers if tunnel else {**headers, **to_proxy},
                proxy=proxy,
                proxy_headers=to_proxy if tunnel and to_proxy else None,
                allow_redirects=False,  # followed by hand: see above
                # Our trust for TLS to the feed or to the proxy: aiohttp's own
                # contexts are empty (`http`).
                ssl=_tls() if tunnel or (proxy and proxy.scheme == "https") else True,
            )
        except aiohttp.InvalidURL as exc:
            raise FetchError(f"not a valid URL: {_short(url)} ({exc})") from None
        except _NETWORK_ERRORS as exc:
            raise _network_error(exc, url) from None
        try:
            if response.status in REDIRECTS:
                target = _redirect_target(response, url)
                permanent_so_far = permanent_so_far and response.status in PERMANENT
                if permanent_so_far:
                    next_url = target
                url = target
                continue
            if response.status == 304:
                # Read to its end (a 304 has no body): only a response read to the end
                # gives its connection back to the pool; closing an unread one drops
                # it, and the next feed of the host pays a new TCP and TLS handshake.
                await read_body(response, max_body_bytes)
                return FetchResult(304, url, next_url, _lowered(response))
            if not 200 <= response.status < 300:
                raise _http_error(response, url)
            body = await _gated_body(response, max_body_bytes, body_gate)
            return FetchResult(
                response.status,
                url,
                next_url,
                _lowered(response),
                body,
                holds_gate=body_gate is not None,
            )
        except _NETWORK_ERRORS as exc:
            raise _network_error(exc, url) from None
        finally:
            # Back to the pool if read to its end, else the connection is closed.
            response.release()
    raise FetchError(f"more than {max_redirects} redirects (the last to {_short(url)})")


async def _gated_body(response: aiohttp.ClientResponse, limit: int, gate: Gate | None) -> bytes:
    if gate is None:
        return await read_body(response, limit)
    await gate.acquire()
    try:
        return await read_body(response, limit)
    except BaseException:  # a failed or cancelled read gives its slot back at once
        gate.release()
        raise


def _lowered(response: aiohttp.ClientResponse) -> dict[str, str]:
    # A repeated header becomes one, its values joined by ", " (RFC 9110 5.3), as
    # httpx's headers were: the parser sees the same content-type as before.
    headers: dict[str, str] = {}
    for name, value in response.headers.items():
        key = name.lower()
        headers[key] = f"{headers[key]}, {value}" if key in headers else value
    return headers
