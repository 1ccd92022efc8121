"""CLI commands for subscribers: `roundup subscribers import | export | count`."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from bot.cli.core import ConfigOpt, JsonOpt, console, err_console, open_ctx, print_json
from bot.errors import UsageError

if TYPE_CHECKING:
    from bot.subscribers import ImportReport
    from bot.types import SubscriberStatus

subscribers_app = typer.Typer(help="Subscribers: import, export, count.", no_args_is_help=True)
SHOWN_BAD_ROWS = 50  # on the terminal; --json lists every one kept


def register(app: typer.Typer) -> None:
    app.add_typer(subscribers_app, name="subscribers")


@subscribers_app.command("import")
def import_cmd(
    file: Annotated[Path, typer.Argument(metavar="FILE.csv", help="CSV with an email column.")],
    config: ConfigOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Import subscribers from a CSV (email, and optionally name, regions, status).

    Safe to repeat: known addresses are updated only where the file says something
    new, and nobody who unsubscribed, bounced or complained is re-activated. Bad
    rows are listed by line and the rest are imported; exit 1 when any row was bad.
    """
    from bot.subscribers import import_csv

    with open_ctx(config) as ctx:
        report = import_csv(ctx.store, file, regions=ctx.config.region_names, now=ctx.clock.now())
    if as_json:
        print_json(report_json(report))
    else:
        print_report(report)
    if report.bad_count:
        raise typer.Exit(1)


def report_json(report: ImportReport) -> dict[str, object]:
    result = report.result
    return {
        "file": report.file,
        "source": report.source,
        "encoding": report.encoding,
        "rows": report.rows,
        "added": result.added,
        "updated": result.updated,
        "unchanged": result.unchanged,
        "skipped": len(result.skipped),
        "bad": report.bad_count,
        "changed": report.changed,
        "skipped_rows": [
            {"line": s.line, "email": s.email, "status": s.status.value} for s in result.skipped
        ],
        "bad_rows": [{"line": b.line, "reason": b.reason} for b in report.bad],
        "ignored_columns": list(report.ignored_columns),
    }


def print_report(report: ImportReport) -> None:
    result = report.result
    if report.ignored_columns:
        err_console().print(f"ignored columns: {', '.join(report.ignored_columns)}")
    if report.bad:
        from rich.table import Table

        table = Table(title=f"Bad rows in {report.file} (not imported)")
        table.add_column("line", justify="right")
        table.add_column("reason", overflow="fold")
        for bad in report.bad[:SHOWN_BAD_ROWS]:
            table.add_row(str(bad.line), bad.reason)
        console().print(table)
        if report.bad_count > SHOWN_BAD_ROWS:
            console().print(f"... and {report.bad_count - SHOWN_BAD_ROWS} more (see --json)")
    console().print(
        f"{report.rows} rows read: added {result.added}, updated {result.updated}, "
        f"unchanged {result.unchanged}, skipped {len(result.skipped)} "
        f"(unsubscribed, bounced or complained), bad {report.bad_count}"
    )
    if not report.changed:
        console().print("nothing changed: every address was already as the file says")


@subscribers_app.command("export")
def export_cmd(
    config: ConfigOpt = None,
    out: Annotated[
        Path | None, typer.Option("--out", "-o", help="Write here instead of stdout.")
    ] = None,
    status: Annotated[
        str | None,
        typer.Option("--status", help="Only this status (pending, active, ...).", metavar="S"),
    ] = None,
) -> None:
    """Write every subscriber as CSV: email,name,status,regions,signed_up_at,source."""
    from bot.subscribers import export_csv

    wanted = _status(status)
    with open_ctx(config) as ctx:
        if out is None:
            export_csv(ctx.store, sys.stdout, status=wanted)
            return
        try:
            with out.open("w", encoding="utf-8", newline="") as handle:
                count = export_csv(ctx.store, handle, status=wanted)
        except OSError as exc:
            raise UsageError(f"cannot write {out}: {exc.strerror or exc}") from None
    err_console().print(f"exported {count} subscribers to {out}")


@subscribers_app.command("count")
def count_cmd(config: ConfigOpt = None, as_json: JsonOpt = False) -> None:
    """Subscribers per status, and the total."""
    from bot.types import SubscriberStatus

    with open_ctx(config) as ctx:
        counts = ctx.store.count_subscribers()
    data: dict[str, int] = {status.value: counts[status] for status in SubscriberStatus}
    data["total"] = sum(counts.values())
    if as_json:
        print_json(data)
        return
    from rich.table import Table

    table = Table(title="Subscribers")
    table.add_column("status")
    table.add_column("count", justify="right")
    for name, value in data.items():
        table.add_row(name, str(value))
    console().print(table)


def _status(value: str | None) -> SubscriberStatus | None:
    from bot.types import SubscriberStatus

    if value is None:
        return None
    try:
        return SubscriberStatus(value.strip().lower())
    except ValueError:
        allowed = ", ".join(s.value for s in SubscriberStatus)
        raise UsageError(f"--status {value!r} is not a status (use one of: {allowed})") from None
