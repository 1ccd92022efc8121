"""Links in the round-up: which URLs may be linked, and their UTM parameters.

What it does: accepts only http(s) URLs of bounded length for story links and
images (`safe_url`), adds the newsletter's UTM parameters to a link without
disturbing its existing query or fragment (`add_utm`), and builds the
"view in browser" address of an edition (`edition_url`).
What it does not do: fetch, canonicalise or de-track URLs (ingest does that).
"""

from __future__ import annotations

from urllib.parse import parse_qsl, quote, urlencode, urlsplit

from bot.config import NewsletterConfig, Utm

MAX_URL_LENGTH = 2048  # longer links are dropped: no story needs one, some clients cut them
_SCHEMES = frozenset({"http", "https"})


def safe_url(url: str | None) -> str | None:
    """`url` if it is an absolute http(s) URL of sane length, else None.

    Anything else (``javascript:``, ``data:``, relative, control characters) is not
    linked at all: the headline then renders as plain text.
    """
    if not url:
        return None
    url = url.strip()
    if len(url) > MAX_URL_LENGTH or any(ord(c) < 0x21 or c in '"<>\\`' for c in url):
        return None
    try:
        parts = urlsplit(url)
    except ValueError:  # e.g. an invalid IPv6 host
        return None
    if parts.scheme.lower() not in _SCHEMES or not parts.hostname:
        return None
    return url


def add_utm(url: str, utm: Utm, edition_key: str) -> str:
    """`url` with utm_source/utm_medium/utm_campaign appended.

    The existing query is kept byte for byte and the new parameters go after it;
    a utm_* parameter the link already carries is left as it is. ``{edition}`` in
    the campaign becomes `edition_key`. Non-http(s) URLs come back unchanged.
    """
    try:
        parts = urlsplit(url)
    except ValueError:
        return url
    if parts.scheme.lower() not in _SCHEMES:
        return url
    present = {name.lower() for name, _ in parse_qsl(parts.query, keep_blank_values=True)}
    wanted = (
        ("utm_source", utm.source),
        ("utm_medium", utm.medium),
        ("utm_campaign", utm.campaign.replace("{edition}", edition_key)),
    )
    extra = [(name, value) for name, value in wanted if value and name not in present]
    if not extra:
        return url
    added = urlencode(extra, quote_via=quote)
    # Splice by hand rather than re-joining the parts: the link stays byte for byte
    # as it was, scheme case and query encoding included, with the new pairs after.
    base, hash_, fragment = url.partition("#")
    sep = "" if base.endswith(("?", "&")) else "&" if "?" in base else "?"
    return f"{base}{sep}{added}{hash_}{fragment}"


def edition_url(newsletter: NewsletterConfig, edition_key: str) -> str:
    """Where the edition can be read on the web ("View this email in your browser")."""
    if newsletter.base_url is None:
        return newsletter.site_url
    return f"{newsletter.base_url.rstrip('/')}/editions/{quote(edition_key, safe='')}"
