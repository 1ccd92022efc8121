"""Headless Chromium for tests, through Playwright: find it, launch it, screenshot.

`find_chromium()` looks for the system's Chromium (never a browser Playwright
downloads); `launch()` starts it headless; `loopback_page()` opens a page that can
reach nothing but 127.0.0.1; `screenshot_html()` renders a document at a given
width and saves a full-page PNG. Without a browser, `require_chromium()` skips the
test with the reason, or fails it when ``ROUNDUP_REQUIRE_BROWSER=1``.
"""

from __future__ import annotations

import base64
import os
import shutil
import struct
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Literal
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import Browser, Page, Route, sync_playwright

CANDIDATES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
LAUNCH_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
]
REQUIRE_ENV = "ROUNDUP_REQUIRE_BROWSER"
_LOOPBACK = {"127.0.0.1", "localhost", "::1"}
ColorScheme = Literal["light", "dark"]


def find_chromium() -> str | None:
    """The path of a system Chromium or Chrome, or None."""
    if os.access("/usr/bin/chromium", os.X_OK):
        return "/usr/bin/chromium"
    for name in CANDIDATES:
        found = shutil.which(name)
        if found:
            return found
    return None


def require_chromium() -> str:
    """The browser's path; skips (or fails, if required) the test without one."""
    found = find_chromium()
    if found is None:
        reason = (
            "no Chromium found (/usr/bin/chromium, or chromium, chromium-browser, "
            "google-chrome on PATH); install Debian's `chromium` package"
        )
        if os.environ.get(REQUIRE_ENV, "") not in ("", "0", "false", "no"):
            pytest.fail(f"{reason} ({REQUIRE_ENV}=1 makes this a failure)")
        pytest.skip(reason)
    return found


@contextmanager
def launch() -> Iterator[Browser]:
    """A headless Chromium, closed on exit."""
    executable = require_chromium()
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=executable, args=LAUNCH_ARGS)
        try:
            yield browser
        finally:
            browser.close()


def _loopback_only(route: Route) -> None:
    url = route.request.url
    parts = urlsplit(url)
    if parts.scheme in ("data", "about", "blob") or parts.hostname in _LOOPBACK:
        route.continue_()
    else:
        route.abort()  # tests never reach beyond this machine


@contextmanager
def loopback_page(
    browser: Browser, width: int, height: int = 800, color_scheme: ColorScheme = "light"
) -> Iterator[Page]:
    """A page `width` CSS pixels wide (scale 1) whose requests stay on 127.0.0.1."""
    context = browser.new_context(
        viewport={"width": width, "height": height},
        device_scale_factor=1,
        color_scheme=color_scheme,
    )
    try:
        context.route("**/*", _loopback_only)
        yield context.new_page()
    finally:
        context.close()


def screenshot_html(
    browser: Browser, html: str, path: Path, width: int, color_scheme: ColorScheme = "light"
) -> bytes:
    """Render `html` at `width`, save a full-page PNG to `path`, return its bytes."""
    with loopback_page(browser, width, color_scheme=color_scheme) as page:
        page.set_content(html, wait_until="load")
        png = page.screenshot(full_page=True)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(png)
    return png


def png_size(data: bytes) -> tuple[int, int]:
    """(width, height) of a PNG, from its IHDR chunk; ValueError if not a PNG."""
    if data[:8] != b"\x89PNG\r\n\x1a\n" or data[12:16] != b"IHDR":
        raise ValueError("not a PNG")
    width, height = struct.unpack(">II", data[16:24])
    return width, height


def distinct_colours(browser: Browser, png: bytes) -> int:
    """How many distinct RGB colours a PNG holds (decoded by the browser)."""
    src = "data:image/png;base64," + base64.b64encode(png).decode("ascii")
    with loopback_page(browser, 100, 100) as page:
        count: int = page.evaluate(
            """async (src) => {
                const img = new Image();
                img.src = src;
                await img.decode();
                const canvas = document.createElement("canvas");
                canvas.width = img.width;
                canvas.height = img.height;
                const ctx = canvas.getContext("2d");
                ctx.drawImage(img, 0, 0);
                const data = ctx.getImageData(0, 0, img.width, img.height).data;
                const seen = new Set();
                for (let i = 0; i < data.length; i += 4) {
                    seen.add((data[i] << 16) | (data[i + 1] << 8) | data[i + 2]);
                }
                return seen.size;
            }""",
            src,
        )
    return count
