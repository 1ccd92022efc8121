"""What the desk's pages share: the CSP that lets a page frame its own previews,
public links for previews and the archive, an edition or 404, and running work off
the event loop.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException

from bot import overview
from bot.config import Config
from bot.errors import NotFoundError
from bot.render import fill
from bot.web.security import CSP
from bot.web.state import AppState

T = TypeVar("T")

# The edition page frames its previews (same origin, sandboxed).
FRAMING_CSP = CSP + "; frame-src 'self'"
# A rendered email: inline styles, no script, no plugins, a unique origin.
EMAIL_CSP = (
    "default-src 'none'; style-src 'unsafe-inline'; img-src 'self' https: data:; "
    "base-uri 'none'; form-action 'none'; sandbox allow-popups allow-popups-to-escape-sandbox"
)


async def call(fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    return await run_in_threadpool(fn, *args, **kwargs)


def public_links(config: Config) -> dict[str, str]:
    """Token values of a copy that names no subscriber: links to the public pages."""
    base = str(config.newsletter.base_url or "").rstrip("/")
    return {
        "unsubscribe_url": f"{base}/manage",
        "preferences_url": f"{base}/manage",
        "email": "",
    }


def public_html(config: Config, html: str) -> str:
    return fill(html, public_links(config), html_escape=True)


def public_text(config: Config, text: str) -> str:
    return fill(text, public_links(config))


def edition_view(st: AppState, key: str) -> overview.EditionView:
    """The edition's view; 404 when there is no such edition."""
    try:
        return overview.edition_view(st.ctx, key)
    except NotFoundError as exc:
        raise HTTPException(404, str(exc)) from None
