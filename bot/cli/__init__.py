"""The `roundup` command line (Typer + rich).

What it does: parses arguments, opens a `Context`, calls the pipeline and the
parts, and prints tables, progress bars or JSON. Exit codes follow DESIGN.md:
0 success, 1 the work ran but something failed, 2 bad usage or bad config. A
`RoundupError` is printed as its message, never as a traceback.
What it does not do: decide anything; every decision lives in the parts.
"""

from __future__ import annotations

import logging

import typer

from bot.cli import classify as classify_cmds
from bot.cli import core, demo, edition, feeds, ops, serve
from bot.cli import send as send_cmds
from bot.cli import subscribers as subscribers_cmds
from bot.cli import users as users_cmds
from bot.errors import RoundupError
from bot.logs import configure_logging

app = core.app
feeds.register(app)
classify_cmds.register(app)
edition.register(app)
demo.register(app)
serve.register(app)
send_cmds.register(app)
subscribers_cmds.register(app)
users_cmds.register(app)
ops.register(app, feeds.feeds_app)


def main(argv: list[str] | None = None) -> int:
    """Run the command line (`argv`, else the process's); returns the exit code."""
    configure_logging(logging.WARNING)
    try:
        code = app(args=argv, standalone_mode=False)
    except RoundupError as exc:
        from rich.markup import escape

        message = escape(str(exc))
        core.err_console().print(f"[bold red]error:[/] {message}", markup=True, highlight=False)
        return exc.exit_code
    except typer.Exit as exc:
        return int(exc.exit_code or 0)
    except typer.Abort:
        core.err_console().print("aborted")
        return 1
    except typer.TyperException as exc:
        # Typer carries its own copy of click: its usage errors (unknown command,
        # bad option value) all derive from TyperException. Bad usage is exit 2.
        show = getattr(exc, "show", None)
        if callable(show):
            show()
        else:
            core.err_console().print(f"error: {exc}")
        return 2
    return code if isinstance(code, int) else 0


__all__ = ["app", "main"]
