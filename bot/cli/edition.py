"""CLI commands for editions: editions, draft, preview, approve."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from bot.cli.core import ConfigOpt, JsonOpt, console, fmt_time, open_ctx, print_json
from bot.errors import NotFoundError

if TYPE_CHECKING:
    from bot.context import Context
    from bot.types import Edition


def register(app: typer.Typer) -> None:
    app.command("editions")(list_editions)
    app.command()(draft)
    app.command()(preview)
    app.command()(approve)


def load_edition(ctx: Context, key: str) -> Edition:
    from bot import edition as editions

    editions.parse_week(key)
    found = ctx.store.get_edition(key)
    if found is None:
        raise NotFoundError(f"no edition {key!r}; create it with `roundup draft --week {key}`")
    return found


def edition_json(ctx: Context, e: Edition) -> dict[str, object]:
    from bot import edition as editions
    from bot.render.model import edition_date, subject_line

    items = editions.edition_items(ctx.store, e)
    return {
        "key": e.key,
        "state": e.state.value,
        "window_start": e.window_start,
        "window_end": e.window_end,
        "subject": subject_line(e, ctx.config.newsletter, edition_date(e, ctx.config.newsletter)),
        "preheader": e.preheader,
        "approved_by": e.approved_by,
        "approved_at": e.approved_at,
        "entries": [
            {
                "item_key": x.item_key,
                "region": x.region,
                "position": x.position,
                "pinned": x.pinned,
                "excluded": x.excluded,
                "title": x.headline
                or (items[x.item_key].item.title if x.item_key in items else None),
            }
            for x in e.entries
        ],
    }


def draft(
    config: ConfigOpt = None,
    week: Annotated[
        str | None,
        typer.Option("--week", metavar="YYYY-Www", help="Edition week (default: this week)."),
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """Create this week's edition, or refresh it while it is still a draft."""
    from bot import pipeline

    with open_ctx(config) as ctx:
        e = pipeline.draft(ctx, week=week)  # a new draft: the editors are told
        if as_json:
            print_json(edition_json(ctx, e))
            return
        print_edition(ctx, e)


def print_edition(ctx: Context, e: Edition) -> None:
    from bot import edition as editions
    from bot.render.model import edition_date, subject_line

    items = editions.edition_items(ctx.store, e)
    subject = subject_line(e, ctx.config.newsletter, edition_date(e, ctx.config.newsletter))
    from rich.table import Table

    table = Table(title=f"Edition {e.key} ({e.state.value}): {subject}")
    for col in ("section", "#", "title", "flags"):
        table.add_column(col, overflow="fold")
    for x in sorted(
        e.entries,
        key=lambda x: (
            ctx.config.region_names.index(x.region) if x.region in ctx.config.region_names else 99,
            x.position,
        ),
    ):
        stored = items.get(x.item_key)
        title = x.headline or (stored.item.title if stored else x.item_key)
        flags = " ".join(
            f
            for f, on in (("pinned", x.pinned), ("excluded", x.excluded), ("moved", x.moved))
            if on
        )
        table.add_row(x.region, str(x.position + 1), title, flags)
    console().print(table)
    included = sum(1 for x in e.entries if not x.excluded)
    console().print(
        f"{included} stories from {e.window_start:%Y-%m-%d %H:%M} to "
        f"{e.window_end:%Y-%m-%d %H:%M} UTC"
    )


def preview(
    edition_key: Annotated[
        str, typer.Argument(metavar="EDITION", help="Edition key, e.g. 2026-W48.")
    ],
    config: ConfigOpt = None,
    out: Annotated[Path | None, typer.Option("--out", help="Write to this file.")] = None,
    text: Annotated[
        bool, typer.Option("--text", help="The plain-text part instead of HTML.")
    ] = False,
) -> None:
    """Write or print the rendered email of an edition."""
    from bot import edition as editions
    from bot import render

    with open_ctx(config) as ctx:
        e = load_edition(ctx, edition_key)
        rendered = render.render_edition(e, editions.edition_items(ctx.store, e), ctx.config)
    body = rendered.text if text else rendered.html
    if out is None:
        typer.echo(body, nl=False)
        return
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(body, encoding="utf-8")
    console().print(
        f"wrote {out} ({len(body.encode('utf-8')) // 1024} KB, {rendered.story_count} stories)"
    )


def approve(
    edition_key: Annotated[str, typer.Argument(metavar="EDITION")],
    by: Annotated[str, typer.Option("--by", help="Who approves (recorded).")],
    config: ConfigOpt = None,
) -> None:
    """Approve a draft: records who, when, and the hash of the exact content."""
    from bot import edition as editions

    with open_ctx(config) as ctx:
        load_edition(ctx, edition_key)
        e = editions.approve(ctx.store, ctx.config, edition_key, by, ctx.clock.now())
    console().print(
        f"edition {e.key} approved by {e.approved_by} at {e.approved_at:%Y-%m-%d %H:%M} UTC"
        f" (content {str(e.approved_hash)[:12]})"
    )


def list_editions(config: ConfigOpt = None, as_json: JsonOpt = False) -> None:
    """Every edition: key, state, stories, who approved it and when, send counts."""
    from bot.overview import all_editions
    from bot.types import BatchState

    with open_ctx(config) as ctx:
        rows = all_editions(ctx)
    data = [
        {
            "key": e.key,
            "state": e.state.value,
            "stories": sum(1 for x in e.entries if not x.excluded),
            "approved_by": e.approved_by,
            "approved_at": e.approved_at,
            "sent_at": e.sent_at,
            "recipients": counts.total_recipients,
            "sends": {s.value: counts.recipients.get(s, 0) for s in BatchState},
        }
        for e, counts in rows
    ]
    if as_json:
        print_json(data)
        return
    from rich.table import Table

    table = Table(title="Editions")
    for col in ("key", "state", "stories", "approved", "recipients", "accepted", "failed"):
        table.add_column(col)
    for row in data:
        approved = ""
        if row["approved_by"]:
            approved = f"{row['approved_by']} {fmt_time(row['approved_at'])}"  # type: ignore[arg-type]
        sends = row["sends"]
        assert isinstance(sends, dict)
        table.add_row(
            str(row["key"]),
            str(row["state"]),
            str(row["stories"]),
            approved,
            str(row["recipients"]),
            str(sends["accepted"]),
            str(sends["failed"]),
        )
    console().print(table)
