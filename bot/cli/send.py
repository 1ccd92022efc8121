"""CLI command `roundup send EDITION`: deliver an approved edition, or a test copy."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Annotated

import typer
from rich.table import Table

from bot.cli.core import ConfigOpt, JsonOpt, console, err_console, fail, open_ctx, print_json
from bot.errors import UsageError

if TYPE_CHECKING:
    from bot.send.runner import Progress as ProgressFn
    from bot.send.runner import SendReport


def register(app: typer.Typer) -> None:
    app.command()(send)


def send(
    edition_key: Annotated[
        str, typer.Argument(metavar="EDITION", help="Edition key, e.g. 2026-W48.")
    ],
    config: ConfigOpt = None,
    test_to: Annotated[
        str | None,
        typer.Option(
            "--test-to", metavar="EMAIL", help="Send one test copy there; record nothing."
        ),
    ] = None,
    transport: Annotated[
        str | None,
        typer.Option(
            "--transport",
            metavar="outbox|sendgrid",
            help="Override send.transport (auto: sendgrid when SENDGRID_API_KEY is set).",
        ),
    ] = None,
    resume: Annotated[
        bool, typer.Option("--resume", help="Continue a send that stopped part-way.")
    ] = False,
    retry_ambiguous: Annotated[
        bool,
        typer.Option(
            "--retry-ambiguous",
            help="Also resend batches that may or may not have gone out (check first).",
        ),
    ] = False,
    as_json: JsonOpt = False,
) -> None:
    """Send an approved edition to every active subscriber, exactly once."""
    from bot import pipeline
    from bot.send import make_transport
    from bot.send.runner import send_test

    if transport is not None and transport not in ("outbox", "sendgrid"):
        raise UsageError(f"--transport {transport!r}: use outbox or sendgrid")
    if test_to is not None and (resume or retry_ambiguous):
        raise UsageError("--test-to sends one copy; it cannot be combined with --resume")
    with open_ctx(config) as ctx:
        sender = make_transport(ctx, transport)
        try:
            if test_to is not None:
                report = send_test(ctx, edition_key, test_to.strip(), transport=sender)
            else:
                report = _with_progress(
                    lambda progress: pipeline.send(
                        ctx,
                        edition_key,
                        transport=sender,
                        resume=resume,
                        retry_ambiguous=retry_ambiguous,
                        progress=progress,
                    ),
                    quiet=as_json,
                )
        finally:
            sender.close()
    if as_json:
        print_json(_report_json(report))
    else:
        _print_report(report, test_to)
    if not report.ok:
        raise fail(1)


def _with_progress(run: Callable[[ProgressFn | None], SendReport], quiet: bool) -> SendReport:
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
    )

    if quiet:
        return run(None)
    columns = (
        TextColumn("sending"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("batches"),
        TimeElapsedColumn(),
    )
    with Progress(*columns, console=err_console, transient=True) as bar:
        task = bar.add_task("send", total=None)

        def progress(done: int, total: int) -> None:
            bar.update(task, completed=done, total=total)

        return run(progress)


def _report_json(report: SendReport) -> dict[str, object]:
    return {
        "edition": report.edition_key,
        "transport": report.transport,
        "state": report.state.value,
        "recipients": report.recipients,
        "skipped": report.skipped,
        "batches": report.batches,
        "accepted": report.accepted,
        "failed": report.failed,
        "ambiguous": report.ambiguous,
        "pending": report.pending,
        "sent_now": report.sent_now,
        "found_ambiguous": list(report.found_ambiguous),
        "errors": list(report.errors),
        "ok": report.ok,
    }


def _print_report(report: SendReport, test_to: str | None) -> None:
    if test_to is not None:
        verdict = "sent" if report.ok else "NOT sent"
        console.print(
            f"test copy of {report.edition_key} {verdict} to {test_to} via {report.transport}"
        )
        for error in report.errors:
            err_console.print(f"[red]{error}[/]")
        return
    table = Table(title=f"Send of {report.edition_key} via {report.transport}")
    table.add_column("")
    table.add_column("count", justify="right")
    for label, value in (
        ("recipients", report.recipients),
        ("skipped (region set empty)", report.skipped),
        ("batches", report.batches),
        ("accepted", report.accepted),
        ("failed", report.failed),
        ("ambiguous", report.ambiguous),
        ("not yet sent", report.pending),
    ):
        table.add_row(label, str(value))
    console.print(table)
    console.print(f"edition {report.edition_key} is {report.state.value}")
    if report.found_ambiguous:
        ids = ", ".join(str(i) for i in report.found_ambiguous)
        err_console.print(
            f"[yellow]batches {ids} were in flight when an earlier send stopped: they may "
            "have been delivered. Check the provider's activity, then resend them with "
            "--resume --retry-ambiguous if they were not.[/]"
        )
    for error in report.errors:
        err_console.print(f"[red]{error}[/]")
    if report.failed:
        err_console.print("failed batches are sent again by `roundup send EDITION --resume`")
