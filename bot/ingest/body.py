"""Read a response body while streaming, never holding more than the cap.

Why not aiohttp's own decoding: its decompressor inflates each network chunk with
no bound on the output, so a 64 KB chunk of a gzip bomb becomes some 64 MB in
memory before anyone can count it. The session is therefore made with
``auto_decompress=False`` (`poll`), and here every inflate step is bounded by the
room left under the cap (zlib's ``max_length``), so a bomb stops at the cap,
counted on the decompressed size. We ask servers for gzip or deflate only, and
refuse other codings.
What it does not do: choose timeouts or follow redirects (that is `fetch`).
"""

from __future__ import annotations

import zlib

from bot.errors import FetchError
from bot.ingest.http import aiohttp

ACCEPT_ENCODING = "gzip, deflate"
_IDENTITY = ("", "identity")


class BoundedInflater:
    """Inflates gzip or deflate data, returning at most `room + 1` bytes a call."""

    def __init__(self, coding: str) -> None:
        self.coding = coding
        self._raw_fallback = coding == "deflate"  # "deflate" is often sent raw
        self._decoder = self._new()

    def _new(self, raw: bool = False) -> zlib._Decompress:
        if self.coding == "deflate":
            return zlib.decompressobj(-zlib.MAX_WBITS if raw else zlib.MAX_WBITS)
        return zlib.decompressobj(16 + zlib.MAX_WBITS)

    def feed(self, data: bytes, room: int) -> bytes:
        out = bytearray()
        pending = data
        while pending and len(out) <= room:
            try:
                out += self._decoder.decompress(pending, room + 1 - len(out))
            except zlib.error as exc:
                if not self._raw_fallback:
                    raise FetchError(f"the {self.coding} body is corrupt ({exc})") from None
                self._raw_fallback = False
                self._decoder = self._new(raw=True)
                continue
            self._raw_fallback = False
            pending = self._decoder.unconsumed_tail
            if self._decoder.eof:
                # A gzip body may hold several members one after the other.
                pending = self._decoder.unused_data if self.coding != "deflate" else b""
                if pending:
                    self._decoder = self._new()
        return bytes(out)


def _declared_length(response: aiohttp.ClientResponse) -> int | None:
    try:
        return int(response.headers.get("content-length", ""))
    except ValueError:
        return None


async def read_body(response: aiohttp.ClientResponse, limit: int) -> bytes:
    """The decoded body of a streamed response; `FetchError` past `limit` bytes."""
    coding = response.headers.get("content-encoding", "").strip().lower()
    if coding == "x-gzip":
        coding = "gzip"
    if coding not in (*_IDENTITY, "gzip", "deflate"):
        raise FetchError(f"unsupported Content-Encoding {coding[:40]!r} from {response.url}")
    inflater = None if coding in _IDENTITY else BoundedInflater(coding)
    declared = _declared_length(response)
    if inflater is None and declared is not None and declared > limit:
        raise FetchError(f"body exceeds {limit} bytes (Content-Length: {declared})")
    body = bytearray()
    # Raw bytes as they arrive (the session does not decompress): `iter_any`, not
    # `iter_chunked(n)`, which would copy each network chunk into pieces of n bytes.
    async for chunk in response.content.iter_any():
        body += inflater.feed(chunk, limit - len(body)) if inflater else chunk
        if len(body) > limit:
            where = "decompressed" if inflater else "streamed"
            raise FetchError(f"body exceeds {limit} bytes ({where})")
    return bytes(body)
