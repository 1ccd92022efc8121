"""Subscribers: checking addresses and choices, importing and exporting lists.

What it does: re-exports the pieces other parts use: `normalise_email` (the one
way an address becomes the key of a subscriber), name/region/status checks, CSV
import (`import_csv`) and export (`export_csv`).
What it does not do: keep subscribers (the store does) or run web pages.
"""

from __future__ import annotations

from bot.subscribers.csvimport import BadCsv, BadRow, ImportReport, import_csv
from bot.subscribers.export import EXPORT_COLUMNS, export_csv
from bot.subscribers.validate import (
    InvalidEmail,
    InvalidValue,
    check_name,
    normalise_email,
    parse_regions,
    parse_status,
)

__all__ = [
    "EXPORT_COLUMNS",
    "BadCsv",
    "BadRow",
    "ImportReport",
    "InvalidEmail",
    "InvalidValue",
    "check_name",
    "export_csv",
    "import_csv",
    "normalise_email",
    "parse_regions",
    "parse_status",
]
