"""URL rules: patterns and the paths of an item's URLs they are matched against.

A url pattern is a path fragment, matched as a case-insensitive SUBSTRING of the
item URL's percent-decoded, folded path (a trailing "/" is added to the path so
"/europe/" matches ".../europe"); ``*`` matches within one path segment. A
substring rather than an anchored glob because sites nest sections under
prefixes ("/world/europe/", "/2025/11/middle-east/..."). Paths are cut to a fixed
size first, so no URL decides how long matching takes.

What it does not do: decide regions (see `bot.classify.classifier`), or fold
text (see `bot.classify.text`).
"""

from __future__ import annotations

import re
from urllib.parse import unquote, urlsplit

from bot.classify.text import MAX_PATH_CHARS, MAX_URL_CHARS, Folded, fold


def url_problem(pattern: str) -> str | None:
    """Why a url pattern can never match, or None."""
    folded = fold(pattern).strip()
    if not folded.startswith("/") or "://" in folded or any(c.isspace() for c in folded):
        return 'is not a path (write a path fragment such as "/middle-east/")'
    if not folded.strip("/*"):
        return 'has no path to look for (only "/" and "*")'
    if any(segment.count("*") > 1 for segment in folded.split("/")):
        # "*a*" makes the regex engine try every split of a long segment
        return 'has more than one "*" in a path segment'
    return None


def url_pattern(pattern: str) -> str | None:
    """The regex of one url pattern; None if it can never match (see `url_problem`)."""
    if url_problem(pattern) is not None:
        return None
    return "".join("[^/]*" if c == "*" else re.escape(c) for c in fold(pattern).strip())


def url_alternation(bodies: list[str]) -> re.Pattern[str]:
    """One regex for a region's url patterns (a handful: no trie needed)."""
    ordered = sorted(dict.fromkeys(bodies), key=lambda b: (-len(b), b))
    return re.compile("|".join(ordered) or "(?!)")


# The path of an ordinary absolute URL, without the cost of urlsplit.
_SIMPLE_URL = re.compile(r"^[A-Za-z][A-Za-z0-9+.\-]*://[^/?#\[\]]*(/[^?#]*)?(?:[?#]|$)")


def _path_of(url: str) -> str | None:
    m = _SIMPLE_URL.match(url)
    if m is not None:
        path = m.group(1) or ""
    else:
        try:
            path = urlsplit(url).path
        except ValueError:
            return None  # not a URL (a bad IPv6 host, say): no path to match
    return unquote(path, errors="replace") if "%" in path else path


def url_paths(*urls: str) -> list[Folded]:
    """The decoded, folded paths of the given URLs, each ending in "/" (a path
    several URLs share, once)."""
    paths: list[str] = []
    heads: set[str] = set()
    for url in dict.fromkeys(urls):
        if url and isinstance(url, str):
            # A URL that differs from one already read only in its query or
            # fragment (a link and its canonical form, say) has the same path.
            head = url[:MAX_URL_CHARS].partition("#")[0].partition("?")[0]
            if head in heads:
                continue
            heads.add(head)
        path = _normal_path(url)
        if path is not None and path not in paths:
            paths.append(path)
    return [Folded(path) for path in paths]


def _normal_path(url: str) -> str | None:
    if not url or not isinstance(url, str):
        return None
    path = _path_of(url[:MAX_URL_CHARS])  # slices are `clip`, without a call
    if path is None:
        return None
    if not path.startswith("/"):
        path = "/" + path
    path = path[:MAX_PATH_CHARS]
    return path if path.endswith("/") else path + "/"
