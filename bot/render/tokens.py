"""Per-recipient substitution tokens of a rendered email.

What it does: names the per-recipient parts (`SUBSTITUTIONS`), spells the literal
token each becomes in rendered output (`token`), fills tokens with one recipient's
values (`fill`), and defuses token look-alikes in untrusted text (`neutralise`), so
a story cannot smuggle an unsubscribe link or another reader's address into a send.
What it does not do: choose the values (the sender builds the unsubscribe and
preferences URLs) or know anything about HTML beyond escaping a filled value.

A token is ``-roundup.NAME-``: only URL-unreserved characters (letters, ``-``,
``.``, ``_``), so it passes through CSS inlining, HTML escaping and percent-encoding
unchanged and can stand as a whole ``href`` value. SendGrid v3 substitutions take
the same literal strings as keys.
"""

from __future__ import annotations

import html
import re
from collections.abc import Mapping

from bot.errors import SendError

SUBSTITUTIONS: tuple[str, ...] = ("unsubscribe_url", "preferences_url", "email")

_KNOWN = frozenset(SUBSTITUTIONS)
_PREFIX = "-roundup."
# Any token-shaped text, known name or not: fill() must see every one of ours, and
# story text must not be able to produce one.
_TOKEN = re.compile(r"-roundup\.([a-z_]+)-")
# U+2010 HYPHEN looks like "-" to a reader but is not the token's ASCII hyphen.
_DEFUSED_PREFIX = "\u2010roundup."


def token(name: str) -> str:
    """The literal token that stands for substitution `name` in rendered output."""
    if name not in SUBSTITUTIONS:
        raise ValueError(f"unknown substitution {name!r} (known: {', '.join(SUBSTITUTIONS)})")
    return f"{_PREFIX}{name}-"


def tokens() -> dict[str, str]:
    """Every substitution name with its token (what the templates receive)."""
    return {name: token(name) for name in SUBSTITUTIONS}


def neutralise(text: str) -> str:
    """Untrusted text with every token look-alike defused (it reads the same)."""
    return text.replace(_PREFIX, _DEFUSED_PREFIX) if _PREFIX in text else text


def fill(rendered_text: str, values: Mapping[str, str], *, html_escape: bool = False) -> str:
    """Replace each token in `rendered_text` with the recipient's value.

    One pass, so a value that itself looks like a token is never expanded again.
    `html_escape=True` escapes the values for an HTML body (an address with ``&``).
    Raises `SendError` when the text holds a token that `values` does not fill.
    """
    unknown = set(values) - set(SUBSTITUTIONS)
    if unknown:
        raise ValueError(f"unknown substitution(s): {', '.join(sorted(unknown))}")

    def value(match: re.Match[str]) -> str:
        name = match.group(1)
        if name not in values:
            raise SendError(
                f"the rendered email needs a value for {name!r} "
                f"(token {match.group(0)}) and the sender gave none"
            )
        filled = values[name]
        return html.escape(filled, quote=True) if html_escape else filled

    return _TOKEN.sub(value, rendered_text)


class Filler:
    """`fill` for one text and many recipients: the text is split at its tokens
    once, so each recipient costs a join (a send fills headers per recipient)."""

    def __init__(self, rendered_text: str) -> None:
        self.parts = _TOKEN.split(rendered_text)  # text, name, text, name, ..., text
        self.names = frozenset(self.parts[1::2])

    def fill(self, values: Mapping[str, str]) -> str:
        """What `fill(rendered_text, values)` gives (no HTML escaping)."""
        if not (values.keys() <= _KNOWN and self.names <= values.keys()):
            return fill("".join(self._spelled()), values)  # raises, saying what is wrong
        if len(self.parts) == 1:
            return self.parts[0]
        parts = self.parts[:]
        parts[1::2] = [values[name] for name in parts[1::2]]
        return "".join(parts)

    def _spelled(self) -> list[str]:
        return [f"{_PREFIX}{p}-" if n % 2 else p for n, p in enumerate(self.parts)]


def find_tokens(rendered_text: str) -> list[str]:
    """The substitution names whose tokens appear in `rendered_text`, in order."""
    return [m.group(1) for m in _TOKEN.finditer(rendered_text)]
