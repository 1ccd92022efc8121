"""Tables of plain text, printed in rich's look at a fraction of rich's cost.

What it does: `print_table` prints a titled table of text cells. On a terminal, or
when a row holds anything but one line of printable text, or when the table is
wider than the console, rich draws it (`rich.table.Table`, cells as `Text`: never
read as markup). Otherwise (a pipe, a log, cron) the same box is drawn here, line
by line: rich lays out every cell through its whole rendering pipeline, about a
millisecond a row, so the 300-row summary of a cold poll cost a third of a second
after the poll was done. The two outputs are the same text; a property test holds
them to it (`tests/test_cli_table.py`).
What it does not do: styles, wrapping or folding (rich does those, when needed).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from rich.console import Console
    from rich.table import Table

# rich's default box (HEAVY_HEAD): a heavy header, light rows.
_TOP = ("┏", "━", "┳", "┓")
_HEAD = ("┃", "┃", "┃")
_HEAD_RULE = ("┡", "━", "╇", "┩")
_ROW = ("│", "│", "│")
_BOTTOM = ("└", "─", "┴", "┘")


def print_table(
    console: Console, title: str, columns: Sequence[str], rows: Iterable[Sequence[str]]
) -> None:
    """Print `rows` (one text per column) under `columns`, titled `title`."""
    cells = [list(row) for row in rows]
    drawn = None if console.is_terminal else plain_table(title, columns, cells, console.width)
    if drawn is not None:
        console.file.write(drawn)
        console.file.flush()
        return
    console.print(rich_table(title, columns, cells))


def rich_table(title: str, columns: Sequence[str], rows: Iterable[Sequence[str]]) -> Table:
    """The table as rich draws it: cells as `Text`, never read as markup."""
    from rich.table import Table
    from rich.text import Text

    table = Table(title=title)
    for column in columns:
        table.add_column(column, overflow="fold")
    for row in rows:
        table.add_row(*(Text(cell) for cell in row))
    return table


def plain_table(
    title: str, columns: Sequence[str], rows: Sequence[Sequence[str]], width: int
) -> str | None:
    """The table as rich draws it without styles, or None where only rich can draw
    it: a cell that is not one line of printable text, or wider than `width`."""
    from rich.cells import cell_len  # loaded with the console that asks for the table

    def _plain(text: str) -> bool:
        # One line of printable text that rich prints as it is: no tab, newline or
        # control character, no space at either end (rich's wrapping trims those),
        # and no zero-width character first (rich drops one with nothing to join).
        return (
            text.isprintable() and text == text.strip(" ") and (not text or cell_len(text[0]) > 0)
        )

    if not all(_plain(cell) for row in rows for cell in row) or not _plain(title):
        return None
    if not all(_plain(column) for column in columns):
        return None
    widths = [cell_len(column) for column in columns]
    lengths = [[cell_len(cell) for cell in row] for row in rows]
    for row in lengths:
        widths = [max(w, n) for w, n in zip(widths, row, strict=True)]
    total = sum(widths) + 3 * len(widths) + 1
    if total > width or cell_len(title) > total:
        return None
    left = (total - cell_len(title)) // 2
    lines = [" " * left + title + " " * (total - left - cell_len(title))] if title else []
    lines.append(_rule(_TOP, widths))
    lines.append(_line(_HEAD, columns, [cell_len(c) for c in columns], widths))
    lines.append(_rule(_HEAD_RULE, widths))
    lines.extend(_line(_ROW, row, n, widths) for row, n in zip(rows, lengths, strict=True))
    lines.append(_rule(_BOTTOM, widths))
    return "\n".join(lines) + "\n"


def _rule(box: tuple[str, str, str, str], widths: Sequence[int]) -> str:
    left, fill, cross, right = box
    return left + cross.join(fill * (w + 2) for w in widths) + right


def _line(
    box: tuple[str, str, str], cells: Sequence[str], lengths: Sequence[int], widths: Sequence[int]
) -> str:
    left, middle, right = box
    parts = (f" {cell}{' ' * (w - n)} " for cell, n, w in zip(cells, lengths, widths, strict=True))
    return left + middle.join(parts) + right
