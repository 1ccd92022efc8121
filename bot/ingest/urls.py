"""Story URLs: resolve a feed's links and reduce them to one canonical form.

What it does: `canonical_url` lower-cases scheme and host, drops the default port
and the fragment, and removes tracking parameters (utm_*, fbclid, gclid, mc_cid...)
while keeping every other query parameter byte for byte and in order, so the store
can tell that two feeds (or two polls) carry the same story. `resolve_link` turns a
feed's possibly relative link into an absolute http(s) URL, and `clean_url` is the
gate every URL we store passes (story links, images, a feed's new address): absolute
http(s), a host name (non-ASCII ones in IDNA form), no whitespace, control
characters, double quotes, angle brackets, backticks or backslashes, and
percent-encoded in one canonical way (escapes in upper case, unreserved characters
unescaped, everything else outside RFC 3986 escaped as UTF-8). A URL that fails is
dropped with `UrlDropped`, whose message says why.
What it does not do: fetch anything, follow redirects, or guess at a site's own URL
rules (trailing slashes, www. prefixes, case in paths are left as the feed gave them:
servers differ on whether they matter).
"""

from __future__ import annotations

import functools
import re
from urllib.parse import quote, unquote_plus, urljoin, urlsplit, urlunsplit

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


# RFC 3986 section 2: what may stand unescaped in each part of a URL ("%" is handled
# on its own: a valid escape stays, a stray one is escaped).
_UNRESERVED = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~")
_SUB_DELIMS = "!$&'()*+,;=:@"
_SAFE = {"userinfo": _SUB_DELIMS.replace("@", ""), "path": _SUB_DELIMS + "/"}
_SAFE["query"] = _SAFE["fragment"] = _SAFE["path"] + "?"
# Never part of a URL, and what turns a URL into markup or a second URL when it is
# pasted into HTML or a header: such a "URL" is refused, not repaired.
_REFUSED = re.compile(r'[\s"<>\\`\x00-\x1f\x7f]')
_ESCAPE = re.compile(r"%([0-9A-Fa-f]{2})")
_HOST = re.compile(r"^[a-z0-9_](?:[a-z0-9_.-]*[a-z0-9_])?$")
MAX_URL_CHARS = 2048

# A URL that `clean_url` (and `urljoin` with any base) gives back unchanged: lower-case
# http(s), a plain host name, no port or userinfo, a path, and only characters each
# part may hold unescaped (or upper-case escapes; `_already_clean` checks that none
# stands for an unreserved character). No ";" in the path (urljoin drops an empty
# ";params"), no "'" (escaped as %27), no empty "?" or "#" (urlunsplit drops them).
# Most feed links look like this, and matching it costs a fraction of splitting,
# joining and re-encoding them.
_CHARS = r"A-Za-z0-9\-._~!$&()*+,=:@/"
_CLEAN = re.compile(
    rf"(?P<scheme>https?)://(?P<host>[A-Za-z0-9_.\-]++)"
    rf"(?P<path>/(?:[{_CHARS}]++|%[0-9A-F]{{2}})*+)"
    rf"(?:\?(?P<query>(?:[{_CHARS};?]++|%[0-9A-F]{{2}})++))?+"
    rf"(?:#(?:[{_CHARS};?]++|%[0-9A-F]{{2}})++)?+"
)


class UrlDropped(ValueError):
    """A URL that must not be stored; the message says why."""


def is_tracking_param(name: str) -> bool:
    lowered = name.casefold()
    return lowered in TRACKING_PARAMS or lowered.startswith(TRACKING_PREFIXES)


def canonical_url(url: str) -> str:
    """The URL of a story in one canonical form (see the module docstring).

    Input that is not an absolute http(s) URL comes back stripped of surrounding
    whitespace and otherwise unchanged: there is nothing safe to normalise.
    """
    url = url.strip()
    clean = _already_clean(url)
    if clean:  # the parts `_canonical` would find, without splitting again
        host = clean["host"].lower().rstrip(".")
        query = _strip_tracking(clean["query"] or "")
        head = f"{clean['scheme']}://{host}{clean['path']}"
        return f"{head}?{query}" if query else head
    return _canonical(url)


def _canonical(url: str) -> str:
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
    """`link` made absolute against `base` and cleaned (`clean_url`); "" when there is
    no link at all, `UrlDropped` when there is one that must not be stored."""
    if not link or not link.strip():
        return ""
    link = link.strip()
    if _base_splits(base) and _already_clean(link):
        return link  # what `_resolve` would make of it
    return _resolve(link, base)


