"""Checking what a person or a file says about a subscriber: email, name, regions, status.

What it does: normalises an email address (trimmed, domain lower-cased and in its
ASCII form, local part kept as given) with email-validator, without any DNS
lookup, refusing display names, several addresses and anything else that is not one
plain address; checks a name; turns a region choice ("Europe; Asia-Pacific") into
the config's region names; reads a status cell.
What it does not do: touch the store or the network; callers decide what to do
with what is refused.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from email_validator import EmailNotValidError, validate_email

from bot.errors import UsageError
from bot.types import SubscriberStatus

MAX_EMAIL_LENGTH = 254  # RFC 5321's limit on a forward path
MAX_NAME_LENGTH = 200
REGION_SEPARATORS = re.compile(r"[;|]")
# A spreadsheet runs a cell that starts with one of these as a formula; the export
# prefixes such cells with an apostrophe and the import takes it off again.
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


class InvalidEmail(UsageError):
    """Not one plain email address; the message says why."""


class InvalidValue(UsageError):
    """A name, region or status that cannot be used; the message says why."""


def normalise_email(raw: str) -> str:
    """One plain address, normalised: ``" Ann@Example.ORG "`` -> ``"Ann@example.org"``.

    Raises `InvalidEmail` (a `UsageError`, exit 2) with a reason a person can act on.
    """
    text = raw.strip()
    if not text:
        raise InvalidEmail("the email address is empty")
    if len(text) > MAX_EMAIL_LENGTH:
        raise InvalidEmail(f"the email address is longer than {MAX_EMAIL_LENGTH} characters")
    if "<" in text or ">" in text:
        raise InvalidEmail("give the address alone, without a name or angle brackets")
    if text.count("@") > 1 or "," in text or ";" in text:
        raise InvalidEmail("give one email address, not several")
    try:
        # No SMTPUTF8: SendGrid and many mailboxes cannot take a non-ASCII local part.
        result = validate_email(text, check_deliverability=False, allow_smtputf8=False)
    except EmailNotValidError as exc:
        raise InvalidEmail(f"{text!r} is not a valid email address: {exc}") from None
    return f"{result.local_part}@{result.ascii_domain.lower()}"


def check_name(raw: str) -> str | None:
    """A trimmed name, None when empty; refuses control characters and long names."""
    name = " ".join(raw.split())
    if not name:
        return None
    if len(name) > MAX_NAME_LENGTH:
        raise InvalidValue(f"the name is longer than {MAX_NAME_LENGTH} characters")
    if any(ord(ch) < 32 or ord(ch) == 127 for ch in name):
        raise InvalidValue("the name holds control characters")
    return name


def parse_regions(raw: str, known: Sequence[str]) -> tuple[str, ...] | None:
    """The regions a cell names, spelled as in the config; None when the cell is empty.

    Names are separated by ``;`` or ``|`` and matched without regard to case.
    Raises `InvalidValue` naming the unknown ones and the known ones.
    """
    by_key = {name.casefold(): name for name in known}
    wanted = [part.strip() for part in REGION_SEPARATORS.split(raw)]
    wanted = [part for part in wanted if part]
    if not wanted:
        return None
    unknown = [part for part in wanted if part.casefold() not in by_key]
    if unknown:
        raise InvalidValue(
            f"unknown region{'s' if len(unknown) > 1 else ''} "
            f"{', '.join(repr(u[:60]) for u in unknown[:5])} (known: {', '.join(known)})"
        )
    return tuple(dict.fromkeys(by_key[part.casefold()] for part in wanted))


def parse_status(raw: str) -> SubscriberStatus | None:
    """A status cell: empty is None (the import decides), else one of the statuses."""
    text = raw.strip().lower()
    if not text:
        return None
    try:
        return SubscriberStatus(text)
    except ValueError:
        allowed = ", ".join(s.value for s in SubscriberStatus)
        raise InvalidValue(f"unknown status {raw.strip()[:40]!r} (use one of: {allowed})") from None


def defuse_cell(value: str) -> str:
    """`value` safe to open in a spreadsheet: a formula-like start gets an apostrophe."""
    return "'" + value if value.startswith(FORMULA_START) else value


def undefuse_cell(value: str) -> str:
    """The inverse of `defuse_cell`, for cells read back from an export."""
    if value.startswith("'") and value[1:].startswith(FORMULA_START):
        return value[1:]
    return value
