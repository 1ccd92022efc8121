"""A real HTTP server on 127.0.0.1 for tests: feeds, redirects, failures, hostile bodies.

Use it as a context manager (`with FeedServer() as server:`) or through the
`feed_server` fixture: import `feed_server_fixture` into a test module (or a
conftest) and ask for `feed_server`. Register routes, point the code under test at
`server.url(path)`, then check what the server saw: `hits(path)`,
`not_modified(path)` (conditional requests answered 304), `requests(path)` (the
headers of each request, names lower-cased) and `connections` (how many TCP
connections the requests came on). Routes can be replaced between polls.

Every route that stalls is bounded: a hang or a drip ends after `MAX_STALL` seconds,
an endless body or a gzip bomb after `MAX_STREAM_SECONDS`, and every socket has a
timeout, so a test can fail but never hang. What it does not do: TLS, HTTP/2, or
anything beyond 127.0.0.1.
"""

from __future__ import annotations

import ssl
import threading
import time
import zlib
from collections import Counter, defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

MAX_STALL = 5.0
MAX_HOLD = 30.0  # a body held `until` an event: the most it waits
MAX_STREAM_SECONDS = 20.0
SOCKET_TIMEOUT = 5.0
RSS = "application/rss+xml; charset=utf-8"


@dataclass
class Route:
    kind: str = "body"  # body | redirect | hang | drip | endless | gzip_bomb
    body: bytes = b""
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    etag: str | None = None
    last_modified: str | None = None
    conditional: bool = True  # answer If-None-Match / If-Modified-Since with 304
    gzip: bool = False
    location: str = ""
    seconds: float = 0.0  # hang: how long; drip: the pause between chunks
    size: int = 0  # gzip_bomb: the decompressed size
    delay: float = 0.0  # body: wait this long before answering (at most MAX_STALL)
    until: threading.Event | None = None  # body: wait for it first (at most MAX_HOLD)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    timeout = SOCKET_TIMEOUT
    # Headers and body go out in separate writes: with Nagle's algorithm and the
    # client's delayed ACK each response would wait some 40 ms.
    disable_nagle_algorithm = True
    server: _Server

    def do_GET(self) -> None:
        self.server.owner.handle(self)

    def log_message(self, format: str, *args: Any) -> None:  # quiet test output
        pass


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False
    owner: FeedServer

    def handle_error(self, request: Any, client_address: Any) -> None:
        pass  # clients that leave mid-body are what several tests are about


