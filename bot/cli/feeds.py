"""CLI commands for the database, feeds and items: db upgrade, poll, feeds, items."""

from __future__ import annotations

from contextlib import nullcontext
from typing import TYPE_CHECKING, Annotated

import typer

from bot.cli.core import ConfigOpt, JsonOpt, console, fmt_time, open_ctx, parse_since, print_json
from bot.cli.table import print_table
from bot.errors import UsageError

if TYPE_CHECKING:
    from datetime import datetime

    from bot import pipeline
    from bot.config import Config
    from bot.context import Context
    from bot.ingest.fetch_process import FetchProcess
    from bot.types import StoredItem

db_app = typer.Typer(help="Database schema.", no_args_is_help=True)
# `roundup feeds` lists; its subcommands (pause, resume) come from `bot.cli.ops`.
feeds_app = typer.Typer(invoke_without_command=True)


def register(app: typer.Typer) -> None:
    app.add_typer(db_app, name="db")
    app.command()(poll)
    feeds_app.callback()(feeds_cmd)
    app.add_typer(feeds_app, name="feeds")
    app.command()(items)


@db_app.command("upgrade")
def db_upgrade(config: ConfigOpt = None) -> None:
    """Create or migrate the schema to the newest version."""
    from bot.config import load_config
    from bot.context import config_path_from_env, database_url_from_env
    from bot.store import open_store

    load_config(config_path_from_env(config))  # a bad config should fail here too
    store = open_store(database_url_from_env())
    try:
        before = store.current_revision()
        store.upgrade()
        after = store.current_revision()
    finally:
        store.close()
    if before == after:
        console().print(f"database is up to date (revision {after})")
    else:
        console().print(f"database upgraded: {before or 'empty'} -> {after}")


def poll(
    config: ConfigOpt = None,
    feed: Annotated[str | None, typer.Option("--feed", help="Poll only this feed, now.")] = None,
    force: Annotated[bool, typer.Option("--all", help="Poll every feed, due or not.")] = False,
) -> None:
    """Fetch every due feed once, store new stories; print a summary table.

    The table has a row for each feed that was fetched or failed; the feeds that had
    not changed are only counted in the last line.
    """
    from bot.classify import FETCH_PRELOAD
    from bot.clock import clock_from_env
    from bot.config import load_config
    from bot.context import config_path_from_env
    from bot.ingest import fetch_process
    from bot.types import FetchStatus

    # Forked as the command started (`bot.__main__`), or now; none where it cannot.
    fetcher = fetch_process.take_early() or fetch_process.FetchProcess.start(FETCH_PRELOAD)
    with fetcher or nullcontext():
        path = config_path_from_env(config)
        cfg = load_config(path)
        # Given the poll's call ahead of the store, where a peek at it can guess the
        # call, the fetch process fetches while this process opens the store.
        clock = clock_from_env()  # one clock: the guess's time is the poll's
        now = _poll_ahead(cfg, fetcher, clock.now(), feed, force)
        with open_ctx(cfg, path, clock) as ctx:
            report = _poll_with_progress(ctx, feed, force, fetcher, now)
    shown = [f for f in report.feeds if f.status is not FetchStatus.NOT_MODIFIED]
    if shown:
        print_table(
            console(),
            "Poll summary",
            ("feed", "status", "items", "new", "updated", "error"),
            (
                (f.name, f.status.value, str(f.items), str(f.new), str(f.updated), f.error or "")
                for f in shown
            ),
        )
    console().print(
        f"fetched {report.count(FetchStatus.FETCHED)}, "
        f"not modified {report.count(FetchStatus.NOT_MODIFIED)}, "
        f"new {report.new}, updated {report.updated}, failed {report.failed}"
    )
    if report.failed:
        raise typer.Exit(1)


def _poll_ahead(
    cfg: Config, fetcher: FetchProcess | None, now: datetime, feed: str | None, force: bool
) -> datetime | None:
    """Start the fetch process on the call the poll will make at `now`, as far as
    a peek at the store (SQLite) tells it; `now` when it did, else None."""
    if fetcher is None:
        return None
    from bot import pipeline
    from bot.context import database_url_from_env
    from bot.store.peek import peek_feeds

    call = pipeline.poll_ahead(
        cfg, peek_feeds(database_url_from_env()), now, feed=feed, force=force
    )
    if call is None:
        return None
    fetcher.poll_ahead(call)
    return now


