"""The CLI's tables: drawn by hand off a terminal, exactly as rich draws them.

`plain_table` must give rich's own text for every table it takes (a property test
against rich, with the consoles the CLI uses: markup and emoji codes off), and
hand every other table to rich; `print_table` never reads a cell as markup.
"""

from __future__ import annotations

import io

import pytest
from hypothesis import given
from hypothesis import strategies as st
from rich.console import Console

from bot.cli.table import plain_table, print_table, rich_table

# Letters, markup and emoji-code look-alikes, wide and zero-width characters.
_CHARS = st.sampled_from(list("ab Z09[]/:.,-_()'\"é日本😀\u0301\u200d\u200b·👍🏽"))
_TEXT = st.text(_CHARS, max_size=14)


def _console(width: int, *, terminal: bool = False) -> Console:
    return Console(
        file=io.StringIO(),
        width=width,
        markup=False,
        emoji=False,
        highlight=False,
        force_terminal=terminal,
        color_system=None,
    )


def rich_text(title: str, columns: list[str], rows: list[list[str]], width: int) -> str:
    console = _console(width)
    console.print(rich_table(title, columns, rows))  # what print_table falls back to
    out = console.file
    assert isinstance(out, io.StringIO)
    return out.getvalue()


@st.composite
def tables(draw: st.DrawFn) -> tuple[str, list[str], list[list[str]], int]:
    columns = draw(st.lists(_TEXT, min_size=1, max_size=6))
    row = st.lists(_TEXT, min_size=len(columns), max_size=len(columns))
    rows = draw(st.lists(row, max_size=5))
    return draw(_TEXT), columns, rows, draw(st.integers(20, 160))


@given(tables())
def test_a_table_drawn_by_hand_is_the_text_rich_draws(
    table: tuple[str, list[str], list[list[str]], int],
) -> None:
    title, columns, rows, width = table
    drawn = plain_table(title, columns, rows, width)
    if drawn is not None:
        assert drawn == rich_text(title, columns, rows, width)


@pytest.mark.parametrize(
    ("cell", "width", "by_hand"),
    [
        ("HTTP 500 [/x] from :smile:", 200, True),  # markup and emoji codes are text
        ("日本語 😀", 200, True),
        ("x" * 300, 80, False),  # wider than the console: rich folds it
        ("two\nlines", 200, False),
        ("a\ttab", 200, False),
        (" padded ", 200, False),
        ("\u0301starts with a combining mark", 200, False),
    ],
)
def test_which_tables_are_drawn_by_hand(cell: str, width: int, by_hand: bool) -> None:
    drawn = plain_table("Poll summary", ["feed", "error"], [["f", cell]], width)
    assert (drawn is not None) is by_hand
    if drawn is not None:
        assert cell in drawn


@pytest.mark.parametrize(("width", "terminal"), [(200, False), (40, False), (200, True)])
def test_cells_are_never_read_as_markup(width: int, terminal: bool) -> None:
    # By hand (a wide pipe), and by rich: a narrow pipe, or a terminal.
    console = _console(width, terminal=terminal)
    hostile = "[/x] [bold]b[/bold] :smile:"
    print_table(console, "Items (1)", ["title", "feed"], [[hostile, "f"]])
    out = console.file
    assert isinstance(out, io.StringIO)
    text = "".join(out.getvalue().split())  # folding may split the cell over lines
    assert "".join(hostile.split()) in text.replace("│", "")
