"""Keeping link tokens out of the logs.

What it does: `redact_path` replaces the token part of a ``/confirm/``,
``/unsubscribe/`` or ``/preferences/`` path (those links work for up to a year, so
a log line holding one is a key to someone's subscription); `RedactTokens`, a
logging filter, applies it to every record of uvicorn's access and error loggers,
and `install` puts it on them once.
What it does not do: configure logging (uvicorn and the operator do) or touch
other paths.
"""

from __future__ import annotations

import logging
import re

REDACTED = "[redacted]"
LOGGERS = ("uvicorn.access", "uvicorn.error")
_TOKEN_PATH = re.compile(r"/(confirm|unsubscribe|preferences)/[^\s/?#\"']+")


def redact_path(text: str) -> str:
    """`text` with the token of every link path in it replaced."""
    return _TOKEN_PATH.sub(lambda m: f"/{m.group(1)}/{REDACTED}", text)


class RedactTokens(logging.Filter):
    """Rewrites a record's message and string arguments; never drops a record."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.msg, str):
            record.msg = redact_path(record.msg)
        if isinstance(record.args, tuple):
            record.args = tuple(redact_path(a) if isinstance(a, str) else a for a in record.args)
        elif isinstance(record.args, dict):
            record.args = {
                k: redact_path(v) if isinstance(v, str) else v for k, v in record.args.items()
            }
        return True


def install() -> None:
    """Put `RedactTokens` on uvicorn's loggers (once each)."""
    for name in LOGGERS:
        logger = logging.getLogger(name)
        if not any(isinstance(f, RedactTokens) for f in logger.filters):
            logger.addFilter(RedactTokens())