class FeedServer:
    """See the module docstring."""

    def __init__(self, host: str = "127.0.0.1", tls: ssl.SSLContext | None = None) -> None:
        self._lock = threading.Lock()
        self._routes: dict[str, Route] = {}
        self._hits: Counter[str] = Counter()
        self._not_modified: Counter[str] = Counter()
        self._requests: defaultdict[str, list[dict[str, str]]] = defaultdict(list)
        self._clients: set[tuple[str, int]] = set()  # (address, port): one per connection
        self._stopping = threading.Event()
        self._in_flight = 0
        self._max_in_flight = 0
        self._server = _Server((host, 0), _Handler)  # any 127.x address is loopback
        self._server.owner = self
        self._scheme = "http"
        if tls is not None:  # https: each connection's handshake happens as it is accepted
            self._server.socket = tls.wrap_socket(self._server.socket, server_side=True)
            self._scheme = "https"
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )

    # --- lifecycle -----------------------------------------------------------

    def __enter__(self) -> FeedServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._stopping.set()
        self._server.shutdown()
        self._server.server_close()

    @property
    def base_url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"{self._scheme}://{host!s}:{port}"

    def url(self, path: str) -> str:
        return self.base_url + path

    # --- routes --------------------------------------------------------------

    def route(self, path: str, route: Route) -> None:
        with self._lock:
            self._routes[path] = route

    def feed(
        self,
        path: str,
        body: bytes | str,
        *,
        content_type: str | None = RSS,
        status: int = 200,
        etag: str | None = None,
        last_modified: str | None = None,
        headers: dict[str, str] | None = None,
        gzip: bool = False,
        conditional: bool = True,
        delay: float = 0.0,
        until: threading.Event | None = None,
    ) -> None:
        """Serve `body`; with `etag`/`last_modified`, answer conditional requests;
        with `until`, only once that event is set (or `MAX_HOLD` has passed)."""
        all_headers = {"Content-Type": content_type} if content_type else {}
        all_headers.update(headers or {})
        data = body.encode("utf-8") if isinstance(body, str) else body
        self.route(
            path,
            Route(
                body=data,
                status=status,
                headers=all_headers,
                etag=etag,
                last_modified=last_modified,
                gzip=gzip,
                conditional=conditional,
                delay=min(delay, MAX_STALL),
                until=until,
            ),
        )

    def file(self, path: str, source: Path, **kwargs: Any) -> None:
        self.feed(path, source.read_bytes(), **kwargs)

    def status(self, path: str, status: int, body: bytes | str = b"") -> None:
        self.feed(path, body, status=status, content_type="text/plain; charset=utf-8")

    def redirect(self, path: str, to: str, status: int = 301) -> None:
        """Redirect to `to` (a path here, or a full URL)."""
        self.route(path, Route(kind="redirect", status=status, location=to))

    def hang(self, path: str, seconds: float = MAX_STALL) -> None:
        """Accept the request, then say nothing for `seconds` and close."""
        self.route(path, Route(kind="hang", seconds=min(seconds, MAX_STALL)))

    def drip(self, path: str, body: bytes, *, every: float = 0.2) -> None:
        """Send headers, then `body` one byte every `every` seconds (at most MAX_STALL)."""
        self.route(path, Route(kind="drip", body=body, seconds=every))

    def endless(self, path: str) -> None:
        """A 200 whose body never ends: it streams until the client disconnects."""
        self.route(path, Route(kind="endless"))

    def gzip_bomb(self, path: str, size: int = 1_000_000_000) -> None:
        """A gzip body of `size` bytes once inflated, about size/1000 bytes on the wire."""
        self.route(path, Route(kind="gzip_bomb", size=size))

    # --- what the server saw -------------------------------------------------

    def hits(self, path: str) -> int:
        with self._lock:
            return self._hits[path]

    def not_modified(self, path: str) -> int:
        with self._lock:
            return self._not_modified[path]

    def requests(self, path: str) -> list[dict[str, str]]:
        with self._lock:
            return list(self._requests[path])

    @property
    def connections(self) -> int:
        """How many TCP connections requests came on (keep-alive reuses one)."""
        with self._lock:
            return len(self._clients)

    @property
    def max_in_flight(self) -> int:
        """The most requests the server was answering at one time."""
        with self._lock:
            return self._max_in_flight

    def reset_counts(self) -> None:
        with self._lock:
            self._max_in_flight = 0
            self._hits.clear()
            self._not_modified.clear()
            self._requests.clear()
            self._clients.clear()

    # --- serving -------------------------------------------------------------

    def handle(self, handler: _Handler) -> None:
        with self._lock:
            self._in_flight += 1
            self._max_in_flight = max(self._max_in_flight, self._in_flight)
        try:
            self._answer(handler)
        finally:
            with self._lock:
                self._in_flight -= 1

    def _answer(self, handler: _Handler) -> None:
        path = handler.path
        with self._lock:
            self._hits[path] += 1
            self._clients.add(handler.client_address[:2])
            self._requests[path].append({k.lower(): v for k, v in handler.headers.items()})
            route = self._routes.get(path) or self._routes.get(path.split("?", 1)[0])
        if route is None:
            _send(handler, 404, {"Content-Type": "text/plain"}, b"no such route\n")
        elif route.kind == "body":
            if route.until is not None:
                self._hold(route.until)
            self._sleep(route.delay)
            self._body(handler, path, route)
        elif route.kind == "redirect":
            location = (
                self.url(route.location) if route.location.startswith("/") else route.location
            )
            _send(handler, route.status, {"Location": location}, b"")
        elif route.kind == "hang":
            self._sleep(route.seconds)
            handler.close_connection = True
        else:
            self._stream(handler, route)

    def _body(self, handler: _Handler, path: str, route: Route) -> None:
        validators: dict[str, str] = {}
        if route.etag:
            validators["ETag"] = route.etag
        if route.last_modified:
            validators["Last-Modified"] = route.last_modified
        if route.conditional and _matches(handler, route):
            with self._lock:
                self._not_modified[path] += 1
            _send(handler, 304, validators, b"")
            return
        body, headers = route.body, {**route.headers, **validators}
        if route.gzip:
            body, headers["Content-Encoding"] = _gzip(body), "gzip"
        _send(handler, route.status, headers, body)

    def _stream(self, handler: _Handler, route: Route) -> None:
        headers = {"Content-Type": RSS, "Connection": "close"}
        if route.kind == "gzip_bomb":
            headers["Content-Encoding"] = "gzip"
        handler.close_connection = True
        handler.send_response(200)
        for name, value in headers.items():
            handler.send_header(name, value)
        handler.end_headers()
        chunks = {"drip": _drip, "endless": _endless, "gzip_bomb": _bomb}[route.kind](route)
        started = time.monotonic()
        limit = MAX_STALL if route.kind == "drip" else MAX_STREAM_SECONDS
        try:
            for chunk in chunks:
                if self._stopping.is_set() or time.monotonic() - started > limit:
                    return
                handler.wfile.write(chunk)
                handler.wfile.flush()
                if route.kind == "drip":
                    self._sleep(route.seconds)
        except OSError:  # the client left: the point of these routes
            return

    def _sleep(self, seconds: float) -> None:
        self._stopping.wait(seconds)

    def _hold(self, event: threading.Event) -> None:
        deadline = time.monotonic() + MAX_HOLD
        while not (event.is_set() or self._stopping.is_set()) and time.monotonic() < deadline:
            event.wait(0.05)