def _resolve(link: str, base: str) -> str:
    try:
        absolute = urljoin(base, link)
    except ValueError as exc:
        raise UrlDropped(f"not a valid URL ({exc})") from None
    return clean_url(absolute)


def dropped(what: str, url: str, exc: UrlDropped) -> str:
    """The warning for a URL not stored: what it was, why, and (bounded) what it said."""
    shown = url if len(url) <= 200 else url[:199] + "…"
    return f"{what} dropped ({exc}): {shown!r}"


def clean_url(url: str) -> str:
    """`url` in canonical percent-encoding, or `UrlDropped` (see the module docstring).

    The apostrophe, legal in a URL but a quote in HTML, is escaped as %27.
    """
    if _already_clean(url):
        return url
    return _clean(url)


def _clean(url: str) -> str:
    if len(url) > MAX_URL_CHARS:
        raise UrlDropped(f"longer than {MAX_URL_CHARS} characters")
    bad = _REFUSED.search(url)
    if bad:
        raise UrlDropped(f"contains {_name(bad.group())}")
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise UrlDropped(f"not a valid URL ({exc})") from None
    if parts.scheme.lower() not in WEB_SCHEMES:
        raise UrlDropped("not an absolute http(s) URL")
    netloc = _netloc(parts.netloc, port)
    return urlunsplit(
        (
            parts.scheme,
            netloc,
            _encode(parts.path, "path") or "/",
            _encode(parts.query, "query"),
            _encode(parts.fragment, "fragment"),
        )
    )


def _already_clean(url: str) -> re.Match[str] | None:
    """The parts of `url` when `clean_url` would return it unchanged, else None
    (which says nothing: the slow path decides)."""
    match = _CLEAN.fullmatch(url)
    if match is None or len(url) > MAX_URL_CHARS:
        return None
    if not _HOST.match(match["host"].lower().rstrip(".")):
        return None
    if "%" in url and any(chr(int(m[1], 16)) in _UNRESERVED for m in _ESCAPE.finditer(url)):
        return None  # `_encode` would decode this escape
    return match


def _base_splits(base: str) -> bool:
    # urljoin splits the base even when the link is absolute, and a base it cannot
    # split makes it fail: only a base that splits lets an absolute link skip
    # urljoin. urlsplit refuses only brackets (IPv6 literals) and non-ASCII host
    # names it cannot normalise; each entry's own URL is the base of its image.
    return (base.isascii() and "[" not in base and "]" not in base) or _splits(base)


@functools.lru_cache(maxsize=256)
def _splits(base: str) -> bool:
    try:
        urlsplit(base)
    except ValueError:
        return False
    return True


def _name(char: str) -> str:
    if char.isspace():
        return "whitespace"
    if char in '"<>`':
        return f"the character {char}"
    return "a backslash" if char == "\\" else "a control character"


def _netloc(netloc: str, port: int | None) -> str:
    # The host keeps the case it was written in (that is `canonical_url`'s business);
    # only a non-ASCII host is turned into its ASCII (IDNA) form.
    userinfo, at, hostport = netloc.rpartition("@")
    if hostport.startswith("["):  # an IPv6 literal, already checked by urlsplit
        host = hostport[: hostport.index("]") + 1]
    else:
        host = _host(hostport.partition(":")[0])
    if not host:
        raise UrlDropped("no host")
    netloc = f"{_encode(userinfo, 'userinfo')}@{host}" if at else host
    return f"{netloc}:{port}" if port is not None else netloc


def _host(host: str) -> str:
    ascii_host = host
    if not host.isascii():
        try:
            ascii_host = host.encode("idna").decode("ascii")
        except UnicodeError:
            raise UrlDropped(f"the host {host[:100]!r} is not a valid domain name") from None
    if ascii_host and not _HOST.match(ascii_host.lower().rstrip(".")):
        raise UrlDropped(f"the host {host[:100]!r} is not a valid domain name")
    return ascii_host


def _encode(text: str, part: str) -> str:
    """`text` with valid escapes in upper case (decoded when they stand for an
    unreserved character) and every other character outside the part's set escaped."""
    out: list[str] = []
    pos = 0
    for match in _ESCAPE.finditer(text):
        out.append(quote(text[pos : match.start()], safe=_SAFE[part]))
        char = chr(int(match.group(1), 16))
        out.append(char if char in _UNRESERVED else f"%{match.group(1).upper()}")
        pos = match.end()
    out.append(quote(text[pos:], safe=_SAFE[part]))
    return "".join(out).replace("'", "%27")
