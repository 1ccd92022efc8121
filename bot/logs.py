"""Logging set-up: plain lines for a terminal, JSON lines when ROUNDUP_LOG_FORMAT=json.

What it does: configures the root logger once for a command: level, and either the
plain ``LEVEL name: message`` format or one JSON object per line (time in UTC,
level, logger, message, and the fields a caller put in ``extra``: job, notice...),
which log shippers and ``journalctl -o cat`` read as they are.
What it does not do: decide what is logged, or rotate files (systemd's journal does).
"""

from __future__ import annotations

import json
import logging
import os
import sys
from datetime import UTC, datetime

FORMAT_ENV = "ROUNDUP_LOG_FORMAT"
_STANDARD = set(vars(logging.makeLogRecord({}))) | {"message", "asctime"}


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        data: dict[str, object] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        data.update({k: v for k, v in vars(record).items() if k not in _STANDARD})
        if record.exc_info:
            data["error"] = self.formatException(record.exc_info)
        return json.dumps(data, default=str, ensure_ascii=False)


def configure_logging(level: int = logging.WARNING) -> None:
    handler = logging.StreamHandler(sys.stderr)
    if os.environ.get(FORMAT_ENV, "").strip().lower() == "json":
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
