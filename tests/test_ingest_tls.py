"""Feeds over https, served with certificates of a test authority (trustme).

The certificate is checked: one the trust does not vouch for fails the feed with
one line and asks the server for nothing; the trust is $SSL_CERT_FILE (else
$SSL_CERT_DIR, else certifi's bundle), so a feed behind a private authority is read
once that file names it. Real `roundup` processes for the environment's part.
"""

from __future__ import annotations

import asyncio
import base64
import os
import select
import socket
import socketserver
import ssl
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import trustme

from bot.ingest import poll_feeds
from bot.types import FeedState, FetchStatus
from tests.httpserver import FeedServer
from tests.test_cli import write_config
from tests.test_ingest_poll import NOW, SEED, SETTINGS


@pytest.fixture
def authority() -> trustme.CA:
    return trustme.CA()


@pytest.fixture
def https_server(authority: trustme.CA) -> Iterator[FeedServer]:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    authority.issue_cert("127.0.0.1").configure_cert(context)
    with FeedServer(tls=context) as server:
        server.feed("/seed.xml", SEED)
        yield server


class _TunnelProxy(socketserver.ThreadingTCPServer):
    """An HTTP proxy that only tunnels (CONNECT), and keeps each request's head."""

    daemon_threads = True
    heads: list[str]

    def __init__(self, tls: ssl.SSLContext | None = None) -> None:
        super().__init__(("127.0.0.1", 0), _Tunnel)
        self.heads = []
        self.tls = tls
        threading.Thread(target=self.serve_forever, daemon=True).start()

    def get_request(self) -> tuple[socket.socket, Any]:
        connection, address = super().get_request()
        if self.tls is not None:  # an https proxy: TLS to the proxy, then the tunnel
            connection = self.tls.wrap_socket(connection, server_side=True)
        return connection, address

    @property
    def port(self) -> int:
        return int(self.server_address[1])


class _Tunnel(socketserver.BaseRequestHandler):
    server: _TunnelProxy

    def handle(self) -> None:
        head = b""
        while b"\r\n\r\n" not in head and len(head) < 16_384:
            if not (chunk := self.request.recv(4096)):
                return
            head += chunk
        text = head.decode("latin-1")
        self.server.heads.append(text)
        method, target = text.split(" ", 2)[:2]
        if method == "CONNECT":  # a tunnel: to the feed's TLS, through us
            host, port = target.rsplit(":", 1)
            head = b"HTTP/1.1 200 Connection established\r\n\r\n"
        else:  # a plain request, forwarded as it came (absolute URL and all)
            host, port = target.split("/")[2].rsplit(":", 1)
        with socket.create_connection((host, int(port)), timeout=10) as upstream:
            (self.request if method == "CONNECT" else upstream).sendall(head)
            self._pump(upstream)

    def _pump(self, upstream: socket.socket) -> None:
        ends = [self.request, upstream]
        while ready := select.select(ends, [], [], 10)[0]:
            for end in ready:
                other = upstream if end is self.request else self.request
                while True:  # TLS may hold decrypted bytes select() does not see
                    data = end.recv(65_536)
                    if not data:
                        return
                    other.sendall(data)
                    if not (isinstance(end, ssl.SSLSocket) and end.pending()):
                        break


@pytest.mark.parametrize(
    ("feed_scheme", "proxy_scheme"), [("https", "http"), ("https", "https"), ("http", "https")]
)
def test_a_feed_goes_through_the_proxy_with_its_password(
    https_server: FeedServer,
    feed_server: FeedServer,
    authority: trustme.CA,
    tmp_path: Path,
    sqlite_url: str,
    feed_scheme: str,
    proxy_scheme: str,
) -> None:
    # https feeds go through a CONNECT tunnel, http ones are forwarded; an https
    # proxy is checked against the same trust as the feeds.
    server = https_server if feed_scheme == "https" else feed_server
    # A forwarded request names the whole URL, which is what the server is asked.
    route = "/seed.xml" if feed_scheme == "https" else server.url("/seed.xml")
    server.feed(route, SEED)
    config = write_config(tmp_path / "feeds.yaml", {"private": server.url("/seed.xml")})
    bundle = tmp_path / "authority.pem"
    authority.cert_pem.write_to_path(str(bundle))
    proxy_tls = None
    if proxy_scheme == "https":
        proxy_tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        authority.issue_cert("127.0.0.1").configure_cert(proxy_tls)
    proxy = _TunnelProxy(proxy_tls)
    env = {k: v for k, v in os.environ.items() if not k.lower().endswith("_proxy")} | {
        "DATABASE_URL": sqlite_url,
        "SSL_CERT_FILE": str(bundle),
        f"{feed_scheme.upper()}_PROXY": f"{proxy_scheme}://ops:s3cret@127.0.0.1:{proxy.port}",
    }
    try:
        done = subprocess.run(
            [sys.executable, "-m", "bot", "poll", "--all", "--config", str(config)],
            cwd=tmp_path,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )
    finally:
        proxy.shutdown()
        proxy.server_close()
    assert done.returncode == 0, done.stdout + done.stderr
    assert "fetched 1," in done.stdout
    [head] = proxy.heads
    host = server.url("/").split("/")[2]
    if feed_scheme == "https":
        assert head.startswith(f"CONNECT {host} HTTP/1.1\r\n")
    else:
        assert head.startswith(f"GET http://{host}/seed.xml HTTP/1.1\r\n")
    password = base64.b64encode(b"ops:s3cret").decode()
    assert f"\r\nproxy-authorization: basic {password}\r\n".lower() in head.lower()
    assert server.hits(route) == 1
    if feed_scheme == "https":  # inside the tunnel, the feed's server gets no password
        [request] = server.requests(route)
        assert not any(name.lower() == "proxy-authorization" for name in request)


