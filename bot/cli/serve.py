"""CLI command `roundup serve`: run the web app with uvicorn.

What it does: checks the config and the secrets up front (a bad config, a missing
``ROUNDUP_SECRET_KEY`` or ``newsletter.base_url`` fail with exit 2 before any
socket is opened), then serves `bot.web.create_app` on the host and port given.
What it does not do: daemonise, terminate TLS or run several workers; put a reverse
proxy (TLS) in front and run one `roundup serve` per core if needed.
"""

from __future__ import annotations

from typing import Annotated

import typer

from bot.cli.core import ConfigOpt, console, settle_heap
from bot.errors import ConfigError


def register(app: typer.Typer) -> None:
    app.command()(serve)


def serve(
    config: ConfigOpt = None,
    host: Annotated[str, typer.Option("--host", help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[
        int, typer.Option("--port", min=0, max=65535, help="Port to listen on (0: any free one).")
    ] = 8000,
) -> None:
    """Serve the web app: the public pages and archive, the editors' desk, the
    SendGrid event webhook."""
    from bot.config import load_config
    from bot.context import config_path_from_env, open_context

    path = config_path_from_env(config)
    if not load_config(path).newsletter.base_url:
        raise ConfigError(
            f"{path}: newsletter.base_url is not set; the web app needs the address "
            "readers reach it at, for the links in its emails"
        )
    # Imported here: the other commands need not load the web stack.
    import uvicorn

    from bot.web import create_app

    app = create_app(lambda: open_context(path))
    settle_heap()  # a long-running process: the collector runs (see settle_heap)
    where = f"http://{host}:{port}" if port else f"http://{host} on a free port (logged below)"
    console().print(f"serving on {where} (Ctrl-C to stop)")
    uvicorn.run(app, host=host, port=port, log_level="info", server_header=False)
