"""Importing subscribers from a CSV file: bounded, streamed, bad rows reported by line.

What it does: refuses a file over the size limit or not in UTF-8 (with or without a
BOM) or UTF-16 with a BOM, saying where and what to do; reads the header (case and
spaces ignored; `email` required, `name`, `regions`, `status` optional, others
ignored and reported); turns each row into an `ImportRow` or a `BadRow` (line
number and reason: bad address, unknown region, the same address twice, too many
fields); streams the good rows into the store's `import_subscribers` as
``import:<file name>``; and reports what happened.
What it does not do: decide how a row merges with a known subscriber (the store's
`decide_import` does), send confirmations, or guess other encodings.
"""

from __future__ import annotations

import codecs
import csv
import io
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from bot.errors import UsageError
from bot.store import Store
from bot.store.subscribers import ImportResult, ImportRow, email_key
from bot.subscribers.validate import (
    check_name,
    normalise_email,
    parse_regions,
    parse_status,
    undefuse_cell,
)

MAX_FILE_BYTES = 50 * 1024 * 1024
MAX_BAD_ROWS_KEPT = 1000  # reported in full; past this only counted
COLUMNS = ("email", "name", "regions", "status")
_READ_CHUNK = 1 << 20
_BOMS = (
    (codecs.BOM_UTF8, "utf-8-sig"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)


class BadCsv(UsageError):
    """The file as a whole cannot be imported (size, encoding, header)."""


@dataclass(frozen=True)
class BadRow:
    line: int
    reason: str


@dataclass(frozen=True)
class ImportReport:
    file: str
    source: str
    encoding: str
    rows: int  # data rows read (blank lines not counted)
    result: ImportResult
    bad: tuple[BadRow, ...]  # the first MAX_BAD_ROWS_KEPT
    bad_count: int
    ignored_columns: tuple[str, ...] = ()

    @property
    def changed(self) -> bool:
        return self.result.changed


def import_csv(
    store: Store,
    path: Path,
    *,
    regions: Sequence[str],
    now: datetime,
    max_bytes: int = MAX_FILE_BYTES,
) -> ImportReport:
    """Import `path` into `store`; `regions` are the config's region names."""
    encoding = check_file(path, max_bytes)
    source = f"import:{path.name}"
    with path.open("rb") as raw:
        text = io.TextIOWrapper(raw, encoding=encoding, newline="")
        reader = RowReader(text, regions)
        result = store.import_subscribers(reader.rows(), now=now, source=source)
    return ImportReport(
        file=str(path),
        source=source,
        encoding=encoding,
        rows=reader.read,
        result=result,
        bad=tuple(reader.bad),
        bad_count=reader.bad_count,
        ignored_columns=reader.ignored,
    )


def check_file(path: Path, max_bytes: int = MAX_FILE_BYTES) -> str:
    """The encoding to read `path` with, after checking its size and every byte of it."""
    try:
        size = path.stat().st_size
        if not path.is_file():
            raise BadCsv(f"{path} is not a file")
        if size > max_bytes:
            raise BadCsv(
                f"{path} is {size:,} bytes, over the limit of {max_bytes:,}: split it "
                "into smaller files and import each (importing is safe to repeat)"
            )
        with path.open("rb") as raw:
            return _check_encoding(path, raw, max_bytes)
    except OSError as exc:
        raise BadCsv(f"cannot read {path}: {exc.strerror or exc}") from None


def _check_encoding(path: Path, raw: io.BufferedReader, max_bytes: int) -> str:
    head = raw.read(4)
    encoding = next((enc for bom, enc in _BOMS if head.startswith(bom)), "utf-8")
    raw.seek(0)
    decoder = codecs.getincrementaldecoder(encoding)()
    offset, lines = 0, 1
    while chunk := raw.read(_READ_CHUNK):
        if offset + len(chunk) > max_bytes:  # the file grew since we looked
            raise BadCsv(f"{path} is over the limit of {max_bytes:,} bytes")
        try:
            decoder.decode(chunk)
        except UnicodeDecodeError as exc:
            # the decoder's input is what it kept from the last chunk plus this one
            held = len(exc.object) - len(chunk)
            line = lines + exc.object[: exc.start].count(b"\n")
            raise BadCsv(
                f"{path} is not {encoding.removesuffix('-sig').upper()}: byte "
                f"0x{exc.object[exc.start]:02x} on line {line} (byte {offset - held + exc.start}) "
                "cannot be read. Save it as 'CSV UTF-8' "
                "from your spreadsheet, or convert it (iconv -f latin1 -t utf-8)"
            ) from None
        offset += len(chunk)
        lines += chunk.count(b"\n")
    try:
        decoder.decode(b"", final=True)
    except UnicodeDecodeError:
        raise BadCsv(f"{path} is not UTF-8: it ends in the middle of a character") from None
    return encoding


class RowReader:
    """Reads a CSV text stream into `ImportRow`s, keeping the bad rows it meets."""

    def __init__(self, text: io.TextIOBase | io.TextIOWrapper, regions: Sequence[str]) -> None:
        self.text = text
        self.regions = tuple(regions)
        self.read = 0
        self.bad: list[BadRow] = []
        self.bad_count = 0
        self.ignored: tuple[str, ...] = ()
        self._seen: dict[str, int] = {}

    def rows(self) -> Iterator[ImportRow]:
        first = self.text.readline()
        if not first.strip():
            raise BadCsv("the file is empty: the first line must be a header with an email column")
        dialect = _dialect(first)
        header = next(csv.reader([first], dialect))
        index = self._header(header)
        reader = csv.reader(self.text, dialect)
        start = 2
        for cells in _records(reader):
            line, start = start, reader.line_num + 2
            if not any(cell.strip() for cell in cells):
                continue
            self.read += 1
            row = parse_row(cells, index, len(header), line, self.regions)
            if isinstance(row, ImportRow):
                row = self._check_repeat(row)
            if isinstance(row, BadRow):
                self._add_bad(row)
            else:
                yield row

    def _header(self, header: list[str]) -> dict[str, int]:
        names = [" ".join(h.split()).lower() for h in header]
        if "email" not in names:
            raise BadCsv(
                "the header has no email column (found: "
                f"{', '.join(repr(n) for n in names[:10])}): the first line must name "
                f"the columns, e.g. {','.join(COLUMNS)}"
            )
        repeated = sorted({n for n in names if names.count(n) > 1 and n in COLUMNS})
        if repeated:
            raise BadCsv(f"the header names the column {repeated[0]!r} twice")
        self.ignored = tuple(n for n in names if n not in COLUMNS)
        return {name: i for i, name in enumerate(names) if name in COLUMNS}

    def _check_repeat(self, row: ImportRow) -> ImportRow | BadRow:
        # One mailbox in any spelling: "Ann@x.org" and "ANN@X.ORG" are one subscriber.
        first = self._seen.setdefault(email_key(row.email), row.line)
        if first != row.line:
            return BadRow(row.line, f"{row.email} is already on line {first}")
        return row

    def _add_bad(self, row: BadRow) -> None:
        self.bad_count += 1
        if len(self.bad) < MAX_BAD_ROWS_KEPT:
            self.bad.append(row)


def parse_row(
    cells: Sequence[str], index: dict[str, int], width: int, line: int, regions: Sequence[str]
) -> ImportRow | BadRow:
    """One data row as an `ImportRow`, or a `BadRow` saying what is wrong with it."""
    if len(cells) > width:
        return BadRow(line, f"{len(cells)} fields, the header has {width} (a stray comma?)")

    def cell(name: str) -> str:
        at = index.get(name)
        return undefuse_cell(cells[at]) if at is not None and at < len(cells) else ""

    try:
        return ImportRow(
            email=normalise_email(cell("email")),
            line=line,
            name=check_name(cell("name")),
            regions=parse_regions(cell("regions"), regions),
            status=parse_status(cell("status")),
        )
    except UsageError as exc:
        return BadRow(line, str(exc))


def _records(reader: Iterator[list[str]]) -> Iterator[list[str]]:
    """The reader's records; a file the csv module cannot follow stops with its line."""
    while True:
        try:
            cells = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            line = getattr(reader, "line_num", 0) + 1
            raise BadCsv(
                f"cannot read the CSV near line {line}: {exc} (an unclosed quote, or a "
                "field too long?); nothing after it was imported, rows before it were"
            ) from None
        yield cells


def _dialect(header_line: str) -> type[csv.Dialect]:
    """Comma-separated, unless the header has no comma and a tab or semicolon."""
    if "," not in header_line:
        if "\t" in header_line:
            return csv.excel_tab
        if ";" in header_line:
            return _Semicolon
    return csv.excel


class _Semicolon(csv.excel):
    delimiter = ";"
