"""Feeds over https, served with certificates of a test authority (trustme).

The certificate is checked: one the trust does not vouch for fails the feed with
one line and asks the server for nothing; the trust is $SSL_CERT_FILE (else
$SSL_CERT_DIR, else certifi's bundle), so a feed behind a private authority is read
once that file names it. Real `roundup` processes for the environment's part.
"""

from __future__ import annotations

import asyncio
import os
import ssl
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

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
