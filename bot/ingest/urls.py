"""Story URLs: resolve a feed's links and reduce them to one canonical form.

What it does: `canonical_url` lower-cases scheme and host, drops the default port
and the fragment, and removes tracking parameters (utm_*, fbclid, gclid, mc_cid...)
while keeping every other query parameter byte for byte and in order, so the store
can tell that two feeds (or two polls) carry the same story. `resolve_link` turns a
feed's possibly relative link into an absolute http(s) URL.
What it does not do: fetch anything, follow redirects, or guess at a site's own URL
rules (trailing slashes, www. prefixes, case in paths are left as the feed gave them:
servers differ on whether they matter).
"""

from __future__ import annotations

from urllib.parse import unquote_plus, urljoin, urlsplit, urlunsplit

# Parameters that only tell the linking site who clicked where. Matched
# case-insensitively on the parameter name.
TRACKING_PARAMS = frozenset(
    {
        "fbclid",
        "gclid",
        "gclsrc",
        "dclid",
        "gbraid",
        "wbraid",
        "msclkid",
        "yclid",
        "twclid",
        "ttclid",
        "igshid",
        "li_fat_id",
        "mc_cid",
        "mc_eid",
        "_hsenc",
        "_hsmi",
        "__hssc",
        "__hstc",
        "__hsfp",
        "hsctatracking",
        "mkt_tok",
        "oly_anon_id",
        "oly_enc_id",
        "vero_id",
        "vero_conv",
        "rb_clickid",
        "s_cid",
        "cmpid",
        "ncid",
        "sr_share",
        "at_medium",
        "at_campaign",
        "at_custom1",
        "at_custom2",
        "at_custom3",
        "at_custom4",
        "at_link",
        "at_ptr_name",
        "at_format",
    }
)
TRACKING_PREFIXES = ("utm_",)

_DEFAULT_PORTS = {"http": 80, "https": 443}
WEB_SCHEMES = frozenset(_DEFAULT_PORTS)


def is_tracking_param(name: str) -> bool:
    lowered = name.casefold()
    return lowered in TRACKING_PARAMS or lowered.startswith(TRACKING_PREFIXES)


def canonical_url(url: str) -> str:
    """The URL of a story in one canonical form (see the module docstring).

    Input that is not an absolute http(s) URL comes back stripped of surrounding
    whitespace and otherwise unchanged: there is nothing safe to normalise.
    """
    url = url.strip()
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:  # a bad port or IPv6 literal: leave it to the caller to reject
        return url
    scheme = parts.scheme.lower()
    if scheme not in WEB_SCHEMES or not parts.hostname:
        return url
    host = parts.hostname.lower().rstrip(".")
    if ":" in host:  # an IPv6 literal keeps its brackets
        host = f"[{host}]"
    userinfo = parts.netloc.rpartition("@")[0]
    netloc = f"{userinfo}@{host}" if userinfo else host
    if port is not None and port != _DEFAULT_PORTS[scheme]:
        netloc = f"{netloc}:{port}"
    return urlunsplit((scheme, netloc, parts.path or "/", _strip_tracking(parts.query), ""))


def _strip_tracking(query: str) -> str:
    # Filter the raw "k=v" segments rather than re-encoding the parsed query: the
    # parameters that stay must keep their exact bytes (%20 vs +, ordering, blanks).
    kept = [
        segment
        for segment in query.split("&")
        if segment and not is_tracking_param(unquote_plus(segment.partition("=")[0]))
    ]
    return "&".join(kept)


def resolve_link(link: str | None, base: str) -> str:
    """`link` made absolute against `base`; "" unless the result is an http(s) URL."""
    if not link or not link.strip():
        return ""
    try:
        absolute = urljoin(base, link.strip())
        parts = urlsplit(absolute)
    except ValueError:
        return ""
    if parts.scheme.lower() not in WEB_SCHEMES or not parts.netloc:
        return ""
    return absolute
