"""Screenshots of the round-up in headless Chromium, at desktop and phone widths.

The fixture edition is rendered with its images and logo served from a loopback
server, then shot at 600px and 375px (and 375px in dark mode) into
``var/screenshots/``. The assertions check what a reader would notice: a real
picture of the right width, no sideways scrolling on a phone, every image loaded,
dark mode applied.
"""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Iterator
from dataclasses import replace
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from playwright.sync_api import Browser

from bot.config import Config
from bot.render import Rendered, fill, render_edition
from tests.browser import (
    distinct_colours,
    launch,
    loopback_page,
    png_size,
    screenshot_html,
)
from tests.render_editions import fixture_config, fixture_edition

ROOT = Path(__file__).resolve().parent.parent
SHOTS = ROOT / "var" / "screenshots"

pytestmark = pytest.mark.browser


def _photo(name: str) -> bytes:
    """A stand-in photograph: a dusk sky over two ridges, tinted by `name`."""
    h = hashlib.sha256(name.encode()).digest()
    hue = h[0] * 360 // 256
    parts = [
        '<svg xmlns="http://www.w3.org/2000/svg" width="1200" height="800">',
        '<defs><linearGradient id="sky" x1="0" y1="0" x2="0" y2="1">',
        f'<stop offset="0" stop-color="hsl({hue},45%,32%)"/>',
        f'<stop offset="1" stop-color="hsl({(hue + 40) % 360},60%,78%)"/>',
        "</linearGradient></defs>",
        '<rect width="1200" height="800" fill="url(#sky)"/>',
        f'<circle cx="{300 + h[1] * 3}" cy="260" r="70" fill="hsl(45,90%,85%)"/>',
        '<path d="M0 560 L220 430 L430 520 L640 380 L900 500 L1200 410 L1200 800 L0 800 Z"'
        f' fill="hsl({hue},25%,28%)"/>',
        '<path d="M0 660 L260 560 L520 640 L780 570 L1200 650 L1200 800 L0 800 Z"'
        f' fill="hsl({hue},20%,16%)"/>',
        "</svg>",
    ]
    return "".join(parts).encode()


# Dark ink on a transparent background: the masthead must keep it on a light plate.
_LOGO = (
    b'<svg xmlns="http://www.w3.org/2000/svg" width="220" height="44">'
    b'<text x="110" y="28" text-anchor="middle" font-family="Georgia, serif" font-size="15"'
    b' font-weight="bold" textLength="204" lengthAdjust="spacingAndGlyphs" fill="#1a1a1a">'
    b"RESPONSIBLE STATECRAFT</text></svg>"
)


@pytest.fixture(scope="module")
def image_server() -> Iterator[str]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            body = _LOGO if self.path == "/logo.svg" else _photo(self.path)
            self.send_response(200)
            self.send_header("Content-Type", "image/svg+xml")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with launch() as b:
        yield b


def _local_config(base: str) -> Config:
    config = fixture_config()
    brand = config.newsletter.brand.model_copy(update={"logo_url": f"{base}/logo.svg"})
    newsletter = config.newsletter.model_copy(update={"brand": brand})
    return config.model_copy(update={"newsletter": newsletter})


@pytest.fixture(scope="module")
def demo(image_server: str) -> Rendered:
    edition, items = fixture_edition()
    local = {
        key: replace(s, item=replace(s.item, image_url=f"{image_server}/img/{key}.svg"))
        if s.item.image_url
        else s
        for key, s in items.items()
    }
    rendered = render_edition(edition, local, _local_config(image_server))
    # What one subscriber would receive: tokens filled as the sender fills them.
    values = {
        "email": "reader@example.org",
        "preferences_url": "https://newsletter.responsiblestatecraft.org/preferences/t0k3n",
        "unsubscribe_url": "https://newsletter.responsiblestatecraft.org/unsubscribe/t0k3n",
    }
    return replace(rendered, html=fill(rendered.html, values, html_escape=True))


@pytest.mark.parametrize("width", [600, 375])
def test_screenshot_is_a_real_picture(browser: Browser, demo: Rendered, width: int) -> None:
    png = screenshot_html(browser, demo.html, SHOTS / f"roundup-{width}.png", width)
    shot_width, shot_height = png_size(png)
    assert shot_width == width
    assert shot_height > 2000  # six stories with photos, not a blank strip
    assert distinct_colours(browser, png) > 500  # text, photos, accent: not blank


@pytest.mark.parametrize("width", [600, 375])
def test_layout_fits_the_width_and_loads_every_image(
    browser: Browser, demo: Rendered, width: int
) -> None:
    with loopback_page(browser, width) as page:
        page.set_content(demo.html, wait_until="load")
        assert page.evaluate("document.documentElement.scrollWidth") <= width
        broken = page.evaluate(
            "[...document.images].filter(i => !i.complete || i.naturalWidth === 0).length"
        )
        assert broken == 0
        widths = page.evaluate("[...document.querySelectorAll('img.photo')].map(i => i.width)")
        assert len(widths) == 4
        assert all(w <= width - 40 for w in widths)


def test_dark_mode_applies_and_keeps_the_logo_on_a_light_plate(
    browser: Browser, demo: Rendered
) -> None:
    png = screenshot_html(
        browser, demo.html, SHOTS / "roundup-375-dark.png", 375, color_scheme="dark"
    )
    assert png_size(png)[0] == 375
    with loopback_page(browser, 375, color_scheme="dark") as page:
        page.set_content(demo.html, wait_until="load")

        def computed(selector: str, prop: str) -> str:
            value: str = page.eval_on_selector(
                selector, "(el, prop) => getComputedStyle(el)[prop]", prop
            )
            return value

        assert computed(".card", "backgroundColor") == "rgb(30, 30, 30)"
        assert computed(".lede", "color") == "rgb(236, 236, 236)"
        assert computed(".plate", "backgroundColor") == "rgb(255, 255, 255)"
