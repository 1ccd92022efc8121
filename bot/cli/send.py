"""CLI command `roundup send EDITION`: deliver an approved edition, or a test copy."""

from __future__ import annotations

import os
import signal
import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Annotated

import typer

from bot.cli.core import ConfigOpt, JsonOpt, console, err_console, fail, open_ctx, print_json
from bot.errors import SendError, UsageError

if TYPE_CHECKING:
    from bot.send import Transport
    from bot.send.runner import ConfirmBreak, SendReport
    from bot.send.runner import Progress as ProgressFn


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
    break_lease: Annotated[
        bool,
        typer.Option(
            "--break-lease",
            help="With --resume: take over the send from the process holding its lease, "
            "after a confirmation naming it (for a send on another host that is gone).",
        ),
    ] = False,
    yes: Annotated[
        bool, typer.Option("--yes", help="Confirm --break-lease without asking.")
    ] = False,
    as_json: JsonOpt = False,
) -> None:
    """Send an approved edition to every active subscriber, exactly once.

    SIGTERM or Ctrl-C stops after the batch in flight (a second one stops at once);
    `--resume` continues. Without a terminal, --break-lease reads its confirmation
    (yes or no) from stdin, or takes --yes.
    """
    from bot import pipeline
    from bot.send import make_transport
    from bot.send.runner import send_test

    if transport is not None and transport not in ("outbox", "sendgrid"):
        raise UsageError(f"--transport {transport!r}: use outbox or sendgrid")
    if test_to is not None and (resume or retry_ambiguous):
        raise UsageError("--test-to sends one copy; it cannot be combined with --resume")
    if break_lease and not resume:
        raise UsageError("--break-lease takes over a send part-way: give --resume too")
    with open_ctx(config) as ctx:
        sender = make_transport(ctx, transport)
        try:
            if test_to is not None:
                report = send_test(ctx, edition_key, test_to.strip(), transport=sender)
            else:
                stop = threading.Event()
                with _stop_on_signals(stop, sender, edition_key):
                    report = _with_progress(
                        lambda progress: pipeline.send(
                            ctx,
                            edition_key,
                            transport=sender,
                            resume=resume,
                            retry_ambiguous=retry_ambiguous,
                            progress=progress,
                            stop=stop,
                            confirm_break=_confirm_break(edition_key, yes) if break_lease else None,
                            notify=_notify,
                            transport_explicit=transport is not None,
                        ),
                        quiet=as_json,
                    )
        finally:
            close_transport(sender)
    if as_json:
        print_json(_report_json(report))
    else:
        _print_report(report, test_to)
    if not report.ok:
        raise fail(1)


@contextmanager
def _stop_on_signals(stop: threading.Event, sender: Transport, key: str) -> Iterator[None]:
    """The first SIGTERM or SIGINT sets `stop` (the send ends after the batch in
    flight); a second one exits at once, leaving that batch ambiguous."""

    # The handler runs between two bytecodes of the main thread, which may hold
    # the stderr buffer's lock: it writes with os.write, and the main thread never
    # waits on `stop` (it only reads it), so setting it cannot deadlock.
    def handler(signum: int, _frame: object) -> None:
        if stop.is_set():
            os.write(
                2,
                f"\nstopped at once: the batch in flight may or may not have gone out; "
                f"run `roundup send {key} --resume`\n".encode(),
            )
            os._exit(1)
        stop.set()
        stopping = getattr(sender, "stopping", None)
        if isinstance(stopping, threading.Event):
            stopping.set()
        os.write(2, b"\nstopping after the batch in flight (a second signal stops at once)\n")

    if threading.current_thread() is not threading.main_thread():
        yield  # signals reach only the main thread; a caller elsewhere stops by `stop`
        return
    previous = {sig: signal.signal(sig, handler) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        yield
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)


def _confirm_break(key: str, yes: bool) -> ConfirmBreak:
    def confirm(holder: str) -> bool:
        question = f"The send of {key} is held by {holder}. Break its lease and take over?"
        if yes:
            err_console().print(f"{question} yes (--yes)")
            return True
        if sys.stdin.isatty():
            return typer.confirm(question, default=False, err=True)
        err_console().print(f"{question} [reading yes or no from stdin]")
        return sys.stdin.readline(100).strip().lower() in ("y", "yes")

    return confirm


def _notify(line: str) -> None:
    err_console().print(line, markup=False, highlight=False)


def close_transport(sender: Transport) -> None:
    """Close the transport; a failure to close is an error an operator can act on."""
    try:
        sender.close()
    except OSError as exc:
        raise SendError(f"could not close the {sender.name} transport: {exc}") from exc


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
    with Progress(*columns, console=err_console(), transient=True) as bar:
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
        "settled": report.settled,
        "settled_unsent": report.settled_unsent,
        "stopped": report.stopped,
        "fatal": report.fatal,
        "second_copies": report.second_copies,
        "awaiting_evidence": report.awaiting_evidence,
        "ok": report.ok,
    }


def _print_report(report: SendReport, test_to: str | None) -> None:
    from rich.markup import escape

    if test_to is not None:
        verdict = "sent" if report.ok else "NOT sent"
        console().print(
            f"test copy of {report.edition_key} {verdict} to {test_to} via {report.transport}"
        )
        for error in report.errors:
            err_console().print(f"[red]{escape(error)}[/]", markup=True)
        return
    from rich.table import Table

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
    console().print(table)
    console().print(f"edition {report.edition_key} is {report.state.value}")
    _print_notes(report)


def _print_notes(report: SendReport) -> None:
    from rich.markup import escape

    key = report.edition_key
    if report.ambiguous:
        when = report.retry_after.strftime("%Y-%m-%d %H:%M UTC") if report.retry_after else None
        wait = f"; wait until {when} for evidence" if report.awaiting_evidence and when else ""
        err_console().print(
            f"[yellow]{report.ambiguous} batch(es) may or may not have gone out and no "
            f"evidence settles them yet{escape(wait)}; then `roundup send {escape(key)} "
            "--resume --retry-ambiguous` resends them (their recipients may get a second "
            "copy)[/]",
            markup=True,
        )
    if report.fatal:
        err_console().print(
            f"[red]the send stopped: {escape(report.fatal)}[/]\nfix the cause, then run "
            f"`roundup send {escape(key)} --resume`",
            markup=True,
            highlight=False,
        )
        return
    for error in report.errors:
        err_console().print(f"[red]{escape(error)}[/]", markup=True, highlight=False)
    if report.stopped:
        left = report.batches - report.accepted
        err_console().print(f"stopped: {left} batches left; run `roundup send {key} --resume`")
    elif report.failed:
        err_console().print(f"failed batches are sent again by `roundup send {key} --resume`")
