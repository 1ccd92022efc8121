"""Exporting subscribers as CSV, a page at a time.

What it does: writes ``email,name,status,regions,signed_up_at,source`` for every
subscriber (or those of one status), in id order, paging through the store so a
list of any length takes the same memory; regions are joined with ``;`` (empty:
every region); a cell a spreadsheet would run as a formula gets an apostrophe in
front (the import takes it off), so the file reads back into `import_csv`.
What it does not do: open or choose the output (the CLI passes a text stream).
"""

from __future__ import annotations

import csv
from typing import TextIO

from bot.store import Store
from bot.subscribers.validate import defuse_cell
from bot.types import Subscriber, SubscriberStatus

EXPORT_COLUMNS = ("email", "name", "status", "regions", "signed_up_at", "source")
PAGE = 1000


def export_csv(store: Store, out: TextIO, *, status: SubscriberStatus | None = None) -> int:
    """Write the CSV to `out`; returns how many subscribers were written."""
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(EXPORT_COLUMNS)
    written, after = 0, 0
    while page := store.iter_subscribers(status=status, after_id=after, limit=PAGE):
        writer.writerows(export_row(sub) for sub in page)
        written += len(page)
        after = page[-1].id or after
    return written


def export_row(sub: Subscriber) -> list[str]:
    return [
        defuse_cell(sub.email),
        defuse_cell(sub.name or ""),
        sub.status.value,
        ";".join(sub.regions or ()),
        sub.signed_up_at.isoformat() if sub.signed_up_at else "",
        defuse_cell(sub.source or ""),
    ]
