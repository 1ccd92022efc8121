"""Subscriber addresses, choices, CSV import and export.

The CSV files under tests/fixtures/subscribers/ each have an ``.expected.json``
beside them: what an import of the file into an empty store must report and leave.
"""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from bot.config import load_config
from bot.store import Store
from bot.store.subscribers import ImportRow
from bot.subscribers import (
    EXPORT_COLUMNS,
    BadCsv,
    BadRow,
    InvalidEmail,
    InvalidValue,
    check_name,
    export_csv,
    import_csv,
    normalise_email,
    parse_regions,
    parse_status,
)
from bot.subscribers.csvimport import parse_row
from bot.types import SubscriberStatus

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "subscribers"
CONFIG = load_config(FIXTURES / "config.yaml")
REGIONS = CONFIG.region_names
NOW = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)
CASES = sorted(p.stem for p in FIXTURES.glob("*.csv"))


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("ann@example.org", "ann@example.org"),
        ("  Ann@Example.ORG\n", "Ann@example.org"),  # local part kept, domain lower-cased
        ("ann+news@sub.example.org", "ann+news@sub.example.org"),
        ("ann@MÜNCHEN.de", "ann@xn--mnchen-3ya.de"),  # one form for a unicode domain
        ("ann@xn--mnchen-3ya.de", "ann@xn--mnchen-3ya.de"),
        ("o'brien@example.org", "o'brien@example.org"),
    ],
)
def test_normalise_email(raw: str, expected: str) -> None:
    assert normalise_email(raw) == expected


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        ("", "empty"),
        ("   ", "empty"),
        ("ann", "not a valid email address"),
        ("ann@localhost", "not a valid email address"),
        ("ann@example", "not a valid email address"),
        ("ann@@example.org", "not several"),
        ("a@x.org, b@y.org", "not several"),
        ("a@x.org;b@y.org", "not several"),
        ("a@x.org b@y.org", "not several"),
        ("Ann <ann@example.org>", "without a name or angle brackets"),
        ("<ann@example.org>", "without a name or angle brackets"),
        ("ann smith@example.org", "not a valid email address"),
        ("ann..smith@example.org", "not a valid email address"),
        ("zoë@example.org", "not a valid email address"),  # no SMTPUTF8 local parts
        ("a" * 250 + "@example.org", "longer than 254"),
        ("ann@[127.0.0.1]", "not a valid email address"),
    ],
)
def test_normalise_email_refuses(raw: str, reason: str) -> None:
    with pytest.raises(InvalidEmail, match=reason) as info:
        normalise_email(raw)
    assert info.value.exit_code == 2


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("", None),
        (" ; | ", None),
        ("Europe", ("Europe",)),
        ("europe", ("Europe",)),
        ("Middle East; Asia-Pacific", ("Middle East", "Asia-Pacific")),
        ("Europe|Middle East|europe", ("Europe", "Middle East")),
        ("More from the site", ("More from the site",)),  # the fallback section
    ],
)
def test_parse_regions(raw: str, expected: tuple[str, ...] | None) -> None:
    assert parse_regions(raw, REGIONS) == expected


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        ("Antarctica", "unknown region 'Antarctica'"),
        ("Europe;Mars;Venus", "unknown regions 'Mars', 'Venus'"),
        ("Europe,Asia-Pacific", "unknown region"),  # a comma is not a separator
    ],
)
def test_parse_regions_refuses(raw: str, reason: str) -> None:
    with pytest.raises(InvalidValue, match=reason) as info:
        parse_regions(raw, REGIONS)
    assert "known: Middle East, Asia-Pacific, Europe" in str(info.value)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("", None),
        ("active", SubscriberStatus.ACTIVE),
        (" Pending ", SubscriberStatus.PENDING),
        ("UNSUBSCRIBED", SubscriberStatus.UNSUBSCRIBED),
    ],
)
def test_parse_status(raw: str, expected: SubscriberStatus | None) -> None:
    assert parse_status(raw) is expected