def test_a_certificate_nobody_vouches_for_fails_the_feed_in_one_line(
    https_server: FeedServer,
) -> None:
    url = https_server.url("/seed.xml")
    state = FeedState(name="private", url=url, config_url=url)
    (outcome,) = asyncio.run(poll_feeds([state], SETTINGS, NOW))
    assert outcome.status is FetchStatus.FAILED
    host = url.split("/")[2]
    assert outcome.error is not None and "\n" not in outcome.error
    assert outcome.error.startswith(f"cannot connect to {host}: TLS failed (")
    assert "CERTIFICATE_VERIFY_FAILED" in outcome.error
    assert https_server.hits("/seed.xml") == 0  # no request went out


def test_the_authority_named_by_ssl_cert_file_is_trusted(
    https_server: FeedServer, authority: trustme.CA, tmp_path: Path, sqlite_url: str
) -> None:
    config = write_config(tmp_path / "feeds.yaml", {"private": https_server.url("/seed.xml")})
    bundle = tmp_path / "authority.pem"
    authority.cert_pem.write_to_path(str(bundle))
    env = {k: v for k, v in os.environ.items() if not k.startswith("SSL_CERT_")}
    env |= {"DATABASE_URL": sqlite_url, "COLUMNS": "200"}

    def poll(extra: dict[str, str]) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "bot", "poll", "--all", "--config", str(config)],
            cwd=tmp_path,
            env={**env, **extra},
            capture_output=True,
            text=True,
            timeout=120,
        )

    refused = poll({})
    assert refused.returncode == 1 and "TLS failed" in refused.stdout
    trusted = poll({"SSL_CERT_FILE": str(bundle)})
    assert trusted.returncode == 0, trusted.stdout + trusted.stderr
    assert "fetched 1," in trusted.stdout and "failed 0" in trusted.stdout
    assert https_server.hits("/seed.xml") == 1


@pytest.mark.parametrize("threads", [1, 2])
def test_importing_the_http_client_leaves_the_environment_as_it_was(
    tmp_path: Path, threads: int
) -> None:
    # aiohttp is imported with OpenSSL's default paths pointing at nothing (`http`),
    # only when no other thread runs, and the variables are put back at once: one set,
    # one unset.
    probe = (
        "import os, threading, time\n"
        "if THREADS > 1: threading.Thread(target=time.sleep, args=(2,), daemon=True).start()\n"
        "import bot.ingest.fetch\n"
        "import aiohttp.connector as c\n"
        "print(os.environ.get('SSL_CERT_FILE'), os.environ.get('SSL_CERT_DIR'))\n"
        "print(c._SSL_CONTEXT_VERIFIED.cert_store_stats()['x509_ca'] > 0)\n"
    ).replace("THREADS", str(threads))
    bundle = tmp_path / "authority.pem"
    trustme.CA().cert_pem.write_to_path(str(bundle))
    env = {k: v for k, v in os.environ.items() if not k.startswith("SSL_CERT_")}
    done = subprocess.run(
        [sys.executable, "-c", probe],
        env=env | {"SSL_CERT_FILE": str(bundle)},
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    # aiohttp's own (unused) context is empty only when the trick was safe to play.
    assert done.stdout.split("\n")[:2] == [f"{bundle} None", str(threads > 1)]
