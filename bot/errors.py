"""The one error hierarchy of roundup.

Every error an operator can act on is a `RoundupError`; its message says what went
wrong and what to do. The CLI maps the classes to exit codes (2 for bad usage or
bad config, 1 for work that ran but failed) and never prints a traceback for them.
This module holds no logic beyond the classes.
"""

from __future__ import annotations


class RoundupError(Exception):
    """Base of every error roundup reports to an operator."""

    exit_code = 1


class UsageError(RoundupError):
    """The command was called wrongly (unknown feed, bad date, bad edition key)."""

    exit_code = 2


class ConfigError(RoundupError):
    """The configuration file is missing or invalid.

    `problems` lists every problem found, each already formatted as
    ``file:line: path: what is wrong``.
    """

    exit_code = 2

    def __init__(self, message: str, problems: tuple[str, ...] = ()) -> None:
        super().__init__(message)
        self.problems = problems

    def __str__(self) -> str:
        if not self.problems:
            return super().__str__()
        return "\n".join([super().__str__(), *(f"  {p}" for p in self.problems)])


class StoreError(RoundupError):
    """The database could not be reached, migrated or written."""


class NotFoundError(RoundupError):
    """A named thing (item, edition, feed, subscriber) does not exist."""

    exit_code = 2


class FeedError(RoundupError):
    """A feed could not be fetched or parsed; the other feeds go on."""


class FetchError(FeedError):
    """Network, HTTP status, size or redirect failure while fetching a feed."""


class ParseError(FeedError):
    """The body fetched is not a feed, or is too malformed to read."""


class EditionError(RoundupError):
    """An edition operation is not allowed in the edition's current state."""


class StaleEditionError(EditionError):
    """The edition changed since the form was loaded: the save is refused."""

    def __init__(self, message: str, current: int) -> None:
        super().__init__(message)
        self.current = current

    def __reduce__(self) -> tuple[type[StaleEditionError], tuple[str, int]]:
        # Rebuilt from both arguments: errors cross from the store process (pickled).
        return (type(self), (str(self), self.current))


class LeaseError(RoundupError):
    """Another process holds the lease for this job (a send, a scheduler job)."""


class SendError(RoundupError):
    """A send could not be started or a transport failed as a whole."""


class TokenError(RoundupError):
    """A signed link token is forged, altered or expired."""