def _poll_with_progress(
    ctx: Context,
    feed: str | None,
    force: bool,
    fetcher: FetchProcess | None,
    now: datetime | None,
) -> pipeline.PollReport:
    from bot import pipeline

    if not console().is_terminal:
        # A transient bar shows nothing on a pipe or in a log (cron, the scheduler),
        # yet its refresh thread would still take the CPU from the poll.
        return pipeline.poll(ctx, feed=feed, force=force, fetcher=fetcher, now=now)
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
    )

    from bot.ingest import FeedOutcome

    progress = Progress(
        TextColumn("[bold]polling"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.description}", markup=False),  # feed names are plain text
        TimeElapsedColumn(),
        console=console(),
        transient=True,
    )
    task = progress.add_task("", total=None)

    def started(total: int) -> None:
        progress.update(task, total=total)

    def done(outcome: FeedOutcome) -> None:
        progress.update(task, advance=1, description=f"{outcome.name}: {outcome.status.value}")

    with progress:
        return pipeline.poll(
            ctx, feed=feed, force=force, on_start=started, on_done=done, fetcher=fetcher, now=now
        )


def feeds_cmd(typer_ctx: typer.Context, config: ConfigOpt = None, as_json: JsonOpt = False) -> None:
    """Each feed: last fetch, status, items, errors; `pause NAME`, `resume NAME`."""
    if typer_ctx.invoked_subcommand is not None:
        return
    with open_ctx(config) as ctx:
        ctx.store.sync_feeds([(f.name, f.url) for f in ctx.config.feeds], ctx.clock.now())
        states = ctx.store.feed_states()
        counts = ctx.store.feed_item_counts()
        paused = {n for n, f in ctx.store.feed_flags().items() if f.paused}
        configured = {f.name for f in ctx.config.feeds}
    rows = [
        {
            "name": s.name,
            "url": s.url,
            "configured": s.name in configured,
            "status": "paused"
            if s.name in paused
            else ("failing" if s.consecutive_failures else ("ok" if s.last_success else "new")),
            "items": counts.get(s.name, 0),
            "last_attempt": s.last_attempt,
            "last_success": s.last_success,
            "consecutive_failures": s.consecutive_failures,
            "next_due": s.next_due,
            "last_error": s.last_error,
        }
        for s in states
    ]
    if as_json:
        print_json(rows)
        return
    print_table(
        console(),
        "Feeds",
        ("feed", "status", "items", "last success", "next due", "failures", "last error"),
        (
            (
                str(r["name"]) + ("" if r["configured"] else " (not in config)"),
                str(r["status"]),
                str(r["items"]),
                fmt_time(r["last_success"]),  # type: ignore[arg-type]
                fmt_time(r["next_due"]),  # type: ignore[arg-type]
                str(r["consecutive_failures"]),
                str(r["last_error"] or ""),
            )
            for r in rows
        ),
    )


def items(
    config: ConfigOpt = None,
    region: Annotated[str | None, typer.Option("--region", help="Only this region.")] = None,
    since: Annotated[
        str | None, typer.Option("--since", help="Only stories published since DATE.")
    ] = None,
    limit: Annotated[int, typer.Option("--limit", help="At most this many.")] = 200,
    as_json: JsonOpt = False,
) -> None:
    """Stored stories, newest first."""
    with open_ctx(config) as ctx:
        if region is not None and region not in ctx.config.region_names:
            raise UsageError(
                f"no region {region!r} (regions: {', '.join(ctx.config.region_names)})"
            )
        rows = ctx.store.list_items(region=region, since=parse_since(since), limit=limit)
    if as_json:
        print_json([item_json(s) for s in rows])
        return
    print_table(
        console(),
        f"Items ({len(rows)})",
        ("published", "region", "title", "feed", "key"),
        ((fmt_time(s.item.published), s.region, s.item.title, s.item.feed, s.key) for s in rows),
    )


def item_json(s: StoredItem) -> dict[str, object]:
    i = s.item
    return {
        "key": i.key,
        "feed": i.feed,
        "url": i.url,
        "title": i.title,
        "author": i.author,
        "published": i.published,
        "updated": i.updated,
        "tags": list(i.tags),
        "lede": i.lede,
        "image_url": i.image_url,
        "image_credit": i.image_credit,
        "region": s.region,
        "candidates": list(s.candidates),
        "region_manual": s.region_manual,
        "first_seen": s.first_seen,
    }