def _send(handler: _Handler, status: int, headers: dict[str, str], body: bytes) -> None:
    handler.send_response(status)
    for name, value in headers.items():
        handler.send_header(name, value)
    handler.send_header("Content-Length", str(len(body)))
    handler.end_headers()
    if body:
        handler.wfile.write(body)


def _matches(handler: _Handler, route: Route) -> bool:
    """RFC 9110: If-None-Match decides when present; else If-Modified-Since."""
    if_none_match = handler.headers.get("If-None-Match")
    if if_none_match is not None:
        tags = {t.strip() for t in if_none_match.split(",")}
        return route.etag is not None and ("*" in tags or route.etag in tags)
    since = handler.headers.get("If-Modified-Since")
    return since is not None and route.last_modified is not None and since == route.last_modified


def _gzip(data: bytes) -> bytes:
    compressor = zlib.compressobj(9, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
    return compressor.compress(data) + compressor.flush()


def _drip(route: Route) -> Iterator[bytes]:
    for i in range(len(route.body)):
        yield route.body[i : i + 1]


def _endless(route: Route) -> Iterator[bytes]:
    yield b'<?xml version="1.0"?><rss version="2.0"><channel><title>Endless</title>'
    item = b"<item><title>again</title><link>http://127.0.0.1/again</link></item>" * 900
    while True:
        yield item


def _bomb(route: Route) -> Iterator[bytes]:
    compressor = zlib.compressobj(9, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
    yield compressor.compress(b'<?xml version="1.0"?><rss version="2.0"><channel><title>')
    block = b" " * 1_000_000
    for _ in range(route.size // len(block)):
        out = compressor.compress(block)
        if out:
            yield out
    yield compressor.flush()


@pytest.fixture(name="feed_server")
def feed_server_fixture() -> Iterator[FeedServer]:
    """A running `FeedServer`, closed after the test."""
    with FeedServer() as server:
        yield server