def test_check_name() -> None:
    assert check_name("  Ann   Example ") == "Ann Example"
    assert check_name("") is None
    with pytest.raises(InvalidValue, match="longer than"):
        check_name("x" * 201)
    with pytest.raises(InvalidValue, match="control"):
        check_name("Ann\x00")


INDEX = {"email": 0, "name": 1, "regions": 2}


@pytest.mark.parametrize(
    ("cells", "expected"),
    [
        (["ann@example.org"], ImportRow("ann@example.org", line=5)),
        (
            ["ann@example.org", " Ann ", "Europe"],
            ImportRow("ann@example.org", line=5, name="Ann", regions=("Europe",)),
        ),
        (["'+ann@example.org", "'-Ann"], ImportRow("+ann@example.org", line=5, name="-Ann")),
        # only an apostrophe before a formula start is the export's: this one is data
        (["'ann@example.org"], ImportRow("'ann@example.org", line=5)),
        (["ann@example.org", "", "Mars"], BadRow(5, "unknown region 'Mars'")),
        (["ann@example.org", "", "", "x"], BadRow(5, "4 fields, the header has 3")),
        (["", "Ann"], BadRow(5, "the email address is empty")),
    ],
)
def test_parse_row(cells: list[str], expected: ImportRow | BadRow) -> None:
    got = parse_row(cells, INDEX, 3, 5, REGIONS)
    if isinstance(expected, BadRow):
        assert isinstance(got, BadRow) and got.line == 5
        assert expected.reason in got.reason
    else:
        assert got == expected


def _subscribers(store: Store) -> list[dict[str, Any]]:
    return [
        {
            "email": s.email,
            "name": s.name,
            "status": s.status.value,
            "regions": None if s.regions is None else list(s.regions),
        }
        for s in store.iter_subscribers(status=None)
    ]


@pytest.mark.parametrize("case", CASES)
def test_import_fixture(store: Store, case: str) -> None:
    expected = json.loads((FIXTURES / f"{case}.expected.json").read_text(encoding="utf-8"))
    path = FIXTURES / f"{case}.csv"
    if "error" in expected:
        with pytest.raises(BadCsv, match=expected["error"]):
            import_csv(store, path, regions=REGIONS, now=NOW)
        assert store.count_subscribers()[SubscriberStatus.ACTIVE] == 0
        return
    report = import_csv(store, path, regions=REGIONS, now=NOW)
    result = report.result
    assert report.source == f"import:{case}.csv"
    assert report.rows == expected["rows"]
    assert (result.added, result.updated, result.unchanged, len(result.skipped)) == (
        expected["added"],
        expected["updated"],
        expected["unchanged"],
        expected["skipped"],
    )
    assert list(report.ignored_columns) == expected["ignored_columns"]
    assert report.bad_count == len(expected["bad"])
    assert [b.line for b in report.bad] == [line for line, _ in expected["bad"]]
    for bad, (_, reason) in zip(report.bad, expected["bad"], strict=True):
        assert reason in bad.reason
    assert _subscribers(store) == expected["subscribers"]
    assert {s.source for s in store.iter_subscribers(status=None)} <= {f"import:{case}.csv"}

    again = import_csv(store, path, regions=REGIONS, now=NOW + timedelta(days=1))
    assert not again.changed  # idempotent
    assert again.result.added == 0 and again.result.updated == 0
    assert again.bad_count == report.bad_count
    assert _subscribers(store) == expected["subscribers"]


