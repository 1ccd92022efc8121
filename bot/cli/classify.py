"""CLI command `roundup classify`: explain, dry-run, re-classify, evaluate, suggest."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from bot.cli.core import ConfigOpt, JsonOpt, console, open_ctx, print_json
from bot.errors import NotFoundError, UsageError

if TYPE_CHECKING:
    from bot.classify import Explanation
    from bot.context import Context


def register(app: typer.Typer) -> None:
    app.command(name="classify")(classify)


def classify(
    config: ConfigOpt = None,
    explain: Annotated[
        str | None,
        typer.Option(
            "--explain", metavar="ITEM_KEY", help="Why an item is where it is: every score."
        ),
    ] = None,
    dry_run: Annotated[
        bool,
        typer.Option("--dry-run", help="Show what the current rules would move; write nothing."),
    ] = False,
    all_items: Annotated[
        bool, typer.Option("--all", help="Re-classify every stored item with the current rules.")
    ] = False,
    evaluate: Annotated[
        Path | None,
        typer.Option(
            "--evaluate",
            metavar="FILE",
            help="Measure the rules on a labelled CSV or JSON file "
            "(title, lede, tags, url, expected).",
        ),
    ] = None,
    min_accuracy: Annotated[
        float | None,
        typer.Option(
            "--min-accuracy",
            metavar="SHARE",
            help="With --evaluate: exit 1 below this accuracy (0.95 or 95).",
        ),
    ] = None,
    suggest: Annotated[
        bool,
        typer.Option("--suggest", help="Propose rule changes from editors' moves; change nothing."),
    ] = False,
    as_json: JsonOpt = False,
) -> None:
    """Explain, measure or re-apply the region rules. Items an editor moved keep their region."""
    chosen = sum(bool(x) for x in (explain, dry_run, all_items, evaluate, suggest))
    if chosen != 1:
        raise UsageError(
            "choose one of --explain ITEM_KEY, --dry-run, --all, --evaluate FILE or --suggest"
        )
    if min_accuracy is not None and evaluate is None:
        raise UsageError("--min-accuracy goes with --evaluate FILE")
    with open_ctx(config) as ctx:
        if explain is not None:
            _explain(ctx, explain, as_json)
        elif evaluate is not None:
            _evaluate(ctx, evaluate, min_accuracy, as_json)
        elif suggest:
            _suggest(ctx, as_json)
        else:
            _reclassify(ctx, dry_run, as_json)


def _explain(ctx: Context, key: str, as_json: bool) -> None:
    from bot.classify import format_explanation

    stored = ctx.store.get_item(key)
    if stored is None:
        raise NotFoundError(f"no stored item with key {key!r} (see `roundup items`)")
    explanation = ctx.classifier.explain(stored.item)
    if as_json:
        print_json(
            {
                "key": stored.key,
                "stored_region": stored.region,
                "region_manual": stored.region_manual,
                **explanation_json(explanation),
            }
        )
        return
    console().print(format_explanation(stored.item, explanation), markup=False, soft_wrap=True)
    if stored.region_manual:
        console().print(f"stored region: {stored.region} (placed by an editor; kept)")


def explanation_json(explanation: Explanation) -> dict[str, Any]:
    c = explanation.classification
    return {
        "region": c.region,
        "rule": c.rule.__dict__ if c.rule else None,
        "candidates": list(c.candidates),
        "uncertain": c.uncertain,
        "scores": [
            {
                "region": s.region,
                "score": s.score,
                "kind": s.kind,
                "terms": [
                    {**h.match.__dict__, "weight": h.weight, "venue": h.venue} for h in s.hits
                ],
            }
            for s in explanation.scores
        ],
        "not_counted": [{**h.match.__dict__, "why": h.cancelled_by} for h in explanation.cancelled],
    }


def _evaluate(ctx: Context, path: Path, min_accuracy: float | None, as_json: bool) -> None:
    from bot.classify.evaluate import evaluate, format_evaluation, load_labelled

    if min_accuracy is not None and not 0 <= min_accuracy <= 100:
        raise UsageError("--min-accuracy is a share (0.95) or a percentage (95)")
    floor = None if min_accuracy is None else min_accuracy / (100 if min_accuracy > 1 else 1)
    cases, problems = load_labelled(path, ctx.classifier.regions)
    if not cases:
        raise UsageError(f"{path}: no labelled story to measure" + _first(problems))
    ev = evaluate(cases, ctx.classifier, problems)
    if as_json:
        print_json(
            {
                "accuracy": ev.accuracy,
                "groups": {k: {"right": r, "total": t} for k, (r, t) in ev.groups.items()},
                "regions": {k: {"right": r, "total": t} for k, (r, t) in ev.per_region().items()},
                "confusion": [
                    {"expected": e, "placed": g, "count": n} for (e, g), n in ev.confusion().items()
                ],
                "misses": [
                    {
                        "where": o.case.where,
                        "key": o.case.item.key,
                        "expected": o.case.expected,
                        **explanation_json(o.explanation),
                    }
                    for o in ev.misses
                ],
                "left_out": list(ev.problems),
            }
        )
    else:
        console().print(format_evaluation(ev), markup=False, soft_wrap=True)
    if floor is not None and ev.accuracy < floor:
        if not as_json:
            console().print(f"accuracy {ev.accuracy:.1%} is below --min-accuracy {floor:.1%}")
        raise typer.Exit(1)


def _first(problems: list[str]) -> str:
    return f" ({problems[0]})" if problems else ""


def _suggest(ctx: Context, as_json: bool) -> None:
    from bot.classify.suggest import disagreements, format_suggestions, suggest

    stored = list(ctx.store.iter_items())
    suggestions = suggest(stored, ctx.classifier)
    disagreeing = disagreements(stored, ctx.classifier)
    if as_json:
        print_json(
            {
                "disagreeing": disagreeing,
                "suggestions": [s.__dict__ for s in suggestions],
            }
        )
        return
    console().print(format_suggestions(suggestions, disagreeing), markup=False, soft_wrap=True)


def _reclassify(ctx: Context, dry_run: bool, as_json: bool) -> None:
    from bot import pipeline
    from bot.classify import format_plan

    moves = pipeline.plan_classify_all(ctx) if dry_run else pipeline.classify_all(ctx)
    if as_json:
        print_json([{"key": m.key, "title": m.title, "from": m.old, "to": m.new} for m in moves])
        return
    console().print(format_plan(moves, ctx.classifier.regions), markup=False)
    if dry_run:
        console().print("dry run: nothing was written")
    else:
        console().print(f"re-classified; {len(moves)} item(s) moved")
