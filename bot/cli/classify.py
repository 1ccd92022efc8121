"""CLI command `roundup classify`: explain, dry-run, or re-classify stored items."""

from __future__ import annotations

from typing import Annotated

import typer

from bot.cli.core import ConfigOpt, JsonOpt, console, open_ctx, print_json
from bot.errors import NotFoundError, UsageError


def register(app: typer.Typer) -> None:
    app.command(name="classify")(classify)


def classify(
    config: ConfigOpt = None,
    explain: Annotated[
        str | None,
        typer.Option("--explain", metavar="ITEM_KEY", help="Why an item is where it is."),
    ] = None,
    dry_run: Annotated[
        bool,
        typer.Option("--dry-run", help="Show what the current rules would move; write nothing."),
    ] = False,
    all_items: Annotated[
        bool, typer.Option("--all", help="Re-classify every stored item with the current rules.")
    ] = False,
    as_json: JsonOpt = False,
) -> None:
    """Explain or re-apply the region rules. Items an editor moved keep their region."""
    from bot import pipeline
    from bot.classify import format_explanation, format_plan

    chosen = sum(bool(x) for x in (explain, dry_run, all_items))
    if chosen != 1:
        raise UsageError("choose one of --explain ITEM_KEY, --dry-run or --all")
    with open_ctx(config) as ctx:
        if explain is not None:
            stored = ctx.store.get_item(explain)
            if stored is None:
                raise NotFoundError(f"no stored item with key {explain!r} (see `roundup items`)")
            explanation = ctx.classifier.explain(stored.item)
            if as_json:
                c = explanation.classification
                print_json(
                    {
                        "key": stored.key,
                        "stored_region": stored.region,
                        "region_manual": stored.region_manual,
                        "region": c.region,
                        "rule": c.rule.__dict__ if c.rule else None,
                        "candidates": list(c.candidates),
                    }
                )
                return
            console.print(format_explanation(stored.item, explanation), markup=False)
            if stored.region_manual:
                console.print(f"stored region: {stored.region} (placed by an editor; kept)")
            return
        moves = pipeline.plan_classify_all(ctx) if dry_run else pipeline.classify_all(ctx)
        if as_json:
            print_json(
                [{"key": m.key, "title": m.title, "from": m.old, "to": m.new} for m in moves]
            )
            return
        console.print(format_plan(moves, ctx.classifier.regions), markup=False)
        if dry_run:
            console.print("dry run: nothing was written")
        else:
            console.print(f"re-classified; {len(moves)} item(s) moved")
