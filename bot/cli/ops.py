"""CLI commands for operations: run, status, trigger, feeds pause and resume.

What it does: `roundup run` starts the scheduler (`bot.scheduler.runner`) and, unless
``--no-web``, serves the web app in the same process; SIGTERM and SIGINT stop it
cleanly (the running job finishes its step, the lease is released, exit 0).
`roundup status` shows the scheduler, the current edition, failing feeds and the
last send. `roundup trigger JOB` runs poll, draft, send or resume now, and `roundup
feeds pause|resume NAME` pauses a feed; each is recorded in the audit log with who
did it (``--by``, default the login name).
What it does not do: decide anything (`bot.scheduler.jobs` and `rules` do).
"""

from __future__ import annotations

import getpass
import logging
from typing import Annotated, Any

import typer

from bot.cli.core import ConfigOpt, JsonOpt, console, open_ctx, print_json, settle_heap
from bot.cli.table import print_table

ByOpt = Annotated[
    str | None,
    typer.Option("--by", metavar="NAME", help="Who does it, for the audit log (default: you)."),
]
JOBS = ("poll", "draft", "send", "resume")


def register(app: typer.Typer, feeds_app: typer.Typer) -> None:
    app.command()(run)
    app.command()(status)
    app.command()(trigger)
    feeds_app.command("pause")(pause)
    feeds_app.command("resume")(resume)


def _actor(by: str | None) -> str:
    if by and by.strip():
        return by.strip()
    try:
        return getpass.getuser()
    except (OSError, KeyError):
        return "ops"


def run(
    config: ConfigOpt = None,
    no_web: Annotated[bool, typer.Option("--no-web", help="Run the scheduler only.")] = False,
    host: Annotated[
        str, typer.Option("--host", help="Address the web app listens on.")
    ] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", min=0, max=65535, help="Its port.")] = 8000,
) -> None:
    """Run the scheduler (poll, draft, send on the config's schedule) and the web app."""
    import signal
    import threading

    from bot.context import config_path_from_env, open_context
    from bot.logs import configure_logging
    from bot.scheduler.runner import Runner

    path = config_path_from_env(config)
    ctx = open_context(path)
    settle_heap()  # a long-running process: the collector runs (see settle_heap)
    configure_logging(logging.INFO)
    logging.getLogger("apscheduler").setLevel(logging.WARNING)
    runner = Runner(ctx)

    def on_signal(signum: int, frame: Any) -> None:
        runner.stop()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    try:
        if no_web:
            runner.run()
            return
        app = _web_app(path)
        app.state.scheduler_ready = runner.ready
        thread = threading.Thread(target=runner.run, name="scheduler")
        thread.start()
        try:
            import uvicorn

            server = uvicorn.Server(
                # log_config None: uvicorn's lines go through our handler (JSON or plain).
                uvicorn.Config(app, host=host, port=port, log_config=None, server_header=False)
            )
            server.run()
        finally:
            runner.stop()
            thread.join()
    finally:
        ctx.close()


def _web_app(path: Any) -> Any:
    from bot.config import load_config
    from bot.context import open_context
    from bot.errors import ConfigError
    from bot.web import create_app

    if not load_config(path).newsletter.base_url:
        raise ConfigError(
            f"{path}: newsletter.base_url is not set; the web app needs it (or run --no-web)"
        )
    return create_app(lambda: open_context(path))


def status(config: ConfigOpt = None, as_json: JsonOpt = False) -> None:
    """The scheduler (who holds it, next runs), the current edition, failing feeds,
    the last send."""
    from bot.scheduler.status import snapshot

    with open_ctx(config) as ctx:
        data = snapshot(ctx)
    if as_json:
        print_json(data)
        return
    sched = data["scheduler"]
    if sched["holder"]:
        h = sched["holder"]
        console().print(
            f"scheduler: running as pid {h['pid']} on {h['host']}, lease until {sched['until']}"
        )
    else:
        console().print("scheduler: not running (no process holds the lease)")
    jobs = ((job["name"], job["next_run"] or "-") for job in sched["jobs"])
    print_table(console(), "Jobs", ("job", "next run"), jobs)
    edition = data["edition"]
    console().print(
        f"edition: {edition['key']} {edition['state']}" + (" (missed)" if edition["missed"] else "")
        if edition
        else "edition: none yet"
    )
    for feed in data["failing_feeds"]:
        what = "paused" if feed["paused"] else f"{feed['failures']} failures: {feed['last_error']}"
        console().print(f"feed {feed['name']}: {what}")
    last = data["last_send"]
    if last:
        console().print(
            f"last send: {last['edition']} {last['state']}, {last['recipients']} recipients, "
            f"{last['accepted']}/{last['batches']} batches accepted"
        )


def trigger(
    job: Annotated[str, typer.Argument(metavar="JOB", help="poll, draft, send or resume.")],
    config: ConfigOpt = None,
    by: ByOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Run a job now, by hand: poll, draft (this week's), send (this week's approved
    edition), resume (a send that stopped part-way)."""
    from bot.errors import UsageError
    from bot.scheduler.manual import manual

    if job not in JOBS:
        raise UsageError(f"unknown job {job!r}: use one of {', '.join(JOBS)}")
    with open_ctx(config) as ctx:
        outcome = manual(ctx, job, actor=_actor(by))
    if as_json:
        print_json(
            {
                "job": outcome.job,
                "result": outcome.decision,
                "edition": outcome.slot or None,
                "detail": outcome.detail,
                "failed": outcome.failed,
            }
        )
    else:
        where = f" {outcome.slot}" if outcome.slot else ""
        console().print(f"{job}{where}: {outcome.decision} {outcome.detail}".rstrip())
    if outcome.failed:
        raise typer.Exit(1)


def pause(
    name: Annotated[str, typer.Argument(metavar="NAME", help="The feed's name.")],
    config: ConfigOpt = None,
    by: ByOpt = None,
) -> None:
    """Stop polling a feed (and alerting on it) until it is resumed."""
    _set_paused(config, name, True, by)


def resume(
    name: Annotated[str, typer.Argument(metavar="NAME", help="The feed's name.")],
    config: ConfigOpt = None,
    by: ByOpt = None,
) -> None:
    """Poll a paused feed again."""
    _set_paused(config, name, False, by)


def _set_paused(config: Any, name: str, paused: bool, by: str | None) -> None:
    from bot import pipeline

    with open_ctx(config) as ctx:
        pipeline.set_feed_paused(ctx, name, paused, actor=_actor(by))
    console().print(f"feed {name} {'paused' if paused else 'resumed'}")
