"""The `roundup` command (its console script, and `python -m bot`).

What it does: pauses the garbage collector while the command starts up (see
`bot.cli.core.settle_heap`), and for `roundup poll` forks the poll's fetch process
before anything else is imported (`bot.ingest.fetch_process`), so the HTTP client
imports on the other core while the command line's own modules do; for `roundup
feeds` and `roundup status`, likewise, the process their store opens in
(`bot.store.process`); then runs `bot.cli.main`.
What it does not do: parse the command line (Typer does; the first argument is
only looked at, and a poll with anything before it forks later).
"""

from __future__ import annotations

import gc
import os
import sys

# The commands whose store opens in a process forked first thing (`bot.store.process`):
# the ones an operator runs to look, which read a few rows and print them.
STORE_AHEAD = (["feeds"], ["status"])


def run() -> None:
    gc.disable()  # while the command starts up: see `bot.cli.core.settle_heap`
    # roundup uses no pydantic plugin, and looking for them reads the entry points
    # of every installed package on each start (pydantic's documented switch; set
    # the variable, even empty, to have them looked for again).
    os.environ.setdefault("PYDANTIC_DISABLE_PLUGINS", "__all__")
    command = sys.argv[1:2]
    if command == ["poll"]:
        from bot.classify import FETCH_PRELOAD  # what its call is made of
        from bot.ingest import fetch_process

        fetch_process.fork_early(FETCH_PRELOAD)
    elif command in STORE_AHEAD:
        from bot.store import process

        process.fork_early()
    from bot.cli import main

    sys.exit(main())


if __name__ == "__main__":
    run()
