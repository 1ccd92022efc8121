"""aiohttp, imported without the two TLS contexts it builds from the system's trust.

aiohttp makes a verifying and a non-verifying TLS context when it is imported,
each loading the system's trust store (OpenSSL parses every certificate: tens of
milliseconds, on every polling command). roundup never uses them: `fetch` passes
its own trust (`fetch._tls`) for every https feed and https proxy. So, when no other
thread runs (no other code can see the environment change), OpenSSL's default
paths point at nothing for the length of the import, and those contexts are made
empty; the environment is put back as it was right after.
What it does not do: anything else. Every module of `bot.ingest` that uses aiohttp
imports it from here (``from bot.ingest.http import aiohttp``), so this import is
the first.
"""

from __future__ import annotations

import os
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager

_TRUST_VARIABLES = ("SSL_CERT_FILE", "SSL_CERT_DIR")


@contextmanager
def _no_default_trust() -> Iterator[None]:
    if "aiohttp" in sys.modules or threading.active_count() > 1:
        yield  # imported already, or another thread could read the environment
        return
    saved = {name: os.environ.get(name) for name in _TRUST_VARIABLES}
    os.environ.update(dict.fromkeys(_TRUST_VARIABLES, os.devnull))
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


with _no_default_trust():
    import aiohttp as aiohttp
