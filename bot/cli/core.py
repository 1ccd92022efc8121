"""Shared pieces of the CLI: the Typer app, consoles, common options, helpers.

Start-up is kept short: `roundup --help` loads only Typer and this package's cheap
modules (help is click's plain text), and a command that prints only JSON does not
load rich at all (the consoles are made on first use). Every command module
imports what its commands need inside the command functions (and names types only
under ``TYPE_CHECKING``), so a command pays only for the parts it uses.
"""

from __future__ import annotations

import functools
import gc
import json
import sys
from datetime import UTC, date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from bot.errors import UsageError

if TYPE_CHECKING:
    from rich.console import Console

    from bot.clock import Clock
    from bot.config import Config
    from bot.context import Context

app = typer.Typer(
    name="roundup",
    help="Newsletter curation and digest bot: poll feeds, sort by region, draft, send.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    # click's plain help, not rich's panels: drawing help with rich imports rich's
    # markdown, syntax and traceback modules, which doubled the time `--help` took.
    rich_markup_mode=None,
    context_settings={"max_content_width": 100},
)


# Markup and emoji codes off: what is printed is mostly text from feeds, servers
# and subscribers, where "[/x]" would stop the command with a markup error and
# ":smile:" would become a picture. Styled lines opt in (`markup=True`) and
# escape what they interpolate (`rich.markup.escape`).
@functools.cache
def console() -> Console:
    """The console on stdout, made (and rich imported) when first printed to."""
    from rich.console import Console

    return Console(highlight=False, markup=False, emoji=False)


@functools.cache
def err_console() -> Console:
    """The console on stderr. Soft wrap: an error is one line however long, so logs
    and grep see it whole."""
    from rich.console import Console

    return Console(stderr=True, highlight=False, markup=False, emoji=False, soft_wrap=True)


ConfigOpt = Annotated[
    Path | None,
    typer.Option(
        "--config",
        "-c",
        envvar="ROUNDUP_CONFIG",
        help="Config file (default config/feeds.yaml).",
        show_default=False,
    ),
]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON only, on stdout.")]


def open_ctx(
    config: Path | Config | None, path: Path | None = None, clock: Clock | None = None
) -> Context:
    """The command's context: `config` is a path, or a config read from `path`;
    `clock` is the command's, when it read the time before the store was open."""
    from bot.context import open_context
    from bot.store.process import take_early

    process = take_early()  # forked as the command started, for some commands
    opener = process.open if process is not None else None
    ctx = open_context(config, config_path=path, clock=clock, opener=opener)
    settle_heap()
    return ctx


def settle_heap() -> None:
    """Start the garbage collector that `bot.__main__.run` paused, with what start-up
    built frozen.

    Start-up (imports, config, the store) builds most of the objects a command's
    process holds until it ends; collecting while they were built scanned them again
    and again (about a tenth of a poll where nothing changed), and frozen, later
    collections pass them over. Every command that runs for long calls this before
    it does (`open_ctx`, serve, the scheduler); a short one that does not (--help)
    ends with the collector paused, which costs it nothing.
    """
    gc.freeze()
    gc.enable()


def print_json(data: Any) -> None:
    sys.stdout.write(json.dumps(data, indent=2, ensure_ascii=False, default=_json_default))
    sys.stdout.write("\n")


def _json_default(value: object) -> object:
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, tuple | set | frozenset):
        return list(value)
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


def parse_since(value: str | None) -> datetime | None:
    """A date (2026-11-20) or date-time (2026-11-20T08:00, 2026-11-20T08:00+01:00)."""
    if value is None:
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise UsageError(
            f"--since {value!r} is not a date: use YYYY-MM-DD or YYYY-MM-DDTHH:MM"
        ) from None
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)


def fmt_time(value: datetime | None) -> str:
    return value.strftime("%Y-%m-%d %H:%M") if value else "-"


def fail(code: int = 1) -> typer.Exit:
    return typer.Exit(code)