def test_import_never_reopens_and_updates_only_what_is_given(store: Store, tmp_path: Path) -> None:
    store.add_subscriber("ann@example.org", now=NOW, status=SubscriberStatus.UNSUBSCRIBED)
    store.add_subscriber(
        "bob@example.org", now=NOW, status=SubscriberStatus.ACTIVE, name="Bob", regions=("Europe",)
    )
    path = tmp_path / "list.csv"
    path.write_text(
        "email,name,regions,status\n"
        "ann@example.org,Ann,Europe,active\n"
        "bob@example.org,,,\n"
        "bob2@example.org,,,\n",
        encoding="utf-8",
    )
    report = import_csv(store, path, regions=REGIONS, now=NOW)
    assert [(s.line, s.email) for s in report.result.skipped] == [(2, "ann@example.org")]
    assert (report.result.added, report.result.unchanged) == (1, 1)
    ann = store.get_subscriber("ann@example.org")
    assert ann is not None and ann.status is SubscriberStatus.UNSUBSCRIBED and ann.name is None
    bob = store.get_subscriber("bob@example.org")
    assert bob is not None and bob.name == "Bob" and bob.regions == ("Europe",)

    path.write_text("email,regions\nbob@example.org,Asia-Pacific\n", encoding="utf-8")
    report = import_csv(store, path, regions=REGIONS, now=NOW)
    assert report.result.updated == 1
    bob = store.get_subscriber("bob@example.org")
    assert bob is not None and bob.name == "Bob" and bob.regions == ("Asia-Pacific",)


def test_import_refuses_a_file_over_the_limit(store: Store, tmp_path: Path) -> None:
    path = tmp_path / "big.csv"
    path.write_text("email\n" + "ann@example.org\n" * 100, encoding="utf-8")
    with pytest.raises(BadCsv, match="over the limit of 1,000"):
        import_csv(store, path, regions=REGIONS, now=NOW, max_bytes=1000)
    assert sum(store.count_subscribers().values()) == 0


def test_import_refuses_a_missing_file(store: Store, tmp_path: Path) -> None:
    with pytest.raises(BadCsv, match="cannot read"):
        import_csv(store, tmp_path / "nope.csv", regions=REGIONS, now=NOW)


def test_import_keeps_only_the_first_bad_rows(sqlite_url: str, tmp_path: Path) -> None:
    from bot.store import open_store
    from bot.subscribers import csvimport

    path = tmp_path / "bad.csv"
    path.write_text("email\n" + "nope\n" * (csvimport.MAX_BAD_ROWS_KEPT + 5), encoding="utf-8")
    with open_store(sqlite_url) as store:
        report = import_csv(store, path, regions=REGIONS, now=NOW)
    assert report.bad_count == csvimport.MAX_BAD_ROWS_KEPT + 5
    assert len(report.bad) == csvimport.MAX_BAD_ROWS_KEPT


def test_export_pages_and_reads_back(store: Store, tmp_path: Path) -> None:
    S = SubscriberStatus
    store.add_subscriber("ann@example.org", now=NOW, status=S.ACTIVE, name="Ann, A.")
    store.add_subscriber("=cmd@example.org", now=NOW, status=S.ACTIVE, name="@SUM(A1)")
    store.add_subscriber(
        "bob@example.org", now=NOW, status=S.UNSUBSCRIBED, regions=("Europe", "Middle East")
    )
    store.add_subscriber("pat@example.org", now=NOW, source="web")
    many = (ImportRow(f"p{n}@example.org") for n in range(1100))  # more than one page
    store.import_subscribers(many, now=NOW, source="")

    out = io.StringIO()
    assert export_csv(store, out) == 1104
    rows = list(csv.reader(io.StringIO(out.getvalue())))
    assert tuple(rows[0]) == EXPORT_COLUMNS
    assert rows[1] == ["ann@example.org", "Ann, A.", "active", "", NOW.isoformat(), ""]
    assert rows[2][:2] == ["'=cmd@example.org", "'@SUM(A1)"]  # no formulas in a spreadsheet
    assert rows[3][2:4] == ["unsubscribed", "Europe;Middle East"]
    assert rows[4][5] == "web"
    assert len(rows) == 1105

    only = io.StringIO()
    assert export_csv(store, only, status=S.UNSUBSCRIBED) == 1
    assert only.getvalue().splitlines()[1].startswith("bob@example.org,")

    # the export imports back unchanged
    path = tmp_path / "export.csv"
    path.write_text(out.getvalue(), encoding="utf-8")
    report = import_csv(store, path, regions=REGIONS, now=NOW)
    assert report.bad_count == 0 and not report.changed
    assert report.result.unchanged == 1103 and len(report.result.skipped) == 1
    assert report.ignored_columns == ("signed_up_at", "source")
