"""A separate HTTP server process that serves generated feeds for the poll benchmark.

Run: python bench/feedserver.py --feeds N --hosts H --latency SECONDS
It listens on 127.0.0.1 ... 127.0.0.H (one port each, all loopback addresses that
Linux routes to `lo`), prints one JSON line ``{"hosts": {"127.0.0.1": port, ...}}``
and serves until stdin closes. Feed i lives at ``/feed/i.xml`` on host
``127.0.0.(i % H + 1)``: 30 stories, about 150 KB, with content:encoded,
categories and media:content. Every answer waits `latency` first. Conditional
requests are answered correctly: a matching If-None-Match (or, without one, an
If-Modified-Since at or after the feed's date) gets a 304. `GET /_stats` returns
how many 200s and 304s were sent; `GET /_reset` zeroes them; `GET /_latency?s=X`
changes the latency.

It is asyncio with hand-written HTTP/1.1 (keep-alive, Content-Length): a server in
the same process, or a threaded one, would take CPU from what is measured.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from urllib.parse import parse_qs, urlsplit

STORIES = 30
LAST_MODIFIED = "Tue, 24 Nov 2026 10:00:00 GMT"
REGIONS = ("Middle East", "Asia-Pacific", "Europe", "Africa", "Americas")
_PARAGRAPH = (
    "<p>Diplomats from both capitals met again this week, and the talks ran late into "
    'the night. <a href="https://example.org/context">Earlier rounds</a> had stalled '
    "over sequencing, verification and the <em>pace</em> of sanctions relief; officials "
    "said the new draft addresses each, though neither side would say how.</p>\n"
)


def story(feed: int, n: int) -> bytes:
    region = REGIONS[(feed + n) % len(REGIONS)]
    link = f"https://news{feed % 30}.example.org/{feed}/story-{n}"
    body = _PARAGRAPH * 13
    return (
        f"<item><title>Story {n} of feed {feed}: talks resume in {region}</title>"
        f'<link>{link}</link><guid isPermaLink="false">bench-{feed}-{n}</guid>'
        f"<pubDate>Mon, {1 + n % 28:02d} Nov 2026 0{n % 10}:00:00 GMT</pubDate>"
        f"<dc:creator>Staff Writer {n % 7}</dc:creator>"
        f"<category>{region}</category><category>Analysis</category>"
        f"<category>Diplomacy</category>"
        f"<description><![CDATA[<p>A sentence or two of lede about {region}, and why "
        f"the talks matter this week.</p><p>Top photo credit: Agency {n}</p>]]></description>"
        f'<content:encoded><![CDATA[{body}<img src="https://img.example.org/{feed}/{n}.jpg" '
        f'width="800" height="450">]]></content:encoded>'
        f'<media:content url="https://img.example.org/{feed}/{n}.jpg" medium="image" '
        f'width="1200" height="675"><media:credit>Agency {n}</media:credit>'
        f"</media:content></item>\n"
    ).encode()


def feed_body(feed: int) -> bytes:
    head = (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        '<rss version="2.0" xmlns:content="http://purl.org/rss/1.0/modules/content/" '
        'xmlns:dc="http://purl.org/dc/elements/1.1/" '
        'xmlns:media="http://search.yahoo.com/mrss/"><channel>'
        f"<title>Bench feed {feed}</title><link>https://news{feed % 30}.example.org/</link>"
        "<description>Generated for the poll benchmark</description>\n"
    ).encode()
    return head + b"".join(story(feed, n) for n in range(STORIES)) + b"</channel></rss>\n"


class Server:
    def __init__(self, feeds: int, latency: float) -> None:
        self.feeds = feeds
        self.latency = latency
        self.stats = {"200": 0, "304": 0}
        self.cache: dict[int, bytes] = {}

    def body(self, feed: int) -> bytes:
        # Kept for the few feeds in flight only: 1,000 bodies would cost 150 MB here.
        found = self.cache.get(feed)
        if found is None:
            if len(self.cache) > 256:
                self.cache.clear()
            found = self.cache[feed] = feed_body(feed)
        return found

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                lines = head.decode("latin-1").split("\r\n")
                target = lines[0].split(" ")[1]
                headers = {}
                for line in lines[1:]:
                    name, _, value = line.partition(":")
                    headers[name.strip().lower()] = value.strip()
                status, extra, body = await self.answer(target, headers)
                reply = [f"HTTP/1.1 {status}", f"Content-Length: {len(body)}", *extra]
                writer.write(("\r\n".join(reply) + "\r\n\r\n").encode() + body)
                await writer.drain()
                if headers.get("connection", "").lower() == "close":
                    break
        except (asyncio.IncompleteReadError, ConnectionError, IndexError):
            pass
        finally:
            writer.close()

    async def answer(self, target: str, headers: dict[str, str]) -> tuple[str, list[str], bytes]:
        parts = urlsplit(target)
        if parts.path == "/_stats":
            return "200 OK", ["Content-Type: application/json"], json.dumps(self.stats).encode()
        if parts.path == "/_reset":
            self.stats = {"200": 0, "304": 0}
            return "200 OK", [], b"ok"
        if parts.path == "/_latency":
            self.latency = float(parse_qs(parts.query)["s"][0])
            return "200 OK", [], b"ok"
        name = parts.path.removeprefix("/feed/").removesuffix(".xml")
        if not name.isdigit() or int(name) >= self.feeds:
            return "404 Not Found", [], b"no such feed\n"
        feed = int(name)
        await asyncio.sleep(self.latency)
        etag = f'"bench-{feed}-v1"'
        validators = [f"ETag: {etag}", f"Last-Modified: {LAST_MODIFIED}"]
        match = headers.get("if-none-match")
        if (match is not None and etag in match) or (
            match is None and headers.get("if-modified-since") == LAST_MODIFIED
        ):
            self.stats["304"] += 1
            return "304 Not Modified", validators, b""
        self.stats["200"] += 1
        kind = "Content-Type: application/rss+xml; charset=utf-8"
        return "200 OK", [kind, *validators], self.body(feed)


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--feeds", type=int, default=300)
    parser.add_argument("--hosts", type=int, default=30)
    parser.add_argument("--latency", type=float, default=0.05)
    args = parser.parse_args()
    server = Server(args.feeds, args.latency)
    ports = {}
    servers = []
    for n in range(1, args.hosts + 1):
        host = f"127.0.0.{n}"
        srv = await asyncio.start_server(server.handle, host, 0, backlog=512)
        ports[host] = srv.sockets[0].getsockname()[1]
        servers.append(srv)
    print(json.dumps({"hosts": ports}), flush=True)
    loop = asyncio.get_running_loop()
    await loop.run_in_executor(None, sys.stdin.read)  # until the benchmark closes stdin


if __name__ == "__main__":
    asyncio.run(main())
