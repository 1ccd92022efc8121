"""CLI command `roundup demo`: poll the bundled samples, draft, render; offline."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from bot.cli.core import ConfigOpt, console, fmt_time


def register(app: typer.Typer) -> None:
    app.command()(demo)


def demo(
    config: ConfigOpt = None,
    var: Annotated[Path, typer.Option("--var", help="Where the demo writes.")] = Path("var"),
) -> None:
    """Run the whole flow on the bundled sample feeds, offline."""
    from bot.config import load_config
    from bot.context import config_path_from_env
    from bot.demo import run_demo
    from bot.types import FetchStatus

    result = run_demo(load_config(config_path_from_env(config)), var)
    poll = result.poll
    _step(
        "poll",
        f"{len(poll.feeds)} sample feeds, "
        f"fetched {poll.count(FetchStatus.FETCHED)}, new {poll.new}, "
        f"updated {poll.updated}, failed {poll.failed}",
    )
    from rich.table import Table

    table = Table(title=f"Stored stories ({len(result.items)})")
    for col in ("published", "region", "title", "feed"):
        table.add_column(col, overflow="fold")
    for s in result.items:
        table.add_row(fmt_time(s.item.published), s.region, s.item.title, s.item.feed)
    console().print(table)
    e = result.edition
    included = sum(1 for x in e.entries if not x.excluded)
    _step("draft", f"edition {e.key} ({e.state.value}), {included} stories")
    _step("preview", str(result.html_path))
    _step("text", str(result.text_path))
    sent = result.send
    if sent is not None:
        _step(
            "send",
            f"edition {e.key} to {sent.recipients} sample subscribers "
            f"through the outbox: {sent.accepted} of {sent.batches} batches accepted, "
            f"{sent.skipped} skipped; edition is {sent.state.value}",
        )
        _step("mbox", str(result.mbox_path))
    console().print(f"database: {result.database}")


def _step(name: str, what: str) -> None:
    from rich.markup import escape

    console().print(f"[bold]{name}[/]: {escape(what)}", markup=True)
